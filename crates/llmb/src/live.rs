//! The progress line on stderr: requests done, output tokens/s and errors, redrawn from
//! sampled counters (never fed per token), only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use llmb_load::progress::Progress;
use tokio::sync::watch;

/// A running progress display.
pub struct Live {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Live {
    /// Starts drawing unless `quiet` or stderr is not a terminal.
    pub fn start(progress: Arc<Progress>, label: String, quiet: bool) -> Live {
        let (stop, mut rx) = watch::channel(false);
        let task = (!quiet && std::io::stderr().is_terminal()).then(|| {
            tokio::spawn(async move {
                let start = Instant::now();
                let mut tick = tokio::time::interval(Duration::from_millis(250));
                let mut last = (Instant::now(), 0u64);
                let mut rate = 0.0;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = rx.changed() => break,
                    }
                    let s = progress.snapshot();
                    let now = Instant::now();
                    let dt = now.duration_since(last.0).as_secs_f64();
                    if dt >= 1.0 {
                        rate = (s.chunks - last.1) as f64 / dt;
                        last = (now, s.chunks);
                    }
                    let done = s.completed + s.failed;
                    let bar = if s.planned > 0 {
                        let filled = (done * 24 / s.planned.max(1)).min(24) as usize;
                        format!(
                            "[{}{}] {done}/{}",
                            "=".repeat(filled),
                            " ".repeat(24 - filled),
                            s.planned
                        )
                    } else {
                        format!("{done} done")
                    };
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r\x1b[2K{label} {bar}  {:.0} tok/s  {} errors  {:.1}s",
                        rate,
                        s.failed,
                        start.elapsed().as_secs_f64()
                    );
                    let _ = err.flush();
                }
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
            })
        });
        Live { stop, task }
    }

    /// Stops and clears the line.
    pub async fn finish(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}
