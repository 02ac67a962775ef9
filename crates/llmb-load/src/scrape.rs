//! The scraper: read an engine's Prometheus endpoint at an interval while the load runs
//! (once before it starts, once after it ends) by the engine's own metric names
//! (`llmb_engines::telemetry`), and the one plain HTTP GET that readiness probes share.

use std::time::{Duration, Instant};

use llmb_engines::telemetry::Scrape;
use llmb_engines::{CommonMetrics, CommonSample};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// `GET path` over HTTP/1.0 from `host:port`: the status and up to 4 MiB of the body.
/// Engines' readiness probes and their `/metrics` both go through it.
pub async fn get(addr: &str, path: &str, timeout: Duration) -> Result<(u16, String), String> {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        (&mut s)
            .take(4 << 20)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| "not an HTTP response".to_string())?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| "not an HTTP response".to_string())?;
        Ok((status, body.to_owned()))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| format!("GET {path} took longer than {timeout:?}"))?
}

/// `GET path` from `host:port`; the body when the status is 200.
pub async fn fetch(addr: &str, path: &str, timeout: Duration) -> Result<String, String> {
    match get(addr, path, timeout).await? {
        (200, body) => Ok(body),
        (status, _) => Err(format!("GET {path} answered {status}")),
    }
}

/// A running scraper.
#[derive(Debug)]
pub struct Scraper {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<Scrape>>,
    first: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Scraper {
    /// Scrapes `addr` + `path` now and then every `interval` until [`Scraper::finish`].
    /// Scrapes that fail are skipped (an engine without metrics gives no samples).
    pub fn start(addr: String, path: String, names: CommonMetrics, interval: Duration) -> Scraper {
        let (stop, mut rx) = watch::channel(false);
        let (first_tx, first) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let t0 = Instant::now();
            let mut out = Vec::new();
            let limit = Duration::from_secs(5);
            let mut first_tx = Some(first_tx);
            loop {
                if let Ok(text) = fetch(&addr, &path, limit).await {
                    out.push(Scrape {
                        at_ms: t0.elapsed().as_secs_f64() * 1000.0,
                        sample: CommonSample::from_exposition(&text, &names),
                    });
                }
                if let Some(tx) = first_tx.take() {
                    let _ = tx.send(());
                }
                if *rx.borrow() {
                    return out;
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    // Stop asked: one last scrape, then return.
                    _ = rx.changed() => {}
                }
            }
        });
        Scraper {
            stop,
            task,
            first: Some(first),
        }
    }

    /// Waits until the first scrape has been tried (so a baseline taken before the load
    /// starts really precedes it).
    pub async fn first_scrape(&mut self) {
        if let Some(rx) = self.first.take() {
            let _ = rx.await;
        }
    }

    /// Takes a last scrape and returns them all.
    pub async fn finish(self) -> Vec<Scrape> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}
