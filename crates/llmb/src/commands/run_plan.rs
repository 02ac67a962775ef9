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
use llmb_launch::{LoadStep, OfflineRun, Plan, PortChoice, ServerPlan, ServerRole};
use llmb_serve::engine::telemetry::{Scraper, ServerView};
use llmb_serve::engine::{self, EngineKind, EngineSpec, StopPolicy, StopSignal};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::jobs::tail;
use super::{bad, ExitStatus};
use crate::cli::launch::{PlanRankArgs, RunPlanArgs};

/// How long an engine may take to answer `/health` (override: `LLMB_READY_TIMEOUT_S`).
const READY_TIMEOUT: Duration = Duration::from_secs(300);
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

/// Where processes go: children here, or srun steps on the allocation's nodes.
struct Placement {
    /// Node names of the Slurm allocation (empty: run locally).
    nodes: Vec<String>,
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
                        Command::new(&plan.llmb)
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
                            .with_context(|| format!("cannot start {}", plan.llmb.display()))?
                    }
                };
                // Every other engine of the plan with Prometheus metrics is scraped while
                // the step runs (llmb bench scrapes its own target).
                let scrapers = scrape_servers(&running, step.target, placement);
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

    fn node_names(&self, s: &ServerPlan) -> anyhow::Result<Vec<String>> {
        self.names(&s.nodes, &s.name)
    }

    fn names(&self, nodes: &[u32], what: &str) -> anyhow::Result<Vec<String>> {
        nodes
            .iter()
            .map(|&i| {
                self.nodes.get(i as usize).cloned().with_context(|| {
                    format!(
                        "plan places {what} on node index {i} but the job has {} node(s)",
                        self.nodes.len()
                    )
                })
            })
            .collect()
    }

    /// Starts server `s` (index `si` of use case `ui`); `before` are the servers already
    /// started (a simulated frontend gets the URLs of those it waits for).
    fn start<'p>(
        &self,
        plan: &Plan,
        ui: usize,
        si: usize,
        s: &'p ServerPlan,
        before: &[Running<'_>],
    ) -> anyhow::Result<Running<'p>> {
        let port = match s.port {
            PortChoice::Fixed(p) => p,
            PortChoice::FromLog => 0,
            PortChoice::Pick => free_port()?,
        };
        let mut resolved = s.clone();
        if matches!(
            s.engine,
            EngineKind::DynamoFrontend | EngineKind::DynamoWorker { .. }
        ) {
            // Dynamo's processes find NATS and etcd on the node they were started on.
            for r in before {
                let at = format!("{}:{}", self.host_of(r.plan), r.plan.settings.port);
                match r.plan.engine {
                    EngineKind::Nats => {
                        resolved.settings.dynamo.nats_server = Some(format!("nats://{at}"))
                    }
                    EngineKind::Etcd => resolved.settings.dynamo.etcd_endpoints = Some(at),
                    _ => {}
                }
            }
        }
        let spec = resolved
            .engine_spec(port)
            .map_err(|e| bad(format!("server {}: {e}", s.name)))?;
        let mut args = spec.args.clone();
        args.extend(s.extra_args.iter().cloned());
        for &dep in &s.after {
            let d = before.get(dep).with_context(|| {
                format!(
                    "server {} waits for server {dep}, which is not started before it",
                    s.name
                )
            })?;
            let url = d.url.clone().context("a dependency has no URL")?;
            match d.plan.role {
                ServerRole::Prefill => args.extend(["--prefill".into(), url]),
                ServerRole::Decode => args.extend(["--decode".into(), url]),
                ServerRole::Aggregated | ServerRole::Frontend | ServerRole::ControlPlane => {}
            }
        }
        std::fs::create_dir_all(&s.workdir)
            .with_context(|| format!("cannot create {}", s.workdir.display()))?;
        for (name, text) in &spec.files {
            let path = s.workdir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        // Truncated: the port is read from this log, and a re-run must not find the last one.
        let log = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&s.log)
            .with_context(|| format!("cannot create engine log {}", s.log.display()))?;
        {
            let mut l = &log;
            let _ = writeln!(l, "# llmb run-plan: {} ({})", s.name, s.engine.name());
        }
        let program = program_of(plan, s, &spec);
        let mut cmd = if self.in_slurm() {
            let names = self.node_names(s)?;
            let mut c = Command::new("srun");
            c.arg(format!("--nodes={}", s.nodes.len()))
                .arg("-w")
                .arg(names.join(","))
                .args(["--overlap", "--kill-on-bad-exit=1", "--open-mode=append"])
                .arg(format!("--job-name={}", s.name))
                .arg(format!("--chdir={}", s.workdir.display()));
            if s.engine == EngineKind::Sim {
                // Every rank holds its place; rank 0 becomes the engine.
                c.arg(format!("--ntasks={}", s.ranks()))
                    .arg(format!("--ntasks-per-node={}", s.ranks_per_node))
                    .arg(&plan.llmb)
                    .arg("plan-rank")
                    .arg(plan.path())
                    .arg(ui.to_string())
                    .arg(si.to_string())
                    .arg("--")
                    .args(&args);
            } else {
                let mpi = uses_mpi(s);
                if mpi {
                    c.arg(format!("--ntasks={}", s.ranks()))
                        .arg(format!("--ntasks-per-node={}", s.ranks_per_node))
                        .arg("--mpi=pmix");
                } else {
                    c.arg(format!("--ntasks={}", s.nodes.len()))
                        .arg("--ntasks-per-node=1");
                }
                if let Some(image) = &spec.image {
                    let mut mounts = vec![plan.run_dir.clone(), plan.install_dir.clone()];
                    mounts.dedup();
                    c.arg(format!("--container-image={image}"))
                        .arg(format!(
                            "--container-mounts={}",
                            mounts
                                .iter()
                                .map(|m| format!("{0}:{0}", m.display()))
                                .collect::<Vec<_>>()
                                .join(",")
                        ))
                        .arg(format!("--container-workdir={}", s.workdir.display()));
                }
                if mpi && s.engine == EngineKind::TrtllmServe && s.nodes.len() > 1 {
                    c.arg("trtllm-llmapi-launch");
                }
                c.arg(&program).args(&args);
            }
            c
        } else {
            let mut c = Command::new(&program);
            c.args(&args).current_dir(&s.workdir);
            // Own process group: a terminal's Ctrl-C reaches run-plan, which stops it in
            // order; the whole group is signalled at stop, so helpers it forks stop too.
            c.process_group(0);
            die_with_parent(&mut c);
            c
        };
        cmd.envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start engine {} ({program})", s.name))?;
        say(&format!(
            "run-plan: started {} ({}){}",
            s.name,
            s.engine.name(),
            if port == 0 {
                String::new()
            } else {
                format!(" on port {port}")
            }
        ));
        Ok(Running {
            plan: s,
            spec,
            child,
            port: (port != 0).then_some(port),
            url: None,
            ready: false,
        })
    }
}

