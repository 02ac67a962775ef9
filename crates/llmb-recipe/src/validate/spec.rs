//! What validation produces: the fully resolved run that plans are built from.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::recipe::{Disaggregated, Load, ModelVariant, Parallelism, Recipe};
use crate::types::{Concurrency, Dtype, EngineKind, GpuType, LoadStyle, TimeLimit};
use crate::workload::{ScriptLaunch, Source};

use super::ValidationWarning;

/// One use case with every knob resolved (recipe → use case → environment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedUseCase {
    /// Name.
    pub name: String,
    /// Input tokens.
    pub isl: u32,
    /// Output tokens.
    pub osl: u32,
    /// Engine max batch size (None = engine default).
    pub max_batch_size: Option<u32>,
    /// Engine max tokens per step.
    pub max_num_tokens: Option<u32>,
    /// KV-cache fraction of free GPU memory.
    pub kv_cache_free_gpu_memory_fraction: Option<f64>,
    /// Fixed request count (None = derived from concurrency by the load settings).
    pub num_requests: Option<u64>,
    /// Concurrency sweep for this use case.
    pub concurrency: Vec<Concurrency>,
}

/// Slurm job parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlurmSpec {
    /// `-J`: `{workload_key}_{model_size}_{dtype}` as llmb-run names it.
    pub job_name: String,
    /// `--time` (None = partition default).
    pub time_limit: Option<TimeLimit>,
    /// `--exclusive`.
    pub exclusive: bool,
    /// `SBATCH_*` variables from the environment, passed to sbatch verbatim.
    pub sbatch_env: BTreeMap<String, String>,
}

/// A fully resolved, validated run: the single input launchers consume (saved in the plan JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSpec {
    /// `inference_llama3.3`.
    pub workload_key: String,
    /// Where the workload was declared.
    pub source: Source,
    /// For NVIDIA metadata.yaml workloads: the script to sbatch.
    pub script: Option<ScriptLaunch>,
    /// The recipe as declared (a copy, so the plan is self-contained).
    pub recipe: Recipe,
    /// `70b`.
    pub model_size: String,
    /// `nvfp4`.
    pub dtype: Dtype,
    /// Weights for this size and dtype.
    pub model: Option<ModelVariant>,
    /// Total GPUs.
    pub scale: u32,
    /// Cluster GPU type.
    pub gpu_type: GpuType,
    /// GPUs per node used for placement.
    pub gpus_per_node: u32,
    /// `ceil(scale / gpus_per_node)`.
    pub nodes: u32,
    /// `min(scale, gpus_per_node)`.
    pub ntasks_per_node: u32,
    /// Engine.
    pub engine: EngineKind,
    /// Load / report style.
    pub load_style: LoadStyle,
    /// Load settings after overrides (`streaming`, `multi_round`).
    pub load: Load,
    /// Stream responses.
    pub streaming: bool,
    /// Use cases to run, in order, with knobs resolved (empty: the launch script's defaults).
    pub use_cases: Vec<ResolvedUseCase>,
    /// Parallelism after GPU-type and `TP`/`PP`/`EP` overrides.
    pub parallelism: Parallelism,
    /// Disaggregated pools after GPU-type and `NCTX`/`CTX_*`/`NGEN`/`GEN_*` overrides.
    pub disaggregated: Option<Disaggregated>,
    /// Engine image for this GPU type.
    pub container_image: Option<String>,
    /// Client image, when separate.
    pub client_image: Option<String>,
    /// Slurm job parameters.
    pub slurm: SlurmSpec,
    /// Profile this run.
    pub profile: bool,
    /// Repeat index, 0-based.
    pub repeat: u32,
    /// Task env and uppercased params from the request (exported into the job).
    pub env_overrides: BTreeMap<String, String>,
    /// Knob variables that were in effect (shell ∪ overrides), for the record.
    pub knobs: BTreeMap<String, String>,
    /// Warnings to show before submitting.
    pub warnings: Vec<ValidationWarning>,
}
