//! `cluster_config.yaml`: the legacy (v25.07) and schema-v2 layouts, where it is looked up,
//! GPUs per node, the Slurm → `SBATCH_*` mapping, the installed-workloads list, and the
//! writer `llmb init` uses.
//!
//! Secrets are never written: in the `environment` maps a value is either a non-secret
//! literal or `null`, which means "pass this variable through from the submitting shell".
//! [`ClusterConfig::to_yaml`] refuses literal values for names that look secret
//! ([`looks_secret`]); [`ClusterConfig::scrub_secrets`] turns
//! such values read from a legacy file into pass-throughs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{from_yaml, LoadError};
use crate::types::{GpuType, Scalar};

/// Which layout the file used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaVersion {
    /// v25.07: `launcher:{gpu_type, llmb_install, llmb_repo}`, flat `slurm` keys.
    Legacy,
    /// `schema_version: 2`: top-level keys, `slurm.gpu/cpu` sections.
    V2,
}

/// One environment entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// `NAME: null` — take the value from the submitting shell at submit time.
    PassThrough,
    /// A literal, non-secret value.
    Value(String),
}

impl Serialize for EnvValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EnvValue::PassThrough => s.serialize_none(),
            EnvValue::Value(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Scalar>::deserialize(d)? {
            None => EnvValue::PassThrough,
            Some(Scalar(v)) => EnvValue::Value(v),
        })
    }
}

/// Slurm settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmConfig {
    /// `--account`.
    pub account: Option<String>,
    /// GPU partition.
    pub gpu_partition: Option<String>,
    /// GPUs per node for `--gres`/`SBATCH_GPUS_PER_NODE` (unset when the cluster has no GRES).
    pub gpu_gres: Option<String>,
    /// CPU partition (installs, post-processing).
    pub cpu_partition: Option<String>,
    /// CPU GRES.
    pub cpu_gres: Option<String>,
    /// Schema v2 extra keys: bare keys become `SBATCH_<UPPER>`, `SBATCH_*`/`SLURM_*` pass as is.
    pub extra: BTreeMap<String, String>,
}

/// Per-workload settings written by the installer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadConfig {
    /// Virtual environment path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venv_path: Option<String>,
    /// `venv`, `conda` or `uv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venv_type: Option<String>,
    /// Extra environment for this workload's jobs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, EnvValue>,
}

/// `workloads:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadsConfig {
    /// Installed workload keys.
    #[serde(default)]
    pub installed: Vec<String>,
    /// Per-workload settings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, WorkloadConfig>,
}

/// A cluster configuration, whichever layout it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Layout it was read from (the writer always writes v2).
    pub schema: SchemaVersion,
    /// Clone of the recipe repository (`$LLMB_REPO`).
    pub llmb_repo: PathBuf,
    /// Install root (`$LLMB_INSTALL`).
    pub llmb_install: PathBuf,
    /// The cluster's GPU type.
    pub gpu_type: GpuType,
    /// Cluster name for reports.
    pub cluster_name: Option<String>,
    /// `x86_64` or `aarch64`.
    pub node_architecture: Option<String>,
    /// GPUs per node, overriding the GPU type's default (llmb extension).
    pub gpus_per_node: Option<u32>,
    /// Environment exported into every job (names to pass through, or non-secret values).
    pub environment: BTreeMap<String, EnvValue>,
    /// Slurm settings.
    pub slurm: SlurmConfig,
    /// Installed workloads.
    pub workloads: WorkloadsConfig,
}

/// Errors finding, reading or writing a cluster config.
#[derive(Debug, thiserror::Error)]
pub enum ClusterConfigError {
    /// No file in any looked-up place.
    #[error("no cluster_config.yaml found (looked in: {}); run `llmb init` or set LLMB_INSTALL to your install folder", join_paths(.searched))]
    NotFound {
        /// The candidates, in order.
        searched: Vec<PathBuf>,
    },
    /// The file did not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A literal value that looks like a secret would have been written.
    #[error("refusing to write `{name}` into cluster_config.yaml: it looks like a secret; keep it in your shell and write `{name}: null` so it is passed through")]
    Secret {
        /// The variable name.
        name: String,
    },
    /// No GPUs-per-node for this GPU type.
    #[error("GPUs per node unknown for GPU type `{gpu}`; set `gpus_per_node:` in cluster_config.yaml or GPUS_PER_NODE")]
    UnknownGpusPerNode {
        /// The GPU type.
        gpu: GpuType,
    },
    /// YAML serialization failed.
    #[error("failed to serialize cluster_config.yaml: {0}")]
    Serialize(String),
}

