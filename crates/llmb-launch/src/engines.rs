//! Recipe → engine settings: which engine each server of a plan runs and with which
//! settings, from the run spec, the use case and the server's role (reference 2.1, 3, 4.3, 5).
//!
//! Pure. Ports are left at 0 here when the launcher picks them at start (see
//! [`crate::plan::PortChoice`]); everything else an adapter needs is decided now, so the plan
//! shows exactly what will run.

use std::path::Path;

use llmb_engines::{
    cache_transceiver_tokens, moe_backend, split_world, DisaggRole, EngineKind, EngineSettings,
    GpuType as DynamoGpu,
};
use llmb_recipe::{EngineKind as RecipeEngine, GpuType, ResolvedUseCase, RunSpec};
use serde::{Deserialize, Serialize};

/// What a server is in the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerRole {
    /// One model instance serving whole requests.
    Aggregated,
    /// Disaggregated: context (prefill) worker.
    Prefill,
    /// Disaggregated: generation (decode) worker.
    Decode,
    /// Disaggregated: the HTTP frontend that routes to the workers.
    Frontend,
    /// Dynamo's message bus (NATS), on the first node.
    MessageBus,
    /// Dynamo's discovery store (etcd), on the first node.
    Discovery,
}

impl ServerRole {
    /// `aggregated`, `prefill`, `decode`, `frontend`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerRole::Aggregated => "aggregated",
            ServerRole::Prefill => "prefill",
            ServerRole::Decode => "decode",
            ServerRole::Frontend => "frontend",
            ServerRole::MessageBus => "message-bus",
            ServerRole::Discovery => "discovery",
        }
    }
}

use llmb_recipe::knobs::vars::{LLAMA_THREADS, MODEL_PATH, TOKENIZER};

/// Where the engine loads the model from: `MODEL_PATH`, else the downloaded weights folder
/// (`$LLMB_INSTALL/workloads/<key>/<weights_folder>`), else the Hugging Face repository.
pub fn model_location(spec: &RunSpec, install: &Path) -> Option<String> {
    if let Some(p) = spec.knobs.get(MODEL_PATH).filter(|p| !p.trim().is_empty()) {
        return Some(p.clone());
    }
    let m = spec.model.as_ref()?;
    Some(match &m.weights_folder {
        Some(f) => crate::plan::workload_dir(install, &spec.workload_key)
            .join(f)
            .display()
            .to_string(),
        None => m.hf_repo.clone(),
    })
}

/// The tokenizer for exact input lengths: `TOKENIZER`, else the recipe's.
pub fn tokenizer(spec: &RunSpec) -> Option<String> {
    spec.knobs
        .get(TOKENIZER)
        .filter(|p| !p.trim().is_empty())
        .cloned()
        .or_else(|| spec.model.as_ref().and_then(|m| m.tokenizer.clone()))
}

/// The engine a server of `role` runs: the simulator in every role when `sim`, else the
/// recipe's engine (Dynamo's frontend or workers by role).
pub fn engine_kind(spec: &RunSpec, role: ServerRole, sim: bool) -> EngineKind {
    if sim {
        return EngineKind::Sim;
    }
    match (spec.engine, role) {
        (_, ServerRole::MessageBus) => EngineKind::Nats,
        (_, ServerRole::Discovery) => EngineKind::Etcd,
        (RecipeEngine::DynamoTrtllm, ServerRole::Frontend) => EngineKind::DynamoFrontend,
        (RecipeEngine::DynamoTrtllm, ServerRole::Prefill) => EngineKind::DynamoWorker {
            role: DisaggRole::Prefill,
        },
        (RecipeEngine::DynamoTrtllm, _) => EngineKind::DynamoWorker {
            role: DisaggRole::Decode,
        },
        (RecipeEngine::TrtllmBench, _) => EngineKind::TrtllmBench,
        (RecipeEngine::TrtllmServe, _) => EngineKind::TrtllmServe,
        (RecipeEngine::Nim, _) => EngineKind::Nim,
        (RecipeEngine::Vllm, _) => EngineKind::Vllm,
        (RecipeEngine::Sglang, _) => EngineKind::Sglang,
        (RecipeEngine::LlamaCpp, _) => EngineKind::LlamaCpp,
        (RecipeEngine::Sim, _) => EngineKind::Sim,
    }
}

