//! `EngineSpec`: how to start, health-check and stop each engine, as pure data.
//!
//! [`spec`] turns an [`EngineKind`] and the recipe's [`EngineSettings`] into an
//! [`EngineSpec`]: the program and argv, environment, generated config files, readiness
//! probe, Prometheus names of the common quantities, and stop policy. Nothing here spawns
//! a process or opens a socket; the launcher does that with the spec.
//!
//! Paths of generated files in `args` are relative: the launcher writes `files` into the
//! engine's working folder and starts the program there.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod dynamo;
mod llama_cpp;
pub mod metrics_map;
mod nim;
mod sglang;
mod sim;
pub mod telemetry;
mod trtllm_bench;
mod trtllm_serve;
mod vllm;
mod yaml;

pub use dynamo::{cache_transceiver_tokens, moe_backend, split_world, GpuType};
pub use metrics_map::{parse_exposition, CommonSample, PromSample};

/// Which engine (and, for disaggregated serving, which role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// `trtllm-serve`: TensorRT-LLM's OpenAI-compatible server.
    TrtllmServe,
    /// `trtllm-bench throughput`: offline, in-process benchmark (no server).
    TrtllmBench,
    /// An NVIDIA NIM container.
    Nim,
    /// `vllm serve`.
    Vllm,
    /// `python3 -m sglang.launch_server`.
    Sglang,
    /// Dynamo's HTTP frontend (`python3 -m dynamo.frontend`).
    DynamoFrontend,
    /// A Dynamo TensorRT-LLM worker (`python3 -m dynamo.trtllm`).
    DynamoWorker {
        /// Prefill or decode.
        role: DisaggRole,
    },
    /// llama.cpp's `llama-server`.
    LlamaCpp,
    /// The embedded simulated engine (`llmb serve sim`).
    Sim,
    /// NATS with JetStream: Dynamo's message bus.
    Nats,
    /// etcd: Dynamo's discovery store.
    Etcd,
}

/// Role of a worker in disaggregated serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisaggRole {
    /// Context (prefill) worker.
    Prefill,
    /// Generation (decode) worker.
    Decode,
}

impl DisaggRole {
    /// `prefill` or `decode`, as the engines spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prefill => "prefill",
            Self::Decode => "decode",
        }
    }
}

impl EngineKind {
    /// Human name used in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::TrtllmServe => "trtllm-serve",
            Self::TrtllmBench => "trtllm-bench",
            Self::Nim => "NIM",
            Self::Vllm => "vLLM",
            Self::Sglang => "SGLang",
            Self::DynamoFrontend => "Dynamo frontend",
            Self::DynamoWorker {
                role: DisaggRole::Prefill,
            } => "Dynamo prefill worker",
            Self::DynamoWorker {
                role: DisaggRole::Decode,
            } => "Dynamo decode worker",
            Self::LlamaCpp => "llama.cpp",
            Self::Sim => "sim",
            Self::Nats => "NATS",
            Self::Etcd => "etcd",
        }
    }
}

/// Recipe settings an adapter turns into a command line and config files.
///
/// `None` / empty means "leave the engine's default" (adapters omit the flag), except where
/// an adapter needs the value; then [`spec`] returns [`EngineError::Missing`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineSettings {
    /// What to load: a Hugging Face repo id or a local path (a GGUF file for llama.cpp).
    pub model: Option<String>,
    /// The name clients send as `model`; defaults to `model`.
    pub served_name: Option<String>,
    /// Address to listen on.
    pub host: String,
    /// Port to listen on.
    pub port: u16,
    /// Tensor-parallel size.
    pub tp: u32,
    /// Pipeline-parallel size.
    pub pp: u32,
    /// Expert-parallel size.
    pub ep: u32,
    /// Data-parallel size.
    pub dp: u32,
    /// Attention data parallelism (TRT-LLM `enable_attention_dp`, SGLang `--enable-dp-attention`).
    pub attention_dp: bool,
    /// Most requests in one batch.
    pub max_batch_size: Option<u32>,
    /// Most tokens in one engine step.
    pub max_num_tokens: Option<u32>,
    /// Longest sequence (prompt + output).
    pub max_seq_len: Option<u32>,
    /// Fraction of free GPU memory for the KV cache (0 to 1).
    pub kv_cache_fraction: Option<f64>,
    /// Tokens per streamed chunk.
    pub stream_interval: Option<u32>,
    /// CUDA-graph batch sizes to capture.
    pub cuda_graph_batch_sizes: Vec<u32>,
    /// Capture CUDA graphs at all (off: TensorRT-LLM `cuda_graph_config: null` /
    /// `use_cuda_graph: false`, vLLM `--enforce-eager`, SGLang `--disable-cuda-graph`).
    pub cuda_graphs: bool,
    /// Pad batches up to the next captured CUDA-graph size (TensorRT-LLM `enable_padding`).
    pub cuda_graph_padding: bool,
    /// Per-iteration scheduler log (TensorRT-LLM `print_iter_log`).
    pub print_iter_log: bool,
    /// Run the model repository's own code: `None` keeps each engine's default as the seeds
    /// start it (trtllm-serve on, vLLM and SGLang off).
    pub trust_remote_code: Option<bool>,
    /// Free-form engine options. YAML engines (TRT-LLM, Dynamo workers) add them as
    /// top-level keys (the value is written as YAML text); CLI engines (vLLM, SGLang,
    /// llama.cpp, sim) add `--key value` (`--key` alone when the value is empty).
    pub extra: BTreeMap<String, String>,
    /// CPU threads (llama.cpp `-t`).
    pub threads: Option<u32>,
    /// Parallel slots (llama.cpp `-np`); defaults to `max_batch_size`.
    pub slots: Option<u32>,
    /// Container image (NIM).
    pub image: Option<String>,
    /// trtllm-bench: the offline benchmark's inputs.
    pub bench: BenchSettings,
    /// Dynamo: control plane and worker YAML knobs.
    pub dynamo: DynamoSettings,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            model: None,
            served_name: None,
            host: "127.0.0.1".into(),
            port: 8000,
            tp: 1,
            pp: 1,
            ep: 1,
            dp: 1,
            attention_dp: false,
            max_batch_size: None,
            max_num_tokens: None,
            max_seq_len: None,
            kv_cache_fraction: None,
            stream_interval: None,
            cuda_graph_batch_sizes: Vec::new(),
            cuda_graphs: true,
            cuda_graph_padding: true,
            print_iter_log: true,
            trust_remote_code: None,
            extra: BTreeMap::new(),
            threads: None,
            slots: None,
            image: None,
            bench: BenchSettings::default(),
            dynamo: DynamoSettings::default(),
        }
    }
}

