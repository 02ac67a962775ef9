//! `llmb profile`: the options of `aiperf profile` (AIPerf 0.13.0, aiperf/config/flags;
//! Apache-2.0) under AIPerf's names, defaults and meanings, turned into the one
//! `BenchSettings` every run uses plus the files AIPerf writes (`AiperfOutput`). Options
//! whose meaning llmb does not have are refused in one line naming what to use instead.

use std::path::PathBuf;

use clap::Args;
use llmb_settings::aiperf::AiperfOutput;
use llmb_settings::{invalid, BenchSettings, Endpoint, ServerKind};
use serde_json::{json, Map, Value};

/// `llmb profile` arguments: `aiperf profile`'s.
#[derive(Debug, Args)]
#[command(
    after_help = "Any `aiperf profile` command line within what llmb supports runs with `aiperf` \
changed to `llmb`. Without --url the embedded engine is started (AIPerf would assume \
http://localhost:8000: pass --url localhost:8000 for that).

Examples:
  llmb profile -m Qwen/Qwen3-0.6B --endpoint-type chat --streaming --concurrency 8 \\
      --request-count 64 --synthetic-input-tokens-mean 500 --output-tokens-mean 200
  llmb profile -m m --url localhost:8000 --streaming --request-rate 20 --request-count 200 \\
      --output-tokens-mean 128 --goodput 'time_to_first_token:100 inter_token_latency:10'

Writes, in artifacts/<model>-openai-<endpoint type>-<concurrency N|request_rateR>/ (or
--artifact-dir as given): profile_export_aiperf.json, profile_export_aiperf.csv,
profile_export.jsonl and inputs.json, by AIPerf's definitions; llmb's own files go to results/.
Refused with a hint: other endpoint types, datasets from files, multi-turn, fixed schedules,
gamma arrivals, prefix prompts, --slice-duration, several models or URLs."
)]
pub struct AiperfProfileArgs {
    /// Model name(s); the first is benchmarked (several: refused).
    #[arg(
        short = 'm',
        long = "model",
        visible_alias = "model-names",
        value_delimiter = ','
    )]
    pub model: Vec<String>,
    /// Server URL (http:// is added when no scheme is given).
    #[arg(short = 'u', long)]
    pub url: Vec<String>,
    /// chat (default) or completions.
    #[arg(long, default_value = "chat")]
    pub endpoint_type: String,
    /// Custom path (must be the endpoint type's own route).
    #[arg(long, visible_alias = "custom-endpoint")]
    pub endpoint: Option<String>,
    /// Stream responses (TTFT and ITL need it).
    #[arg(long)]
    pub streaming: bool,
    /// Requests in flight (default 1 without --request-rate).
    #[arg(long)]
    pub concurrency: Option<i64>,
    /// Requests per second (Poisson arrivals).
    #[arg(long)]
    pub request_rate: Option<f64>,
    /// Arrival pattern with --request-rate: poisson or constant.
    #[arg(long, visible_alias = "arrival-pattern", default_value = "poisson")]
    pub request_rate_mode: String,
    /// Requests to send (default 10).
    #[arg(long, visible_alias = "num-requests")]
    pub request_count: Option<u64>,
    /// Warm-up requests before the measured ones.
    #[arg(long, visible_alias = "num-warmup-requests")]
    pub warmup_request_count: Option<u64>,
    /// Stop sending after this many seconds.
    #[arg(long)]
    pub benchmark_duration: Option<f64>,
    /// Seconds to wait for in-flight requests after --benchmark-duration.
    #[arg(long, default_value_t = 30.0)]
    pub benchmark_grace_period: f64,
    /// Prompt tokens.
    #[arg(long, visible_aliases = ["prompt-input-tokens-mean", "isl"], default_value_t = 550)]
    pub synthetic_input_tokens_mean: i64,
    /// Spread of prompt tokens.
    #[arg(long, visible_aliases = ["prompt-input-tokens-stddev", "isl-stddev"], default_value_t = 0.0)]
    pub synthetic_input_tokens_stddev: f64,
    /// Output tokens asked for (llmb needs it: it always asks for an exact length).
    #[arg(long, visible_aliases = ["prompt-output-tokens-mean", "osl"])]
    pub output_tokens_mean: Option<i64>,
    /// Spread of output tokens.
    #[arg(long, visible_aliases = ["prompt-output-tokens-stddev", "osl-stddev"], default_value_t = 0.0)]
    pub output_tokens_stddev: f64,
    /// Extra body fields key:value (typed), repeatable, or a JSON object.
    #[arg(long)]
    pub extra_inputs: Vec<String>,
    /// Extra header Name:Value, repeatable.
    #[arg(short = 'H', long)]
    pub header: Vec<String>,
    /// API key, sent as a bearer token (never saved).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Tokenizer: tokenizer.json, a model folder or a model id in the Hugging Face cache.
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Seed of the prompts.
    #[arg(long)]
    pub random_seed: Option<u64>,
    /// Folder of the exports (default: artifacts/<name>/).
    #[arg(long, visible_alias = "output-artifact-dir")]
    pub artifact_dir: Option<PathBuf>,
    /// summary (JSON and CSV) or records (also profile_export.jsonl, the default).
    #[arg(
        long,
        visible_alias = "profile-export-level",
        default_value = "records"
    )]
    pub export_level: String,
    /// SLOs 'tag:value ...' in each metric's display unit.
    #[arg(long)]
    pub goodput: Option<String>,
    /// Progress display: dashboard, simple or none (llmb prints one progress line).
    #[arg(long, visible_alias = "ui", default_value = "dashboard")]
    pub ui_type: String,
    /// Do not scrape the server's /metrics.
    #[arg(long)]
    pub no_server_metrics: bool,
    /// Accepted: llmb collects no GPU telemetry.
    #[arg(long)]
    pub no_gpu_telemetry: bool,
}

