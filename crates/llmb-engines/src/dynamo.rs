//! Dynamo disaggregated serving: the frontend and the prefill/decode TRT-LLM workers, their
//! YAML configs (reference 4.3) and the per-GPU rules that pick TP/PP and the MoE backend.
//!
//! The frontend is ready when `GET /health` is 200 and lists the workers' endpoints
//! (reference 4.4). Workers have no HTTP endpoint of their own: they are ready when the
//! frontend lists them.

use super::yaml::{flow_list, YamlDoc};
use super::{
    need_model, served_name, CommonMetrics, DisaggRole, EngineError, EngineKind, EngineSettings,
    EngineSpec, Expect, Readiness, StopPolicy,
};

const WORKER: &str = "Dynamo worker";
/// The EPLB file a decode worker's YAML points to.
pub(super) const EPLB_FILE: &str = "moe_load_balancer.yaml";

/// The frontend's names (on its HTTP port). "Running" is the frontend's in-flight count
/// (queued requests included); it has no KV-cache gauge.
pub(super) const FRONTEND_METRICS: CommonMetrics = CommonMetrics {
    running: &["dynamo_frontend_inflight_requests"],
    waiting: &["dynamo_frontend_queued_requests"],
    kv_cache_use: &[],
    generated_tokens: &["dynamo_frontend_output_tokens_total"],
};

/// GPU types with Dynamo recipe defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuType {
    /// GB200 (4 GPUs per node, NVL72).
    Gb200,
    /// B200 (8 per node).
    B200,
    /// H100 (8 per node).
    H100,
}

impl GpuType {
    /// `gb200`, `b200` or `h100` (any case).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "gb200" => Some(Self::Gb200),
            "b200" => Some(Self::B200),
            "h100" => Some(Self::H100),
            _ => None,
        }
    }
}

/// (tp, pp) for a worker of `world` GPUs: gb200 `tp = world, pp = 1`; h100/b200
/// `tp = min(8, world)`, `pp = world / tp`.
#[must_use]
pub fn split_world(gpu: GpuType, world: u32) -> (u32, u32) {
    match gpu {
        GpuType::Gb200 => (world, 1),
        GpuType::B200 | GpuType::H100 => {
            let tp = world.clamp(1, 8);
            (tp, (world / tp).max(1))
        }
    }
}

/// `moe_config.backend`: h100 CUTLASS; b200 CUTLASS with attention DP, else TRTLLM;
/// gb200 with attention DP WIDEEP if `tp >= 16` else CUTLASS, without TRTLLM.
#[must_use]
pub fn moe_backend(gpu: GpuType, tp: u32, attention_dp: bool) -> &'static str {
    match (gpu, attention_dp) {
        (GpuType::H100, _) | (GpuType::B200, true) => "CUTLASS",
        (GpuType::Gb200, true) if tp >= 16 => "WIDEEP",
        (GpuType::Gb200, true) => "CUTLASS",
        (GpuType::B200 | GpuType::Gb200, false) => "TRTLLM",
    }
}

/// Cache-transceiver buffer: the prefill max sequence length rounded up to 256 (8350 → 8448).
#[must_use]
pub fn cache_transceiver_tokens(ctx_max_seq_len: u32) -> u32 {
    ctx_max_seq_len.div_ceil(256) * 256
}

fn control_plane_env(s: &EngineSettings) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if let Some(e) = &s.dynamo.etcd_endpoints {
        env.push(("ETCD_ENDPOINTS".to_string(), e.clone()));
    }
    if let Some(n) = &s.dynamo.nats_server {
        env.push(("NATS_SERVER".to_string(), n.clone()));
    }
    env
}