impl Placement {
    /// An offline engine step: writes the dataset when it is missing (`llmb dataset`), the
    /// engine's config files into the experiment folder, then starts the engine over its
    /// ranks (through srun inside a job, in its container when it has an image).
    async fn start_offline(
        &self,
        plan: &Plan,
        step: &LoadStep,
        o: &OfflineRun,
        bench_log: &Path,
        stop: &mut watch::Receiver<Option<&'static str>>,
    ) -> anyhow::Result<Child> {
        let spec = engine::spec(o.engine, &o.settings)
            .map_err(|e| bad(format!("step {}: {e}", step.name)))?;
        if !o.dataset.exists() {
            say(&format!(
                "run-plan: writing dataset {}",
                o.dataset.display()
            ));
            let log = std::fs::File::create(bench_log)?;
            let mut c = Command::new(&plan.llmb)
                .args(&o.dataset_args)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("cannot start {}", plan.llmb.display()))?;
            let st = interruptible(stop, c.wait()).await??;
            if !st.success() {
                anyhow::bail!(
                    "writing the dataset {} failed ({st}); last lines of {}:\n{}",
                    o.dataset.display(),
                    bench_log.display(),
                    tail(bench_log, LOG_TAIL).unwrap_or_default()
                );
            }
        }
        for (name, text) in &spec.files {
            let path = step.experiment_dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let log = std::fs::File::create(&o.log)
            .with_context(|| format!("cannot create {}", o.log.display()))?;
        let mut cmd = if self.in_slurm() {
            let names = self.names(&o.nodes, &step.name)?;
            let mut c = Command::new("srun");
            c.arg(format!("--nodes={}", o.nodes.len()))
                .arg("-w")
                .arg(names.join(","))
                .arg(format!(
                    "--ntasks={}",
                    o.ranks_per_node as usize * o.nodes.len()
                ))
                .arg(format!("--ntasks-per-node={}", o.ranks_per_node))
                .args(["--mpi=pmix", "--overlap", "--kill-on-bad-exit=1"])
                .arg(format!("--chdir={}", step.experiment_dir.display()));
            if let Some(image) = &spec.image {
                c.arg(format!("--container-image={image}"))
                    .arg(format!(
                        "--container-mounts={0}:{0}",
                        plan.install_dir.display()
                    ))
                    .arg(format!(
                        "--container-workdir={}",
                        step.experiment_dir.display()
                    ))
                    .arg("--container-writable")
                    .arg("--no-container-mount-home");
            }
            c.arg(&spec.program).args(&spec.args);
            c
        } else {
            let mut c = Command::new(&spec.program);
            c.args(&spec.args)
                .current_dir(&step.experiment_dir)
                .process_group(0);
            die_with_parent(&mut c);
            c
        };
        cmd.envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {} for step {}", spec.program, step.name))
    }
}

