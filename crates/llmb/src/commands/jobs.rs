//! `llmb jobs list|show|log|cancel|refresh`: the jobs store, kept current from Slurm
//! (`sacct`, and `squeue` while a job runs).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use llmb_launch::exec::tail;
use llmb_launch::{
    JobFilter, JobId, JobRecord, JobState, JobStore, LauncherKind, Slurm, StateUpdate,
};

use super::install::Install;
use super::{bad, ExitStatus};
use crate::cli::launch::{JobsAction, JobsArgs};

/// Lines of a log shown for a failed job.
const TAIL_LINES: usize = 20;

/// Runs `llmb jobs ...`.
pub async fn run(a: JobsArgs) -> anyhow::Result<ExitStatus> {
    let install = Install::locate()?;
    let store = JobStore::open(install.jobs_db())?;
    match a.action {
        JobsAction::List { workload, limit } => {
            let warn = refresh(&store).err();
            let jobs = store.list(&JobFilter {
                workload,
                state: None,
                limit: Some(limit),
            })?;
            let mut out = std::io::stdout().lock();
            if let Some(w) = warn {
                writeln!(out, "warning: states not refreshed: {w}")?;
            }
            writeln!(
                out,
                "{:<28} {:<10} {:<30} {:<6} {:<6} {:>5}  {:<20}  RUN FOLDER",
                "ID", "STATE", "WORKLOAD", "SIZE", "DTYPE", "SCALE", "SUBMITTED"
            )?;
            for j in jobs {
                writeln!(
                    out,
                    "{:<28} {:<10} {:<30} {:<6} {:<6} {:>5}  {:<20}  {}",
                    j.id,
                    j.state.name(),
                    j.workload,
                    j.model_size,
                    j.dtype,
                    j.scale,
                    j.submitted_at.to_string(),
                    j.experiment_dir.display()
                )?;
            }
        }
        JobsAction::Show { id } => {
            let _ = refresh_one(&store, &id);
            let j = get(&store, &id)?;
            let mut out = std::io::stdout().lock();
            show(&mut out, &j)?;
        }
        JobsAction::Log { id, follow } => {
            let j = get(&store, &id)?;
            follow_log(&store, &j, follow).await?;
        }
        JobsAction::Cancel { id } => {
            let j = get(&store, &id)?;
            if j.launcher == LauncherKind::Local {
                return Err(bad(format!(
                    "job {id} is local: it runs in the foreground of its `llmb submit`; stop it there with Ctrl-C"
                )));
            }
            if j.state.is_terminal() {
                return Err(bad(format!("job {id} already ended {}", j.state)));
            }
            let job: JobId = id.parse().map_err(|e| bad(format!("{e}")))?;
            Slurm::new()
                .cancel(&job)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut state = j.state;
            while Instant::now() < deadline {
                state = refresh_one(&store, &id)?;
                if state.is_terminal() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            writeln!(std::io::stdout().lock(), "Job {id} {state}")?;
        }
        JobsAction::Refresh => {
            let n = refresh(&store)?;
            writeln!(std::io::stdout().lock(), "Refreshed {n} unfinished job(s)")?;
        }
    }
    Ok(ExitStatus::OK)
}

fn get(store: &JobStore, id: &str) -> anyhow::Result<JobRecord> {
    store.get(id)?.ok_or_else(|| {
        bad(format!(
            "no job `{id}` in {}; see `llmb jobs list`",
            store.path().display()
        ))
    })
}

/// Updates every unfinished Slurm job; returns how many were asked about.
pub fn refresh(store: &JobStore) -> anyhow::Result<usize> {
    let jobs = store.non_terminal()?;
    let mut n = 0;
    for j in jobs.iter().filter(|j| j.launcher == LauncherKind::Slurm) {
        refresh_one(store, &j.id)?;
        n += 1;
    }
    Ok(n)
}

/// Asks Slurm about one job and stores what it says; returns the state.
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

/// Why a run failed: the error recorded in run_status.json (it holds the engine's log tail),
/// else the tail of the job log.
pub fn failure_note(run_dir: &Path, log: &Path) -> Option<String> {
    let status = std::fs::read(run_dir.join("run_status.json"))
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

fn show(out: &mut impl Write, j: &JobRecord) -> anyhow::Result<()> {
    writeln!(out, "job:        {} ({})", j.id, j.launcher.as_str())?;
    writeln!(out, "state:      {}", j.state)?;
    if let Some(c) = j.exit_code {
        writeln!(out, "exit code:  {c}")?;
    }
    writeln!(
        out,
        "workload:   {} {} {} scale {} on {}",
        j.workload, j.model_size, j.dtype, j.scale, j.gpu_type
    )?;
    if let Some(u) = &j.use_case {
        writeln!(out, "use cases:  {u}")?;
    }
    writeln!(out, "submitted:  {}", j.submitted_at)?;
    if let Some(t) = j.started_at {
        writeln!(out, "started:    {t}")?;
    }
    if let Some(t) = j.ended_at {
        writeln!(out, "ended:      {t}")?;
    }
    if let Some(n) = &j.nodes {
        writeln!(out, "nodes:      {n}")?;
    }
    writeln!(out, "run folder: {}", j.experiment_dir.display())?;
    writeln!(out, "plan:       {}", j.plan_path.display())?;
    writeln!(out, "log:        {}", j.log_path.display())?;
    if let Ok(text) = std::fs::read_to_string(&j.plan_path) {
        if let Ok(plan) = llmb_launch::Plan::from_json(&text, "plan.json") {
            for u in &plan.use_cases {
                for s in &u.steps {
                    writeln!(out, "results:    {}", s.experiment_dir.display())?;
                }
            }
        }
    }
    if let Some(n) = &j.note {
        writeln!(out, "note:\n{n}")?;
    }
    if j.note.is_none() && j.state.is_terminal() && !j.state.is_success() {
        if let Some(t) = tail(&j.log_path, TAIL_LINES) {
            writeln!(out, "last lines of the job log:\n{t}")?;
        }
    }
    Ok(())
}

async fn follow_log(store: &JobStore, j: &JobRecord, follow: bool) -> anyhow::Result<()> {
    let mut pos = 0u64;
    let mut out = std::io::stdout();
    loop {
        if let Ok(mut f) = std::fs::File::open(&j.log_path) {
            f.seek(SeekFrom::Start(pos))?;
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            pos += buf.len() as u64;
            out.write_all(&buf)?;
            out.flush()?;
        } else if !follow {
            return Err(bad(format!(
                "job {} has no log yet at {}",
                j.id,
                j.log_path.display()
            )));
        }
        if !follow {
            return Ok(());
        }
        let state = refresh_one(store, &j.id).unwrap_or(JobState::Unknown);
        if state.is_terminal() {
            // One last read for lines written just before the end.
            if let Ok(mut f) = std::fs::File::open(&j.log_path) {
                f.seek(SeekFrom::Start(pos))?;
                std::io::copy(&mut f, &mut out)?;
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
