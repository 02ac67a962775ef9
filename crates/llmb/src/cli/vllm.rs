//! `llmb bench serve`: the options of `vllm bench serve` under vLLM's own names, defaults
//! and meanings (vllm/benchmarks/serve.py and datasets.py, Apache-2.0), turned into the
//! one `BenchSettings` every run uses, plus the outputs vLLM writes (`VllmOutput`). An
//! option whose meaning llmb does not have is refused in one line that names the nearest
//! llmb option ([`REFUSED`]); none is silently ignored.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;
use llmb_settings::vllm::{VllmMetric, VllmOutput, VllmSlo};
use llmb_settings::{invalid, BenchSettings, Endpoint, ReportFormat, ServerKind};
use serde_json::{Map, Value};

/// `llmb bench serve` arguments: `vllm bench serve`'s.
#[derive(Debug, Args)]
#[command(
    after_help = "Any `vllm bench serve` command line runs with `vllm` changed to `llmb`; \
underscores in option names work too (--num_prompts). Without --base-url, --host or --port the \
embedded engine is started (vLLM would assume http://127.0.0.1:8000: pass --port 8000 for that).

Examples:
  llmb bench serve --model meta-llama/Llama-3.1-8B-Instruct --num-prompts 100 --save-result
  llmb bench serve --base-url http://host:8000 --backend openai-chat --endpoint /v1/chat/completions \\
      --random-input-len 1024 --random-output-len 256 --max-concurrency 64 --num-prompts 640 \\
      --percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,99 --goodput ttft:500 tpot:50

Accepted with no effect (nothing to do in llmb): --trust-remote-code, --tokenizer-mode auto,
--disable-shuffle, --no-oversample, --ready-check-timeout-sec 0, --probe-request-rate 0.
Refused with a hint: other datasets than random, --random-range-ratio other than 0,
--random-prefix-len, ramp-up, --profile, plots, LoRA, --request-id-prefix, --self-timed,
client_queue_time metrics, non-generation backends."
)]
pub struct VllmServeArgs {
    /// Result file-name prefix (default: the backend).
    #[arg(long)]
    pub label: Option<String>,
    /// Request protocol: openai or vllm (completions), openai-chat (chat completions).
    #[arg(long, default_value = "openai")]
    pub backend: String,
    /// Server base URL (e.g. https://host:8000); overrides --host and --port.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Server host (vLLM's default 127.0.0.1 when --port is given).
    #[arg(long)]
    pub host: Option<String>,
    /// Server port (vLLM's default 8000 when --host is given).
    #[arg(long)]
    pub port: Option<u16>,
    /// API path: /v1/completions (default) or /v1/chat/completions.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Extra headers KEY=VALUE (several after one --header; values are never saved).
    #[arg(long, num_args = 0.., value_name = "KEY=VALUE")]
    pub header: Vec<String>,
    /// Most requests in flight (default: no limit).
    #[arg(long)]
    pub max_concurrency: Option<i64>,
    /// Model name (default: the first of GET /v1/models).
    #[arg(long)]
    pub model: Option<String>,
    /// The request's `model` field, when it differs from --model.
    #[arg(long)]
    pub served_model_name: Option<String>,
    /// Overrides --random-input-len.
    #[arg(long)]
    pub input_len: Option<i64>,
    /// Overrides --random-output-len.
    #[arg(long)]
    pub output_len: Option<i64>,
    /// Tokenizer: tokenizer.json, a model folder, or a model id in the local Hugging Face
    /// cache (default: --model when cached there, else llmb's built-in one).
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Only `auto`.
    #[arg(long, default_value = "auto")]
    pub tokenizer_mode: String,
    /// Requests per second (inf: all at once).
    #[arg(long, default_value = "inf")]
    pub request_rate: f64,
    /// Gamma shape of the gaps with a finite rate (1 = Poisson).
    #[arg(long, default_value_t = 1.0)]
    pub burstiness: f64,
    /// No progress display.
    #[arg(long)]
    pub disable_tqdm: bool,
    /// Warm-up requests before the measured ones.
    #[arg(long, default_value_t = 0)]
    pub num_warmups: u64,
    /// Write the result JSON.
    #[arg(long)]
    pub save_result: bool,
    /// Keep the per-request arrays in the result JSON.
    #[arg(long)]
    pub save_detailed: bool,
    /// Append the result as one more JSON line.
    #[arg(long)]
    pub append_result: bool,
    /// Extra result keys KEY=VALUE (several after one --metadata).
    #[arg(long, num_args = 0.., value_name = "KEY=VALUE")]
    pub metadata: Vec<String>,
    /// Folder of the result file (default: the working folder).
    #[arg(long)]
    pub result_dir: Option<PathBuf>,
    /// Result file name (default: {label}-{rate}qps[-concurrency{N}]-{model}-{date}.json).
    #[arg(long)]
    pub result_filename: Option<String>,
    /// Ask the server to ignore end-of-sequence (always on with the random dataset).
    #[arg(long)]
    pub ignore_eos: bool,
    /// Metrics to report percentiles of: ttft, tpot, itl, e2el (comma-separated).
    #[arg(long, default_value = "ttft,tpot,itl")]
    pub percentile_metrics: String,
    /// Percentiles (comma-separated, e.g. 25,50,99.9).
    #[arg(long, default_value = "99")]
    pub metric_percentiles: String,
    /// Service-level objectives KEY:MS (ttft, tpot, e2el) for request_goodput.
    #[arg(long, num_args = 1.., value_name = "KEY:MS")]
    pub goodput: Vec<String>,
    /// Skip TLS certificate verification.
    #[arg(long)]
    pub insecure: bool,
    /// JSON object merged into every request body (wins over the sampling options).
    #[arg(long)]
    pub extra_body: Option<String>,
    /// Sampling: top_p.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Sampling: top_k.
    #[arg(long)]
    pub top_k: Option<i64>,
    /// Sampling: min_p.
    #[arg(long)]
    pub min_p: Option<f64>,
    /// Sampling: temperature.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Sampling: frequency_penalty.
    #[arg(long)]
    pub frequency_penalty: Option<f64>,
    /// Sampling: presence_penalty.
    #[arg(long)]
    pub presence_penalty: Option<f64>,
    /// Sampling: repetition_penalty.
    #[arg(long)]
    pub repetition_penalty: Option<f64>,
    /// Completions: number of log probabilities per token.
    #[arg(long)]
    pub logprobs: Option<i64>,
    /// Seed of the prompts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Requests to send.
    #[arg(long, default_value_t = 1000)]
    pub num_prompts: i64,
    /// Dataset: only `random` (exact-length prompts).
    #[arg(long, default_value = "random")]
    pub dataset_name: String,
    /// Prompt tokens.
    #[arg(long, default_value_t = 1024)]
    pub random_input_len: i64,
    /// Output tokens.
    #[arg(long, default_value_t = 128)]
    pub random_output_len: i64,
    /// Spread of lengths (only 0: exact lengths).
    #[arg(long, default_value = "0.0")]
    pub random_range_ratio: String,
    /// Shared prefix tokens (only 0).
    #[arg(long, default_value_t = 0)]
    pub random_prefix_len: u64,
    /// Accepted: llmb never runs a model's code.
    #[arg(long)]
    pub trust_remote_code: bool,
    /// Accepted: random prompts have no order to shuffle.
    #[arg(long)]
    pub disable_shuffle: bool,
    /// Accepted: random prompts are never repeated.
    #[arg(long)]
    pub no_oversample: bool,
    /// Only 0 (llmb checks the server once before the run).
    #[arg(long, default_value_t = 0)]
    pub ready_check_timeout_sec: u64,
    /// Only 0 (no side probes).
    #[arg(long, default_value_t = 0.0)]
    pub probe_request_rate: f64,
}

