//! llmb's own `summary.json`: versioned, every metric labelled with its definition and the
//! tools that use it, both latency origins, the client verdict and the warnings.

use llmb_metrics::percentile::Method;
use llmb_metrics::{Distribution, Summary};
use serde_json::{json, Value};

use crate::RunInfo;

/// Schema identifier written into every summary.
pub const SCHEMA: &str = "llmb.summary/1";

fn stats(d: &Distribution) -> Value {
    json!({
        "count": d.len(), "mean": d.mean(), "std": d.std(), "min": d.min(), "max": d.max(),
        "p50": d.percentile(50.0, Method::Linear), "p90": d.percentile(90.0, Method::Linear),
        "p95": d.percentile(95.0, Method::Linear), "p99": d.percentile(99.0, Method::Linear),
        "p50_index": d.percentile(50.0, Method::Index), "p99_index": d.percentile(99.0, Method::Index),
    })
}

fn metric(definition: &str, tools: &str, d: &Distribution) -> Value {
    json!({"definition": definition, "used_by": tools, "stats": stats(d)})
}

/// The document. `client` and `warnings` are supplied by the caller already serialised.
pub fn summary(
    s: &Summary,
    info: &RunInfo,
    client: Value,
    warnings: Value,
    interrupted: bool,
) -> Value {
    let dur = s.duration_s();
    let span = s.span_s;
    json!({
        "schema": SCHEMA,
        "complete": !interrupted,
        "model": info.model,
        "tokenizer": info.tokenizer,
        "requests": {
            "measured": s.requests, "completed": s.completed, "failed": s.failed(),
            "error_rate": s.error_rate(), "failures_by_kind": s.failures,
            "input_length_mismatches": s.input_mismatches, "output_length_mismatches": s.output_mismatches,
        },
        "percentiles": "pNN: linear interpolation (numpy); pNN_index: sorted[floor(n p)] (trtllm-bench)",
        "latency_from_send": {
            "ttft_ms": metric("first text chunk - send", "all tools", &s.latency.ttft_ms),
            "e2e_ms": metric("end - send", "all tools (trtllm-bench request latency, benchmark_serving E2EL, GenAI-Perf request_latency)", &s.latency.e2e_ms),
        },
        "latency_from_schedule": {
            "ttft_ms": metric("first text chunk - intended send (coordinated-omission safe)", "llmb", &s.latency_from_schedule.ttft_ms),
            "e2e_ms": metric("end - intended send", "llmb", &s.latency_from_schedule.e2e_ms),
        },
        "per_token": {
            "tpot_ms": metric("(end - first) / (n - 1), requests with n > 1", "benchmark_serving TPOT, GenAI-Perf/AIPerf inter_token_latency", &s.tpot_ms),
            "tpot_trtllm_ms": metric("(end - first) / (n - 1), 0 when n <= 1", "trtllm-bench TPOT", &s.tpot_trtllm_ms),
            "itl_chunk_gaps_ms": metric("gaps between consecutive chunks, pooled over requests", "vLLM / TensorRT-LLM benchmark_serving ITL", &s.itl_chunk_ms),
            "itl_token_weighted_ms": metric("chunk gap / tokens in the chunk, once per token, pooled", "SGLang bench_serving (native backend) ITL", &s.itl_token_ms),
        },
        "per_user_tokens_per_s": {
            "with_first_token": metric("n / e2e", "trtllm-bench Per User Output Throughput [w/ ctx], benchmark_serving User throughput", &s.user_tput_with_ctx),
            "generation_speed": metric("(n - 1) / (e2e - ttft)", "trtllm-bench Per User Output Speed (GTPS)", &s.user_output_speed),
            "inverse_itl": metric("1 / inter_token_latency", "GenAI-Perf/AIPerf output_token_throughput_per_user", &s.user_tput_inverse_itl),
        },
        "lengths": {
            "input_tokens": metric("prompt tokens under the client's tokenizer", "all tools", &s.input_tokens),
            "output_tokens": metric("usage.completion_tokens, else tokens counted over chunks", "all tools", &s.output_tokens),
        },
        "throughput": {
            "run_window_s": dur,
            "run_window_definition": "first intended send of the measured phase to the last end (benchmark_serving duration)",
            "span_s": span,
            "span_definition": "max(end) - min(send) over completed requests (trtllm-bench Total Latency, GenAI-Perf duration)",
            "request_per_s_run_window": s.request_rate(dur),
            "output_tokens_per_s_run_window": s.output_rate(dur),
            "total_tokens_per_s_run_window": s.total_token_rate(dur),
            "request_per_s_span": s.request_rate(span),
            "output_tokens_per_s_span": s.output_rate(span),
            "total_tokens_per_s_span": s.total_token_rate(span),
            "output_tokens_per_s_per_gpu_span": s.output_rate(span) / info.gpus.max(1) as f64,
            "gpus": info.gpus,
            "per_gpu_definition": if info.decode_gpus.is_some() { "over all GPUs, prefill and decode (the Dynamo recipe's perf_summary.txt)" } else { "over all GPUs behind the server" },
            "output_tokens_per_s_per_decode_gpu_span": info.decode_gpus.map(|g| s.output_rate(span) / g.max(1) as f64),
            "decode_gpus": info.decode_gpus,
            "realised_concurrency": s.realised_concurrency(),
            "goodput_requests": info.good_requests,
        },
        "schedule": {
            "send_lag_ms": stats(&s.send_lag_ms),
            "slot_wait_ms": stats(&s.slot_wait_ms),
            "connect_wait_ms": metric("time to open a connection (handshake slot + TCP handshake), requests that opened one", "llmb", &s.connect_wait_ms),
            "client_lag_ms": if s.client_lag_ms.is_empty() { Value::Null } else {
                metric("client arrival stamp - engine send stamp (llmb_sent_ns), per chunk; engines that stamp chunks only", "llmb", &s.client_lag_ms)
            },
        },
        "client": client,
        "warnings": warnings,
    })
}
