//! `llmb init`, `list`, `submit --dry-run` for every built-in recipe, `llmb-run` command
//! lines, and the local launcher end to end (no Slurm needed).

use crate::launch_support::{dirs_containing, find_files, job_id, text, Install, LLAMA33};

/// `llmb submit` of the seeds' first recipe on the simulator, through `launcher`.
fn submit_llama33(launcher: &str) -> Vec<&str> {
    [
        &["submit"][..],
        LLAMA33,
        &["--engine", "sim", "--launcher", launcher],
    ]
    .concat()
}

#[test]
fn list_shows_workloads_for_the_gpu_type() {
    let i = Install::new("list", "gb200");
    let out = i.run(&["list"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    for line in [
        "  inference_llama3.3",
        "    70b  nvfp4  scales: 1 (exact)",
        "  inference_llama4",
        "    17b  fp8  scales: 8 (exact)",
        "  inference_deepseek-r1-dynamo",
        "    671b  nvfp4  scales: 32 (exact)",
    ] {
        assert!(s.lines().any(|l| l == line), "{line:?} missing in\n{s}");
    }
    assert!(!s.contains("nim-llama3"), "h100 only: {s}");
    let out = i.run(&["list", "-w", "inference_nim-llama3"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Supported GPU types: h100"));
}

/// `submit --dry-run` prints the script and the command and creates nothing.
fn dry_run(i: &Install, args: &[&str]) -> String {
    let mut all = vec!["submit"];
    all.extend_from_slice(args);
    all.push("--dry-run");
    let out = i.run(&all, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(s.contains("# dry run: nothing submitted"), "{s}");
    assert!(s.contains(" sbatch --parsable "), "{s}");
    assert!(s.contains("run-plan "), "{s}");
    // `llmb init` passes HF_TOKEN through; the tests' shell has none, and is told so.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "cluster_config.yaml passes HF_TOKEN through to jobs, but this shell does not set it"
        ),
        "{}",
        text(&out)
    );
    assert!(
        std::fs::read_dir(i.dir.join("workloads"))
            .unwrap()
            .next()
            .is_none(),
        "dry run wrote files"
    );
    s
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn dry_runs_of_the_five_builtin_recipes() {
    let gb = Install::new("dry-gb200", "gb200");
    let s = dry_run(
        &gb,
        &[
            "-w",
            "inference_llama3.3",
            "-s",
            "70b",
            "--dtype",
            "nvfp4",
            "--scale",
            "1",
        ],
    );
    for l in [
        "#SBATCH --job-name=inference_llama3.3_70b_nvfp4",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --time=00:30:00",
        "#SBATCH --exclusive",
    ] {
        assert!(lines(&s).contains(&l), "{l} in\n{s}");
    }
    let s = dry_run(
        &gb,
        &[
            "-w",
            "inference_llama4",
            "-s",
            "17b",
            "--dtype",
            "fp8",
            "--scale",
            "8",
        ],
    );
    for l in [
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --gpus-per-node=4",
    ] {
        assert!(lines(&s).contains(&l), "{l} in\n{s}");
    }
    let s = dry_run(
        &gb,
        &[
            "-w",
            "inference_deepseek-r1-dynamo",
            "-s",
            "671b",
            "--dtype",
            "nvfp4",
            "--scale",
            "32",
        ],
    );
    for l in ["#SBATCH --nodes=8", "#SBATCH --ntasks-per-node=4"] {
        assert!(lines(&s).contains(&l), "{l} in\n{s}");
    }
    let s = dry_run(
        &gb,
        &[
            "-w",
            "inference_trtllm-serve",
            "-s",
            "70b",
            "--dtype",
            "fp8",
            "--scale",
            "1",
        ],
    );
    assert!(lines(&s).contains(&"#SBATCH --nodes=1"), "{s}");
    let h = Install::new("dry-h100", "h100");
    let s = dry_run(
        &h,
        &[
            "-w",
            "inference_nim-llama3",
            "-s",
            "70b",
            "--dtype",
            "fp8",
            "--scale",
            "4",
        ],
    );
    for l in ["#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=4"] {
        assert!(lines(&s).contains(&l), "{l} in\n{s}");
    }
}

#[test]
fn bad_requests_are_refused_with_what_exists() {
    let i = Install::new("refuse", "gb200");
    let out = i.run(
        &[
            "submit",
            "-w",
            "inference_llama3.3",
            "-s",
            "70b",
            "--dtype",
            "nvfp4",
            "--scale",
            "3",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Supported scales: 1"),
        "{}",
        text(&out)
    );
    let out = i.run(
        &[
            "submit",
            "-w",
            "inference_llama5",
            "-s",
            "70b",
            "--dtype",
            "nvfp4",
            "--scale",
            "1",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Available workloads: "));
    // A real engine cannot run locally yet.
    let out = i.run(
        &[
            "submit",
            "-w",
            "inference_llama3.3",
            "-s",
            "70b",
            "--dtype",
            "nvfp4",
            "--scale",
            "1",
            "--launcher",
            "local",
        ],
        &[],
    );
    // A container engine needs Slurm with pyxis: refused before anything starts.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nvcr.io#nvidia/tensorrt-llm/release")
            && err.contains("pyxis")
            && err.contains("--engine sim"),
        "{}",
        text(&out)
    );
    // A missing engine binary names itself and how to install it.
    let out = i.run(
        &[
            "submit",
            "-w",
            "inference_smollm2-llamacpp",
            "-s",
            "135m",
            "--dtype",
            "q4",
            "--scale",
            "1",
            "--launcher",
            "local",
        ],
        &[
            ("PATH", "/usr/bin:/bin"),
            ("MODEL_PATH", "/nonexistent/model.gguf"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs `llama-server`, which is not on PATH")
            && err.contains("scripts/engines/llama-cpp.sh install"),
        "{}",
        text(&out)
    );
}

#[test]
fn llmb_run_single_dry_runs_as_documented() {
    let i = Install::new("llmb-run", "gb200");
    let out = i.llmb_run(
        &[
            "single",
            "-w",
            "inference_llama3.3",
            "-s",
            "70b",
            "--dtype",
            "nvfp4",
            "--scale",
            "1",
            "-d",
        ],
        &[
            ("MAX_NUM_TOKENS", "2048"),
            ("MAX_BATCH_SIZE", "640"),
            ("USE_CASES", "reasoning:1000/1000"),
            ("HF_TOKEN", "hf_secretvalue123"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("#SBATCH --nodes=1"), "{s}");
    assert!(s.contains("USE_CASES=reasoning:1000/1000"), "{s}");
    assert!(!s.contains("hf_secretvalue123"), "secret printed: {s}");
    let out = i.llmb_run(&["list"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("inference_llama3.3"));
}

#[test]
fn local_launcher_runs_llama33_chat_on_the_simulator() {
    let i = Install::new("local", "gb200");
    let out = i.run(
        &submit_llama33("local"),
        &[("USE_CASES", "chat:128/128"), ("NUM_REQUESTS", "40")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = job_id(&out);
    let exp = i.experiments("inference_llama3.3");
    let chat = dirs_containing(&exp, "chat");
    assert_eq!(chat.len(), 1, "{chat:?}");
    assert!(chat[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("Llama3.3-70B_TP1_EP1_PP1_CON-1_chat"));
    let records = find_files(&chat[0], "records.jsonl");
    assert_eq!(records.len(), 1);
    let n = std::fs::read_to_string(&records[0])
        .unwrap()
        .lines()
        .count();
    assert_eq!(n, 40, "one record per request");
    assert_eq!(find_files(&chat[0], "summary.json").len(), 1);
    // A local run's engine listens on loopback only.
    let logs: String = find_files(&exp, "chat-server0.log")
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    assert!(logs.contains("listening on http://127.0.0.1:"), "{logs}");
    assert!(!logs.contains("0.0.0.0"), "{logs}");
    let status = crate::launch_support::run_status(&exp);
    assert_eq!(status["servers_stopped_on_purpose"], true);
    assert_eq!(i.state(&id), "COMPLETED");
    let list = i.run(&["jobs", "list"], &[]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("COMPLETED"));
    // A repeat does not overwrite: a second run gets its own folders.
    let out = i.run(
        &submit_llama33("local"),
        &[("USE_CASES", "chat:128/128"), ("NUM_REQUESTS", "10")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(find_files(&chat[0], "records.jsonl").len(), 2);
}

#[test]
fn local_launcher_reports_a_failing_engine() {
    let i = Install::new("local-fail", "gb200");
    let out = i.run(
        &submit_llama33("local"),
        &[
            ("USE_CASES", "chat:128/128"),
            ("SIM_ARGS", "--fault-rate 2"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = job_id(&out);
    assert_eq!(i.state(&id), "FAILED");
    let show = i.run(&["jobs", "show", &id], &[]);
    let s = String::from_utf8_lossy(&show.stdout);
    assert!(s.contains("exited early"), "{s}");
    assert!(
        s.contains("--fault-rate 2 is outside 0..1"),
        "engine log tail: {s}"
    );
}

#[test]
fn init_outside_a_terminal_names_the_missing_flags() {
    let o = crate::support::run(&["init", "--gpu-type", "gb200"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--install-dir"), "{err}");
    assert!(!err.contains("--gpu-type"), "{err}");
}

#[test]
fn local_launcher_runs_the_nim_recipe_on_the_simulator() {
    // The recipe names its tokenizer by hub id, which nothing here can fetch: the
    // simulator's run uses the built-in one instead of failing.
    let i = Install::new("local-nim", "h100");
    let out = i.run(
        &[
            "submit",
            "-w",
            "inference_nim-llama3",
            "-s",
            "70b",
            "--dtype",
            "fp8",
            "--scale",
            "4",
            "--engine",
            "sim",
            "--launcher",
            "local",
        ],
        &[("USE_CASES", "chat:128/16"), ("NUM_REQUESTS", "8")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = job_id(&out);
    assert_eq!(i.state(&id), "COMPLETED");
    let exp = i.experiments("inference_nim-llama3");
    assert!(!find_files(&exp, "summary.json").is_empty());
}

#[test]
fn a_slurm_submit_without_sbatch_leaves_nothing_behind() {
    let i = Install::new("no-sbatch", "gb200");
    let empty = i.dir.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = i.run(
        &submit_llama33("slurm"),
        &[
            ("PATH", empty.to_str().unwrap()),
            ("USE_CASES", "chat:128/128"),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sbatch"), "{}", text(&out));
    let exp = i.experiments("inference_llama3.3");
    assert!(find_files(&exp, "plan.json").is_empty(), "{exp:?}");
    assert!(find_files(&exp, "launch.sbatch").is_empty());
}

/// Live processes whose environment holds `mark` (every process llmb starts inherits it).
fn processes_marked(mark: &str) -> Vec<String> {
    crate::support::live_processes(crate::support::ProcFile::Environ, mark)
}

#[test]
fn sigterm_to_a_local_submit_ends_the_job_and_everything_it_started() {
    let i = Install::new("local-term", "gb200");
    let mark = format!("LLMB_TEST_MARK=term-{}", std::process::id());
    let (k, v) = mark.split_once('=').unwrap();
    let mut child = i
        .cmd(
            &submit_llama33("local"),
            &[
                (k, v),
                ("USE_CASES", "chat:128/128"),
                // The recipe's concurrency is unbounded: every request is in flight at
                // once, so a modest count keeps the run going without a flood to cancel.
                ("NUM_REQUESTS", "4000"),
            ],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let exp = i.experiments("inference_llama3.3");
    crate::support::wait_for("records", std::time::Duration::from_secs(60), || {
        find_files(&exp, "records.jsonl")
            .iter()
            .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.lines().count() >= 10))
    });
    assert!(
        processes_marked(&mark).len() >= 3,
        "submit, run-plan, engine, bench"
    );
    // SAFETY: kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let status = child.wait().unwrap();
    assert!(!status.success());
    crate::support::wait_for(
        "no process left",
        std::time::Duration::from_secs(20),
        || processes_marked(&mark).is_empty(),
    );
    let list = i.run(&["jobs", "list"], &[]);
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(list.contains("CANCELLED"), "{list}");
    assert!(!list.contains("RUNNING"), "{list}");
    // The bench inside wrote its files, marked incomplete.
    let summary = find_files(&exp, "summary.json");
    assert_eq!(summary.len(), 1);
    let s = crate::support::read_json(&summary[0]);
    assert_eq!(s["complete"], false);
}

#[test]
fn a_killed_local_submit_is_marked_failed_by_refresh() {
    let i = Install::new("local-kill", "gb200");
    let mut child = i
        .cmd(
            &submit_llama33("local"),
            &[("USE_CASES", "chat:128/128"), ("NUM_REQUESTS", "4000")],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let exp = i.experiments("inference_llama3.3");
    crate::support::wait_for("records", std::time::Duration::from_secs(60), || {
        !find_files(&exp, "records.jsonl").is_empty()
    });
    // SAFETY: kill(2) on our own child.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) },
        0
    );
    let _ = child.wait();
    let out = i.run(&["jobs", "refresh"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let list = i.run(&["jobs", "list"], &[]);
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        list.contains("FAILED") && !list.contains("RUNNING"),
        "{list}"
    );
}
