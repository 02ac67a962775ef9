//! `llmb run-plan PLAN`: execute a plan, on this machine or inside a Slurm allocation, with
//! no async runtime. Per use case: start its servers in order (inside a Slurm job with
//! `srun` on the planned nodes, else as child processes), wait for each one's readiness
//! with a deadline, run each load step (`llmb bench` given its typed settings on stdin, or
//! an offline engine whose report is then imported), stop the servers (signal, grace,
//! SIGKILL). Servers are also stopped on error and on SIGTERM/SIGINT (Slurm sends SIGTERM
//! at the time limit and on scancel). `run_status.json` in the run folder records how it
//! ended.
//!
//! Here: the run loop and its status. `preflight` checks engines can start, `place` starts
//! processes, `child` waits for and stops them, `ready` watches readiness, `servers`
//! scrapes their metrics, `stop` catches signals, `rank` is `llmb plan-rank`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use llmb_engines::{EngineSpec, StopPolicy};
use llmb_report::import::{self, ImportError};
use llmb_report::run_dir::PointDir;
use llmb_settings::invalid;
use serde::Serialize;

use crate::plan::{LoadStep, Plan, ServerPlan};

pub(crate) mod child;
mod logs;
mod place;
mod preflight;
mod rank;
mod ready;
mod servers;
/// The process's signal catcher (the `llmb-signals` crate).
pub mod stop {
    pub use llmb_signals::*;
}

use child::{own_group, Proc};
pub use logs::tail;
use place::Placement;
pub use preflight::preflight;
pub use rank::rank;
use ready::{any_exited, wait_ready};
use servers::{scrape_servers, write_server_metrics};
use stop::Stop;

/// How long an interrupted `llmb bench` step may take to write its results (its own
/// grace for in-flight requests is 5 s by default).
const BENCH_STOP_GRACE: Duration = Duration::from_secs(15);

/// Lines of an engine log quoted in an error.
const LOG_TAIL: usize = 15;

/// `llmb bench`'s exit code for a client that could not keep up (results written, flagged).
const BENCH_CLIENT_BOUND: i32 = llmb_settings::exit::CLIENT_BOUND as i32;

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
    child: Proc,
    /// The port, once known (read from the log for the simulator).
    port: Option<u16>,
    url: Option<String>,
    ready: bool,
}

/// How a run that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every step ran and passed (client-bound steps are warnings).
    Completed,
    /// A signal stopped it (`SIGINT` or `SIGTERM`); servers were stopped.
    Interrupted(&'static str),
}

/// Runs the plan at `plan_path`; `run_status.json` says how it ended whatever happens.
///
/// # Errors
/// A plan that cannot run here ([`Invalid`](llmb_settings::Invalid)), an engine that fails,
/// or load steps that failed.
pub fn run(plan_path: &Path) -> anyhow::Result<Outcome> {
    let plan = read_plan(plan_path)?;
    let placement = Placement::detect()?;
    preflight(&plan, placement.in_slurm()).map_err(invalid)?;
    if placement.in_slurm() && placement.nodes.len() < plan.nodes as usize {
        return Err(invalid(format!(
            "the plan places servers on {} node(s) but the allocation has {} ({}); submit with --nodes={} or lower the scale",
            plan.nodes,
            placement.nodes.len(),
            placement.nodes.join(","),
            plan.nodes
        )));
    }
    let path = plan.status_path();
    // On a signal, say so at once: Slurm kills the job KillWait seconds after its SIGTERM,
    // which may come before the orderly stop below has written the full status.
    let early = path.clone();
    let stop = Stop::install(move |sig| {
        let status = RunStatus {
            state: RunState::Interrupted,
            servers_stopped_on_purpose: true,
            signal: Some(sig.to_owned()),
            ..RunStatus::default()
        };
        let _ = std::fs::write(
            &early,
            serde_json::to_string_pretty(&status).unwrap_or_default(),
        );
    })
    .context("cannot catch SIGTERM and SIGINT")?;
    let mut status = RunStatus::default();
    let result = execute(&plan, &placement, &stop, &mut status);
    let signal = stop.signal();
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
        (_, Some(sig)) => Ok(Outcome::Interrupted(sig)),
        (Ok(true), None) => {
            say(&format!(
                "run-plan: all steps completed; {}",
                path.display()
            ));
            Ok(Outcome::Completed)
        }
        (Ok(false), None) => Err(anyhow::anyhow!(
            "some load steps failed; see {}",
            path.display()
        )),
        (Err(e), None) => Err(e),
    }
}

