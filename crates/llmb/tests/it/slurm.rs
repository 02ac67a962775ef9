//! Against the real local Slurm cluster (scripts/slurm): run only with `LLMB_TEST_SLURM=1`
//! (scripts/test.sh sets it after starting the cluster). Jobs run the simulated engine.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::launch_support::{
    dirs_containing, field, find_files, job_id, only_run_dir, run_status, text, Install, LLAMA33,
};
use crate::support::{read_json, records};

fn require_slurm(test: &str) {
    let on = std::env::var("LLMB_TEST_SLURM").is_ok_and(|v| v == "1");
    // Compiled as ignored without the cluster (build.rs); run with --include-ignored, it
    // must not pass unrun.
    assert!(
        on,
        "{test} needs LLMB_TEST_SLURM=1 with the local Slurm cluster up (scripts/slurm/setup.sh)"
    );
}

const END: Duration = Duration::from_secs(180);

fn terminal(s: &str) -> bool {
    [
        "COMPLETED",
        "FAILED",
        "TIMEOUT",
        "CANCELLED",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "PURGED",
    ]
    .contains(&s)
}

/// A job that keeps its engine busy for a long time: one request of 100k tokens at 10 ms each.
const LONG: &[(&str, &str)] = &[
    ("USE_CASES", "chat:16/100000"),
    ("NUM_REQUESTS", "1"),
    ("CONCURRENCY", "1"),
    ("SIM_ARGS", "--ttft-ms 10 --itl-ms 10"),
];

