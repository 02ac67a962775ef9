//! `llmb bench` against the simulated engine.

use crate::support::{assert_ran, key_paths, read_json, records, run, tempdir, Sim};

#[test]
fn fixed_timing_is_measured_and_every_file_is_written() {
    let sim = Sim::start(&["--ttft-ms", "50", "--itl-ms", "10"]);
    let out = tempdir("fixed");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--isl",
        "128",
        "--osl",
        "64",
        "--concurrency",
        "16",
        "--num-requests",
        "200",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("= PERFORMANCE OVERVIEW \n"), "{stdout}");
    let recs = records(&out);
    assert_eq!(recs.len(), 200);
    for r in &recs {
        assert_eq!(r["outcome"]["kind"], "completed");
        assert_eq!(r["usage"]["prompt_tokens"], 128);
        assert_eq!(r["usage"]["completion_tokens"], 64);
        assert_eq!(r["chunks"].as_array().unwrap().len(), 64);
    }
    let g = read_json(out.join("profile_export_genai_perf.json"));
    let ttft = g["time_to_first_token"]["avg"].as_f64().unwrap();
    let itl = g["inter_token_latency"]["avg"].as_f64().unwrap();
    // The server sends the first token 50 ms after arrival and one every 10 ms after.
    // Loose bounds: this runs on a shared 2-core machine; the harness measures precision.
    assert!((50.0..56.0).contains(&ttft), "ttft {ttft}");
    assert!((itl - 10.0).abs() < 0.5, "itl {itl}");
    assert_eq!(g["output_sequence_length"]["avg"], 64.0);
    assert_eq!(g["input_sequence_length"]["p99"], 128.0);
    for f in [
        "summary.json",
        "serving_result.json",
        "serving_result.txt",
        "performance_overview.txt",
        "config.json",
        "profile_export_genai_perf.csv",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let s = read_json(out.join("summary.json"));
    assert_eq!(s["requests"]["completed"], 200);
    assert_eq!(s["requests"]["input_length_mismatches"], 0);
    assert_eq!(s["requests"]["output_length_mismatches"], 0);
    let v = read_json(out.join("serving_result.json"));
    assert_eq!(v["completed"], 200);
    assert_eq!(v["itls"].as_array().unwrap().len(), 200);
}

#[test]
fn injected_resets_are_counted_and_completed_records_stay_intact() {
    let sim = Sim::start(&[
        "--ttft-ms",
        "2",
        "--itl-ms",
        "1",
        "--fault-rate",
        "0.05",
        "--fault-kinds",
        "reset",
        "--seed",
        "4",
    ]);
    let out = tempdir("faults");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--osl",
        "32",
        "--num-requests",
        "400",
        "--quiet",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_ran(&o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("failed requests:"), "{stderr}");
    let recs = records(&out);
    assert_eq!(recs.len(), 400);
    let failed: Vec<_> = recs
        .iter()
        .filter(|r| r["outcome"]["kind"] != "completed")
        .collect();
    assert!((5..=45).contains(&failed.len()), "{} failed", failed.len());
    assert!(failed.iter().all(|r| r["outcome"]["kind"] == "reset"));
    for r in recs.iter().filter(|r| r["outcome"]["kind"] == "completed") {
        assert_eq!(r["chunks"].as_array().unwrap().len(), 32);
        assert_eq!(r["usage"]["completion_tokens"], 32);
    }
    let s = read_json(out.join("summary.json"));
    assert_eq!(s["requests"]["failures_by_kind"]["reset"], failed.len());
}

