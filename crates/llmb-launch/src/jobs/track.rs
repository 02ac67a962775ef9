//! Keeping the jobs store current: each unfinished Slurm job asked about (`sacct`, and
//! `squeue` while it runs), a failed job's note (the executor's recorded error, else its
//! log's tail), and cancelling.

use std::path::Path;
use std::time::{Duration, Instant};

use llmb_settings::invalid;

use crate::exec::tail;
use crate::jobs::store::{JobRecord, JobStore, LauncherKind, StateUpdate};
use crate::plan::status_path;
use crate::slurm::commands::{JobId, Slurm};
use crate::slurm::state::JobState;

/// Lines of a log kept in a failed job's note.
pub const TAIL_LINES: usize = 20;

/// The job `id`.
///
/// # Errors
/// No such job ([`Invalid`](llmb_settings::Invalid), naming the store), or the store fails.
pub fn get(store: &JobStore, id: &str) -> anyhow::Result<JobRecord> {
    store.get(id)?.ok_or_else(|| {
        invalid(format!(
            "no job `{id}` in {}; see `llmb jobs list`",
            store.path().display()
        ))
    })
}

/// Updates every unfinished Slurm job, and marks FAILED a local job whose `llmb submit`
/// is gone without recording its end (killed with SIGKILL, or the machine rebooted);
/// returns how many Slurm jobs were asked about.
///
/// # Errors
/// Slurm or the store fails.
pub fn refresh(store: &JobStore) -> anyhow::Result<usize> {
    let jobs = store.non_terminal()?;
    for j in jobs.iter().filter(|j| j.launcher == LauncherKind::Local) {
        if let Some(pid) = local_pid(&j.id).filter(|p| !submit_alive(*p)) {
            let mut update = StateUpdate::to(JobState::Failed);
            update.ended_at = Some(crate::time::UtcTime::now());
            update.note = Some(format!(
                "its `llmb submit` (pid {pid}) ended without recording how the run ended (killed?); run-plan and its engines died with it"
            ));
            store.update_state(&j.id, &update)?;
        }
    }
    let mut n = 0;
    for j in jobs.iter().filter(|j| j.launcher == LauncherKind::Slurm) {
        refresh_one(store, &j.id)?;
        n += 1;
    }
    Ok(n)
}

/// The pid of the `llmb submit` that runs local job `local-<stamp>-<pid>`.
fn local_pid(id: &str) -> Option<u32> {
    id.strip_prefix("local-")?.rsplit('-').next()?.parse().ok()
}

/// Whether process `pid` is alive and is llmb (a pid can be reused).
fn submit_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("llmb"))
}

/// Asks Slurm about one job and stores what it says; returns the state.
///
/// # Errors
/// No such job, Slurm or the store fails.
pub fn refresh_one(store: &JobStore, id: &str) -> anyhow::Result<JobState> {
    let j = get(store, id)?;
    if j.launcher != LauncherKind::Slurm || j.state.is_terminal() {
        return Ok(j.state);
    }
    let job: JobId = id.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (state, details) = Slurm::new()
        .status(&job)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut update = StateUpdate::with_sacct(state, details.as_ref());
    if state.is_terminal() && !state.is_success() {
        update.note = failure_note(&j.experiment_dir, &j.log_path);
    }
    // Always offered: sacct lags squeue, so a job's nodes and start time often arrive on a
    // later refresh in the same state; the store writes only what changes.
    store.update_state(id, &update)?;
    Ok(state)
}