/// Reads the offline engine's report into the step's result files
/// (`llmb import trtllm-bench LOG --output-dir DIR`).
async fn import_offline(
    plan: &Plan,
    step: &LoadStep,
    o: &OfflineRun,
    bench_log: &Path,
) -> anyhow::Result<std::process::ExitStatus> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(bench_log)?;
    Command::new(&plan.llmb)
        .args(["import", "trtllm-bench"])
        .arg(&o.log)
        .arg("--output-dir")
        .arg(&step.experiment_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .await
        .with_context(|| format!("cannot run {} import", plan.llmb.display()))
}

/// Starts a scraper for each ready engine that exposes metrics, except the load target.
fn scrape_servers(
    running: &[Running<'_>],
    target: usize,
    placement: &Placement,
) -> Vec<(String, Scraper)> {
    running
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != target)
        .filter_map(|(_, r)| {
            let path = r.spec.metrics_path.clone()?;
            let port = r.port?;
            Some((
                r.plan.name.clone(),
                Scraper::start(
                    format!("{}:{port}", placement.host_of(r.plan)),
                    path,
                    r.spec.metric_names.clone(),
                    Duration::from_secs(1),
                ),
            ))
        })
        .collect()
}

/// `server_metrics_<server>.jsonl` per scraped engine and `servers.json` with each one's
/// summary, in the step's result folder.
async fn write_server_metrics(scrapers: Vec<(String, Scraper)>, dir: &Path) -> anyhow::Result<()> {
    if scrapers.is_empty() {
        return Ok(());
    }
    let mut views = serde_json::Map::new();
    for (name, sc) in scrapers {
        let scrapes = sc.finish().await;
        let mut lines = Vec::new();
        for x in &scrapes {
            serde_json::to_writer(&mut lines, x)?;
            lines.push(b'\n');
        }
        std::fs::write(dir.join(format!("server_metrics_{name}.jsonl")), lines)?;
        views.insert(
            name,
            serde_json::to_value(ServerView::from_scrapes(&scrapes))?,
        );
    }
    std::fs::write(
        dir.join("servers.json"),
        serde_json::to_vec_pretty(&serde_json::Value::Object(views))?,
    )?;
    Ok(())
}

/// The program to run: the simulator is this `llmb`; others as the adapter names them.
fn program_of(plan: &Plan, s: &ServerPlan, spec: &EngineSpec) -> String {
    if s.engine == EngineKind::Sim {
        plan.llmb.display().to_string()
    } else {
        spec.program.clone()
    }
}

/// TensorRT-LLM engines start one MPI rank per GPU when they span nodes; Dynamo's workers
/// always do (`trtllm-llmapi-launch`, reference 4.2).
fn uses_mpi(s: &ServerPlan) -> bool {
    match s.engine {
        EngineKind::DynamoWorker { .. } => true,
        EngineKind::TrtllmServe | EngineKind::TrtllmBench => s.nodes.len() > 1,
        _ => false,
    }
}

/// Asks the kernel for a free TCP port (for engines that cannot bind port 0 and report it).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind(("0.0.0.0", 0)).context("cannot find a free port")?;
    Ok(l.local_addr()?.port())
}

