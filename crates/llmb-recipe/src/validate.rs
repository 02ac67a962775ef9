//! llmb-run's validation order (workload → installed → GPU type → model size → dtype → scale),
//! then node fit, disaggregated layout and environment knobs, producing the fully resolved
//! [`RunSpec`] that launchers consume. Every error lists what is available.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::knobs::{KnobError, Knobs, PoolKnobs};
use crate::recipe::{
    Disaggregated, GpuConfig, Load, ModelVariant, Parallelism, Pool, Recipe, Scales, UseCaseConfig,
};
use crate::types::{join, Concurrency, Dtype, EngineKind, GpuType, LoadStyle, TimeLimit};
use crate::workload::{Catalog, ScriptLaunch, Source};

/// One requested run, before validation (from `llmb submit` flags or a bulk file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunRequest {
    /// Workload key (`inference_llama3.3`).
    pub workload: String,
    /// Model size (`70b`).
    pub model_size: String,
    /// Dtype as typed by the user (`nvfp4`).
    pub dtype: String,
    /// Total GPUs.
    pub scale: u32,
    /// Profile this run (`ENABLE_PROFILE=true`).
    pub profile: bool,
    /// Repeat index, 0-based.
    pub repeat: u32,
    /// Task environment overrides (bulk `env:`); win over the shell.
    pub env: BTreeMap<String, String>,
    /// Model overrides (bulk `params:`); exported with uppercased names (`tp` → `TP`) and win
    /// over `env`.
    pub params: BTreeMap<String, String>,
}

/// What validation needs besides the request.
#[derive(Debug, Clone, Copy)]
pub struct ValidateContext<'a> {
    /// All known workloads.
    pub catalog: &'a Catalog,
    /// `workloads.installed` from the cluster config; `None` = do not check.
    pub installed: Option<&'a [String]>,
    /// The cluster's GPU type.
    pub gpu_type: &'a GpuType,
    /// GPUs per node from the cluster config (`None` = the GPU type's default).
    pub gpus_per_node: Option<u32>,
    /// The submitting shell's environment (knobs are read from it; nothing reads the process env).
    pub env: &'a BTreeMap<String, String>,
    /// llmb-run's `--force`: the installed and scale checks become warnings. GPU type, size
    /// and dtype must still resolve (there is nothing to run otherwise).
    pub force: bool,
}

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

