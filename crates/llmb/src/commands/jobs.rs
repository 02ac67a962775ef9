//! `llmb jobs list|show|log|cancel|refresh`: the jobs store, kept current from Slurm
//! (`sacct`, and `squeue` while a job runs).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use llmb_launch::exec::tail;
use llmb_launch::install::Install;
use llmb_launch::jobs::track::{self, get, refresh, refresh_one, TAIL_LINES};
use llmb_launch::{JobFilter, JobRecord, JobState, JobStore};

use super::{bad, ExitStatus};
use crate::cli::launch::{JobsAction, JobsArgs};

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
                    track::state_label(&j),
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
            let (id, state) =
                tokio::task::spawn_blocking(move || track::cancel(&store, &id).map(|s| (id, s)))
                    .await??;
            writeln!(std::io::stdout().lock(), "Job {id} {state}")?;
            return Ok(ExitStatus::OK);
        }
        JobsAction::Refresh => {
            let n = refresh(&store)?;
            writeln!(std::io::stdout().lock(), "Refreshed {n} unfinished job(s)")?;
        }
    }
    Ok(ExitStatus::OK)
}

fn show(out: &mut impl Write, j: &JobRecord) -> anyhow::Result<()> {
    writeln!(out, "job:        {} ({})", j.id, j.launcher.as_str())?;
    writeln!(out, "state:      {}", track::state_label(j))?;
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
