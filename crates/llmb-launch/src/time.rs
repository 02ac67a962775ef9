//! UTC timestamps as ISO 8601 text (`2025-01-31T12:00:00Z`), without a date crate.
//!
//! The jobs store and the provenance file keep times as text that sorts in time order; Slurm's
//! `sacct` is run with `TZ=UTC` so its `Start`/`End` columns parse here as UTC too.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, whole seconds since the Unix epoch, shown as ISO 8601 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(i64);

/// Text that is not an ISO 8601 UTC timestamp (`YYYY-MM-DDTHH:MM:SS`, optional `Z`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse timestamp {0:?}: expected YYYY-MM-DDTHH:MM:SS[Z]")]
pub struct TimeParseError(pub String);

impl UtcTime {
    /// The time `secs` seconds after the Unix epoch.
    pub fn from_unix(secs: i64) -> UtcTime {
        UtcTime(secs)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// The current system time, truncated to whole seconds.
    pub fn now() -> UtcTime {
        let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        UtcTime(secs)
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let rem = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

impl FromStr for UtcTime {
    type Err = TimeParseError;

    fn from_str(s: &str) -> Result<UtcTime, TimeParseError> {
        let err = || TimeParseError(s.to_string());
        let body = s.strip_suffix('Z').unwrap_or(s);
        let b = body.as_bytes();
        if b.len() != 19
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, TimeParseError> {
            let part = &body[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse::<i64>().map_err(|_| err())
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return Err(err());
        }
        Ok(UtcTime(
            days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se,
        ))
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UtcTime, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// Howard Hinnant's civil-calendar algorithms (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(UtcTime::from_unix(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            UtcTime::from_unix(1_700_000_000).to_string(),
            "2023-11-14T22:13:20Z"
        );
        // Leap day.
        assert_eq!(
            UtcTime::from_unix(1_709_210_096).to_string(),
            "2024-02-29T12:34:56Z"
        );
    }

    #[test]
    fn parses_with_and_without_z() {
        let t: UtcTime = "2024-02-29T12:34:56Z".parse().unwrap();
        assert_eq!(t.unix(), 1_709_210_096);
        let t: UtcTime = "2024-02-29T12:34:56".parse().unwrap();
        assert_eq!(t.unix(), 1_709_210_096);
    }

    #[test]
    fn round_trips_over_many_days() {
        for secs in (-10_000_000_i64..4_000_000_000).step_by(86_399 * 37) {
            let t = UtcTime::from_unix(secs);
            assert_eq!(t.to_string().parse::<UtcTime>().unwrap(), t);
        }
    }

    #[test]
    fn rejects_other_text() {
        for bad in [
            "Unknown",
            "None",
            "",
            "2024-02-29 12:34:56",
            "2024-13-01T00:00:00",
        ] {
            assert!(bad.parse::<UtcTime>().is_err(), "{bad}");
        }
    }
}