/// AIPerf options llmb does not honour, with what to use instead.
pub const REFUSED: &[(&str, &str)] = &[
    ("--input-file", "llmb bench --dataset FILE.jsonl"),
    ("--custom-dataset-type", "llmb bench --dataset FILE.jsonl"),
    (
        "--public-dataset",
        "llmb bench --dataset FILE.jsonl (ShareGPT is not in llmb yet)",
    ),
    (
        "--fixed-schedule",
        "--request-rate (trace timestamps are not in llmb yet)",
    ),
    (
        "--conversation-num",
        "--request-count (multi-turn sessions are not in llmb yet)",
    ),
    (
        "--num-conversations",
        "--request-count (multi-turn sessions are not in llmb yet)",
    ),
    (
        "--num-sessions",
        "--request-count (multi-turn sessions are not in llmb yet)",
    ),
    (
        "--conversation-turn-mean",
        "single-turn requests (multi-turn sessions are not in llmb yet)",
    ),
    (
        "--slice-duration",
        "the per-request records in profile_export.jsonl (time slices are not in llmb yet)",
    ),
    (
        "--prefix-prompt-length",
        "--synthetic-input-tokens-mean (shared prefixes are not in llmb yet)",
    ),
    (
        "--num-prefix-prompts",
        "--synthetic-input-tokens-mean (shared prefixes are not in llmb yet)",
    ),
    ("--prefill-concurrency", "--concurrency"),
    ("--warmup-duration", "--warmup-request-count"),
    ("--request-cancellation-rate", "llmb bench --timeout"),
    ("--num-profile-runs", "llmb bench --repeats"),
    ("--arrival-smoothness", "llmb bench --burstiness"),
    ("--user-centric-rate", "--request-rate"),
];

/// Rewrites nothing; refuses [`REFUSED`] options after `profile` with their hint.
///
/// # Errors
/// One line naming the option and what to use instead.
pub fn check(argv: &[std::ffi::OsString]) -> Result<(), String> {
    if argv.get(1).is_none_or(|a| a != "profile") {
        return Ok(());
    }
    for a in argv.iter().skip(2).filter_map(|a| a.to_str()) {
        let name = a.split_once('=').map_or(a, |(n, _)| n);
        if let Some((_, hint)) = REFUSED.iter().find(|(n, _)| *n == name) {
            return Err(format!(
                "{name} (aiperf profile) is not supported by llmb; use {hint}"
            ));
        }
    }
    Ok(())
}

