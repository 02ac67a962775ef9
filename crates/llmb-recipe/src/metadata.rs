//! NVIDIA's `metadata.yaml` (LLMB recipe declaration): the legacy v25.07 schema and the newer
//! one (`by_gpu` image lists, dtype mapping form, `exact_scales`), converted into a
//! [`Workload`]. Unknown keys are ignored, as NVIDIA's loader ignores them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{from_yaml, LoadError};
use crate::recipe::{
    Engine, EngineSettings, GpuConfig, Images, Load, Model, ModelVariant, Parallelism, Recipe,
    Scales, SlurmDefaults,
};
use crate::types::{ByGpu, Concurrency, Dtype, EngineKind, GpuType, LoadStyle, WorkloadType};
use crate::workload::{ScriptLaunch, Source, Workload};

/// `metadata.yaml` as written (only the parts llmb uses).
#[derive(Debug, Clone, Deserialize)]
pub struct RawMetadata {
    /// `general:`.
    pub general: RawGeneral,
    /// `container:`.
    #[serde(default)]
    pub container: Option<RawContainer>,
    /// `run:`.
    pub run: RawRun,
}

/// `general:`.
#[derive(Debug, Clone, Deserialize)]
pub struct RawGeneral {
    /// Workload name (`llama3.3`).
    pub workload: String,
    /// `inference`, `pretrain`, ...
    pub workload_type: String,
    /// Release (`'25.07'`), legacy only.
    #[serde(default)]
    pub gsw_version: Option<String>,
    /// `trt-llm`, `dynamo`, `sglang`, `nemo2`, ...
    #[serde(default)]
    pub framework: Option<String>,
}

/// `container:`.
#[derive(Debug, Clone, Deserialize)]
pub struct RawContainer {
    /// A list of images, or `by_gpu: {gpu: [images]}`.
    #[serde(default)]
    pub images: Option<RawImages>,
}

/// `container.images` in either form.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawImages {
    /// Legacy: one list for every GPU.
    List(Vec<RawImage>),
    /// Newer: per GPU type (and `default`).
    ByGpu {
        /// GPU name or `default` → images.
        by_gpu: BTreeMap<String, Vec<RawImage>>,
    },
}

/// One image: a string, or a mapping with `url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawImage {
    /// `'nvcr.io#nvidia/tensorrt-llm/release:1.0.0rc1'`.
    Url(String),
    /// `{url: ...}`.
    Entry {
        /// The image.
        url: String,
    },
}

impl RawImage {
    fn url(&self) -> &str {
        match self {
            RawImage::Url(u) | RawImage::Entry { url: u } => u,
        }
    }
}

/// `run:`.
#[derive(Debug, Clone, Deserialize)]
pub struct RawRun {
    /// `sbatch`, `nemo`, `megatron_bridge`, `configured_sbatch`.
    pub launcher_type: String,
    /// Script run by the sbatch launchers.
    #[serde(default)]
    pub launch_script: Option<String>,
    /// GPU type → model configs.
    pub gpu_configs: BTreeMap<String, RawGpuConfig>,
}

/// `run.gpu_configs.<gpu>`.
#[derive(Debug, Clone, Deserialize)]
pub struct RawGpuConfig {
    /// One entry per model size.
    pub model_configs: Vec<RawModelConfig>,
}

/// `run.gpu_configs.<gpu>.model_configs[i]`.
#[derive(Debug, Clone, Deserialize)]
pub struct RawModelConfig {
    /// `'70b'`.
    pub model_size: String,
    /// `['nvfp4']` or `{fp8: [128, 256], bf16: {scales: [...], exact_scales: true}}`.
    pub dtypes: RawDtypes,
    /// Legacy form: scales for every dtype (ignored in mapping form).
    #[serde(default)]
    pub scales: Vec<u32>,
    /// Legacy form: exact scales for every dtype (ignored in mapping form).
    #[serde(default)]
    pub exact_scales: bool,
}

