//! llmb's own recipe format (YAML, `deny_unknown_fields`): one file describes one workload,
//! its model, engine, load, images, supported GPUs/sizes/dtypes/scales, use cases,
//! parallelism, disaggregated pools and Slurm defaults. See docs/RECIPES.md for every field.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{from_yaml, LoadError};
use crate::types::{
    join, ByGpu, Concurrency, Dtype, EngineKind, GpuType, LoadStyle, TimeLimit, WorkloadType,
};
use crate::use_case::valid_name;

/// A parsed recipe (our format). Use [`Recipe::from_yaml`] to parse and check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// First half of the workload key (`inference`).
    pub workload_type: WorkloadType,
    /// Second half of the workload key (`llama3.3`); key = `{workload_type}_{workload}`.
    pub workload: String,
    /// One paragraph for `llmb recipe list/show`.
    #[serde(default)]
    pub description: String,
    /// The model and its weights per size and dtype.
    pub model: Model,
    /// The engine and its settings.
    pub engine: Engine,
    /// Load generator / report style and sweep.
    pub load: Load,
    /// Container images per GPU type.
    pub images: Images,
    /// Supported GPU types → model sizes → dtypes → scales, plus per-GPU overrides.
    pub gpus: BTreeMap<GpuType, GpuConfig>,
    /// Named request shapes with per-use-case knobs; all run when `USE_CASES` is not given.
    #[serde(default)]
    pub use_cases: Vec<UseCaseConfig>,
    /// Parallelism (overridable per GPU type and by `TP`/`PP`/`EP`).
    #[serde(default)]
    pub parallelism: Parallelism,
    /// Disaggregated prefill/decode pools (Dynamo); overridable per GPU type.
    #[serde(default)]
    pub disaggregated: Option<Disaggregated>,
    /// Slurm job defaults.
    #[serde(default)]
    pub slurm: SlurmDefaults,
}

/// The model served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Display name (`nvidia/Llama-3.3-70B-Instruct-FP4`).
    pub name: String,
    /// Weights per model size (`70b`) and dtype.
    pub sizes: BTreeMap<String, BTreeMap<Dtype, ModelVariant>>,
}

/// One downloadable checkpoint: a model size in one dtype.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelVariant {
    /// Hugging Face repository (or NGC path) of the weights.
    pub hf_repo: String,
    /// Model name the server reports / the client sends; defaults to `hf_repo`.
    #[serde(default)]
    pub served_name: Option<String>,
    /// Quantization label as the engine calls it (`NVFP4`, `FP8`), when it differs from dtype.
    #[serde(default)]
    pub quantization: Option<String>,
    /// Folder under the workload directory holding the weights (`Llama3.3_70B`).
    #[serde(default)]
    pub weights_folder: Option<String>,
    /// Expected size of that folder on disk, in GB, for a sanity check.
    #[serde(default)]
    pub expected_size_gb: Option<f64>,
    /// Tokenizer to use on the client side, when not the weights folder.
    #[serde(default)]
    pub tokenizer: Option<String>,
}

/// Which engine runs the model, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Engine {
    /// The engine.
    pub kind: EngineKind,
    /// Engine settings (defaults for every use case).
    #[serde(default)]
    pub settings: EngineSettings,
}

