//! The provenance file `llmb-config_<JOBID>.yaml` written next to each submitted job, and
//! the redaction that keeps secrets out of it.
//!
//! The keys follow llmb-run's file (`job_info`, `workload_info`, `model_info`,
//! `cluster_info`, `container_info`, `job_config`) so existing tooling can read ours.
//! [`render()`] and [`write()`] always redact: values under secret-looking keys (see
//! [`is_secret_key`]) and any string containing a known secret value become `<redacted>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_yaml_ng::Value;

use crate::time::UtcTime;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Secret values shorter than this are not searched for inside other values (they would
/// match too much); they are still redacted under their own key.
const MIN_SECRET_LEN: usize = 4;

/// Everything recorded about one submitted job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// The job itself.
    pub job_info: JobInfo,
    /// The workload (recipe) it runs.
    pub workload_info: WorkloadInfo,
    /// The model and its configuration.
    pub model_info: ModelInfo,
    /// Where it runs.
    pub cluster_info: ClusterInfo,
    /// The container images it uses.
    pub container_info: ContainerInfo,
    /// User choices for this job.
    pub job_config: JobConfig,
}

/// `job_info`: the job id and when it was submitted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobInfo {
    /// Slurm job id, or a local id.
    pub job_id: String,
    /// Submission time (ISO 8601 UTC).
    pub launch_time: UtcTime,
}

/// `workload_info`: what the recipe is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadInfo {
    /// Framework, e.g. `trtllm`.
    pub framework: String,
    /// Benchmark collection version, e.g. `25.07`.
    pub gsw_version: String,
    /// Framework version (the tag of the first image), if known.
    pub fw_version: Option<String>,
    /// Workload type, e.g. `inference`.
    pub workload_type: String,
    /// Whether the dataset is synthetic.
    pub synthetic_dataset: bool,
}

/// `model_info`: the model run and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// Model name, e.g. `llama3.3`.
    pub model_name: String,
    /// Model size, e.g. `70b`.
    pub model_size: String,
    /// Data type, e.g. `fp8`.
    pub dtype: String,
    /// Total GPUs.
    pub scale: u32,
    /// GPU type, e.g. `h100`.
    pub gpu_type: String,
}

/// `cluster_info`: the machine and install.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInfo {
    /// Slurm's `ClusterName`, if known.
    pub cluster_name: Option<String>,
    /// GPUs per node.
    pub gpus_per_node: u32,
    /// `$LLMB_INSTALL`.
    pub llmb_install: PathBuf,
    /// The recipe repository, if known.
    pub llmb_repo: Option<PathBuf>,
    /// Slurm account.
    pub slurm_account: Option<String>,
    /// Slurm partition for GPU jobs.
    pub slurm_gpu_partition: Option<String>,
}

/// `container_info`: the images the job uses.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ContainerInfo {
    /// Image references or files.
    pub images: Vec<String>,
}

/// `job_config`: what the user chose for this job.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct JobConfig {
    /// Whether a profiled run was requested.
    pub profile_enabled: bool,
    /// Environment variables set for the job (`--env K=V`, cluster and task overrides).
    pub env_overrides: BTreeMap<String, String>,
    /// Model parameters overridden for the job (`TP=8`, …).
    pub model_overrides: BTreeMap<String, String>,
    /// The experiment this job belongs to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
}

/// Known secret values to keep out of files, wherever they appear.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// No known secret values (secret-looking keys are still redacted).
    pub fn none() -> Secrets {
        Secrets::default()
    }

    /// These values are secret.
    pub fn new<I, S>(values: I) -> Secrets
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut values: Vec<String> = values
            .into_iter()
            .map(Into::into)
            .filter(|v| !v.is_empty())
            .collect();
        values.sort();
        values.dedup();
        Secrets { values }
    }

    /// The values of the secret-looking variables in an environment, e.g.
    /// `Secrets::from_env(std::env::vars())` in the binary.
    pub fn from_env<I, K, V>(vars: I) -> Secrets
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        Secrets::new(
            vars.into_iter()
                .filter(|(k, _)| is_secret_key(k.as_ref()))
                .map(|(_, v)| v.into()),
        )
    }

    /// Whether `text` is, or contains, a known secret value.
    pub fn appears_in(&self, text: &str) -> bool {
        self.values
            .iter()
            .any(|s| text == s || (s.len() >= MIN_SECRET_LEN && text.contains(s.as_str())))
    }
}