/// Validates `req` in llmb-run's order and resolves it into a [`RunSpec`].
pub fn validate(req: &RunRequest, ctx: &ValidateContext<'_>) -> Result<RunSpec, ValidateError> {
    let mut warnings = Vec::new();
    // 1. workload exists
    let workload =
        ctx.catalog
            .get(&req.workload)
            .ok_or_else(|| ValidateError::UnknownWorkload {
                name: req.workload.clone(),
                available: ctx.catalog.keys().map(str::to_owned).collect(),
            })?;
    let key = workload.key.clone();
    let recipe = &workload.recipe;
    // 2. installed
    if let Some(installed) = ctx.installed {
        if !installed.contains(&key) {
            let e = ValidateError::NotInstalled {
                key: key.clone(),
                installed: installed.to_vec(),
            };
            forced(ctx.force, e, &mut warnings)?;
        }
    }
    // 3. GPU type
    let gpu = ctx.gpu_type;
    let gpu_cfg: &GpuConfig =
        recipe
            .gpus
            .get(gpu)
            .ok_or_else(|| ValidateError::GpuNotSupported {
                key: key.clone(),
                gpu: gpu.clone(),
                supported: recipe.gpus.keys().cloned().collect(),
            })?;
    // 4. model size
    let dtypes = gpu_cfg.model_sizes.get(&req.model_size).ok_or_else(|| {
        ValidateError::UnknownModelSize {
            key: key.clone(),
            gpu: gpu.clone(),
            size: req.model_size.clone(),
            available: gpu_cfg.model_sizes.keys().cloned().collect(),
        }
    })?;
    // 5. dtype
    let (dtype, scales) = req
        .dtype
        .parse::<Dtype>()
        .ok()
        .and_then(|d| dtypes.get(&d).map(|s| (d, s)))
        .ok_or_else(|| ValidateError::UnknownDtype {
            key: key.clone(),
            gpu: gpu.clone(),
            size: req.model_size.clone(),
            dtype: req.dtype.clone(),
            available: dtypes.keys().copied().collect(),
        })?;
    // 6. scale
    match check_scale(req.scale, scales) {
        Ok(Some(w)) => warnings.push(w),
        Ok(None) => {}
        Err(reason) => {
            let e = ValidateError::UnsupportedScale {
                key: key.clone(),
                gpu: gpu.clone(),
                size: req.model_size.clone(),
                dtype,
                scale: req.scale,
                supported: scales.scales.clone(),
                reason,
            };
            forced(ctx.force, e, &mut warnings)?;
        }
    }

    // Environment: shell < task env < params (uppercased), as llmb-run layers them.
    let mut env_overrides = req.env.clone();
    for (k, v) in &req.params {
        env_overrides.insert(k.to_ascii_uppercase(), v.clone());
    }
    let mut merged = ctx.env.clone();
    merged.extend(env_overrides.clone());
    let knobs = Knobs::from_env(&merged)?;

    // 7. nodes
    let gpn = knobs
        .gpus_per_node
        .or(ctx.gpus_per_node)
        .or_else(|| gpu.default_gpus_per_node())
        .ok_or_else(|| ValidateError::UnknownGpusPerNode { gpu: gpu.clone() })?;
    if req.scale == 0 || (req.scale > gpn && req.scale % gpn != 0) {
        return Err(ValidateError::NotWholeNodes {
            scale: req.scale,
            gpus_per_node: gpn,
        });
    }
    let nodes = req.scale.div_ceil(gpn);
    let ntasks_per_node = req.scale.min(gpn);

    // 8. disaggregated layout
    let disaggregated = match gpu_cfg
        .disaggregated
        .as_ref()
        .or(recipe.disaggregated.as_ref())
    {
        Some(d) => {
            let d = apply_pool_knobs(d, &knobs);
            check_disaggregated(&d, req.scale, gpn)?;
            Some(d)
        }
        None => {
            for (var, set) in [
                ("NCTX / CTX_*", knobs.prefill != PoolKnobs::default()),
                ("NGEN / GEN_*", knobs.decode != PoolKnobs::default()),
            ] {
                if set {
                    warnings.push(ValidationWarning::KnobNotApplicable {
                        var: var.into(),
                        why: format!("{key} is not a disaggregated workload"),
                    });
                }
            }
            None
        }
    };

    // 9. parallelism
    let mut parallelism = gpu_cfg.parallelism.unwrap_or(recipe.parallelism);
    if let Some(tp) = knobs.tp {
        parallelism.tp = tp;
    }
    if let Some(pp) = knobs.pp {
        parallelism.pp = pp;
    }
    if let Some(ep) = knobs.ep {
        parallelism.ep = ep;
    }
    if disaggregated.is_none()
        && workload.script.is_none()
        && parallelism.tp * parallelism.pp != req.scale
    {
        warnings.push(ValidationWarning::ParallelismMismatch {
            tp: parallelism.tp,
            pp: parallelism.pp,
            scale: req.scale,
        });
    }

    // 10. use cases
    let base_concurrency = gpu_cfg
        .concurrency
        .clone()
        .unwrap_or_else(|| recipe.load.concurrency.clone());
    let selected: Vec<(UseCaseConfig, bool)> = match &knobs.use_cases {
        None => recipe.use_cases.iter().map(|u| (u.clone(), true)).collect(),
        Some(list) => list
            .iter()
            .map(
                |u| match recipe.use_cases.iter().find(|r| r.name == u.name) {
                    Some(r) => (
                        UseCaseConfig {
                            isl: u.isl,
                            osl: u.osl,
                            ..r.clone()
                        },
                        true,
                    ),
                    None => (
                        UseCaseConfig {
                            name: u.name.clone(),
                            isl: u.isl,
                            osl: u.osl,
                            max_batch_size: None,
                            max_num_tokens: None,
                            kv_cache_free_gpu_memory_fraction: None,
                            num_requests: None,
                            concurrency: None,
                            time_limit: None,
                        },
                        false,
                    ),
                },
            )
            .collect(),
    };
    let settings = &recipe.engine.settings;
    let mut use_cases = Vec::new();
    for (u, known) in &selected {
        if !known {
            warnings.push(ValidationWarning::UseCaseNotInRecipe {
                name: u.name.clone(),
                known: recipe.use_cases.iter().map(|u| u.name.clone()).collect(),
            });
        }
        use_cases.push(ResolvedUseCase {
            name: u.name.clone(),
            isl: knobs.isl.unwrap_or(u.isl),
            osl: knobs.osl.unwrap_or(u.osl),
            max_batch_size: knobs
                .max_batch_size
                .or(u.max_batch_size)
                .or(settings.max_batch_size),
            max_num_tokens: knobs
                .max_num_tokens
                .or(u.max_num_tokens)
                .or(settings.max_num_tokens),
            kv_cache_free_gpu_memory_fraction: knobs
                .kv_cache_fraction
                .or(u.kv_cache_free_gpu_memory_fraction)
                .or(settings.kv_cache_free_gpu_memory_fraction),
            num_requests: knobs
                .num_requests
                .or(u.num_requests)
                .or(recipe.load.num_requests),
            concurrency: knobs
                .concurrency
                .clone()
                .or_else(|| u.concurrency.clone())
                .unwrap_or_else(|| base_concurrency.clone()),
        });
    }

    // 11. load, streaming, slurm
    let streaming = knobs.streaming.unwrap_or(recipe.load.streaming);
    let mut load = recipe.load.clone();
    load.streaming = streaming;
    if let Some(m) = knobs.multi_round {
        load.multi_round = Some(m);
    }
    load.concurrency = base_concurrency;
    let single_use_case_limit = match selected.as_slice() {
        [(u, _)] => u.time_limit,
        _ => None,
    };
    let slurm = SlurmSpec {
        job_name: format!("{key}_{}_{dtype}", req.model_size),
        time_limit: knobs
            .time_limit
            .or(single_use_case_limit)
            .or(gpu_cfg.time_limit)
            .or(recipe.slurm.time_limit),
        exclusive: recipe.slurm.exclusive,
        sbatch_env: knobs.sbatch.clone(),
    };

    Ok(RunSpec {
        workload_key: key,
        source: workload.source.clone(),
        script: workload.script.clone(),
        recipe: recipe.clone(),
        model_size: req.model_size.clone(),
        dtype,
        model: recipe
            .model
            .sizes
            .get(&req.model_size)
            .and_then(|m| m.get(&dtype))
            .cloned(),
        scale: req.scale,
        gpu_type: gpu.clone(),
        gpus_per_node: gpn,
        nodes,
        ntasks_per_node,
        engine: recipe.engine.kind,
        load_style: recipe.load.style,
        load,
        streaming,
        use_cases,
        parallelism,
        disaggregated,
        container_image: recipe
            .images
            .engine
            .get(gpu)
            .filter(|s| !s.is_empty())
            .cloned(),
        client_image: recipe
            .images
            .client
            .as_ref()
            .and_then(|c| c.get(gpu))
            .cloned(),
        slurm,
        profile: req.profile,
        repeat: req.repeat,
        env_overrides,
        knobs: Knobs::present(&merged),
        warnings,
    })
}