fn join_paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where llmb-run looks, in order: `<cwd>/cluster_config.yaml`, then
/// `$LLMB_INSTALL/cluster_config.yaml` (the env value is a parameter; nothing reads env here).
pub fn candidates(cwd: &Path, llmb_install: Option<&str>) -> Vec<PathBuf> {
    let mut v = vec![cwd.join("cluster_config.yaml")];
    if let Some(dir) = llmb_install.filter(|d| !d.is_empty()) {
        v.push(Path::new(dir).join("cluster_config.yaml"));
    }
    v
}

/// The first candidate for which `exists` is true.
pub fn locate(
    cwd: &Path,
    llmb_install: Option<&str>,
    exists: impl Fn(&Path) -> bool,
) -> Result<PathBuf, ClusterConfigError> {
    let searched = candidates(cwd, llmb_install);
    searched
        .iter()
        .find(|p| exists(p))
        .cloned()
        .ok_or(ClusterConfigError::NotFound { searched })
}

/// Finds (on disk) and loads the cluster config.
pub fn find_and_load(
    cwd: &Path,
    llmb_install: Option<&str>,
) -> Result<(PathBuf, ClusterConfig), ClusterConfigError> {
    let path = locate(cwd, llmb_install, Path::is_file)?;
    let text = crate::error::read_file(&path)?;
    let cfg = ClusterConfig::from_yaml(&text, &path.display().to_string())?;
    Ok((path, cfg))
}

#[derive(Deserialize)]
struct RawLegacy {
    launcher: RawLauncher,
    #[serde(default)]
    environment: BTreeMap<String, EnvValue>,
    #[serde(default)]
    slurm: RawLegacySlurm,
    #[serde(default)]
    workloads: WorkloadsConfig,
    #[serde(default)]
    gpus_per_node: Option<u32>,
}

#[derive(Deserialize)]
struct RawLauncher {
    llmb_repo: PathBuf,
    llmb_install: PathBuf,
    gpu_type: GpuType,
    #[serde(default)]
    cluster_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawLegacySlurm {
    #[serde(default)]
    account: Option<Scalar>,
    #[serde(default)]
    gpu_partition: Option<Scalar>,
    #[serde(default)]
    gpu_gres: Option<Scalar>,
    #[serde(default)]
    cpu_partition: Option<Scalar>,
    #[serde(default)]
    cpu_gres: Option<Scalar>,
}

#[derive(Deserialize, Serialize)]
struct RawV2 {
    schema_version: u32,
    llmb_repo: PathBuf,
    llmb_install: PathBuf,
    gpu_type: GpuType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gpus_per_node: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    install: Option<RawInstall>,
    #[serde(default)]
    environment: BTreeMap<String, EnvValue>,
    #[serde(default)]
    slurm: RawV2Slurm,
    #[serde(default)]
    workloads: WorkloadsConfig,
}

#[derive(Deserialize, Serialize)]
struct RawInstall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_architecture: Option<String>,
}

#[derive(Deserialize, Serialize, Default)]
struct RawV2Slurm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<Scalar>,
    #[serde(default)]
    gpu: RawPartition,
    #[serde(default)]
    cpu: RawPartition,
    #[serde(flatten)]
    extra: BTreeMap<String, Option<Scalar>>,
}

#[derive(Deserialize, Serialize, Default)]
struct RawPartition {
    #[serde(default)]
    partition: Option<Scalar>,
    #[serde(default)]
    gres: Option<Scalar>,
}

fn s(v: Option<Scalar>) -> Option<String> {
    v.map(|s| s.0).filter(|s| !s.is_empty())
}

