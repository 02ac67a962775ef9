//! `vllm bench serve`'s outputs, as its current release writes them (vllm/benchmarks/
//! serve.py; names, key order and formats carried over, Apache-2.0): the result JSON under
//! its file-name pattern, written by `json.dump` (so [`crate::py_json`]), and the printed
//! "Serving Benchmark Result" block. The figures come from
//! [`llmb_metrics::vllm::VllmMetrics`], vLLM's own definitions.

use std::fmt::Write;
use std::path::PathBuf;

use llmb_metrics::percentile::Method;
use llmb_metrics::vllm::{GoodputSlos, VllmMetrics};
use llmb_metrics::Distribution;
use llmb_settings::vllm::{VllmMetric, VllmOutput};

use crate::py_json::{self, Object, Py};
use crate::RunInfo;

/// The SLOs of `--goodput`, `None` when none was given.
pub fn slos(o: &VllmOutput) -> Option<GoodputSlos> {
    if o.goodput.is_empty() {
        return None;
    }
    let mut s = GoodputSlos::default();
    for slo in &o.goodput {
        match slo.metric {
            VllmMetric::Ttft => s.ttft_ms = Some(slo.ms),
            VllmMetric::Tpot => s.tpot_ms = Some(slo.ms),
            VllmMetric::E2el => s.e2el_ms = Some(slo.ms),
            VllmMetric::Itl => {}
        }
    }
    Some(s)
}

/// A percentile as vLLM names it: `99` for 99.0, `99.9` for 99.9.
pub fn percentile_word(p: f64) -> String {
    if p.fract() == 0.0 && p.abs() < 1e15 {
        format!("{}", p as i64)
    } else {
        py_json::float(p)
    }
}

/// Python's `str()` of a float in a file name (`inf`, `10.0`).
fn py_str(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        py_json::float(v)
    }
}

fn distribution(m: &VllmMetrics, metric: VllmMetric) -> &Distribution {
    match metric {
        VllmMetric::Ttft => &m.ttft_ms,
        VllmMetric::Tpot => &m.tpot_ms,
        VllmMetric::Itl => &m.itl_ms,
        VllmMetric::E2el => &m.e2el_ms,
    }
}

/// The result file's path: `--result-dir` (else the working folder) joined with
/// `--result-filename`, else `{label}-{rate}qps[-concurrency{N}]-{model}-{date}.json`.
pub fn file_path(o: &VllmOutput, info: &RunInfo) -> PathBuf {
    let name = o.result_filename.clone().unwrap_or_else(|| {
        let label = o.label.as_deref().unwrap_or(&o.backend);
        let rate = py_str(info.request_rate.unwrap_or(f64::INFINITY));
        let mc = if info.concurrency > 0 {
            format!("-concurrency{}", info.concurrency)
        } else {
            String::new()
        };
        let base_model = info.model.rsplit('/').next().unwrap_or(&info.model);
        format!("{label}-{rate}qps{mc}-{base_model}-{}.json", info.date)
    });
    o.result_dir.clone().unwrap_or_default().join(name)
}