fn forced(
    force: bool,
    e: ValidateError,
    warnings: &mut Vec<ValidationWarning>,
) -> Result<(), ValidateError> {
    if force {
        warnings.push(ValidationWarning::Forced {
            message: e.to_string(),
        });
        Ok(())
    } else {
        Err(e)
    }
}

/// llmb-run's scale rule: exact → must be listed; else below min = error, listed = ok,
/// above max = warning, between listed values = error. `Err` holds the reason.
pub fn check_scale(scale: u32, s: &Scales) -> Result<Option<ValidationWarning>, String> {
    let listed = s.scales.contains(&scale);
    if s.exact_scales {
        return if listed {
            Ok(None)
        } else {
            Err("this workload runs only at its listed scales".into())
        };
    }
    let (Some(&min), Some(&max)) = (s.scales.iter().min(), s.scales.iter().max()) else {
        return Err("no scales are listed".into());
    };
    if listed {
        Ok(None)
    } else if scale < min {
        Err(format!("below the minimum scale {min}"))
    } else if scale > max {
        Ok(Some(ValidationWarning::ExceedsMaxTestedScale {
            scale,
            max_tested: max,
        }))
    } else {
        Err("between tested scales but not listed".into())
    }
}

fn apply_pool_knobs(d: &Disaggregated, k: &Knobs) -> Disaggregated {
    fn apply(p: &Pool, k: &PoolKnobs) -> Pool {
        Pool {
            servers: k.servers.unwrap_or(p.servers),
            gpus_per_server: k.gpus_per_server.unwrap_or(p.gpus_per_server),
            max_batch_size: k.max_batch_size.unwrap_or(p.max_batch_size),
            max_num_tokens: k.max_num_tokens.unwrap_or(p.max_num_tokens),
            gpu_memory_fraction: k.gpu_memory_fraction.unwrap_or(p.gpu_memory_fraction),
            attention_dp: k.attention_dp.unwrap_or(p.attention_dp),
            eplb_num_slots: k.eplb_num_slots.unwrap_or(p.eplb_num_slots),
            mtp_size: k.mtp_size.unwrap_or(p.mtp_size),
            ..p.clone()
        }
    }
    Disaggregated {
        prefill: apply(&d.prefill, &k.prefill),
        decode: apply(&d.decode, &k.decode),
        concurrency_per_decode_server: d.concurrency_per_decode_server,
    }
}

