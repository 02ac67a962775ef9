//! Real engines started by plans: the llama.cpp recipe end to end through the local launcher
//! (and real Slurm), and the faults an engine can have: crash at start, never ready, death in
//! the middle of a run. Each must fail clearly with the engine's log tail, keep the results
//! written so far, and leave no process behind.
//!
//! Needs the llama.cpp engine prepared by scripts/test.sh (`LLMB_TEST_LLAMA=1`); otherwise the
//! tests are compiled as ignored (build.rs) and the test runner reports them so.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::launch_support::{find_files, job_id, only_run_dir, run_status, text, Install};
use crate::support::{records, wait_for};

/// `(llama-server, model.gguf, SmolLM2 tokenizer.json)`; panics naming what is missing.
pub fn llama(test: &str) -> (PathBuf, PathBuf, PathBuf) {
    let [server, model, tok] = crate::engine::prepared(
        [
            "LLMB_LLAMA_SERVER",
            "LLMB_LLAMA_MODEL",
            "LLMB_SMOLLM_TOKENIZER",
        ],
        test,
    );
    (server, model, tok)
}

/// `submit` of the llama.cpp recipe through the local launcher.
fn submit_local() -> Vec<&'static str> {
    [&["submit"][..], SMOLLM, &["--launcher", "local"]].concat()
}