/// Reads `plan.json`, refusing another version.
fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(format!("cannot read plan {}: {e}", path.display())))?;
    Plan::from_json(&text, &path.display().to_string()).map_err(invalid)
}

/// One line of run-plan's own log (its stdout: the Slurm job's output).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// How a load step ended.
enum StepEnd {
    /// Its process exited (bench, or the offline engine when its import is not reached).
    Exited(ExitStatus),
    /// The offline engine succeeded and its report was imported.
    Imported,
    /// The offline engine succeeded but its report could not be imported.
    ImportFailed(ImportError),
}

impl StepEnd {
    fn code(&self) -> Option<i32> {
        match self {
            StepEnd::Exited(st) => st.code(),
            StepEnd::Imported => Some(0),
            StepEnd::ImportFailed(ImportError::Input(_)) => {
                Some(i32::from(llmb_settings::exit::INVALID))
            }
            StepEnd::ImportFailed(ImportError::Output(_)) => {
                Some(i32::from(llmb_settings::exit::ERROR))
            }
        }
    }
}

impl std::fmt::Display for StepEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepEnd::Exited(st) => write!(f, "{st}"),
            StepEnd::Imported => f.write_str("imported"),
            StepEnd::ImportFailed(e) => write!(f, "import failed: {e}"),
        }
    }
}

/// Runs every use case; `Ok(false)` when a load step failed.
fn execute(
    plan: &Plan,
    placement: &Placement,
    stop: &Stop,
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
        let result = (|| {
            for s in &uc.servers {
                // Start only when the servers it depends on are ready (a simulated frontend
                // is given their URLs).
                for &dep in &s.after {
                    wait_ready(&mut running, dep, placement, stop)?;
                }
                let r = placement.start(plan, ui, running.len(), s, &running)?;
                running.push(r);
            }
            for i in 0..running.len() {
                wait_ready(&mut running, i, placement, stop)?;
            }
            for r in &running {
                status.servers.push(ServerStatus {
                    name: r.plan.name.clone(),
                    url: r.url.clone(),
                    log: r.plan.log.clone(),
                });
            }
            for step in &uc.steps {
                let end = run_step(plan, placement, stop, step, &running)?;
                let log_path = step.experiment_dir.join("bench.log");
                status.steps.push(StepStatus {
                    name: step.name.clone(),
                    experiment_dir: step.experiment_dir.clone(),
                    exit_code: end.code(),
                });
                match end.code() {
                    Some(0) => say(&format!("run-plan: step {} done", step.name)),
                    Some(BENCH_CLIENT_BOUND) if step.offline.is_none() => {
                        // Results are written and flagged invalid in summary.json; a slow
                        // host does not fail the job, but the status says so.
                        let w = format!(
                            "step {}: the client could not keep up (bench exit 4): results flagged invalid; see {}",
                            step.name,
                            log_path.display()
                        );
                        say(&format!("run-plan: warning: {w}"));
                        status.warnings.push(w);
                    }
                    Some(code) if code == i32::from(llmb_settings::exit::THRESHOLD) => {
                        all_ok = false;
                        say(&format!(
                            "run-plan: step {} failed its thresholds: a --fail-if held, or more than half the requests failed (bench exit 3); see {}",
                            step.name,
                            log_path.display()
                        ));
                    }
                    _ => {
                        all_ok = false;
                        say(&format!(
                            "run-plan: step {} failed ({end}); last lines of {}:\n{}",
                            step.name,
                            log_path.display(),
                            tail(&log_path, LOG_TAIL).unwrap_or_default()
                        ));
                    }
                }
                if let Some(e) = any_exited(&mut running)? {
                    return Err(anyhow::anyhow!("{e}"));
                }
            }
            anyhow::Ok(())
        })();
        // Always: stop what was started, on success, error or signal.
        if !running.is_empty() {
            status.servers_stopped_on_purpose = true;
        }
        // Front to back: a frontend stops before the workers it routes to.
        for r in running.iter_mut().rev() {
            r.child.terminate(r.spec.stop);
        }
        say(&format!("run-plan: use case {}: servers stopped", uc.name));
        result?;
    }
    Ok(all_ok)
}

