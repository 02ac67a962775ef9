//! The server's side of a run: scrape an engine's Prometheus endpoint at an interval while
//! the load runs (once before it starts, once after it ends), keep the common quantities
//! by the engine's own metric names, and sum them up next to the client's view.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::metrics_map::CommonSample;
use super::{CommonMetrics, EngineKind};

/// Every engine's names at once, for a server of unknown kind: the first name present
/// wins, and engines do not share prefixes.
pub const ANY_ENGINE: CommonMetrics = CommonMetrics {
    running: &[
        "vllm:num_requests_running",
        "sglang:num_running_reqs",
        "llamacpp:requests_processing",
        "llmb:num_requests_running",
        "dynamo_frontend_inflight_requests",
    ],
    waiting: &[
        "vllm:num_requests_waiting",
        "sglang:num_queue_reqs",
        "llamacpp:requests_deferred",
        "llmb:num_requests_waiting",
        "dynamo_frontend_queued_requests",
    ],
    kv_cache_use: &[
        "vllm:kv_cache_usage_perc",
        "vllm:gpu_cache_usage_perc",
        "sglang:token_usage",
        "llamacpp:kv_cache_usage_ratio",
        "llmb:kv_cache_usage_perc",
    ],
    generated_tokens: &[
        "vllm:generation_tokens_total",
        "sglang:generation_tokens_total",
        "llamacpp:tokens_predicted_total",
        "llmb:generation_tokens_total",
        "dynamo_frontend_output_tokens_total",
    ],
};

/// The names to read for an engine kind (all engines' when unknown or without Prometheus
/// text of their own: trtllm-serve's `/metrics` is JSON, NIM runs vLLM).
pub fn names_for(kind: Option<EngineKind>) -> CommonMetrics {
    match kind {
        Some(EngineKind::Vllm) => super::vllm::METRICS,
        Some(EngineKind::Sglang) => super::sglang::METRICS,
        Some(EngineKind::LlamaCpp) => super::llama_cpp::METRICS,
        Some(EngineKind::Sim) => super::sim::METRICS,
        Some(EngineKind::DynamoFrontend) => super::dynamo::FRONTEND_METRICS,
        _ => ANY_ENGINE,
    }
}

/// One scrape.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scrape {
    /// When, in ms after scraping started.
    pub at_ms: f64,
    /// What the engine reported.
    #[serde(flatten)]
    pub sample: CommonSample,
}

/// The run as the engine saw it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ServerView {
    /// Scrapes that answered.
    pub samples: usize,
    /// Mean requests running over the scrapes.
    pub mean_running: Option<f64>,
    /// Most requests waiting at a scrape.
    pub max_waiting: Option<f64>,
    /// Highest KV-cache use at a scrape (0 to 1).
    pub max_kv_cache_use: Option<f64>,
    /// Tokens the engine generated between the first and the last scrape.
    pub generated_tokens: Option<f64>,
}

impl ServerView {
    /// Sums up scrapes (in time order).
    pub fn from_scrapes(s: &[Scrape]) -> ServerView {
        let vals = |f: fn(&CommonSample) -> Option<f64>| -> Vec<f64> {
            s.iter().filter_map(|x| f(&x.sample)).collect()
        };
        let running = vals(|c| c.running);
        let max = |v: Vec<f64>| v.into_iter().reduce(f64::max);
        let gen = vals(|c| c.generated_tokens_total);
        ServerView {
            samples: s.len(),
            mean_running: (!running.is_empty())
                .then(|| running.iter().sum::<f64>() / running.len() as f64),
            max_waiting: max(vals(|c| c.waiting)),
            max_kv_cache_use: max(vals(|c| c.kv_cache_use)),
            generated_tokens: match (gen.first(), gen.last()) {
                (Some(a), Some(b)) if gen.len() >= 2 => Some(b - a),
                _ => None,
            },
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(at: f64, running: f64, waiting: f64, kv: f64, gen: f64) -> Scrape {
        Scrape {
            at_ms: at,
            sample: CommonSample {
                running: Some(running),
                waiting: Some(waiting),
                kv_cache_use: Some(kv),
                generated_tokens_total: Some(gen),
            },
        }
    }

    #[test]
    fn view_of_hand_made_scrapes() {
        let v = ServerView::from_scrapes(&[
            scrape(0.0, 0.0, 0.0, 0.0, 1000.0),
            scrape(1000.0, 4.0, 2.0, 0.5, 1300.0),
            scrape(2000.0, 2.0, 5.0, 0.25, 1500.0),
        ]);
        assert_eq!(v.samples, 3);
        assert_eq!(v.mean_running, Some(2.0));
        assert_eq!(v.max_waiting, Some(5.0));
        assert_eq!(v.max_kv_cache_use, Some(0.5));
        assert_eq!(v.generated_tokens, Some(500.0));
        assert_eq!(ServerView::from_scrapes(&[]), ServerView::default());
    }

    #[test]
    fn any_engine_reads_the_simulators_names() {
        let m = crate::sim::metrics::SimMetrics::new(100);
        m.set_occupancy(3, 0, 0);
        m.add_tokens(0, 42);
        let s = CommonSample::from_exposition(&m.render("m"), &ANY_ENGINE);
        assert_eq!(
            (s.running, s.generated_tokens_total),
            (Some(3.0), Some(42.0))
        );
    }
}
