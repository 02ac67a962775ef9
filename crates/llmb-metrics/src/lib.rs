//! The measurement vocabulary and the math: what one request produced ([`RequestRecord`])
//! and every metric computed from those records, each tool's definition kept apart.
//! Pure functions only: no clock, no I/O, no async runtime.
#![warn(missing_docs)]

pub mod aiperf;
pub mod client;
pub mod definitions;
pub mod percentile;
pub mod record;
pub mod summary;
pub mod thresholds;
pub mod tokens;
pub mod vllm;
pub mod warnings;

pub use percentile::Distribution;
pub use record::{Chunk, Outcome, OutcomeKind, RequestRecord, ServerUsage};
pub use summary::{goodput_rate, per_gpu, RunWindow, Summary};
pub use thresholds::{FailIf, Slo};
pub use warnings::Warning;

/// Nanoseconds to milliseconds.
pub fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}