#[allow(clippy::unnecessary_wraps)]
pub(super) fn frontend(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let mut contains = vec![
        (r#""status":"healthy""#.to_string(), 1),
        ("dyn://dynamo.tensorrt_llm.generate".to_string(), 1),
        ("tensorrt_llm_next".to_string(), 1),
    ];
    if let Some(n) = s.dynamo.expected_workers {
        // One `instance_id` per registered worker instance in the health body.
        contains.push((r#""instance_id""#.to_string(), n));
    }
    Ok(EngineSpec {
        kind: EngineKind::DynamoFrontend,
        program: "python3".into(),
        args: vec![
            "-m".into(),
            "dynamo.frontend".into(),
            "--http-port".into(),
            s.port.to_string(),
        ],
        env: control_plane_env(s),
        pass_env: Vec::new(),
        image: s.image.clone(),
        files: Vec::new(),
        port: Some(s.port),
        health: Some(Readiness {
            path: "/health".into(),
            expect: Expect::Body {
                status: 200,
                contains,
            },
        }),
        metrics_path: Some("/metrics".into()),
        metric_names: FRONTEND_METRICS,
        stop: StopPolicy::term(30),
        install_hint: "run in the Dynamo container (nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime)",
    })
}

/// NATS (`nats-server -js`) on its client port: no HTTP probe of its own (the frontend's
/// health, which needs it, is the check).
#[allow(clippy::unnecessary_wraps)]
pub(super) fn nats(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    Ok(EngineSpec {
        kind: EngineKind::Nats,
        program: "nats-server".into(),
        args: vec!["-js".into(), "-p".into(), s.port.to_string()],
        env: Vec::new(),
        pass_env: Vec::new(),
        image: s.image.clone(),
        files: Vec::new(),
        port: Some(s.port),
        health: None,
        metrics_path: None,
        metric_names: CommonMetrics::default(),
        stop: StopPolicy::term(5),
        install_hint: "run in the Dynamo container, which ships nats-server",
    })
}

/// etcd on its client port (all interfaces; `host` is the address it advertises), data in
/// the working folder; ready when `GET /health` is 200.
#[allow(clippy::unnecessary_wraps)]
pub(super) fn etcd(s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let listen = format!("http://0.0.0.0:{}", s.port);
    let url = format!("http://{}:{}", s.host, s.port);
    Ok(EngineSpec {
        kind: EngineKind::Etcd,
        program: "etcd".into(),
        args: vec![
            "--data-dir".into(),
            "etcd-data".into(),
            "--listen-client-urls".into(),
            listen,
            "--advertise-client-urls".into(),
            url,
        ],
        env: Vec::new(),
        pass_env: Vec::new(),
        image: s.image.clone(),
        files: Vec::new(),
        port: Some(s.port),
        health: super::health_200("/health"),
        metrics_path: Some("/metrics".into()),
        metric_names: CommonMetrics::default(),
        stop: StopPolicy::term(5),
        install_hint: "run in the Dynamo container, which ships etcd",
    })
}

fn need(what: &'static str, fix: &'static str, v: Option<u32>) -> Result<u32, EngineError> {
    v.ok_or(EngineError::Missing {
        engine: WORKER,
        what,
        fix,
    })
}

pub(super) fn worker(role: DisaggRole, s: &EngineSettings) -> Result<EngineSpec, EngineError> {
    let model = need_model(WORKER, s)?;
    let name = served_name(s).unwrap_or(model);
    let mbs = need(
        "max_batch_size",
        "set engine.prefill.max_batch_size / engine.decode.max_batch_size in the recipe",
        s.max_batch_size,
    )?;
    let mnt = need(
        "max_num_tokens",
        "set engine.prefill.max_num_tokens / engine.decode.max_num_tokens in the recipe",
        s.max_num_tokens,
    )?;
    let msl = need(
        "max_seq_len",
        "set it in the recipe (prefill: ISL + 200, decode: ISL + OSL + 200)",
        s.max_seq_len,
    )?;
    let file = format!("{}.yaml", role.as_str());
    let args = vec![
        "python3".to_string(),
        "-m".into(),
        "dynamo.trtllm".into(),
        "--model-path".into(),
        model.to_string(),
        "--served-model-name".into(),
        name.to_string(),
        "--max-num-tokens".into(),
        mnt.to_string(),
        "--max-batch-size".into(),
        mbs.to_string(),
        "--max-seq-len".into(),
        msl.to_string(),
        "--disaggregation-mode".into(),
        role.as_str().into(),
        "--extra-engine-args".into(),
        file.clone(),
    ];
    let mut env = control_plane_env(s);
    env.push(("TLLM_LOG_LEVEL".into(), "INFO".into()));
    if !s.attention_dp {
        env.push(("TRTLLM_ENABLE_PDL".into(), "1".into()));
    }
    let mut files = vec![(file, worker_yaml(role, s, mbs, mnt, msl)?)];
    if role == DisaggRole::Decode && s.dynamo.eplb_slots > 0 {
        files.push((
            EPLB_FILE.into(),
            format!(
                "num_slots: {}\nlayer_updates_per_iter: 1\n",
                s.dynamo.eplb_slots
            ),
        ));
    }
    Ok(EngineSpec {
        kind: EngineKind::DynamoWorker { role },
        program: "trtllm-llmapi-launch".into(),
        args,
        env,
        pass_env: vec!["HF_TOKEN".into()],
        image: s.image.clone(),
        files,
        port: None,
        health: None,
        metrics_path: None,
        metric_names: CommonMetrics::default(),
        stop: StopPolicy::term(30),
        install_hint: "run in the Dynamo container (nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime)",
    })
}

/// prefill.yaml / decode.yaml of reference 4.3.
fn worker_yaml(
    role: DisaggRole,
    s: &EngineSettings,
    mbs: u32,
    mnt: u32,
    msl: u32,
) -> Result<String, EngineError> {
    let d = &s.dynamo;
    let mut y = YamlDoc::default();
    y.scalar("max_batch_size", mbs)
        .scalar("max_num_tokens", mnt)
        .scalar("max_seq_len", msl)
        .scalar("tensor_parallel_size", s.tp)
        .scalar("moe_expert_parallel_size", s.ep)
        .scalar("enable_attention_dp", s.attention_dp)
        .scalar("pipeline_parallel_size", s.pp)
        .scalar("print_iter_log", s.print_iter_log);
    if role == DisaggRole::Prefill {
        y.scalar("disable_overlap_scheduler", true)
            .scalar("enable_chunked_prefill", true);
    }
    let mut kv = vec![("enable_block_reuse", "false".to_string())];
    if let Some(f) = s.kv_cache_fraction {
        kv.push(("free_gpu_memory_fraction", f.to_string()));
    }
    if let Some(t) = &d.kv_cache_dtype {
        kv.push(("dtype", t.clone()));
    }
    y.map("kv_cache_config", &kv);
    let mut moe = Vec::new();
    if let Some(b) = &d.moe_backend {
        moe.push(("backend", b.clone()));
    }
    if role == DisaggRole::Decode && d.eplb_slots > 0 {
        moe.push(("load_balancer", EPLB_FILE.to_string()));
    }
    if !moe.is_empty() {
        y.map("moe_config", &moe);
    }
    let mut ct = Vec::new();
    if let Some(t) = d.cache_transceiver_max_tokens {
        ct.push(("max_tokens_in_buffer", t.to_string()));
    }
    ct.push(("backend", "DEFAULT".to_string()));
    y.map("cache_transceiver_config", &ct);
    if d.mtp_size > 0 {
        y.map(
            "speculative_config",
            &[
                ("decoding_type", "MTP".to_string()),
                ("num_nextn_predict_layers", d.mtp_size.to_string()),
            ],
        );
    }
    if role == DisaggRole::Decode {
        if s.cuda_graphs {
            let mut graph = vec![("enable_padding", s.cuda_graph_padding.to_string())];
            if !s.cuda_graph_batch_sizes.is_empty() {
                graph.push(("batch_sizes", flow_list(&s.cuda_graph_batch_sizes)));
            }
            y.map("cuda_graph_config", &graph);
        } else {
            y.scalar("cuda_graph_config", "null");
        }
        if let Some(i) = s.stream_interval {
            y.scalar("stream_interval", i);
        }
        if let Some(a) = &d.allreduce_strategy {
            y.scalar("allreduce_strategy", a);
        }
    }
    y.finish(WORKER, &s.extra)
}