/// A typed `--extra-inputs` value, as AIPerf coerces it.
fn typed(v: &str) -> Value {
    serde_json::from_str::<Value>(v)
        .ok()
        .filter(|x| !x.is_object() && !x.is_array())
        .unwrap_or_else(|| Value::from(v))
}

impl AiperfProfileArgs {
    /// The run these options describe, AIPerf's defaults where they were not given;
    /// `argv` is the command line as typed (for `run_info.cli_command`).
    ///
    /// # Errors
    /// An option llmb cannot honour, or a malformed value: one line.
    pub fn into_settings(self, argv: &[String]) -> anyhow::Result<BenchSettings> {
        let model =
            match self.model.as_slice() {
                [m] => m.clone(),
                [] => return Err(invalid("--model is required (aiperf profile needs one)")),
                _ => return Err(invalid(
                    "several --model names are not supported by llmb; benchmark one model per run",
                )),
            };
        let url = match self.url.as_slice() {
            [] => None,
            [u] if u.contains("://") => Some(u.clone()),
            [u] => Some(format!("http://{u}")),
            _ => {
                return Err(invalid(
                    "several --url values are not supported by llmb; give one",
                ))
            }
        };
        let endpoint = match self.endpoint_type.to_lowercase().as_str() {
            "chat" => Endpoint::Chat,
            "completions" => Endpoint::Completions,
            t => {
                return Err(invalid(format!(
                    "--endpoint-type {t} is not supported by llmb; use chat or completions"
                )))
            }
        };
        if let Some(p) = &self.endpoint {
            let own = match endpoint {
                Endpoint::Chat => "/v1/chat/completions",
                Endpoint::Completions => "/v1/completions",
            };
            if p.trim_end_matches('/') != own {
                return Err(invalid(format!(
                    "--endpoint {p} is not supported by llmb; use {own} for --endpoint-type {}",
                    self.endpoint_type
                )));
            }
        }
        let burstiness = match self.request_rate_mode.to_lowercase().as_str() {
            "poisson" => 1.0,
            "constant" => f64::INFINITY,
            m => {
                return Err(invalid(format!(
                    "--request-rate-mode {m} is not supported by llmb; use poisson or constant"
                )))
            }
        };
        let Some(osl) = self.output_tokens_mean else {
            return Err(invalid(
                "llmb always asks for an exact output length; use --output-tokens-mean N",
            ));
        };
        let records = match self.export_level.as_str() {
            "records" => true,
            "summary" => false,
            l => {
                return Err(invalid(format!(
                    "--export-level {l} is not supported by llmb; use records or summary"
                )))
            }
        };
        let goodput = self
            .goodput
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(|kv| {
                let (k, v) = kv
                    .split_once(':')
                    .ok_or_else(|| invalid(format!("--goodput `{kv}` must be tag:value")))?;
                let v: f64 = v
                    .parse()
                    .map_err(|_| invalid(format!("--goodput {kv}: the value must be a number")))?;
                if !llmb_metrics::aiperf::RECORD_TAGS.iter().any(|t| t.tag == k) {
                    return Err(invalid(format!(
                        "--goodput: `{k}` is not a metric llmb reports; use time_to_first_token, inter_token_latency, request_latency or output_token_throughput_per_user"
                    )));
                }
                Ok((k.to_owned(), v))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut extra = Map::new();
        for e in &self.extra_inputs {
            match serde_json::from_str::<Value>(e) {
                Ok(Value::Object(m)) => extra.extend(m),
                _ => {
                    let (k, v) = e.split_once(':').ok_or_else(|| {
                        invalid(format!(
                            "--extra-inputs `{e}` must be key:value or a JSON object"
                        ))
                    })?;
                    extra.insert(k.to_owned(), typed(v));
                }
            }
        }
        let mut headers: Vec<String> = self.header.clone();
        if let Some(k) = &self.api_key {
            headers.push(format!("Authorization:Bearer {k}"));
        }
        let concurrency = match (self.concurrency, self.request_rate) {
            (Some(c), _) if c > 0 => c,
            (Some(c), _) => {
                return Err(invalid(format!(
                    "--concurrency {c}: give a positive number"
                )))
            }
            (None, Some(_)) => -1,
            (None, None) => 1,
        };
        let count = match (self.request_count, self.benchmark_duration) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) => Some(10),
        };
        // The artifact folder: AIPerf's name under artifacts/ unless given.
        let stimulus = match (self.concurrency, self.request_rate) {
            (_, None) => format!("concurrency{concurrency}"),
            (None, Some(r)) => format!("request_rate{}", llmb_report::py_json::float(r)),
            (Some(c), Some(r)) => {
                format!(
                    "concurrency{c}-request_rate{}",
                    llmb_report::py_json::float(r)
                )
            }
        };
        let artifact_dir = self.artifact_dir.clone().unwrap_or_else(|| {
            PathBuf::from("artifacts").join(format!(
                "{}-openai-{}-{stimulus}",
                model.replace('/', "_"),
                self.endpoint_type.to_lowercase()
            ))
        });
        let abs = std::env::current_dir().map_or(artifact_dir.clone(), |d| d.join(&artifact_dir));
        // input_config as AIPerf 0.13.0 writes it: only what was set or derived.
        let mut endpoint_cfg = Map::new();
        endpoint_cfg.insert("urls".into(), json!([url.clone().unwrap_or_default()]));
        endpoint_cfg.insert("type".into(), json!(self.endpoint_type.to_lowercase()));
        if self.streaming {
            endpoint_cfg.insert("streaming".into(), json!(true));
        }
        if self.api_key.is_some() {
            endpoint_cfg.insert("api_key".into(), json!("<redacted>"));
        }
        if !self.header.is_empty() {
            // Header values may be credentials: names only, values redacted as AIPerf
            // redacts the API key.
            let h: Map<String, Value> = self
                .header
                .iter()
                .filter_map(|h| h.split_once(':'))
                .map(|(k, _)| (k.trim().to_owned(), json!("<redacted>")))
                .collect();
            endpoint_cfg.insert("headers".into(), Value::Object(h));
        }
        if !extra.is_empty() {
            endpoint_cfg.insert("extra".into(), Value::Object(extra.clone()));
        }
        let mut isl = json!({"mean": self.synthetic_input_tokens_mean as f64});
        if self.synthetic_input_tokens_stddev != 0.0 {
            isl["stddev"] = json!(self.synthetic_input_tokens_stddev);
        }
        let mut osl_cfg = json!({"mean": osl as f64});
        if self.output_tokens_stddev != 0.0 {
            osl_cfg["stddev"] = json!(self.output_tokens_stddev);
        }
        let mut dataset =
            json!({"name": "main", "type": "synthetic", "entries": count.unwrap_or(100)});
        if let Some(s) = self.random_seed {
            dataset["random_seed"] = json!(s);
        }
        dataset["prompts"] = json!({"isl": isl, "osl": osl_cfg});
        let phase_type = match self.request_rate {
            Some(_) if burstiness.is_infinite() => "constant",
            Some(_) => "poisson",
            None => "concurrency",
        };
        let phase = |name: &str, requests: Option<u64>, main: bool| {
            let mut p = json!({"name": name, "kind": name, "type": phase_type});
            if !main {
                p["exclude_from_results"] = json!(true);
            }
            if let Some(n) = requests {
                p["requests"] = json!(n);
            }
            if main {
                if let Some(d) = self.benchmark_duration {
                    p["duration"] = json!(d);
                    p["grace_period"] = json!(self.benchmark_grace_period);
                }
            }
            if self.concurrency.is_some() || self.request_rate.is_none() {
                p["concurrency"] = json!(concurrency);
            }
            if let Some(r) = self.request_rate {
                p["rate"] = json!(r);
            }
            p
        };
        let mut phases = Vec::new();
        if let Some(w) = self.warmup_request_count {
            phases.push(phase("warmup", Some(w), false));
        }
        phases.push(phase("profiling", count, true));
        let mut input_config = json!({
            "models": {"items": [{"name": model}]},
            "endpoint": endpoint_cfg,
            "datasets": [dataset],
            "phases": phases,
            "artifacts": {"dir": abs.display().to_string(), "auto_plot": false, "plot_required": false},
        });
        if let Some(t) = &self.tokenizer {
            input_config["tokenizer"] = json!({"name": t});
        }
        if !goodput.is_empty() {
            input_config["slos"] =
                Value::Object(goodput.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
        }
        input_config["gpu_telemetry"] = json!({"enabled": false});
        input_config["server_metrics"] =
            json!({"enabled": !self.no_server_metrics, "urls": [], "formats": ["json", "csv"]});
        input_config["network_latency"] = json!({"enabled": false});
        input_config["runtime"] = json!({"ui": self.ui_type});
        let cli_command = redact_command(argv);
        Ok(BenchSettings {
            url,
            endpoint,
            model: Some(model),
            headers,
            extra_body: (!extra.is_empty()).then(|| Value::Object(extra).to_string()),
            server: ServerKind::Generic,
            // AIPerf's request timeout: six hours.
            timeout: std::time::Duration::from_secs(21_600),
            server_metrics: !self.no_server_metrics,
            tokenizer: self.tokenizer.map(PathBuf::from),
            isl: self.synthetic_input_tokens_mean,
            osl,
            isl_stddev: self.synthetic_input_tokens_stddev,
            osl_stddev: self.output_tokens_stddev,
            seed: self.random_seed.unwrap_or(0),
            stream: self.streaming,
            concurrency: vec![concurrency],
            request_rate: self.request_rate,
            burstiness,
            num_requests: count,
            warmup: self.warmup_request_count.unwrap_or(0),
            duration: self
                .benchmark_duration
                .map(std::time::Duration::from_secs_f64),
            grace: std::time::Duration::from_secs_f64(self.benchmark_grace_period.max(0.0)),
            // AIPerf prints a table of the same metrics: GenAI-Perf's is the closest.
            format: llmb_settings::ReportFormat::GenaiPerf,
            aiperf: Some(AiperfOutput {
                artifact_dir,
                records,
                goodput,
                input_config,
                cli_command,
                random_seed: self.random_seed,
            }),
            ..BenchSettings::default()
        })
    }
}

/// The command line as AIPerf records it (`aiperf profile ...`), the API key and header
/// values (`--api-key K` and `--api-key=K` alike) replaced by `<redacted>`.
fn redact_command(argv: &[String]) -> String {
    let mut out = vec!["aiperf".to_owned(), "profile".to_owned()];
    let mut hide_next = false;
    for a in argv.iter().skip(2) {
        if hide_next {
            out.push("'<redacted>'".into());
            hide_next = false;
            continue;
        }
        if let Some((flag, _)) = a
            .split_once('=')
            .filter(|(f, _)| matches!(*f, "--api-key" | "-H" | "--header"))
        {
            out.push(format!("{flag}='<redacted>'"));
        } else if a.starts_with('-') {
            hide_next = matches!(a.as_str(), "--api-key" | "-H" | "--header");
            out.push(a.clone());
        } else {
            out.push(format!("'{a}'"));
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_recorded_command() {
        let argv: Vec<String> = [
            "llmb",
            "profile",
            "-m",
            "m",
            "--api-key",
            "k1",
            "--api-key=k2",
            "-H",
            "X-Auth:k3",
            "--header=X-Auth:k4",
            "--streaming",
        ]
        .map(String::from)
        .to_vec();
        let c = redact_command(&argv);
        assert_eq!(
            c,
            "aiperf profile -m 'm' --api-key '<redacted>' --api-key='<redacted>' -H '<redacted>' --header='<redacted>' --streaming"
        );
    }
}
