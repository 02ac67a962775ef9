//! Lag figures as the harness reports them: mean, p99 and max over every chunk.

use serde::{Deserialize, Serialize};

/// Client lag over all chunks of a run (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Lag {
    /// Mean.
    pub mean_ms: f64,
    /// 99th percentile (nearest rank).
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Lag {
    /// From lag samples in ns (sorted in place).
    pub fn from_ns(samples: &mut [u64]) -> Lag {
        if samples.is_empty() {
            return Lag::default();
        }
        samples.sort_unstable();
        let n = samples.len();
        let sum: u128 = samples.iter().map(|&v| u128::from(v)).sum();
        let rank = ((n as f64 * 0.99).ceil() as usize).clamp(1, n) - 1;
        Lag {
            mean_ms: sum as f64 / n as f64 / 1e6,
            p99_ms: samples[rank] as f64 / 1e6,
            max_ms: samples[n - 1] as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_p99() {
        // 1..=200 ms: mean 100.5, p99 = 198th value, max 200.
        let mut v: Vec<u64> = (1..=200).map(|m| m * 1_000_000).collect();
        v.reverse();
        let l = Lag::from_ns(&mut v);
        assert_eq!((l.mean_ms, l.p99_ms, l.max_ms), (100.5, 198.0, 200.0));
        assert_eq!(Lag::from_ns(&mut []), Lag::default());
    }
}
