//! benchmark_serving's "Serving Benchmark Result" block and `--save-result` JSON (vLLM's
//! layout, with TensorRT-LLM's "User throughput" line): throughputs over the run's wall
//! duration, numpy statistics (linear percentiles, population std), ITL as pooled gaps
//! between chunks, TPOT over requests with more than one output token.

use std::fmt::Write;

use llmb_metrics::definitions::{self as def, LatencyOrigin};
use llmb_metrics::percentile::Method;
use llmb_metrics::{goodput_rate, Distribution, RequestRecord, Summary};
use serde_json::{json, Map, Value};

use crate::RunInfo;

fn center(title: &str, fill: char) -> String {
    let width: usize = 50;
    let len = title.chars().count();
    if len >= width {
        return title.to_owned();
    }
    let pad = width - len;
    let left = pad / 2;
    let f = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
    format!("{}{}{}", f(left), title, f(pad - left))
}

fn sections(s: &Summary) -> [(&'static str, &'static str, &'static str, &Distribution); 4] {
    [
        ("ttft", "TTFT", "Time to First Token", &s.latency.ttft_ms),
        (
            "tpot",
            "TPOT",
            "Time per Output Token (excl. 1st token)",
            &s.tpot_ms,
        ),
        ("itl", "ITL", "Inter-token Latency", &s.itl_chunk_ms),
        ("e2el", "E2EL", "End-to-end Latency", &s.latency.e2e_ms),
    ]
}

/// The printed block.
pub fn report(s: &Summary, info: &RunInfo) -> String {
    let mut o = String::new();
    let dur = s.duration_s();
    let _ = writeln!(o, "{}", center(" Serving Benchmark Result ", '='));
    let int = |o: &mut String, l: &str, v: u64| {
        let _ = writeln!(o, "{l:<40} {v:<10}");
    };
    let flt = |o: &mut String, l: &str, v: f64| {
        let _ = writeln!(o, "{l:<40} {v:<10.2}");
    };
    int(&mut o, "Successful requests:", s.completed);
    int(&mut o, "Failed requests:", s.failed());
    flt(&mut o, "Benchmark duration (s):", dur);
    int(&mut o, "Total input tokens:", s.total_input_tokens);
    int(&mut o, "Total generated tokens:", s.total_output_tokens);
    flt(&mut o, "Request throughput (req/s):", s.request_rate(dur));
    if let Some(good) = info.good_requests {
        flt(&mut o, "Request goodput (req/s):", goodput_rate(good, dur));
    }
    flt(
        &mut o,
        "Output token throughput (tok/s):",
        s.output_rate(dur),
    );
    flt(
        &mut o,
        "Total Token throughput (tok/s):",
        s.total_token_rate(dur),
    );
    flt(
        &mut o,
        "User throughput (tok/s):",
        s.user_tput_with_ctx.mean(),
    );
    for (_, short, title, d) in sections(s) {
        let _ = writeln!(o, "{}", center(title, '-'));
        flt(&mut o, &format!("Mean {short} (ms):"), d.mean());
        flt(&mut o, &format!("Median {short} (ms):"), d.median());
        flt(
            &mut o,
            &format!("P99 {short} (ms):"),
            d.percentile(99.0, Method::Linear),
        );
    }
    let _ = writeln!(o, "{}", "=".repeat(50));
    o
}

/// The result JSON (`--save-result`), keys in vLLM's order; times in seconds where vLLM
/// writes seconds (`ttfts`, `itls`).
pub fn result_json<'a>(
    s: &Summary,
    records: &'a [RequestRecord],
    info: &RunInfo,
) -> ServingResult<'a> {
    let dur = s.duration_s();
    let mut m = Map::new();
    m.insert("date".into(), json!(info.date));
    m.insert("backend".into(), json!(info.backend));
    m.insert("model_id".into(), json!(info.model));
    m.insert("tokenizer_id".into(), json!(info.tokenizer));
    m.insert("num_prompts".into(), json!(info.num_prompts));
    m.insert(
        "request_rate".into(),
        info.request_rate.map_or(json!("inf"), |r| json!(r)),
    );
    m.insert(
        "burstiness".into(),
        llmb_settings::shape::to_value(info.burstiness),
    );
    m.insert(
        "max_concurrency".into(),
        if info.concurrency > 0 {
            json!(info.concurrency)
        } else {
            Value::Null
        },
    );
    m.insert("duration".into(), json!(dur));
    m.insert("completed".into(), json!(s.completed));
    m.insert("total_input_tokens".into(), json!(s.total_input_tokens));
    m.insert("total_output_tokens".into(), json!(s.total_output_tokens));
    m.insert("request_throughput".into(), json!(s.request_rate(dur)));
    let goodput = info.good_requests.map(|g| goodput_rate(g, dur));
    m.insert("request_goodput:".into(), json!(goodput));
    m.insert("output_throughput".into(), json!(s.output_rate(dur)));
    m.insert(
        "total_token_throughput".into(),
        json!(s.total_token_rate(dur)),
    );
    m.insert("user_throughput".into(), json!(s.user_tput_with_ctx.mean()));
    let mut measured: Vec<&RequestRecord> = records.iter().filter(|r| !r.warmup).collect();
    measured.sort_by_key(|r| r.id);
    let ok = |r: &&RequestRecord| r.is_completed();
    let per_request = PerRequest {
        input_lens: measured.iter().map(|r| r.input_tokens).collect(),
        output_lens: measured
            .iter()
            .map(|r| if ok(r) { r.output_tokens() } else { 0 })
            .collect(),
        ttfts: measured
            .iter()
            .map(|r| {
                if ok(r) {
                    def::ttft_ms(r, LatencyOrigin::Sent).unwrap_or(0.0) / 1000.0
                } else {
                    0.0
                }
            })
            .collect(),
        itls: measured
            .iter()
            .map(|r| {
                if ok(r) {
                    def::chunk_gaps_ms(r).map(|g| g / 1000.0).collect()
                } else {
                    Vec::new()
                }
            })
            .collect(),
        generated_texts: measured.iter().map(|_| "").collect(),
        errors: measured
            .iter()
            .map(|r| {
                if ok(r) {
                    String::new()
                } else {
                    r.outcome.label()
                }
            })
            .collect(),
    };
    let mut tail = Map::new();
    for (key, _, _, d) in sections(s) {
        tail.insert(format!("mean_{key}_ms"), json!(d.mean()));
        tail.insert(format!("median_{key}_ms"), json!(d.median()));
        tail.insert(format!("std_{key}_ms"), json!(d.std()));
        tail.insert(
            format!("p99_{key}_ms"),
            json!(d.percentile(99.0, Method::Linear)),
        );
    }
    ServingResult {
        head: m,
        per_request,
        tail,
    }
}

