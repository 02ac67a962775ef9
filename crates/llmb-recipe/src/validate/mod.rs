//! llmb-run's validation order (workload → installed → GPU type → model size → dtype → scale),
//! then node fit, disaggregated layout and environment knobs, producing the fully resolved
//! [`RunSpec`] that launchers consume. Every error lists what is available.
//!
//! `request` (what is asked), `error` (refusals and warnings) and `spec` (the result) hold the
//! types; the checks, in order, are here.

mod error;
mod request;
mod spec;

pub use error::{ValidateError, ValidationWarning};
pub use request::{RunRequest, ValidateContext};
pub use spec::{ResolvedUseCase, RunSpec, SlurmSpec};

use crate::knobs::{Knobs, PoolKnobs};
use crate::recipe::{Disaggregated, GpuConfig, Pool, Scales, UseCaseConfig};
use crate::types::Dtype;

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
mod tests;