/// vLLM options llmb does not honour, with what to use instead.
pub const REFUSED: &[(&str, &str)] = &[
    (
        "--dataset-path",
        "llmb bench --dataset FILE.jsonl (one {\"prompt\", \"output_tokens\"} per line)",
    ),
    (
        "--ramp-up-strategy",
        "--request-rate with a fixed rate (ramp-up is not in llmb yet)",
    ),
    (
        "--ramp-up-start-rps",
        "--request-rate with a fixed rate (ramp-up is not in llmb yet)",
    ),
    (
        "--ramp-up-end-rps",
        "--request-rate with a fixed rate (ramp-up is not in llmb yet)",
    ),
    (
        "--profile",
        "the engine's own profiler; llmb does not call /start_profile",
    ),
    (
        "--plot-timeline",
        "the per-request records in llmb's records.jsonl",
    ),
    ("--plot-dataset-stats", "the lengths in llmb's summary.json"),
    (
        "--timeline-itl-thresholds",
        "the per-request records in llmb's records.jsonl",
    ),
    ("--lora-modules", "--model with one adapter's name"),
    ("--lora-assignment", "--model with one adapter's name"),
    (
        "--use-beam-search",
        "--extra-body '{\"use_beam_search\": true}'",
    ),
    (
        "--request-id-prefix",
        "--header for a fixed header (llmb sends no per-request id)",
    ),
    (
        "--self-timed",
        "--request-rate (trace timestamps are not in llmb yet)",
    ),
    (
        "--no-self-timed",
        "--request-rate (trace timestamps are not in llmb yet)",
    ),
    (
        "--chat-template-kwargs",
        "--extra-body '{\"chat_template_kwargs\": {...}}'",
    ),
    (
        "--skip-tokenizer-init",
        "--tokenizer (llmb always counts tokens)",
    ),
    (
        "--skip-chat-template",
        "--backend openai-chat (the server applies its template)",
    ),
    (
        "--enable-multimodal-chat",
        "text prompts (llmb sends no images)",
    ),
    ("--config", "the options themselves on the command line"),
];