impl ClusterConfig {
    /// Parses either layout (`schema_version: 2` selects v2); `file` names it in errors.
    /// Unknown keys are ignored, as llmb-run ignores them.
    pub fn from_yaml(text: &str, file: &str) -> Result<ClusterConfig, LoadError> {
        let probe: serde_yaml_ng::Value = from_yaml(text, file)?;
        let version = probe
            .get("schema_version")
            .and_then(serde_yaml_ng::Value::as_u64);
        match version {
            None if probe.get("schema_version").is_some() => Err(LoadError::invalid(
                file,
                "schema_version",
                "is not a whole number",
                "write `schema_version: 2`",
            )),
            None => {
                let r: RawLegacy = from_yaml(text, file)?;
                Ok(ClusterConfig {
                    schema: SchemaVersion::Legacy,
                    llmb_repo: r.launcher.llmb_repo,
                    llmb_install: r.launcher.llmb_install,
                    gpu_type: r.launcher.gpu_type,
                    cluster_name: r.launcher.cluster_name,
                    node_architecture: None,
                    gpus_per_node: r.gpus_per_node,
                    environment: r.environment,
                    slurm: SlurmConfig {
                        account: s(r.slurm.account),
                        gpu_partition: s(r.slurm.gpu_partition),
                        gpu_gres: s(r.slurm.gpu_gres),
                        cpu_partition: s(r.slurm.cpu_partition),
                        cpu_gres: s(r.slurm.cpu_gres),
                        extra: BTreeMap::new(),
                    },
                    workloads: r.workloads,
                })
            }
            Some(2) => {
                let r: RawV2 = from_yaml(text, file)?;
                Ok(ClusterConfig {
                    schema: SchemaVersion::V2,
                    llmb_repo: r.llmb_repo,
                    llmb_install: r.llmb_install,
                    gpu_type: r.gpu_type,
                    cluster_name: r.cluster_name,
                    node_architecture: r.install.and_then(|i| i.node_architecture),
                    gpus_per_node: r.gpus_per_node,
                    environment: r.environment,
                    slurm: SlurmConfig {
                        account: s(r.slurm.account),
                        gpu_partition: s(r.slurm.gpu.partition),
                        gpu_gres: s(r.slurm.gpu.gres),
                        cpu_partition: s(r.slurm.cpu.partition),
                        cpu_gres: s(r.slurm.cpu.gres),
                        extra: r
                            .slurm
                            .extra
                            .into_iter()
                            .filter_map(|(k, v)| s(v).map(|v| (k, v)))
                            .collect(),
                    },
                    workloads: r.workloads,
                })
            }
            Some(v) => Err(LoadError::invalid(
                file,
                "schema_version",
                format!("version {v} is not supported"),
                "use `schema_version: 2` or the legacy layout without schema_version",
            )),
        }
    }

    /// GPUs per node: `env_override` (`GPUS_PER_NODE`) > `gpus_per_node:` > the GPU type's default.
    pub fn gpus_per_node(&self, env_override: Option<u32>) -> Result<u32, ClusterConfigError> {
        env_override
            .or(self.gpus_per_node)
            .or_else(|| self.gpu_type.default_gpus_per_node())
            .ok_or_else(|| ClusterConfigError::UnknownGpusPerNode {
                gpu: self.gpu_type.clone(),
            })
    }