/// The result JSON, keys in vLLM's order; `duration` in seconds.
pub fn result_json(o: &VllmOutput, m: &VllmMetrics, info: &RunInfo, duration: f64) -> String {
    let mut j = Object::new();
    j.put("date", Py::Str(&info.date));
    j.put("endpoint_type", Py::Str(&o.backend));
    j.put("backend", Py::Str(&o.backend));
    j.put("label", o.label.as_deref().map_or(Py::Null, Py::Str));
    j.put("model_id", Py::Str(&info.model));
    let tokenizer = o.tokenizer_id.as_deref().unwrap_or(&info.model);
    j.put("tokenizer_id", Py::Str(tokenizer));
    j.put("num_prompts", Py::Int(o.num_prompts as i64));
    const TRAFFIC: [&str; 3] = ["request_rate", "burstiness", "max_concurrency"];
    for (k, v) in &o.metadata {
        // The traffic keys come after and win, as in vLLM's dict update.
        if !TRAFFIC.contains(&k.as_str()) {
            j.put(k, Py::Str(v));
        }
    }
    match info.request_rate {
        Some(r) if r.is_finite() => j.put("request_rate", Py::Float(r)),
        _ => j.put("request_rate", Py::Str("inf")),
    }
    j.put("burstiness", Py::Float(info.burstiness));
    j.put(
        "max_concurrency",
        if info.concurrency > 0 {
            Py::Int(info.concurrency)
        } else {
            Py::Null
        },
    );
    let per_s = |n: f64| if duration > 0.0 { n / duration } else { 0.0 };
    j.put("duration", Py::Float(duration));
    j.put("completed", Py::Int(m.completed as i64));
    j.put("failed", Py::Int(m.failed as i64));
    j.put("total_input_tokens", Py::Int(m.total_input as i64));
    j.put("total_output_tokens", Py::Int(m.total_output as i64));
    j.put("request_throughput", Py::Float(per_s(m.completed as f64)));
    j.put(
        "request_goodput",
        m.good.map_or(Py::Null, |g| Py::Float(per_s(g as f64))),
    );
    j.put("output_throughput", Py::Float(per_s(m.total_output as f64)));
    j.put(
        "total_token_throughput",
        Py::Float(per_s((m.total_input + m.total_output) as f64)),
    );
    let rq = &m.requests;
    if o.save_detailed {
        j.ints("input_lens", rq.iter().map(|r| r.prompt_len));
        j.ints("output_lens", rq.iter().map(|r| r.output_len));
        j.floats("ttfts", rq.iter().map(|r| r.ttft));
        j.float_lists("itls", rq.iter().map(|r| r.itls.as_slice()));
    }
    j.floats("latencies", rq.iter().map(|r| r.latency));
    if o.save_detailed {
        j.floats("start_times", rq.iter().map(|r| r.start));
    }
    j.floats("queue_times", rq.iter().map(|r| r.queue_time));
    if o.save_detailed {
        // llmb keeps no response text: each generated text is written empty.
        j.strs("generated_texts", rq.iter().map(|_| ""));
        j.strs("errors", rq.iter().map(|r| r.error.as_str()));
    }
    j.put(
        "max_output_tokens_per_s",
        Py::Float(m.max_output_tokens_per_s),
    );
    j.put(
        "max_concurrent_requests",
        Py::Int(m.max_concurrent_requests as i64),
    );
    j.put("rtfx", Py::Float(0.0));
    for metric in VllmMetric::ALL {
        if !o.percentile_metrics.contains(&metric) {
            continue;
        }
        let d = distribution(m, metric);
        let k = metric.key();
        j.put(&format!("mean_{k}_ms"), Py::Float(d.mean()));
        j.put(&format!("median_{k}_ms"), Py::Float(d.median()));
        j.put(&format!("std_{k}_ms"), Py::Float(d.std()));
        for p in &o.metric_percentiles {
            let v = d.percentile(*p, Method::Linear);
            j.put(&format!("p{}_{k}_ms", percentile_word(*p)), Py::Float(v));
        }
    }
    j.finish()
}

/// Writes `json` where vLLM would: a new file, or with `--append-result` one more line
/// (a newline first when the file is not empty, none after, as vLLM).
///
/// # Errors
/// The folder or file cannot be written, named.
pub fn write_result_file(o: &VllmOutput, info: &RunInfo, json: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let path = file_path(o, info);
    let named = |e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(named)?;
    }
    if o.append_result {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(named)?;
        if f.metadata().map_err(named)?.len() > 0 {
            f.write_all(b"\n").map_err(named)?;
        }
        f.write_all(json).map_err(named)
    } else {
        std::fs::write(&path, json).map_err(named)
    }
}

/// `"{s:{c}^{n}}"` with n = 50: the odd pad goes right.
fn center(title: &str, fill: char) -> String {
    let len = title.chars().count();
    if len >= 50 {
        return title.to_owned();
    }
    let left = (50 - len) / 2;
    let right = 50 - len - left;
    let f = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
    format!("{}{title}{}", f(left), f(right))
}

