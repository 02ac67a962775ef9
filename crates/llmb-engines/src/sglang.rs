//! SGLang: recipe settings → `python3 -m sglang.launch_server` flags; `/health`; `sglang:` metrics.

use super::{
    health_200, need_model, push_extra_flags, push_opt, CommonMetrics, EngineError, EngineKind,
    EngineSettings, EngineSpec, StopPolicy,
};

const ENGINE: &str = "SGLang";

/// SGLang's names for the common quantities (needs `--enable-metrics`).
pub(super) const METRICS: CommonMetrics = CommonMetrics {
    running: &["sglang:num_running_reqs"],
    waiting: &["sglang:num_queue_reqs"],
    kv_cache_use: &["sglang:token_usage"],
    generated_tokens: &["sglang:generation_tokens_total"],
};

pub(super) fn spec(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let model = need_model(ENGINE, s)?;
    let mut args = vec![
        "-m".to_string(),
        "sglang.launch_server".into(),
        "--model-path".into(),
        model.to_string(),
        "--host".into(),
        s.host.clone(),
        "--port".into(),
        s.port.to_string(),
    ];
    push_opt(&mut args, "--served-model-name", s.served_name.as_deref());
    args.extend(["--tp-size".into(), s.tp.to_string()]);
    if s.pp > 1 {
        args.extend(["--pp-size".into(), s.pp.to_string()]);
    }
    if s.dp > 1 {
        args.extend(["--dp-size".into(), s.dp.to_string()]);
    }
    if s.ep > 1 {
        args.extend(["--ep-size".into(), s.ep.to_string()]);
    }
    if s.attention_dp {
        args.push("--enable-dp-attention".into());
    }
    push_opt(&mut args, "--max-running-requests", s.max_batch_size);
    push_opt(&mut args, "--chunked-prefill-size", s.max_num_tokens);
    push_opt(&mut args, "--context-length", s.max_seq_len);
    push_opt(&mut args, "--mem-fraction-static", s.kv_cache_fraction);
    push_opt(&mut args, "--stream-interval", s.stream_interval);
    if !s.cuda_graphs {
        args.push("--disable-cuda-graph".into());
    } else if !s.cuda_graph_batch_sizes.is_empty() {
        args.push("--cuda-graph-bs".into());
        args.extend(s.cuda_graph_batch_sizes.iter().map(u32::to_string));
    }
    if s.trust_remote_code == Some(true) {
        args.push("--trust-remote-code".into());
    }
    args.push("--enable-metrics".into());
    push_extra_flags(&mut args, &s.extra);
    Ok(EngineSpec {
        kind: EngineKind::Sglang,
        program: "python3".into(),
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
        install_hint: "`pip install \"sglang[all]\"`, or run in the lmsysorg/sglang container",
    })
}
