//! Before anything starts: every engine's program is on `PATH`, or its image can run
//! (Slurm with pyxis). Errors name the engine, what is missing and how to install it.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::plan::Plan;
use llmb_engines::{self as engine};

use super::place::program_of;

/// Checks, before anything starts, that every engine of the plan can be started here: the
/// program exists (or, for a container image, that srun has pyxis's `--container-image`).
/// The message says which engine, what is missing and how to install it.
pub fn preflight(plan: &Plan, in_slurm: bool) -> Result<(), String> {
    let mut pyxis: Option<bool> = None;
    let mut engines = Vec::new();
    for (_, s) in plan.servers() {
        let spec = s
            .engine_spec(0)
            .map_err(|e| format!("server {}: {e}", s.name))?;
        engines.push((program_of(plan, s, &spec), spec));
    }
    for step in plan.use_cases.iter().flat_map(|u| &u.steps) {
        if let Some(o) = &step.offline {
            let spec = engine::spec(o.engine, &o.settings)
                .map_err(|e| format!("step {}: {e}", step.name))?;
            engines.push((spec.program.clone(), spec));
        }
    }
    for (program, spec) in engines {
        if let Some(image) = &spec.image {
            if !in_slurm {
                return Err(format!(
                    "{} runs in the container image {image}, which needs a Slurm cluster with the pyxis plugin (srun --container-image); submit with --launcher slurm, or use --engine sim to run without it",
                    spec.kind.name()
                ));
            }
            if !*pyxis.get_or_insert_with(srun_has_pyxis) {
                return Err(format!(
                    "{} runs in the container image {image}, but this cluster's srun has no --container-image: install enroot and the pyxis Slurm plugin (https://github.com/NVIDIA/pyxis), or use --engine sim",
                    spec.kind.name()
                ));
            }
        } else if find_program(&program).is_none() {
            return Err(format!(
                "{} needs `{program}`, which is not on PATH ({}); install it: {}",
                spec.kind.name(),
                std::env::var("PATH").unwrap_or_default(),
                spec.install_hint
            ));
        }
    }
    Ok(())
}

/// `srun --help` lists `--container-image` when the pyxis plugin is loaded.
pub(super) fn srun_has_pyxis() -> bool {
    std::process::Command::new("srun")
        .arg("--help")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--container-image"))
}

/// An executable file: `program` itself when it holds a `/`, else the first on `PATH`.
pub(super) fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exe = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exe(&p).then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| is_exe(p))
    })
}
