//! `llmb profile`: `aiperf profile` command lines from AIPerf's documentation, run with the
//! program name changed (and the doc's `localhost:8000` pointed at a simulated engine on a
//! free port), write AIPerf's four files where AIPerf puts them, in AIPerf's schema (read
//! here as AIPerf's documentation describes it), with figures that agree with the
//! per-request records they carry.

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::support::{assert_ran, llmb, tempdir, Sim};

fn profile(dir: &Path, line: &str, url: &str) -> Output {
    std::fs::create_dir_all(dir).unwrap();
    let line = line.replace("localhost:8000", url.trim_start_matches("http://"));
    let args: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(args[..2], ["aiperf", "profile"]);
    llmb()
        .arg("profile")
        .args(&args[2..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run llmb profile")
}

const STATS: [&str; 16] = [
    "unit", "avg", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "min", "max",
    "std", "count", "sum",
];

#[test]
fn aiperf_doc_command_lines_write_aiperfs_files() {
    let sim = Sim::start(&["--model", "Qwen/Qwen3-0.6B"]);
    let dir = tempdir("aiperf-docs");
    // docs/tutorials/request-rate-concurrency.md (request count cut from 500 to 60) and
    // docs/tutorials/openai-text-endpoints.md (both), ai-dynamo/aiperf.
    let lines = [
        ("aiperf profile --model Qwen/Qwen3-0.6B --endpoint-type chat --endpoint /v1/chat/completions --streaming --url localhost:8000 --concurrency 100 --request-rate 200 --request-rate-mode poisson --random-seed 42 --request-count 60 --synthetic-input-tokens-mean 500 --output-tokens-mean 200",
         "artifacts/Qwen_Qwen3-0.6B-openai-chat-concurrency100-request_rate200.0", 60),
        // docs/tutorials/request-rate-concurrency.md, constant rate (count cut from 300 to 40).
        ("aiperf profile --model Qwen/Qwen3-0.6B --endpoint-type chat --endpoint /v1/chat/completions --streaming --url localhost:8000 --concurrency 50 --request-rate 50 --request-rate-mode constant --request-count 40 --synthetic-input-tokens-mean 800 --output-tokens-mean 400",
         "artifacts/Qwen_Qwen3-0.6B-openai-chat-concurrency50-request_rate50.0", 40),
        ("aiperf profile --model Qwen/Qwen3-0.6B --endpoint-type chat --endpoint /v1/chat/completions --streaming --synthetic-input-tokens-mean 100 --synthetic-input-tokens-stddev 0 --output-tokens-mean 200 --output-tokens-stddev 0 --url localhost:8000 --request-count 20",
         "artifacts/Qwen_Qwen3-0.6B-openai-chat-concurrency1", 20),
        ("aiperf profile --model Qwen/Qwen3-0.6B --endpoint-type completions --endpoint /v1/completions --synthetic-input-tokens-mean 64 --synthetic-input-tokens-stddev 4 --output-tokens-mean 128 --output-tokens-stddev 4 --url localhost:8000 --request-count 32",
         "artifacts/Qwen_Qwen3-0.6B-openai-completions-concurrency1", 32),
    ];
    for (line, folder, n) in lines {
        let o = profile(&dir, line, &sim.url);
        assert_ran(&o);
        let art = dir.join(folder);
        let j: Value = serde_json::from_str(
            &std::fs::read_to_string(art.join("profile_export_aiperf.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(j["schema_version"], "1.4");
        assert!(j["aiperf_version"]
            .as_str()
            .unwrap()
            .starts_with("0.13.0+llmb"));
        assert_eq!(j["benchmark_id"].as_str().unwrap().len(), 12);
        assert_eq!(j["request_count"]["avg"].as_f64(), Some(n as f64), "{line}");
        assert_eq!(j["request_count"]["unit"], "requests");
        let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        let streaming = line.contains("--streaming");
        for k in [
            "request_throughput",
            "request_latency",
            "output_token_throughput",
            "output_sequence_length",
            "input_sequence_length",
            "benchmark_duration",
            "total_isl",
            "total_osl",
            "input_config",
            "run_info",
            "was_cancelled",
            "is_complete",
            "error_summary",
            "start_time",
            "end_time",
        ] {
            assert!(keys.contains(&k), "{k} missing in {keys:?}");
        }
        // The declared fields come first, in AIPerf's order.
        let pos = |k: &str| keys.iter().position(|x| *x == k).unwrap();
        assert!(
            pos("schema_version") < pos("request_throughput")
                && pos("request_throughput") < pos("request_latency")
                && pos("total_osl") < pos("input_config")
                && pos("input_config") < pos("run_info")
                && pos("end_time") < pos("completed_request_count")
        );
        let lat = j["request_latency"].as_object().unwrap();
        assert_eq!(lat.keys().map(String::as_str).collect::<Vec<_>>(), STATS);
        assert_eq!(lat["count"].as_u64(), Some(n));
        assert_eq!(
            j["request_throughput"].as_object().unwrap().len(),
            2,
            "unit and avg only"
        );
        assert_eq!(
            j["output_sequence_length"]["avg"].as_f64(),
            Some(j["output_sequence_length"]["avg"].as_f64().unwrap().round())
        );
        assert_eq!(
            j["time_to_first_token"].is_object(),
            streaming,
            "TTFT only with --streaming"
        );
        assert_eq!(
            j["input_config"]["models"]["items"][0]["name"],
            "Qwen/Qwen3-0.6B"
        );
        assert!(j["run_info"]["cli_command"]
            .as_str()
            .unwrap()
            .starts_with("aiperf profile --model 'Qwen/Qwen3-0.6B'"));
        assert_eq!(
            (j["was_cancelled"].as_bool(), j["is_complete"].as_bool()),
            (Some(false), Some(true))
        );
        let start = j["start_time"].as_str().unwrap();
        assert!(start.len() == 26 && start.as_bytes()[10] == b'T', "{start}");
        // Figures agree with the records.
        let recs: Vec<Value> = std::fs::read_to_string(art.join("profile_export.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs.len(), n as usize);
        for r in &recs {
            let md = &r["metadata"];
            for k in [
                "session_num",
                "request_start_ns",
                "request_end_ns",
                "worker_id",
                "record_processor_id",
                "benchmark_phase",
            ] {
                assert!(!md[k].is_null(), "{k} missing: {r}");
            }
            assert!(md["request_end_ns"].as_u64() > md["request_start_ns"].as_u64());
            assert_eq!(r["metrics"]["request_latency"]["unit"], "ms");
        }
        let sum: f64 = recs
            .iter()
            .map(|r| r["metrics"]["request_latency"]["value"].as_f64().unwrap())
            .sum();
        assert!((sum - lat["sum"].as_f64().unwrap()).abs() < 1e-6 * sum);
        let osl: u64 = recs
            .iter()
            .map(|r| {
                r["metrics"]["output_sequence_length"]["value"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        assert_eq!(j["total_osl"]["avg"].as_f64(), Some(osl as f64));
        let span = recs
            .iter()
            .map(|r| r["metadata"]["request_end_ns"].as_u64().unwrap())
            .max()
            .unwrap()
            - recs
                .iter()
                .map(|r| r["metadata"]["request_start_ns"].as_u64().unwrap())
                .min()
                .unwrap();
        assert!(
            (j["benchmark_duration"]["avg"].as_f64().unwrap() - span as f64 / 1e9).abs() < 1e-6
        );
        // The CSV: CRLF, the per-request section sorted by tag, then the single values.
        let csv = std::fs::read_to_string(art.join("profile_export_aiperf.csv")).unwrap();
        assert!(csv.starts_with("Metric,avg,min,max,sum,p1,p5,p10,p25,p50,p75,p90,p95,p99,std\r\n"));
        assert!(
            csv.contains("\r\n\r\nMetric,Value\r\n")
                && csv.contains("\r\nRequest Count,")
                && csv.contains("\r\nBenchmark Duration (sec),")
        );
        assert!(csv
            .lines()
            .filter(|l| l.starts_with("Request Latency (ms),"))
            .all(|l| l.split(',').count() == 15));
        // inputs.json: one session per request, the payload as sent.
        let inputs: Value =
            serde_json::from_str(&std::fs::read_to_string(art.join("inputs.json")).unwrap())
                .unwrap();
        let data = inputs["data"].as_array().unwrap();
        assert_eq!(data.len(), n as usize);
        assert_eq!(data[0]["session_id"], "session_000000");
        assert_eq!(data[0]["payloads"][0]["model"], "Qwen/Qwen3-0.6B");
        assert_eq!(data[0]["payloads"][0]["stream"].as_bool(), Some(streaming));
    }
}

/// AIPerf's own pydantic models (aiperf 0.13.0 from PyPI) load every file llmb wrote.
#[cfg_attr(
    not(llmb_aiperf),
    ignore = "needs aiperf's models: run scripts/test.sh (LLMB_TEST_AIPERF=1)"
)]
#[test]
fn aiperfs_own_models_load_llmbs_files() {
    let python = std::env::var("LLMB_AIPERF_PYTHON")
        .expect("LLMB_AIPERF_PYTHON (scripts/aiperf-models.sh test-env)");
    let dir = tempdir("aiperf-models");
    // The embedded engine (no --url), a failed request among them, and the summary level.
    let sim = Sim::start(&[
        "--model",
        "m",
        "--fault-rate",
        "0.3",
        "--fault-kinds",
        "http500",
    ]);
    for (line, folder) in [
        ("aiperf profile -m m --streaming --concurrency 2 --request-count 12 --output-tokens-mean 8 --goodput time_to_first_token:5000", "artifacts/m-openai-chat-concurrency2"),
        ("aiperf profile -m m --url localhost:8000 --endpoint-type completions --request-count 12 --output-tokens-mean 8 --extra-inputs temperature:0.5 --api-key secret-key -H X-Token:hdr-secret", "artifacts/m-openai-completions-concurrency1"),
    ] {
        let o = profile(&dir, line, &sim.url);
        assert!(o.status.code().is_some_and(|c| c <= 4), "{}", String::from_utf8_lossy(&o.stderr));
        let art = dir.join(folder);
        let script = r#"
import sys
from aiperf.common.models.export_models import JsonExportData
from aiperf.common.models import MetricRecordInfo, InputsFile
d = sys.argv[1]
j = JsonExportData.model_validate_json(open(d + "/profile_export_aiperf.json").read())
n = sum(1 for line in open(d + "/profile_export.jsonl") if MetricRecordInfo.model_validate_json(line))
i = InputsFile.model_validate_json(open(d + "/inputs.json").read())
text = "".join(open(d + f).read() for f in ["/profile_export_aiperf.json", "/profile_export.jsonl", "/inputs.json"])
print(j.schema_version, n, len(i.data), "secret-key" in text or "hdr-secret" in text)
"#;
        let py = std::process::Command::new(&python).args(["-c", script]).arg(&art).output().unwrap();
        assert!(py.status.success(), "{line}
{}", String::from_utf8_lossy(&py.stderr));
        assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), "1.4 12 12 False", "{line}");
    }
}

#[test]
fn artifact_dir_goodput_and_refusals() {
    let sim = Sim::start(&["--model", "m", "--ttft-ms", "20", "--itl-ms", "1"]);
    let dir = tempdir("aiperf-goodput");
    let o = profile(
        &dir,
        "aiperf profile -m m --url localhost:8000 --streaming --request-count 8 --output-tokens-mean 4 --artifact-dir out --goodput time_to_first_token:1000 --export-level summary",
        &sim.url,
    );
    assert_ran(&o);
    // --artifact-dir is used as given, with no sub-folder; summary level: no records file.
    let j: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/profile_export_aiperf.json")).unwrap(),
    )
    .unwrap();
    assert!(!dir.join("out/profile_export.jsonl").exists());
    assert_eq!(
        j["good_request_count"]["avg"].as_f64(),
        Some(8.0),
        "every TTFT is ~20 ms"
    );
    assert_eq!(
        j["input_config"]["slos"]["time_to_first_token"].as_f64(),
        Some(1000.0)
    );
    for (line, needle) in [
        (
            "aiperf profile -m m --public-dataset sharegpt",
            "--public-dataset",
        ),
        (
            "aiperf profile -m m --endpoint-type embeddings --output-tokens-mean 4",
            "--endpoint-type embeddings",
        ),
        (
            "aiperf profile -m m --request-count 4",
            "--output-tokens-mean",
        ),
        (
            "aiperf profile -m m --output-tokens-mean 4 --request-rate 5 --request-rate-mode gamma",
            "poisson or constant",
        ),
    ] {
        let o = profile(&dir, line, &sim.url);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{line}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(needle) && err.contains("use"), "{line}: {err}");
    }
}
