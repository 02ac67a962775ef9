//! `llmb bench serve`: `vllm bench serve` command lines run with the program name changed,
//! against the embedded engine; the result file is where vLLM puts it, named as vLLM names
//! it, with vLLM's keys in vLLM's order, and its figures agree with the per-request arrays
//! it carries (recomputed here by vLLM's definitions); a Python reader loads it with
//! `json.load` as vLLM users' scripts do.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::support::{assert_ran, llmb, tempdir};

fn serve(dir: &Path, args: &[&str]) -> Output {
    std::fs::create_dir_all(dir).unwrap();
    llmb()
        .args(["bench", "serve"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run llmb bench serve")
}

/// The one `.json` file directly in `dir`.
fn result_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// numpy's linear percentile.
fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let h = (s.len() - 1) as f64 * p / 100.0;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (h - lo as f64)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn a_vllm_command_line_writes_vllms_file_and_block() {
    let dir = tempdir("vllm-detailed");
    let o = serve(
        &dir,
        &[
            "--backend",
            "vllm",
            "--model",
            "meta-llama/Llama-3.1-8B-Instruct",
            "--endpoint",
            "/v1/completions",
            "--dataset-name",
            "random",
            "--random-input-len",
            "64",
            "--random-output-len",
            "16",
            "--num-prompts",
            "24",
            "--max-concurrency",
            "4",
            "--save-result",
            "--save-detailed",
            "--result-dir",
            "out",
            "--metadata",
            "run=ci",
            "owner=me",
            "--metric-percentiles",
            "50,90,99.9",
            "--percentile-metrics",
            "ttft,tpot,itl,e2el",
            "--goodput",
            "ttft:60000",
            "tpot:60000",
            "--seed",
            "7",
        ],
    );
    assert_ran(&o);
    let path = result_file(&dir.join("out"));
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    // {label or backend}-{rate}qps-concurrency{N}-{model basename}-{date}.json
    let date = name
        .strip_prefix("vllm-infqps-concurrency4-Llama-3.1-8B-Instruct-")
        .and_then(|r| r.strip_suffix(".json"))
        .unwrap_or_else(|| panic!("{name}"));
    assert!(date.len() == 15 && date.as_bytes()[8] == b'-', "{date}");
    let text = std::fs::read_to_string(&path).unwrap();
    // json.dump: one line, Python separators, no newline at the end.
    assert!(
        !text.contains('\n') && text.contains("\"completed\": 24, "),
        "{text}"
    );
    let j: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "date",
        "endpoint_type",
        "backend",
        "label",
        "model_id",
        "tokenizer_id",
        "num_prompts",
        "run",
        "owner",
        "request_rate",
        "burstiness",
        "max_concurrency",
        "duration",
        "completed",
        "failed",
        "total_input_tokens",
        "total_output_tokens",
        "request_throughput",
        "request_goodput",
        "output_throughput",
        "total_token_throughput",
        "input_lens",
        "output_lens",
        "ttfts",
        "itls",
        "latencies",
        "start_times",
        "queue_times",
        "generated_texts",
        "errors",
        "max_output_tokens_per_s",
        "max_concurrent_requests",
        "rtfx",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    for m in ["ttft", "tpot", "itl", "e2el"] {
        for s in ["mean", "median", "std", "p50", "p90", "p99.9"] {
            expected.push(format!("{s}_{m}_ms"));
        }
    }
    assert_eq!(keys, expected);
    assert_eq!(j["date"], date);
    assert_eq!(
        (j["label"].clone(), j["request_rate"].clone()),
        (Value::Null, "inf".into())
    );
    assert_eq!(
        (j["max_concurrency"].as_i64(), j["failed"].as_i64()),
        (Some(4), Some(0))
    );
    assert!(j["burstiness"].is_f64() && j["duration"].is_f64());
    assert_eq!(j["total_input_tokens"], 24 * 64);
    assert_eq!(j["total_output_tokens"], 24 * 16);
    // Figures recomputed from the arrays, by vLLM's definitions.
    let (ttfts, lat) = (floats(&j["ttfts"]), floats(&j["latencies"]));
    let ms = |v: &[f64]| v.iter().map(|x| x * 1000.0).collect::<Vec<_>>();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(close(
        j["mean_ttft_ms"].as_f64().unwrap(),
        mean(&ms(&ttfts))
    ));
    assert!(close(
        j["p90_ttft_ms"].as_f64().unwrap(),
        percentile(&ms(&ttfts), 90.0)
    ));
    assert!(close(
        j["p99.9_e2el_ms"].as_f64().unwrap(),
        percentile(&ms(&lat), 99.9)
    ));
    let tpots: Vec<f64> = ttfts
        .iter()
        .zip(&lat)
        .map(|(t, l)| (l - t) / 15.0 * 1000.0)
        .collect();
    assert!(close(j["mean_tpot_ms"].as_f64().unwrap(), mean(&tpots)));
    let itls: Vec<f64> = j["itls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(floats)
        .map(|x| x * 1000.0)
        .collect();
    assert_eq!(itls.len(), 24 * 15, "one gap per chunk after the first");
    assert!(close(
        j["median_itl_ms"].as_f64().unwrap(),
        percentile(&itls, 50.0)
    ));
    // Each request's latency is its first token plus its gaps (to the last chunk).
    for (r, t) in ttfts.iter().enumerate() {
        let gaps: f64 = floats(&j["itls"][r]).iter().sum();
        assert!((t + gaps - lat[r]).abs() < 1e-6, "request {r}");
    }
    let peak = j["max_concurrent_requests"].as_i64().unwrap();
    assert!((1..=4).contains(&peak), "{peak}");
    let good = j["request_goodput"].as_f64().unwrap();
    assert!(
        close(good, j["request_throughput"].as_f64().unwrap()),
        "every request within 60 s"
    );
    // The printed block, line by line, with vLLM's labels and widths.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let mut block: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.contains("Serving Benchmark Result"))
        .collect();
    let end = block
        .iter()
        .position(|l| *l == "=".repeat(50))
        .expect("closing line");
    block.truncate(end + 1);
    let labels: Vec<&str> = block
        .iter()
        .map(|l| l.split("  ").next().unwrap())
        .collect();
    let mut want = vec![
        "============ Serving Benchmark Result ============",
        "Successful requests:",
        "Failed requests:",
        "Maximum request concurrency:",
        "Benchmark duration (s):",
        "Total input tokens:",
        "Total generated tokens:",
        "Request throughput (req/s):",
        "Request goodput (req/s):",
        "Output token throughput (tok/s):",
        "Peak output token throughput (tok/s):",
        "Peak concurrent requests:",
        "Total token throughput (tok/s):",
    ];
    for (name, header) in [
        ("TTFT", "---------------Time to First Token----------------"),
        ("TPOT", "-----Time per Output Token (excl. 1st token)------"),
        ("ITL", "---------------Inter-token Latency----------------"),
        ("E2EL", "----------------End-to-end Latency----------------"),
    ] {
        want.push(header);
        for s in ["Mean", "Median", "P50", "P90", "P99.9"] {
            want.push(Box::leak(format!("{s} {name} (ms):").into_boxed_str()));
        }
    }
    want.push("==================================================");
    assert_eq!(labels, want, "{stdout}");
    assert_eq!(
        block[1],
        format!("{:<40} {:<10}", "Successful requests:", 24)
    );
    // A Python script reads it as vLLM users' scripts do.
    let py = std::process::Command::new("python3")
        .args(["-c", "import json,sys; d=json.load(open(sys.argv[1])); print(d['request_goodput'] is not None, d['failed'], type(d['max_concurrency']).__name__, d['p99.9_ttft_ms'] > 0)"])
        .arg(&path)
        .output()
        .expect("python3 (the test command needs it for the engine setup too)");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        "True 0 int True"
    );
}

#[test]
fn defaults_underscores_and_append_follow_vllm() {
    let dir = tempdir("vllm-append");
    for _ in 0..2 {
        let o = serve(
            &dir,
            &[
                "--model",
                "m",
                "--num_prompts",
                "3",
                "--random_input_len=16",
                "--random-output-len",
                "4",
                "--append-result",
                "--result-filename",
                "r.jsonl",
                "--label",
                "mine",
                "--request-rate",
                "50",
            ],
        );
        assert_ran(&o);
    }
    let text = std::fs::read_to_string(dir.join("r.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .split('\n')
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "a newline between the runs, none at the end"
    );
    let j = &lines[1];
    assert_eq!(
        (j["label"].as_str(), j["backend"].as_str()),
        (Some("mine"), Some("openai"))
    );
    assert_eq!(
        (j["request_rate"].as_f64(), j["max_concurrency"].clone()),
        (Some(50.0), Value::Null)
    );
    assert_eq!(j["request_goodput"], Value::Null);
    // Without --save-detailed only latencies and queue_times stay; vLLM's default metrics.
    assert!(
        j.get("ttfts").is_none() && j.get("latencies").is_some() && j.get("queue_times").is_some()
    );
    assert!(j.get("p99_ttft_ms").is_some() && j.get("p99_e2el_ms").is_none());
    assert_eq!(j["total_output_tokens"], 12);
}

#[test]
fn a_tokenizer_named_by_model_id_comes_from_the_hub_cache_or_says_where_it_looked() {
    let dir = tempdir("vllm-hub");
    let cache = dir.join("hub");
    // (A cached model id that resolves is tested in llmb-tokenizer's hub module.)
    let o = serve(
        &dir,
        &[
            "--model",
            "org/Missing-1B",
            "--tokenizer",
            "org/Missing-1B",
            "--num-prompts",
            "1",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("org/Missing-1B") && err.contains("looked in"),
        "{err}"
    );
    let o = llmb()
        .args([
            "bench",
            "--tokenizer",
            "org/Missing-1B",
            "--num-requests",
            "1",
        ])
        .env("HF_HUB_CACHE", &cache)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            &cache
                .join("models--org--Missing-1B")
                .join("snapshots")
                .display()
                .to_string()
        ),
        "{err}"
    );
}

#[test]
fn options_llmb_cannot_honour_are_refused_in_one_line() {
    let dir = tempdir("vllm-refused");
    for (args, needle) in [
        (
            &["--dataset-name", "sharegpt", "--dataset-path", "x.json"][..],
            "--dataset-path",
        ),
        (
            &["--dataset-name", "sharegpt"][..],
            "--dataset-name sharegpt",
        ),
        (&["--ramp_up_strategy", "linear"][..], "--ramp-up-strategy"),
        (&["--backend", "openai-audio"][..], "--backend openai-audio"),
        (&["--random-range-ratio", "0.5"][..], "--random-range-ratio"),
        (
            &["--percentile-metrics", "ttft,client_queue_time"][..],
            "client_queue_time",
        ),
    ] {
        let o = serve(&dir, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(needle) && err.contains("use"),
            "{args:?}: {err}"
        );
    }
}
