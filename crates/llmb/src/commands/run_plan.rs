//! `llmb run-plan PLAN`: execute a plan. Per use case: start its servers (inside a Slurm job
//! with `srun` on the planned nodes, else as child processes), wait for `GET /health` 200 with
//! a deadline, run each load step as a `llmb bench` child, stop the servers (SIGTERM, grace,
//! SIGKILL). Servers are also stopped on error and on SIGTERM/SIGINT (Slurm sends SIGTERM at
//! the time limit and on scancel). `run_status.json` in the run folder records how it ended.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use llmb_launch::{EngineLaunch, Plan, ServerPlan};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::jobs::tail;
use super::submit::external_engine_message;
use super::{bad, ExitStatus};
use crate::cli::launch::{PlanRankArgs, RunPlanArgs};

/// How long an engine may take to answer `/health` (override: `LLMB_READY_TIMEOUT_S`).
const READY_TIMEOUT: Duration = Duration::from_secs(300);
/// How long an interrupted `llmb bench` step may take to write its results (its own
/// grace for in-flight requests is 5 s by default).
const BENCH_STOP_GRACE: Duration = Duration::from_secs(15);
/// Between SIGTERM and SIGKILL when stopping an engine.
const STOP_GRACE: Duration = Duration::from_secs(10);
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
    child: Child,
    url: Option<String>,
}

/// Where processes go: children here, or srun steps on the allocation's nodes.
struct Placement {
    /// Node names of the Slurm allocation (empty: run locally).
    nodes: Vec<String>,
}

