//! `llmb run-plan PLAN`: execute a plan. Per use case: start its servers in order (inside a
//! Slurm job with `srun` on the planned nodes, else as child processes), wait for each one's
//! readiness with a deadline, run each load step (`llmb bench`, or an offline engine), stop the
//! servers (signal, grace, SIGKILL). Servers are also stopped on error and on SIGTERM/SIGINT
//! (Slurm sends SIGTERM at the time limit and on scancel). `run_status.json` in the run folder
//! records how it ended.
//!
//! Here: the run loop and its status. `preflight` checks engines can start, `place` starts
//! processes, `ready` watches and stops them, `scrape` reads their metrics, `rank` is
//! `llmb plan-rank`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use llmb_engines::{EngineSpec, StopPolicy};
use llmb_launch::{Plan, ServerPlan};
use serde::Serialize;
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::jobs::tail;
use super::{bad, ExitStatus};
use crate::cli::launch::RunPlanArgs;

mod place;
mod preflight;
mod rank;
mod ready;
mod scrape;

use place::{import_offline, Placement};
pub use preflight::preflight;
pub use rank::rank;
use ready::{any_exited, terminate, wait_ready};
use scrape::{scrape_servers, write_server_metrics};

/// How long an interrupted `llmb bench` step may take to write its results (its own
/// grace for in-flight requests is 5 s by default).
const BENCH_STOP_GRACE: Duration = Duration::from_secs(15);

/// Lines of an engine log quoted in an error.
const LOG_TAIL: usize = 15;

/// How a plan's run ended (`run_status.json` → `state`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum RunState {
    /// Every step ran.
    Completed,
    /// An engine or a step failed.
    #[default]
    Failed,
    /// A signal (Ctrl-C, Slurm's SIGTERM at the time limit or on cancel) stopped it.
    Interrupted,
}

/// What `run_status.json` says.
#[derive(Debug, Default, Serialize)]
struct RunStatus {
    /// How the run ended.
    state: RunState,
    /// Always true once servers were started: they were stopped by llmb, not crashed, even
    /// though their exit statuses read as killed.
    servers_stopped_on_purpose: bool,
    /// The signal that interrupted the run.
    signal: Option<String>,
    /// The first error (with the engine log tail when an engine failed).
    error: Option<String>,
    /// Each load step.
    steps: Vec<StepStatus>,
    /// Things to know that did not fail the run (client-bound steps).
    warnings: Vec<String>,
    /// Each server started.
    servers: Vec<ServerStatus>,
}

#[derive(Debug, Serialize)]
struct StepStatus {
    name: String,
    experiment_dir: PathBuf,
    exit_code: Option<i32>,
}

#[derive(Debug, Serialize)]
struct ServerStatus {
    name: String,
    url: Option<String>,
    log: PathBuf,
}

/// An engine that is up, or starting.
struct Running<'p> {
    plan: &'p ServerPlan,
    /// What was started (the adapter's spec with the real port).
    spec: EngineSpec,
    child: Child,
    /// The port, once known (read from the log for the simulator).
    port: Option<u16>,
    url: Option<String>,
    ready: bool,
}