/// Rewrites `vllm bench serve` spellings in `argv` (after `bench serve`) as vLLM's parser
/// does: `_` becomes `-` in option names (`--num_prompts=5` too). Refused options fail here
/// with their hint.
///
/// # Errors
/// One line naming a refused option and what to use instead.
pub fn normalize(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let is_serve =
        argv.get(1).is_some_and(|a| a == "bench") && argv.get(2).is_some_and(|a| a == "serve");
    if !is_serve {
        return Ok(argv);
    }
    argv.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            let Some(s) = arg.to_str().filter(|s| i > 2 && s.starts_with("--")) else {
                return Ok(arg);
            };
            let (name, value) = match s.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (s, None),
            };
            let name = format!("--{}", name[2..].replace('_', "-"));
            if let Some((_, hint)) = REFUSED.iter().find(|(n, _)| *n == name) {
                return Err(format!(
                    "{name} (vllm bench serve) is not supported by llmb; use {hint}"
                ));
            }
            Ok(OsString::from(match value {
                Some(v) => format!("{name}={v}"),
                None => name,
            }))
        })
        .collect()
}

fn split_pairs(list: &[String], sep: char, what: &str) -> anyhow::Result<Vec<(String, String)>> {
    list.iter()
        .map(|item| {
            item.split_once(sep)
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| invalid(format!("{what} `{item}` must be KEY{sep}VALUE")))
        })
        .collect()
}

