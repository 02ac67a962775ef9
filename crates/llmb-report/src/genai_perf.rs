//! GenAI-Perf/AIPerf's `profile_export_genai_perf.json` and `.csv` (the 2025 layout):
//! per-request statistics with numpy percentiles p1…p99 and population std; throughputs
//! over `max(end) - min(start)`; `inter_token_latency` per request as
//! `(e2e - ttft)/(n - 1)`; per-user throughput as `1/ITL`.

use llmb_metrics::percentile::Method;
use llmb_metrics::{goodput_rate, Distribution, Summary};
use serde_json::{json, Map, Value};

use crate::RunInfo;

const PERCENTILES: [u32; 9] = [1, 5, 10, 25, 50, 75, 90, 95, 99];

fn stat(unit: &str, d: &Distribution) -> Value {
    let mut m = Map::new();
    m.insert("unit".into(), json!(unit));
    m.insert("avg".into(), json!(d.mean()));
    for p in PERCENTILES {
        m.insert(
            format!("p{p}"),
            json!(d.percentile(f64::from(p), Method::Linear)),
        );
    }
    m.insert("min".into(), json!(d.min()));
    m.insert("max".into(), json!(d.max()));
    m.insert("std".into(), json!(d.std()));
    Value::Object(m)
}

/// The JSON document; `input_config` records the resolved run settings.
pub fn json(s: &Summary, info: &RunInfo, input_config: Value) -> Value {
    let span = s.span_s;
    let mut m = Map::new();
    m.insert(
        "request_throughput".into(),
        json!({"unit": "requests/sec", "avg": s.request_rate(span)}),
    );
    m.insert("request_latency".into(), stat("ms", &s.latency.e2e_ms));
    if let Some(good) = info.good_requests {
        m.insert(
            "request_goodput".into(),
            json!({"unit": "requests/sec", "avg": goodput_rate(good, span)}),
        );
    }
    if info.streaming {
        m.insert("time_to_first_token".into(), stat("ms", &s.latency.ttft_ms));
        m.insert("time_to_second_token".into(), stat("ms", &s.ttst_ms));
        m.insert("inter_token_latency".into(), stat("ms", &s.tpot_ms));
    }
    m.insert(
        "output_token_throughput".into(),
        json!({"unit": "tokens/sec", "avg": s.output_rate(span)}),
    );
    if info.streaming {
        m.insert(
            "output_token_throughput_per_user".into(),
            stat("tokens/sec", &s.user_tput_inverse_itl),
        );
    }
    m.insert(
        "output_sequence_length".into(),
        stat("tokens", &s.output_tokens),
    );
    m.insert(
        "input_sequence_length".into(),
        stat("tokens", &s.input_tokens),
    );
    m.insert(
        "request_count".into(),
        json!({"unit": "count", "avg": s.completed}),
    );
    m.insert("input_config".into(), input_config);
    Value::Object(m)
}

/// Python's `f"{v:,.2f}"`.
pub fn comma2(v: f64) -> String {
    let s = format!("{:.2}", v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    format!("{sign}{grouped}.{frac}")
}

fn field(v: f64) -> String {
    let s = comma2(v);
    if s.contains(',') {
        format!("\"{s}\"")
    } else {
        s
    }
}

/// The CSV file (rows end in `\r\n`, as Python's csv module writes them).
pub fn csv(s: &Summary, info: &RunInfo) -> String {
    let mut o = String::from("Metric,avg,min,max,p99,p95,p90,p75,p50,p25,p10,p5,p1\r\n");
    let ttst = &s.ttst_ms;
    let mut rows: Vec<(&str, &Distribution)> = Vec::new();
    if info.streaming {
        rows.push(("Time To First Token (ms)", &s.latency.ttft_ms));
        rows.push(("Time To Second Token (ms)", ttst));
    }
    rows.push(("Request Latency (ms)", &s.latency.e2e_ms));
    if info.streaming {
        rows.push(("Inter Token Latency (ms)", &s.tpot_ms));
        rows.push((
            "Output Token Throughput Per User (tokens/sec/user)",
            &s.user_tput_inverse_itl,
        ));
    }
    rows.push(("Output Sequence Length (tokens)", &s.output_tokens));
    rows.push(("Input Sequence Length (tokens)", &s.input_tokens));
    for (label, d) in rows {
        let mut vals = vec![d.mean(), d.min(), d.max()];
        vals.extend(
            [99.0, 95.0, 90.0, 75.0, 50.0, 25.0, 10.0, 5.0, 1.0]
                .iter()
                .map(|p| d.percentile(*p, Method::Linear)),
        );
        let cells: Vec<String> = vals.into_iter().map(field).collect();
        o.push_str(&format!("{label},{}\r\n", cells.join(",")));
    }
    let span = s.span_s;
    o.push_str("\r\nMetric,Value\r\n");
    o.push_str(&format!(
        "Output Token Throughput (tokens/sec),{}\r\n",
        field(s.output_rate(span))
    ));
    o.push_str(&format!(
        "Request Throughput (per sec),{}\r\n",
        field(s.request_rate(span))
    ));
    if let Some(good) = info.good_requests {
        o.push_str(&format!(
            "Request Goodput (per sec),{}\r\n",
            field(goodput_rate(good, span))
        ));
    }
    o.push_str(&format!(
        "Request Count (count),{}\r\n",
        field(s.completed as f64)
    ));
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_comma_format() {
        assert_eq!(comma2(1234.567), "1,234.57");
        assert_eq!(comma2(999.999), "1,000.00");
        assert_eq!(comma2(12.0), "12.00");
        assert_eq!(comma2(1234567.0), "1,234,567.00");
        assert_eq!(comma2(-1234.5), "-1,234.50");
        assert_eq!(field(1234.5), "\"1,234.50\"");
    }

    #[test]
    fn stat_keys_in_order() {
        let v = stat("ms", &Distribution::new(vec![7.0, 8.0, 9.0]));
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "unit", "avg", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "min",
                "max", "std"
            ]
        );
        // numpy: np.percentile([7, 8, 9], 99) = 8.98
        assert!((v["p99"].as_f64().unwrap() - 8.98).abs() < 1e-12);
        assert!((v["std"].as_f64().unwrap() - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
