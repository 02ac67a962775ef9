//! Arrival processes: when each request is *meant* to be sent, independent of whether the
//! client manages it. The driver measures open-loop latency from these instants.

use std::time::Duration;

use llmb_rand::Rng;

/// When requests are due.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arrival {
    /// As soon as a concurrency slot is free (closed loop), or all at once without a limit.
    Immediate,
    /// A rate in requests per second; gaps are gamma-distributed with shape `burstiness`
    /// and mean `1/rate` (burstiness 1 = Poisson, as vLLM's `--burstiness`).
    Rate {
        /// Requests per second.
        per_second: f64,
        /// Gamma shape; 1 is Poisson, lower is burstier, higher is more even, infinite is
        /// constant gaps.
        #[serde(with = "llmb_settings::shape")]
        burstiness: f64,
    },
}

/// Yields intended send offsets from the start of the run.
#[derive(Debug, Clone)]
pub struct Schedule {
    arrival: Arrival,
    rng: Rng,
    at: f64,
}

impl Schedule {
    /// A schedule for `arrival`, seeded.
    pub fn new(arrival: Arrival, seed: u64) -> Schedule {
        Schedule {
            arrival,
            rng: Rng::new(seed ^ 0x5C4E_D01E),
            at: 0.0,
        }
    }

    /// The next intended offset, or `None` when requests are not timed (immediate).
    /// The first request of a rated schedule is due at 0.
    pub fn next_offset(&mut self) -> Option<Duration> {
        match self.arrival {
            Arrival::Immediate => None,
            Arrival::Rate {
                per_second,
                burstiness,
            } => {
                let due = self.at;
                if burstiness.is_infinite() {
                    // The limit of the gamma as its shape grows: constant gaps (vLLM's
                    // `--burstiness inf`, AIPerf's `--request-rate-mode constant`).
                    self.at += 1.0 / per_second;
                } else {
                    let theta = 1.0 / (per_second * burstiness);
                    self.at += self.rng.gamma(burstiness) * theta;
                }
                Some(Duration::from_secs_f64(due))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediate_has_no_times() {
        let mut s = Schedule::new(Arrival::Immediate, 1);
        assert_eq!(s.next_offset(), None);
    }

    #[test]
    fn poisson_rate_has_the_right_mean_and_spread() {
        let mut s = Schedule::new(
            Arrival::Rate {
                per_second: 100.0,
                burstiness: 1.0,
            },
            9,
        );
        let times: Vec<f64> = (0..20_001)
            .map(|_| s.next_offset().unwrap().as_secs_f64())
            .collect();
        assert_eq!(times[0], 0.0);
        let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.01).abs() < 0.0005, "{mean}");
        // exponential: coefficient of variation 1
        assert!((var.sqrt() / mean - 1.0).abs() < 0.05);
    }

    #[test]
    fn infinite_burstiness_reads_back() {
        let a = Arrival::Rate {
            per_second: 2.0,
            burstiness: f64::INFINITY,
        };
        let text = serde_json::to_string(&a).unwrap();
        assert!(text.contains("\"inf\""), "{text}");
        assert_eq!(serde_json::from_str::<Arrival>(&text).unwrap(), a);
    }

    #[test]
    fn infinite_burstiness_is_constant() {
        let mut s = Schedule::new(
            Arrival::Rate {
                per_second: 4.0,
                burstiness: f64::INFINITY,
            },
            3,
        );
        let times: Vec<f64> = (0..5)
            .map(|_| s.next_offset().unwrap().as_secs_f64())
            .collect();
        assert_eq!(times, [0.0, 0.25, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn high_burstiness_is_even() {
        let mut s = Schedule::new(
            Arrival::Rate {
                per_second: 10.0,
                burstiness: 1000.0,
            },
            2,
        );
        let times: Vec<f64> = (0..100)
            .map(|_| s.next_offset().unwrap().as_secs_f64())
            .collect();
        for w in times.windows(2) {
            assert!(((w[1] - w[0]) - 0.1).abs() < 0.02);
        }
    }
}
