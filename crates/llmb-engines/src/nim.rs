//! NIM: the container, its environment, port 8000 and its readiness endpoint.
//!
//! NIM for LLMs serves on port 8000 inside the container, answers `GET /v1/health/ready`
//! with 200 once the model is loaded (503 before), and exposes Prometheus text on
//! `/v1/metrics` (vLLM-backed NIMs use vLLM's names).

use super::{
    CommonMetrics, EngineError, EngineKind, EngineSettings, EngineSpec, Expect, Readiness,
    StopPolicy,
};

const ENGINE: &str = "NIM";
/// The server start script inside NIM for LLMs images (their default command).
const START_SCRIPT: &str = "/opt/nim/start_server.sh";

pub(super) fn spec(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let image = s.image.clone().ok_or(EngineError::Missing {
        engine: ENGINE,
        what: "a container image",
        fix: "set engine.image in the recipe (e.g. nvcr.io/nim/meta/llama3-70b-instruct:1.0.3)",
    })?;
    let mut env = vec![("NIM_SERVER_PORT".to_string(), s.port.to_string())];
    if let Some(path) = s.model.as_deref().filter(|m| m.starts_with('/')) {
        // Weights downloaded into the workload folder (reference 5: NIM_MODEL_NAME=<path>).
        env.push(("NIM_MODEL_NAME".into(), path.into()));
    }
    if s.tp > 1 {
        env.push(("NIM_TENSOR_PARALLEL_SIZE".into(), s.tp.to_string()));
    }
    if let Some(name) = s.served_name.as_deref() {
        env.push(("NIM_SERVED_MODEL_NAME".into(), name.into()));
    }
    if let Some(len) = s.max_seq_len {
        env.push(("NIM_MAX_MODEL_LEN".into(), len.to_string()));
    }
    for (k, v) in &s.extra {
        env.push((k.clone(), v.clone()));
    }
    Ok(EngineSpec {
        kind: EngineKind::Nim,
        // The start script NIM for LLMs images run by default.
        program: START_SCRIPT.into(),
        args: Vec::new(),
        env,
        pass_env: vec!["NGC_API_KEY".into(), "HF_TOKEN".into()],
        image: Some(image),
        files: Vec::new(),
        port: Some(s.port),
        health: Some(Readiness {
            path: "/v1/health/ready".into(),
            expect: Expect::Status(200),
        }),
        metrics_path: Some("/v1/metrics".into()),
        metric_names: CommonMetrics {
            running: &["vllm:num_requests_running", "num_requests_running"],
            waiting: &["vllm:num_requests_waiting", "num_requests_waiting"],
            kv_cache_use: &[
                "vllm:kv_cache_usage_perc",
                "vllm:gpu_cache_usage_perc",
                "gpu_cache_usage_perc",
            ],
            generated_tokens: &["vllm:generation_tokens_total", "generation_tokens_total"],
        },
        stop: StopPolicy::term(30),
        install_hint:
            "import the image (enroot import docker://nvcr.io#nim/...) with NGC_API_KEY set",
    })
}
