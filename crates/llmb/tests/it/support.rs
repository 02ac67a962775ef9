//! Helpers: run the binary, start `llmb serve sim` on port 0 and read its address.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn llmb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_llmb"))
}

pub fn run(args: &[&str]) -> Output {
    llmb()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run llmb")
}

/// `llmb bench` ran and wrote its results: exit 0, or exit 4 (the client's verdict says it
/// could not keep up, so timings are flagged invalid). On a shared 2-core box with other
/// tests running, the verdict may rightly fire; tests that check counts, files and metric
/// definitions, not timings, accept it. Any other exit fails.
pub fn assert_ran(o: &Output) {
    assert!(
        o.status.success() || o.status.code() == Some(4),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A simulated engine child, killed on drop.
pub struct Sim {
    child: Child,
    pub url: String,
}

impl Sim {
    pub fn start(extra: &[&str]) -> Sim {
        let mut child = llmb()
            .args(["serve", "sim", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("start sim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .expect("address line")
            .to_owned();
        Sim { child, url }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("llmb-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

pub fn read_json(p: impl AsRef<Path>) -> serde_json::Value {
    let p = p.as_ref();
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every line of a JSON-lines file, parsed; panics naming the file.
pub fn jsonl(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", p.display())))
        .collect()
}

/// The run's per-request records (`records.jsonl` in a result folder).
pub fn records(dir: &Path) -> Vec<serde_json::Value> {
    jsonl(&dir.join("records.jsonl"))
}

/// Every key path of a JSON document (`/a/b`), in document order: two documents that
/// report the same quantities under the same names have the same list.
pub fn key_paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    if let serde_json::Value::Object(m) = v {
        for (k, v) in m {
            let p = format!("{prefix}/{k}");
            out.push(p.clone());
            key_paths(v, &p, out);
        }
    }
}

/// Polls `cond` until it holds; fails the test naming `what` after `limit`.
pub fn wait_for(what: &str, limit: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + limit;
    while !cond() {
        assert!(
            std::time::Instant::now() < end,
            "gave up waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A record's outcome as summary.json counts it (`http_503`, `reset`, ...).
pub fn outcome_label(r: &serde_json::Value) -> String {
    match r["outcome"]["status"].as_u64() {
        Some(s) => format!("http_{s}"),
        None => r["outcome"]["kind"].as_str().unwrap_or("").to_owned(),
    }
}

/// Which file of `/proc/PID` [`live_processes`] searches.
#[derive(Debug, Clone, Copy)]
pub enum ProcFile {
    /// The command line.
    Cmdline,
    /// The environment (inherited by every process a command starts).
    Environ,
}

/// Live processes (not zombies, not this test process) whose `file` holds `needle`, as
/// `PID: command line`: what a test checks is left behind after llmb ends.
pub fn live_processes(file: ProcFile, needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        // A process that is gone but not reaped yet is no leftover.
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
        {
            continue;
        }
        let read = |name: &str| {
            let b = std::fs::read(e.path().join(name)).unwrap_or_default();
            String::from_utf8_lossy(&b).replace('\0', " ")
        };
        let haystack = match file {
            ProcFile::Cmdline => read("cmdline"),
            ProcFile::Environ => read("environ"),
        };
        if haystack.contains(needle) {
            out.push(format!("{pid}: {}", read("cmdline")));
        }
    }
    out
}
