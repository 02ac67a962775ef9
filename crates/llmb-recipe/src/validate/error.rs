//! Why a run is refused (each error lists what exists and how to fix it), and the warnings
//! shown before submitting.

use std::fmt;

use serde::Serialize;

use crate::knobs::KnobError;
use crate::types::{join, Dtype, GpuType};

/// Why a request was refused. Messages list what is available.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidateError {
    /// No such workload.
    #[error("unknown workload `{name}`. Available workloads: {}", join(.available))]
    UnknownWorkload {
        /// What was asked.
        name: String,
        /// Known keys.
        available: Vec<String>,
    },
    /// Not in `workloads.installed`.
    #[error("workload `{key}` is not installed on this cluster. Installed workloads: {}; install it or add it to `workloads.installed` in cluster_config.yaml", join(.installed))]
    NotInstalled {
        /// The key.
        key: String,
        /// Installed keys.
        installed: Vec<String>,
    },
    /// The recipe has nothing for this GPU type.
    #[error("workload `{key}` does not support GPU type `{gpu}`. Supported GPU types: {}", join(.supported))]
    GpuNotSupported {
        /// The key.
        key: String,
        /// Cluster GPU type.
        gpu: GpuType,
        /// GPU types in the recipe.
        supported: Vec<GpuType>,
    },
    /// Unknown model size.
    #[error("workload `{key}` has no model size `{size}` on {gpu}. Available model sizes: {}", join(.available))]
    UnknownModelSize {
        /// The key.
        key: String,
        /// GPU type.
        gpu: GpuType,
        /// What was asked.
        size: String,
        /// Sizes for this GPU.
        available: Vec<String>,
    },
    /// Unknown dtype.
    #[error("workload `{key}` size {size} has no dtype `{dtype}` on {gpu}. Supported dtypes: {}", join(.available))]
    UnknownDtype {
        /// The key.
        key: String,
        /// GPU type.
        gpu: GpuType,
        /// Model size.
        size: String,
        /// What was asked.
        dtype: String,
        /// Dtypes for this size.
        available: Vec<Dtype>,
    },
    /// Scale refused by the recipe's scale list.
    #[error("scale {scale} is not supported for {key} {size} {dtype} on {gpu} ({reason}). Supported scales: {}", join(.supported))]
    UnsupportedScale {
        /// The key.
        key: String,
        /// GPU type.
        gpu: GpuType,
        /// Model size.
        size: String,
        /// Dtype.
        dtype: Dtype,
        /// Requested scale.
        scale: u32,
        /// Listed scales.
        supported: Vec<u32>,
        /// `exact scales only`, `below the minimum`, `between tested scales`.
        reason: String,
    },
    /// A multi-node scale that leaves a node partly used.
    #[error("scale {scale} does not fill whole nodes of {gpus_per_node} GPUs; use a multiple of {gpus_per_node} (e.g. {}), or fewer than {gpus_per_node} GPUs on one node", .scale / .gpus_per_node * .gpus_per_node)]
    NotWholeNodes {
        /// Requested scale.
        scale: u32,
        /// GPUs per node.
        gpus_per_node: u32,
    },
    /// No GPUs-per-node value for this GPU type.
    #[error("GPUs per node unknown for GPU type `{gpu}`; set `gpus_per_node:` in cluster_config.yaml or GPUS_PER_NODE")]
    UnknownGpusPerNode {
        /// GPU type.
        gpu: GpuType,
    },
    /// Disaggregated pools that do not fit the nodes or the scale.
    #[error("disaggregated layout: {problem}; {fix}")]
    Disaggregated {
        /// What is wrong.
        problem: String,
        /// What to change.
        fix: String,
    },
    /// A knob did not parse (this covers malformed `USE_CASES`).
    #[error(transparent)]
    Knob(#[from] KnobError),
}

/// Something the user should know, but that does not stop the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValidationWarning {
    /// Scale above the largest tested one.
    ExceedsMaxTestedScale {
        /// Requested.
        scale: u32,
        /// Largest listed.
        max_tested: u32,
    },
    /// `--force` let an otherwise refused request through.
    Forced {
        /// The error that was overridden.
        message: String,
    },
    /// A `USE_CASES` entry whose name the recipe does not define (engine defaults apply).
    UseCaseNotInRecipe {
        /// The name.
        name: String,
        /// Names the recipe defines.
        known: Vec<String>,
    },
    /// tp × pp differs from the scale of an aggregated engine.
    ParallelismMismatch {
        /// Tensor parallel.
        tp: u32,
        /// Pipeline parallel.
        pp: u32,
        /// Scale.
        scale: u32,
    },
    /// A knob that this workload does not use.
    KnobNotApplicable {
        /// Variable name.
        var: String,
        /// Why.
        why: String,
    },
}

impl fmt::Display for ValidationWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationWarning::ExceedsMaxTestedScale { scale, max_tested } => write!(
                f,
                "scale {scale} exceeds maximum tested scale {max_tested}; results may not be representative"
            ),
            ValidationWarning::Forced { message } => write!(f, "--force: ignoring: {message}"),
            ValidationWarning::UseCaseNotInRecipe { name, known } => write!(
                f,
                "use case `{name}` is not defined by the recipe (it defines: {}); engine defaults apply unless you set MAX_BATCH_SIZE, MAX_NUM_TOKENS, ...",
                join(known)
            ),
            ValidationWarning::ParallelismMismatch { tp, pp, scale } => write!(
                f,
                "TP {tp} x PP {pp} = {} GPUs per model instance but scale is {scale}; set TP/PP or the scale so they match",
                tp * pp
            ),
            ValidationWarning::KnobNotApplicable { var, why } => write!(f, "{var} is ignored: {why}"),
        }
    }
}
