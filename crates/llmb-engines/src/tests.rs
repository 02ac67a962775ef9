use super::*;

fn argv(spec: &EngineSpec) -> Vec<&str> {
    std::iter::once(spec.program.as_str())
        .chain(spec.args.iter().map(String::as_str))
        .collect()
}

fn file<'a>(spec: &'a EngineSpec, name: &str) -> &'a str {
    &spec
        .files
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no file {name}"))
        .1
}

fn llama70b_tp8() -> EngineSettings {
    EngineSettings {
        model: Some("meta-llama/Llama-3.1-70B-Instruct".into()),
        host: "0.0.0.0".into(),
        port: 8000,
        tp: 8,
        max_batch_size: Some(256),
        max_num_tokens: Some(8192),
        max_seq_len: Some(4096),
        kv_cache_fraction: Some(0.9),
        stream_interval: Some(4),
        ..EngineSettings::default()
    }
}

#[test]
fn trtllm_serve_llama70b_tp8() {
    let s = spec(EngineKind::TrtllmServe, &llama70b_tp8()).unwrap();
    assert_eq!(
        argv(&s),
        [
            "trtllm-serve",
            "meta-llama/Llama-3.1-70B-Instruct",
            "--host",
            "0.0.0.0",
            "--port",
            "8000",
            "--max_batch_size",
            "256",
            "--max_num_tokens",
            "8192",
            "--max_seq_len",
            "4096",
            "--kv_cache_free_gpu_memory_fraction",
            "0.9",
            "--tp_size",
            "8",
            "--ep_size",
            "1",
            "--trust_remote_code",
            "--extra_llm_api_options",
            "extra_llm_api_options.yaml",
        ]
    );
    assert_eq!(
        file(&s, "extra_llm_api_options.yaml"),
        "enable_attention_dp: false\n\
         cuda_graph_config:\n  enable_padding: true\n  max_batch_size: 256\n\
         kv_cache_config:\n  free_gpu_memory_fraction: 0.9\n\
         print_iter_log: true\n\
         stream_interval: 4\n"
    );
    assert_eq!(s.health, health_200("/health"));
    assert_eq!(s.stop, StopPolicy::term(30));
    assert_eq!(s.port, Some(8000));
}

#[test]
fn trtllm_serve_graph_sizes_and_extra_keys() {
    let mut set = llama70b_tp8();
    set.cuda_graph_batch_sizes = vec![1, 2, 4, 8];
    set.attention_dp = true;
    set.pp = 2;
    set.served_name = Some("llama".into());
    set.extra.insert("kv_cache_dtype".into(), "fp8".into());
    let s = spec(EngineKind::TrtllmServe, &set).unwrap();
    assert!(s
        .command_line()
        .contains("--tp_size 8 --pp_size 2 --ep_size 1"));
    let y = file(&s, "extra_llm_api_options.yaml");
    assert!(y.starts_with("enable_attention_dp: true\n"));
    assert!(y.contains("  batch_sizes: [1, 2, 4, 8]\n"));
    assert!(y.ends_with("kv_cache_dtype: fp8\n"));

    set.extra.insert("print_iter_log".into(), "false".into());
    let err = spec(EngineKind::TrtllmServe, &set).unwrap_err();
    assert!(err.to_string().contains("`print_iter_log`"), "{err}");
}

