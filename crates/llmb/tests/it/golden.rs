//! Golden files: what a run writes, compared with what the binary wrote before the issue-12
//! restructuring (`tests/golden/`), timestamps, durations, paths and ports aside.
//!
//! The scenarios: every format of one run on the fixed-timing embedded engine, a sweep, a
//! `--workers 3` run, a recipe run through the local launcher, and a trtllm-bench import.
//! Each file is normalised (numbers with a fraction and integers under timing keys masked,
//! the temporary folder, dates and loopback ports replaced, per-request lines sorted) and
//! compared whole. `LLMB_GOLDEN=update` rewrites the golden files (from `LLMB_GOLDEN_BIN` when
//! set, to take them from another build); a changed format is a reviewed change of the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::launch_support::{clean, find_files, LLAMA33};
use crate::support::{tempdir, Sim};

fn bin() -> PathBuf {
    std::env::var_os("LLMB_GOLDEN_BIN")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_llmb")), PathBuf::from)
}

fn golden_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Keys whose integer values are times, durations or machine facts: a unit suffix, or one
/// of a few words as a whole `_`-separated part of the key.
fn timing_key(k: &str) -> bool {
    const SUFFIXES: &[&str] = &["_ns", "_at", "_ms", "_us", "_s"];
    const WORDS: &[&str] = &[
        "time", "date", "lag", "cpu", "started", "stamp", "offset", "duration", "port", "pid",
        "wall", "threads", "elapsed", "latency", "arrival", "ended", "start", "end", "rss", "id",
    ];
    let k = k.to_ascii_lowercase();
    SUFFIXES.iter().any(|x| k.ends_with(x)) || k.split('_').any(|part| WORDS.contains(&part))
}

/// Replaces every number written with a fraction or exponent by `#.#`.
fn mask_fractions(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let starts_number = b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
        if starts_number {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let mut fraction = false;
            // Thousands separators (`1,234.5`): the width of a timing, masked like one.
            while j + 3 < b.len()
                && b[j] == b','
                && b[j + 1..j + 4].iter().all(u8::is_ascii_digit)
                && !b.get(j + 4).is_some_and(u8::is_ascii_digit)
            {
                fraction = true;
                j += 4;
            }
            if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
                fraction = true;
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
                let mut k = j + 1;
                if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
                    k += 1;
                }
                if k < b.len() && b[k].is_ascii_digit() {
                    fraction = true;
                    j = k;
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                }
            }
            if fraction {
                out.push_str("#.#");
            } else {
                out.push_str(&s[i..j]);
            }
            i = j;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Dates (`2026-12-04 17:43:40`, `20261204-174340`, `2026-12-04T17:43:40Z`), loopback URLs
