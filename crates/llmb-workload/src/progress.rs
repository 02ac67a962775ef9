//! Live counters for the progress display, updated once per request (never per token)
//! with relaxed atomics, and read by whoever draws the progress bar.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one run.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests sent.
    pub sent: AtomicU64,
    /// Requests completed.
    pub completed: AtomicU64,
    /// Requests failed.
    pub failed: AtomicU64,
    /// Text chunks received (≈ tokens) by completed or failed requests.
    pub chunks: AtomicU64,
    /// Measured requests planned (0 = until the duration ends).
    pub planned: AtomicU64,
}

/// A copy of the counters at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// See [`Progress::sent`].
    pub sent: u64,
    /// See [`Progress::completed`].
    pub completed: u64,
    /// See [`Progress::failed`].
    pub failed: u64,
    /// See [`Progress::chunks`].
    pub chunks: u64,
    /// See [`Progress::planned`].
    pub planned: u64,
}

impl Progress {
    /// Reads all counters.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            sent: self.sent.load(Relaxed),
            completed: self.completed.load(Relaxed),
            failed: self.failed.load(Relaxed),
            chunks: self.chunks.load(Relaxed),
            planned: self.planned.load(Relaxed),
        }
    }
}
