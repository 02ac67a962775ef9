//! `aiperf profile`'s export files, as AIPerf 0.13.0 writes them (aiperf/exporters and
//! aiperf/common/models/export_models.py; names, key order, units and layout carried over,
//! Apache-2.0): `profile_export_aiperf.json` (schema 1.4, 2-space indent, no trailing
//! newline), `profile_export_aiperf.csv` (CRLF, two decimals, rows sorted by tag),
//! `profile_export.jsonl` (one compact record per request) and `inputs.json`. The figures
//! come from [`llmb_metrics::aiperf::AiperfMetrics`], AIPerf's own definitions.
//! Left out because llmb does not measure them: AIPerf's `http_req_*` trace timings, the
//! `effective_*`/`active_*` sweep metrics and GPU telemetry.

use std::fmt::Write;

use llmb_metrics::aiperf::{AiperfMetrics, Stats, Value as MValue, PERCENTILES, RECORD_TAGS};
use llmb_settings::aiperf::AiperfOutput;
use serde_json::{json, Map, Value};

use crate::RunInfo;

/// The JSON schema version written.
pub const SCHEMA_VERSION: &str = "1.4";
/// What `aiperf_version` says: AIPerf's format version, and that llmb wrote it.
pub const AIPERF_VERSION: &str = concat!("0.13.0+llmb.", env!("CARGO_PKG_VERSION"));

fn stats_json(unit: &str, s: &Stats) -> Value {
    let mut m = Map::new();
    m.insert("unit".into(), json!(unit));
    m.insert("avg".into(), json!(s.avg));
    for (p, v) in PERCENTILES.iter().zip(s.percentiles) {
        m.insert(format!("p{}", *p as u32), json!(v));
    }
    m.insert("min".into(), json!(s.min));
    m.insert("max".into(), json!(s.max));
    m.insert("std".into(), json!(s.std));
    m.insert("count".into(), json!(s.count));
    m.insert("sum".into(), json!(s.sum));
    Value::Object(m)
}

fn one(unit: &str, v: f64) -> Value {
    json!({"unit": unit, "avg": v})
}

/// `datetime.fromtimestamp(ns / 1e9).isoformat()` in UTC (AIPerf writes the host's local
/// time without a zone; llmb's hosts run in UTC, and the value stays unambiguous).
fn iso(ns: u64) -> String {
    let [y, m, d, hh, mm, ss] = crate::run_dir::utc(ns / 1_000_000_000);
    let micros = (ns % 1_000_000_000) / 1000;
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{micros:06}")
}

/// The single-value metrics of a run, in AIPerf's order: (tag, header, unit, value).
fn totals(m: &AiperfMetrics) -> Vec<(&'static str, &'static str, &'static str, f64)> {
    let completed = (m.request_count + m.error_count) as f64;
    let mut v = vec![
        (
            "request_throughput",
            "Request Throughput",
            "requests/sec",
            m.per_s(m.request_count as f64),
        ),
        (
            "request_count",
            "Request Count",
            "requests",
            m.request_count as f64,
        ),
        (
            "output_token_throughput",
            "Output Token Throughput",
            "tokens/sec",
            m.per_s(m.total_osl as f64),
        ),
    ];
    if let Some(g) = m.good {
        v.push(("goodput", "Goodput", "requests/sec", m.per_s(g as f64)));
        v.push((
            "good_request_count",
            "Good Request Count",
            "requests",
            g as f64,
        ));
    }
    v.extend([
        (
            "total_output_tokens",
            "Total Output Tokens",
            "tokens",
            m.total_osl as f64,
        ),
        (
            "benchmark_duration",
            "Benchmark Duration",
            "sec",
            m.duration_s,
        ),
        (
            "total_isl",
            "Total Input Sequence Length",
            "tokens",
            m.total_isl as f64,
        ),
        (
            "total_osl",
            "Total Output Sequence Length",
            "tokens",
            m.total_osl as f64,
        ),
    ]);
    if m.error_count > 0 {
        v.push((
            "error_request_count",
            "Error Request Count",
            "requests",
            m.error_count as f64,
        ));
        v.push((
            "total_error_isl",
            "Total Error Input Sequence Length",
            "tokens",
            m.total_error_isl as f64,
        ));
    }
    v.extend([
        (
            "completed_request_count",
            "Completed Requests (Success + Error)",
            "requests",
            completed,
        ),
        (
            "request_error_rate",
            "Request Error Rate",
            "%",
            if completed > 0.0 {
                100.0 * m.error_count as f64 / completed
            } else {
                0.0
            },
        ),
        (
            "total_token_throughput",
            "Total Token Throughput",
            "tokens/sec",
            m.per_s((m.total_isl + m.total_osl) as f64),
        ),
        (
            "input_token_throughput",
            "Input Token Throughput",
            "tokens/sec",
            m.per_s(m.total_isl as f64),
        ),
    ]);
    v
}

