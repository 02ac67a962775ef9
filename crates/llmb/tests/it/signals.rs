//! Signals end `llmb bench` cleanly: in-flight requests get the grace period, every file
//! is written and marked incomplete, the exit status is 128 + the signal, and no process
//! llmb started is left behind (looked up in /proc by a marker in its command line).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::support::{jsonl, live_processes, llmb, read_json, tempdir, wait_for, ProcFile};

/// Live processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    live_processes(ProcFile::Cmdline, marker)
}

fn records_so_far(file: &Path) -> usize {
    std::fs::read_to_string(file)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn start_bench(out: &Path, seed: &str, extra: &[&str]) -> Child {
    llmb()
        .args([
            "bench",
            "--num-requests",
            "10000000",
            "--concurrency",
            "4",
            "--quiet",
        ])
        .args(["--seed", seed, "--output-dir"])
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

/// Sends `sig` once records flow, and checks the clean end.
fn stops_cleanly(name: &str, sig: i32, extra: &[&str], records_at: &Path) {
    let out = tempdir(name);
    // A seed no other test uses marks the embedded engine's command line.
    let seed = format!("{}{}", 7_000_000 + sig, std::process::id());
    let child = start_bench(&out, &seed, extra);
    let at = if records_at.as_os_str().is_empty() {
        out.clone()
    } else {
        out.join(records_at)
    };
    wait_for("records", Duration::from_secs(60), || {
        records_so_far(&at) >= 20
    });
    assert!(
        !processes_with(&seed).is_empty(),
        "the engine runs before the signal"
    );
    signal(&child, sig);
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(128 + sig), "{stderr}");
    let s = read_json(out.join("summary.json"));
    assert_eq!(s["complete"], false, "{stderr}");
    for f in [
        "config.json",
        "performance_overview.txt",
        "serving_result.json",
        "profile_export_genai_perf.csv",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let recs = jsonl(&out.join("records.jsonl"));
    assert!(recs.len() >= 20);
    assert_eq!(
        s["requests"]["completed"].as_u64().unwrap() as usize,
        recs.iter()
            .filter(
                |r| !r["warmup"].as_bool().unwrap_or(false) && r["outcome"]["kind"] == "completed"
            )
            .count()
    );
    wait_for("no process left", Duration::from_secs(10), || {
        processes_with(&seed).is_empty()
    });
    wait_for("no worker left", Duration::from_secs(10), || {
        processes_with(&out.display().to_string()).is_empty()
    });
}

#[test]
fn sigterm_ends_bench_and_its_engine() {
    stops_cleanly("sig-term", libc::SIGTERM, &[], Path::new("records.jsonl"));
}

#[test]
fn sighup_ends_bench_and_merges_its_workers() {
    stops_cleanly(
        "sig-hup",
        libc::SIGHUP,
        &["--workers", "2"],
        Path::new("workers/records-0.jsonl"),
    );
}

#[test]
fn sigint_ends_bench_with_130() {
    stops_cleanly("sig-int", libc::SIGINT, &[], Path::new("records.jsonl"));
}

#[test]
fn sigkill_takes_the_engine_with_it() {
    let out = tempdir("sig-kill");
    let seed = format!("{}{}", 7_000_009, std::process::id());
    let mut child = start_bench(&out, &seed, &[]);
    wait_for("records", Duration::from_secs(60), || {
        records_so_far(&out.join("records.jsonl")) >= 5
    });
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    wait_for("the engine to go", Duration::from_secs(10), || {
        processes_with(&seed).is_empty()
    });
    // What had ended is on disk, one valid JSON document per line.
    let text = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let whole = text.lines().count() - usize::from(!text.ends_with('\n'));
    for l in text.lines().take(whole) {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
    assert!(whole >= 5);
}