/// Inputs of `trtllm-bench throughput`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BenchSettings {
    /// The JSONL dataset (`llmb dataset` writes it).
    pub dataset: Option<String>,
    /// Requests to run.
    pub num_requests: Option<u64>,
    /// Client-side concurrency; `-1` = no limit (trtllm-bench's default).
    pub concurrency: Option<i64>,
    /// Stream tokens (`--streaming`).
    pub streaming: bool,
}

/// Dynamo knobs (reference 4.1 and 4.3).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DynamoSettings {
    /// `ETCD_ENDPOINTS` (host:2379).
    pub etcd_endpoints: Option<String>,
    /// `NATS_SERVER` (`nats://host:4222`).
    pub nats_server: Option<String>,
    /// Workers (prefill + decode) the frontend must list before it is ready.
    pub expected_workers: Option<u32>,
    /// `moe_config.backend` (see [`moe_backend`]).
    pub moe_backend: Option<String>,
    /// `cache_transceiver_config.max_tokens_in_buffer` (see [`cache_transceiver_tokens`]).
    pub cache_transceiver_max_tokens: Option<u32>,
    /// `kv_cache_config.dtype` (e.g. `fp8`); trtllm-serve writes it too.
    pub kv_cache_dtype: Option<String>,
    /// MTP next-n layers; 0 = off.
    pub mtp_size: u32,
    /// EPLB slots; 0 = off.
    pub eplb_slots: u32,
    /// `allreduce_strategy` (e.g. `MNNVL`), decode only.
    pub allreduce_strategy: Option<String>,
}

/// How to start, probe, scrape and stop one engine process.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSpec {
    /// Which engine this is.
    pub kind: EngineKind,
    /// The program to run (looked up on `PATH`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment to set.
    pub env: Vec<(String, String)>,
    /// Environment variables to pass through from the caller when set (secrets stay out of specs).
    pub pass_env: Vec<String>,
    /// Container image the process runs in, if any.
    pub image: Option<String>,
    /// Files to write into the working folder first: (relative name, contents).
    pub files: Vec<(String, String)>,
    /// Port the engine serves on (`None` for offline engines).
    pub port: Option<u16>,
    /// Readiness probe (`None`: the process has no HTTP endpoint of its own).
    pub health: Option<Readiness>,
    /// Path of the Prometheus text exposition, if the engine has one.
    pub metrics_path: Option<String>,
    /// The engine's own names for the common quantities.
    pub metric_names: CommonMetrics,
    /// How to stop it.
    pub stop: StopPolicy,
    /// How to install the program when it is missing.
    pub install_hint: &'static str,
}