/// `dtypes:` in list or mapping form.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDtypes {
    /// `['fp8', 'bf16']` — model-level `scales` apply.
    List(Vec<String>),
    /// `{fp8: [..], bf16: {scales: [..], exact_scales: true}}`.
    Map(BTreeMap<String, RawDtypeScales>),
}

/// One dtype's scales in mapping form.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDtypeScales {
    /// Short form: the scales.
    List(Vec<u32>),
    /// Long form.
    Full {
        /// Scales.
        scales: Vec<u32>,
        /// Exact.
        #[serde(default)]
        exact_scales: bool,
    },
}

/// Engine llmb would use for an NVIDIA `general.framework` value (`None`: llmb cannot run it).
pub fn engine_for_framework(framework: &str) -> Option<EngineKind> {
    let f = framework.to_ascii_lowercase();
    Some(match f.as_str() {
        "trt-llm" | "trtllm" | "tensorrt-llm" | "tensorrt_llm" => EngineKind::TrtllmBench,
        "dynamo" | "dynamo-trtllm" => EngineKind::DynamoTrtllm,
        "sglang" => EngineKind::Sglang,
        "vllm" => EngineKind::Vllm,
        "nim" => EngineKind::Nim,
        _ => return None,
    })
}

/// Parses `metadata.yaml` text and converts it; `path` is where it was found (its directory is
/// the recipe directory).
pub fn parse_metadata(text: &str, path: &Path) -> Result<Workload, LoadError> {
    let file = path.display().to_string();
    let raw: RawMetadata = from_yaml(text, &file)?;
    convert(raw, path)
}

