//! Where and how each process of a plan starts: srun steps on the planned nodes (pyxis
//! flags for images, MPI ranks for TensorRT-LLM), or local children in their own process
//! group; ports, config files, Dynamo control-plane addresses, offline engine steps.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use anyhow::Context;
use llmb_engines::{self as engine, EngineKind, EngineSpec};
use llmb_launch::{LoadStep, OfflineRun, Plan, PortChoice, ServerPlan, ServerRole};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::*;
use crate::commands::bad;
use crate::commands::jobs::tail;

/// Where processes go: children here, or srun steps on the allocation's nodes.
pub(super) struct Placement {
    /// Node names of the Slurm allocation (empty: run locally).
    pub(super) nodes: Vec<String>,
}

impl Placement {
    pub(super) async fn detect() -> anyhow::Result<Placement> {
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

    pub(super) fn in_slurm(&self) -> bool {
        !self.nodes.is_empty()
    }

    pub(super) fn host_of(&self, s: &ServerPlan) -> String {
        s.nodes
            .first()
            .and_then(|&i| self.nodes.get(i as usize))
            .cloned()
            .unwrap_or_else(|| "127.0.0.1".into())
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
    pub(super) fn start<'p>(
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
        if s.engine == EngineKind::Etcd {
            // etcd advertises the address others reach it at.
            resolved.settings.host = self.host_of(s);
        }
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
                ServerRole::Aggregated
                | ServerRole::Frontend
                | ServerRole::MessageBus
                | ServerRole::Discovery => {}
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
        let process = if self.in_slurm() && s.engine == EngineKind::Sim {
            // Every rank holds its place (and records where it runs); rank 0 becomes the engine.
            let mut rank_args: Vec<String> = ["plan-rank".to_string()]
                .into_iter()
                .chain([
                    plan.path().display().to_string(),
                    ui.to_string(),
                    si.to_string(),
                ])
                .chain(["--".to_string()])
                .collect();
            rank_args.extend(args);
            Process {
                program: plan.llmb.display().to_string(),
                args: rank_args,
                tasks_per_node: s.ranks_per_node,
                mpi: false,
                image: None,
            }
        } else {
            let mpi = uses_mpi(s);
            let (program, args) = if mpi && s.engine == EngineKind::TrtllmServe && s.nodes.len() > 1
            {
                // Ranks on several nodes form one MPI session through TRT-LLM's wrapper.
                let mut a = vec![program.clone()];
                a.extend(args);
                ("trtllm-llmapi-launch".to_string(), a)
            } else {
                (program.clone(), args)
            };
            Process {
                program,
                args,
                tasks_per_node: if mpi { s.ranks_per_node } else { 1 },
                mpi,
                image: spec.image.as_deref(),
            }
        };
        let child = self
            .spawn(
                plan, &process, &s.nodes, &s.name, &s.workdir, &spec.env, log,
            )
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
    pub(super) async fn start_offline(
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
        let process = Process {
            program: spec.program.clone(),
            args: spec.args.clone(),
            tasks_per_node: o.ranks_per_node,
            mpi: true,
            image: spec.image.as_deref(),
        };
        self.spawn(
            plan,
            &process,
            &o.nodes,
            &step.name,
            &step.experiment_dir,
            &spec.env,
            log,
        )
        .with_context(|| format!("cannot start {} for step {}", spec.program, step.name))
    }
}

/// What one process of a plan runs and how many ranks it has per node.
struct Process<'a> {
    program: String,
    args: Vec<String>,
    /// Ranks per node (inside a Slurm job).
    tasks_per_node: u32,
    /// Ranks form one MPI job (`--mpi=pmix`).
    mpi: bool,
    /// Container image (pyxis), if any.
    image: Option<&'a str>,
}

impl Placement {
    /// Starts `p` in `workdir` with its output in `log`: inside a Slurm job as an srun step
    /// on the plan's `nodes` (with pyxis flags for an image; the install folder, which holds
    /// the run folder, is mounted); else as a local child in its own process group, so the
    /// whole group can be signalled at stop, that dies with run-plan.
    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &self,
        plan: &Plan,
        p: &Process<'_>,
        nodes: &[u32],
        name: &str,
        workdir: &Path,
        env: &[(String, String)],
        log: std::fs::File,
    ) -> anyhow::Result<Child> {
        let mut cmd = if self.in_slurm() {
            let names = self.names(nodes, name)?;
            let mut c = Command::new("srun");
            c.arg(format!("--nodes={}", nodes.len()))
                .arg("-w")
                .arg(names.join(","))
                .arg(format!(
                    "--ntasks={}",
                    p.tasks_per_node as usize * nodes.len()
                ))
                .arg(format!("--ntasks-per-node={}", p.tasks_per_node))
                .args(["--overlap", "--kill-on-bad-exit=1", "--open-mode=append"])
                .arg(format!("--job-name={name}"))
                .arg(format!("--chdir={}", workdir.display()));
            if p.mpi {
                c.arg("--mpi=pmix");
            }
            if let Some(image) = p.image {
                c.arg(format!("--container-image={image}"))
                    .arg(format!(
                        "--container-mounts={0}:{0}",
                        plan.install_dir.display()
                    ))
                    .arg(format!("--container-workdir={}", workdir.display()))
                    .args(["--container-writable", "--no-container-mount-home"]);
            }
            c.arg(&p.program).args(&p.args);
            c
        } else {
            let mut c = Command::new(&p.program);
            c.args(&p.args).current_dir(workdir).process_group(0);
            die_with_parent(&mut c);
            c
        };
        Ok(cmd
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?)
    }
}

/// Reads the offline engine's report into the step's result files
/// (`llmb import trtllm-bench LOG --output-dir DIR`).
pub(super) async fn import_offline(
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

/// The program to run: the simulator is this `llmb`; others as the adapter names them.
pub(super) fn program_of(plan: &Plan, s: &ServerPlan, spec: &EngineSpec) -> String {
    if s.engine == EngineKind::Sim {
        plan.llmb.display().to_string()
    } else {
        spec.program.clone()
    }
}

/// TensorRT-LLM engines start one MPI rank per GPU when they span nodes; Dynamo's workers
/// always do (`trtllm-llmapi-launch`, reference 4.2).
pub(super) fn uses_mpi(s: &ServerPlan) -> bool {
    match s.engine {
        EngineKind::DynamoWorker { .. } => true,
        EngineKind::TrtllmServe | EngineKind::TrtllmBench => s.nodes.len() > 1,
        _ => false,
    }
}

/// Asks the kernel for a free TCP port (for engines that cannot bind port 0 and report it).
pub(super) fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind(("0.0.0.0", 0)).context("cannot find a free port")?;
    Ok(l.local_addr()?.port())
}

/// The child gets SIGKILL if run-plan dies without stopping it (e.g. `kill -9`).
pub(super) fn die_with_parent(c: &mut Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}