#[test]
fn every_injected_fault_kind_ends_in_its_own_typed_outcome() {
    let sim = Sim::start(&[
        "--ttft-ms",
        "2",
        "--itl-ms",
        "1",
        "--fault-rate",
        "0.4",
        "--fault-kinds",
        "http500,http429,reset,stall,malformed",
        "--seed",
        "9",
    ]);
    let out = tempdir("fault-kinds");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--osl",
        "16",
        "--num-requests",
        "80",
        "--concurrency",
        "80",
        "--timeout",
        "1s",
        "--quiet",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    // Fewer than half fail, so the run itself succeeds (timings may be flagged: exit 4).
    assert_ran(&o);
    let recs = records(&out);
    assert_eq!(recs.len(), 80, "{}", String::from_utf8_lossy(&o.stderr));
    let count = |label: &str| {
        recs.iter()
            .filter(|r| r["outcome"]["kind"] == label)
            .count()
    };
    // 40% of the requests get a fault, each kind a fifth of those: every kind shows up.
    for kind in [
        "http_status",
        "timeout",
        "reset",
        "malformed_chunk",
        "completed",
    ] {
        assert!(count(kind) > 0, "no `{kind}` outcome");
    }
    let statuses: std::collections::BTreeSet<u64> = recs
        .iter()
        .filter_map(|r| r["outcome"]["status"].as_u64())
        .collect();
    assert_eq!(statuses, [429, 500].into_iter().collect());
    // A stall sends half the tokens, then nothing: it ends at the timeout, tokens kept.
    for r in recs.iter().filter(|r| r["outcome"]["kind"] == "timeout") {
        assert_eq!(r["chunks"].as_array().unwrap().len(), 8, "{r}");
    }
    for r in recs.iter().filter(|r| r["outcome"]["kind"] == "completed") {
        assert_eq!(r["usage"]["completion_tokens"], 16);
    }
    let s = read_json(out.join("summary.json"));
    let by_kind = &s["requests"]["failures_by_kind"];
    assert_eq!(by_kind["timeout"], count("timeout"));
    assert_eq!(by_kind["reset"], count("reset"));
    assert_eq!(by_kind["malformed_chunk"], count("malformed_chunk"));
    // HTTP failures are counted by status.
    let http =
        by_kind["http_500"].as_u64().unwrap_or(0) + by_kind["http_429"].as_u64().unwrap_or(0);
    assert_eq!(http as usize, count("http_status"), "{by_kind}");
    for r in recs
        .iter()
        .filter(|r| r["outcome"]["kind"] == "malformed_chunk")
    {
        assert!(
            r["outcome"]["message"]
                .as_str()
                .unwrap()
                .contains("malformed"),
            "{r}"
        );
    }
    for r in recs.iter().filter(|r| r["outcome"]["kind"] == "reset") {
        assert!(
            r["outcome"]["message"]
                .as_str()
                .unwrap()
                .contains("connection broke"),
            "{r}"
        );
    }
    assert_eq!(count("stream_error"), 0);

    // The same stalls under a short idle timeout end as `idle_timeout`, long before the
    // total timeout.
    let out = tempdir("fault-idle");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--osl",
        "16",
        "--num-requests",
        "80",
        "--concurrency",
        "80",
        "--timeout",
        "60s",
        "--idle-timeout",
        "300ms",
        "--quiet",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_ran(&o);
    let recs = records(&out);
    let idle: Vec<_> = recs
        .iter()
        .filter(|r| r["outcome"]["kind"] == "idle_timeout")
        .collect();
    assert!(!idle.is_empty());
    for r in &idle {
        assert_eq!(r["outcome"]["idle_ms"], 300);
        assert_eq!(r["chunks"].as_array().unwrap().len(), 8, "{r}");
        let e2e_ms = (r["end_ns"].as_u64().unwrap() - r["sent_ns"].as_u64().unwrap()) / 1_000_000;
        assert!(e2e_ms < 10_000, "{e2e_ms} ms");
    }
    assert_eq!(
        recs.iter()
            .filter(|r| r["outcome"]["kind"] == "timeout")
            .count(),
        0
    );
}