/// Converts parsed metadata into a [`Workload`] (normalizing dtype forms as NVIDIA's
/// `normalize_model_dtype_config` does).
pub fn convert(raw: RawMetadata, path: &Path) -> Result<Workload, LoadError> {
    let file = path.display().to_string();
    let mut notes = Vec::new();
    let workload_type = match raw.general.workload_type.to_ascii_lowercase().as_str() {
        "inference" => WorkloadType::Inference,
        "pretrain" => WorkloadType::Pretrain,
        "finetune" => WorkloadType::Finetune,
        "microbenchmark" => WorkloadType::Microbenchmark,
        "rl" => WorkloadType::Rl,
        "tools" => WorkloadType::Tools,
        other => {
            return Err(LoadError::invalid(
                &file,
                "general.workload_type",
                format!("unknown workload type `{other}`"),
                "use one of inference, pretrain, finetune, microbenchmark, rl, tools",
            ))
        }
    };
    let framework = raw.general.framework.clone().unwrap_or_default();
    let engine = match engine_for_framework(&framework) {
        Some(e) => e,
        None => {
            notes.push(format!(
                "framework `{framework}` has no llmb engine; the workload runs only through its own launch script (engine recorded as `sim`)"
            ));
            EngineKind::Sim
        }
    };
    let style = match engine {
        EngineKind::TrtllmBench => LoadStyle::TrtllmBench,
        EngineKind::DynamoTrtllm | EngineKind::Nim => LoadStyle::GenaiPerf,
        _ => LoadStyle::BenchmarkServing,
    };

    let mut images: BTreeMap<String, String> = BTreeMap::new();
    match raw.container.and_then(|c| c.images) {
        Some(RawImages::List(list)) => {
            if let Some(first) = list.first() {
                images.insert("default".into(), first.url().to_owned());
            }
            if list.len() > 1 {
                notes.push(format!(
                    "{} container images listed; the first is the engine image",
                    list.len()
                ));
            }
        }
        Some(RawImages::ByGpu { by_gpu }) => {
            for (gpu, list) in by_gpu {
                if let Some(first) = list.first() {
                    images.insert(gpu, first.url().to_owned());
                }
            }
        }
        None => notes.push("no container image declared".into()),
    }

    let mut gpus = BTreeMap::new();
    let mut sizes: BTreeMap<String, BTreeMap<Dtype, ModelVariant>> = BTreeMap::new();
    for (gpu_name, cfg) in raw.run.gpu_configs {
        let gpu: GpuType = gpu_name.parse().map_err(|e: String| {
            LoadError::invalid(
                &file,
                format!("run.gpu_configs.{gpu_name}"),
                e,
                "use a GPU type name such as gb200",
            )
        })?;
        let mut model_sizes: BTreeMap<String, BTreeMap<Dtype, Scales>> = BTreeMap::new();
        for mc in cfg.model_configs {
            let mut per_dtype: Vec<(String, Scales)> = Vec::new();
            match mc.dtypes {
                RawDtypes::List(list) => {
                    for d in list {
                        per_dtype.push((
                            d,
                            Scales {
                                scales: mc.scales.clone(),
                                exact_scales: mc.exact_scales,
                            },
                        ));
                    }
                }
                RawDtypes::Map(map) => {
                    for (d, s) in map {
                        let scales = match s {
                            RawDtypeScales::List(scales) => Scales {
                                scales,
                                exact_scales: false,
                            },
                            RawDtypeScales::Full {
                                scales,
                                exact_scales,
                            } => Scales {
                                scales,
                                exact_scales,
                            },
                        };
                        per_dtype.push((d, scales));
                    }
                }
            }
            let entry = model_sizes.entry(mc.model_size.clone()).or_default();
            for (d, mut s) in per_dtype {
                let Ok(dtype) = d.parse::<Dtype>() else {
                    notes.push(format!(
                        "{gpu}/{}: dtype `{d}` is not known to llmb and was skipped",
                        mc.model_size
                    ));
                    continue;
                };
                s.scales.sort_unstable();
                s.scales.dedup();
                entry.insert(dtype, s);
                sizes.entry(mc.model_size.clone()).or_default().insert(
                    dtype,
                    ModelVariant {
                        hf_repo: String::new(),
                        served_name: None,
                        quantization: None,
                        weights_folder: None,
                        expected_size_gb: None,
                        tokenizer: None,
                    },
                );
            }
        }
        gpus.insert(
            gpu,
            GpuConfig {
                model_sizes,
                parallelism: None,
                disaggregated: None,
                concurrency: None,
                time_limit: None,
            },
        );
    }

    let recipe = Recipe {
        workload_type,
        workload: raw.general.workload.clone(),
        description: format!(
            "NVIDIA LLMB recipe (framework {}, release {}), run by its own {} script",
            if framework.is_empty() {
                "unknown"
            } else {
                &framework
            },
            raw.general.gsw_version.as_deref().unwrap_or("unknown"),
            raw.run.launch_script.as_deref().unwrap_or("launch"),
        ),
        model: Model {
            name: raw.general.workload.clone(),
            sizes,
        },
        engine: Engine {
            kind: engine,
            settings: EngineSettings::default(),
        },
        load: Load {
            style,
            streaming: true,
            concurrency: vec![Concurrency::Unbounded],
            num_requests: None,
            requests_per_concurrency: None,
            min_requests: None,
            warmup_requests_per_concurrency: None,
            multi_round: None,
            endpoint: crate::recipe::Endpoint::Chat,
        },
        images: Images {
            engine: ByGpu { entries: images },
            client: None,
        },
        gpus,
        use_cases: Vec::new(),
        parallelism: Parallelism::default(),
        disaggregated: None,
        slurm: SlurmDefaults::default(),
    };
    let recipe_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Workload {
        key: recipe.key(),
        recipe,
        source: Source::Metadata {
            path: path.to_owned(),
        },
        script: Some(ScriptLaunch {
            launcher_type: raw.run.launcher_type,
            launch_script: raw.run.launch_script.unwrap_or_else(|| "launch.sh".into()),
            recipe_dir,
        }),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference 1.2, v25.07 `llama3.3/inference/metadata.yaml`.
    const LEGACY: &str = r#"
general:
  workload: llama3.3
  workload_type: inference      # pretrain | finetune | inference | microbenchmark | rl | tools
  gsw_version: '25.07'          # later moved to top-level release.yaml
  framework: trt-llm
container:
  images:
    - 'nvcr.io#nvidia/tensorrt-llm/release:1.0.0rc1'   # '#' between registry and path (enroot syntax)
setup:
  setup_script: 'setup.sh'      # legacy scripted install
  venv_req: True
run:
  launcher_type: 'sbatch'       # sbatch | nemo | megatron_bridge | configured_sbatch
  launch_script: 'launch.sh'
  gpu_configs:
    gb200:
      model_configs:
        - model_size: '70b'
          dtypes: ['nvfp4']
          scales: [1]
"#;

    #[test]
    fn legacy_example_becomes_a_workload() {
        let w = parse_metadata(LEGACY, Path::new("repo/llama3.3/inference/metadata.yaml")).unwrap();
        assert_eq!(w.key, "inference_llama3.3");
        assert_eq!(w.recipe.engine.kind, EngineKind::TrtllmBench);
        assert_eq!(w.recipe.load.style, LoadStyle::TrtllmBench);
        let s = &w.recipe.gpus[&GpuType::Gb200].model_sizes["70b"][&Dtype::Nvfp4];
        assert_eq!(s.scales, [1]);
        assert!(!s.exact_scales);
        assert_eq!(
            w.recipe.images.engine.get(&GpuType::Gb200).unwrap(),
            "nvcr.io#nvidia/tensorrt-llm/release:1.0.0rc1"
        );
        let script = w.script.unwrap();
        assert_eq!(script.launch_script, "launch.sh");
        assert_eq!(script.recipe_dir, Path::new("repo/llama3.3/inference"));
        assert!(w.notes.is_empty(), "{:?}", w.notes);
    }

    #[test]
    fn newer_schema_by_gpu_and_dtype_mapping() {
        let text = r#"
general: {workload: nemotron4, workload_type: pretrain, framework: nemo2}
container:
  images:
    by_gpu:
      h100: ['nvcr.io#nvidia/nemo:25.04']
      default: [{url: 'nvcr.io#nvidia/nemo:25.07'}]
repositories: {nemo: {url: x, commit: y}}
run:
  launcher_type: nemo
  gpu_configs:
    h100:
      model_configs:
        - model_size: 340b
          scales: [1]            # ignored in mapping form
          dtypes:
            fp8: [256, 128]
            bf16: {scales: [512], exact_scales: true}
            fp6: [8]
"#;
        let w = parse_metadata(text, Path::new("m/metadata.yaml")).unwrap();
        assert_eq!(w.key, "pretrain_nemotron4");
        assert_eq!(w.recipe.engine.kind, EngineKind::Sim);
        let m = &w.recipe.gpus[&GpuType::H100].model_sizes["340b"];
        assert_eq!(m[&Dtype::Fp8].scales, [128, 256]);
        assert!(m[&Dtype::Bf16].exact_scales);
        assert!(!m.contains_key(&Dtype::Fp8) || m.len() == 2);
        assert!(w.notes.iter().any(|n| n.contains("fp6")), "{:?}", w.notes);
        assert!(w.notes.iter().any(|n| n.contains("nemo2")), "{:?}", w.notes);
        assert_eq!(
            w.recipe.images.engine.get(&GpuType::B200).unwrap(),
            "nvcr.io#nvidia/nemo:25.07"
        );
    }

    #[test]
    fn missing_required_key_is_located() {
        let e = parse_metadata(
            "general: {workload: x}\nrun: {launcher_type: sbatch, gpu_configs: {}}\n",
            Path::new("a/metadata.yaml"),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("a/metadata.yaml:1:"), "{msg}");
        assert!(msg.contains("workload_type"), "{msg}");
    }
}