/// Runs `llmb run-plan`.
pub async fn run(a: RunPlanArgs) -> anyhow::Result<ExitStatus> {
    let plan = read_plan(&a.plan)?;
    if let Some((engine, image)) = plan.external_engine() {
        return Err(bad(external_engine_message(engine, image)));
    }
    let placement = Placement::detect().await?;
    let (stop_tx, stop_rx) = watch::channel(None::<&'static str>);
    tokio::spawn(signal_task(stop_tx));
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
    let path = plan.run_dir.join("run_status.json");
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
        let mut running = Vec::new();
        let result = async {
            for (si, s) in uc.servers.iter().enumerate() {
                running.push(placement.start(plan, ui, si, s)?);
            }
            for r in &mut running {
                interruptible(&mut stop, wait_ready(r, placement)).await??;
                status.servers.push(ServerStatus {
                    name: r.plan.name.clone(),
                    url: r.url.clone(),
                    log: r.plan.log.clone(),
                });
                say(&format!(
                    "run-plan: {} ready at {}",
                    r.plan.name,
                    r.url.as_deref().unwrap_or("?")
                ));
            }
            for step in &uc.steps {
                let url = running
                    .get(step.target)
                    .and_then(|r| r.url.clone())
                    .context("plan names a load target that has no server")?;
                std::fs::create_dir_all(&step.experiment_dir).with_context(|| {
                    format!("cannot create {}", step.experiment_dir.display())
                })?;
                let log_path = step.experiment_dir.join("bench.log");
                let log = std::fs::File::create(&log_path)
                    .with_context(|| format!("cannot create {}", log_path.display()))?;
                say(&format!(
                    "run-plan: step {} -> {}",
                    step.name,
                    step.experiment_dir.display()
                ));
                let mut child = Command::new(&plan.llmb)
                    .args(&step.args)
                    .arg("--url")
                    .arg(&url)
                    // Its own process group: a terminal Ctrl-C reaches it only through us.
                    .process_group(0)
                    .stdin(Stdio::null())
                    .stdout(log.try_clone()?)
                    .stderr(log)
                    .kill_on_drop(true)
                    .spawn()
                    .with_context(|| format!("cannot start {}", plan.llmb.display()))?;
                let exit = match interruptible(&mut stop, child.wait()).await {
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
                            terminate(&mut child).await;
                        }
                        return Err(e);
                    }
                };
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
                for r in &mut running {
                    if let Some(e) = exited(r)? {
                        return Err(anyhow::anyhow!("{e}"));
                    }
                }
            }
            anyhow::Ok(())
        }
        .await;
        // Always: stop what was started, on success, error or signal.
        if !running.is_empty() {
            status.servers_stopped_on_purpose = true;
        }
        for r in &mut running {
            terminate(&mut r.child).await;
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

impl Placement {
    async fn detect() -> anyhow::Result<Placement> {
        let Ok(list) = std::env::var("SLURM_JOB_NODELIST") else {
            return Ok(Placement { nodes: Vec::new() });
        };
        if std::env::var_os("SLURM_JOB_ID").is_none() {
            return Ok(Placement { nodes: Vec::new() });
        }
        let out = Command::new("scontrol")
            .args(["show", "hostnames", &list])
            .stdin(Stdio::null())
            .output()
            .await
            .context("cannot run scontrol show hostnames")?;
        if !out.status.success() {
            anyhow::bail!(
                "scontrol show hostnames {list} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let nodes = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        Ok(Placement { nodes })
    }

    fn in_slurm(&self) -> bool {
        !self.nodes.is_empty()
    }

    fn host_of(&self, s: &ServerPlan) -> String {
        s.nodes
            .first()
            .and_then(|&i| self.nodes.get(i as usize))
            .cloned()
            .unwrap_or_else(|| "127.0.0.1".into())
    }

    fn start<'p>(
        &self,
        plan: &Plan,
        ui: usize,
        si: usize,
        s: &'p ServerPlan,
    ) -> anyhow::Result<Running<'p>> {
        let EngineLaunch::Llmb { args } = &s.launch else {
            anyhow::bail!("server {} has no runnable engine", s.name);
        };
        // Truncated: the port is read from this log, and a re-run must not find the last one.
        let log = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&s.log)
            .with_context(|| format!("cannot create engine log {}", s.log.display()))?;
        let mut cmd = if self.in_slurm() {
            let names: Vec<String> = s
                .nodes
                .iter()
                .map(|&i| {
                    self.nodes.get(i as usize).cloned().with_context(|| {
                        format!(
                            "plan places {} on node index {i} but the job has {} node(s)",
                            s.name,
                            self.nodes.len()
                        )
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            let mut c = Command::new("srun");
            c.arg(format!("--nodes={}", s.nodes.len()))
                .arg(format!("--ntasks={}", s.ranks()))
                .arg(format!("--ntasks-per-node={}", s.ranks_per_node))
                .arg("-w")
                .arg(names.join(","))
                .args(["--overlap", "--kill-on-bad-exit=1", "--open-mode=append"])
                .arg(format!("--job-name={}", s.name))
                .arg(&plan.llmb)
                .arg("plan-rank")
                .arg(plan.path())
                .arg(ui.to_string())
                .arg(si.to_string());
            c
        } else {
            let mut c = Command::new(&plan.llmb);
            c.args(args);
            // Own process group: a terminal's Ctrl-C reaches run-plan, which stops it in order.
            c.process_group(0);
            c
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start engine {}", s.name))?;
        Ok(Running {
            plan: s,
            child,
            url: None,
        })
    }
}

/// `Some(error)` when the engine has exited.
fn exited(r: &mut Running<'_>) -> anyhow::Result<Option<String>> {
    Ok(r.child.try_wait()?.map(|st| {
        format!(
            "engine {} exited early ({st}); last lines of {}:\n{}",
            r.plan.name,
            r.plan.log.display(),
            tail(&r.plan.log, LOG_TAIL).unwrap_or_default()
        )
    }))
}

/// Polls (with backoff) until the engine's port is known and `/health` answers 200.
async fn wait_ready(r: &mut Running<'_>, placement: &Placement) -> anyhow::Result<()> {
    let timeout = std::env::var("LLMB_READY_TIMEOUT_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(READY_TIMEOUT, Duration::from_secs);
    let deadline = Instant::now() + timeout;
    let host = placement.host_of(r.plan);
    let mut port = (r.plan.port != 0).then_some(r.plan.port);
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(e) = exited(r)? {
            anyhow::bail!("{e}");
        }
        if port.is_none() {
            port = listening_port(&r.plan.log);
        }
        if let Some(p) = port {
            if health(&host, p, &r.plan.health_path).await {
                r.url = Some(format!("http://{host}:{p}"));
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "engine {} not ready after {}s (GET {} on {host}:{}); last lines of {}:\n{}",
                r.plan.name,
                timeout.as_secs(),
                r.plan.health_path,
                port.map_or_else(|| "?".into(), |p| p.to_string()),
                r.plan.log.display(),
                tail(&r.plan.log, LOG_TAIL).unwrap_or_default()
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The port in the engine's `listening on http://HOST:PORT` line.
fn listening_port(log: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().find_map(|l| {
        let url = l.split("listening on ").nth(1)?.split_whitespace().next()?;
        url.trim_end_matches('/').rsplit(':').next()?.parse().ok()
    })
}

/// One `GET path` over HTTP/1.0; true on status 200.
async fn health(host: &str, port: u16, path: &str) -> bool {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.ok()?;
        let head = String::from_utf8_lossy(&buf[..n]);
        Some(head.split_whitespace().nth(1) == Some("200"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// SIGTERM, up to [`STOP_GRACE`], then SIGKILL.
async fn terminate(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// `llmb plan-rank`: one rank of a server inside an srun step. Records where it runs
/// (`ranks/<server>-rank<R>.json` in the run folder); rank 0 becomes the engine, the other
/// ranks hold their place until stopped (the simulator is a single process).
pub async fn rank(a: PlanRankArgs) -> anyhow::Result<ExitStatus> {
    let plan = read_plan(&a.plan)?;
    let server = plan
        .use_cases
        .get(a.use_case)
        .and_then(|u| u.servers.get(a.server))
        .ok_or_else(|| {
            bad(format!(
                "{}: no server {}/{}",
                a.plan.display(),
                a.use_case,
                a.server
            ))
        })?;
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let rank: u32 = var("SLURM_PROCID").parse().unwrap_or(0);
    let dir = plan.run_dir.join("ranks");
    std::fs::create_dir_all(&dir)?;
    let record = serde_json::json!({
        "server": server.name,
        "rank": rank,
        "node": var("SLURMD_NODENAME"),
        "local_rank": var("SLURM_LOCALID"),
        "gpus": var("CUDA_VISIBLE_DEVICES"),
    });
    std::fs::write(
        dir.join(format!("{}-rank{rank}.json", server.name)),
        record.to_string(),
    )?;
    if rank == 0 {
        let EngineLaunch::Llmb { args } = &server.launch else {
            return Err(bad(format!(
                "server {} has no runnable engine",
                server.name
            )));
        };
        use std::os::unix::process::CommandExt;
        let err = std::process::Command::new(&plan.llmb).args(args).exec();
        return Err(anyhow::anyhow!(
            "cannot exec {}: {err}",
            plan.llmb.display()
        ));
    }
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    Ok(ExitStatus::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_from_log_line() {
        let d = std::env::temp_dir().join(format!("llmb-rp-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("e.log");
        std::fs::write(
            &f,
            "noise\nllmb sim engine serving model m listening on http://0.0.0.0:41234\n",
        )
        .unwrap();
        assert_eq!(listening_port(&f), Some(41234));
        std::fs::write(&f, "starting\n").unwrap();
        assert_eq!(listening_port(&f), None);
        let _ = std::fs::remove_dir_all(&d);
    }
}
