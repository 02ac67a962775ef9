//! `llmb import trtllm-bench`: trtllm-bench's report into llmb's result files, checked
//! against an online run of the embedded engine whose own report is in the same format.

use std::path::PathBuf;

use crate::support::{assert_ran, key_paths, read_json, run, tempdir};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../llmb-report/tests/fixtures")
        .join(name)
}

#[test]
fn an_online_overview_imports_to_the_same_numbers() {
    let dir = tempdir("import");
    let online = dir.join("online");
    let o = run(&[
        "bench",
        "--isl",
        "16",
        "--osl",
        "8",
        "--num-requests",
        "20",
        "--concurrency",
        "4",
        "--quiet",
        "--output-dir",
        online.to_str().unwrap(),
    ]);
    assert_ran(&o);
    let offline = dir.join("offline");
    let o = run(&[
        "import",
        "trtllm-bench",
        online.join("performance_overview.txt").to_str().unwrap(),
        "--output-dir",
        offline.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("= PERFORMANCE OVERVIEW \n"));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("imported trtllm-bench report (20 requests, streaming)"));
    let (on, off) = (
        read_json(online.join("summary.json")),
        read_json(offline.join("summary.json")),
    );
    assert_eq!(off["source"], "trtllm-bench");
    assert_eq!(on["source"], "llmb");
    // The printout has 4 decimals: equal to that.
    let same = |path: &str| {
        let (a, b) = (
            on.pointer(path).and_then(|v| v.as_f64()).unwrap(),
            off.pointer(path).and_then(|v| v.as_f64()).unwrap(),
        );
        assert!(
            (a - b).abs() <= 5e-5 * a.abs().max(1.0),
            "{path}: {a} vs {b}"
        );
    };
    for path in [
        "/requests/completed",
        "/throughput/span_s",
        "/throughput/request_per_s_span",
        "/throughput/output_tokens_per_s_span",
        "/throughput/total_tokens_per_s_span",
        "/throughput/realised_concurrency",
        "/latency_from_send/e2e_ms/stats/mean",
        "/latency_from_send/e2e_ms/stats/p90_index",
        "/latency_from_send/ttft_ms/stats/p50_index",
        "/latency_from_send/ttft_ms/stats/max",
        "/per_token/tpot_trtllm_ms/stats/mean",
        "/per_user_tokens_per_s/with_first_token/stats/mean",
        "/per_user_tokens_per_s/generation_speed/stats/p99_index",
        "/lengths/input_tokens/stats/mean",
    ] {
        same(path);
    }
    // Same shape: every key the import writes is a key `llmb bench` writes too.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    key_paths(&on, "", &mut a);
    key_paths(&off, "", &mut b);
    let extra: Vec<&String> = b
        .iter()
        .filter(|p| !a.contains(p) && !p.starts_with("/trtllm_bench"))
        .filter(|p| !["/source_file", "/definitions"].contains(&p.as_str()))
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_real_layout_log_and_bad_files() {
    let dir = tempdir("import-log");
    let o = run(&[
        "import",
        "trtllm-bench",
        fixture("trtllm_bench_streaming.out").to_str().unwrap(),
        "--quiet",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty());
    let s = read_json(dir.join("summary.json"));
    assert_eq!(s["model"], "Llama3.3-70B");
    assert_eq!(s["throughput"]["gpus"], 2);
    assert_eq!(s["requests"]["completed"], 4000);
    assert!(
        std::fs::read_to_string(dir.join("performance_overview.txt"))
            .unwrap()
            .contains("Per GPU Output Throughput (tps/gpu):              5250.0000\n")
    );

    let junk = dir.join("junk.log");
    std::fs::write(&junk, "nothing to see\n").unwrap();
    let truncated = dir.join("truncated.log");
    let full = std::fs::read_to_string(fixture("trtllm_bench_streaming.out")).unwrap();
    let cut = full.find("Total Latency").unwrap();
    std::fs::write(&truncated, &full[..cut]).unwrap();
    let cases = [
        (junk.clone(), "no trtllm-bench report found"),
        (truncated.clone(), "\"Total Latency (ms)\" is missing"),
        (dir.join("absent.log"), "cannot read"),
    ];
    for (file, want) in cases {
        let o = run(&["import", "trtllm-bench", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(want) && err.contains(file.to_str().unwrap()),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