/// The served model name: the recipe's (`meta/llama3-70b-instruct`), else the short name
/// (`MODEL_CARD` in the seeds).
fn served_name(spec: &RunSpec) -> String {
    spec.model
        .as_ref()
        .and_then(|m| m.served_name.clone())
        .unwrap_or_else(|| crate::plan::model_short_name(spec))
}

/// Settings for one server of `role` in use case `uc`.
pub fn settings(
    spec: &RunSpec,
    uc: &ResolvedUseCase,
    role: ServerRole,
    kind: EngineKind,
    install: &Path,
) -> EngineSettings {
    let rs = &spec.recipe.engine.settings;
    let mut s = EngineSettings {
        host: "0.0.0.0".into(),
        port: 0,
        served_name: Some(served_name(spec)),
        image: spec.container_image.clone(),
        stream_interval: rs.stream_interval,
        ..EngineSettings::default()
    };
    if kind == EngineKind::Sim {
        s.max_batch_size = uc.max_batch_size;
        s.max_num_tokens = uc.max_num_tokens;
        s.image = None;
        if role != ServerRole::Aggregated {
            s.extra.insert("role".into(), role.as_str().into());
        }
        if role == ServerRole::Prefill {
            // A prefill worker only produces the first token; stream settings are the decode side's.
            s.stream_interval = None;
        }
        return s;
    }
    s.model = model_location(spec, install);
    // Recipe switches that engines honour (llmb-recipe refuses them for the others).
    s.trust_remote_code = rs.trust_remote_code;
    s.print_iter_log = rs.print_iter_log.unwrap_or(true);
    if let Some(g) = &rs.cuda_graphs {
        s.cuda_graphs = g.enabled;
        s.cuda_graph_padding = g.enable_padding.unwrap_or(true);
    }
    for (k, v) in &rs.extra {
        // YAML engines take the value as YAML text; JSON scalars and flow collections are YAML.
        let text = match v {
            serde_json::Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        s.extra.insert(k.clone(), text);
    }
    match role {
        ServerRole::Aggregated => aggregated(spec, uc, &mut s),
        ServerRole::Prefill | ServerRole::Decode => disaggregated(spec, uc, role, &mut s),
        ServerRole::MessageBus => {
            s.extra.clear();
            s.port = recipe_port(spec, "nats_server_port", 4222);
        }
        ServerRole::Discovery => {
            s.extra.clear();
            s.port = recipe_port(spec, "etcd_server_port", 2379);
        }
        ServerRole::Frontend => {
            s.port = recipe_port(spec, "frontend_port", 8000);
            s.extra.clear();
            s.dynamo.expected_workers = spec
                .disaggregated
                .as_ref()
                .map(|d| d.prefill.servers + d.decode.servers);
        }
    }
    if kind == EngineKind::Nim {
        nim_env(&mut s);
        // NIM for LLMs serves on 8000 inside its container (reference 5).
        s.port = 8000;
    }
    if kind == EngineKind::LlamaCpp {
        s.threads = spec
            .knobs
            .get(LLAMA_THREADS)
            .and_then(|t| t.parse().ok())
            .or(Some(1));
        s.image = None;
    }
    s
}

/// NIM takes its settings as environment variables: the recipe's `nim_engine_profile` is
/// `NIM_MODEL_PROFILE`; upper-case keys pass through as given; other keys describe the
/// container (its tag is in the image) and are dropped.
fn nim_env(s: &mut EngineSettings) {
    let extra = std::mem::take(&mut s.extra);
    for (k, v) in extra {
        if k == "nim_engine_profile" {
            s.extra.insert("NIM_MODEL_PROFILE".into(), v);
        } else if k
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            s.extra.insert(k, v);
        }
    }
}