/// The child gets SIGKILL if run-plan dies without stopping it (e.g. `kill -9`).
fn die_with_parent(c: &mut Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Checks, before anything starts, that every engine of the plan can be started here: the
/// program exists (or, for a container image, that srun has pyxis's `--container-image`).
/// The message says which engine, what is missing and how to install it.
pub fn preflight(plan: &Plan, in_slurm: bool) -> Result<(), String> {
    let mut pyxis: Option<bool> = None;
    let mut engines = Vec::new();
    for (_, s) in plan.servers() {
        let spec = s
            .engine_spec(0)
            .map_err(|e| format!("server {}: {e}", s.name))?;
        engines.push((program_of(plan, s, &spec), spec));
    }
    for step in plan.use_cases.iter().flat_map(|u| &u.steps) {
        if let Some(o) = &step.offline {
            let spec = engine::spec(o.engine, &o.settings)
                .map_err(|e| format!("step {}: {e}", step.name))?;
            engines.push((spec.program.clone(), spec));
        }
    }
    for (program, spec) in engines {
        if let Some(image) = &spec.image {
            if !in_slurm {
                return Err(format!(
                    "{} runs in the container image {image}, which needs a Slurm cluster with the pyxis plugin (srun --container-image); submit with --launcher slurm, or use --engine sim to run without it",
                    spec.kind.name()
                ));
            }
            if !*pyxis.get_or_insert_with(srun_has_pyxis) {
                return Err(format!(
                    "{} runs in the container image {image}, but this cluster's srun has no --container-image: install enroot and the pyxis Slurm plugin (https://github.com/NVIDIA/pyxis), or use --engine sim",
                    spec.kind.name()
                ));
            }
        } else if find_program(&program).is_none() {
            return Err(format!(
                "{} needs `{program}`, which is not on PATH ({}); install it: {}",
                spec.kind.name(),
                std::env::var("PATH").unwrap_or_default(),
                spec.install_hint
            ));
        }
    }
    Ok(())
}

/// `srun --help` lists `--container-image` when the pyxis plugin is loaded.
fn srun_has_pyxis() -> bool {
    std::process::Command::new("srun")
        .arg("--help")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--container-image"))
}

/// An executable file: `program` itself when it holds a `/`, else the first on `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exe = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exe(&p).then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| is_exe(p))
    })
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

/// The first engine that has exited, if any.
fn any_exited(running: &mut [Running<'_>]) -> anyhow::Result<Option<String>> {
    for r in running {
        if let Some(e) = exited(r)? {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// Polls (with backoff) until server `i` is ready: its port known and its readiness probe
/// met. An engine without a probe of its own is ready once started (a Dynamo worker is
/// judged by the frontend's health, which lists it). Any engine exiting meanwhile fails.
async fn wait_ready(
    running: &mut [Running<'_>],
    i: usize,
    placement: &Placement,
) -> anyhow::Result<()> {
    if running.get(i).is_none_or(|r| r.ready) {
        return Ok(());
    }
    let timeout = std::env::var("LLMB_READY_TIMEOUT_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(READY_TIMEOUT, Duration::from_secs);
    let deadline = Instant::now() + timeout;
    let host = placement.host_of(running[i].plan);
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(e) = any_exited(running)? {
            anyhow::bail!("{e}");
        }
        let r = &mut running[i];
        let Some(probe) = r.spec.health.clone() else {
            r.url = r.port.map(|p| format!("http://{host}:{p}"));
            r.ready = true;
            return Ok(());
        };
        if r.port.is_none() {
            r.port = listening_port(&r.plan.log);
        }
        if let Some(p) = r.port {
            if let Some((code, body)) = http_get(&host, p, &probe.path).await {
                if probe.is_ready(code, &body) {
                    r.url = Some(format!("http://{host}:{p}"));
                    r.ready = true;
                    say(&format!(
                        "run-plan: {} ready at http://{host}:{p}",
                        r.plan.name
                    ));
                    return Ok(());
                }
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "engine {} not ready after {}s (GET {} on {host}:{}); last lines of {}:\n{}",
                r.plan.name,
                timeout.as_secs(),
                probe.path,
                r.port.map_or_else(|| "?".into(), |p| p.to_string()),
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

/// One `GET path` over HTTP/1.0: the status and (up to 64 KiB of) the body.
async fn http_get(host: &str, port: u16, path: &str) -> Option<(u16, String)> {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let req =
            format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        let _ = (&mut s).take(64 * 1024).read_to_end(&mut buf).await;
        let text = String::from_utf8_lossy(&buf);
        let code = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        Some((code, body.to_string()))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
}

/// The stop signal, up to the engine's grace, then SIGKILL. A local engine runs in its own
/// process group, which is signalled whole.
async fn terminate(child: &mut Child, policy: StopPolicy) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let sig = match policy.signal {
        StopSignal::Term => libc::SIGTERM,
        StopSignal::Int => libc::SIGINT,
    };
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) on our own child's pid (and its group, when it leads one), which
        // has not been reaped yet.
        unsafe {
            if libc::getpgid(pid) == pid {
                libc::kill(-pid, sig);
            } else {
                libc::kill(pid, sig);
            }
        }
    }
    if tokio::time::timeout(policy.grace, child.wait())
        .await
        .is_err()
    {
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: as above.
            unsafe {
                if libc::getpgid(pid) == pid {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
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
        use std::os::unix::process::CommandExt;
        let err = std::process::Command::new(&plan.llmb)
            .args(&a.engine_args)
            .exec();
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