/// `PATH` with llama-server's folder first.
pub fn path_with(server: &Path) -> String {
    format!(
        "{}:{}",
        server.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

pub const SMOLLM: &[&str] = &[
    "-w",
    "inference_smollm2-llamacpp",
    "-s",
    "135m",
    "--dtype",
    "q4",
    "--scale",
    "1",
];

/// Processes whose working folder or command line lies under `dir` (engines a run left
/// behind, or running): pid and a description.
fn processes_in(dir: &Path) -> Vec<(u32, String)> {
    let me = std::process::id();
    let dir = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cwd = std::fs::read_link(e.path().join("cwd"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cmd = std::fs::read(e.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        // Zombies have an empty command line and no cwd: they hold nothing.
        if cwd.starts_with(&dir) || cmd.contains(&dir) {
            found.push((pid, format!("{pid}: {cmd} (cwd {cwd})")));
        }
    }
    found
}

/// What `processes_in` finds, described (empty when a run left nothing behind).
pub fn processes_under(dir: &Path) -> Vec<String> {
    processes_in(dir).into_iter().map(|(_, d)| d).collect()
}

/// Checks one experiment folder of the llama.cpp recipe: `n` requests of exactly 64 input
/// tokens as the server counted them and exactly 16 output tokens.
pub fn assert_exact(dir: &Path, n: usize) {
    let recs = records(dir);
    assert_eq!(recs.len(), n, "{}", dir.display());
    for r in &recs {
        assert_eq!(r["outcome"]["kind"], "completed", "{r}");
        assert_eq!(
            r["usage"]["prompt_tokens"], 64,
            "server-side input length: {r}"
        );
        assert_eq!(r["input_tokens"], 64, "{r}");
        assert_eq!(r["usage"]["completion_tokens"], 16, "{r}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["requests"]["input_length_mismatches"], 0,
        "{summary}"
    );
    assert_eq!(
        summary["requests"]["output_length_mismatches"], 0,
        "{summary}"
    );
    assert!(
        summary["tokenizer"]
            .as_str()
            .unwrap()
            .contains("tokenizer.json"),
        "counted with the model's own tokenizer: {summary}"
    );
}

#[cfg_attr(
    not(llmb_llama),
    ignore = "needs llama.cpp: run scripts/test.sh (LLMB_TEST_LLAMA=1)"
)]
#[test]
fn llama_cpp_recipe_runs_through_the_local_launcher() {
    let (server, model, tok) = llama("llama_cpp_recipe_local");
    let i = Install::new("plan-llama-local", "gb200");
    let path = path_with(&server);
    let args = submit_local();
    let out = i.run(
        &args,
        &[
            ("PATH", &path),
            ("MODEL_PATH", model.to_str().unwrap()),
            ("TOKENIZER", tok.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let exp = i.experiments("inference_smollm2-llamacpp");
    // Concurrency 1 and 4, two rounds each: 2 and 8 requests, each in its own folder.
    for (con, n) in [(1, 2), (4, 8)] {
        assert_exact(&only_run_dir(&exp, &format!("_CON{con}_chat")), n);
    }
    let st = run_status(&exp);
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(st["servers_stopped_on_purpose"], true, "{st}");
    // The engine's own log and workdir are in the run folder; nothing is left running.
    let logs = find_files(&exp, "chat-server0.log");
    assert_eq!(logs.len(), 1);
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    // llama-server's own lines, not only run-plan's header: a timing line per request.
    assert_eq!(log.matches("prompt eval time").count(), 10, "{log}");
    assert_eq!(processes_under(&i.dir), Vec::<String>::new());
}

#[cfg_attr(
    not(llmb_llama),
    ignore = "needs llama.cpp: run scripts/test.sh (LLMB_TEST_LLAMA=1)"
)]
#[test]
fn engine_that_crashes_at_start_fails_with_its_log_tail() {
    let (server, _model, tok) = llama("engine_crash_at_start");
    let i = Install::new("plan-llama-crash", "gb200");
    // A model file that is not a GGUF: llama-server exits while loading it.
    let bad = i.dir.join("not-a-model.gguf");
    std::fs::write(&bad, b"this is not a gguf file").unwrap();
    let path = path_with(&server);
    let args = submit_local();
    let out = i.run(
        &args,
        &[
            ("PATH", &path),
            ("MODEL_PATH", bad.to_str().unwrap()),
            ("TOKENIZER", tok.to_str().unwrap()),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = job_id(&out);
    assert_eq!(i.state(&id), "FAILED");
    let show = String::from_utf8_lossy(&i.run(&["jobs", "show", &id], &[]).stdout).into_owned();
    assert!(show.contains("engine chat-server0 exited early"), "{show}");
    // The tail quotes llama-server's own complaint about the file.
    assert!(show.contains("not-a-model.gguf"), "{show}");
    let st = run_status(&i.experiments("inference_smollm2-llamacpp"));
    assert_eq!(st["state"], "failed", "{st}");
    assert!(
        st["error"].as_str().unwrap().contains("exited early"),
        "{st}"
    );
    assert_eq!(processes_under(&i.dir), Vec::<String>::new());
}

#[cfg_attr(
    not(llmb_llama),
    ignore = "needs llama.cpp: run scripts/test.sh (LLMB_TEST_LLAMA=1)"
)]
#[test]
fn engine_that_never_gets_ready_is_stopped_at_the_deadline() {
    let (server, _model, tok) = llama("engine_never_ready");
    let i = Install::new("plan-llama-stuck", "gb200");
    // A FIFO nobody writes to: llama-server answers /health 503 ("loading model") forever.
    let fifo = i.dir.join("stuck.gguf");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let path = path_with(&server);
    let args = submit_local();
    let out = i.run(
        &args,
        &[
            ("PATH", &path),
            ("MODEL_PATH", fifo.to_str().unwrap()),
            ("TOKENIZER", tok.to_str().unwrap()),
            ("LLMB_READY_TIMEOUT_S", "3"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = job_id(&out);
    let show = String::from_utf8_lossy(&i.run(&["jobs", "show", &id], &[]).stdout).into_owned();
    assert!(
        show.contains("engine chat-server0 not ready after 3s (GET /health"),
        "{show}"
    );
    assert!(show.contains("last lines of"), "{show}");
    let st = run_status(&i.experiments("inference_smollm2-llamacpp"));
    assert_eq!(st["servers_stopped_on_purpose"], true, "{st}");
    assert_eq!(processes_under(&i.dir), Vec::<String>::new());
}

#[cfg_attr(
    not(llmb_llama),
    ignore = "needs llama.cpp: run scripts/test.sh (LLMB_TEST_LLAMA=1)"
)]
#[test]
fn engine_that_dies_mid_run_keeps_the_results_so_far() {
    let (server, model, tok) = llama("engine_dies_mid_run");
    let i = Install::new("plan-llama-dies", "gb200");
    let path = path_with(&server);
    let args = submit_local();
    let child: Child = i
        .cmd(
            &args,
            &[
                ("PATH", &path),
                ("MODEL_PATH", model.to_str().unwrap()),
                ("TOKENIZER", tok.to_str().unwrap()),
                ("CONCURRENCY", "1"),
                ("NUM_REQUESTS", "12"),
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exp = i.experiments("inference_smollm2-llamacpp");
    // Kill the engine once the client has recorded at least two completed requests
    // (records.jsonl gets each line as its request ends; the engine's own log of a finished
    // request can come before its last bytes reach the client).
    let finished = || {
        find_files(&exp, "records.jsonl")
            .first()
            .and_then(|l| std::fs::read_to_string(l).ok())
            .is_some_and(|t| t.matches(r#""kind":"completed""#).count() >= 2)
    };
    wait_for("two requests completed", Duration::from_secs(120), finished);
    let (pid, _) = processes_in(&i.dir)
        .into_iter()
        .find(|(_, d)| d.contains("llama-server"))
        .expect("no llama-server running in the run folder");
    // SAFETY: kill(2) on the engine process found above.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = job_id(&out);
    let show = String::from_utf8_lossy(&i.run(&["jobs", "show", &id], &[]).stdout).into_owned();
    assert!(
        show.contains("engine chat-server0 exited early (signal: 9"),
        "pid {pid}: {show}"
    );
    // The step's results are written: the requests served before the kill completed, the
    // rest failed, all recorded.
    let stamp = only_run_dir(&exp, "_CON1_chat");
    let recs = records(&stamp);
    let completed = recs
        .iter()
        .filter(|r| r["outcome"]["kind"] == "completed")
        .count();
    assert_eq!(recs.len(), 12, "{}", stamp.display());
    assert!((2..12).contains(&completed), "completed {completed}");
    assert!(stamp.join("summary.json").is_file());
    let st = run_status(&exp);
    assert_eq!(st["state"], "failed", "{st}");
    assert_eq!(st["steps"][0]["name"], "chat-c1", "{st}");
    assert_eq!(processes_under(&i.dir), Vec::<String>::new());
}