/// and the scenario's folder, replaced by placeholders.
fn mask_text(s: &str, root: &Path) -> String {
    let mut s = s
        .replace(&root.display().to_string(), "<dir>")
        .replace(env!("CARGO_MANIFEST_DIR"), "<crate>");
    for host in ["http://127.0.0.1:", "http://0.0.0.0:", "127.0.0.1:"] {
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(p) = rest.find(host) {
            out.push_str(&rest[..p]);
            out.push_str(host);
            out.push_str("<port>");
            rest = rest[p + host.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        }
        out.push_str(rest);
        s = out;
    }
    let b: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let digits = |from: usize, n: usize| {
        (from..from + n).all(|k| b.get(k).is_some_and(|c| c.is_ascii_digit()))
    };
    while i < b.len() {
        // 8 digits, '-' or '_', 6 digits: a run stamp.
        if digits(i, 8) && matches!(b.get(i + 8), Some('-' | '_')) && digits(i + 9, 6) {
            out.push_str("<stamp>");
            i += 15;
            continue;
        }
        // YYYY-MM-DD[ T]HH:MM:SS
        if digits(i, 4)
            && b.get(i + 4) == Some(&'-')
            && digits(i + 5, 2)
            && b.get(i + 7) == Some(&'-')
            && digits(i + 8, 2)
        {
            let mut j = i + 10;
            if matches!(b.get(j), Some(' ' | 'T')) && digits(j + 1, 2) && b.get(j + 3) == Some(&':')
            {
                j += 9;
                while b
                    .get(j)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.' || *c == 'Z')
                {
                    j += 1;
                }
            }
            out.push_str("<date>");
            i = j;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    // Column padding follows the width of masked numbers: collapse it; CSV quotes a
    // number with a thousands separator.
    mask_fractions(&out)
        .replace("\"#.#\"", "#.#")
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Counts that depend on timing: connections opened, chunks (how tokens group into reads).
fn timing_count(path: &str) -> bool {
    path.ends_with("/count")
        && ["connect", "client_lag", "chunk", "inverse_itl"]
            .iter()
            .any(|p| path.contains(p))
}

fn mask_json(v: &mut Value, path: &str, root: &Path) {
    let key = path.rsplit('/').next().unwrap_or("");
    match v {
        Value::Number(n) if n.is_f64() || timing_key(key) || timing_count(path) => {
            *v = Value::String("<n>".into());
        }
        Value::Number(_) => {}
        Value::String(s) => {
            let m = mask_text(s, root);
            *s = m;
        }
        Value::Array(a) if key == "chunks" => {
            // Per-chunk arrival stamps: how tokens group into reads depends on timing; the
            // tokens they carry do not.
            let tokens: u64 = a
                .iter()
                .filter_map(|c| c.get(1).and_then(Value::as_u64))
                .sum();
            *v = Value::String(format!("<chunks carrying {tokens} tokens>"));
        }
        Value::Array(a) => {
            if timing_key(key) && a.iter().all(|x| x.is_number() || x.is_array()) {
                *v = Value::String("<timing array>".into());
            } else {
                for x in a {
                    mask_json(x, path, root);
                }
            }
        }
        Value::Object(m) => {
            // Present on the requests that opened a connection: which ones is timing.
            m.shift_remove("connect_ns");
            for (k, x) in m.iter_mut() {
                mask_json(x, &format!("{path}/{k}"), root);
            }
        }
        _ => {}
    }
}

/// One file, normalised to text.
fn normalise(path: &Path, root: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if name.ends_with(".jsonl") {
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display()));
                mask_json(&mut v, "", root);
                serde_json::to_string(&v).unwrap()
            })
            .collect();
        lines.sort();
        lines.join("\n") + "\n"
    } else if name.ends_with(".json") {
        let mut v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        mask_json(&mut v, "", root);
        serde_json::to_string_pretty(&v).unwrap() + "\n"
    } else {
        mask_text(&text, root)
    }
}

/// Files compared: every file below `dir` except the ones named in `skip` (a path part).
fn collect(dir: &Path, root: &Path, skip: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let rel = mask_text(&p.strip_prefix(dir).unwrap().display().to_string(), root);
            if skip.iter().any(|s| rel.contains(s)) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, normalise(&p, root));
            }
        }
    }
    out
}

/// The golden files as written (already normalised).
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