/// Engine settings the seeds set; anything else goes in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    /// Max sequences per scheduler step (`--max_batch_size`).
    #[serde(default)]
    pub max_batch_size: Option<u32>,
    /// Max tokens per scheduler step (`--max_num_tokens`).
    #[serde(default)]
    pub max_num_tokens: Option<u32>,
    /// Max sequence length (`--max_seq_len`).
    #[serde(default)]
    pub max_seq_len: Option<u32>,
    /// Fraction of free GPU memory given to the KV cache after weights load (0–1].
    #[serde(default)]
    pub kv_cache_free_gpu_memory_fraction: Option<f64>,
    /// KV-cache dtype (`fp8`, `auto`).
    #[serde(default)]
    pub kv_cache_dtype: Option<String>,
    /// CUDA graph capture.
    #[serde(default)]
    pub cuda_graphs: Option<CudaGraphs>,
    /// Tokens between streamed responses (`stream_interval`).
    #[serde(default)]
    pub stream_interval: Option<u32>,
    /// Data parallelism for attention layers (`enable_attention_dp`).
    #[serde(default)]
    pub enable_attention_dp: Option<bool>,
    /// Per-iteration scheduler log (`print_iter_log`).
    #[serde(default)]
    pub print_iter_log: Option<bool>,
    /// `--trust_remote_code`.
    #[serde(default)]
    pub trust_remote_code: Option<bool>,
    /// Engine-specific options passed through verbatim (e.g. into `extra_llm_api_options`).
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl EngineSettings {
    /// The first switch set here that `engine` does not honour, with the engines that do.
    pub fn unhonoured(&self, engine: EngineKind) -> Option<(&'static str, &'static str)> {
        use EngineKind as E;
        let trtllm = matches!(engine, E::TrtllmServe | E::TrtllmBench | E::DynamoTrtllm);
        let graphs = trtllm || matches!(engine, E::Vllm | E::Sglang);
        let remote = matches!(engine, E::TrtllmServe | E::Vllm | E::Sglang);
        let g = self.cuda_graphs.as_ref();
        if self.trust_remote_code.is_some() && !remote {
            return Some(("trust_remote_code", "trtllm-serve, vllm and sglang"));
        }
        if self.print_iter_log.is_some() && !trtllm {
            return Some(("print_iter_log", "the TensorRT-LLM engines"));
        }
        if g.is_some_and(|g| !g.enabled) && !graphs {
            return Some((
                "cuda_graphs.enabled",
                "the TensorRT-LLM engines, vllm and sglang",
            ));
        }
        if g.is_some_and(|g| g.enable_padding.is_some()) && !trtllm {
            return Some(("cuda_graphs.enable_padding", "the TensorRT-LLM engines"));
        }
        None
    }
}

/// CUDA graph settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CudaGraphs {
    /// Capture CUDA graphs at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Pad batches up to the next captured size (TensorRT-LLM engines; on when unset).
    #[serde(default)]
    pub enable_padding: Option<bool>,
    /// Capture graphs up to this batch size.
    #[serde(default)]
    pub max_batch_size: Option<u32>,
    /// Exact batch sizes to capture.
    #[serde(default)]
    pub batch_sizes: Vec<u32>,
}

fn yes() -> bool {
    true
}

/// Load generation and the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Which tool's load pattern and report to mirror.
    pub style: LoadStyle,
    /// Stream responses (TTFT/TPOT only exist when on). `STREAMING` overrides.
    #[serde(default = "yes")]
    pub streaming: bool,
    /// Concurrency sweep; `-1` = no client limit. `CONCURRENCY` overrides.
    #[serde(default = "unbounded")]
    pub concurrency: Vec<Concurrency>,
    /// Fixed number of requests per run (per use case); `NUM_REQUESTS` overrides.
    #[serde(default)]
    pub num_requests: Option<u64>,
    /// Requests per run = concurrency × this (GenAI-Perf `--request-count`).
    #[serde(default)]
    pub requests_per_concurrency: Option<u32>,
    /// Lower bound on requests per run when derived from concurrency.
    #[serde(default)]
    pub min_requests: Option<u64>,
    /// Warm-up requests = concurrency × this.
    #[serde(default)]
    pub warmup_requests_per_concurrency: Option<u32>,
    /// Distinct prompts per run = concurrency × this (benchmark_serving `--num-prompts`,
    /// GenAI-Perf `--num-dataset-entries`). `MULTI_ROUND` overrides.
    #[serde(default)]
    pub multi_round: Option<u32>,
    /// Which OpenAI route the load uses (`chat`, the default, or `completions`).
    #[serde(default)]
    pub endpoint: Endpoint,
}

fn unbounded() -> Vec<Concurrency> {
    vec![Concurrency::Unbounded]
}

/// The OpenAI route a recipe's load uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `/v1/chat/completions` (the server applies its chat template to the prompt).
    #[default]
    Chat,
    /// `/v1/completions` (the prompt is sent as is: exact input lengths).
    Completions,
}

