//! When a run cannot succeed: the server is gone (connections refused one after another)
//! or most recent requests fail. The driver stops sending, lets what is in flight end,
//! writes everything and marks the run incomplete with the reason.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use llmb_metrics::{Outcome, OutcomeKind};
use tokio::sync::Notify;

/// When to give up.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StopPolicy {
    /// Stop when more than this share of the last [`StopPolicy::window`] ended requests
    /// failed (1 never stops).
    pub max_error_rate: f64,
    /// Requests the error rate is taken over; it is judged once this many have ended.
    pub window: usize,
    /// Stop after this many connection failures in a row, with nothing completing between.
    pub max_refused_in_a_row: u32,
}

impl Default for StopPolicy {
    fn default() -> StopPolicy {
        StopPolicy {
            max_error_rate: 0.5,
            window: 100,
            max_refused_in_a_row: 16,
        }
    }
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// The server stopped accepting connections.
    ServerGone {
        /// Connection failures in a row.
        in_a_row: u32,
        /// What the last one said.
        last: String,
    },
    /// Too many recent requests failed.
    ErrorRate {
        /// Failed among `of`.
        failed: usize,
        /// The window.
        of: usize,
        /// The limit passed.
        limit: f64,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::ServerGone { in_a_row, last } => write!(
                f,
                "the server is gone: {in_a_row} connections failed in a row (last: {last})"
            ),
            StopReason::ErrorRate { failed, of, limit } => write!(
                f,
                "{failed} of the last {of} requests failed, more than the limit of {:.0}% (--max-error-rate)",
                limit * 100.0
            ),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    recent: VecDeque<bool>,
    failed: usize,
    refused_in_a_row: u32,
    tripped: Option<StopReason>,
}

/// Watches outcomes as requests end; trips once.
#[derive(Debug)]
pub struct Breaker {
    policy: StopPolicy,
    state: Mutex<State>,
    /// Set once it trips: the driver checks it per request without the lock.
    is_tripped: AtomicBool,
    tripped: Notify,
}

impl Breaker {
    /// A breaker with `policy`.
    pub fn new(policy: StopPolicy) -> Breaker {
        Breaker {
            policy,
            state: Mutex::new(State::default()),
            is_tripped: AtomicBool::new(false),
            tripped: Notify::new(),
        }
    }

    /// Counts one ended request; `true` when this one tripped the breaker.
    pub fn record(&self, outcome: &Outcome) -> bool {
        let Ok(mut st) = self.state.lock() else {
            return false;
        };
        if st.tripped.is_some() || outcome.kind() == OutcomeKind::Cancelled {
            return false;
        }
        let p = self.policy;
        let failed = outcome.kind() != OutcomeKind::Completed;
        if let Outcome::ConnectionError { message } = outcome {
            st.refused_in_a_row += 1;
            if st.refused_in_a_row >= p.max_refused_in_a_row {
                st.tripped = Some(StopReason::ServerGone {
                    in_a_row: st.refused_in_a_row,
                    last: message.clone(),
                });
            }
        } else if !failed {
            st.refused_in_a_row = 0;
        }
        st.recent.push_back(failed);
        st.failed += usize::from(failed);
        if st.recent.len() > p.window {
            let old = st.recent.pop_front().unwrap_or(false);
            st.failed -= usize::from(old);
        }
        let n = st.recent.len();
        if st.tripped.is_none()
            && p.max_error_rate < 1.0
            && n >= p.window
            && st.failed as f64 > p.max_error_rate * n as f64
        {
            st.tripped = Some(StopReason::ErrorRate {
                failed: st.failed,
                of: n,
                limit: p.max_error_rate,
            });
        }
        let now = st.tripped.is_some();
        if now {
            self.is_tripped.store(true, Ordering::SeqCst);
            self.tripped.notify_waiters();
        }
        now
    }

    /// Whether it has tripped.
    pub fn is_tripped(&self) -> bool {
        self.is_tripped.load(Ordering::SeqCst)
    }

    /// Why it tripped, if it did.
    pub fn reason(&self) -> Option<StopReason> {
        self.state.lock().ok().and_then(|s| s.tripped.clone())
    }

    /// Resolves once the breaker has tripped. (A `Notified` hears every `notify_waiters`
    /// from its creation on, so a trip between the check and the wait is not missed.)
    pub async fn tripped(&self) {
        let wait = self.tripped.notified();
        if !self.is_tripped() {
            wait.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> Outcome {
        Outcome::ConnectionError {
            message: "connection refused".into(),
        }
    }

    #[test]
    fn a_gone_server_trips_after_refusals_in_a_row() {
        let b = Breaker::new(StopPolicy {
            max_refused_in_a_row: 3,
            ..StopPolicy::default()
        });
        assert!(!b.record(&refused()));
        assert!(!b.record(&refused()));
        // A completion in between starts the count again.
        assert!(!b.record(&Outcome::Completed));
        assert!(!b.record(&refused()));
        assert!(!b.record(&refused()));
        assert!(b.record(&refused()));
        assert!(matches!(
            b.reason(),
            Some(StopReason::ServerGone { in_a_row: 3, .. })
        ));
        // Trips once.
        assert!(!b.record(&refused()));
    }

    #[tokio::test]
    async fn waiters_hear_the_trip_even_when_it_came_first() {
        let b = std::sync::Arc::new(Breaker::new(StopPolicy {
            max_refused_in_a_row: 1,
            ..StopPolicy::default()
        }));
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.tripped().await }
        });
        assert!(b.record(&refused()));
        waiter.await.unwrap();
        // Already tripped: resolves at once.
        b.tripped().await;
    }

    #[test]
    fn the_error_rate_is_judged_over_a_full_window() {
        let b = Breaker::new(StopPolicy {
            max_error_rate: 0.5,
            window: 4,
            max_refused_in_a_row: 100,
        });
        let fail = Outcome::Timeout;
        // 3 failures of 3: the window is not full yet.
        for _ in 0..3 {
            assert!(!b.record(&fail));
        }
        // 3 of 4 > 0.5 x 4 = 2.
        assert!(b.record(&Outcome::Completed));
        assert_eq!(
            b.reason(),
            Some(StopReason::ErrorRate {
                failed: 3,
                of: 4,
                limit: 0.5
            })
        );
        // Exactly half never trips; cancelled requests do not count; old ones leave.
        let b = Breaker::new(StopPolicy {
            max_error_rate: 0.5,
            window: 4,
            max_refused_in_a_row: 100,
        });
        for o in [&fail, &Outcome::Completed, &Outcome::Cancelled, &fail] {
            assert!(!b.record(o));
        }
        assert!(!b.record(&Outcome::Completed));
        // Window now: C, F, C + F = 2 of 4.
        assert!(!b.record(&fail));
        assert!(b.reason().is_none());
        let never = Breaker::new(StopPolicy {
            max_error_rate: 1.0,
            window: 2,
            max_refused_in_a_row: 100,
        });
        for _ in 0..10 {
            assert!(!never.record(&fail));
        }
    }
}