/// Compares (or with `LLMB_GOLDEN=update` writes) one scenario's normalised files.
fn check(scenario: &str, files: BTreeMap<String, String>) {
    let dir = golden_root().join(scenario);
    if std::env::var("LLMB_GOLDEN").is_ok_and(|v| v == "update") {
        let _ = std::fs::remove_dir_all(&dir);
        for (rel, text) in &files {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
        return;
    }
    let want = read_tree(&dir);
    let names = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&files),
        names(&want),
        "{scenario}: the set of files differs"
    );
    let mut report = Vec::new();
    for (rel, text) in &files {
        let w = &want[rel];
        if text != w {
            let diff: Vec<String> = w
                .lines()
                .zip(text.lines())
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .take(4)
                .map(|(i, (a, b))| format!("  line {}\n  golden: {a}\n  now:    {b}", i + 1))
                .collect();
            report.push(format!(
                "{scenario}/{rel} differs from tests/golden ({} vs {} lines):\n{}",
                w.lines().count(),
                text.lines().count(),
                diff.join("\n")
            ));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

fn llmb_cmd() -> Command {
    let mut c = clean(Command::new(bin()));
    c.stdin(Stdio::null());
    c
}

fn bench(sim: &Sim, out: &Path, extra: &[&str]) -> String {
    let o = llmb_cmd()
        .args(["bench", "--url", &sim.url, "--seed", "7", "--output-dir"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success() || o.status.code() == Some(4),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The fixed-timing engine every bench scenario runs against.
fn fixed_sim() -> Sim {
    Sim::start(&["--ttft-ms", "20", "--itl-ms", "2", "--seed", "7"])
}

#[test]
fn golden_bench_every_format() {
    let root = tempdir("golden-all");
    let sim = fixed_sim();
    let out = root.join("run");
    let stdout = bench(
        &sim,
        &out,
        &[
            "--isl",
            "32",
            "--osl",
            "8",
            "--concurrency",
            "2",
            "--num-requests",
            "6",
            "--format",
            "all",
            "--slo",
            "ttft_ms=500,tpot_ms=50",
            "--gpus",
            "2",
            "--decode-gpus",
            "1",
            "--quiet",
        ],
    );
    let mut files = collect(&out, &root, &[]);
    files.insert("stdout.txt".into(), mask_text(&stdout, &root));
    check("bench_every_format", files);
}

#[test]
fn golden_bench_stdout_reports() {
    let root = tempdir("golden-stdout");
    let sim = fixed_sim();
    let out = root.join("run");
    let stdout = bench(
        &sim,
        &out,
        &[
            "--isl",
            "16",
            "--osl",
            "4",
            "--concurrency",
            "2",
            "--num-requests",
            "4",
            "--format",
            "all",
        ],
    );
    let mut files = BTreeMap::new();
    files.insert("stdout.txt".into(), mask_text(&stdout, &root));
    check("bench_stdout_reports", files);
}

#[test]
fn golden_sweep() {
    let root = tempdir("golden-sweep");
    let sim = fixed_sim();
    let out = root.join("sweep");
    bench(
        &sim,
        &out,
        &[
            "--concurrency",
            "1,2",
            "--num-requests",
            "4",
            "--use-case",
            "chat:16/4",
            "--use-case",
            "gen:8/6",
            "--quiet",
        ],
    );
    check("sweep", collect(&out, &root, &[]));
}

#[test]
fn golden_workers() {
    let root = tempdir("golden-workers");
    let sim = fixed_sim();
    let out = root.join("workers");
    bench(
        &sim,
        &out,
        &[
            "--isl",
            "16",
            "--osl",
            "4",
            "--concurrency",
            "3",
            "--num-requests",
            "9",
            "--workers",
            "3",
            "--warmup",
            "2",
            "--quiet",
        ],
    );
    // workers/ holds the processes' own plumbing (specs, shards), not results.
    check("workers", collect(&out, &root, &["workers/"]));
}

#[test]
fn golden_import() {
    let root = tempdir("golden-import");
    let out = root.join("imported");
    let log = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../llmb-report/tests/fixtures/trtllm_bench_streaming.out");
    let o = llmb_cmd()
        .args(["import", "trtllm-bench"])
        .arg(&log)
        .arg("--output-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut files = collect(&out, &root, &[]);
    files.insert(
        "stdout.txt".into(),
        mask_text(&String::from_utf8_lossy(&o.stdout), &root),
    );
    check("import", files);
}

#[test]
fn golden_recipe_local_launcher() {
    let root = tempdir("golden-recipe");
    std::fs::create_dir_all(&root).unwrap();
    let inst = root.join("inst");
    let o = llmb_cmd()
        .args(["init", "--install-dir"])
        .arg(&inst)
        .args(["--gpu-type", "gb200"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let inst = inst.canonicalize().unwrap();
    let root = inst.parent().unwrap().to_path_buf();
    let o = llmb_cmd()
        .arg("submit")
        .args(LLAMA33)
        .args(["--engine", "sim", "--launcher", "local"])
        .env("LLMB_INSTALL", &inst)
        .env("USE_CASES", "chat:64/16")
        .env("NUM_REQUESTS", "8")
        .env("SIM_ARGS", "--ttft-ms 20 --itl-ms 2 --seed 7")
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let exp = inst.join("workloads/inference_llama3.3/experiments");
    assert_eq!(find_files(&exp, "records.jsonl").len(), 1);
    // Logs, the plan itself and the launcher's script are the machinery, not results.
    let files = collect(
        &exp,
        &root,
        &[".log", ".out", "plan.json", "launch.", ".sbatch"],
    );
    check("recipe_local", files);
}
