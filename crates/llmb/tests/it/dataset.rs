//! `llmb dataset`: the file it writes, and that `llmb bench --dataset` replays it with
//! exactly the written prompt lengths as the server counts them.

use std::path::Path;

use crate::support::{assert_ran, jsonl as lines, read_json, run, tempdir};

fn write(dir: &Path, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let file = dir.join(name);
    let mut args = vec![
        "dataset",
        "--isl",
        "40",
        "--isl-stddev",
        "15",
        "--osl",
        "6",
        "--num-requests",
        "24",
        "--output",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("wrote 24 requests to"), "{err}");
    assert!(err.contains("input tokens"), "{err}");
    file
}

/// Replays `file` on the embedded engine; returns (written length, server prompt_tokens).
fn replay(file: &Path, endpoint: &str, out: &Path) -> Vec<(u64, u64)> {
    let o = run(&[
        "bench",
        "--dataset",
        file.to_str().unwrap(),
        "--endpoint",
        endpoint,
        "--num-requests",
        "24",
        "--concurrency",
        "8",
        "--quiet",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_ran(&o);
    let written = lines(file);
    let recs = lines(&out.join("records.jsonl"));
    assert_eq!(recs.len(), 24);
    let s = read_json(out.join("summary.json"));
    assert_eq!(s["requests"]["completed"], 24);
    assert_eq!(s["requests"]["input_length_mismatches"], 0);
    recs.iter()
        .map(|r| {
            assert_eq!(r["outcome"]["kind"], "completed");
            let line = &written[r["prompt_index"].as_u64().unwrap() as usize];
            let len = match line.get("input_ids") {
                Some(ids) => ids.as_array().unwrap().len() as u64,
                None => r["input_tokens"].as_u64().unwrap(),
            };
            assert_eq!(r["usage"]["completion_tokens"], line["output_tokens"]);
            (len, r["usage"]["prompt_tokens"].as_u64().unwrap())
        })
        .collect()
}

#[test]
fn written_lengths_are_what_the_server_counts() {
    let dir = tempdir("dataset");
    std::fs::create_dir_all(&dir).unwrap();

    // trtllm format: token ids go to /v1/completions as they are.
    let ids = write(&dir, "ids.jsonl", &["--seed", "4"]);
    let pairs = replay(&ids, "completions", &dir.join("run-ids"));
    assert!(pairs.iter().all(|(w, s)| w == s), "{pairs:?}");
    let distinct: std::collections::BTreeSet<u64> = pairs.iter().map(|p| p.0).collect();
    assert!(distinct.len() > 5, "lengths vary: {distinct:?}");

    // prompts format: text, counted again by the server's tokenizer (the same cl100k_base).
    let text = write(&dir, "text.jsonl", &["--seed", "4", "--format", "prompts"]);
    let pairs = replay(&text, "chat", &dir.join("run-text"));
    let lengths: Vec<u64> = lines(&ids)
        .iter()
        .map(|l| l["input_ids"].as_array().unwrap().len() as u64)
        .collect();
    for (w, s) in &pairs {
        assert_eq!(w, s, "{pairs:?}");
    }
    // Same seed, same lengths in both formats.
    let mut got: Vec<u64> = pairs.iter().map(|p| p.1).collect();
    let mut want = lengths.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);

    // Same seed, same bytes; another seed, other bytes.
    let again = write(&dir, "again.jsonl", &["--seed", "4"]);
    assert!(std::fs::read(&ids).unwrap() == std::fs::read(&again).unwrap());
    let other = write(&dir, "other.jsonl", &["--seed", "5"]);
    assert!(std::fs::read(&ids).unwrap() != std::fs::read(&other).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_name_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["dataset", "--isl", "0", "-o", "-"],
            "--isl must be between 1 and",
        ),
        (
            &["dataset", "--osl", "-3", "-o", "-"],
            "--osl must be between 1 and",
        ),
        (
            &["dataset", "--isl", "20000000", "-o", "-"],
            "--isl must be between 1 and 10000000 tokens",
        ),
        (
            &["dataset", "--osl-stddev", "nan", "-o", "-"],
            "--osl-stddev must be",
        ),
        (
            &["dataset", "--isl-stddev", "-1", "-o", "-"],
            "--isl-stddev must be",
        ),
        (
            &["dataset", "--num-requests", "0", "-o", "-"],
            "--num-requests must be at least 1",
        ),
        (
            &["dataset", "--tokenizer", "/nonexistent/tok", "-o", "-"],
            "--tokenizer: tokenizer `/nonexistent/tok` not found; looked in /nonexistent/tok",
        ),
        (
            &["dataset", "-o", "/nonexistent/dir/ds.jsonl"],
            "cannot write --output /nonexistent/dir/ds.jsonl",
        ),
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
fn an_interrupted_dataset_leaves_no_cut_file() {
    let dir = tempdir("dataset-interrupted");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("big.jsonl");
    let part = dir.join("big.jsonl.part");
    let child = crate::support::llmb()
        .args([
            "dataset",
            "--num-requests",
            "50000000",
            "--isl",
            "512",
            "--osl",
            "16",
        ])
        .args(["--quiet", "--output"])
        .arg(&out)
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::support::wait_for("the part file", std::time::Duration::from_secs(30), || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() > 0)
    });
    // SAFETY: kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143));
    assert!(!out.exists() && !part.exists());
}