#[test]
fn trtllm_bench_reference_command() {
    let set = EngineSettings {
        model: Some("/workload/Llama3.3_70B".into()),
        served_name: Some("Llama3.3-70B".into()),
        max_batch_size: Some(640),
        max_num_tokens: Some(2048),
        kv_cache_fraction: Some(0.95),
        stream_interval: Some(4),
        cuda_graph_batch_sizes: vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 320, 448, 512],
        bench: BenchSettings {
            dataset: Some("dataset_reasoning_1000_1000.txt".into()),
            num_requests: Some(4000),
            concurrency: None,
            streaming: true,
        },
        ..EngineSettings::default()
    };
    let s = spec(EngineKind::TrtllmBench, &set).unwrap();
    assert_eq!(
        s.command_line(),
        "trtllm-llmapi-launch trtllm-bench -m Llama3.3-70B --model_path /workload/Llama3.3_70B \
         throughput --tp 1 --ep 1 --pp 1 --warmup 0 --dataset dataset_reasoning_1000_1000.txt \
         --backend pytorch --max_batch_size 640 --max_num_tokens 2048 \
         --extra_llm_api_options config.yml --num_requests 4000 \
         --kv_cache_free_gpu_mem_fraction 0.95 --concurrency -1 --streaming"
    );
    assert_eq!(
        file(&s, "config.yml"),
        "enable_attention_dp: false\nuse_cuda_graph: true\ncuda_graph_padding_enabled: true\n\
         cuda_graph_batch_sizes: [1, 2, 4, 8, 16, 32, 64, 128, 256, 320, 448, 512]\n\
         print_iter_log: true\nstream_interval: 4\n"
    );
    assert_eq!(s.health, None);
    assert_eq!(s.port, None);

    let mut no_data = set.clone();
    no_data.bench.dataset = None;
    assert_eq!(
        spec(EngineKind::TrtllmBench, &no_data).unwrap_err().to_string(),
        "trtllm-bench needs a dataset: write one with `llmb dataset` and set bench.dataset in the recipe"
    );
}

#[test]
fn nim_container_env_and_readiness() {
    let set = EngineSettings {
        image: Some("nvcr.io/nim/meta/llama3-70b-instruct:1.0.3".into()),
        served_name: Some("meta/llama3-70b-instruct".into()),
        ..EngineSettings::default()
    };
    let s = spec(EngineKind::Nim, &set).unwrap();
    assert_eq!(
        s.image.as_deref(),
        Some("nvcr.io/nim/meta/llama3-70b-instruct:1.0.3")
    );
    assert_eq!(
        s.env,
        [
            ("NIM_SERVER_PORT".to_string(), "8000".to_string()),
            (
                "NIM_SERVED_MODEL_NAME".into(),
                "meta/llama3-70b-instruct".into()
            ),
        ]
    );
    assert_eq!(s.pass_env, ["NGC_API_KEY", "HF_TOKEN"]);
    assert_eq!(s.health.as_ref().unwrap().path, "/v1/health/ready");
    assert_eq!(s.metrics_path.as_deref(), Some("/v1/metrics"));
    let err = spec(EngineKind::Nim, &EngineSettings::default()).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("NIM needs a container image: set engine.image"));
}

#[test]
fn vllm_command() {
    let mut set = llama70b_tp8();
    set.served_name = Some("llama".into());
    set.extra.insert("enforce-eager".into(), String::new());
    let s = spec(EngineKind::Vllm, &set).unwrap();
    assert_eq!(
        s.command_line(),
        "vllm serve meta-llama/Llama-3.1-70B-Instruct --host 0.0.0.0 --port 8000 \
         --served-model-name llama --tensor-parallel-size 8 --max-num-seqs 256 \
         --max-num-batched-tokens 8192 --max-model-len 4096 --gpu-memory-utilization 0.9 \
         --enforce-eager"
    );
    assert_eq!(s.health, health_200("/health"));
    assert_eq!(s.metric_names.running, ["vllm:num_requests_running"]);
}

#[test]
fn vllm_dp_ep_and_errors() {
    let set = EngineSettings {
        model: Some("deepseek-ai/DeepSeek-V3".into()),
        dp: 8,
        ep: 8,
        ..EngineSettings::default()
    };
    let s = spec(EngineKind::Vllm, &set).unwrap();
    assert!(s
        .command_line()
        .ends_with("--tensor-parallel-size 1 --data-parallel-size 8 --enable-expert-parallel"));
    let bad = EngineSettings { ep: 4, ..set };
    let err = spec(EngineKind::Vllm, &bad).unwrap_err().to_string();
    assert!(
        err.contains("TP × DP = 1 × 8 = 8, not ep = 4; set ep to 8"),
        "{err}"
    );
    assert_eq!(
        spec(EngineKind::Vllm, &EngineSettings::default())
            .unwrap_err()
            .to_string(),
        "vLLM needs a model: set model.hf_repo in the recipe"
    );
}

