//! trtllm-serve: recipe settings → `trtllm-serve` flags and the `--extra_llm_api_options` YAML.

use super::yaml::{flow_list, YamlDoc};
use super::{
    health_200, need_model, push_opt, CommonMetrics, EngineError, EngineKind, EngineSettings,
    EngineSpec, StopPolicy,
};

const ENGINE: &str = "trtllm-serve";
/// The options file, relative to the working folder.
pub(super) const OPTIONS_FILE: &str = "extra_llm_api_options.yaml";

pub(super) fn spec(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let model = need_model(ENGINE, s)?;
    let mut args = vec![
        model.to_string(),
        "--host".into(),
        s.host.clone(),
        "--port".into(),
        s.port.to_string(),
    ];
    push_opt(&mut args, "--served_model_name", s.served_name.as_deref());
    push_opt(&mut args, "--max_batch_size", s.max_batch_size);
    push_opt(&mut args, "--max_num_tokens", s.max_num_tokens);
    push_opt(&mut args, "--max_seq_len", s.max_seq_len);
    push_opt(
        &mut args,
        "--kv_cache_free_gpu_memory_fraction",
        s.kv_cache_fraction,
    );
    args.extend(["--tp_size".into(), s.tp.to_string()]);
    if s.pp > 1 {
        args.extend(["--pp_size".into(), s.pp.to_string()]);
    }
    args.extend(["--ep_size".into(), s.ep.to_string()]);
    if s.trust_remote_code.unwrap_or(true) {
        args.push("--trust_remote_code".into());
    }
    args.extend(["--extra_llm_api_options".into(), OPTIONS_FILE.into()]);

    Ok(EngineSpec {
        kind: EngineKind::TrtllmServe,
        program: "trtllm-serve".into(),
        args,
        env: Vec::new(),
        pass_env: vec!["HF_TOKEN".into()],
        image: s.image.clone(),
        files: vec![(OPTIONS_FILE.into(), options_yaml(s)?)],
        port: Some(s.port),
        health: health_200("/health"),
        // trtllm-serve's `/metrics` answers JSON iteration stats, not Prometheus text.
        metrics_path: None,
        metric_names: CommonMetrics::default(),
        stop: StopPolicy::term(30),
        install_hint:
            "run inside the TensorRT-LLM container (nvcr.io/nvidia/tensorrt-llm/release) \
                       or `pip install tensorrt_llm`",
    })
}

/// The `--extra_llm_api_options` file.
fn options_yaml(s: &EngineSettings) -> Result<String, EngineError> {
    let mut y = YamlDoc::default();
    y.scalar("enable_attention_dp", s.attention_dp);
    if s.cuda_graphs {
        let mut graph = vec![("enable_padding", s.cuda_graph_padding.to_string())];
        if s.cuda_graph_batch_sizes.is_empty() {
            if let Some(b) = s.max_batch_size {
                graph.push(("max_batch_size", b.to_string()));
            }
        } else {
            graph.push(("batch_sizes", flow_list(&s.cuda_graph_batch_sizes)));
        }
        y.map("cuda_graph_config", &graph);
    } else {
        // The LLM API's way to turn graphs off.
        y.scalar("cuda_graph_config", "null");
    }
    let mut kv = Vec::new();
    if let Some(f) = s.kv_cache_fraction {
        kv.push(("free_gpu_memory_fraction", f.to_string()));
    }
    if let Some(d) = &s.dynamo.kv_cache_dtype {
        kv.push(("dtype", d.clone()));
    }
    if !kv.is_empty() {
        y.map("kv_cache_config", &kv);
    }
    y.scalar("print_iter_log", s.print_iter_log);
    if let Some(i) = s.stream_interval {
        y.scalar("stream_interval", i);
    }
    y.finish(ENGINE, &s.extra)
}
