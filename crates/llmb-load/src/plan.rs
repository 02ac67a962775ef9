//! The validated load plan: what to send, how many, how fast and for how long.

use std::time::Duration;

use crate::dataset::PreparedRequest;
use crate::schedule::Arrival;

/// Client-side limit on requests in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Requests sent first and left out of the metrics. A shard (one worker of `--workers`)
    /// skips them (its parent ran them for all) but still numbers measured requests from
    /// `warmup` on, as one process would.
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
    /// This process's share of a schedule split across worker processes.
    pub shard: Option<Shard>,
}

/// One worker's share of a global schedule: request `id` is sent by worker `id % count`.
/// Every worker walks the same global arrival sequence, so the union of their sends is
/// exactly the single-process schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// This worker, `0..count`.
    pub index: u32,
    /// Workers in all.
    pub count: u32,
}

impl Shard {
    /// Whether this worker sends request `id`.
    pub fn owns(&self, id: u64) -> bool {
        self.count <= 1 || id % u64::from(self.count) == u64::from(self.index)
    }

    /// This worker's part of `total` (concurrency slots), spread as evenly as possible.
    pub fn part_of(&self, total: u64) -> u64 {
        let k = u64::from(self.count.max(1));
        total / k + u64::from(u64::from(self.index) < total % k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_ids_and_slots() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for id in 0..30u64 {
            assert_eq!(shards.iter().filter(|s| s.owns(id)).count(), 1);
        }
        let parts: Vec<u64> = shards.iter().map(|s| s.part_of(64)).collect();
        assert_eq!(parts, vec![22, 21, 21]);
        assert_eq!(parts.iter().sum::<u64>(), 64);
    }
}