/// Container images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Images {
    /// The engine / benchmark image per GPU type (`default` for all others). Enroot form
    /// (`nvcr.io#nvidia/...`) and docker form are both accepted.
    pub engine: ByGpu<String>,
    /// A separate client (load generator) image, when the client does not run in `engine`.
    #[serde(default)]
    pub client: Option<ByGpu<String>>,
}

/// What a recipe supports on one GPU type, and what changes there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuConfig {
    /// Model size → dtype → scales.
    pub model_sizes: BTreeMap<String, BTreeMap<Dtype, Scales>>,
    /// Parallelism on this GPU type (replaces the recipe's).
    #[serde(default)]
    pub parallelism: Option<Parallelism>,
    /// Disaggregated pools on this GPU type (replace the recipe's).
    #[serde(default)]
    pub disaggregated: Option<Disaggregated>,
    /// Concurrency sweep on this GPU type (replaces `load.concurrency`).
    #[serde(default)]
    pub concurrency: Option<Vec<Concurrency>>,
    /// Slurm time limit on this GPU type (replaces `slurm.time_limit`).
    #[serde(default)]
    pub time_limit: Option<TimeLimit>,
}

/// Tested scales (total GPUs) for one size and dtype.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scales {
    /// Scales in GPUs, ascending.
    pub scales: Vec<u32>,
    /// Only the listed scales are allowed (no extrapolation above the largest).
    #[serde(default)]
    pub exact_scales: bool,
}

/// A named use case with its own knobs (each overrides the engine/load default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UseCaseConfig {
    /// Name used in `USE_CASES` and result folders.
    pub name: String,
    /// Input sequence length in tokens.
    pub isl: u32,
    /// Output sequence length in tokens.
    pub osl: u32,
    /// Overrides `engine.settings.max_batch_size`.
    #[serde(default)]
    pub max_batch_size: Option<u32>,
    /// Overrides `engine.settings.max_num_tokens`.
    #[serde(default)]
    pub max_num_tokens: Option<u32>,
    /// Overrides `engine.settings.kv_cache_free_gpu_memory_fraction`.
    #[serde(default)]
    pub kv_cache_free_gpu_memory_fraction: Option<f64>,
    /// Overrides `load.num_requests`.
    #[serde(default)]
    pub num_requests: Option<u64>,
    /// Overrides the concurrency sweep.
    #[serde(default)]
    pub concurrency: Option<Vec<Concurrency>>,
    /// Slurm time limit when this use case runs alone.
    #[serde(default)]
    pub time_limit: Option<TimeLimit>,
}

/// Model parallelism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parallelism {
    /// Tensor parallel size.
    #[serde(default = "one")]
    pub tp: u32,
    /// Pipeline parallel size.
    #[serde(default = "one")]
    pub pp: u32,
    /// Expert parallel size.
    #[serde(default = "one")]
    pub ep: u32,
    /// Data parallelism for attention layers.
    #[serde(default)]
    pub attention_dp: bool,
}

fn one() -> u32 {
    1
}

impl Default for Parallelism {
    fn default() -> Self {
        Self {
            tp: 1,
            pp: 1,
            ep: 1,
            attention_dp: false,
        }
    }
}

/// Disaggregated serving: separate prefill and decode server pools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disaggregated {
    /// Prefill (context) servers.
    pub prefill: Pool,
    /// Decode (generation) servers.
    pub decode: Pool,
    /// The concurrency sweep is per decode server (total = concurrency × decode servers), as
    /// the Dynamo recipe's `CONCURRENCY` is.
    #[serde(default = "yes")]
    pub concurrency_per_decode_server: bool,
}

impl Disaggregated {
    /// GPUs used by both pools: prefill servers × GPUs + decode servers × GPUs.
    pub fn total_gpus(&self) -> u32 {
        self.prefill.total_gpus() + self.decode.total_gpus()
    }
}

