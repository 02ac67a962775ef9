//! The host's monotonic clock as plain nanoseconds, shared by the simulated engine (which
//! stamps every chunk with its send time) and the client (which compares its arrival
//! stamps with them). Both read `CLOCK_MONOTONIC`, the clock behind `std::time::Instant`
//! on Linux, so on one host the two stamps are directly comparable.

/// The JSON field an llmb engine adds to each streamed chunk: its send time in
/// [`monotonic_ns`]. Other clients ignore unknown fields.
pub const SENT_NS_FIELD: &str = "llmb_sent_ns";

/// Nanoseconds on the host's monotonic clock (arbitrary origin, same for every process).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct we pass; CLOCK_MONOTONIC always exists.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Converts `Instant`s to [`monotonic_ns`] values through one pair of readings.
#[derive(Debug, Clone, Copy)]
pub struct MonoAnchor {
    at: std::time::Instant,
    ns: u64,
}

impl MonoAnchor {
    /// Takes the pair of readings now: the raw clock between two `Instant`s, paired with
    /// their midpoint, so the pairing error is half the (tens of ns) gap between reads.
    pub fn now() -> MonoAnchor {
        let before = std::time::Instant::now();
        let ns = monotonic_ns();
        let after = std::time::Instant::now();
        MonoAnchor {
            at: before + after.duration_since(before) / 2,
            ns,
        }
    }

    /// `t` on the monotonic clock, in ns.
    pub fn ns(&self, t: std::time::Instant) -> u64 {
        match t.checked_duration_since(self.at) {
            Some(d) => self.ns + d.as_nanos() as u64,
            None => self.ns - self.at.duration_since(t).as_nanos() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_agrees_with_the_raw_clock() {
        let a = MonoAnchor::now();
        let t = std::time::Instant::now();
        let raw = monotonic_ns();
        let via = a.ns(t);
        // Both count from the same origin. `via` was taken just before `raw`, but the
        // anchor pairs its raw reading with the midpoint of two `Instant`s, so `via` may
        // be off by up to half their gap (more if the thread was preempted between them):
        // no ordering can be asserted, only agreement.
        assert!(
            via.abs_diff(raw) < 50_000_000,
            "clocks disagree by {} ns",
            via.abs_diff(raw)
        );
    }
}