/// One load step: every other engine with Prometheus metrics is scraped while it runs
/// (`llmb bench` scrapes its own target); then `llmb bench` against the target, or the
/// offline engine and the import of its report.
fn run_step(
    plan: &Plan,
    placement: &Placement,
    stop: &Stop,
    step: &LoadStep,
    running: &[Running<'_>],
) -> anyhow::Result<StepEnd> {
    std::fs::create_dir_all(&step.experiment_dir)
        .with_context(|| format!("cannot create {}", step.experiment_dir.display()))?;
    let log_path = step.experiment_dir.join("bench.log");
    say(&format!(
        "run-plan: step {} -> {}",
        step.name,
        step.experiment_dir.display()
    ));
    let mut scrapers = scrape_servers(running, step.target, placement);
    for (_, sc) in &mut scrapers {
        sc.first_scrape();
    }
    let mut child = match &step.offline {
        Some(o) => placement.start_offline(plan, step, o, &log_path, stop)?,
        None => {
            let url = running
                .get(step.target)
                .and_then(|r| r.url.clone())
                .context("plan names a load target that has no server")?;
            start_bench(plan, step, &url, &log_path)?
        }
    };
    let exit = match child.wait_or_stop(stop) {
        Ok(st) => st,
        Err(e) => {
            // SIGINT first: bench stops its load and writes what it has.
            child.signal(libc::SIGINT);
            if child.wait_for(BENCH_STOP_GRACE).is_none() {
                child.terminate(StopPolicy::term(5));
            }
            return Err(e);
        }
    };
    write_server_metrics(scrapers, &step.experiment_dir)?;
    Ok(match (&step.offline, exit.success()) {
        (Some(o), true) => import_offline(&o.log, step, &log_path),
        _ => StepEnd::Exited(exit),
    })
}

/// `llmb bench --settings - --url URL`, the step's typed settings written to its stdin
/// (data, not argv), its output in `log`.
fn start_bench(plan: &Plan, step: &LoadStep, url: &str, log: &Path) -> anyhow::Result<Proc> {
    let out =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut cmd = Command::new(&plan.llmb);
    cmd.args(["bench", "--settings", "-", "--url", url])
        .stdin(Stdio::piped())
        .stdout(out.try_clone()?)
        .stderr(out);
    let mut child = Proc(
        own_group(&mut cmd)
            .spawn()
            .with_context(|| format!("cannot start {}", plan.llmb.display()))?,
    );
    if let Some(mut stdin) = child.0.stdin.take() {
        // A bench that exits before reading (it could not start) is judged by its exit
        // status and log, like any failed step.
        let _ = stdin.write_all(step.bench.to_json().as_bytes());
    }
    Ok(child)
}

/// Reads the offline engine's report into the step's result files, saying so in the
/// step's log.
fn import_offline(report: &Path, step: &LoadStep, log: &Path) -> StepEnd {
    let dir = PointDir::new(&step.experiment_dir);
    let result = import::trtllm_bench(report, &dir);
    let note = match &result {
        Ok(done) => format!(
            "{}\n{}\nresults: {}\n",
            done.overview,
            done.describe(report),
            dir.dir.display()
        ),
        Err(e) => format!("error: {e}\n"),
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = f.write_all(note.as_bytes());
    }
    match result {
        Ok(_) => StepEnd::Imported,
        Err(e) => StepEnd::ImportFailed(e),
    }
}
