//! Everything a person or another tool reads after a run: the trtllm-bench PERFORMANCE
//! OVERVIEW, benchmark_serving's result block and JSON, GenAI-Perf's
//! `profile_export_genai_perf.{json,csv}`, and llmb's own versioned `summary.json` ([`run_summary::RunSummary`], typed and
//! readable back).
//! Each format is one module of pure functions from a [`Summary`](llmb_metrics::Summary);
//! `trtllm_bench_log` reads trtllm-bench's own report back for offline runs.
#![warn(missing_docs)]

pub mod aiperf;
pub mod export;
pub mod genai_perf;
pub mod import;
pub mod perf_summary;
pub mod py_json;
pub mod run_dir;
pub mod run_summary;
pub mod serving;
pub mod sweep;
pub mod trtllm;
pub mod trtllm_bench_log;
pub mod vllm;

/// Facts about the run that the formats print besides the metrics.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// Served model name.
    pub model: String,
    /// Tokenizer used for prompts.
    pub tokenizer: String,
    /// GPUs behind the server (per-GPU figures); 1 when unknown.
    pub gpus: u64,
    /// Disaggregated serving: the decode servers' GPUs (a second per-GPU figure).
    pub decode_gpus: Option<u64>,
    /// Streamed responses.
    pub streaming: bool,
    /// Client concurrency as the tools print it (`-1` unbounded).
    pub concurrency: i64,
    /// Request rate (`None` = as fast as possible).
    pub request_rate: Option<f64>,
    /// Burstiness of the arrival process.
    pub burstiness: f64,
    /// Measured requests planned.
    pub num_prompts: u64,
    /// Requests meeting the SLOs, when `--slo` was given.
    pub good_requests: Option<u64>,
    /// Server family label.
    pub backend: String,
    /// Run timestamp `YYYYmmdd-HHMMSS`.
    pub date: String,
    /// Wall-clock time of the records' origin (their `*_ns` count from it), ns since the
    /// Unix epoch; 0 when unknown.
    pub origin_unix_ns: u64,
}