    /// The `SBATCH_*` variables the Slurm section implies (`account → SBATCH_ACCOUNT`,
    /// `gpu partition → SBATCH_PARTITION`, `gpu gres → SBATCH_GPUS_PER_NODE`, v2 extras).
    pub fn slurm_env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let sl = &self.slurm;
        for (k, v) in [
            ("SBATCH_ACCOUNT", &sl.account),
            ("SBATCH_PARTITION", &sl.gpu_partition),
            ("SBATCH_GPUS_PER_NODE", &sl.gpu_gres),
        ] {
            if let Some(v) = v {
                env.insert(k.to_owned(), v.clone());
            }
        }
        for (k, v) in &sl.extra {
            let name = if k.starts_with("SBATCH_") || k.starts_with("SLURM_") {
                k.clone()
            } else {
                format!("SBATCH_{}", k.to_ascii_uppercase())
            };
            env.insert(name, v.clone());
        }
        env
    }

    /// Whether `key` may run: true when the installed list is empty (nothing recorded) or
    /// contains it.
    pub fn is_installed(&self, key: &str) -> bool {
        self.workloads.installed.is_empty() || self.workloads.installed.iter().any(|k| k == key)
    }

    /// Resolves `environment` against the submitting shell: literal values as written,
    /// pass-throughs from `shell` (names missing there are returned separately).
    pub fn job_environment(
        &self,
        shell: &BTreeMap<String, String>,
    ) -> (BTreeMap<String, String>, Vec<String>) {
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for (k, v) in &self.environment {
            match v {
                EnvValue::Value(v) => {
                    out.insert(k.clone(), v.clone());
                }
                EnvValue::PassThrough => match shell.get(k) {
                    Some(v) => {
                        out.insert(k.clone(), v.clone());
                    }
                    None => missing.push(k.clone()),
                },
            }
        }
        (out, missing)
    }

    /// Turns literal values of secret-looking names into pass-throughs; returns their names.
    pub fn scrub_secrets(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        let maps = std::iter::once(&mut self.environment).chain(
            self.workloads
                .config
                .values_mut()
                .map(|w| &mut w.environment),
        );
        for m in maps {
            for (k, v) in m.iter_mut() {
                if looks_secret(k) && matches!(v, EnvValue::Value(_)) {
                    *v = EnvValue::PassThrough;
                    names.push(k.clone());
                }
            }
        }
        names
    }

    /// Writes the config in schema v2. Fails with [`ClusterConfigError::Secret`] if any
    /// secret-looking name holds a literal value.
    pub fn to_yaml(&self) -> Result<String, ClusterConfigError> {
        let maps = std::iter::once(&self.environment)
            .chain(self.workloads.config.values().map(|w| &w.environment));
        for m in maps {
            for (k, v) in m {
                if looks_secret(k) && matches!(v, EnvValue::Value(_)) {
                    return Err(ClusterConfigError::Secret { name: k.clone() });
                }
            }
        }
        let sc = |v: &Option<String>| v.clone().map(Scalar);
        let raw = RawV2 {
            schema_version: 2,
            llmb_repo: self.llmb_repo.clone(),
            llmb_install: self.llmb_install.clone(),
            gpu_type: self.gpu_type.clone(),
            cluster_name: self.cluster_name.clone(),
            gpus_per_node: self.gpus_per_node,
            install: self.node_architecture.clone().map(|a| RawInstall {
                node_architecture: Some(a),
            }),
            environment: self.environment.clone(),
            slurm: RawV2Slurm {
                account: sc(&self.slurm.account),
                gpu: RawPartition {
                    partition: sc(&self.slurm.gpu_partition),
                    gres: sc(&self.slurm.gpu_gres),
                },
                cpu: RawPartition {
                    partition: sc(&self.slurm.cpu_partition),
                    gres: sc(&self.slurm.cpu_gres),
                },
                extra: self
                    .slurm
                    .extra
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(Scalar(v.clone()))))
                    .collect(),
            },
            workloads: self.workloads.clone(),
        };
        let body = serde_yaml_ng::to_string(&raw)
            .map_err(|e| ClusterConfigError::Serialize(e.to_string()))?;
        Ok(format!(
            "# Written by `llmb init`. Secrets are never stored here: an environment entry\n\
             # `NAME: null` is passed through from the shell that submits the job.\n{body}"
        ))
    }
}