/// One pool of identical servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Number of servers (`NCTX` / `NGEN`).
    pub servers: u32,
    /// GPUs per server (`CTX_WORLD_SIZE` / `GEN_WORLD_SIZE`).
    pub gpus_per_server: u32,
    /// Tensor parallel size per server; defaults to what the engine derives from the world size.
    #[serde(default)]
    pub tp: Option<u32>,
    /// Pipeline parallel size per server.
    #[serde(default)]
    pub pp: Option<u32>,
    /// Expert parallel size per server.
    #[serde(default)]
    pub ep: Option<u32>,
    /// Max sequences per step.
    pub max_batch_size: u32,
    /// Max tokens per step.
    pub max_num_tokens: u32,
    /// Fraction of GPU memory for weights + KV cache.
    pub gpu_memory_fraction: f64,
    /// Attention data parallelism.
    #[serde(default)]
    pub attention_dp: bool,
    /// Expert-load-balancer slots (decode); 0 = off.
    #[serde(default)]
    pub eplb_num_slots: u32,
    /// MTP next-n predict layers (decode); 0 = off.
    #[serde(default)]
    pub mtp_size: u32,
}

impl Pool {
    /// servers × GPUs per server.
    pub fn total_gpus(&self) -> u32 {
        self.servers * self.gpus_per_server
    }
}

/// Slurm job defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmDefaults {
    /// `--time`; `SBATCH_TIMELIMIT` overrides.
    #[serde(default)]
    pub time_limit: Option<TimeLimit>,
    /// `--exclusive`.
    #[serde(default = "yes")]
    pub exclusive: bool,
}

impl Default for SlurmDefaults {
    fn default() -> Self {
        Self {
            time_limit: None,
            exclusive: true,
        }
    }
}

impl Recipe {
    /// Parses YAML text and checks it; `file` names the source in errors.
    pub fn from_yaml(text: &str, file: &str) -> Result<Recipe, LoadError> {
        let r: Recipe = from_yaml(text, file)?;
        r.check(file)?;
        Ok(r)
    }

    /// The workload key, `{workload_type}_{workload}` (`inference_llama3.3`).
    pub fn key(&self) -> String {
        format!("{}_{}", self.workload_type, self.workload)
    }

    /// The GPU types this recipe supports.
    pub fn gpu_types(&self) -> impl Iterator<Item = &GpuType> {
        self.gpus.keys()
    }

