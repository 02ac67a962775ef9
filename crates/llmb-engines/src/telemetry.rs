//! The server's side of a run, as data: which Prometheus names carry the common quantities
//! of each engine, one scrape, and the sum of a run's scrapes next to the client's view.
//! The scraper itself (HTTP, an interval) is `llmb_probe`.

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
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
}