/// The printed block.
pub fn report(o: &VllmOutput, m: &VllmMetrics, info: &RunInfo, duration: f64) -> String {
    let mut out = String::new();
    let int = |out: &mut String, l: &str, v: u64| {
        let _ = writeln!(out, "{l:<40} {v:<10}");
    };
    let flt = |out: &mut String, l: &str, v: f64| {
        let _ = writeln!(out, "{l:<40} {v:<10.2}");
    };
    let per_s = |n: f64| if duration > 0.0 { n / duration } else { 0.0 };
    let _ = writeln!(out, "{}", center(" Serving Benchmark Result ", '='));
    int(&mut out, "Successful requests:", m.completed);
    int(&mut out, "Failed requests:", m.failed);
    if info.concurrency > 0 {
        int(
            &mut out,
            "Maximum request concurrency:",
            info.concurrency as u64,
        );
    }
    if let Some(r) = info.request_rate.filter(|r| r.is_finite()) {
        flt(&mut out, "Request rate configured (RPS):", r);
    }
    flt(&mut out, "Benchmark duration (s):", duration);
    int(&mut out, "Total input tokens:", m.total_input);
    int(&mut out, "Total generated tokens:", m.total_output);
    flt(
        &mut out,
        "Request throughput (req/s):",
        per_s(m.completed as f64),
    );
    if let Some(g) = m.good {
        flt(&mut out, "Request goodput (req/s):", per_s(g as f64));
    }
    flt(
        &mut out,
        "Output token throughput (tok/s):",
        per_s(m.total_output as f64),
    );
    flt(
        &mut out,
        "Peak output token throughput (tok/s):",
        m.max_output_tokens_per_s,
    );
    flt(
        &mut out,
        "Peak concurrent requests:",
        m.max_concurrent_requests as f64,
    );
    flt(
        &mut out,
        "Total token throughput (tok/s):",
        per_s((m.total_input + m.total_output) as f64),
    );
    for metric in VllmMetric::ALL {
        if !o.percentile_metrics.contains(&metric) {
            continue;
        }
        let (name, header) = match metric {
            VllmMetric::Ttft => ("TTFT", "Time to First Token"),
            VllmMetric::Tpot => ("TPOT", "Time per Output Token (excl. 1st token)"),
            VllmMetric::Itl => ("ITL", "Inter-token Latency"),
            VllmMetric::E2el => ("E2EL", "End-to-end Latency"),
        };
        let d = distribution(m, metric);
        let _ = writeln!(out, "{}", center(header, '-'));
        flt(&mut out, &format!("Mean {name} (ms):"), d.mean());
        flt(&mut out, &format!("Median {name} (ms):"), d.median());
        for p in &o.metric_percentiles {
            let label = format!("P{} {name} (ms):", percentile_word(*p));
            flt(&mut out, &label, d.percentile(*p, Method::Linear));
        }
    }
    let _ = writeln!(out, "{}", "=".repeat(50));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output() -> VllmOutput {
        VllmOutput {
            backend: "openai".into(),
            label: None,
            num_prompts: 2,
            save_result: true,
            save_detailed: false,
            append_result: false,
            result_dir: None,
            result_filename: None,
            metadata: vec![("run".into(), "a".into())],
            percentile_metrics: vec![VllmMetric::Ttft, VllmMetric::Tpot, VllmMetric::Itl],
            metric_percentiles: vec![99.0, 99.9],
            goodput: Vec::new(),
            tokenizer_id: None,
            disable_tqdm: false,
        }
    }

    fn info(concurrency: i64, rate: Option<f64>) -> RunInfo {
        RunInfo {
            model: "meta-llama/Llama-3.1-8B".into(),
            tokenizer: String::new(),
            gpus: 1,
            decode_gpus: None,
            streaming: true,
            concurrency,
            request_rate: rate,
            burstiness: 1.0,
            num_prompts: 2,
            good_requests: None,
            backend: "openai".into(),
            date: "20261207-120000".into(),
            origin_unix_ns: 0,
        }
    }

    #[test]
    fn file_names_follow_vllm() {
        let o = output();
        assert_eq!(
            file_path(&o, &info(-1, None)),
            PathBuf::from("openai-infqps-Llama-3.1-8B-20261207-120000.json")
        );
        let o2 = VllmOutput {
            label: Some("x".into()),
            result_dir: Some("out".into()),
            ..output()
        };
        assert_eq!(
            file_path(&o2, &info(64, Some(10.0))),
            PathBuf::from("out/x-10.0qps-concurrency64-Llama-3.1-8B-20261207-120000.json")
        );
    }

    #[test]
    fn percentile_words_and_headers_match_python() {
        assert_eq!(percentile_word(99.0), "99");
        assert_eq!(percentile_word(99.9), "99.9");
        assert_eq!(percentile_word(0.5), "0.5");
        assert_eq!(
            center("Time per Output Token (excl. 1st token)", '-'),
            "-----Time per Output Token (excl. 1st token)------"
        );
        assert_eq!(
            center(" Serving Benchmark Result ", '='),
            "============ Serving Benchmark Result ============"
        );
    }
}