/// The JSON tags AIPerf declares first (in this order); the rest follow after `end_time`.
const DECLARED: [&str; 17] = [
    "request_throughput",
    "request_latency",
    "request_count",
    "time_to_first_token",
    "time_to_second_token",
    "inter_token_latency",
    "output_token_throughput",
    "output_token_throughput_per_user",
    "output_sequence_length",
    "input_sequence_length",
    "goodput",
    "good_request_count",
    "output_token_count",
    "inter_chunk_latency",
    "total_output_tokens",
    "benchmark_duration",
    "total_isl",
];

/// `profile_export_aiperf.json`; `base_url` is the server's (the embedded engine's, when
/// the command line named none).
pub fn json(
    m: &AiperfMetrics,
    o: &AiperfOutput,
    info: &RunInfo,
    base_url: &str,
    interrupted: bool,
) -> String {
    let mut metrics: Vec<(&'static str, Value)> = Vec::new();
    for (i, t) in RECORD_TAGS.iter().enumerate() {
        if let Some(s) = &m.stats[i] {
            metrics.push((t.tag, stats_json(t.unit, s)));
        }
    }
    for (tag, _, unit, v) in totals(m) {
        metrics.push((tag, one(unit, v)));
    }
    fn take(name: &str, metrics: &mut Vec<(&'static str, Value)>) -> Option<(&'static str, Value)> {
        let i = metrics.iter().position(|(t, _)| *t == name)?;
        Some(metrics.remove(i))
    }
    let mut doc = Map::new();
    doc.insert("schema_version".into(), json!(SCHEMA_VERSION));
    doc.insert("aiperf_version".into(), json!(AIPERF_VERSION));
    doc.insert("benchmark_id".into(), json!(benchmark_id(info)));
    for name in DECLARED
        .iter()
        .chain(&["total_osl", "error_request_count", "total_error_isl"])
    {
        if let Some((t, v)) = take(name, &mut metrics) {
            doc.insert(t.into(), v);
        }
    }
    let mut input_config = o.input_config.clone();
    input_config["endpoint"]["urls"] = json!([base_url]);
    doc.insert("input_config".into(), input_config);
    let mut run_info = Map::new();
    run_info.insert("benchmark_id".into(), json!(benchmark_id(info)));
    if let Some(seed) = o.random_seed {
        run_info.insert("random_seed".into(), json!(seed));
    }
    run_info.insert("trial".into(), json!(0));
    run_info.insert("cli_command".into(), json!(o.cli_command));
    doc.insert("run_info".into(), Value::Object(run_info));
    doc.insert("was_cancelled".into(), json!(interrupted));
    doc.insert("is_complete".into(), json!(!interrupted));
    doc.insert("error_summary".into(), error_summary(m));
    let start = m
        .requests
        .iter()
        .filter(|r| r.valid)
        .map(|r| r.start_ns)
        .min();
    let end = m
        .requests
        .iter()
        .filter(|r| r.valid)
        .map(|r| r.end_ns)
        .max();
    if let (Some(s), Some(e)) = (start, end) {
        doc.insert("start_time".into(), json!(iso(info.origin_unix_ns + s)));
        doc.insert("end_time".into(), json!(iso(info.origin_unix_ns + e)));
    }
    for (t, v) in metrics {
        doc.insert(t.into(), v);
    }
    serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default()
}

/// A stable 12-hex-digit id of the run (its date and model).
fn benchmark_id(info: &RunInfo) -> String {
    // FNV-1a: stable across versions and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in info.date.bytes().chain(info.model.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

fn error_json(e: &llmb_metrics::aiperf::ErrorDetails) -> Value {
    let mut d = Map::new();
    if let Some(c) = e.code {
        d.insert("code".into(), json!(c));
    }
    d.insert("type".into(), json!(e.kind));
    d.insert("message".into(), json!(e.message));
    Value::Object(d)
}

/// `[{"error_details": {"code", "type", "message"}, "count"}]`, one per distinct error.
fn error_summary(m: &AiperfMetrics) -> Value {
    let mut counts: std::collections::BTreeMap<&llmb_metrics::aiperf::ErrorDetails, u64> =
        std::collections::BTreeMap::new();
    for e in m.requests.iter().filter_map(|r| r.error.as_ref()) {
        *counts.entry(e).or_default() += 1;
    }
    Value::Array(
        counts
            .into_iter()
            .map(|(e, n)| json!({"error_details": error_json(e), "count": n}))
            .collect(),
    )
}

/// `profile_export_aiperf.csv`: per-request metrics with every statistic, a blank line,
/// then the single values; rows sorted by tag, CRLF line ends.
pub fn csv(m: &AiperfMetrics) -> String {
    let name = |header: &str, unit: &str| {
        if matches!(unit.to_lowercase().as_str(), "count" | "requests") {
            header.to_owned()
        } else {
            format!("{header} ({unit})")
        }
    };
    let mut out = String::from("Metric,avg,min,max,sum,p1,p5,p10,p25,p50,p75,p90,p95,p99,std\r\n");
    let mut rows: Vec<(&str, String)> = Vec::new();
    for (i, t) in RECORD_TAGS.iter().enumerate() {
        if let Some(s) = &m.stats[i] {
            let mut row = format!(
                "{},{:.2},{:.2},{:.2},{:.2}",
                name(t.header, t.unit),
                s.avg,
                s.min,
                s.max,
                s.sum
            );
            for p in s.percentiles {
                let _ = write!(row, ",{p:.2}");
            }
            let _ = write!(row, ",{:.2}", s.std);
            rows.push((t.tag, row));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(b.0));
    for (_, r) in rows {
        out.push_str(&r);
        out.push_str("\r\n");
    }
    out.push_str("\r\nMetric,Value\r\n");
    let mut singles: Vec<(&str, String)> = totals(m)
        .into_iter()
        .map(|(tag, header, unit, v)| (tag, format!("{},{v:.2}", name(header, unit))))
        .collect();
    singles.sort_by(|a, b| a.0.cmp(b.0));
    for (_, r) in singles {
        out.push_str(&r);
        out.push_str("\r\n");
    }
    out
}

/// `profile_export.jsonl`: one line per request with its metadata and metrics.
pub fn jsonl(m: &AiperfMetrics, info: &RunInfo) -> String {
    let mut out = String::new();
    for (n, r) in m.requests.iter().enumerate() {
        let mut metrics = Map::new();
        for (i, v) in &r.metrics {
            let t = &RECORD_TAGS[*i];
            let value = match v {
                MValue::One(x) => json!(x),
                MValue::Count(c) => json!(c),
                MValue::List(l) => json!(l),
            };
            metrics.insert(t.tag.into(), json!({"value": value, "unit": t.unit}));
        }
        if !r.valid {
            metrics.insert(
                "error_isl".into(),
                json!({"value": r.isl, "unit": "tokens"}),
            );
        }
        let session = format!("session_{n:06}");
        let mut line = json!({
            "metadata": {
                "session_num": n,
                "x_request_id": format!("llmb-{n}"),
                "conversation_id": session,
                "turn_index": 0,
                "request_start_ns": info.origin_unix_ns + r.start_ns,
                "request_end_ns": info.origin_unix_ns + r.end_ns,
                "worker_id": "worker_llmb",
                "record_processor_id": "record_processor_llmb",
                "benchmark_phase": "profiling",
                "was_cancelled": false,
            },
            "metrics": metrics,
        });
        if let Some(e) = &r.error {
            line["error"] = error_json(e);
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// `inputs.json`: one session per request, its payload as sent.
pub fn inputs_json(payloads: impl Iterator<Item = Value>) -> String {
    let data: Vec<Value> = payloads
        .enumerate()
        .map(|(n, p)| json!({"session_id": format!("session_{n:06}"), "payloads": [p]}))
        .collect();
    serde_json::to_string_pretty(&json!({ "data": data })).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_like_python_isoformat() {
        // 2026-12-07T23:16:34.938091 UTC.
        assert_eq!(iso(1_796_685_394_938_091_000), "2026-12-07T23:16:34.938091");
        assert_eq!(iso(0), "1970-01-01T00:00:00.000000");
    }
}
