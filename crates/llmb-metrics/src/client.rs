//! The client's verdict on itself: what was measured about the client during a phase
//! and whether it kept up (CPU, timer lateness, send lag, connection waits, chunk lag).
//! The judgement is a pure function; the measuring lives in the load crate.

use crate::percentile::Method;
use crate::Distribution;

/// What was measured about the client during the measured phase.
#[derive(Debug, Clone, Default)]
pub struct ClientStats {
    /// CPU seconds used by the client process.
    pub cpu_s: f64,
    /// Wall seconds of the phase.
    pub wall_s: f64,
    /// Worker threads of the runtime.
    pub threads: usize,
    /// Timer lateness samples (ms).
    pub loop_lag_ms: Distribution,
}

impl ClientStats {
    /// CPU use as a share of the runtime's threads (1.0 = all busy).
    pub fn busy(&self) -> f64 {
        if self.wall_s <= 0.0 || self.threads == 0 {
            0.0
        } else {
            self.cpu_s / (self.wall_s * self.threads as f64)
        }
    }
}

/// Why the client's results cannot be trusted.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientBound {
    /// The client used nearly all the CPU it had.
    CpuSaturated {
        /// CPU use as a share of its threads.
        busy: f64,
    },
    /// The async runtime woke tasks late.
    EventLoopLag {
        /// p99 of timer lateness (ms).
        p99_ms: f64,
    },
    /// Requests left later than their schedule said.
    FellBehind {
        /// p99 of send lag (ms).
        p99_ms: f64,
    },
    /// Requests waited to open connections (handshake queue or a slow accept).
    WaitedForConnections {
        /// p99 of the connection wait (ms), over requests that opened one.
        p99_ms: f64,
    },
    /// Chunks were stamped late against the engine's own send stamps.
    ChunksLate {
        /// p99 of client lag (ms).
        p99_ms: f64,
    },
}

impl std::fmt::Display for ClientBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientBound::CpuSaturated { busy } => write!(f, "client CPU {:.0}% busy", busy * 100.0),
            ClientBound::EventLoopLag { p99_ms } => {
                write!(f, "client timers fired {p99_ms:.1} ms late (p99)")
            }
            ClientBound::FellBehind { p99_ms } => {
                write!(f, "requests left {p99_ms:.1} ms behind schedule (p99)")
            }
            ClientBound::WaitedForConnections { p99_ms } => {
                write!(f, "requests waited {p99_ms:.1} ms for a connection (p99)")
            }
            ClientBound::ChunksLate { p99_ms } => {
                write!(
                    f,
                    "chunks read {p99_ms:.1} ms after the engine sent them (p99)"
                )
            }
        }
    }
}

/// Limits beyond which the client is judged to be the bottleneck (docs/METRICS.md).
pub const CPU_BUSY_LIMIT: f64 = 0.90;
/// p99 timer lateness limit (ms).
pub const LOOP_LAG_P99_LIMIT_MS: f64 = 10.0;
/// p99 send lag limit (ms).
pub const SEND_LAG_P99_LIMIT_MS: f64 = 10.0;
/// p99 connection wait limit (ms).
pub const CONNECT_WAIT_P99_LIMIT_MS: f64 = 10.0;
/// p99 client lag limit (ms), against the engine's send stamps.
pub const CLIENT_LAG_P99_LIMIT_MS: f64 = 10.0;

/// The verdict: empty when the client kept up.
pub fn judge(
    stats: &ClientStats,
    send_lag_ms: &Distribution,
    client_lag_ms: &Distribution,
    connect_wait_ms: &Distribution,
) -> Vec<ClientBound> {
    let mut out = Vec::new();
    let busy = stats.busy();
    if busy >= CPU_BUSY_LIMIT && stats.wall_s >= 1.0 {
        out.push(ClientBound::CpuSaturated { busy });
    }
    let lag = stats.loop_lag_ms.percentile(99.0, Method::Linear);
    if stats.loop_lag_ms.len() >= 20 && lag > LOOP_LAG_P99_LIMIT_MS {
        out.push(ClientBound::EventLoopLag { p99_ms: lag });
    }
    let send = send_lag_ms.percentile(99.0, Method::Linear);
    if send > SEND_LAG_P99_LIMIT_MS {
        out.push(ClientBound::FellBehind { p99_ms: send });
    }
    let wait = connect_wait_ms.percentile(99.0, Method::Linear);
    if connect_wait_ms.len() >= 10 && wait > CONNECT_WAIT_P99_LIMIT_MS {
        out.push(ClientBound::WaitedForConnections { p99_ms: wait });
    }
    let chunk = client_lag_ms.percentile(99.0, Method::Linear);
    if client_lag_ms.len() >= 20 && chunk > CLIENT_LAG_P99_LIMIT_MS {
        out.push(ClientBound::ChunksLate { p99_ms: chunk });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_rules() {
        let ok = ClientStats {
            cpu_s: 1.0,
            wall_s: 10.0,
            threads: 2,
            loop_lag_ms: Distribution::new(vec![0.5; 100]),
        };
        let none = Distribution::default;
        assert!(judge(
            &ok,
            &Distribution::new(vec![0.1; 10]),
            &Distribution::new(vec![0.5; 100]),
            &Distribution::new(vec![0.2; 100]),
        )
        .is_empty());
        let busy = ClientStats {
            cpu_s: 19.0,
            ..ok.clone()
        };
        assert_eq!(
            judge(
                &busy,
                &Distribution::default(),
                &Distribution::default(),
                &Distribution::default()
            ),
            vec![ClientBound::CpuSaturated { busy: 0.95 }]
        );
        let laggy = ClientStats {
            loop_lag_ms: Distribution::new(vec![50.0; 100]),
            ..ok.clone()
        };
        assert!(matches!(
            judge(
                &laggy,
                &Distribution::default(),
                &Distribution::default(),
                &Distribution::default()
            )[0],
            ClientBound::EventLoopLag { .. }
        ));
        let late = judge(&ok, &none(), &Distribution::new(vec![12.0; 100]), &none());
        assert_eq!(late, vec![ClientBound::ChunksLate { p99_ms: 12.0 }]);
        let waited = judge(&ok, &none(), &none(), &Distribution::new(vec![25.0; 10]));
        assert_eq!(
            waited,
            vec![ClientBound::WaitedForConnections { p99_ms: 25.0 }]
        );
        assert!(waited[0].to_string().contains("for a connection"));
        let behind = judge(&ok, &Distribution::new(vec![20.0; 10]), &none(), &none());
        assert!(matches!(behind[0], ClientBound::FellBehind { .. }));
        assert!(behind[0].to_string().contains("behind schedule"));
    }
}
