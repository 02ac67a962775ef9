//! trtllm-bench throughput: the offline benchmark command of reference 2.2 and its `config.yml`.

use super::yaml::{flow_list, YamlDoc};
use super::{
    need_model, push_opt, served_name, CommonMetrics, EngineError, EngineKind, EngineSettings,
    EngineSpec, StopPolicy,
};

const ENGINE: &str = "trtllm-bench";
/// The options file, relative to the working folder.
pub(super) const CONFIG_FILE: &str = "config.yml";

pub(super) fn spec(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let model_path = need_model(ENGINE, s)?;
    let card = served_name(s).unwrap_or(model_path);
    let dataset = s.bench.dataset.as_deref().ok_or(EngineError::Missing {
        engine: ENGINE,
        what: "a dataset",
        fix: "write one with `llmb dataset` and set bench.dataset in the recipe",
    })?;
    let mut args = vec![
        "trtllm-bench".to_string(),
        "-m".into(),
        card.to_string(),
        "--model_path".into(),
        model_path.to_string(),
        "throughput".into(),
        "--tp".into(),
        s.tp.to_string(),
        "--ep".into(),
        s.ep.to_string(),
        "--pp".into(),
        s.pp.to_string(),
        "--warmup".into(),
        "0".into(),
        "--dataset".into(),
        dataset.to_string(),
        "--backend".into(),
        "pytorch".into(),
    ];
    push_opt(&mut args, "--max_batch_size", s.max_batch_size);
    push_opt(&mut args, "--max_num_tokens", s.max_num_tokens);
    args.extend(["--extra_llm_api_options".into(), CONFIG_FILE.into()]);
    push_opt(&mut args, "--num_requests", s.bench.num_requests);
    push_opt(
        &mut args,
        "--kv_cache_free_gpu_mem_fraction",
        s.kv_cache_fraction,
    );
    args.extend([
        "--concurrency".into(),
        s.bench.concurrency.unwrap_or(-1).to_string(),
    ]);
    if s.bench.streaming {
        args.push("--streaming".into());
    }
    Ok(EngineSpec {
        kind: EngineKind::TrtllmBench,
        program: "trtllm-llmapi-launch".into(),
        args,
        env: Vec::new(),
        pass_env: vec!["HF_TOKEN".into()],
        image: s.image.clone(),
        files: vec![(CONFIG_FILE.into(), config_yaml(s)?)],
        port: None,
        health: None,
        metrics_path: None,
        metric_names: CommonMetrics::default(),
        stop: StopPolicy::term(30),
        install_hint: "run inside the TensorRT-LLM container (nvcr.io/nvidia/tensorrt-llm/release)",
    })
}

/// `config.yml` of reference 2.1.
fn config_yaml(s: &EngineSettings) -> Result<String, EngineError> {
    let mut y = YamlDoc::default();
    y.scalar("enable_attention_dp", s.attention_dp)
        .scalar("use_cuda_graph", s.cuda_graphs)
        .scalar(
            "cuda_graph_padding_enabled",
            s.cuda_graphs && s.cuda_graph_padding,
        );
    if s.cuda_graphs && !s.cuda_graph_batch_sizes.is_empty() {
        y.scalar(
            "cuda_graph_batch_sizes",
            flow_list(&s.cuda_graph_batch_sizes),
        );
    }
    y.scalar("print_iter_log", s.print_iter_log);
    if let Some(i) = s.stream_interval {
        y.scalar("stream_interval", i);
    }
    y.finish(ENGINE, &s.extra)
}
