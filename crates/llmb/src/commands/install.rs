//! The install folder: `llmb init` writes it, every other launch command finds it
//! (`$LLMB_INSTALL`, else `./cluster_config.yaml`, as llmb-run) and reads the workload catalog.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use llmb_recipe::cluster_config::{find_and_load, SchemaVersion, SlurmConfig, WorkloadsConfig};
use llmb_recipe::discover::{discover, Sources};
use llmb_recipe::{Catalog, ClusterConfig, GpuType};

use super::{bad, ExitStatus};
use crate::cli::launch::{InitArgs, ListArgs};

/// The subfolders of an install (reference 1.1).
pub const LAYOUT: [&str; 4] = ["images", "datasets", "workloads", ".llmb"];

/// A located install folder and its configuration.
#[derive(Debug)]
pub struct Install {
    /// `$LLMB_INSTALL`.
    pub dir: PathBuf,
    /// The cluster_config.yaml read.
    pub config_path: PathBuf,
    /// Its contents.
    pub config: ClusterConfig,
}

impl Install {
    /// Finds the install: `./cluster_config.yaml` first, then `$LLMB_INSTALL` (llmb-run's order).
    pub fn locate() -> anyhow::Result<Install> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        let env_dir = std::env::var("LLMB_INSTALL").ok();
        let (config_path, config) =
            find_and_load(&cwd, env_dir.as_deref()).map_err(|e| bad(e.to_string()))?;
        let dir = if config.llmb_install.is_absolute() {
            config.llmb_install.clone()
        } else {
            config_path
                .parent()
                .map_or_else(|| cwd.clone(), Path::to_path_buf)
        };
        Ok(Install {
            dir,
            config_path,
            config,
        })
    }

    /// Built-in recipes, plus NVIDIA `metadata.yaml` recipes when `llmb_repo` exists.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        let repo = Some(self.config.llmb_repo.clone()).filter(|p| p.is_dir());
        discover(&Sources {
            builtin: true,
            recipe_repo: repo,
            recipes_dir: None,
        })
        .map_err(|e| bad(e.to_string()))
    }

    /// `$LLMB_INSTALL/.llmb/jobs.sqlite3`.
    pub fn jobs_db(&self) -> PathBuf {
        self.dir.join(".llmb").join("jobs.sqlite3")
    }
}

/// The process environment as a map (knobs are read from it).
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

/// `InitArgs` once the required values are known.
struct ResolvedInit {
    install_dir: std::path::PathBuf,
    gpu_type: String,
    account: Option<String>,
    partition: Option<String>,
    gpus_per_node: Option<u32>,
    force: bool,
}

/// In a terminal, asks for what the flags left out (the install folder and GPU type, then
/// the optional Slurm account and partition); elsewhere, names the missing flags.
fn ask_for_missing(a: &mut InitArgs) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal};
    let interactive = std::io::stdin().is_terminal();
    let missing: Vec<&str> = [
        (a.install_dir.is_none(), "--install-dir DIR"),
        (
            a.gpu_type.is_none(),
            "--gpu-type h100|b200|b300|gb200|gb300",
        ),
    ]
    .iter()
    .filter(|(m, _)| *m)
    .map(|(_, f)| *f)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !interactive {
        return Err(bad(format!(
            "llmb init needs {} (not a terminal, so nothing is asked)",
            missing.join(" and ")
        )));
    }
    let ask = |question: &str| -> anyhow::Result<Option<String>> {
        let mut err = std::io::stderr().lock();
        write!(err, "{question}: ")?;
        err.flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let v = line.trim().to_owned();
        Ok((!v.is_empty()).then_some(v))
    };
    if a.install_dir.is_none() {
        a.install_dir = ask("Install folder (becomes $LLMB_INSTALL)")?.map(Into::into);
    }
    if a.gpu_type.is_none() {
        a.gpu_type = ask("GPU type of the cluster (h100, b200, b300, gb200, gb300)")?;
    }
    if a.account.is_none() {
        a.account = ask("Slurm account (empty: none)")?;
    }
    if a.partition.is_none() {
        a.partition = ask("Slurm GPU partition (empty: the default)")?;
    }
    if a.install_dir.is_none() || a.gpu_type.is_none() {
        return Err(bad("llmb init needs an install folder and a GPU type"));
    }
    Ok(())
}

