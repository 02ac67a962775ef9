//! User thresholds: service-level objectives (`--slo`, for goodput) and failure conditions
//! (`--fail-if`, for the exit code). Parsing and evaluation are pure.

use std::fmt;

use crate::definitions::{self as def, LatencyOrigin};
use crate::percentile::Method;
use crate::{Distribution, RequestRecord, Summary};

/// Why a threshold string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ThresholdError(String);

/// Per-request objectives; a completed request meeting all of them counts toward goodput
/// (vLLM's `--goodput` semantics).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Slo {
    /// Most TTFT (ms).
    pub ttft_ms: Option<f64>,
    /// Most TPOT (ms).
    pub tpot_ms: Option<f64>,
    /// Most end-to-end latency (ms).
    pub e2e_ms: Option<f64>,
}

impl Slo {
    /// Parses `ttft_ms=500,tpot_ms=50,e2e_ms=2000`.
    pub fn parse(s: &str) -> Result<Slo, ThresholdError> {
        let mut slo = Slo::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                ThresholdError(format!(
                    "`{part}` is not KEY=VALUE; example: --slo ttft_ms=500,tpot_ms=50"
                ))
            })?;
            let v: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v > 0.0)
                .ok_or_else(|| {
                    ThresholdError(format!(
                        "`{part}`: the value must be a positive number of ms"
                    ))
                })?;
            match k.trim() {
                "ttft_ms" | "ttft" => slo.ttft_ms = Some(v),
                "tpot_ms" | "tpot" => slo.tpot_ms = Some(v),
                "e2e_ms" | "e2el_ms" | "e2el" | "e2e" => slo.e2e_ms = Some(v),
                other => {
                    return Err(ThresholdError(format!(
                        "unknown SLO `{other}`; use ttft_ms, tpot_ms or e2e_ms"
                    )))
                }
            }
        }
        Ok(slo)
    }

    /// Whether a completed request meets every objective.
    pub fn met(&self, r: &RequestRecord) -> bool {
        if !r.is_completed() {
            return false;
        }
        // A missing TTFT fails a TTFT objective; a missing TPOT (one-token output) does not
        // fail a TPOT objective, as vLLM's goodput treats it.
        let within = |limit: Option<f64>, v: Option<f64>, missing_ok: bool| {
            limit.is_none_or(|l| v.map_or(missing_ok, |v| v <= l))
        };
        within(self.ttft_ms, def::ttft_ms(r, LatencyOrigin::Sent), false)
            && within(self.tpot_ms, def::tpot_ms(r), true)
            && within(
                self.e2e_ms,
                Some(def::e2e_ms(r, LatencyOrigin::Sent)),
                false,
            )
    }

    /// Measured requests meeting every objective.
    pub fn good_requests(&self, records: &[RequestRecord]) -> u64 {
        records.iter().filter(|r| !r.warmup && self.met(r)).count() as u64
    }
}

/// A statistic of a distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    /// Mean.
    Mean,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Standard deviation.
    Std,
    /// Percentile (linear interpolation), 0..=100.
    Percentile(f64),
}

/// What a condition reads from the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    /// A statistic of a per-request metric.
    Stat(Aggregate, Metric),
    /// Failed share of measured requests.
    ErrorRate,
    /// Completed requests per second (run window).
    RequestThroughput,
    /// Output tokens per second (run window).
    OutputTokenThroughput,
}

/// Per-request metrics a condition can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// TTFT (ms).
    TtftMs,
    /// TPOT (ms).
    TpotMs,
    /// Pooled chunk gaps (ms).
    ItlMs,
    /// End-to-end latency (ms).
    E2eMs,
    /// Output tokens.
    OutputTokens,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

/// One `--fail-if` condition: the run fails when it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct FailIf {
    /// What is compared.
    pub quantity: Quantity,
    /// How.
    pub op: Op,
    /// Against what.
    pub limit: f64,
    /// As written, for messages.
    pub text: String,
}

const FAIL_IF_HELP: &str =
    "write CONDITION[,CONDITION...] such as 'p99(ttft_ms)>500,mean(tpot_ms)>50,error_rate>0.01'";

impl FailIf {
    /// Whether it reads a per-token metric, which only streamed responses have.
    pub fn needs_stream(&self) -> bool {
        matches!(
            self.quantity,
            Quantity::Stat(_, Metric::TtftMs | Metric::TpotMs | Metric::ItlMs)
        )
    }

