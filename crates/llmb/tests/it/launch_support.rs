//! Helpers for the launch tests: a fresh install folder from `llmb init`, and `llmb` commands
//! that run against it with a clean knob environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{llmb, tempdir};

/// Variables a developer's shell might hold that change what the binary does, besides the
/// recipe knobs (`llmb_recipe::knobs::vars::ALL`) and `SBATCH_*`; all are removed so tests
/// see only their own.
const OTHER_VARS: &[&str] = &[
    "SIM_ARGS",
    "LLMB_INSTALL",
    "LLMB_READY_TIMEOUT_S",
    "SLURM_JOB_ID",
    "SLURM_JOB_NODELIST",
    "HF_TOKEN",
];

/// The seeds' first recipe at its smallest point (add `--engine sim` to run it without a GPU).
pub const LLAMA33: &[&str] = &[
    "-w",
    "inference_llama3.3",
    "-s",
    "70b",
    "--dtype",
    "nvfp4",
    "--scale",
    "1",
];

pub struct Install {
    pub dir: PathBuf,
}

impl Install {
    /// `llmb init --install-dir <tmp>/inst --gpu-type <gpu>`.
    pub fn new(name: &str, gpu: &str) -> Install {
        let root = tempdir(name);
        std::fs::create_dir_all(&root).unwrap();
        let dir = root.join("inst");
        let out = clean(llmb())
            .args(["init", "--install-dir"])
            .arg(&dir)
            .args(["--gpu-type", gpu])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let dir = dir.canonicalize().unwrap();
        for sub in ["images", "datasets", "workloads", ".llmb"] {
            assert!(dir.join(sub).is_dir(), "{sub}");
        }
        Install { dir }
    }

    /// `llmb ARGS` with `LLMB_INSTALL` set and `env` added.
    pub fn cmd(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = clean(llmb());
        c.args(args)
            .env("LLMB_INSTALL", &self.dir)
            .current_dir(self.dir.parent().unwrap());
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.cmd(args, env).output().unwrap()
    }

    /// `llmb-run ARGS` through a symlink named llmb-run.
    pub fn llmb_run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let link = self.dir.parent().unwrap().join("llmb-run");
        if !link.exists() {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_llmb"), &link).unwrap();
        }
        let mut c = clean(Command::new(&link));
        c.args(args)
            .env("LLMB_INSTALL", &self.dir)
            .current_dir(self.dir.parent().unwrap());
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// The job's scheduler state as `llmb jobs show` reports it (without what the
    /// benchmarks said of themselves, which follows in parentheses: a busy test box may
    /// make a step client-bound).
    pub fn state(&self, id: &str) -> String {
        let out = self.run(&["jobs", "show", id], &[]);
        assert!(out.status.success(), "{}", text(&out));
        let line = field(&String::from_utf8_lossy(&out.stdout), "state:");
        line.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// Polls `llmb jobs show` in short steps until `done(state)` or the deadline.
    pub fn wait_state(&self, id: &str, deadline: Duration, done: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + deadline;
        loop {
            let s = self.state(id);
            if done(&s) || Instant::now() > end {
                return s;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn experiments(&self, key: &str) -> PathBuf {
        self.dir.join("workloads").join(key).join("experiments")
    }
}

pub fn clean(mut c: Command) -> Command {
    for k in llmb_recipe::knobs::vars::ALL.iter().chain(OTHER_VARS) {
        c.env_remove(k);
    }
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SBATCH_")) {
        c.env_remove(k);
    }
    c.stdin(Stdio::null());
    c
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The value after `name` on the line starting with it.
pub fn field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

/// The id in `Submitted job N: ...` / `Running job N locally`.
pub fn job_id(out: &Output) -> String {
    let s = String::from_utf8_lossy(&out.stdout);
    s.lines()
        .find_map(|l| {
            l.strip_prefix("Submitted job ")
                .or_else(|| l.strip_prefix("Running job "))
        })
        .and_then(|r| r.split([':', ' ']).next())
        .unwrap_or_else(|| panic!("no job id in {}", text(out)))
        .to_owned()
}

/// Folders directly under `dir` whose name contains `part`.
pub fn dirs_containing(dir: &Path, part: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().contains(part))
    });
    v
}

/// Every file named `name` below `dir`.
pub fn find_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == name) {
                out.push(p);
            }
        }
    }
    out
}

/// The one `run_status.json` under `dir` (a run folder, or an experiments folder holding one
/// run), parsed.
pub fn run_status(dir: &Path) -> serde_json::Value {
    let f = find_files(dir, "run_status.json");
    assert_eq!(f.len(), 1, "{f:?}");
    crate::support::read_json(&f[0])
}

/// The result folder of the one run of the point whose folder name holds `part`
/// (`_CON4_chat`): the folder holding its `records.jsonl`.
pub fn only_run_dir(exp: &Path, part: &str) -> PathBuf {
    let d = dirs_containing(exp, part);
    assert_eq!(d.len(), 1, "{d:?}");
    let records = find_files(&d[0], "records.jsonl");
    assert_eq!(records.len(), 1, "{records:?}");
    records[0].parent().unwrap().to_path_buf()
}