/// The result document: scalars, then per-request arrays as plain vectors (a JSON value
/// tree would cost tens of bytes per number), then the statistics.
#[derive(serde::Serialize)]
pub struct ServingResult<'a> {
    #[serde(flatten)]
    head: Map<String, Value>,
    #[serde(flatten)]
    per_request: PerRequest<'a>,
    #[serde(flatten)]
    tail: Map<String, Value>,
}

#[derive(serde::Serialize)]
struct PerRequest<'a> {
    input_lens: Vec<u64>,
    output_lens: Vec<u64>,
    ttfts: Vec<f64>,
    itls: Vec<Vec<f64>>,
    generated_texts: Vec<&'a str>,
    errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centered_headers_match_python() {
        assert_eq!(
            center(" Serving Benchmark Result ", '='),
            "============ Serving Benchmark Result ============"
        );
        assert_eq!(
            center("Time per Output Token (excl. 1st token)", '-'),
            "-----Time per Output Token (excl. 1st token)------"
        );
        assert_eq!(
            center("Time to First Token", '-'),
            "---------------Time to First Token----------------"
        );
    }

    #[test]
    fn lines_are_padded_like_python() {
        let s = Summary::default();
        let r = report(&s, &RunInfo::default());
        assert!(r.contains("Successful requests:                     0         \n"));
        assert!(r.contains("Mean TTFT (ms):                          0.00      \n"));
        assert!(r.ends_with("==================================================\n"));
    }
}