#[test]
fn sglang_command() {
    let set = EngineSettings {
        model: Some("deepseek-ai/DeepSeek-R1".into()),
        port: 30000,
        tp: 8,
        dp: 8,
        ep: 8,
        attention_dp: true,
        max_batch_size: Some(512),
        max_num_tokens: Some(16384),
        kv_cache_fraction: Some(0.85),
        stream_interval: Some(50),
        cuda_graph_batch_sizes: vec![1, 8, 64],
        ..EngineSettings::default()
    };
    let s = spec(EngineKind::Sglang, &set).unwrap();
    assert_eq!(
        argv(&s),
        [
            "python3",
            "-m",
            "sglang.launch_server",
            "--model-path",
            "deepseek-ai/DeepSeek-R1",
            "--host",
            "127.0.0.1",
            "--port",
            "30000",
            "--tp-size",
            "8",
            "--dp-size",
            "8",
            "--ep-size",
            "8",
            "--enable-dp-attention",
            "--max-running-requests",
            "512",
            "--chunked-prefill-size",
            "16384",
            "--mem-fraction-static",
            "0.85",
            "--stream-interval",
            "50",
            "--cuda-graph-bs",
            "1",
            "8",
            "64",
            "--enable-metrics",
        ]
    );
    assert_eq!(s.metrics_path.as_deref(), Some("/metrics"));
}

