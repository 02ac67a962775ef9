use std::collections::BTreeMap;

use super::*;
use crate::recipe::{Parallelism, Scales};
use crate::types::{Concurrency, Dtype, EngineKind, GpuType, TimeLimit};
use crate::workload::builtin;
use crate::workload::Catalog;

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