#[test]
fn multi_token_chunks_are_split_into_tokens() {
    let sim = Sim::start(&["--ttft-ms", "5", "--itl-ms", "2", "--stream-interval", "4"]);
    let out = tempdir("interval");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--osl",
        "10",
        "--num-requests",
        "20",
        "--quiet",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_ran(&o);
    for r in records(&out) {
        let tokens: Vec<u64> = r["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c[1].as_u64().unwrap())
            .collect();
        assert_eq!(tokens, vec![4, 4, 2]);
    }
}

#[test]
fn sweep_writes_one_folder_per_point() {
    let sim = Sim::start(&["--ttft-ms", "1", "--itl-ms", "1"]);
    let out = tempdir("sweep");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--osl",
        "8",
        "--concurrency",
        "1,4",
        "--multi-round",
        "2",
        "--quiet",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_ran(&o);
    assert_eq!(records(&out.join("c1")).len(), 2);
    assert_eq!(records(&out.join("c4")).len(), 8);
    let s = read_json(out.join("sweep_summary.json"));
    assert_eq!(s["points"].as_array().unwrap().len(), 2);
}

#[test]
fn fail_if_sets_the_exit_code() {
    let sim = Sim::start(&["--ttft-ms", "20", "--itl-ms", "1"]);
    let out = tempdir("failif");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--osl",
        "4",
        "--num-requests",
        "10",
        "--quiet",
        "--fail-if",
        "p99(ttft_ms)>5",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("fail-if: p99(ttft_ms)>5"));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["bench", "--concurrency", "0"], "concurrency 0 is invalid"),
        (
            &["bench", "--isl", "-5"],
            "--isl and --osl must be positive",
        ),
        (&["bench", "--use-case", "chat:128"], "NAME:ISL/OSL"),
        (
            &["bench", "--tokenizer", "/nonexistent/tok.json"],
            "tokenizer `/nonexistent/tok.json` not found; looked in /nonexistent/tok.json",
        ),
        (
            &[
                "bench",
                "--url",
                "http://127.0.0.1:9",
                "--num-requests",
                "1",
            ],
            "cannot reach",
        ),
        (&["bench", "--fail-if", "p99(ttft)>1"], "unknown metric"),
    ];
    for (args, want) in cases {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn no_arguments_benchmarks_the_embedded_engine() {
    let out = tempdir("default");
    let o = run(&["bench", "--output-dir", out.to_str().unwrap()]);
    assert_ran(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("PERFORMANCE OVERVIEW"));
    assert!(stdout.contains("Request Throughput (req/sec):"));
    assert_eq!(records(&out).len(), 320);
}

#[test]
fn workers_split_one_schedule_and_merge_like_a_single_process() {
    let sim = Sim::start(&["--ttft-ms", "5", "--itl-ms", "1"]);
    let run_with = |workers: &str, name: &str, warmup: &str| {
        let out = tempdir(name);
        let o = run(&[
            "bench",
            "--url",
            &sim.url,
            "--isl",
            "32",
            "--osl",
            "16",
            "--concurrency",
            "6",
            "--num-requests",
            "60",
            "--warmup",
            warmup,
            "--workers",
            workers,
            "--quiet",
            "--output-dir",
            out.to_str().unwrap(),
        ]);
        assert_ran(&o);
        out
    };
    let one = run_with("1", "workers-1", "0");
    let three = run_with("3", "workers-3", "0");
    let recs = records(&three);
    // Every request of the global schedule exactly once, each from the worker that owns it.
    let mut ids: Vec<u64> = recs.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..60).collect::<Vec<_>>());
    for r in &recs {
        assert_eq!(r["worker"].as_u64().unwrap(), r["id"].as_u64().unwrap() % 3);
        assert_eq!(r["chunks"].as_array().unwrap().len(), 16);
    }
    let (s1, s3) = (
        read_json(one.join("summary.json")),
        read_json(three.join("summary.json")),
    );
    assert_eq!(s1["requests"], s3["requests"]);
    assert_eq!(s3["requests"]["completed"], 60);
    assert_eq!(
        s3["client"]["threads"].as_u64(),
        s1["client"]["threads"].as_u64().map(|t| t * 3)
    );
    // Same metrics under the same definitions, in the same files.
    let (mut k1, mut k3) = (Vec::new(), Vec::new());
    key_paths(&s1, "", &mut k1);
    key_paths(&s3, "", &mut k3);
    assert_eq!(k1, k3);
    for f in [
        "performance_overview.txt",
        "serving_result.json",
        "profile_export_genai_perf.json",
    ] {
        assert!(three.join(f).exists(), "{f}");
    }
    // A warm-up runs once, before the workers start: the same ids and flags as one process.
    let warm1 = records(&run_with("1", "workers-warm-1", "6"));
    let warm3 = records(&run_with("3", "workers-warm-3", "6"));
    let shape = |recs: &[serde_json::Value]| {
        let mut v: Vec<(u64, bool)> = recs
            .iter()
            .map(|r| (r["id"].as_u64().unwrap(), r["warmup"].as_bool().unwrap()))
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(shape(&warm1), shape(&warm3));
    let expected: Vec<(u64, bool)> = (0..66).map(|i| (i, i < 6)).collect();
    assert_eq!(shape(&warm3), expected);
    // Measured requests come from their workers, after every warm-up request ended, on the
    // one clock.
    let warm_end = warm3
        .iter()
        .filter(|r| r["warmup"] == true)
        .map(|r| r["end_ns"].as_u64().unwrap())
        .max()
        .unwrap();
    for r in warm3.iter().filter(|r| r["warmup"] == false) {
        assert_eq!(r["worker"].as_u64().unwrap(), r["id"].as_u64().unwrap() % 3);
        assert!(r["sent_ns"].as_u64().unwrap() > warm_end, "{r}");
        assert_eq!(r["outcome"]["kind"], "completed", "{r}");
    }

    // Too many workers for the concurrency is refused with the numbers.
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--concurrency",
        "2",
        "--workers",
        "3",
        "--num-requests",
        "4",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--workers 3") && err.contains("--concurrency is 2"),
        "{err}"
    );
}