/// Each server must occupy whole nodes (the Dynamo launch script places servers on
/// `gpus_per_server / gpus_per_node` nodes, with no sub-node packing), and both pools together
/// must use exactly `scale` GPUs (reference 4.2).
pub fn check_disaggregated(d: &Disaggregated, scale: u32, gpn: u32) -> Result<(), ValidateError> {
    for (name, vars, p) in [
        ("prefill", "CTX_WORLD_SIZE", &d.prefill),
        ("decode", "GEN_WORLD_SIZE", &d.decode),
    ] {
        if p.gpus_per_server % gpn != 0 {
            return Err(ValidateError::Disaggregated {
                problem: format!(
                    "each {name} server uses {} GPUs, not a multiple of {gpn} GPUs per node",
                    p.gpus_per_server
                ),
                fix: format!("set {vars} to a multiple of {gpn}"),
            });
        }
    }
    let total = d.total_gpus();
    if total != scale {
        return Err(ValidateError::Disaggregated {
            problem: format!(
                "{} prefill x {} GPUs + {} decode x {} GPUs = {total} GPUs, but scale is {scale}",
                d.prefill.servers,
                d.prefill.gpus_per_server,
                d.decode.servers,
                d.decode.gpus_per_server
            ),
            fix: format!(
                "run with --scale {total}, or change NCTX/CTX_WORLD_SIZE/NGEN/GEN_WORLD_SIZE"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::builtin;

    fn catalog() -> Catalog {
        let mut c = Catalog::new();
        c.extend_source(builtin().unwrap()).unwrap();
        c
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn req(w: &str, size: &str, dtype: &str, scale: u32) -> RunRequest {
        RunRequest {
            workload: w.into(),
            model_size: size.into(),
            dtype: dtype.into(),
            scale,
            ..RunRequest::default()
        }
    }

    fn run(
        r: &RunRequest,
        gpu: GpuType,
        e: &BTreeMap<String, String>,
    ) -> Result<RunSpec, ValidateError> {
        let c = catalog();
        validate(
            r,
            &ValidateContext {
                catalog: &c,
                installed: None,
                gpu_type: &gpu,
                gpus_per_node: None,
                env: e,
                force: false,
            },
        )
    }

    #[test]
    fn llama33_scale_1_on_gb200() {
        let s = run(
            &req("inference_llama3.3", "70b", "nvfp4", 1),
            GpuType::Gb200,
            &env(&[]),
        )
        .unwrap();
        assert_eq!((s.nodes, s.ntasks_per_node, s.gpus_per_node), (1, 1, 4));
        assert_eq!(s.use_cases.len(), 4);
        let chat = &s.use_cases[1];
        assert_eq!((chat.name.as_str(), chat.isl, chat.osl), ("chat", 128, 128));
        assert_eq!(chat.max_batch_size, Some(4096));
        assert_eq!(chat.max_num_tokens, Some(8192));
        assert_eq!(chat.concurrency, [Concurrency::Unbounded]);
        assert_eq!(
            s.container_image.as_deref(),
            Some("nvcr.io#nvidia/tensorrt-llm/release:1.0.0rc1")
        );
        assert_eq!(s.slurm.job_name, "inference_llama3.3_70b_nvfp4");
        assert_eq!(s.slurm.time_limit, Some(TimeLimit::minutes(30)));
        assert!(s.streaming);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["use_cases"][0]["concurrency"][0], -1);
    }

    #[test]
    fn llama33_scale_3_lists_supported_scales() {
        let e = run(
            &req("inference_llama3.3", "70b", "nvfp4", 3),
            GpuType::Gb200,
            &env(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Supported scales: 1"), "{e}");
    }

    #[test]
    fn llama4_scale_8_spans_two_gb200_nodes() {
        let s = run(
            &req("inference_llama4", "17b", "fp8", 8),
            GpuType::Gb200,
            &env(&[]),
        )
        .unwrap();
        assert_eq!((s.nodes, s.ntasks_per_node), (2, 4));
        assert_eq!(
            s.parallelism,
            Parallelism {
                tp: 8,
                pp: 1,
                ep: 8,
                attention_dp: true
            }
        );
        assert_eq!(s.use_cases[2].max_num_tokens, Some(22528));
    }

    #[test]
    fn deepseek_dynamo_scale_32_on_gb200_is_8_nodes() {
        let s = run(
            &req("inference_deepseek-r1-dynamo", "671b", "nvfp4", 32),
            GpuType::Gb200,
            &env(&[]),
        )
        .unwrap();
        assert_eq!((s.nodes, s.ntasks_per_node), (8, 4));
        let d = s.disaggregated.unwrap();
        assert_eq!((d.prefill.servers, d.prefill.gpus_per_server), (6, 4));
        assert_eq!(s.use_cases[0].concurrency, [Concurrency::Limit(2048)]);
        let h = run(
            &req("inference_deepseek-r1-dynamo", "671b", "fp8", 48),
            GpuType::H100,
            &env(&[]),
        )
        .unwrap();
        assert_eq!(h.nodes, 6);
        assert_eq!(h.use_cases[0].concurrency, [Concurrency::Limit(1024)]);
        assert_eq!(h.slurm.time_limit, Some(TimeLimit::minutes(120)));
    }

    #[test]
    fn disaggregated_knobs_must_fit_nodes_and_scale() {
        let r = req("inference_deepseek-r1-dynamo", "671b", "nvfp4", 32);
        let e = run(&r, GpuType::Gb200, &env(&[("CTX_WORLD_SIZE", "2")])).unwrap_err();
        assert!(e.to_string().contains("multiple of 4"), "{e}");
        let e = run(&r, GpuType::Gb200, &env(&[("NCTX", "4")])).unwrap_err();
        assert!(e.to_string().contains("= 24 GPUs, but scale is 32"), "{e}");
        assert!(e.to_string().contains("--scale 24"), "{e}");
    }

    #[test]
    fn unknown_workload_lists_available() {
        let e = run(
            &req("inference_llama5", "70b", "fp8", 1),
            GpuType::Gb200,
            &env(&[]),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("Available workloads: inference_deepseek-r1-dynamo, inference_llama3.3"),
            "{msg}"
        );
    }

    #[test]
    fn order_gpu_size_dtype_each_list_choices() {
        let e = run(
            &req("inference_llama3.3", "70b", "nvfp4", 1),
            GpuType::H100,
            &env(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Supported GPU types: gb200"), "{e}");
        let e = run(
            &req("inference_llama3.3", "8b", "nvfp4", 1),
            GpuType::Gb200,
            &env(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Available model sizes: 70b"), "{e}");
        let e = run(
            &req("inference_llama3.3", "70b", "fp8", 1),
            GpuType::Gb200,
            &env(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Supported dtypes: nvfp4"), "{e}");
    }

    #[test]
    fn installed_list_is_checked_and_force_downgrades() {
        let c = catalog();
        let installed = vec!["inference_llama4".to_owned()];
        let e = env(&[]);
        let mut ctx = ValidateContext {
            catalog: &c,
            installed: Some(&installed),
            gpu_type: &GpuType::Gb200,
            gpus_per_node: None,
            env: &e,
            force: false,
        };
        let r = req("inference_llama3.3", "70b", "nvfp4", 1);
        let err = validate(&r, &ctx).unwrap_err().to_string();
        assert!(
            err.contains("Installed workloads: inference_llama4"),
            "{err}"
        );
        ctx.force = true;
        let s = validate(&r, &ctx).unwrap();
        assert!(matches!(s.warnings[0], ValidationWarning::Forced { .. }));
    }

    #[test]
    fn env_knobs_override_use_cases() {
        let s = run(
            &req("inference_llama3.3", "70b", "nvfp4", 1),
            GpuType::Gb200,
            &env(&[("USE_CASES", "chat:128/128"), ("NUM_REQUESTS", "40")]),
        )
        .unwrap();
        assert_eq!(s.use_cases.len(), 1);
        assert_eq!(s.use_cases[0].name, "chat");
        assert_eq!(s.use_cases[0].num_requests, Some(40));
        assert_eq!(
            s.use_cases[0].max_batch_size,
            Some(4096),
            "recipe's chat knobs kept"
        );
        assert_eq!(s.knobs["NUM_REQUESTS"], "40");

        let s = run(
            &req("inference_llama3.3", "70b", "nvfp4", 1),
            GpuType::Gb200,
            &env(&[
                ("USE_CASES", "summarization:8000/512"),
                ("STREAMING", "false"),
                ("SBATCH_TIMELIMIT", "1:00:00"),
            ]),
        )
        .unwrap();
        assert!(!s.streaming);
        assert_eq!(s.slurm.time_limit, Some(TimeLimit::minutes(60)));
        assert_eq!(s.slurm.sbatch_env["SBATCH_TIMELIMIT"], "1:00:00");
    }

    #[test]
    fn single_use_case_takes_its_time_limit_and_unknown_names_warn() {
        let s = run(
            &req("inference_llama3.3", "70b", "nvfp4", 1),
            GpuType::Gb200,
            &env(&[("USE_CASES", "generation:512/8000 qa:64/64")]),
        )
        .unwrap();
        assert_eq!(
            s.slurm.time_limit,
            Some(TimeLimit::minutes(30)),
            "two use cases: recipe default"
        );
        assert!(
            matches!(&s.warnings[0], ValidationWarning::UseCaseNotInRecipe { name, .. } if name == "qa")
        );
        assert_eq!(s.use_cases[1].max_batch_size, Some(640), "engine default");
        let s = run(
            &req("inference_llama3.3", "70b", "nvfp4", 1),
            GpuType::Gb200,
            &env(&[("USE_CASES", "generation:512/8000")]),
        )
        .unwrap();
        assert_eq!(s.slurm.time_limit, Some(TimeLimit::minutes(50)));
    }

    #[test]
    fn malformed_use_cases_and_bad_knobs_are_errors() {
        let e = run(
            &req("inference_llama3.3", "70b", "nvfp4", 1),
            GpuType::Gb200,
            &env(&[("USE_CASES", "chat:128")]),
        )
        .unwrap_err();
        assert!(matches!(e, ValidateError::Knob(_)));
        assert!(e.to_string().contains("USE_CASES"), "{e}");
    }

    #[test]
    fn params_become_uppercase_knobs() {
        let mut r = req("inference_llama4", "17b", "fp8", 8);
        r.params.insert("tp".into(), "4".into());
        r.params.insert("pp".into(), "2".into());
        let s = run(&r, GpuType::Gb200, &env(&[("TP", "8")])).unwrap();
        assert_eq!((s.parallelism.tp, s.parallelism.pp), (4, 2));
        assert_eq!(s.env_overrides["TP"], "4");
    }

    #[test]
    fn scale_rules() {
        let s = Scales {
            scales: vec![8, 16, 64],
            exact_scales: false,
        };
        assert_eq!(check_scale(16, &s), Ok(None));
        assert!(check_scale(4, &s)
            .unwrap_err()
            .contains("below the minimum"));
        assert!(check_scale(32, &s).unwrap_err().contains("between"));
        let w = check_scale(128, &s).unwrap().unwrap();
        assert!(
            w.to_string().contains("exceeds maximum tested scale"),
            "{w}"
        );
        let exact = Scales {
            scales: vec![8, 16],
            exact_scales: true,
        };
        assert!(check_scale(32, &exact).is_err());
    }

    #[test]
    fn partial_nodes_are_refused() {
        // A non-exact recipe that would accept 6 on gb200 (4 per node) by the scale rule.
        let mut c = catalog();
        let mut w = c.get("inference_llama4").unwrap().clone();
        w.recipe
            .gpus
            .get_mut(&GpuType::Gb200)
            .unwrap()
            .model_sizes
            .get_mut("17b")
            .unwrap()
            .insert(
                Dtype::Fp8,
                Scales {
                    scales: vec![4],
                    exact_scales: false,
                },
            );
        c.insert(w);
        let e = env(&[]);
        let ctx = ValidateContext {
            catalog: &c,
            installed: None,
            gpu_type: &GpuType::Gb200,
            gpus_per_node: None,
            env: &e,
            force: false,
        };
        let err = validate(&req("inference_llama4", "17b", "fp8", 6), &ctx).unwrap_err();
        assert_eq!(
            err,
            ValidateError::NotWholeNodes {
                scale: 6,
                gpus_per_node: 4
            }
        );
        assert!(err.to_string().contains("multiple of 4"), "{err}");
        let ok = validate(&req("inference_llama4", "17b", "fp8", 16), &ctx).unwrap();
        assert_eq!((ok.nodes, ok.ntasks_per_node), (4, 4));
        assert!(matches!(
            ok.warnings[0],
            ValidationWarning::ExceedsMaxTestedScale { .. }
        ));
    }

    #[test]
    fn every_builtin_validates_at_every_listed_point() {
        let c = catalog();
        let e = env(&[]);
        let mut n = 0;
        for w in c.iter() {
            for (gpu, cfg) in &w.recipe.gpus {
                for (size, dtypes) in &cfg.model_sizes {
                    for (dtype, scales) in dtypes {
                        for &scale in &scales.scales {
                            let ctx = ValidateContext {
                                catalog: &c,
                                installed: None,
                                gpu_type: gpu,
                                gpus_per_node: None,
                                env: &e,
                                force: false,
                            };
                            let s = validate(&req(&w.key, size, dtype.as_str(), scale), &ctx)
                                .unwrap_or_else(|e| {
                                    panic!("{} {gpu} {size} {dtype} {scale}: {e}", w.key)
                                });
                            assert!(s.warnings.is_empty(), "{}: {:?}", w.key, s.warnings);
                            // Every engine runs in a container but llama.cpp (on the host).
                            assert_eq!(
                                s.container_image.is_some(),
                                s.engine != EngineKind::LlamaCpp,
                                "{}",
                                w.key
                            );
                            assert!(!s.use_cases.is_empty());
                            n += 1;
                        }
                    }
                }
            }
        }
        // 9 points of the five seeds, 3 of the llama.cpp recipe (h100, b200, gb200 at scale 1).
        assert_eq!(n, 12);
    }
}