    /// Parses a comma-separated list of conditions.
    pub fn parse_list(s: &str) -> Result<Vec<FailIf>, ThresholdError> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(FailIf::parse)
            .collect()
    }

    /// Parses one condition.
    pub fn parse(s: &str) -> Result<FailIf, ThresholdError> {
        let bad = |why: &str| ThresholdError(format!("--fail-if `{s}`: {why}; {FAIL_IF_HELP}"));
        let (pos, op, len) = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)]
            .iter()
            .find_map(|(t, op)| s.find(t).map(|p| (p, *op, t.len())))
            .ok_or_else(|| bad("no comparison (>, >=, <, <=)"))?;
        let lhs = s[..pos].trim();
        let limit: f64 = s[pos + len..]
            .trim()
            .parse()
            .map_err(|_| bad("the limit is not a number"))?;
        let quantity =
            match lhs {
                "error_rate" => Quantity::ErrorRate,
                "request_throughput" => Quantity::RequestThroughput,
                "output_token_throughput" => Quantity::OutputTokenThroughput,
                _ => {
                    let (agg, rest) = lhs.split_once('(').ok_or_else(|| bad("unknown quantity"))?;
                    let metric = rest.strip_suffix(')').ok_or_else(|| bad("missing `)`"))?;
                    let agg =
                        match agg.trim() {
                            "mean" | "avg" => Aggregate::Mean,
                            "min" => Aggregate::Min,
                            "max" => Aggregate::Max,
                            "std" => Aggregate::Std,
                            "median" => Aggregate::Percentile(50.0),
                            p if p.starts_with('p') => Aggregate::Percentile(
                                p[1..]
                                    .parse()
                                    .ok()
                                    .filter(|v| (0.0..=100.0).contains(v))
                                    .ok_or_else(|| bad("bad percentile"))?,
                            ),
                            _ => return Err(bad(
                                "unknown statistic (mean, min, max, std, median, p50, p99, ...)",
                            )),
                        };
                    let metric =
                        match metric.trim() {
                            "ttft_ms" => Metric::TtftMs,
                            "tpot_ms" => Metric::TpotMs,
                            "itl_ms" => Metric::ItlMs,
                            "e2e_ms" | "e2el_ms" => Metric::E2eMs,
                            "output_tokens" => Metric::OutputTokens,
                            _ => return Err(bad(
                                "unknown metric (ttft_ms, tpot_ms, itl_ms, e2e_ms, output_tokens)",
                            )),
                        };
                    Quantity::Stat(agg, metric)
                }
            };
        Ok(FailIf {
            quantity,
            op,
            limit,
            text: s.to_owned(),
        })
    }

    /// The measured value.
    pub fn value(&self, s: &Summary) -> f64 {
        match self.quantity {
            Quantity::ErrorRate => s.error_rate(),
            Quantity::RequestThroughput => s.request_rate(s.duration_s()),
            Quantity::OutputTokenThroughput => s.output_rate(s.duration_s()),
            Quantity::Stat(agg, metric) => {
                let d: &Distribution = match metric {
                    Metric::TtftMs => &s.latency.ttft_ms,
                    Metric::TpotMs => &s.tpot_ms,
                    Metric::ItlMs => &s.itl_chunk_ms,
                    Metric::E2eMs => &s.latency.e2e_ms,
                    Metric::OutputTokens => &s.output_tokens,
                };
                match agg {
                    Aggregate::Mean => d.mean(),
                    Aggregate::Min => d.min(),
                    Aggregate::Max => d.max(),
                    Aggregate::Std => d.std(),
                    Aggregate::Percentile(p) => d.percentile(p, Method::Linear),
                }
            }
        }
    }

    /// Whether the condition holds (the run fails).
    pub fn holds(&self, s: &Summary) -> bool {
        let v = self.value(s);
        match self.op {
            Op::Gt => v > self.limit,
            Op::Ge => v >= self.limit,
            Op::Lt => v < self.limit,
            Op::Le => v <= self.limit,
        }
    }
}

impl fmt::Display for FailIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::tests::record;

    #[test]
    fn slo_parse_and_met() {
        let slo = Slo::parse("ttft_ms=40, tpot_ms=10").unwrap();
        assert_eq!(slo.ttft_ms, Some(40.0));
        let fast = record(0, &[(30, 1), (40, 1), (50, 1)], 50); // ttft 30, tpot 10
        let slow = record(0, &[(50, 1), (60, 1)], 60); // ttft 50
        let one = record(0, &[(20, 1)], 20); // no tpot: not held against it
        assert!(slo.met(&fast));
        assert!(!slo.met(&slow));
        assert!(slo.met(&one));
        assert_eq!(slo.good_requests(&[fast, slow, one]), 2);
        assert!(Slo::parse("ttft_ms=-1").is_err());
        assert!(Slo::parse("foo=1")
            .unwrap_err()
            .to_string()
            .contains("ttft_ms"));
    }

    #[test]
    fn fail_if_parse_and_hold() {
        let list = FailIf::parse_list("p99(ttft_ms)>45,error_rate>=0.5,mean(tpot_ms)<1").unwrap();
        assert_eq!(
            list[0].quantity,
            Quantity::Stat(Aggregate::Percentile(99.0), Metric::TtftMs)
        );
        assert_eq!(list[1].op, Op::Ge);
        let recs = vec![
            record(0, &[(30, 1), (40, 1)], 40),
            record(0, &[(50, 1), (60, 1)], 60),
        ];
        let s = Summary::from_records(&recs, None);
        // p99 of [30, 50] = 30 + 0.99 * 20 = 49.8 > 45
        assert!((list[0].value(&s) - 49.8).abs() < 1e-9);
        assert!(list[0].holds(&s));
        assert!(!list[1].holds(&s));
        assert!(!list[2].holds(&s));
    }

    #[test]
    fn fail_if_errors_say_how() {
        for bad in [
            "p99(ttft_ms)",
            "p99(ttft_ms>5",
            "q99(ttft_ms)>5",
            "p99(foo)>5",
            "error_rate>x",
        ] {
            let e = FailIf::parse(bad).unwrap_err().to_string();
            assert!(e.contains("p99(ttft_ms)>500"), "{e}");
        }
    }
}
