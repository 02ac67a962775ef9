//! What a `vllm bench serve` command line asks of the results besides the load itself:
//! its result file (`--save-result` and friends), its printed block, the percentiles and
//! metrics it reports and its goodput SLOs. Resolved once from `llmb bench serve`'s
//! options; the load itself is in the ordinary [`crate::BenchSettings`] fields.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The metrics vLLM can report percentiles of (`--percentile-metrics`), in the order it
/// prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VllmMetric {
    /// Time to first token.
    Ttft,
    /// Time per output token after the first.
    Tpot,
    /// Gaps between streamed chunks.
    Itl,
    /// End-to-end latency.
    E2el,
}

impl VllmMetric {
    /// Every metric, in vLLM's order.
    pub const ALL: [VllmMetric; 4] = [
        VllmMetric::Ttft,
        VllmMetric::Tpot,
        VllmMetric::Itl,
        VllmMetric::E2el,
    ];

    /// The name in keys and on the command line (`ttft`).
    pub fn key(self) -> &'static str {
        match self {
            VllmMetric::Ttft => "ttft",
            VllmMetric::Tpot => "tpot",
            VllmMetric::Itl => "itl",
            VllmMetric::E2el => "e2el",
        }
    }

    /// By name.
    pub fn parse(s: &str) -> Option<VllmMetric> {
        VllmMetric::ALL.into_iter().find(|m| m.key() == s)
    }
}

/// One `--goodput` service-level objective, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VllmSlo {
    /// `ttft`, `tpot` or `e2el` (never `itl`).
    pub metric: VllmMetric,
    /// The limit in ms (a request meets it at or below).
    pub ms: f64,
}

/// The vLLM-compatible outputs of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VllmOutput {
    /// `--backend` (`openai`, `vllm` or `openai-chat`), written as `backend` and
    /// `endpoint_type` and the default file-name label.
    pub backend: String,
    /// `--label`.
    pub label: Option<String>,
    /// `--num-prompts` as given (written as `num_prompts`).
    pub num_prompts: u64,
    /// `--save-result`.
    pub save_result: bool,
    /// `--save-detailed`: keep the per-request arrays.
    pub save_detailed: bool,
    /// `--append-result`: append one JSON line to the file.
    pub append_result: bool,
    /// `--result-dir`.
    pub result_dir: Option<PathBuf>,
    /// `--result-filename`.
    pub result_filename: Option<String>,
    /// `--metadata KEY=VALUE`, in order.
    pub metadata: Vec<(String, String)>,
    /// `--percentile-metrics`.
    pub percentile_metrics: Vec<VllmMetric>,
    /// `--metric-percentiles`.
    pub metric_percentiles: Vec<f64>,
    /// `--goodput`; empty when not given (`request_goodput` is then `null`).
    pub goodput: Vec<VllmSlo>,
    /// `--tokenizer` as given (written as `tokenizer_id`; `None`: the model id).
    pub tokenizer_id: Option<String>,
    /// `--disable-tqdm`: no progress display.
    pub disable_tqdm: bool,
}

impl VllmOutput {
    /// Whether a result file is written.
    pub fn writes_file(&self) -> bool {
        self.save_result || self.append_result
    }
}