impl EngineSpec {
    /// The command line as one shell-quoted string (for logs and error messages).
    #[must_use]
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `s` as one POSIX shell word: as it is when every character is safe, else single-quoted.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A readiness probe: `GET path` until the answer meets `expect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Path to GET, e.g. `/health`.
    pub path: String,
    /// What a ready answer looks like.
    pub expect: Expect,
}

/// What a ready answer looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// This HTTP status.
    Status(u16),
    /// This status, and the body contains each needle at least `n` times.
    Body {
        /// Required status.
        status: u16,
        /// (needle, minimum occurrences).
        contains: Vec<(String, u32)>,
    },
}

impl Readiness {
    /// Whether an answer (status, body) means ready. Pure.
    #[must_use]
    pub fn is_ready(&self, status: u16, body: &str) -> bool {
        match &self.expect {
            Expect::Status(s) => status == *s,
            Expect::Body {
                status: s,
                contains,
            } => {
                status == *s
                    && contains.iter().all(|(needle, n)| {
                        u32::try_from(body.matches(needle.as_str()).count()).unwrap_or(u32::MAX)
                            >= *n
                    })
            }
        }
    }
}

/// An engine's Prometheus names for the common quantities. Each list holds alternatives
/// (e.g. a name that changed between versions); the first one present in a scrape is used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommonMetrics {
    /// Requests in the running batch (gauge).
    pub running: &'static [&'static str],
    /// Requests waiting to be scheduled (gauge).
    pub waiting: &'static [&'static str],
    /// KV-cache use, 0 to 1 (gauge).
    pub kv_cache_use: &'static [&'static str],
    /// Tokens generated since start (counter).
    pub generated_tokens: &'static [&'static str],
}

/// Signal sent to stop an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM.
    Term,
    /// SIGINT.
    Int,
}

/// How to stop an engine: send `signal`, wait `grace`, then SIGKILL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopPolicy {
    /// First signal.
    pub signal: StopSignal,
    /// How long to wait before SIGKILL.
    pub grace: Duration,
}

impl StopPolicy {
    /// SIGTERM, then `secs` seconds of grace.
    #[must_use]
    pub fn term(secs: u64) -> Self {
        Self {
            signal: StopSignal::Term,
            grace: Duration::from_secs(secs),
        }
    }
}

/// Why settings cannot become a spec. Each says what is missing and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A required setting is absent.
    #[error("{engine} needs {what}: {fix}")]
    Missing {
        /// Engine name.
        engine: &'static str,
        /// What is missing.
        what: &'static str,
        /// How to fix it.
        fix: &'static str,
    },
    /// Settings that do not fit together.
    #[error("{engine}: {message}")]
    Invalid {
        /// Engine name.
        engine: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// Build the spec for `kind` from `settings`.
///
/// # Errors
/// [`EngineError`] when a required setting is missing or settings contradict each other.
pub fn spec(kind: EngineKind, settings: &EngineSettings) -> Result<EngineSpec, EngineError> {
    check_sizes(kind, settings)?;
    match kind {
        EngineKind::TrtllmServe => trtllm_serve::spec(settings),
        EngineKind::TrtllmBench => trtllm_bench::spec(settings),
        EngineKind::Nim => nim::spec(settings),
        EngineKind::Vllm => vllm::spec(settings),
        EngineKind::Sglang => sglang::spec(settings),
        EngineKind::DynamoFrontend => dynamo::frontend(settings),
        EngineKind::DynamoWorker { role } => dynamo::worker(role, settings),
        EngineKind::LlamaCpp => llama_cpp::spec(settings),
        EngineKind::Sim => sim::spec(settings),
        EngineKind::Nats => dynamo::nats(settings),
        EngineKind::Etcd => dynamo::etcd(settings),
    }
}

fn check_sizes(kind: EngineKind, s: &EngineSettings) -> Result<(), EngineError> {
    for (name, v) in [("tp", s.tp), ("pp", s.pp), ("ep", s.ep), ("dp", s.dp)] {
        if v == 0 {
            return Err(EngineError::Invalid {
                engine: kind.name(),
                message: format!("{name} = 0; parallel sizes start at 1"),
            });
        }
    }
    if let Some(f) = s.kv_cache_fraction {
        if !(f > 0.0 && f <= 1.0) {
            return Err(EngineError::Invalid {
                engine: kind.name(),
                message: format!("kv_cache_fraction = {f}; set a fraction in (0, 1], e.g. 0.9"),
            });
        }
    }
    Ok(())
}

/// The model setting, or the standard "needs a model" error.
fn need_model<'a>(engine: &'static str, s: &'a EngineSettings) -> Result<&'a str, EngineError> {
    s.model.as_deref().ok_or(EngineError::Missing {
        engine,
        what: "a model",
        fix: "set model.hf_repo (or model.path) in the recipe",
    })
}

fn served_name(s: &EngineSettings) -> Option<&str> {
    s.served_name.as_deref().or(s.model.as_deref())
}

/// Append `--key value` pairs for free-form options (CLI engines).
fn push_extra_flags(args: &mut Vec<String>, extra: &BTreeMap<String, String>) {
    for (k, v) in extra {
        let flag = if k.starts_with('-') {
            k.clone()
        } else {
            format!("--{k}")
        };
        args.push(flag);
        if !v.is_empty() {
            args.push(v.clone());
        }
    }
}

/// Push `flag value` when the value is set.
fn push_opt<T: ToString>(args: &mut Vec<String>, flag: &str, v: Option<T>) {
    if let Some(v) = v {
        args.push(flag.to_string());
        args.push(v.to_string());
    }
}

fn health_200(path: &str) -> Option<Readiness> {
    Some(Readiness {
        path: path.into(),
        expect: Expect::Status(200),
    })
}

#[cfg(test)]
mod tests;
