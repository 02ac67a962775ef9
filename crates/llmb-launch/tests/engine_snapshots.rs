//! Snapshot tests: the engine commands, environments and generated YAML files that plans of
//! the built-in recipes start, for the gb200, b200 and h100 defaults. Each snapshot is a file
//! in `tests/snapshots/`; `LLMB_UPDATE_SNAPSHOTS=1 cargo test -p llmb-launch` rewrites them
//! (review the diff: it is the engines' real command lines).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llmb_launch::plan::{build, PlanOptions};
use llmb_recipe::{builtin, Catalog, GpuType, RunRequest, ValidateContext};

fn describe(workload: &str, size: &str, dtype: &str, scale: u32, gpu: GpuType) -> String {
    describe_with(workload, size, dtype, scale, gpu, |_| {})
}

/// The plan of a built-in recipe whose engine settings `change` edits first.
fn describe_with(
    workload: &str,
    size: &str,
    dtype: &str,
    scale: u32,
    gpu: GpuType,
    change: impl FnOnce(&mut llmb_recipe::recipe::EngineSettings),
) -> String {
    let mut c = Catalog::new();
    c.extend_source(builtin().unwrap()).unwrap();
    let env = BTreeMap::new();
    let spec = llmb_recipe::validate(
        &RunRequest {
            workload: workload.into(),
            model_size: size.into(),
            dtype: dtype.into(),
            scale,
            ..RunRequest::default()
        },
        &ValidateContext {
            catalog: &c,
            installed: None,
            gpu_type: &gpu,
            gpus_per_node: None,
            env: &env,
            force: false,
        },
    )
    .unwrap_or_else(|e| panic!("{workload} {gpu}: {e}"));
    let mut spec = spec;
    change(&mut spec.recipe.engine.settings);
    let plan = build(
        &spec,
        &PlanOptions {
            install_dir: "/lustre/llmb".into(),
            llmb: "/opt/llmb/bin/llmb".into(),
            stamp: "20250602-091407".into(),
            sim: false,
            sim_args: vec![],
        },
    )
    .unwrap();
    plan.describe_engines().unwrap()
}

fn check(name: &str, actual: &str) {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var("LLMB_UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with LLMB_UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if expected != actual {
        for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
            assert_eq!(e, a, "{name}: first difference at line {}", i + 1);
        }
        assert_eq!(
            expected.lines().count(),
            actual.lines().count(),
            "{name}: line count"
        );
        assert_eq!(expected, actual, "{name}");
    }
}

#[test]
fn dynamo_disaggregated_plans() {
    check(
        "dynamo-gb200",
        &describe(
            "inference_deepseek-r1-dynamo",
            "671b",
            "nvfp4",
            32,
            GpuType::Gb200,
        ),
    );
    check(
        "dynamo-b200",
        &describe(
            "inference_deepseek-r1-dynamo",
            "671b",
            "nvfp4",
            32,
            GpuType::B200,
        ),
    );
    check(
        "dynamo-h100",
        &describe(
            "inference_deepseek-r1-dynamo",
            "671b",
            "fp8",
            48,
            GpuType::H100,
        ),
    );
}

#[test]
fn trtllm_serve_plans() {
    for (gpu, name) in [
        (GpuType::Gb200, "trtllm-serve-gb200"),
        (GpuType::B200, "trtllm-serve-b200"),
        (GpuType::H100, "trtllm-serve-h100"),
    ] {
        check(
            name,
            &describe("inference_trtllm-serve", "70b", "fp8", 1, gpu),
        );
    }
}

#[test]
fn nim_plan() {
    check(
        "nim-h100",
        &describe("inference_nim-llama3", "70b", "fp8", 4, GpuType::H100),
    );
}

#[test]
fn trtllm_bench_offline_plans() {
    check(
        "trtllm-bench-llama3.3-gb200",
        &describe("inference_llama3.3", "70b", "nvfp4", 1, GpuType::Gb200),
    );
    check(
        "trtllm-bench-llama4-gb200",
        &describe("inference_llama4", "17b", "fp8", 8, GpuType::Gb200),
    );
}

/// The recipe switches that used to parse and do nothing: each, set away from its default,
/// changes what the engine is started with (issue 12).
#[test]
fn recipe_switches_reach_the_engines() {
    let base = describe("inference_trtllm-serve", "70b", "fp8", 1, GpuType::Gb200);
    let off = describe_with(
        "inference_trtllm-serve",
        "70b",
        "fp8",
        1,
        GpuType::Gb200,
        |s| {
            s.trust_remote_code = Some(false);
            s.print_iter_log = Some(false);
            s.cuda_graphs.as_mut().unwrap().enabled = false;
        },
    );
    check("trtllm-serve-gb200-switches-off", &off);
    assert!(base.contains(" --trust_remote_code") && !off.contains("--trust_remote_code"));
    assert!(base.contains("print_iter_log: true") && off.contains("print_iter_log: false"));
    assert!(base.contains("cuda_graph_config:\n") && off.contains("cuda_graph_config: null"));
    let unpadded = describe_with(
        "inference_trtllm-serve",
        "70b",
        "fp8",
        1,
        GpuType::Gb200,
        |s| {
            s.cuda_graphs.as_mut().unwrap().enable_padding = Some(false);
        },
    );
    check("trtllm-serve-gb200-no-padding", &unpadded);
    assert!(base.contains("enable_padding: true") && unpadded.contains("enable_padding: false"));
    // The offline engine and the Dynamo workers read the same switches.
    let bench = describe_with(
        "inference_llama3.3",
        "70b",
        "nvfp4",
        1,
        GpuType::Gb200,
        |s| {
            s.print_iter_log = Some(false);
            s.cuda_graphs.as_mut().unwrap().enabled = false;
        },
    );
    assert!(bench.contains("use_cuda_graph: false") && bench.contains("print_iter_log: false"));
    let dynamo = describe_with(
        "inference_deepseek-r1-dynamo",
        "671b",
        "nvfp4",
        32,
        GpuType::Gb200,
        |s| {
            s.cuda_graphs.as_mut().unwrap().enable_padding = Some(false);
        },
    );
    assert!(dynamo.contains("enable_padding: false") && !dynamo.contains("enable_padding: true"));
}