/// `llmb init`.
pub async fn init(mut a: InitArgs) -> anyhow::Result<ExitStatus> {
    ask_for_missing(&mut a)?;
    let (Some(install_dir), Some(gpu_type)) = (a.install_dir.clone(), a.gpu_type.clone()) else {
        unreachable!("ask_for_missing fills both or fails");
    };
    let a = ResolvedInit {
        install_dir,
        gpu_type,
        account: a.account,
        partition: a.partition,
        gpus_per_node: a.gpus_per_node,
        force: a.force,
    };
    let gpu: GpuType = a.gpu_type.parse().map_err(bad)?;
    if a.gpus_per_node == Some(0) {
        return Err(bad("--gpus-per-node must be at least 1"));
    }
    if gpu.default_gpus_per_node().is_none() && a.gpus_per_node.is_none() {
        return Err(bad(format!(
            "GPU type `{gpu}` has no default GPUs per node; pass --gpus-per-node"
        )));
    }
    std::fs::create_dir_all(&a.install_dir)
        .with_context(|| format!("cannot create {}", a.install_dir.display()))?;
    let dir = a
        .install_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", a.install_dir.display()))?;
    let path = dir.join("cluster_config.yaml");
    if path.exists() && !a.force {
        return Err(bad(format!(
            "{} already exists; pass --force to replace it, or edit it",
            path.display()
        )));
    }
    for sub in LAYOUT {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    let cfg = ClusterConfig {
        schema: SchemaVersion::V2,
        llmb_repo: dir.join("llmb_repo"),
        llmb_install: dir.clone(),
        gpu_type: gpu,
        cluster_name: None,
        node_architecture: Some(std::env::consts::ARCH.to_owned()),
        gpus_per_node: a.gpus_per_node,
        // Secrets are passed through from the submitting shell, never written.
        environment: BTreeMap::from([(
            "HF_TOKEN".to_owned(),
            llmb_recipe::cluster_config::EnvValue::PassThrough,
        )]),
        slurm: SlurmConfig {
            account: a.account,
            gpu_partition: a.partition,
            ..SlurmConfig::default()
        },
        workloads: WorkloadsConfig::default(),
    };
    let text = cfg.to_yaml().map_err(|e| bad(e.to_string()))?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Created {} ({})", dir.display(), LAYOUT.join(", "))?;
    writeln!(out, "Wrote {}", path.display())?;
    writeln!(out, "Next: export LLMB_INSTALL={}", dir.display())?;
    Ok(ExitStatus::OK)
}

/// `llmb list`.
pub async fn list(a: ListArgs) -> anyhow::Result<ExitStatus> {
    let install = Install::locate()?;
    let catalog = install.catalog()?;
    let gpu = &install.config.gpu_type;
    if let Some(w) = &a.workload {
        if catalog.get(w).is_none() {
            return Err(bad(format!(
                "unknown workload `{w}`. Available workloads: {}",
                catalog.keys().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Workloads for GPU type {gpu} ({}):",
        install.config_path.display()
    )?;
    let mut shown = 0;
    for w in catalog.iter() {
        if a.workload.as_deref().is_some_and(|k| k != w.key) {
            continue;
        }
        if !install.config.is_installed(&w.key) {
            continue;
        }
        let Some(cfg) = w.recipe.gpus.get(gpu) else {
            if a.workload.is_some() {
                let gpus: Vec<String> = w.recipe.gpus.keys().map(ToString::to_string).collect();
                return Err(bad(format!(
                    "workload `{}` does not support GPU type `{gpu}`. Supported GPU types: {}",
                    w.key,
                    gpus.join(", ")
                )));
            }
            continue;
        };
        shown += 1;
        writeln!(out, "  {}", w.key)?;
        for (size, dtypes) in &cfg.model_sizes {
            for (dtype, scales) in dtypes {
                let list: Vec<String> = scales.scales.iter().map(ToString::to_string).collect();
                writeln!(
                    out,
                    "    {size}  {dtype}  scales: {}{}",
                    list.join(", "),
                    if scales.exact_scales { " (exact)" } else { "" }
                )?;
            }
        }
    }
    if shown == 0 {
        writeln!(out, "  (none support {gpu})")?;
    }
    Ok(ExitStatus::OK)
}