impl VllmServeArgs {
    /// The run these options describe, vLLM's defaults where they were not given.
    ///
    /// # Errors
    /// An option llmb cannot honour, or a malformed value: one line.
    pub fn into_settings(self) -> anyhow::Result<BenchSettings> {
        let endpoint = match (self.backend.as_str(), self.endpoint.as_deref()) {
            ("openai" | "vllm", None) => Endpoint::Completions,
            ("openai-chat", None) => Endpoint::Chat,
            ("openai" | "vllm" | "openai-chat", Some(p)) if p.ends_with("/chat/completions") => {
                Endpoint::Chat
            }
            ("openai" | "vllm" | "openai-chat", Some(p)) if p.ends_with("/completions") => {
                Endpoint::Completions
            }
            ("openai" | "vllm" | "openai-chat", Some(p)) => {
                return Err(invalid(format!(
                    "--endpoint {p} is not a generation route llmb benchmarks; use /v1/completions or /v1/chat/completions"
                )))
            }
            (b, _) => {
                return Err(invalid(format!(
                    "--backend {b} is not supported by llmb; use --backend openai (completions) or openai-chat (chat)"
                )))
            }
        };
        if self.dataset_name != "random" {
            return Err(invalid(format!(
                "--dataset-name {} is not supported by llmb yet; use --dataset-name random, or llmb bench --dataset FILE.jsonl for your own prompts",
                self.dataset_name
            )));
        }
        let ratio: f64 = self.random_range_ratio.trim().parse().map_err(|_| {
            invalid(format!(
                "--random-range-ratio `{}`: llmb takes one number here",
                self.random_range_ratio
            ))
        })?;
        if ratio != 0.0 {
            return Err(invalid(
                "--random-range-ratio other than 0 is not supported by llmb yet; use llmb bench --isl-stddev/--osl-stddev for spread lengths",
            ));
        }
        if self.random_prefix_len != 0 {
            return Err(invalid(
                "--random-prefix-len is not supported by llmb yet; leave it at 0",
            ));
        }
        if self.tokenizer_mode != "auto" {
            return Err(invalid(format!(
                "--tokenizer-mode {} is not supported by llmb; leave it at auto",
                self.tokenizer_mode
            )));
        }
        if self.ready_check_timeout_sec != 0 {
            return Err(invalid(
                "--ready-check-timeout-sec is not supported by llmb (it checks /v1/models once); start the run when the server is up, or leave it at 0",
            ));
        }
        if self.probe_request_rate != 0.0 {
            return Err(invalid(
                "--probe-request-rate is not supported by llmb; leave it at 0",
            ));
        }
        if self.num_prompts <= 0 {
            return Err(invalid("--num-prompts must be at least 1"));
        }
        let url = match (self.base_url, self.host, self.port) {
            (Some(u), _, _) => Some(u),
            (None, None, None) => None,
            (None, h, p) => Some(format!(
                "http://{}:{}",
                h.as_deref().unwrap_or("127.0.0.1"),
                p.unwrap_or(8000)
            )),
        };
        let concurrency = match self.max_concurrency {
            None => -1,
            Some(c) if c > 0 => c,
            Some(c) => {
                return Err(invalid(format!(
                    "--max-concurrency {c}: give a positive number"
                )))
            }
        };
        let mut body = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                body.insert(k.to_owned(), v);
            }
        };
        put("top_p", self.top_p.map(Value::from));
        put("top_k", self.top_k.map(Value::from));
        put("min_p", self.min_p.map(Value::from));
        put("temperature", self.temperature.map(Value::from));
        put("frequency_penalty", self.frequency_penalty.map(Value::from));
        put("presence_penalty", self.presence_penalty.map(Value::from));
        put(
            "repetition_penalty",
            self.repetition_penalty.map(Value::from),
        );
        put("logprobs", self.logprobs.map(Value::from));
        if let Some(extra) = &self.extra_body {
            let v: Value = serde_json::from_str(extra)
                .map_err(|e| invalid(format!("--extra-body is not JSON: {e}")))?;
            let Value::Object(m) = v else {
                return Err(invalid("--extra-body must be a JSON object"));
            };
            body.extend(m);
        }
        let metrics = self
            .percentile_metrics
            .split(',')
            .map(|m| {
                VllmMetric::parse(m).ok_or_else(|| {
                    invalid(format!(
                        "--percentile-metrics: `{m}` is not one llmb reports; use ttft, tpot, itl or e2el"
                    ))
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let percentiles = self
            .metric_percentiles
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| (0.0..=100.0).contains(v))
                    .ok_or_else(|| {
                        invalid(format!(
                            "--metric-percentiles: `{p}` is not a percentile (0 to 100)"
                        ))
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let goodput = split_pairs(&self.goodput, ':', "--goodput")?
            .into_iter()
            .map(|(k, v)| {
                let metric = VllmMetric::parse(&k)
                    .filter(|m| *m != VllmMetric::Itl)
                    .ok_or_else(|| {
                        invalid(format!("--goodput: `{k}` is not ttft, tpot or e2el"))
                    })?;
                let ms: f64 = v.parse().ok().filter(|x: &f64| *x >= 0.0).ok_or_else(|| {
                    invalid(format!("--goodput {k}:{v}: give a number of ms, 0 or more"))
                })?;
                Ok(VllmSlo { metric, ms })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let headers = split_pairs(&self.header, '=', "--header")?
            .into_iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        // vLLM's tokenizer defaults to the model id: use it when the local Hugging Face
        // cache holds it (else the built-in one, as for any llmb run).
        let tokenizer = self.tokenizer.clone().map(PathBuf::from).or_else(|| {
            let id = PathBuf::from(self.model.as_deref()?);
            llmb_tokenizer::hub::resolve(&id, &llmb_tokenizer::hub::cache_dirs())
                .is_ok()
                .then_some(id)
        });
        let isl = self.input_len.unwrap_or(self.random_input_len);
        let osl = self.output_len.unwrap_or(self.random_output_len);
        let vllm = VllmOutput {
            backend: self.backend,
            label: self.label.clone(),
            num_prompts: self.num_prompts as u64,
            save_result: self.save_result,
            save_detailed: self.save_detailed,
            append_result: self.append_result,
            result_dir: self.result_dir,
            result_filename: self.result_filename,
            metadata: split_pairs(&self.metadata, '=', "--metadata")?,
            percentile_metrics: metrics,
            metric_percentiles: percentiles,
            goodput,
            tokenizer_id: self.tokenizer.clone(),
            disable_tqdm: self.disable_tqdm,
        };
        Ok(BenchSettings {
            url,
            endpoint,
            model: self.served_model_name.or(self.model),
            headers,
            extra_body: (!body.is_empty()).then(|| Value::Object(body).to_string()),
            server: ServerKind::Vllm,
            // vLLM's client gives a request six hours.
            timeout: std::time::Duration::from_secs(6 * 3600),
            insecure: self.insecure,
            tokenizer,
            isl,
            osl,
            seed: self.seed,
            // vLLM forces ignore_eos for the random dataset.
            ignore_eos: true,
            concurrency: vec![concurrency],
            request_rate: self.request_rate.is_finite().then_some(self.request_rate),
            burstiness: self.burstiness,
            num_requests: Some(self.num_prompts as u64),
            warmup: self.num_warmups,
            label: self.label,
            format: ReportFormat::Vllm,
            vllm: Some(vllm),
            ..BenchSettings::default()
        })
    }
}