/// Runs `llmb run-plan`.
pub async fn run(a: RunPlanArgs) -> anyhow::Result<ExitStatus> {
    let plan = read_plan(&a.plan)?;
    let placement = Placement::detect().await?;
    preflight(&plan, placement.in_slurm()).map_err(bad)?;
    if placement.in_slurm() && placement.nodes.len() < plan.nodes as usize {
        return Err(bad(format!(
            "the plan places servers on {} node(s) but the allocation has {} ({}); submit with --nodes={} or lower the scale",
            plan.nodes,
            placement.nodes.len(),
            placement.nodes.join(","),
            plan.nodes
        )));
    }
    let (stop_tx, stop_rx) = watch::channel(None::<&'static str>);
    tokio::spawn(signal_task(stop_tx));
    let path = plan.run_dir.join("run_status.json");
    {
        // On a signal, say so at once: Slurm kills the job KillWait seconds after its SIGTERM,
        // which may come before the orderly stop below has written the full status.
        let (mut rx, path) = (stop_rx.clone(), path.clone());
        tokio::spawn(async move {
            if let Ok(sig) = rx.wait_for(Option::is_some).await {
                let early = RunStatus {
                    state: RunState::Interrupted,
                    servers_stopped_on_purpose: true,
                    signal: sig.map(String::from),
                    ..RunStatus::default()
                };
                let _ = std::fs::write(
                    &path,
                    serde_json::to_string_pretty(&early).unwrap_or_default(),
                );
            }
        });
    }
    let mut status = RunStatus::default();
    let result = execute(&plan, &placement, stop_rx.clone(), &mut status).await;
    let signal = *stop_rx.borrow();
    status.signal = signal.map(String::from);
    status.state = match (&result, signal) {
        (_, Some(_)) => RunState::Interrupted,
        (Ok(true), None) => RunState::Completed,
        _ => RunState::Failed,
    };
    if let Err(e) = &result {
        status.error = Some(format!("{e:#}"));
    }
    std::fs::write(&path, serde_json::to_string_pretty(&status)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    match (result, signal) {
        (_, Some("SIGINT")) => Ok(ExitStatus::INTERRUPTED),
        (_, Some(_)) => Ok(ExitStatus(143)),
        (Ok(true), None) => {
            say(&format!(
                "run-plan: all steps completed; {}",
                path.display()
            ));
            Ok(ExitStatus::OK)
        }
        (Ok(false), None) => Err(anyhow::anyhow!(
            "some load steps failed; see {}",
            path.display()
        )),
        (Err(e), None) => Err(e),
    }
}

fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read plan {}", path.display()))?;
    Plan::from_json(&text, &path.display().to_string()).map_err(bad)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn signal_task(tx: watch::Sender<Option<&'static str>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    let _ = tx.send(Some(name));
}

/// Runs every use case; `Ok(false)` when a load step failed.
async fn execute(
    plan: &Plan,
    placement: &Placement,
    mut stop: watch::Receiver<Option<&'static str>>,
    status: &mut RunStatus,
) -> anyhow::Result<bool> {
    let mut all_ok = true;
    for (ui, uc) in plan.use_cases.iter().enumerate() {
        say(&format!(
            "run-plan: use case {} ({}/{}): starting {} server(s)",
            uc.name,
            uc.isl,
            uc.osl,
            uc.servers.len()
        ));
        let mut running: Vec<Running<'_>> = Vec::new();
        let result = async {
            for s in &uc.servers {
                // Start only when the servers it depends on are ready (a simulated frontend
                // is given their URLs).
                for &dep in &s.after {
                    interruptible(&mut stop, wait_ready(&mut running, dep, placement)).await??;
                }
                let r = placement.start(plan, ui, running.len(), s, &running)?;
                running.push(r);
            }
            for i in 0..running.len() {
                interruptible(&mut stop, wait_ready(&mut running, i, placement)).await??;
            }
            for r in &running {
                status.servers.push(ServerStatus {
                    name: r.plan.name.clone(),
                    url: r.url.clone(),
                    log: r.plan.log.clone(),
                });
            }
            for step in &uc.steps {
                std::fs::create_dir_all(&step.experiment_dir).with_context(|| {
                    format!("cannot create {}", step.experiment_dir.display())
                })?;
                let log_path = step.experiment_dir.join("bench.log");
                say(&format!(
                    "run-plan: step {} -> {}",
                    step.name,
                    step.experiment_dir.display()
                ));
                // Every other engine of the plan with Prometheus metrics is scraped while
                // the step runs (llmb bench scrapes its own target); baselines first.
                let mut scrapers = scrape_servers(&running, step.target, placement);
                for (_, sc) in &mut scrapers {
                    sc.first_scrape().await;
                }
                let mut child = match &step.offline {
                    Some(o) => {
                        placement
                            .start_offline(plan, step, o, &log_path, &mut stop)
                            .await?
                    }
                    None => {
                        let url = running
                            .get(step.target)
                            .and_then(|r| r.url.clone())
                            .context("plan names a load target that has no server")?;
                        let log = std::fs::File::create(&log_path)
                            .with_context(|| format!("cannot create {}", log_path.display()))?;
                        // The step's typed settings travel on stdin (data, not argv).
                        let mut child = Command::new(&plan.llmb)
                            .args(["bench", "--settings", "-", "--url", &url])
                            // Its own process group: a terminal Ctrl-C reaches it only through us.
                            .process_group(0)
                            .stdin(Stdio::piped())
                            .stdout(log.try_clone()?)
                            .stderr(log)
                            .kill_on_drop(true)
                            .spawn()
                            .with_context(|| format!("cannot start {}", plan.llmb.display()))?;
                        if let Some(mut stdin) = child.stdin.take() {
                            // A bench that exits before reading (it could not start) is
                            // judged by its exit status and log, like any failed step.
                            let settings = step.bench.to_json();
                            let _ = tokio::io::AsyncWriteExt::write_all(
                                &mut stdin,
                                settings.as_bytes(),
                            )
                            .await;
                        }
                        child
                    }
                };
                let mut exit = match interruptible(&mut stop, child.wait()).await {
                    Ok(r) => r?,
                    Err(e) => {
                        // SIGINT first: bench stops its load and writes what it has.
                        if let Some(pid) = child.id() {
                            // SAFETY: kill(2) on our own child.
                            unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
                        }
                        if tokio::time::timeout(BENCH_STOP_GRACE, child.wait())
                            .await
                            .is_err()
                        {
                            terminate(&mut child, StopPolicy::term(5)).await;
                        }
                        return Err(e);
                    }
                };
                write_server_metrics(scrapers, &step.experiment_dir).await?;
                if let (Some(o), true) = (&step.offline, exit.success()) {
                    exit = import_offline(plan, step, o, &log_path).await?;
                }
                status.steps.push(StepStatus {
                    name: step.name.clone(),
                    experiment_dir: step.experiment_dir.clone(),
                    exit_code: exit.code(),
                });
                if exit.success() {
                    say(&format!("run-plan: step {} done", step.name));
                } else if exit.code() == Some(i32::from(ExitStatus::CLIENT_BOUND.0)) {
                    // Results are written and flagged invalid in summary.json; a slow host
                    // does not fail the job, but the status says so.
                    let w = format!(
                        "step {}: the client could not keep up (bench exit 4): results flagged invalid; see {}",
                        step.name,
                        log_path.display()
                    );
                    say(&format!("run-plan: warning: {w}"));
                    status.warnings.push(w);
                } else {
                    all_ok = false;
                    say(&format!(
                        "run-plan: step {} failed ({exit}); last lines of {}:\n{}",
                        step.name,
                        log_path.display(),
                        tail(&log_path, LOG_TAIL).unwrap_or_default()
                    ));
                }
                if let Some(e) = any_exited(&mut running)? {
                    return Err(anyhow::anyhow!("{e}"));
                }
            }
            anyhow::Ok(())
        }
        .await;
        // Always: stop what was started, on success, error or signal.
        if !running.is_empty() {
            status.servers_stopped_on_purpose = true;
        }
        // Front to back: a frontend stops before the workers it routes to.
        for r in running.iter_mut().rev() {
            terminate(&mut r.child, r.spec.stop).await;
        }
        say(&format!("run-plan: use case {}: servers stopped", uc.name));
        result?;
    }
    Ok(all_ok)
}

/// Runs `fut` unless a stop signal arrives first.
async fn interruptible<T>(
    stop: &mut watch::Receiver<Option<&'static str>>,
    fut: impl std::future::Future<Output = T>,
) -> anyhow::Result<T> {
    if let Some(sig) = *stop.borrow() {
        anyhow::bail!("interrupted by {sig}");
    }
    tokio::select! {
        v = fut => Ok(v),
        _ = stop.changed() => {
            let sig = stop.borrow().unwrap_or("a signal");
            anyhow::bail!("interrupted by {sig}")
        }
    }
}