/// Whether a variable name looks like it holds a secret: `HF_TOKEN`, `*_TOKEN`, `*_KEY`,
/// `*API_KEY*`, `*SECRET*`, `*PASSWORD*`, `*PASSWD*`, `*CREDENTIAL*`. The one rule for
/// every file llmb writes (cluster_config.yaml, provenance files, dry runs).
///
/// Knobs are not secrets: `MAX_NUM_TOKENS` ends in `_TOKENS`, `TOKENIZER` is a path.
pub fn looks_secret(name: &str) -> bool {
    let k = name.to_ascii_uppercase();
    k.ends_with("_TOKEN")
        || k.ends_with("_KEY")
        || ["API_KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"]
            .iter()
            .any(|w| k.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &str = "\
launcher:
  llmb_repo: /repo
  llmb_install: /install
  gpu_type: gb200
environment:
  HF_TOKEN: hf_abc
slurm:
  account: acct
  gpu_partition: batch
  gpu_gres: 4
  cpu_partition: cpu
  cpu_gres: null
workloads:
  installed: [inference_llama3.3, inference_llama4]
  config:
    inference_llama3.3: {venv_path: /v, venv_type: venv, environment: {FOO: bar}}
some_future_key: ignored
";

    const V2: &str = "\
schema_version: 2
llmb_repo: /repo
llmb_install: /install
gpu_type: h100
cluster_name: eos
install: {node_architecture: x86_64}
environment: {HF_TOKEN: null}
slurm:
  account: acct
  gpu: {partition: gpu, gres: 8}
  cpu: {partition: cpu}
  qos: high
  SBATCH_RESERVATION: r1
workloads: {installed: []}
";

    #[test]
    fn legacy_layout() {
        let c = ClusterConfig::from_yaml(LEGACY, "cluster_config.yaml").unwrap();
        assert_eq!(c.schema, SchemaVersion::Legacy);
        assert_eq!(c.gpu_type, GpuType::Gb200);
        assert_eq!(c.gpus_per_node(None).unwrap(), 4);
        assert_eq!(c.gpus_per_node(Some(2)).unwrap(), 2);
        let env = c.slurm_env();
        assert_eq!(env["SBATCH_ACCOUNT"], "acct");
        assert_eq!(env["SBATCH_PARTITION"], "batch");
        assert_eq!(env["SBATCH_GPUS_PER_NODE"], "4");
        assert!(c.is_installed("inference_llama4"));
        assert!(!c.is_installed("inference_nim-llama3"));
        assert_eq!(c.environment["HF_TOKEN"], EnvValue::Value("hf_abc".into()));
    }

    #[test]
    fn v2_layout() {
        let c = ClusterConfig::from_yaml(V2, "c.yaml").unwrap();
        assert_eq!(c.schema, SchemaVersion::V2);
        assert_eq!(c.gpus_per_node(None).unwrap(), 8);
        assert_eq!(c.node_architecture.as_deref(), Some("x86_64"));
        let env = c.slurm_env();
        assert_eq!(env["SBATCH_PARTITION"], "gpu");
        assert_eq!(env["SBATCH_GPUS_PER_NODE"], "8");
        assert_eq!(env["SBATCH_QOS"], "high");
        assert_eq!(env["SBATCH_RESERVATION"], "r1");
        assert!(c.is_installed("anything"));
        let shell = BTreeMap::from([("HF_TOKEN".to_owned(), "t".to_owned())]);
        let (env, missing) = c.job_environment(&shell);
        assert_eq!(env["HF_TOKEN"], "t");
        assert!(missing.is_empty());
    }

    #[test]
    fn lookup_order_cwd_then_install() {
        let cwd = Path::new("/work");
        let both = |_: &Path| true;
        assert_eq!(
            locate(cwd, Some("/inst"), both).unwrap(),
            Path::new("/work/cluster_config.yaml")
        );
        let only_install = |p: &Path| p.starts_with("/inst");
        assert_eq!(
            locate(cwd, Some("/inst"), only_install).unwrap(),
            Path::new("/inst/cluster_config.yaml")
        );
        let e = locate(cwd, None, |_| false).unwrap_err().to_string();
        assert!(
            e.contains("/work/cluster_config.yaml") && e.contains("LLMB_INSTALL"),
            "{e}"
        );
    }

    #[test]
    fn writer_never_writes_secrets_and_round_trips() {
        let mut c = ClusterConfig::from_yaml(LEGACY, "c.yaml").unwrap();
        let e = c.to_yaml().unwrap_err();
        assert!(e.to_string().contains("HF_TOKEN: null"), "{e}");
        assert_eq!(c.scrub_secrets(), ["HF_TOKEN"]);
        let text = c.to_yaml().unwrap();
        assert!(!text.contains("hf_abc"), "{text}");
        let back = ClusterConfig::from_yaml(&text, "c.yaml").unwrap();
        assert_eq!(back.schema, SchemaVersion::V2);
        assert_eq!(back.environment["HF_TOKEN"], EnvValue::PassThrough);
        assert_eq!(back.slurm, c.slurm);
        assert_eq!(back.workloads, c.workloads);
    }

    #[test]
    fn missing_required_key_is_located() {
        let e = ClusterConfig::from_yaml("launcher: {llmb_repo: /r, gpu_type: h100}\n", "c.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.yaml:1:"), "{e}");
        assert!(e.contains("llmb_install"), "{e}");
    }
}
