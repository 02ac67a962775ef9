//! Where and how each process of a plan starts: srun steps on the planned nodes (pyxis
//! flags for images, MPI ranks for TensorRT-LLM), or local children in their own process
//! group; ports, config files, Dynamo control-plane addresses, offline engine steps.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;
use llmb_engines::{self as engine, EngineKind, EngineSpec};
use llmb_settings::invalid as bad;
use llmb_tokenizer::{LengthSpec, Tokenizer};
use llmb_workload::dataset_writer::{self, DatasetFormat, DatasetSpec};
use llmb_workload::progress::Progress;

use super::child::{own_group, Proc};
use super::stop::Stop;
use super::{say, Running};
use crate::engines::ServerRole;
use crate::plan::{DatasetLengths, LoadStep, OfflineRun, Plan, PortChoice, ServerPlan};

/// Where processes go: children here, or srun steps on the allocation's nodes.
pub(super) struct Placement {
    /// Node names of the Slurm allocation (empty: run locally).
    pub(super) nodes: Vec<String>,
}

impl Placement {
    pub(super) fn detect() -> anyhow::Result<Placement> {
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
        if !self.in_slurm() && resolved.settings.host == "0.0.0.0" {
            // On this machine only: nothing outside it needs to reach the servers.
            resolved.settings.host = "127.0.0.1".into();
        }
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
    /// An offline engine step: writes the dataset when it is missing, the engine's config
    /// files into the experiment folder, then starts the engine over its ranks (through
    /// srun inside a job, in its container when it has an image).
    pub(super) fn start_offline(
        &self,
        plan: &Plan,
        step: &LoadStep,
        o: &OfflineRun,
        bench_log: &Path,
        stop: &Stop,
    ) -> anyhow::Result<Proc> {
        let spec = engine::spec(o.engine, &o.settings)
            .map_err(|e| bad(format!("step {}: {e}", step.name)))?;
        if !o.dataset.exists() {
            say(&format!(
                "run-plan: writing dataset {}",
                o.dataset.display()
            ));
            write_dataset(&o.dataset_lengths, &o.dataset, stop).map_err(|e| {
                let _ = std::fs::write(bench_log, format!("error: {e:#}\n"));
                e.context(format!(
                    "writing the dataset {} failed",
                    o.dataset.display()
                ))
            })?;
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
    ) -> anyhow::Result<Proc> {
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
            c.args(&p.args).current_dir(workdir);
            own_group(&mut c);
            c
        };
        Ok(Proc(
            cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?,
        ))
    }
}

/// Writes trtllm-bench's dataset (as `llmb dataset --format trtllm`, seed 0) to `path`
/// through a [`PartFile`](dataset_writer::PartFile). A stop signal abandons it.
fn write_dataset(d: &DatasetLengths, path: &Path, stop: &Stop) -> anyhow::Result<()> {
    let spec = DatasetSpec {
        format: DatasetFormat::Trtllm,
        num_requests: d.num_requests,
        isl: LengthSpec {
            mean: d.isl,
            stddev: 0.0,
        },
        osl: LengthSpec {
            mean: d.osl,
            stddev: 0.0,
        },
        seed: 0,
    };
    let tok = Tokenizer::load(d.tokenizer.as_deref().map(Path::new)).map_err(|e| {
        bad(format!(
            "tokenizer {}: {e}",
            d.tokenizer.as_deref().unwrap_or("(built-in)")
        ))
    })?;
    let (part, file) = dataset_writer::PartFile::create(path)
        .with_context(|| format!("cannot write {}.part", path.display()))?;
    let writer = std::thread::spawn(move || {
        let mut w = BufWriter::with_capacity(1 << 20, file);
        dataset_writer::write(&tok, &spec, &mut w, &Progress::default())?;
        w.flush().map_err(dataset_writer::DatasetWriteError::Io)
    });
    while !writer.is_finished() {
        if stop
            .wait_timeout(std::time::Duration::from_millis(50))
            .is_some()
        {
            // Dropping `part` removes it.
            stop.check()?;
        }
    }
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("the dataset writer panicked"))?
        .map_err(anyhow::Error::new)?;
    Ok(part.commit()?)
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