/// Whether a key names a secret (case-insensitive): the rule cluster_config.yaml is written by
/// ([`llmb_recipe::cluster_config::looks_secret`]).
pub fn is_secret_key(key: &str) -> bool {
    llmb_recipe::cluster_config::looks_secret(key)
}

/// Replace, anywhere in `value`, what sits under a secret-looking key and every string
/// containing a known secret with `<redacted>`.
pub fn redact(value: &mut Value, secrets: &Secrets) {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                if k.as_str().is_some_and(is_secret_key) {
                    *v = Value::String(REDACTED.to_string());
                } else {
                    redact(v, secrets);
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(|v| redact(v, secrets)),
        Value::Tagged(tagged) => redact(&mut tagged.value, secrets),
        Value::String(s) if secrets.appears_in(s) => *s = REDACTED.to_string(),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// [`redact`] for a plain variable map, e.g. an environment shown to the user.
pub fn redact_map(map: &BTreeMap<String, String>, secrets: &Secrets) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| {
            let hide = is_secret_key(k) || secrets.appears_in(v);
            (
                k.clone(),
                if hide {
                    REDACTED.to_string()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

/// Why the provenance file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// The job id cannot be part of a file name.
    #[error(
        "failed to name the provenance file: job id {0:?} is empty or contains a path separator"
    )]
    BadJobId(String),
    /// Serialization failed.
    #[error("failed to render provenance for job {job_id}")]
    Render {
        /// The job.
        job_id: String,
        /// The YAML error.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// The file could not be written.
    #[error("failed to write provenance file {path}")]
    Write {
        /// The file (or its temporary sibling).
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// `llmb-config_<JOBID>.yaml`.
pub fn file_name(job_id: &str) -> Result<String, ProvenanceError> {
    if job_id.is_empty() || job_id.contains(['/', '\\']) || job_id == "." || job_id == ".." {
        return Err(ProvenanceError::BadJobId(job_id.to_string()));
    }
    Ok(format!("llmb-config_{job_id}.yaml"))
}

/// The file's YAML text, redacted.
pub fn render(prov: &Provenance, secrets: &Secrets) -> Result<String, ProvenanceError> {
    let render_err = |source| ProvenanceError::Render {
        job_id: prov.job_info.job_id.clone(),
        source,
    };
    let mut value = serde_yaml_ng::to_value(prov).map_err(render_err)?;
    redact(&mut value, secrets);
    serde_yaml_ng::to_string(&value).map_err(render_err)
}

/// Write `dir/llmb-config_<JOBID>.yaml` (redacted), creating `dir` if needed; returns the path.
///
/// Written to a temporary sibling and renamed, so a reader never sees half a file.
pub fn write(dir: &Path, prov: &Provenance, secrets: &Secrets) -> Result<PathBuf, ProvenanceError> {
    let name = file_name(&prov.job_info.job_id)?;
    let text = render(prov, secrets)?;
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ProvenanceError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).map_err(write_err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(write_err(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TempDir;

    const TOKEN: &str = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

    fn sample() -> Provenance {
        Provenance {
            job_info: JobInfo {
                job_id: "4242".into(),
                launch_time: "2025-06-02T09:14:07Z".parse().unwrap(),
            },
            workload_info: WorkloadInfo {
                framework: "trtllm".into(),
                gsw_version: "25.07".into(),
                fw_version: Some("1.0.0rc1".into()),
                workload_type: "inference".into(),
                synthetic_dataset: true,
            },
            model_info: ModelInfo {
                model_name: "llama3.3".into(),
                model_size: "70b".into(),
                dtype: "fp8".into(),
                scale: 8,
                gpu_type: "h100".into(),
            },
            cluster_info: ClusterInfo {
                cluster_name: Some("lab".into()),
                gpus_per_node: 8,
                llmb_install: "/lustre/llmb".into(),
                llmb_repo: None,
                slurm_account: Some("perf".into()),
                slurm_gpu_partition: Some("batch".into()),
            },
            container_info: ContainerInfo {
                images: vec!["nvcr.io#nvidia/tensorrt-llm/release:1.0.0rc1".into()],
            },
            job_config: JobConfig {
                profile_enabled: false,
                env_overrides: BTreeMap::from([
                    ("HF_TOKEN".to_string(), TOKEN.to_string()),
                    ("MAX_NUM_TOKENS".to_string(), "2048".to_string()),
                    ("USE_CASES".to_string(), "chat:128/128".to_string()),
                    ("wandb_api_key".to_string(), "k-123456".to_string()),
                    // Same secret under an innocent name: caught by value.
                    ("HUB_AUTH".to_string(), format!("Bearer {TOKEN}")),
                ]),
                model_overrides: BTreeMap::from([("TP".to_string(), "8".to_string())]),
                experiment_id: None,
            },
        }
    }

    #[test]
    fn secret_key_patterns() {
        for k in [
            "HF_TOKEN",
            "hf_token",
            "GITHUB_TOKEN",
            "NGC_API_KEY",
            "OPENAI_API_KEY_2",
            "AWS_SECRET_ACCESS_KEY",
            "db_password",
            "SSH_KEY",
            "NGC_CREDENTIAL",
            "DB_PASSWD",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "MAX_NUM_TOKENS",
            "TOKENIZER",
            "MODEL_SIZE",
            "KEYS",
            "USE_CASES",
            "TP",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn renders_the_llmb_run_layout_without_the_token() {
        let secrets = Secrets::from_env([("HF_TOKEN", TOKEN), ("HOME", "/root")]);
        let text = render(&sample(), &secrets).unwrap();
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains("k-123456"), "{text}");
        assert_eq!(
            text,
            "\
job_info:
  job_id: '4242'
  launch_time: 2025-06-02T09:14:07Z
workload_info:
  framework: trtllm
  gsw_version: '25.07'
  fw_version: 1.0.0rc1
  workload_type: inference
  synthetic_dataset: true
model_info:
  model_name: llama3.3
  model_size: 70b
  dtype: fp8
  scale: 8
  gpu_type: h100
cluster_info:
  cluster_name: lab
  gpus_per_node: 8
  llmb_install: /lustre/llmb
  llmb_repo: null
  slurm_account: perf
  slurm_gpu_partition: batch
container_info:
  images:
  - nvcr.io#nvidia/tensorrt-llm/release:1.0.0rc1
job_config:
  profile_enabled: false
  env_overrides:
    HF_TOKEN: <redacted>
    HUB_AUTH: <redacted>
    MAX_NUM_TOKENS: '2048'
    USE_CASES: chat:128/128
    wandb_api_key: <redacted>
  model_overrides:
    TP: '8'
"
        );
    }

    #[test]
    fn written_file_never_contains_the_token() {
        let tmp = TempDir::new("prov");
        let dir = tmp.path().join("workloads/inference_llama3.3");
        let mut prov = sample();
        // A secret value that leaked into a field with no secret-looking key.
        prov.workload_info.framework = TOKEN.to_string();
        let path = write(&dir, &prov, &Secrets::new([TOKEN])).unwrap();
        assert_eq!(path, dir.join("llmb-config_4242.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(TOKEN), "{text}");
        assert!(text.contains("framework: <redacted>"), "{text}");
        // No temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["llmb-config_4242.yaml"]);
        // The file reads back as YAML with the expected top-level keys.
        let v: Value = serde_yaml_ng::from_str(&text).unwrap();
        let keys: Vec<_> = v
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "job_info",
                "workload_info",
                "model_info",
                "cluster_info",
                "container_info",
                "job_config"
            ]
        );
    }

    #[test]
    fn redact_walks_nested_values() {
        let mut v: Value = serde_yaml_ng::from_str(
            "a: {b: [x, sekrit-value, {API_KEY: 1}], Password: {nested: true}}\nc: ok",
        )
        .unwrap();
        redact(&mut v, &Secrets::new(["sekrit-value"]));
        assert_eq!(
            serde_yaml_ng::to_string(&v).unwrap(),
            "a:\n  b:\n  - x\n  - <redacted>\n  - API_KEY: <redacted>\n  Password: <redacted>\nc: ok\n"
        );
    }

    #[test]
    fn redact_map_and_short_secrets() {
        let env = BTreeMap::from([
            ("NGC_API_KEY".to_string(), "abc".to_string()),
            ("SCALE".to_string(), "abc".to_string()),
            ("LABEL".to_string(), "xabcx".to_string()),
        ]);
        let secrets = Secrets::from_env(env.clone());
        let out = redact_map(&env, &secrets);
        // A 3-character secret is hidden under its key and where it is the whole value,
        // not inside longer text.
        assert_eq!(out["NGC_API_KEY"], REDACTED);
        assert_eq!(out["SCALE"], REDACTED);
        assert_eq!(out["LABEL"], "xabcx");
    }

    #[test]
    fn bad_job_ids_are_refused() {
        for id in ["", "../x", "a/b", ".."] {
            assert!(file_name(id).is_err(), "{id:?}");
        }
        assert_eq!(file_name("123_4").unwrap(), "llmb-config_123_4.yaml");
    }
}
