//! The install folder: `llmb init` creates it (its layout and `cluster_config.yaml`), every
//! other launch command finds it (`./cluster_config.yaml` first, then `$LLMB_INSTALL`, as
//! llmb-run) and reads the workload catalog and the jobs store from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use llmb_recipe::cluster_config::{
    find_and_load, EnvValue, SchemaVersion, SlurmConfig, WorkloadsConfig,
};
use llmb_recipe::discover::{discover, Sources};
use llmb_recipe::{Catalog, ClusterConfig, GpuType};
use llmb_settings::invalid;

/// The subfolders of an install (reference 1.1).
pub const LAYOUT: [&str; 4] = ["images", "datasets", "workloads", ".llmb"];

/// A located install folder and its configuration.
#[derive(Debug, Clone)]
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
    ///
    /// # Errors
    /// No configuration found, or one that does not parse ([`Invalid`](llmb_settings::Invalid)).
    pub fn locate() -> anyhow::Result<Install> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        let env_dir = std::env::var("LLMB_INSTALL").ok();
        let (config_path, config) =
            find_and_load(&cwd, env_dir.as_deref()).map_err(|e| invalid(e.to_string()))?;
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
    ///
    /// # Errors
    /// A recipe that does not parse ([`Invalid`](llmb_settings::Invalid)), named.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        let repo = Some(self.config.llmb_repo.clone()).filter(|p| p.is_dir());
        discover(&Sources {
            builtin: true,
            recipe_repo: repo,
            recipes_dir: None,
        })
        .map_err(|e| invalid(e.to_string()))
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

/// What `llmb init` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// The install folder (created).
    pub install_dir: PathBuf,
    /// The cluster's GPU type, as `llmb init --gpu-type` spells it.
    pub gpu_type: String,
    /// Slurm account.
    pub account: Option<String>,
    /// Slurm GPU partition.
    pub partition: Option<String>,
    /// GPUs per node, when the GPU type has no default.
    pub gpus_per_node: Option<u32>,
    /// Replace an existing `cluster_config.yaml`.
    pub force: bool,
}

/// Creates the install folder, its layout and `cluster_config.yaml`; returns the folder
/// (absolute) and the file.
///
/// # Errors
/// A GPU type llmb does not know, one without a default GPU count and no
/// `--gpus-per-node`, an existing configuration without `--force`
/// ([`Invalid`](llmb_settings::Invalid)); a folder that cannot be written.
pub fn init(a: &InitOptions) -> anyhow::Result<(PathBuf, PathBuf)> {
    let gpu: GpuType = a.gpu_type.parse().map_err(invalid)?;
    if a.gpus_per_node == Some(0) {
        return Err(invalid("--gpus-per-node must be at least 1"));
    }
    if gpu.default_gpus_per_node().is_none() && a.gpus_per_node.is_none() {
        return Err(invalid(format!(
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
        return Err(invalid(format!(
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
        environment: BTreeMap::from([("HF_TOKEN".to_owned(), EnvValue::PassThrough)]),
        slurm: SlurmConfig {
            account: a.account.clone(),
            gpu_partition: a.partition.clone(),
            ..SlurmConfig::default()
        },
        workloads: WorkloadsConfig::default(),
    };
    let text = cfg.to_yaml().map_err(|e| invalid(e.to_string()))?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((dir, path))
}
