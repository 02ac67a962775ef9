//! Client CPU time per 1,000 streamed tokens against the embedded engine (fixed timing:
//! TTFT 50 ms, ITL 10 ms, so the client sees paced streams as users do), at concurrency
//! 1, 64 and 1,024. Run with `cargo bench -p llmb --bench client_cpu`; figures in README.
//! The engine is started as `llmb selfbench` starts it (`harness::Engine`: nice 19, a
//! stand-in for a server on other machines that must not hold the CPU a woken client needs).
//! (`llmb selfbench` is the fuller harness: it compares with a reference reader and
//! measures client lag; see docs/PERFORMANCE.md.)
#![allow(clippy::print_stdout)] // a bench's table is its output

use std::process::Command;

use llmb_selfbench::harness::{Engine, Mode};

fn main() {
    let exe = env!("CARGO_BIN_EXE_llmb");
    let sim = Engine::start(exe.as_ref(), Mode::Paced, None).expect("start the simulated engine");
    let url = sim.url().to_owned();
    println!(
        "{:>12} {:>10} {:>14} {:>12} {:>12}",
        "concurrency", "requests", "output tokens", "client CPU s", "ms/1k tok"
    );
    for (c, n) in [(1u64, 20u64), (64, 640), (1024, 4096)] {
        let dir = std::env::temp_dir().join(format!("llmb-bench-cpu-{c}"));
        let _ = std::fs::remove_dir_all(&dir);
        let st = Command::new(exe)
            .args([
                "bench", "--url", &url, "--isl", "128", "--osl", "128", "--quiet",
            ])
            .args([
                "--concurrency",
                &c.to_string(),
                "--num-requests",
                &n.to_string(),
            ])
            .args(["--output-dir", dir.to_str().unwrap()])
            .status()
            .expect("run llmb bench");
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
        let tokens = s["lengths"]["output_tokens"]["stats"]["mean"]
            .as_f64()
            .unwrap()
            * s["requests"]["completed"].as_f64().unwrap();
        let cpu = s["client"]["cpu_s"].as_f64().unwrap();
        println!(
            "{c:>12} {n:>10} {tokens:>14.0} {cpu:>12.3} {:>12.2}   (exit {})",
            cpu * 1000.0 / (tokens / 1000.0),
            st.code().unwrap_or(-1)
        );
    }
    drop(sim);
}
