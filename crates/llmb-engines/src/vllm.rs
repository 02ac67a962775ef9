//! vLLM: recipe settings → `vllm serve` flags; ready on `/health`; `vllm:` metrics.

use super::{
    health_200, push_extra_flags, push_opt, CommonMetrics, EngineError, EngineKind, EngineSettings,
    EngineSpec, StopPolicy,
};

const ENGINE: &str = "vLLM";

/// vLLM's names for the common quantities (`gpu_cache_usage_perc` before V1).
pub(super) const METRICS: CommonMetrics = CommonMetrics {
    running: &["vllm:num_requests_running"],
    waiting: &["vllm:num_requests_waiting"],
    kv_cache_use: &["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
    generated_tokens: &["vllm:generation_tokens_total"],
};

pub(super) fn spec(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let model = s.model.as_deref().ok_or(EngineError::Missing {
        engine: ENGINE,
        what: "a model",
        fix: "set model.hf_repo in the recipe",
    })?;
    // With --enable-expert-parallel vLLM sets the MoE expert-parallel size to TP × DP.
    let ep_auto = s.tp * s.dp;
    if s.ep > 1 && s.ep != ep_auto {
        return Err(EngineError::Invalid {
            engine: ENGINE,
            message: format!(
                "vLLM's expert-parallel size is TP × DP = {} × {} = {ep_auto}, not ep = {}; \
                 set ep to {ep_auto} (or 1 for no expert parallelism)",
                s.tp, s.dp, s.ep
            ),
        });
    }
    let mut args = vec![
        "serve".to_string(),
        model.to_string(),
        "--host".into(),
        s.host.clone(),
        "--port".into(),
        s.port.to_string(),
    ];
    push_opt(&mut args, "--served-model-name", s.served_name.as_deref());
    args.extend(["--tensor-parallel-size".into(), s.tp.to_string()]);
    if s.pp > 1 {
        args.extend(["--pipeline-parallel-size".into(), s.pp.to_string()]);
    }
    if s.dp > 1 {
        args.extend(["--data-parallel-size".into(), s.dp.to_string()]);
    }
    if s.ep > 1 {
        args.push("--enable-expert-parallel".into());
    }
    push_opt(&mut args, "--max-num-seqs", s.max_batch_size);
    push_opt(&mut args, "--max-num-batched-tokens", s.max_num_tokens);
    push_opt(&mut args, "--max-model-len", s.max_seq_len);
    push_opt(&mut args, "--gpu-memory-utilization", s.kv_cache_fraction);
    if !s.cuda_graphs {
        args.push("--enforce-eager".into());
    }
    if s.trust_remote_code == Some(true) {
        args.push("--trust-remote-code".into());
    }
    push_extra_flags(&mut args, &s.extra);
    Ok(EngineSpec {
        kind: EngineKind::Vllm,
        program: "vllm".into(),
        args,
        env: Vec::new(),
        pass_env: vec!["HF_TOKEN".into()],
        image: s.image.clone(),
        files: Vec::new(),
        port: Some(s.port),
        health: health_200("/health"),
        metrics_path: Some("/metrics".into()),
        metric_names: METRICS,
        stop: StopPolicy::term(30),
        install_hint: "`pip install vllm`, or run in the vllm/vllm-openai container",
    })
}
