//! `llmb bench`: load-generator arguments.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use llmb_settings::{BenchSettings, Endpoint, ReportFormat, ServerKind};

/// Route to benchmark.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EndpointArg {
    /// /v1/chat/completions
    Chat,
    /// /v1/completions
    Completions,
}

/// Server family (decides which output-length fields are sent).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ServerArg {
    /// vLLM-style fields: max_tokens, min_tokens, ignore_eos.
    Generic,
    /// OpenAI itself: max_tokens only.
    Openai,
    /// vLLM.
    Vllm,
    /// SGLang.
    Sglang,
    /// TensorRT-LLM trtllm-serve.
    Trtllm,
    /// llama.cpp llama-server.
    Llamacpp,
    /// NVIDIA NIM (adds nvext.ignore_eos).
    Nim,
    /// NVIDIA Dynamo (adds nvext.ignore_eos).
    Dynamo,
}

/// Report printed on stdout.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    /// trtllm-bench's PERFORMANCE OVERVIEW.
    Trtllm,
    /// benchmark_serving's Serving Benchmark Result.
    Serving,
    /// GenAI-Perf's CSV table.
    GenaiPerf,
    /// `vllm bench serve`'s block (its definitions).
    Vllm,
    /// All of them.
    All,
}

/// Another tool's command line run by `llmb bench`.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCompat {
    /// Run a `vllm bench serve` command line (change `vllm` to `llmb`): vLLM's options,
    /// defaults, printed block and result file.
    Serve(Box<crate::cli::vllm::VllmServeArgs>),
}

/// `llmb bench` arguments.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  llmb bench                                      the embedded engine, chat 128/128, concurrency 32
  llmb bench --url http://127.0.0.1:8000 --isl 1024 --osl 1024 --concurrency 1,2,4,8 --multi-round 5
  llmb bench --url http://host:8000 --request-rate 20 --burstiness 0.5 --duration 60s
  SSL_CERT_FILE=ca.pem llmb bench --url https://host:8443 --concurrency 64
  llmb bench serve --model m --num-prompts 100 --save-result    a `vllm bench serve` command line
  llmb bench --url http://host:8000 --use-case chat:128/128 --use-case summarization:4096/512
  llmb bench --url http://host:8000 --slo ttft_ms=500,tpot_ms=50 --fail-if 'p99(ttft_ms)>500,error_rate>0.01'

