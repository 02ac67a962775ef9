//! llmb's own `summary.json`: versioned, every metric labelled with its definition and the
//! tools that use it, both latency origins, the client verdict and the warnings. Offline
//! trtllm-bench runs get the same document from their own report
//! ([`from_trtllm_bench`]), with only what that report gives.

use llmb_metrics::percentile::Method;
use llmb_metrics::{per_gpu, Distribution, Summary};
use serde_json::{json, Value};

use crate::trtllm_bench_log::{Breakdown, TrtllmBenchReport};
use crate::RunInfo;

/// What the `server` block of an online summary is.
pub const SERVER_DEFINITION: &str = "the engine's own Prometheus metrics, scraped every second from before the first request to after the last (server_metrics.jsonl); generated_tokens = counter at the last scrape - at the first";

/// Schema identifier written into every summary.
pub const SCHEMA: &str = "llmb.summary/1";

fn stats(d: &Distribution) -> Value {
    json!({
        "count": d.len(), "mean": d.mean(), "std": d.std(), "min": d.min(), "max": d.max(),
        "p50": d.percentile(50.0, Method::Linear), "p90": d.percentile(90.0, Method::Linear),
        "p95": d.percentile(95.0, Method::Linear), "p99": d.percentile(99.0, Method::Linear),
        "p50_index": d.percentile(50.0, Method::Index), "p90_index": d.percentile(90.0, Method::Index),
        "p95_index": d.percentile(95.0, Method::Index), "p99_index": d.percentile(99.0, Method::Index),
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
        "source": "llmb",
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
            "output_tokens_per_s_per_gpu_span": per_gpu(s.output_rate(span), info.gpus),
            "gpus": info.gpus,
            "per_gpu_definition": if info.decode_gpus.is_some() { "over all GPUs, prefill and decode (the Dynamo recipe's perf_summary.txt)" } else { "over all GPUs behind the server" },
            "output_tokens_per_s_per_decode_gpu_span": info.decode_gpus.map(|g| per_gpu(s.output_rate(span), g)),
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

/// What an imported trtllm-bench report's numbers mean (its own definitions).
pub const TRTLLM_BENCH_DEFINITIONS: &str = "trtllm-bench's own (TensorRT-LLM bench/dataclasses/statistics.py): per request start = handed to the LLM API (after the --concurrency slot), first token = first streamed response, end = final response; completed requests only (failures are not reported); percentiles sorted[int(n p)]; throughputs over max(end) - min(start)";

/// Statistics trtllm-bench prints for one quantity: `count`, `mean`, and with a breakdown
/// `min`, `max`, `pNN_index`. What it does not print (std, interpolated pNN) is absent.
fn offline_stats(count: u64, mean: f64, b: Option<&Breakdown>) -> Value {
    let mut v = json!({"count": count, "mean": mean});
    if let Some(b) = b {
        v["min"] = json!(b.minimum);
        v["max"] = json!(b.maximum);
        v["p50_index"] = json!(b.p50);
        v["p90_index"] = json!(b.p90);
        v["p95_index"] = json!(b.p95);
        v["p99_index"] = json!(b.p99);
    }
    v
}

fn offline_metric(definition: &str, tools: &str, stats: Value) -> Value {
    json!({"definition": definition, "used_by": tools, "stats": stats})
}

/// The GPUs trtllm-bench divided by: TP × PP from its world block, else the ratio of its
/// output throughput to its per-GPU throughput (rounded).
pub fn trtllm_bench_gpus(r: &TrtllmBenchReport) -> Option<u64> {
    if let Some(n) = r.world.as_ref().and_then(|w| w.world_size()) {
        return Some(n);
    }
    let p = &r.performance;
    (p.per_gpu_output_throughput_tok_s > 0.0)
        .then(|| (p.output_throughput_tok_s / p.per_gpu_output_throughput_tok_s).round() as u64)
        .filter(|n| *n > 0)
}

/// The summary document of an offline trtllm-bench run, from its own report: the key
/// paths of [`summary`] wherever trtllm-bench gives the number (same meaning, its
/// definitions), so offline and online runs compare field by field. What it cannot give
/// (failures, the schedule origin, linear percentiles, the client) is absent, never 0.
/// `source_file` is the log or JSON it was read from.
pub fn from_trtllm_bench(r: &TrtllmBenchReport, source_file: &str) -> Value {
    let n = r.request.num_requests;
    let p = &r.performance;
    let span_s = p.total_latency_ms / 1000.0;
    let total_in = r.request.avg_input_tokens * n as f64;
    let total_out = r.request.avg_output_tokens * n as f64;
    let mut latency = json!({
        "e2e_ms": offline_metric("end - start", "all tools (trtllm-bench request latency, benchmark_serving E2EL, GenAI-Perf request_latency)",
            offline_stats(n, p.avg_request_latency_ms, r.latency_ms.as_ref())),
    });
    let mut per_token = json!({});
    let mut per_user = json!({
        "with_first_token": offline_metric("n / e2e", "trtllm-bench Per User Output Throughput [w/ ctx], benchmark_serving User throughput",
            offline_stats(n, p.per_user_output_throughput_tok_s, None)),
    });
    if let Some(s) = &r.streaming {
        latency["ttft_ms"] = offline_metric(
            "first streamed response - start",
            "all tools",
            offline_stats(n, s.avg_ttft_ms, s.ttft_ms.as_ref()),
        );
        per_token["tpot_trtllm_ms"] = offline_metric(
            "(end - first) / (n - 1), 0 when n <= 1",
            "trtllm-bench TPOT",
            offline_stats(n, s.avg_tpot_ms, s.tpot_ms.as_ref()),
        );
        per_user["generation_speed"] = offline_metric(
            "(n - 1) / (e2e - ttft)",
            "trtllm-bench Per User Output Speed (GTPS)",
            offline_stats(n, s.per_user_output_speed_tok_s, s.gtps_tok_s.as_ref()),
        );
    }
    let mut doc = json!({
        "schema": SCHEMA,
        "source": "trtllm-bench",
        "source_file": source_file,
        "definitions": TRTLLM_BENCH_DEFINITIONS,
        "complete": true,
        // trtllm-bench counts completed requests only: how many were sent is not known.
        "requests": {"completed": n},
        "percentiles": "pNN_index: sorted[floor(n p)] (trtllm-bench); trtllm-bench prints no interpolated percentiles",
        "latency_from_send": latency,
        "per_user_tokens_per_s": per_user,
        "lengths": {
            "input_tokens": offline_metric("prompt tokens (trtllm-bench: the dataset's input_ids)", "all tools", offline_stats(n, r.request.avg_input_tokens, None)),
            "output_tokens": offline_metric("output token ids generated", "all tools", offline_stats(n, r.request.avg_output_tokens, None)),
        },
        "throughput": {
            "span_s": span_s,
            "span_definition": "max(end) - min(start) over completed requests (trtllm-bench Total Latency)",
            "request_per_s_span": p.request_throughput_req_s,
            "output_tokens_per_s_span": p.output_throughput_tok_s,
            "total_tokens_per_s_span": p.total_token_throughput_tok_s,
            "output_tokens_per_s_per_gpu_span": p.per_gpu_output_throughput_tok_s,
            "realised_concurrency": r.request.concurrent_requests,
        },
        "trtllm_bench": {
            "report": r,
            "derived": {
                "definition": "worked out from the printed values: totals = average x requests; check_* recompute printed values from others (equal up to print rounding)",
                "total_input_tokens": total_in,
                "total_output_tokens": total_out,
                "check_request_per_s": if span_s > 0.0 { json!(n as f64 / span_s) } else { Value::Null },
                "check_output_tokens_per_s": if span_s > 0.0 { json!(total_out / span_s) } else { Value::Null },
                "check_concurrency": if span_s > 0.0 { json!(p.avg_request_latency_ms * n as f64 / p.total_latency_ms) } else { Value::Null },
            },
        },
    });
    if !per_token.as_object().is_some_and(serde_json::Map::is_empty) {
        doc["per_token"] = per_token;
    }
    if let Some(g) = trtllm_bench_gpus(r) {
        doc["throughput"]["gpus"] = json!(g);
    }
    if let Some(m) = r.backend.as_ref().and_then(|b| b.model.clone()) {
        doc["model"] = json!(m);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trtllm_bench_log::parse_log;

    const FILLED_021: &str = include_str!("../tests/fixtures/trtllm_bench_0.21_filled.out");
    const NO_STREAMING: &str = include_str!("../tests/fixtures/trtllm_bench_no_streaming.out");

    fn close(a: &Value, b: f64) -> bool {
        (a.as_f64().unwrap() - b).abs() <= 1e-6 * b.abs().max(1.0)
    }

    fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, v) in m {
                let p = format!("{prefix}/{k}");
                out.push(p.clone());
                key_paths(v, &p, out);
            }
        }
    }

    #[test]
    fn offline_summary_from_the_021_report() {
        let d = from_trtllm_bench(&parse_log(FILLED_021).unwrap(), "run.out");
        assert_eq!(d["source"], "trtllm-bench");
        assert_eq!(d["source_file"], "run.out");
        assert_eq!(d["schema"], SCHEMA);
        assert_eq!(d["requests"], json!({"completed": 100}));
        let t = &d["throughput"];
        // Total Latency 1155.5715 ms
        assert!(close(&t["span_s"], 1.155_571_5));
        assert_eq!(t["request_per_s_span"], 86.5373);
        assert_eq!(t["output_tokens_per_s_span"], 11076.77);
        assert_eq!(t["total_tokens_per_s_span"], 22153.54);
        assert_eq!(t["output_tokens_per_s_per_gpu_span"], 11076.77);
        assert_eq!(t["realised_concurrency"], 94.605);
        assert_eq!(t["gpus"], 1, "TP 1 x PP 1");
        let der = &d["trtllm_bench"]["derived"];
        // 100 requests x 128 tokens each way
        assert_eq!(der["total_input_tokens"], 12800.0);
        assert_eq!(der["total_output_tokens"], 12800.0);
        // 100 / 1.1555715 s = 86.53727; 12800 / 1.1555715 = 11076.7693;
        // 1093.2284 ms x 100 / 1155.5715 ms = 94.60500: the printed values, to print rounding.
        assert!(close(&der["check_request_per_s"], 86.537_266));
        assert!((der["check_request_per_s"].as_f64().unwrap() - 86.5373).abs() < 1e-4);
        assert!((der["check_output_tokens_per_s"].as_f64().unwrap() - 11076.77).abs() < 1e-2);
        assert!((der["check_concurrency"].as_f64().unwrap() - 94.605).abs() < 1e-4);
        let e2e = &d["latency_from_send"]["e2e_ms"]["stats"];
        assert_eq!(
            *e2e,
            json!({"count": 100, "mean": 1093.2284, "min": 1050.1519, "max": 1137.6817,
                "p50_index": 1091.7905, "p90_index": 1130.72, "p95_index": 1133.0074, "p99_index": 1137.6817})
        );
        assert_eq!(d["latency_from_send"]["ttft_ms"]["stats"]["mean"], 162.6706);
        assert_eq!(
            d["per_token"]["tpot_trtllm_ms"]["stats"]["p50_index"],
            7.6079
        );
        assert_eq!(
            d["per_user_tokens_per_s"]["generation_speed"]["stats"]["mean"],
            137.1475
        );
        assert_eq!(
            d["per_user_tokens_per_s"]["with_first_token"]["stats"],
            json!({"count": 100, "mean": 117.1553})
        );
        assert_eq!(d["lengths"]["input_tokens"]["stats"]["mean"], 128.0);
        // What trtllm-bench does not report is absent, not zero.
        for absent in [
            "client",
            "warnings",
            "server",
            "latency_from_schedule",
            "schedule",
            "model",
        ] {
            assert!(d.get(absent).is_none(), "{absent}");
        }
        assert!(d["requests"].get("failed").is_none());
        assert!(d["throughput"].get("run_window_s").is_none());
        assert!(e2e.get("std").is_none() && e2e.get("p99").is_none());
    }

    #[test]
    fn offline_without_streaming_and_without_world_block() {
        let d = from_trtllm_bench(&parse_log(NO_STREAMING).unwrap(), "x.log");
        assert!(d["latency_from_send"].get("ttft_ms").is_none());
        assert!(d.get("per_token").is_none());
        assert!(d["per_user_tokens_per_s"].get("generation_speed").is_none());
        // 128 tok/s overall / 64 tok/s per GPU
        assert_eq!(d["throughput"]["gpus"], 2);
        assert_eq!(d["model"], "meta-llama/Llama-3.1-8B");
        assert!(close(&d["throughput"]["span_s"], 2.0));
    }

    #[test]
    fn offline_keys_are_a_subset_of_online_keys() {
        use llmb_metrics::{Chunk, Outcome, RequestRecord, ServerUsage};
        let r = RequestRecord {
            id: 0,
            prompt_index: 0,
            worker: 0,
            warmup: false,
            scheduled_ns: 0,
            slot_ns: 0,
            sent_ns: 0,
            first_token_ns: Some(1_000_000),
            end_ns: 9_000_000,
            input_tokens: 4,
            requested_output_tokens: None,
            usage: ServerUsage {
                prompt_tokens: Some(4),
                completion_tokens: Some(2),
            },
            connect_ns: None,
            chunks: vec![
                Chunk {
                    offset_ns: 1_000_000,
                    tokens: 1,
                    text_bytes: 1,
                    client_lag_ns: None,
                },
                Chunk {
                    offset_ns: 9_000_000,
                    tokens: 1,
                    text_bytes: 1,
                    client_lag_ns: None,
                },
            ],
            outcome: Outcome::Completed,
        };
        let s = Summary::from_records(&[r], None);
        let online = summary(&s, &RunInfo::default(), json!({}), json!([]), false);
        let offline = from_trtllm_bench(&parse_log(FILLED_021).unwrap(), "run.out");
        let (mut on, mut off) = (Vec::new(), Vec::new());
        key_paths(&online, "", &mut on);
        key_paths(&offline, "", &mut off);
        let extra: Vec<&String> = off
            .iter()
            .filter(|p| !on.contains(p))
            .filter(|p| !["/source_file", "/definitions"].contains(&p.as_str()))
            .filter(|p| !p.starts_with("/trtllm_bench"))
            .collect();
        assert!(extra.is_empty(), "offline-only keys: {extra:?}");
        assert_eq!(online["source"], "llmb");
    }
}