#[test]
fn dynamo_frontend() {
    let set = EngineSettings {
        dynamo: DynamoSettings {
            etcd_endpoints: Some("10.0.0.1:2379".into()),
            nats_server: Some("nats://10.0.0.1:4222".into()),
            expected_workers: Some(7),
            ..DynamoSettings::default()
        },
        ..EngineSettings::default()
    };
    let s = spec(EngineKind::DynamoFrontend, &set).unwrap();
    assert_eq!(
        s.command_line(),
        "python3 -m dynamo.frontend --http-port 8000"
    );
    assert_eq!(
        s.env,
        [
            ("ETCD_ENDPOINTS".to_string(), "10.0.0.1:2379".to_string()),
            ("NATS_SERVER".into(), "nats://10.0.0.1:4222".into()),
        ]
    );
    let h = s.health.unwrap();
    assert_eq!(h.path, "/health");
    let text = "dynamo_frontend_inflight_requests{model=\"m\"} 9\n\
                dynamo_frontend_queued_requests{model=\"m\"} 3\n\
                dynamo_frontend_output_tokens_total{model=\"m\"} 4500000\n";
    assert_eq!(
        CommonSample::from_exposition(text, &s.metric_names),
        CommonSample {
            running: Some(9.0),
            waiting: Some(3.0),
            kv_cache_use: None,
            generated_tokens_total: Some(4_500_000.0),
        }
    );
    let healthy = |workers: usize| {
        format!(
            r#"{{"status":"healthy","endpoints":["dyn://dynamo.tensorrt_llm.generate","dyn://dynamo.tensorrt_llm_next.generate"],"instances":[{}]}}"#,
            vec![r#"{"instance_id":1}"#; workers].join(",")
        )
    };
    assert!(h.is_ready(200, &healthy(7)));
    assert!(!h.is_ready(200, &healthy(6)));
    assert!(!h.is_ready(503, &healthy(7)));
    assert!(!h.is_ready(200, r#"{"status":"healthy","endpoints":[]}"#));
}

fn gb200_ctx() -> EngineSettings {
    let (tp, pp) = split_world(GpuType::Gb200, 4);
    EngineSettings {
        model: Some("/workload/DeepSeek-R1-FP4".into()),
        served_name: Some("deepseek-r1-dynamo".into()),
        tp,
        pp,
        ep: tp,
        attention_dp: true,
        max_batch_size: Some(1),
        max_num_tokens: Some(4096),
        max_seq_len: Some(8150 + 200),
        kv_cache_fraction: Some(0.75),
        dynamo: DynamoSettings {
            moe_backend: Some(moe_backend(GpuType::Gb200, tp, true).into()),
            cache_transceiver_max_tokens: Some(cache_transceiver_tokens(8350)),
            kv_cache_dtype: Some("fp8".into()),
            ..DynamoSettings::default()
        },
        ..EngineSettings::default()
    }
}

#[test]
fn dynamo_prefill_worker_gb200() {
    let s = spec(
        EngineKind::DynamoWorker {
            role: DisaggRole::Prefill,
        },
        &gb200_ctx(),
    )
    .unwrap();
    assert_eq!(
        s.command_line(),
        "trtllm-llmapi-launch python3 -m dynamo.trtllm --model-path /workload/DeepSeek-R1-FP4 \
         --served-model-name deepseek-r1-dynamo --max-num-tokens 4096 --max-batch-size 1 \
         --max-seq-len 8350 --disaggregation-mode prefill --extra-engine-args prefill.yaml"
    );
    assert_eq!(
        file(&s, "prefill.yaml"),
        "max_batch_size: 1\nmax_num_tokens: 4096\nmax_seq_len: 8350\n\
         tensor_parallel_size: 4\nmoe_expert_parallel_size: 4\nenable_attention_dp: true\n\
         pipeline_parallel_size: 1\nprint_iter_log: true\n\
         disable_overlap_scheduler: true\nenable_chunked_prefill: true\n\
         kv_cache_config:\n  enable_block_reuse: false\n  free_gpu_memory_fraction: 0.75\n  dtype: fp8\n\
         moe_config:\n  backend: CUTLASS\n\
         cache_transceiver_config:\n  max_tokens_in_buffer: 8448\n  backend: DEFAULT\n"
    );
    assert_eq!(
        s.env,
        [("TLLM_LOG_LEVEL".to_string(), "INFO".to_string())],
        "attention DP on: no PDL"
    );
    assert_eq!(s.health, None);
}

#[test]
fn dynamo_decode_worker_with_mtp_and_eplb() {
    let mut set = gb200_ctx();
    set.max_batch_size = Some(256);
    set.max_num_tokens = Some(256);
    set.max_seq_len = Some(8150 + 1024 + 200);
    set.kv_cache_fraction = Some(0.8);
    set.stream_interval = Some(20);
    set.cuda_graph_batch_sizes = vec![1, 2, 4, 8, 16, 32, 64, 128, 256];
    set.dynamo.mtp_size = 1;
    set.dynamo.eplb_slots = 288;
    let s = spec(
        EngineKind::DynamoWorker {
            role: DisaggRole::Decode,
        },
        &set,
    )
    .unwrap();
    assert!(s
        .command_line()
        .ends_with("--disaggregation-mode decode --extra-engine-args decode.yaml"));
    let y = file(&s, "decode.yaml");
    assert!(!y.contains("enable_chunked_prefill"));
    assert!(
        y.contains("moe_config:\n  backend: CUTLASS\n  load_balancer: moe_load_balancer.yaml\n")
    );
    assert!(
        y.contains("speculative_config:\n  decoding_type: MTP\n  num_nextn_predict_layers: 1\n")
    );
    assert!(y.contains(
        "cuda_graph_config:\n  enable_padding: true\n  batch_sizes: [1, 2, 4, 8, 16, 32, 64, 128, 256]\n"
    ));
    assert!(y.ends_with("stream_interval: 20\n"));
    assert_eq!(
        file(&s, "moe_load_balancer.yaml"),
        "num_slots: 288\nlayer_updates_per_iter: 1\n"
    );
    let mut missing = set;
    missing.max_seq_len = None;
    let err = spec(
        EngineKind::DynamoWorker {
            role: DisaggRole::Decode,
        },
        &missing,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Dynamo worker needs max_seq_len: "),
        "{err}"
    );
}

#[test]
fn dynamo_rules_per_gpu() {
    assert_eq!(split_world(GpuType::Gb200, 8), (8, 1));
    assert_eq!(split_world(GpuType::H100, 16), (8, 2));
    assert_eq!(split_world(GpuType::B200, 8), (8, 1));
    assert_eq!(moe_backend(GpuType::H100, 16, true), "CUTLASS");
    assert_eq!(moe_backend(GpuType::B200, 8, false), "TRTLLM");
    assert_eq!(moe_backend(GpuType::Gb200, 16, true), "WIDEEP");
    assert_eq!(moe_backend(GpuType::Gb200, 8, true), "CUTLASS");
    assert_eq!(moe_backend(GpuType::Gb200, 8, false), "TRTLLM");
    assert_eq!(cache_transceiver_tokens(8350), 8448);
    assert_eq!(cache_transceiver_tokens(256), 256);
    assert_eq!(GpuType::parse("GB200"), Some(GpuType::Gb200));
    assert_eq!(GpuType::parse("a100"), None);
}

#[test]
fn llama_cpp_command() {
    let set = EngineSettings {
        model: Some("/cache/SmolLM2-135M-Instruct.Q4_1.gguf".into()),
        port: 8080,
        slots: Some(4),
        max_seq_len: Some(4096),
        threads: Some(1),
        ..EngineSettings::default()
    };
    let s = spec(EngineKind::LlamaCpp, &set).unwrap();
    assert_eq!(
        s.command_line(),
        "llama-server -m /cache/SmolLM2-135M-Instruct.Q4_1.gguf --host 127.0.0.1 --port 8080 \
         -np 4 -c 16384 -t 1 --metrics"
    );
    assert_eq!(s.stop, StopPolicy::term(5));
    let err = spec(EngineKind::LlamaCpp, &EngineSettings::default()).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("llama.cpp needs a GGUF model file: set model.path"));
}

#[test]
fn sim_command() {
    let set = EngineSettings {
        served_name: Some("llmb-sim".into()),
        port: 0,
        max_batch_size: Some(256),
        max_num_tokens: Some(8192),
        stream_interval: Some(1),
        extra: [("seed".to_string(), "7".to_string())].into(),
        ..EngineSettings::default()
    };
    let s = spec(EngineKind::Sim, &set).unwrap();
    assert_eq!(
        s.command_line(),
        "llmb serve sim --host 127.0.0.1 --port 0 --model llmb-sim --max-batch-size 256 \
         --max-num-tokens 8192 --stream-interval 1 --seed 7"
    );
}

#[test]
fn bad_sizes_rejected() {
    let set = EngineSettings {
        model: Some("m".into()),
        tp: 0,
        ..EngineSettings::default()
    };
    assert_eq!(
        spec(EngineKind::Vllm, &set).unwrap_err().to_string(),
        "vLLM: tp = 0; parallel sizes start at 1"
    );
    let set = EngineSettings {
        model: Some("m".into()),
        kv_cache_fraction: Some(1.5),
        ..EngineSettings::default()
    };
    assert!(spec(EngineKind::Sglang, &set)
        .unwrap_err()
        .to_string()
        .contains("kv_cache_fraction = 1.5"));
}

#[test]
fn command_line_quotes() {
    let set = EngineSettings {
        model: Some("/models/my model".into()),
        ..EngineSettings::default()
    };
    let s = spec(EngineKind::LlamaCpp, &set).unwrap();
    assert!(s
        .command_line()
        .starts_with("llama-server -m '/models/my model' "));
}

// ---- metrics ----

const VLLM: &str = r#"# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 12.0
vllm:num_requests_running{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 10.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
vllm:num_requests_waiting{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.25
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.557572e+06
vllm:generation_tokens_total{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1000
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="meta-llama/Llama-3.1-8B-Instruct"} 5
"#;

#[test]
fn vllm_exposition() {
    let c = CommonSample::from_exposition(VLLM, &vllm::METRICS);
    assert_eq!(
        c,
        CommonSample {
            running: Some(22.0),
            waiting: Some(3.0),
            kv_cache_use: Some(0.375),
            generated_tokens_total: Some(7_558_572.0),
        }
    );
    // Older vLLM: gpu_cache_usage_perc.
    let old = "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.75\n";
    assert_eq!(
        CommonSample::from_exposition(old, &vllm::METRICS).kv_cache_use,
        Some(0.75)
    );
}

#[test]
fn sglang_exposition() {
    let text = r#"# HELP sglang:generation_tokens_total Number of generation tokens processed.
# TYPE sglang:generation_tokens_total counter
sglang:generation_tokens_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.557572e+06
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.28
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="meta-llama/Llama-3.1-8B-Instruct"} 8
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="meta-llama/Llama-3.1-8B-Instruct"} 4
"#;
    assert_eq!(
        CommonSample::from_exposition(text, &sglang::METRICS),
        CommonSample {
            running: Some(8.0),
            waiting: Some(4.0),
            kv_cache_use: Some(0.28),
            generated_tokens_total: Some(7_557_572.0),
        }
    );
}

#[test]
fn llama_cpp_exposition() {
    let text = "# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total 3469
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 2
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 1
";
    assert_eq!(
        CommonSample::from_exposition(text, &llama_cpp::METRICS),
        CommonSample {
            running: Some(2.0),
            waiting: Some(1.0),
            kv_cache_use: None,
            generated_tokens_total: Some(3469.0),
        }
    );
    let with_kv = format!("{text}llamacpp:kv_cache_usage_ratio 0.63\n");
    assert_eq!(
        CommonSample::from_exposition(&with_kv, &llama_cpp::METRICS).kv_cache_use,
        Some(0.63)
    );
}

#[test]
fn exposition_parser_edge_cases() {
    let text = "a_metric 1 1700000000000\n\
                b{x=\"q\\\"uo,te}\",y=\"2\"} -3.5\n\
                c{} +Inf\n\
                broken{x=\"1\" 5\n\
                \n# comment\n\
                d NaN\n";
    let s = parse_exposition(text);
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].name, "a_metric");
    assert!((s[0].value - 1.0).abs() < f64::EPSILON);
    assert_eq!(
        s[1].labels,
        [
            ("x".to_string(), "q\"uo,te}".to_string()),
            ("y".into(), "2".into())
        ]
    );
    assert!((s[1].value + 3.5).abs() < f64::EPSILON);
    assert!(s[2].value.is_infinite());
    assert!(s[3].value.is_nan());
    assert_eq!(
        CommonSample::from_exposition("", &vllm::METRICS),
        CommonSample::default()
    );
}

#[test]
fn every_kind_renders_with_full_settings() {
    let mut set = llama70b_tp8();
    set.image = Some("img".into());
    set.bench.dataset = Some("d.jsonl".into());
    for kind in [
        EngineKind::TrtllmServe,
        EngineKind::TrtllmBench,
        EngineKind::Nim,
        EngineKind::Vllm,
        EngineKind::Sglang,
        EngineKind::DynamoFrontend,
        EngineKind::DynamoWorker {
            role: DisaggRole::Prefill,
        },
        EngineKind::DynamoWorker {
            role: DisaggRole::Decode,
        },
        EngineKind::LlamaCpp,
        EngineKind::Sim,
        EngineKind::Nats,
        EngineKind::Etcd,
    ] {
        let s = spec(kind, &set).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
        assert_eq!(s.kind, kind);
        assert!(!s.install_hint.is_empty());
    }
}
