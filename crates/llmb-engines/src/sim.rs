//! sim: recipe settings → `llmb serve sim` flags; `/health`; `llmb:` metrics (named like vLLM's).

use super::{
    health_200, push_extra_flags, push_opt, served_name, CommonMetrics, EngineError, EngineKind,
    EngineSettings, EngineSpec, StopPolicy,
};

/// The simulated engine's names (see `crate::sim::metrics`).
pub(super) const METRICS: CommonMetrics = CommonMetrics {
    running: &["llmb:num_requests_running"],
    waiting: &["llmb:num_requests_waiting"],
    kv_cache_use: &["llmb:kv_cache_usage_perc"],
    generated_tokens: &["llmb:generation_tokens_total"],
};

#[allow(clippy::unnecessary_wraps)]
pub(super) fn spec(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let mut args = vec![
        "serve".to_string(),
        "sim".into(),
        "--host".into(),
        s.host.clone(),
        "--port".into(),
        s.port.to_string(),
    ];
    push_opt(&mut args, "--model", served_name(s));
    push_opt(&mut args, "--max-batch-size", s.max_batch_size);
    push_opt(&mut args, "--max-num-tokens", s.max_num_tokens);
    push_opt(&mut args, "--stream-interval", s.stream_interval);
    push_extra_flags(&mut args, &s.extra);
    Ok(EngineSpec {
        kind: EngineKind::Sim,
        program: "llmb".into(),
        args,
        env: Vec::new(),
        pass_env: Vec::new(),
        image: s.image.clone(),
        files: Vec::new(),
        port: Some(s.port),
        health: health_200("/health"),
        metrics_path: Some("/metrics".into()),
        metric_names: METRICS,
        stop: StopPolicy::term(5),
        install_hint: "built in: the launcher runs its own `llmb` binary",
    })
}
