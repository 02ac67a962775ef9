//! The validated load plan: what to send, how many, how fast and for how long.

use std::time::Duration;

use crate::dataset::PreparedRequest;
use crate::schedule::Arrival;

/// Client-side limit on requests in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Concurrency {
    /// At most this many (closed loop when no rate is set).
    Limit(usize),
    /// No limit: every request is issued when due (trtllm-bench's `--concurrency -1`).
    Unbounded,
}

impl Concurrency {
    /// `-1` → unbounded, `N ≥ 1` → limit; anything else is refused.
    pub fn from_flag(v: i64) -> Result<Concurrency, String> {
        match v {
            -1 => Ok(Concurrency::Unbounded),
            n if n >= 1 => Ok(Concurrency::Limit(n as usize)),
            n => Err(format!(
                "concurrency {n} is invalid: use a positive number, or -1 for no client-side limit"
            )),
        }
    }

    /// The number as the tools print it (`-1` for unbounded).
    pub fn as_flag(&self) -> i64 {
        match self {
            Concurrency::Limit(n) => *n as i64,
            Concurrency::Unbounded => -1,
        }
    }
}

/// One load point, ready to run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// The prepared requests; request `i` uses `requests[i % len]`.
    pub requests: Vec<PreparedRequest>,
    /// Measured requests to send (`None`: until `duration` ends).
    pub count: Option<u64>,
    /// Requests sent first and left out of the metrics.
    pub warmup: u64,
    /// Client-side concurrency limit.
    pub concurrency: Concurrency,
    /// When requests are due.
    pub arrival: Arrival,
    /// Stop issuing after this long.
    pub duration: Option<Duration>,
    /// Time to let in-flight requests finish after Ctrl-C before cancelling them.
    pub grace: Duration,
    /// Seed of the arrival process.
    pub seed: u64,
}