/// Cancels Slurm job `id` and waits (up to a minute) for Slurm to say it ended; returns
/// the last state seen.
///
/// # Errors
/// A local job (stopped with Ctrl-C in its `llmb submit`) or one already ended
/// ([`Invalid`](llmb_settings::Invalid)); Slurm or the store fails.
pub fn cancel(store: &JobStore, id: &str) -> anyhow::Result<JobState> {
    let j = get(store, id)?;
    if j.launcher == LauncherKind::Local {
        return Err(invalid(format!(
            "job {id} is local: it runs in the foreground of its `llmb submit`; stop it there with Ctrl-C"
        )));
    }
    if j.state.is_terminal() {
        return Err(invalid(format!("job {id} already ended {}", j.state)));
    }
    let job: JobId = id.parse().map_err(|e| invalid(format!("{e}")))?;
    Slurm::new()
        .cancel(&job)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut state = j.state;
    while Instant::now() < deadline {
        state = refresh_one(store, id)?;
        if state.is_terminal() {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(state)
}

/// What a run's benchmarks said of themselves, from the step exit codes in
/// `run_status.json`: `client-bound` (a step's client could not keep up: results flagged
/// invalid), `thresholds failed` (a step failed its `--fail-if` or lost more than half its
/// requests), or both; `None` when every step was clean or the file is missing.
pub fn bench_verdict(run_dir: &Path) -> Option<String> {
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(status_path(run_dir)).ok()?).ok()?;
    let codes: Vec<i64> = status["steps"]
        .as_array()?
        .iter()
        .filter_map(|s| s["exit_code"].as_i64())
        .collect();
    let count = |code: u8| codes.iter().filter(|c| **c == i64::from(code)).count();
    let mut said = Vec::new();
    let thresholds = count(llmb_settings::exit::THRESHOLD);
    if thresholds > 0 {
        said.push(format!("thresholds failed in {thresholds} step(s)"));
    }
    let bound = count(llmb_settings::exit::CLIENT_BOUND);
    if bound > 0 {
        said.push(format!("client-bound in {bound} step(s)"));
    }
    (!said.is_empty()).then(|| said.join(", "))
}

/// The state as `jobs list`, `jobs show` and `submit` print it: the scheduler's state,
/// then what the benchmarks said of themselves (`COMPLETED (client-bound in 1 step(s))`).
pub fn state_label(j: &JobRecord) -> String {
    match j
        .state
        .is_terminal()
        .then(|| bench_verdict(&j.experiment_dir))
        .flatten()
    {
        Some(v) => format!("{} ({v})", j.state.name()),
        None => j.state.name().to_owned(),
    }
}

/// Why a run failed: the error recorded in `run_status.json` (it holds the engine's log
/// tail), else the tail of the job log.
pub fn failure_note(run_dir: &Path, log: &Path) -> Option<String> {
    let status = std::fs::read(status_path(run_dir))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    if let Some(e) = status
        .as_ref()
        .and_then(|s| s.get("error"))
        .and_then(serde_json::Value::as_str)
    {
        return Some(e.to_owned());
    }
    tail(log, TAIL_LINES).map(|t| format!("last lines of {}:\n{t}", log.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benchmarks_verdict_comes_from_the_step_exit_codes() {
        let dir = std::env::temp_dir().join(format!("llmb-verdict-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |codes: &str| {
            let steps: Vec<String> = codes
                .split(',')
                .map(|c| format!("{{\"name\":\"s\",\"experiment_dir\":\"x\",\"exit_code\":{c}}}"))
                .collect();
            std::fs::write(
                status_path(&dir),
                format!(
                    "{{\"state\":\"completed\",\"steps\":[{}]}}",
                    steps.join(",")
                ),
            )
            .unwrap();
        };
        write("0,0");
        assert_eq!(bench_verdict(&dir), None);
        write("0,4,4");
        assert_eq!(
            bench_verdict(&dir).as_deref(),
            Some("client-bound in 2 step(s)")
        );
        write("3,4,null");
        assert_eq!(
            bench_verdict(&dir).as_deref(),
            Some("thresholds failed in 1 step(s), client-bound in 1 step(s)")
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(bench_verdict(&dir), None);
    }

    #[test]
    fn a_local_job_names_its_submit_process() {
        assert_eq!(local_pid("local-20261207-213410-4242"), Some(4242));
        assert_eq!(local_pid("local-20261207-213410-2-77"), Some(77));
        assert_eq!(local_pid("12345"), None);
        // This test runs as `.../llmb_launch-<hash>`: alive, and an llmb program.
        assert!(submit_alive(std::process::id()));
        // Above the kernel's largest pid (2^22): no such process.
        assert!(!submit_alive(1 << 23));
    }
}
