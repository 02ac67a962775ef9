//! How long one engine iteration takes, as a function of what it processes.
//!
//! `step = base + prefill_tokens × per_prefill_token + decode_seqs × per_decode_seq`.
//! The defaults (2 ms, 10 µs per prefill token, 20 µs per decoding sequence) behave like a
//! small model on a fast GPU: ITL about 3 ms at batch 64, a 1,000-token prefill in 12 ms.
//! They are not calibrated to any GPU; a calibrated model replaces them later.

use std::time::Duration;

/// The step-time model's coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepCost {
    /// Fixed cost of one iteration (ms).
    pub base_ms: f64,
    /// Cost per prompt token processed in the iteration (ms).
    pub per_prefill_token_ms: f64,
    /// Cost per sequence decoding one token in the iteration (ms).
    pub per_decode_seq_ms: f64,
}

impl Default for StepCost {
    fn default() -> Self {
        StepCost {
            base_ms: 2.0,
            per_prefill_token_ms: 0.01,
            per_decode_seq_ms: 0.02,
        }
    }
}

impl StepCost {
    /// Duration of an iteration with `prefill_tokens` prompt tokens and `decode_seqs` decoders.
    pub fn step(&self, prefill_tokens: u64, decode_seqs: usize) -> Duration {
        let ms = self.base_ms
            + prefill_tokens as f64 * self.per_prefill_token_ms
            + decode_seqs as f64 * self.per_decode_seq_ms;
        Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_time_is_linear() {
        let c = StepCost::default();
        assert_eq!(c.step(0, 0), Duration::from_millis(2));
        assert_eq!(c.step(1000, 0), Duration::from_millis(12));
        assert_eq!(c.step(0, 50), Duration::from_millis(3));
    }
}
