//! What one `llmb bench` run is, as one typed value: the target, the workload and its
//! lengths, the load shape, the GPU accounting, the pass/fail criteria and the outputs.
//!
//! The command line resolves into it (`llmb bench`), a recipe's plan holds one per load step
//! (`plan.json`), and `llmb run-plan` hands that same value to the bench it starts, so the
//! plan carries data, not argv. Secrets never enter it: header values and the API key are
//! read from the command line and the environment when the run starts.
#![warn(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use llmb_protocol::{Endpoint, ServerKind};

pub mod aiperf;
pub mod vllm;

/// The exit codes of `llmb` commands: a contract between processes (`llmb run-plan` reads
/// the exit code of the `llmb bench` it starts) and with scripts.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// An error other than bad input.
    pub const ERROR: u8 = 1;
    /// Bad input ([`Invalid`](super::Invalid)).
    pub const INVALID: u8 = 2;
    /// `--fail-if` held, or more than half of the requests failed.
    pub const THRESHOLD: u8 = 3;
    /// The client could not keep up: results written, flagged invalid.
    pub const CLIENT_BOUND: u8 = 4;
    /// Interrupted by SIGINT (128 + 2).
    pub const INTERRUPTED: u8 = 130;
    /// Stopped by SIGTERM (128 + 15).
    pub const TERMINATED: u8 = 143;
}

/// Settings the user must change, said in one line that names the option and the fix.
/// Every command maps it to exit code 2 (any other error is 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// An [`Invalid`] as an `anyhow::Error`, for `?` in code that returns `anyhow::Result`.
pub fn invalid(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Invalid(msg.into()))
}

/// True when `e` (or any error in its chain) is an [`Invalid`].
pub fn is_invalid(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Invalid>())
}

/// Which report goes to stdout (every file is written either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportFormat {
    /// trtllm-bench's PERFORMANCE OVERVIEW.
    #[default]
    Trtllm,
    /// benchmark_serving's Serving Benchmark Result.
    Serving,
    /// GenAI-Perf's CSV table.
    GenaiPerf,
    /// `vllm bench serve`'s printed block (its own metric definitions).
    Vllm,
    /// All of them.
    All,
}

/// One benchmark run. Field names follow `llmb bench`'s options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchSettings {
    // ---- target ----
    /// Base URL; `None` starts the embedded engine (a plan fills it in when the server is up).
    pub url: Option<String>,
    /// Route.
    pub endpoint: Endpoint,
    /// Model name (`None`: the first of GET /v1/models).
    pub model: Option<String>,
    /// Environment variable holding the API key (its value is never stored).
    pub api_key_env: String,
    /// Extra headers `K:V`: given on the command line only, never serialised.
    #[serde(skip)]
    pub headers: Vec<String>,
    /// JSON object merged into every request body.
    pub extra_body: Option<String>,
    /// Server family: which output-length fields are sent.
    pub server: ServerKind,
    /// Per-request timeout.
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// Stop the run when more than this share of the last 100 requests failed (1: never).
    #[serde(default = "default_max_error_rate")]
    pub max_error_rate: f64,
    /// A streamed response that has started is cut when nothing comes for this long.
    #[serde(with = "secs", default = "default_idle_timeout")]
    pub idle_timeout: Duration,
    /// Scrape the server's Prometheus `/metrics` while the load runs.
    pub server_metrics: bool,
    /// Skip TLS certificate verification of an `https` server (`--insecure`).
    #[serde(default)]
    pub insecure: bool,

    // ---- workload and lengths ----
    /// Tokenizer file or folder (`None`: the built-in one).
    pub tokenizer: Option<PathBuf>,
    /// Input tokens.
    pub isl: i64,
    /// Output tokens.
    pub osl: i64,
    /// Standard deviation of input lengths.
    pub isl_stddev: f64,
    /// Standard deviation of output lengths.
    pub osl_stddev: f64,
    /// Use cases `NAME:ISL/OSL`, each a point of its own.
    pub use_cases: Vec<String>,
    /// A JSONL dataset instead of synthetic prompts.
    pub dataset: Option<PathBuf>,
    /// Seed of prompts and schedule.
    pub seed: u64,
    /// Completions: prompts as token ids.
    pub prompt_token_ids: bool,
    /// Force output lengths (`ignore_eos`, `min_tokens`).
    pub ignore_eos: bool,
    /// Stream responses.
    pub stream: bool,

    // ---- load shape ----
    /// Concurrency per point: N, or -1 for no client limit.
    pub concurrency: Vec<i64>,
    /// Requests per second (`None`: as fast as the concurrency allows).
    pub request_rate: Option<f64>,
    /// Gamma shape of the gaps with a rate (1 = Poisson, infinite = constant gaps).
    #[serde(with = "shape")]
    pub burstiness: f64,
    /// Measured requests per point.
    pub num_requests: Option<u64>,
    /// Warm-up requests, left out of the metrics.
    pub warmup: u64,
    /// Requests = concurrency × K.
    pub multi_round: Option<u64>,
    /// Stop issuing after this long.
    #[serde(with = "opt_secs")]
    pub duration: Option<Duration>,
    /// After an interrupt, how long in-flight requests may finish.
    #[serde(with = "secs")]
    pub grace: Duration,
    /// Client processes sharing one schedule.
    pub workers: u32,

    // ---- accounting and criteria ----
    /// GPUs behind the server.
    pub gpus: u64,
    /// Disaggregated: GPUs of the decode servers.
    pub decode_gpus: Option<u64>,
    /// SLOs for goodput (`ttft_ms=500,tpot_ms=50`).
    pub slo: Option<String>,
    /// Exit-3 conditions (`p99(ttft_ms)>500`).
    pub fail_if: Option<String>,

    // ---- outputs ----
    /// Result folder (`None`: results/<stamp>-<label>).
    pub output_dir: Option<PathBuf>,
    /// Label of the default result folder.
    pub label: Option<String>,
    /// Report on stdout.
    pub format: ReportFormat,
    /// No progress and no report on stdout.
    pub quiet: bool,
    /// A `vllm bench serve` command line's outputs (`llmb bench serve`).
    #[serde(default)]
    pub vllm: Option<vllm::VllmOutput>,
    /// An `aiperf profile` command line's outputs (`llmb profile`).
    #[serde(default)]
    pub aiperf: Option<aiperf::AiperfOutput>,
}