#[test]
fn ctrl_c_keeps_finished_records_and_marks_the_run_incomplete() {
    // Short requests finish while long ones are still streaming when Ctrl-C comes.
    let sim = Sim::start(&["--ttft-ms", "1", "--itl-ms", "20"]);
    let out = tempdir("ctrl-c");
    let child = crate::support::llmb()
        .args([
            "bench",
            "--url",
            &sim.url,
            "--isl",
            "16",
            "--osl",
            "8",
            "--osl-stddev",
            "0",
            "--concurrency",
            "4",
            "--num-requests",
            "100000",
            "--grace",
            "100ms",
            "--quiet",
            "--output-dir",
            out.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (polling, with a deadline) until some requests have completed and been written.
    let records_file = out.join("records.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&records_file).map_or(0, |s| s.lines().count()) < 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "no records within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) sends SIGINT to the child we own.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = records(&out);
    let done: Vec<_> = recs
        .iter()
        .filter(|r| r["outcome"]["kind"] == "completed")
        .collect();
    assert!(done.len() >= 8, "{} completed", done.len());
    for r in &done {
        assert_eq!(
            r["chunks"].as_array().unwrap().len(),
            8,
            "a completed record is whole"
        );
    }
    // Far fewer than asked: the run stopped, and says so.
    assert!(recs.len() < 100_000);
    let s = read_json(out.join("summary.json"));
    assert_eq!(s["complete"], false);
    assert_eq!(
        s["requests"]["measured"].as_u64().unwrap(),
        recs.len() as u64
    );
}

#[test]
fn server_metrics_are_scraped_and_agree_with_the_client() {
    let sim = Sim::start(&["--ttft-ms", "5", "--itl-ms", "2"]);
    let out = tempdir("server-metrics");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--isl",
        "32",
        "--osl",
        "16",
        "--concurrency",
        "4",
        "--num-requests",
        "40",
        "--quiet",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_ran(&o);
    // One scrape before the first request and one after the last, at least.
    let lines = std::fs::read_to_string(out.join("server_metrics.jsonl")).unwrap();
    assert!(lines.lines().count() >= 2, "{lines}");
    let s = read_json(out.join("summary.json"));
    let view = &s["server"]["view"];
    // The engine's own counter moved by exactly the tokens the client received.
    assert_eq!(
        view["generated_tokens"].as_f64(),
        Some(40.0 * 16.0),
        "{view}"
    );
    assert!(view["samples"].as_u64().unwrap() >= 2);
    // Turned off, nothing is scraped.
    let off = tempdir("server-metrics-off");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--isl",
        "8",
        "--osl",
        "4",
        "--num-requests",
        "4",
        "--no-server-metrics",
        "--quiet",
        "--output-dir",
        off.to_str().unwrap(),
    ]);
    assert_ran(&o);
    assert!(!off.join("server_metrics.jsonl").exists());
    assert!(read_json(off.join("summary.json"))["server"]["view"].is_null());
}

#[test]
fn the_engine_gauges_return_to_zero_after_a_run() {
    let sim = Sim::start(&["--ttft-ms", "2", "--itl-ms", "1"]);
    let out = tempdir("gauges");
    let o = run(&[
        "bench",
        "--url",
        &sim.url,
        "--osl",
        "8",
        "--num-requests",
        "20",
        "--concurrency",
        "4",
        "--quiet",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_ran(&o);
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(sim.url.trim_start_matches("http://")).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    for gauge in [
        "num_requests_running",
        "num_requests_waiting",
        "kv_cache_usage_perc",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("llmb:{gauge}")))
            .unwrap_or_else(|| panic!("no {gauge} in {text}"));
        assert!(line.ends_with(" 0"), "{line}");
    }
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempdir("bad-input");
    std::fs::create_dir_all(&dir).unwrap();
    let ds = dir.join("bad.jsonl");
    std::fs::write(&ds, "{\"prompt\":\"hi\",\"output_tokens\":-4}\n").unwrap();
    let ds = ds.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["bench", "--url", "http://127.0.0.1:99999"],
        &["bench", "--osl-stddev", "NaN"],
        &["bench", "--osl-stddev", "inf"],
        &["bench", "--isl", "1000000000"],
        &["bench", "--no-stream", "--slo", "ttft_ms=500"],
        &["bench", "--multi-round", "2", "--num-requests", "5"],
        &["bench", "--isl", "10", "--use-case", "chat:1/2"],
        &["bench", "--dataset", ds, "--isl", "5"],
        &["bench", "--dataset", ds],
        &["bench", "--dataset", "/nonexistent/d.jsonl"],
        &["bench", "--tokenizer", "/nonexistent/tokenizer.json"],
        &["bench", "--output-dir", "/proc/nonexistent/x"],
        &["bench", "--settings", "/nonexistent.json"],
        &["bench", "--max-error-rate", "0"],
        &["selfbench", "--check", "/nonexistent.json", "--quick"],
        &["run-plan", "/nonexistent/plan.json"],
        &[
            "import",
            "trtllm-bench",
            "/nonexistent.log",
            "--output-dir",
            "/tmp/x",
        ],
    ];
    for args in cases {
        let o = run(args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("error: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
