//! Whether the client kept up: process CPU time, timer lateness of the async runtime, and
//! send lag behind the schedule. Measurement here; the judgement is a pure function in
//! `llmb_metrics::client`, re-exported.

use std::time::{Duration, Instant};

pub use llmb_metrics::client::{
    judge, ClientBound, ClientStats, CLIENT_LAG_P99_LIMIT_MS, CONNECT_WAIT_P99_LIMIT_MS,
    CPU_BUSY_LIMIT, LOOP_LAG_P99_LIMIT_MS, SEND_LAG_P99_LIMIT_MS,
};
use tokio::sync::watch;

/// CPU time (user + system) used by this process so far.
pub fn process_cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Samples how late a 10 ms timer fires on the runtime: a busy or starved runtime wakes
/// tasks late, and then chunk timestamps are late too.
#[derive(Debug)]
pub struct LagProbe {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<f64>>,
}

impl LagProbe {
    /// Starts sampling.
    pub fn start() -> LagProbe {
        let (stop, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut lags = Vec::new();
            let period = Duration::from_millis(10);
            let mut next = tokio::time::Instant::now() + period;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(next) => {}
                    _ = rx.changed() => return lags,
                }
                let now = tokio::time::Instant::now();
                lags.push(now.saturating_duration_since(next).as_secs_f64() * 1000.0);
                next = now + period;
            }
        });
        LagProbe { stop, task }
    }

    /// Stops and returns the lateness samples (ms).
    pub async fn finish(self) -> Vec<f64> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

/// Measures CPU and wall time over a phase.
#[derive(Debug)]
pub struct CpuMeter {
    cpu: Duration,
    wall: Instant,
}

impl CpuMeter {
    /// Starts measuring.
    pub fn start() -> CpuMeter {
        CpuMeter {
            cpu: process_cpu_time(),
            wall: Instant::now(),
        }
    }

    /// (CPU seconds, wall seconds) since start.
    pub fn read(&self) -> (f64, f64) {
        (
            (process_cpu_time().saturating_sub(self.cpu)).as_secs_f64(),
            self.wall.elapsed().as_secs_f64(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_moves() {
        // Work the optimiser cannot fold away, until the meter moves (the process clock
        // ticks coarsely on some kernels); bounded so a stuck meter fails, not hangs.
        let m = CpuMeter::start();
        let mut x = 0u64;
        for _ in 0..1000 {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_add(i * i));
            }
            if m.read().0 > 0.0 {
                break;
            }
        }
        assert!(x > 0);
        assert!(m.read().0 > 0.0);
    }
}