impl Default for BenchSettings {
    /// `llmb bench` with no options.
    fn default() -> Self {
        BenchSettings {
            url: None,
            endpoint: Endpoint::Chat,
            model: None,
            api_key_env: "OPENAI_API_KEY".into(),
            headers: Vec::new(),
            extra_body: None,
            server: ServerKind::Generic,
            timeout: Duration::from_secs(600),
            idle_timeout: default_idle_timeout(),
            max_error_rate: default_max_error_rate(),
            server_metrics: true,
            insecure: false,
            tokenizer: None,
            isl: 128,
            osl: 128,
            isl_stddev: 0.0,
            osl_stddev: 0.0,
            use_cases: Vec::new(),
            dataset: None,
            seed: 0,
            prompt_token_ids: false,
            ignore_eos: true,
            stream: true,
            concurrency: vec![32],
            request_rate: None,
            burstiness: 1.0,
            num_requests: None,
            warmup: 0,
            multi_round: None,
            duration: None,
            grace: Duration::from_secs(5),
            workers: 1,
            gpus: 1,
            decode_gpus: None,
            slo: None,
            fail_if: None,
            output_dir: None,
            label: None,
            format: ReportFormat::Trtllm,
            quiet: false,
            vllm: None,
            aiperf: None,
        }
    }
}

impl BenchSettings {
    /// Reads settings written by [`BenchSettings::to_json`]; `source` names them in errors.
    ///
    /// # Errors
    /// Text that is not a settings document, with serde's line and column.
    pub fn from_json(text: &str, source: &str) -> Result<BenchSettings, String> {
        serde_json::from_str(text).map_err(|e| format!("{source}: not llmb bench settings ({e})"))
    }

    /// Pretty JSON (headers are never included).
    pub fn to_json(&self) -> String {
        // Strings, numbers, paths and enums only: serialisation cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Default share of failed requests that stops a run.
pub fn default_max_error_rate() -> f64 {
    0.5
}

/// Default idle timeout of a started stream: well under a minute, far above any gap a
/// healthy engine leaves between tokens.
pub fn default_idle_timeout() -> Duration {
    Duration::from_secs(30)
}

/// A `Duration` as seconds (`f64`).
/// A gamma shape in JSON: a number, or the string `"inf"` for constant gaps (JSON has no
/// infinity, and `null` would not read back).
pub mod shape {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a finite shape as a number, an infinite one as `"inf"`.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_infinite() {
            s.serialize_str("inf")
        } else {
            s.serialize_f64(*v)
        }
    }

    /// Reads a number or `"inf"`.
    ///
    /// # Errors
    /// Anything else.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Number(f64),
            Text(String),
        }
        match Shape::deserialize(d)? {
            Shape::Number(n) => Ok(n),
            Shape::Text(t) if t == "inf" => Ok(f64::INFINITY),
            Shape::Text(t) => Err(serde::de::Error::custom(format!(
                "burstiness `{t}`: give a number or \"inf\""
            ))),
        }
    }

    /// As a JSON value for result files.
    pub fn to_value(v: f64) -> serde_json::Value {
        if v.is_infinite() {
            "inf".into()
        } else {
            v.into()
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

/// An optional `Duration` as seconds.
mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|v| Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_without_headers() {
        let s = BenchSettings {
            headers: vec!["X-Key: secret".into()],
            duration: Some(Duration::from_millis(1500)),
            concurrency: vec![1, -1],
            ..BenchSettings::default()
        };
        let text = s.to_json();
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("\"duration\": 1.5"), "{text}");
        let back = BenchSettings::from_json(&text, "t").unwrap();
        assert_eq!(
            back,
            BenchSettings {
                headers: vec![],
                ..s
            }
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_the_source() {
        let e = BenchSettings::from_json(r#"{"isl": 1, "nonsense": 2}"#, "step.json").unwrap_err();
        assert!(e.starts_with("step.json: not llmb bench settings"), "{e}");
    }
}