Exit codes: 0 ok, 1 run error, 2 bad input, 3 --fail-if or more than half failed, 4 client-bound (results invalid), 130 interrupted."
)]
pub struct BenchArgs {
    /// Another tool's command line.
    #[command(subcommand)]
    pub compat: Option<BenchCompat>,
    /// Base URL of an OpenAI-compatible server, http:// or https:// (certificates are checked
    /// against the system's roots, or SSL_CERT_FILE / SSL_CERT_DIR when set); without it the
    /// embedded engine is started.
    #[arg(long)]
    pub url: Option<String>,
    /// Do not verify an https server's certificate (the traffic is still encrypted); the
    /// run's config records it.
    #[arg(long)]
    pub insecure: bool,
    /// Route.
    #[arg(long, value_enum, default_value_t = EndpointArg::Chat)]
    pub endpoint: EndpointArg,
    /// Model name (default: the first of GET /v1/models).
    #[arg(long)]
    pub model: Option<String>,
    /// Environment variable holding the API key (sent as a bearer token, never saved).
    #[arg(long, default_value = "OPENAI_API_KEY")]
    pub api_key_env: String,
    /// Extra header `K:V` (repeatable; values are not saved).
    #[arg(long = "header", value_name = "K:V")]
    pub headers: Vec<String>,
    /// JSON object merged into every request body.
    #[arg(long, value_name = "JSON")]
    pub extra_body: Option<String>,
    /// Server family, for which output-length fields to send.
    #[arg(long, value_enum, default_value_t = ServerArg::Generic)]
    pub server: ServerArg,
    /// Tokenizer: a tokenizer.json, a model folder holding one, or a model id in the local
    /// Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub); default:
    /// the built-in cl100k_base.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Input length in tokens.
    #[arg(long, default_value_t = 128, allow_negative_numbers = true)]
    pub isl: i64,
    /// Output length in tokens.
    #[arg(long, default_value_t = 128, allow_negative_numbers = true)]
    pub osl: i64,
    /// Standard deviation of input lengths (normal, as trtllm-bench's token-norm-dist).
    #[arg(long, default_value_t = 0.0)]
    pub isl_stddev: f64,
    /// Standard deviation of output lengths.
    #[arg(long, default_value_t = 0.0)]
    pub osl_stddev: f64,
    /// Workload `name:ISL/OSL` (repeatable, or space-separated as the seeds write USE_CASES).
    #[arg(long = "use-case", value_name = "NAME:ISL/OSL", conflicts_with_all = ["isl", "osl", "dataset"])]
    pub use_cases: Vec<String>,
    /// JSONL dataset: trtllm-bench's {"task_id","input_ids"|"prompt","output_tokens"} or {"prompt": ...}.
    #[arg(long, conflicts_with_all = ["isl", "isl_stddev"])]
    pub dataset: Option<PathBuf>,
    /// Measured requests per load point (default: 10 × concurrency, 256 without a limit).
    #[arg(long)]
    pub num_requests: Option<u64>,
    /// Requests sent first and left out of the metrics.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Requests = concurrency × K (the seeds' multi_round).
    #[arg(long, conflicts_with_all = ["num_requests", "duration"])]
    pub multi_round: Option<u64>,
    /// Stop issuing after this long (e.g. 30s, 2m).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Seed: same seed, byte-identical prompts and schedule.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Completions: send prompts as token ids.
    #[arg(long)]
    pub prompt_token_ids: bool,
    /// Do not force output lengths (no ignore_eos / min_tokens).
    #[arg(long)]
    pub no_ignore_eos: bool,
    /// Do not stream (TTFT and per-token metrics become unavailable).
    #[arg(long)]
    pub no_stream: bool,
    /// Do not scrape the server's Prometheus `/metrics` while the load runs (by default it
    /// is read every second into server_metrics.jsonl, by the engine's own metric names).
    #[arg(long)]
    pub no_server_metrics: bool,
    /// Concurrency: N (closed loop), -1 (no client limit: at most 32,768 in flight, about
    /// the ephemeral ports towards one server), or a comma list to sweep.
    #[arg(
        long,
        value_delimiter = ',',
        allow_negative_numbers = true,
        default_value = "32"
    )]
    pub concurrency: Vec<i64>,
    /// Requests per second (default: as fast as the concurrency allows).
    #[arg(long)]
    pub request_rate: Option<f64>,
    /// Gamma shape of inter-arrival gaps with --request-rate (1 = Poisson, inf = constant).
    #[arg(long, default_value_t = 1.0)]
    pub burstiness: f64,
    /// Give up on one request after this long.
    #[arg(long, value_parser = parse_duration, default_value = "600s")]
    pub timeout: std::time::Duration,
    /// Cut a streamed response that has started when nothing comes for this long
    /// (outcome `idle_timeout`); the wait for the first event is bounded by --timeout.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub idle_timeout: std::time::Duration,
    /// Stop sending when more than this share of the last 100 requests failed, or when 16
    /// connections in a row are refused (the server is gone); 1 never stops on errors.
    #[arg(long, default_value_t = 0.5)]
    pub max_error_rate: f64,
    /// After Ctrl-C, let in-flight requests finish for this long.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub grace: std::time::Duration,
    /// Split the load across this many client processes: one global schedule, request i
    /// sent by worker i mod K, concurrency divided among them, results merged exactly.
    #[arg(long, default_value_t = 1)]
    pub workers: u32,
    /// Result folder (default: results/<timestamp>-<label>).
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Label in the default result folder name.
    #[arg(long)]
    pub label: Option<String>,
    /// GPUs behind the server, for per-GPU figures.
    #[arg(long, default_value_t = 1)]
    pub gpus: u64,
    /// Disaggregated serving: GPUs of the decode servers. Adds per-decode-GPU throughput
    /// (labelled) next to the per-GPU figure over all GPUs, and writes perf_summary.txt.
    #[arg(long)]
    pub decode_gpus: Option<u64>,
    /// Service-level objectives for goodput, e.g. ttft_ms=500,tpot_ms=50,e2e_ms=2000.
    #[arg(long)]
    pub slo: Option<String>,
    /// Exit 3 when a condition holds, e.g. 'p99(ttft_ms)>500,error_rate>0.01'.
    #[arg(long)]
    pub fail_if: Option<String>,
    /// Report printed on stdout.
    #[arg(long, value_enum, default_value_t = FormatArg::Trtllm)]
    pub format: FormatArg,
    /// No progress bar, no report on stdout (files are still written).
    #[arg(long, short)]
    pub quiet: bool,
    /// Run these settings (JSON, `-` for stdin) instead of the options above; `--url` may
    /// still name the server. `llmb run-plan` starts each load step this way.
    #[arg(long, value_name = "FILE", hide = true)]
    pub settings: Option<PathBuf>,
}

