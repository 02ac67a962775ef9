//! Against a real Slurm cluster: submit tiny jobs with `Slurm::submit` and poll `Slurm::state`
//! until they end. Runs only with `LLMB_TEST_SLURM=1` (e.g. after
//! scripts/slurm/setup.sh); otherwise they are compiled as ignored (build.rs).
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use llmb_launch::{JobId, JobState, Slurm, SubmitRequest};

/// How long a tiny job may take from submission to a terminal state.
const DEADLINE: Duration = Duration::from_secs(90);
/// How often to poll: slurm-local.md recommends 0.1–0.5 s.
const POLL: Duration = Duration::from_millis(200);

fn require_slurm(test: &str) {
    let on = std::env::var("LLMB_TEST_SLURM").is_ok_and(|v| v == "1");
    // Compiled as ignored without the cluster (build.rs); run with --include-ignored, it
    // must not pass unrun.
    assert!(
        on,
        "{test} needs LLMB_TEST_SLURM=1 and a real Slurm cluster (scripts/slurm/setup.sh)"
    );
}

/// A fresh folder for one test's script and job output; a passing test removes it, a
/// failing one leaves it for inspection.
fn work_dir(test: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "llmb-launch-slurm-{test}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn submit(test: &str, dir: &Path, body: &str) -> (Slurm, JobId) {
    let script = dir.join("job.sh");
    std::fs::write(&script, format!("#!/bin/bash\n{body}\n")).unwrap();
    let req = SubmitRequest {
        script,
        sbatch_args: vec![
            format!("--job-name=llmb-test-{test}-{}", std::process::id()),
            format!("--output={}/slurm-%j.out", dir.display()),
            "--ntasks=1".into(),
            "--time=5".into(),
        ],
        env: [("LLMB_TEST_GREETING".to_string(), "hi".to_string())].into(),
        cwd: dir.to_path_buf(),
    };
    let slurm = Slurm::new();
    let job = slurm.submit(&req).expect("sbatch --parsable");
    eprintln!("{test}: submitted job {job}");
    (slurm, job)
}

/// Poll until `done(state)` or the deadline; returns the last state seen.
fn wait_for(slurm: &Slurm, job: &JobId, done: impl Fn(JobState) -> bool) -> JobState {
    let start = Instant::now();
    loop {
        let state = slurm.state(job).expect("sacct/squeue");
        if done(state) || start.elapsed() > DEADLINE {
            return state;
        }
        std::thread::sleep(POLL);
    }
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn echo_hi_completes() {
    require_slurm("echo_hi_completes");
    let dir = work_dir("ok");
    let (slurm, job) = submit("ok", &dir, "echo $LLMB_TEST_GREETING");
    let state = wait_for(&slurm, &job, JobState::is_terminal);
    assert_eq!(state, JobState::Completed);
    let details = slurm.status(&job).unwrap().1.expect("sacct record");
    eprintln!("echo_hi_completes: {details:?}");
    assert_eq!(details.exit_code.map(|e| e.code), Some(0));
    // The environment given to submit reached the job (sbatch's --export=ALL).
    let out = std::fs::read_to_string(dir.join(format!("slurm-{job}.out"))).unwrap();
    assert_eq!(out.trim(), "hi");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn exit_3_fails() {
    require_slurm("exit_3_fails");
    let dir = work_dir("fail");
    let (slurm, job) = submit("fail", &dir, "exit 3");
    let state = wait_for(&slurm, &job, JobState::is_terminal);
    assert_eq!(state, JobState::Failed);
    let details = slurm.status(&job).unwrap().1.expect("sacct record");
    eprintln!("exit_3_fails: {details:?}");
    assert_eq!(details.exit_code.map(|e| e.code), Some(3));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn scancel_cancels() {
    require_slurm("scancel_cancels");
    let dir = work_dir("cancel");
    let (slurm, job) = submit("cancel", &dir, "sleep 300");
    let state = wait_for(&slurm, &job, |s| s == JobState::Running || s.is_terminal());
    assert_eq!(state, JobState::Running);
    slurm.cancel(&job).unwrap();
    let state = wait_for(&slurm, &job, JobState::is_terminal);
    assert_eq!(state, JobState::Cancelled);
    let details = slurm.status(&job).unwrap().1.expect("sacct record");
    eprintln!("scancel_cancels: {details:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg_attr(
    not(llmb_slurm),
    ignore = "needs the local Slurm cluster: run scripts/test.sh (LLMB_TEST_SLURM=1)"
)]
#[test]
fn rejected_submission_carries_slurms_message() {
    require_slurm("rejected_submission_carries_slurms_message");
    let dir = work_dir("reject");
    let script = dir.join("job.sh");
    std::fs::write(&script, "#!/bin/bash\ntrue\n").unwrap();
    let req = SubmitRequest {
        script,
        sbatch_args: vec!["--partition=llmb-no-such-partition".into()],
        env: Default::default(),
        cwd: dir.clone(),
    };
    let err = Slurm::new().submit(&req).unwrap_err().to_string();
    eprintln!("rejected_submission_carries_slurms_message: {err}");
    assert!(
        err.contains(
            "sbatch: error: Batch job submission failed: Invalid partition name specified"
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