/// A port the recipe's engine `extra` names (`frontend_port`, `nats_server_port`,
/// `etcd_server_port`: the seed's `DYNAMO_FRONTEND_PORT`, ...), else `default`.
fn recipe_port(spec: &RunSpec, key: &str, default: u16) -> u16 {
    spec.recipe
        .engine
        .settings
        .extra
        .get(key)
        .and_then(serde_json::Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(default)
}

fn aggregated(spec: &RunSpec, uc: &ResolvedUseCase, s: &mut EngineSettings) {
    let rs = &spec.recipe.engine.settings;
    let p = spec.parallelism;
    s.tp = p.tp.max(1);
    s.pp = p.pp.max(1);
    s.ep = p.ep.max(1);
    s.attention_dp = rs.enable_attention_dp.unwrap_or(p.attention_dp);
    s.max_batch_size = uc.max_batch_size;
    s.max_num_tokens = uc.max_num_tokens;
    s.max_seq_len = rs.max_seq_len;
    s.kv_cache_fraction = uc.kv_cache_free_gpu_memory_fraction;
    s.cuda_graph_batch_sizes = rs
        .cuda_graphs
        .as_ref()
        .map(|g| g.batch_sizes.clone())
        .unwrap_or_default();
    s.slots = uc.max_batch_size;
    // `kv_cache_config.dtype` for the TensorRT-LLM engines (the field is shared with Dynamo's).
    s.dynamo.kv_cache_dtype = rs.kv_cache_dtype.clone();
    if spec.engine == RecipeEngine::TrtllmBench {
        s.bench.streaming = spec.streaming;
        s.bench.num_requests = uc.num_requests;
    }
}

fn disaggregated(spec: &RunSpec, uc: &ResolvedUseCase, role: ServerRole, s: &mut EngineSettings) {
    let Some(d) = &spec.disaggregated else {
        return;
    };
    let rs = &spec.recipe.engine.settings;
    let pool = if role == ServerRole::Prefill {
        &d.prefill
    } else {
        &d.decode
    };
    let gpu = dynamo_gpu(&spec.gpu_type);
    let (tp, pp) = split_world(gpu, pool.gpus_per_server);
    s.tp = pool.tp.unwrap_or(tp);
    s.pp = pool.pp.unwrap_or(pp);
    s.ep = pool.ep.unwrap_or(s.tp);
    s.attention_dp = pool.attention_dp;
    s.max_batch_size = Some(pool.max_batch_size);
    s.max_num_tokens = Some(pool.max_num_tokens);
    s.kv_cache_fraction = Some(pool.gpu_memory_fraction);
    let ctx_len = uc.isl + 200;
    s.dynamo.moe_backend = Some(moe_backend(gpu, s.tp, s.attention_dp).into());
    s.dynamo.cache_transceiver_max_tokens = Some(cache_transceiver_tokens(ctx_len));
    s.dynamo.kv_cache_dtype = rs.kv_cache_dtype.clone();
    s.extra
        .retain(|k, _| !DYNAMO_RECIPE_KEYS.contains(&k.as_str()));
    if role == ServerRole::Prefill {
        s.max_seq_len = Some(ctx_len);
        s.stream_interval = None;
    } else {
        s.max_seq_len = Some(uc.isl + uc.osl + 200);
        let mut sizes = rs
            .cuda_graphs
            .as_ref()
            .map(|g| g.batch_sizes.clone())
            .unwrap_or_default();
        if !sizes.contains(&pool.max_batch_size) {
            sizes.push(pool.max_batch_size);
        }
        s.cuda_graph_batch_sizes = sizes;
        s.dynamo.mtp_size = pool.mtp_size;
        s.dynamo.eplb_slots = pool.eplb_num_slots;
        if gpu == DynamoGpu::Gb200 && s.tp == 8 && !s.attention_dp {
            s.dynamo.allreduce_strategy = Some("MNNVL".into());
        }
    }
}

/// Recipe `extra` keys that describe the Dynamo deployment, not a worker's engine options.
const DYNAMO_RECIPE_KEYS: [&str; 3] = ["nats_server_port", "etcd_server_port", "frontend_port"];

/// The Dynamo rules know gb200, b200 and h100; other Blackwell parts follow their family.
fn dynamo_gpu(g: &GpuType) -> DynamoGpu {
    match g {
        GpuType::Gb200 | GpuType::Gb300 => DynamoGpu::Gb200,
        GpuType::B200 | GpuType::B300 => DynamoGpu::B200,
        _ => DynamoGpu::H100,
    }
}