impl BenchArgs {
    /// The typed settings these options describe (validated when the run starts).
    pub fn into_settings(self) -> BenchSettings {
        BenchSettings {
            url: self.url,
            endpoint: match self.endpoint {
                EndpointArg::Chat => Endpoint::Chat,
                EndpointArg::Completions => Endpoint::Completions,
            },
            model: self.model,
            api_key_env: self.api_key_env,
            headers: self.headers,
            extra_body: self.extra_body,
            server: match self.server {
                ServerArg::Generic => ServerKind::Generic,
                ServerArg::Openai => ServerKind::Openai,
                ServerArg::Vllm => ServerKind::Vllm,
                ServerArg::Sglang => ServerKind::Sglang,
                ServerArg::Trtllm => ServerKind::Trtllm,
                ServerArg::Llamacpp => ServerKind::Llamacpp,
                ServerArg::Nim => ServerKind::Nim,
                ServerArg::Dynamo => ServerKind::Dynamo,
            },
            timeout: self.timeout,
            idle_timeout: self.idle_timeout,
            max_error_rate: self.max_error_rate,
            server_metrics: !self.no_server_metrics,
            insecure: self.insecure,
            tokenizer: self.tokenizer,
            isl: self.isl,
            osl: self.osl,
            isl_stddev: self.isl_stddev,
            osl_stddev: self.osl_stddev,
            use_cases: self.use_cases,
            dataset: self.dataset,
            seed: self.seed,
            prompt_token_ids: self.prompt_token_ids,
            ignore_eos: !self.no_ignore_eos,
            stream: !self.no_stream,
            concurrency: self.concurrency,
            request_rate: self.request_rate,
            burstiness: self.burstiness,
            num_requests: self.num_requests,
            warmup: self.warmup,
            multi_round: self.multi_round,
            duration: self.duration,
            grace: self.grace,
            workers: self.workers,
            gpus: self.gpus,
            decode_gpus: self.decode_gpus,
            slo: self.slo,
            fail_if: self.fail_if,
            output_dir: self.output_dir,
            label: self.label,
            format: match self.format {
                FormatArg::Trtllm => ReportFormat::Trtllm,
                FormatArg::Serving => ReportFormat::Serving,
                FormatArg::GenaiPerf => ReportFormat::GenaiPerf,
                FormatArg::Vllm => ReportFormat::Vllm,
                FormatArg::All => ReportFormat::All,
            },
            quiet: self.quiet,
            vllm: None,
            aiperf: None,
        }
    }
}

/// `30s`, `2m`, `1h`, `500ms`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60.0)
    } else if let Some(v) = s.strip_suffix('h') {
        (v, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write e.g. 30s, 2m, 500ms"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("`{s}`: the duration must be positive"));
    }
    Ok(std::time::Duration::from_secs_f64(v * mult))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `llmb bench` with no options and `BenchSettings::default()` are one run: the two
    /// places that state the defaults cannot drift apart.
    #[test]
    fn no_options_resolve_to_the_default_settings() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let args = <Cli as clap::Parser>::try_parse_from(["bench"])
            .unwrap()
            .bench;
        assert_eq!(args.into_settings(), BenchSettings::default());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap().as_secs(), 30);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("1.5").unwrap().as_millis(), 1500);
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("30s"));
    }
}