/// `COMMAND` of the llama3.3 recipe's smallest point on the simulated engine.
fn llama33_sim(command: &'static str) -> Vec<&'static str> {
    [&[command][..], LLAMA33, &["--engine", "sim"]].concat()
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn acceptance_llmb_run_single_completes_as_a_slurm_job() {
    require_slurm("acceptance");
    let i = Install::new("slurm-accept", "gb200");
    let args = llama33_sim("single");
    let out = i.llmb_run(
        &args,
        &[("USE_CASES", "chat:128/128"), ("NUM_REQUESTS", "40")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = job_id(&out);
    let state = i.wait_state(&id, END, terminal);
    let show = i.run(&["jobs", "show", &id], &[]);
    assert_eq!(state, "COMPLETED", "{}", text(&show));
    // sacct's record of the allocation is kept: which node ran it.
    let nodes = field(&String::from_utf8_lossy(&show.stdout), "nodes:");
    assert!(
        nodes.starts_with("node"),
        "nodes: {nodes:?}\n{}",
        text(&show)
    );
    let exp = i.experiments("inference_llama3.3");
    let chat = dirs_containing(&exp, "chat");
    assert_eq!(chat.len(), 1, "{chat:?}");
    let records = find_files(&chat[0], "records.jsonl");
    assert_eq!(records.len(), 1);
    assert_eq!(
        std::fs::read_to_string(&records[0])
            .unwrap()
            .lines()
            .count(),
        40
    );
    assert_eq!(find_files(&chat[0], "summary.json").len(), 1);
    assert_eq!(find_files(&exp, &format!("slurm-{id}.out")).len(), 1);
    assert!(i
        .dir
        .join(format!(
            "workloads/inference_llama3.3/llmb-config_{id}.yaml"
        ))
        .is_file());
    let list = i.run(&["jobs", "list"], &[]);
    let s = String::from_utf8_lossy(&list.stdout);
    assert!(
        s.lines()
            .any(|l| l.starts_with(&format!("{id} ")) && l.contains("COMPLETED")),
        "{s}"
    );
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn llama4_scale_8_places_ranks_on_two_nodes() {
    require_slurm("llama4");
    let i = Install::new("slurm-llama4", "gb200");
    let out = i.run(
        &[
            "submit",
            "-w",
            "inference_llama4",
            "-s",
            "17b",
            "--dtype",
            "fp8",
            "--scale",
            "8",
            "--engine",
            "sim",
        ],
        &[("USE_CASES", "chat:128/128"), ("NUM_REQUESTS", "20")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = job_id(&out);
    let state = i.wait_state(&id, END, terminal);
    let show = i.run(&["jobs", "show", &id], &[]);
    assert_eq!(state, "COMPLETED", "{}", text(&show));
    let ranks = find_files(
        &i.experiments("inference_llama4"),
        "chat-server0-rank7.json",
    );
    assert_eq!(ranks.len(), 1);
    let dir = ranks[0].parent().unwrap();
    let mut nodes = BTreeSet::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        nodes.insert(v["node"].as_str().unwrap().to_owned());
    }
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 8, "8 ranks");
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    // The same plan inside an allocation of one node is refused before anything starts.
    let plan = find_files(&i.experiments("inference_llama4"), "plan.json");
    assert_eq!(plan.len(), 1);
    let one = nodes.iter().next().unwrap();
    let out = i.run(
        &["run-plan", plan[0].to_str().unwrap()],
        &[("SLURM_JOB_ID", "4242"), ("SLURM_JOB_NODELIST", one)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("places servers on 2 node(s) but the allocation has 1"),
        "{err}"
    );
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn failing_engine_ends_failed_with_its_log_tail() {
    require_slurm("failing engine");
    let i = Install::new("slurm-fail", "gb200");
    let args = llama33_sim("submit");
    let out = i.run(
        &args,
        &[
            ("USE_CASES", "chat:128/128"),
            ("SIM_ARGS", "--fault-rate 2"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = job_id(&out);
    assert_eq!(i.wait_state(&id, END, terminal), "FAILED");
    let show = i.run(&["jobs", "show", &id], &[]);
    let s = String::from_utf8_lossy(&show.stdout);
    assert!(s.contains("--fault-rate 2 is outside 0..1"), "{s}");
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn cancel_ends_cancelled() {
    require_slurm("cancel");
    let i = Install::new("slurm-cancel", "gb200");
    let args = llama33_sim("submit");
    let out = i.run(&args, LONG);
    assert!(out.status.success(), "{}", text(&out));
    let id = job_id(&out);
    let s = i.wait_state(&id, END, |s| s == "RUNNING" || terminal(s));
    assert_eq!(s, "RUNNING");
    let out = i.run(&["jobs", "cancel", &id], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(i.wait_state(&id, END, terminal), "CANCELLED");
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn time_limit_ends_timeout() {
    require_slurm("timeout");
    let i = Install::new("slurm-timeout", "gb200");
    let args = llama33_sim("submit");
    let out = i.run(&args, LONG);
    assert!(out.status.success(), "{}", text(&out));
    let id = job_id(&out);
    let s = i.wait_state(&id, END, |s| s == "RUNNING" || terminal(s));
    assert_eq!(s, "RUNNING");
    // Shorten the limit only once the engine serves: a limit that hits while the job is
    // still starting its step makes `srun` fail first, and the job ends FAILED instead.
    let end = std::time::Instant::now() + END;
    loop {
        let serving = find_files(&i.experiments("inference_llama3.3"), "chat-server0.log")
            .iter()
            .any(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("listening on")));
        if serving {
            break;
        }
        assert!(std::time::Instant::now() < end, "the engine never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let upd = std::process::Command::new("scontrol")
        .args(["update", &format!("JobId={id}"), "TimeLimit=0"])
        .output()
        .unwrap();
    assert!(upd.status.success(), "{}", text(&upd));
    assert_eq!(i.wait_state(&id, END, terminal), "TIMEOUT");
    // run-plan saw Slurm's SIGTERM and stopped the engine on purpose.
    let v = run_status(&i.experiments("inference_llama3.3"));
    assert_eq!(v["state"], "interrupted", "{v}");
    assert_eq!(v["signal"], "SIGTERM", "{v}");
    assert_eq!(v["servers_stopped_on_purpose"], true, "{v}");
}

/// Polls `sacct` for a job submitted outside llmb until it is terminal.
fn sacct_state(id: &str) -> String {
    let end = std::time::Instant::now() + END;
    loop {
        let out = std::process::Command::new("sacct")
            .args(["-n", "-X", "-P", "-o", "State", "-j", id])
            .output()
            .expect("sacct");
        let s = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_owned();
        if terminal(&s) || std::time::Instant::now() > end {
            return s;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn bench_workers_spread_over_four_nodes_and_merge() {
    require_slurm("workers");
    let dir = std::env::temp_dir().join(format!("llmb-it-{}-slurm-workers", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = env!("CARGO_BIN_EXE_llmb");
    let out = dir.join("run");
    // One job of four nodes; the engine runs on the batch node, one client per node.
    let script = format!(
        "#!/bin/bash\n{exe} serve sim --host 127.0.0.1 --port 0 --ttft-ms 5 --itl-ms 2 > {d}/engine.txt &\n\
         for i in $(seq 100); do grep -q http:// {d}/engine.txt 2>/dev/null && break; sleep 0.1; done\n\
         url=$(grep -o 'http://[^ ]*' {d}/engine.txt | head -1)\n\
         {exe} bench --url \"$url\" --isl 32 --osl 8 --concurrency 8 --num-requests 40 --workers 4 --quiet --output-dir {o}\n         rc=$?; [ $rc -eq 0 ] || [ $rc -eq 4 ]  # 4: client-bound on a busy box; files are written\n",
        d = dir.display(),
        o = out.display()
    );
    let script_path = dir.join("job.sh");
    std::fs::write(&script_path, script).unwrap();
    let sub = std::process::Command::new("sbatch")
        .args(["--parsable", "-N", "4", "--ntasks-per-node=1", "-t", "5"])
        .arg(format!("--output={}/slurm-%j.out", dir.display()))
        .arg(&script_path)
        .output()
        .expect("sbatch");
    assert!(sub.status.success(), "{}", text(&sub));
    let id = String::from_utf8_lossy(&sub.stdout).trim().to_owned();
    let state = sacct_state(&id);
    let log = std::fs::read_to_string(dir.join(format!("slurm-{id}.out"))).unwrap_or_default();
    assert_eq!(state, "COMPLETED", "{log}");
    // One worker per node, every request exactly once, as a single process would send them.
    let reports: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("workers/reports.json")).unwrap()).unwrap();
    let nodes: BTreeSet<String> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["node"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(nodes.len(), 4, "{nodes:?}");
    let records = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let mut ids: Vec<u64> = records
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..40).collect::<Vec<_>>());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["requests"]["completed"], 40);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg_attr(
    not(all(llmb_slurm, llmb_llama)),
    ignore = "needs the local Slurm cluster and llama.cpp: run scripts/test.sh"
)]
#[test]
fn llama_cpp_recipe_runs_as_a_slurm_job() {
    require_slurm("llama.cpp recipe on Slurm");
    let (server, model, tok) = crate::plan_engines::llama("llama_cpp_recipe_slurm");
    let i = Install::new("slurm-llama", "gb200");
    let path = crate::plan_engines::path_with(&server);
    let args = [&["submit"][..], crate::plan_engines::SMOLLM].concat();
    let out = i.run(
        &args,
        &[
            ("PATH", &path),
            ("MODEL_PATH", model.to_str().unwrap()),
            ("TOKENIZER", tok.to_str().unwrap()),
            ("CONCURRENCY", "2"),
            ("NUM_REQUESTS", "4"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = job_id(&out);
    let state = i.wait_state(&id, END, terminal);
    let show = i.run(&["jobs", "show", &id], &[]);
    assert_eq!(state, "COMPLETED", "{}", text(&show));
    let exp = i.experiments("inference_smollm2-llamacpp");
    crate::plan_engines::assert_exact(&only_run_dir(&exp, "_CON2_chat"), 4);
    assert_eq!(
        crate::plan_engines::processes_under(&i.dir),
        Vec::<String>::new()
    );
}

/// The Dynamo recipe on simulated workers in every role, on 8 emulated nodes of 4 GPUs:
/// 6 prefill servers (one node each), one decode server over nodes 6-7, the frontend on node 0
/// routing each request to a prefill worker then to the decode worker, over HTTP.
#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn dynamo_plan_runs_disaggregated_on_simulated_workers() {
    require_slurm("dynamo disaggregated");
    let i = Install::new("slurm-dynamo", "gb200");
    let out = i.run(
        &[
            "submit",
            "-w",
            "inference_deepseek-r1-dynamo",
            "-s",
            "671b",
            "--dtype",
            "nvfp4",
            "--scale",
            "32",
            "--engine",
            "sim",
        ],
        &[
            ("ISL", "64"),
            ("OSL", "8"),
            ("CONCURRENCY", "3"),
            ("SIM_ARGS", "--ttft-ms 5 --itl-ms 2"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = job_id(&out);
    let state = i.wait_state(&id, END, terminal);
    let show = i.run(&["jobs", "show", &id], &[]);
    assert_eq!(state, "COMPLETED", "{}", text(&show));
    let exp = i.experiments("inference_deepseek-r1-dynamo");
    // Placement: every rank recorded where it ran.
    let rank = |server: &str, r: u32| -> String {
        let f = find_files(&exp, &format!("max_throughput-{server}-rank{r}.json"));
        assert_eq!(f.len(), 1, "{server} rank {r}");
        read_json(&f[0])["node"].as_str().unwrap().to_owned()
    };
    let prefill_nodes: BTreeSet<String> = (0..6).map(|p| rank(&format!("prefill{p}"), 0)).collect();
    assert_eq!(
        prefill_nodes.len(),
        6,
        "one node per prefill server: {prefill_nodes:?}"
    );
    let decode_nodes: BTreeSet<String> = (0..8).map(|r| rank("decode0", r)).collect();
    assert_eq!(decode_nodes.len(), 2, "{decode_nodes:?}");
    assert!(prefill_nodes.is_disjoint(&decode_nodes));
    assert_eq!(
        rank("frontend", 0),
        rank("prefill0", 0),
        "frontend on node 0"
    );
    // Concurrency 3 per decode server × 1 decode server; 10 × 3 measured requests.
    let dir = only_run_dir(&exp, "_CON3_max_throughput");
    let recs = records(&dir);
    let measured: Vec<_> = recs.iter().filter(|r| r["warmup"] != true).collect();
    assert_eq!(measured.len(), 30);
    for r in &measured {
        assert_eq!(r["outcome"]["kind"], "completed", "{r}");
        assert_eq!(r["usage"]["completion_tokens"], 8, "{r}");
        assert_eq!(r["usage"]["prompt_tokens"], 64, "{r}");
    }
    // Per-GPU over all 32 GPUs and over the 8 decode GPUs, labelled.
    let summary = read_json(dir.join("summary.json"));
    let t = &summary["throughput"];
    assert_eq!(t["gpus"], 32);
    assert_eq!(t["decode_gpus"], 8);
    let all = t["output_tokens_per_s_per_gpu_span"].as_f64().unwrap();
    let dec = t["output_tokens_per_s_per_decode_gpu_span"]
        .as_f64()
        .unwrap();
    assert!((dec / all - 4.0).abs() < 1e-9, "{t}");
    let perf = std::fs::read_to_string(dir.join("perf_summary.txt")).unwrap();
    assert!(
        perf.contains("Output Token Throughput per decode GPU (tps/gpu)"),
        "{perf}"
    );
    // The workers were scraped during the step: the decode worker generated the tokens.
    let servers = read_json(dir.join("servers.json"));
    assert!(
        servers["max_throughput-decode0"]["samples"]
            .as_u64()
            .unwrap()
            >= 1,
        "{servers}"
    );
    assert!(servers["max_throughput-prefill0"].is_object(), "{servers}");
    let status = run_status(&exp);
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(status["servers"].as_array().unwrap().len(), 8, "{status}");
    assert_eq!(status["servers_stopped_on_purpose"], true);
}