    /// Checks what serde cannot: cross-references, ranges, uniqueness.
    pub fn check(&self, file: &str) -> Result<(), LoadError> {
        let inv = |field: &str, problem: String, fix: &str| {
            Err(LoadError::invalid(file, field, problem, fix))
        };
        if let Some((field, honoured_by)) = self.engine.settings.unhonoured(self.engine.kind) {
            return inv(
                &format!("engine.settings.{field}"),
                format!(
                    "the {} engine has no such switch (only {honoured_by} do)",
                    serde_json::to_value(self.engine.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
                "remove it: llmb never ignores a setting silently",
            );
        }
        if !valid_name(&self.workload) {
            return inv(
                "workload",
                format!("`{}` is not a valid workload name", self.workload),
                "use letters, digits, `.`, `-` and `_` (e.g. llama3.3)",
            );
        }
        if self.gpus.is_empty() {
            return inv(
                "gpus",
                "no GPU type is listed".into(),
                "add at least one, e.g. `gpus: {gb200: {model_sizes: {70b: {nvfp4: {scales: [1]}}}}}`",
            );
        }
        for (gpu, cfg) in &self.gpus {
            if cfg.model_sizes.is_empty() {
                return inv(
                    &format!("gpus.{gpu}.model_sizes"),
                    "is empty".into(),
                    "list at least one model size",
                );
            }
            for (size, dtypes) in &cfg.model_sizes {
                let field = format!("gpus.{gpu}.model_sizes.{size}");
                let Some(variants) = self.model.sizes.get(size) else {
                    return inv(
                        &field,
                        format!("model size `{size}` is not in `model.sizes`"),
                        &format!(
                            "add it under `model.sizes` or use one of: {}",
                            join(self.model.sizes.keys())
                        ),
                    );
                };
                for (dtype, scales) in dtypes {
                    if !variants.contains_key(dtype) {
                        return inv(
                            &format!("{field}.{dtype}"),
                            format!("`model.sizes.{size}` has no `{dtype}` weights"),
                            &format!(
                                "add `model.sizes.{size}.{dtype}` or use one of: {}",
                                join(variants.keys())
                            ),
                        );
                    }
                    if scales.scales.is_empty() || scales.scales.contains(&0) {
                        return inv(
                            &format!("{field}.{dtype}.scales"),
                            "must list at least one scale, each > 0".into(),
                            "write e.g. `scales: [1]` (total GPUs)",
                        );
                    }
                }
            }
            if self.images.engine.get(gpu).is_none() {
                return inv(
                    "images.engine",
                    format!("no image for `{gpu}`"),
                    "add an entry for it or a `default` entry",
                );
            }
            if self.engine.kind.is_disaggregated()
                && cfg.disaggregated.is_none()
                && self.disaggregated.is_none()
            {
                return inv(
                    &format!("gpus.{gpu}.disaggregated"),
                    format!("engine `{:?}` needs prefill/decode pools", self.engine.kind),
                    "add `disaggregated:` at top level or under this GPU type",
                );
            }
            for d in cfg.disaggregated.iter().chain(&self.disaggregated) {
                for (name, p) in [("prefill", &d.prefill), ("decode", &d.decode)] {
                    if p.servers == 0 || p.gpus_per_server == 0 {
                        return inv(
                            &format!("disaggregated.{name}"),
                            "servers and gpus_per_server must be > 0".into(),
                            "set both to positive whole numbers",
                        );
                    }
                    check_fraction(
                        file,
                        &format!("disaggregated.{name}.gpu_memory_fraction"),
                        p.gpu_memory_fraction,
                    )?;
                }
            }
        }
        let mut seen = BTreeSet::new();
        for (i, u) in self.use_cases.iter().enumerate() {
            let field = format!("use_cases[{i}]");
            if !valid_name(&u.name) {
                return inv(
                    &format!("{field}.name"),
                    format!("`{}` is not a valid use-case name", u.name),
                    "use letters, digits, `_`, `-` or `.`",
                );
            }
            if !seen.insert(u.name.as_str()) {
                return inv(
                    &format!("{field}.name"),
                    format!("use case `{}` is listed twice", u.name),
                    "give each use case a distinct name",
                );
            }
            if u.isl == 0 || u.osl == 0 {
                return inv(
                    &field,
                    "isl and osl must be > 0".into(),
                    "write token counts, e.g. isl: 128, osl: 128",
                );
            }
            if let Some(f) = u.kv_cache_free_gpu_memory_fraction {
                check_fraction(
                    file,
                    &format!("{field}.kv_cache_free_gpu_memory_fraction"),
                    f,
                )?;
            }
        }
        if let Some(f) = self.engine.settings.kv_cache_free_gpu_memory_fraction {
            check_fraction(file, "engine.settings.kv_cache_free_gpu_memory_fraction", f)?;
        }
        if self.load.concurrency.is_empty() {
            return inv(
                "load.concurrency",
                "is empty".into(),
                "list at least one value, e.g. [-1] (no client limit)",
            );
        }
        Ok(())
    }
}

/// Checks a fraction is in (0, 1].
pub(crate) fn check_fraction(file: &str, field: &str, f: f64) -> Result<(), LoadError> {
    if f > 0.0 && f <= 1.0 {
        Ok(())
    } else {
        Err(LoadError::invalid(
            file,
            field,
            format!("{f} is not a fraction"),
            "use a number greater than 0 and at most 1, e.g. 0.9",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "\
workload_type: inference
workload: tiny
model:
  name: tiny
  sizes:
    1b:
      bf16: {hf_repo: org/tiny}
engine: {kind: sim}
load: {style: benchmark-serving}
images: {engine: {default: 'img:1'}}
gpus:
  h100:
    model_sizes:
      1b:
        bf16: {scales: [1, 2]}
use_cases:
  - {name: chat, isl: 128, osl: 128}
  - {name: long, isl: 8000, osl: 512, max_batchsize: 4}
";

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let e = Recipe::from_yaml(MINIMAL, "recipes/x.yaml").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("recipes/x.yaml:18:39:"), "{msg}");
        assert!(msg.contains("use_cases[1]"), "{msg}");
        assert!(msg.contains("unknown field `max_batchsize`"), "{msg}");
        assert!(msg.contains("max_batch_size"), "{msg}");
    }

    #[test]
    fn switches_an_engine_does_not_have_are_refused() {
        use EngineKind as E;
        let mut s = EngineSettings {
            trust_remote_code: Some(false),
            ..EngineSettings::default()
        };
        assert_eq!(s.unhonoured(E::TrtllmServe), None);
        assert_eq!(s.unhonoured(E::Vllm), None);
        assert_eq!(
            s.unhonoured(E::LlamaCpp).map(|x| x.0),
            Some("trust_remote_code")
        );
        s.trust_remote_code = None;
        s.print_iter_log = Some(false);
        assert_eq!(s.unhonoured(E::DynamoTrtllm), None);
        assert_eq!(s.unhonoured(E::Vllm).map(|x| x.0), Some("print_iter_log"));
        s.print_iter_log = None;
        s.cuda_graphs = Some(CudaGraphs {
            enabled: false,
            enable_padding: None,
            max_batch_size: None,
            batch_sizes: vec![],
        });
        assert_eq!(s.unhonoured(E::Sglang), None);
        assert_eq!(
            s.unhonoured(E::Nim).map(|x| x.0),
            Some("cuda_graphs.enabled")
        );
        s.cuda_graphs = Some(CudaGraphs {
            enabled: true,
            enable_padding: Some(true),
            max_batch_size: None,
            batch_sizes: vec![],
        });
        assert_eq!(s.unhonoured(E::TrtllmBench), None);
        assert_eq!(
            s.unhonoured(E::Vllm).map(|x| x.0),
            Some("cuda_graphs.enable_padding")
        );
    }

    #[test]
    fn minimal_recipe_parses_with_defaults() {
        let text = MINIMAL.replace(", max_batchsize: 4", "");
        let r = Recipe::from_yaml(&text, "x.yaml").unwrap();
        assert_eq!(r.key(), "inference_tiny");
        assert!(r.load.streaming);
        assert_eq!(r.load.concurrency, [Concurrency::Unbounded]);
        assert_eq!(r.parallelism, Parallelism::default());
        assert!(r.slurm.exclusive);
    }

    #[test]
    fn wrong_type_carries_line() {
        let text = MINIMAL
            .replace(", max_batchsize: 4", "")
            .replace("isl: 8000", "isl: lots");
        let msg = Recipe::from_yaml(&text, "x.yaml").unwrap_err().to_string();
        assert!(msg.starts_with("x.yaml:18:"), "{msg}");
        assert!(msg.contains("isl"), "{msg}");
    }

    #[test]
    fn cross_reference_errors_name_field_and_fix() {
        let text = MINIMAL.replace(", max_batchsize: 4", "").replace(
            "      1b:\n        bf16: {scales",
            "      8b:\n        bf16: {scales",
        );
        let msg = Recipe::from_yaml(&text, "x.yaml").unwrap_err().to_string();
        assert!(msg.contains("gpus.h100.model_sizes.8b"), "{msg}");
        assert!(msg.contains("use one of: 1b"), "{msg}");
        let dup = MINIMAL.replace(
            "{name: long, isl: 8000, osl: 512, max_batchsize: 4}",
            "{name: chat, isl: 1, osl: 1}",
        );
        let msg = Recipe::from_yaml(&dup, "x.yaml").unwrap_err().to_string();
        assert!(msg.contains("listed twice"), "{msg}");
    }

    #[test]
    fn docs_example_parses() {
        let doc = include_str!("../../../docs/RECIPES.md");
        let start = doc.find("## Example").unwrap();
        let body = &doc[start..];
        let yaml = body
            .split("```yaml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .unwrap();
        let r = Recipe::from_yaml(yaml, "docs/RECIPES.md").unwrap();
        assert_eq!(r.key(), "inference_tiny-chat");
        assert_eq!(r.use_cases[1].concurrency.as_ref().unwrap().len(), 3);
    }
}
