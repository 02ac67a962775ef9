//! llama.cpp: recipe settings → `llama-server` flags (CPU engine); `/health`; `llamacpp:` metrics.
//!
//! `-c` is the context of all slots together: without `--kv-unified` each slot gets
//! `c / np`, so `-c` = `max_seq_len × slots` gives every slot `max_seq_len` tokens.

use super::{
    health_200, push_extra_flags, push_opt, CommonMetrics, EngineError, EngineKind, EngineSettings,
    EngineSpec, StopPolicy,
};

const ENGINE: &str = "llama.cpp";

/// llama.cpp's names for the common quantities (needs `--metrics`). Recent builds no longer
/// export `kv_cache_usage_ratio`; then KV-cache use is absent from samples.
pub(super) const METRICS: CommonMetrics = CommonMetrics {
    running: &["llamacpp:requests_processing"],
    waiting: &["llamacpp:requests_deferred"],
    kv_cache_use: &["llamacpp:kv_cache_usage_ratio"],
    generated_tokens: &["llamacpp:tokens_predicted_total"],
};

pub(super) fn spec(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let model = s.model.as_deref().ok_or(EngineError::Missing {
        engine: ENGINE,
        what: "a GGUF model file",
        fix: "set model.path in the recipe (`bash scripts/engines/llama-cpp.sh install` prints MODEL=…)",
    })?;
    let slots = s.slots.or(s.max_batch_size);
    let mut args = vec![
        "-m".to_string(),
        model.to_string(),
        "--host".into(),
        s.host.clone(),
        "--port".into(),
        s.port.to_string(),
    ];
    push_opt(&mut args, "--alias", s.served_name.as_deref());
    push_opt(&mut args, "-np", slots);
    if let Some(len) = s.max_seq_len {
        args.extend([
            "-c".into(),
            (u64::from(len) * u64::from(slots.unwrap_or(1))).to_string(),
        ]);
    }
    push_opt(&mut args, "-t", s.threads);
    args.push("--metrics".into());
    push_extra_flags(&mut args, &s.extra);
    Ok(EngineSpec {
        kind: EngineKind::LlamaCpp,
        program: "llama-server".into(),
        args,
        env: Vec::new(),
        pass_env: Vec::new(),
        image: s.image.clone(),
        files: Vec::new(),
        port: Some(s.port),
        // 503 while the model loads, 200 when ready.
        health: health_200("/health"),
        metrics_path: Some("/metrics".into()),
        metric_names: METRICS,
        stop: StopPolicy::term(5),
        install_hint: "`bash scripts/engines/llama-cpp.sh install` (see docs/ENGINES.md)",
    })
}
