//! The plan: a validated [`RunSpec`] resolved into processes, placement and load steps, saved
//! as `plan.json` in the run folder. Both launchers (Slurm and local) execute the same plan
//! with `llmb run-plan`.
//!
//! Pure: building a plan reads no files and starts nothing. The caller picks the run stamp
//! (and makes sure the run folder does not exist yet), so a repeat never overwrites results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llmb_engines::{self as engine, EngineError, EngineKind, EngineSettings, EngineSpec};
use llmb_recipe::{Concurrency, Dtype, GpuType, LoadStyle, RunSpec};
use llmb_settings::{BenchSettings, ReportFormat, ServerKind};
use serde::{Deserialize, Serialize};

use crate::engines::{self as eng, ServerRole};

/// The plan format version written into `plan.json`.
pub const PLAN_VERSION: u32 = 4;

/// Everything `llmb run-plan` needs, self-contained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// Workload key (`inference_llama3.3`).
    pub workload: String,
    /// Model size (`70b`).
    pub model_size: String,
    /// Dtype (`nvfp4`).
    pub dtype: Dtype,
    /// Total GPUs.
    pub scale: u32,
    /// Cluster GPU type.
    pub gpu_type: GpuType,
    /// Slurm job name (`-J`).
    pub job_name: String,
    /// Nodes of the allocation.
    pub nodes: u32,
    /// Tasks (GPU ranks) per node.
    pub ntasks_per_node: u32,
    /// GPUs per node of the cluster.
    pub gpus_per_node: u32,
    /// Slurm `--time` (`HH:MM:SS`), `None` = partition default.
    pub time_limit: Option<String>,
    /// Slurm `--exclusive`.
    pub exclusive: bool,
    /// `$LLMB_INSTALL`.
    pub install_dir: PathBuf,
    /// The run folder: plan.json, the job log, engine logs, run_status.json.
    pub run_dir: PathBuf,
    /// The run stamp shared by the run folder and every experiment folder.
    pub stamp: String,
    /// The `llmb` executable that runs the plan and the load.
    pub llmb: PathBuf,
    /// The recipe's engine.
    pub recipe_engine: llmb_recipe::EngineKind,
    /// Container image of the recipe's engine for this GPU type.
    pub image: Option<String>,
    /// Whether every engine is replaced by the embedded simulator (`--engine sim`).
    pub simulated: bool,
    /// Use cases in order: each starts its servers, runs its load steps, stops its servers
    /// (the seeds restart the engine per use case, so per-use-case engine knobs apply).
    pub use_cases: Vec<UseCasePlan>,
}

/// One use case: its servers and its load steps (one per concurrency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UseCasePlan {
    /// `chat`.
    pub name: String,
    /// Input tokens.
    pub isl: u32,
    /// Output tokens.
    pub osl: u32,
    /// Engine processes for this use case.
    pub servers: Vec<ServerPlan>,
    /// Load steps, run one after another against `servers[target]`.
    pub steps: Vec<LoadStep>,
}

/// How a server's port is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortChoice {
    /// This port (control planes and frontends the recipe pins, e.g. Dynamo's 8000).
    Fixed(u16),
    /// The engine binds port 0 and prints `listening on http://HOST:PORT`; `run-plan` reads
    /// the port from the log (the simulator).
    FromLog,
    /// `run-plan` picks a free port when it starts the engine (real engines).
    Pick,
}

/// One model instance (server) and where its ranks run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerPlan {
    /// `chat-server0`, `chat-prefill1`, `chat-frontend`.
    pub name: String,
    /// Its part in the deployment.
    pub role: ServerRole,
    /// The engine it runs.
    pub engine: EngineKind,
    /// The engine's settings; the port is filled in at start (see `port`).
    pub settings: EngineSettings,
    /// Arguments appended to the engine's command line as given (`SIM_ARGS` for the simulator).
    pub extra_args: Vec<String>,
    /// Node indices (0-based, into the allocation's node list) this server spans.
    pub nodes: Vec<u32>,
    /// Ranks per node.
    pub ranks_per_node: u32,
    /// GPUs the server uses (0 for a frontend), for per-GPU accounting.
    pub gpus: u32,
    /// How its port is decided.
    pub port: PortChoice,
    /// Servers (indices in the use case) that must be ready before this one starts. A
    /// simulated frontend is also given their URLs (`--prefill URL`, `--decode URL`).
    pub after: Vec<usize>,
    /// The server's log file.
    pub log: PathBuf,
    /// Its working folder: generated config files are written here and the engine starts here.
    pub workdir: PathBuf,
}

impl ServerPlan {
    /// Total ranks.
    pub fn ranks(&self) -> u32 {
        self.ranks_per_node * u32::try_from(self.nodes.len()).unwrap_or(u32::MAX)
    }

    /// The adapter's spec for this server with `port` (what `run-plan` starts).
    pub fn engine_spec(&self, port: u16) -> Result<EngineSpec, EngineError> {
        let mut s = self.settings.clone();
        s.port = port;
        engine::spec(self.engine, &s)
    }

    /// The command line for humans (`--dry-run`, `plan.json` readers), with the port the
    /// engine will get (`PORT` when `run-plan` picks it).
    pub fn command_line(&self) -> Result<String, EngineError> {
        let port = match self.port {
            PortChoice::Fixed(p) => p,
            PortChoice::FromLog | PortChoice::Pick => 0,
        };
        let spec = self.engine_spec(port)?;
        let mut line = spec.command_line();
        for a in &self.extra_args {
            line.push(' ');
            line.push_str(a);
        }
        if self.port == PortChoice::Pick {
            line = line
                .replace("--port 0", "--port PORT")
                .replace("--http-port 0", "--http-port PORT");
        }
        Ok(line)
    }
}

/// One sweep point: `llmb bench` against a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadStep {
    /// `chat-c-1`.
    pub name: String,
    /// Concurrency (`-1` = no client limit).
    pub concurrency: i64,
    /// Index into the use case's servers; `--url` is added when it is ready.
    pub target: usize,
    /// Result folder of this point.
    pub experiment_dir: PathBuf,
    /// The benchmark, as typed settings (`url` is filled in when the target is ready).
    pub bench: BenchSettings,
    /// An offline engine (trtllm-bench) that is its own load generator: run it instead of
    /// `llmb bench`, then import its report into the same result files.
    pub offline: Option<OfflineRun>,
}

/// What an offline step's dataset holds: trtllm-bench's JSONL of `num_requests` requests
/// of exactly `isl` random token ids each, asking `osl` tokens (`llmb dataset --format
/// trtllm`, seed 0), under `tokenizer` (`None`: the built-in one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetLengths {
    /// Input tokens per request.
    pub isl: u64,
    /// Output tokens asked per request.
    pub osl: u64,
    /// Lines.
    pub num_requests: u64,
    /// Tokenizer file, folder or name.
    pub tokenizer: Option<String>,
}

impl DatasetLengths {
    /// The `llmb dataset` command that writes the same file to `path`.
    pub fn command_line(&self, path: &Path) -> String {
        let mut c = format!(
            "llmb dataset --format trtllm --isl {} --osl {} --num-requests {} --output {}",
            self.isl,
            self.osl,
            self.num_requests,
            path.display()
        );
        if let Some(t) = &self.tokenizer {
            c.push_str(&format!(" --tokenizer {t}"));
        }
        c
    }
}

/// An offline benchmark run (reference 2.2): the dataset it needs, the engine, its ranks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineRun {
    /// The engine (`trtllm-bench`).
    pub engine: EngineKind,
    /// Its settings (dataset, requests, concurrency included).
    pub settings: EngineSettings,
    /// Node indices it spans.
    pub nodes: Vec<u32>,
    /// Ranks per node.
    pub ranks_per_node: u32,
    /// How to write the dataset when it is missing.
    pub dataset_lengths: DatasetLengths,
    /// The dataset file (`workloads/<key>/dataset_<use case>_<isl>_<osl>.txt`, as the seeds).
    pub dataset: PathBuf,
    /// The engine's stdout (`<LOG_NAME>_streaming-on.out` in the experiment folder).
    pub log: PathBuf,
}

/// Choices made at submit time.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// `$LLMB_INSTALL`.
    pub install_dir: PathBuf,
    /// The `llmb` executable (absolute).
    pub llmb: PathBuf,
    /// Run stamp (`20250602-091407`, plus `-N` when that one is taken).
    pub stamp: String,
    /// Replace the engine with the simulator.
    pub sim: bool,
    /// Extra `llmb serve sim` arguments (`SIM_ARGS`), appended as given.
    pub sim_args: Vec<String>,
}

/// `$LLMB_INSTALL/workloads/<key>`.
pub fn workload_dir(install: &Path, key: &str) -> PathBuf {
    install.join("workloads").join(key)
}

/// `run_status.json` in a run folder: how `llmb run-plan` ended, written by the executor
/// and read by `llmb jobs`.
pub fn status_path(run_dir: &Path) -> PathBuf {
    run_dir.join("run_status.json")
}

/// The run folder: `workloads/<key>/experiments/<key>_<size>_<dtype>_gpus<scale>/<stamp>`.
pub fn run_dir(install: &Path, spec: &RunSpec, stamp: &str) -> PathBuf {
    workload_dir(install, &spec.workload_key)
        .join("experiments")
        .join(format!(
            "{}_{}_{}_gpus{}",
            spec.workload_key, spec.model_size, spec.dtype, spec.scale
        ))
        .join(stamp)
}

/// The model's short name for folder names: the served name (the seeds' `MODEL_CARD`,
/// `Llama3.3-70B`), else the last part of the weights repository.
pub fn model_short_name(spec: &RunSpec) -> String {
    let name = spec
        .model
        .as_ref()
        .map(|m| m.served_name.clone().unwrap_or_else(|| m.hf_repo.clone()))
        .unwrap_or_else(|| spec.recipe.model.name.clone());
    let last = name.rsplit('/').next().unwrap_or(&name);
    last.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `workloads/<key>/experiments/<MODEL>_TP<tp>_EP<ep>_PP<pp>_CON<c>_<usecase>/<stamp>`.
pub fn experiment_dir(
    install: &Path,
    spec: &RunSpec,
    use_case: &str,
    concurrency: i64,
    stamp: &str,
) -> PathBuf {
    let p = spec.parallelism;
    workload_dir(install, &spec.workload_key)
        .join("experiments")
        .join(format!(
            "{}_TP{}_EP{}_PP{}_CON{concurrency}_{use_case}",
            model_short_name(spec),
            p.tp,
            p.ep,
            p.pp
        ))
        .join(stamp)
}

/// The report format of a load style (`llmb bench --format`).
pub fn report_format(style: LoadStyle) -> ReportFormat {
    match style {
        LoadStyle::TrtllmBench => ReportFormat::Trtllm,
        LoadStyle::GenaiPerf => ReportFormat::GenaiPerf,
        LoadStyle::BenchmarkServing => ReportFormat::Serving,
    }
}

/// Resolves `spec` into a plan.
///
/// # Errors
/// A server's engine cannot be configured from the recipe (a missing model, image or
/// setting); the message names the engine, what is missing and the fix.
pub fn build(spec: &RunSpec, opts: &PlanOptions) -> Result<Plan, EngineError> {
    let run_dir = run_dir(&opts.install_dir, spec, &opts.stamp);
    let mut use_cases = Vec::new();
    let offline = !opts.sim && spec.engine == llmb_recipe::EngineKind::TrtllmBench;
    for uc in &spec.use_cases {
        let servers = if offline {
            Vec::new()
        } else {
            servers(spec, uc, opts, &run_dir)
        };
        for s in &servers {
            // Render once now: a recipe an adapter cannot configure fails at submit, not in the job.
            s.engine_spec(1)?;
        }
        // The load goes to the frontend in a disaggregated layout, else to the first server.
        let target = servers
            .iter()
            .position(|s| s.role == ServerRole::Frontend)
            .unwrap_or(0);
        let decode_servers = spec
            .disaggregated
            .as_ref()
            .map_or(1, |d| d.decode.servers.max(1));
        let decode_gpus = spec
            .disaggregated
            .as_ref()
            .map(|d| d.decode.servers * d.decode.gpus_per_server);
        let mut steps = Vec::new();
        for c in &uc.concurrency {
            let c_total = match (c, &spec.disaggregated) {
                (Concurrency::Limit(n), Some(d)) if d.concurrency_per_decode_server => {
                    Concurrency::Limit(n * decode_servers)
                }
                _ => *c,
            };
            let con = c_total.as_i64();
            let dir = experiment_dir(&opts.install_dir, spec, &uc.name, con, &opts.stamp);
            let bench = bench_settings(spec, uc, c_total, &dir, opts.sim, decode_gpus);
            let offline = offline.then(|| offline_run(spec, uc, c_total, &dir, opts));
            if let Some(o) = &offline {
                engine::spec(o.engine, &o.settings)?;
            }
            steps.push(LoadStep {
                name: format!("{}-c{con}", uc.name),
                concurrency: con,
                target,
                bench,
                experiment_dir: dir,
                offline,
            });
        }
        use_cases.push(UseCasePlan {
            name: uc.name.clone(),
            isl: uc.isl,
            osl: uc.osl,
            servers,
            steps,
        });
    }
    Ok(Plan {
        version: PLAN_VERSION,
        workload: spec.workload_key.clone(),
        model_size: spec.model_size.clone(),
        dtype: spec.dtype,
        scale: spec.scale,
        gpu_type: spec.gpu_type.clone(),
        job_name: spec.slurm.job_name.clone(),
        nodes: spec.nodes,
        ntasks_per_node: spec.ntasks_per_node,
        gpus_per_node: spec.gpus_per_node,
        time_limit: spec.slurm.time_limit.map(|t| t.to_string()),
        exclusive: spec.slurm.exclusive,
        install_dir: opts.install_dir.clone(),
        run_dir,
        stamp: opts.stamp.clone(),
        llmb: opts.llmb.clone(),
        recipe_engine: spec.engine,
        image: spec.container_image.clone(),
        simulated: opts.sim,
        use_cases,
    })
}

/// The servers of one use case, in start order: model instances in contiguous node blocks
/// (prefill pools first, reference 4.2), then a disaggregated layout's frontend on node 0.
fn servers(
    spec: &RunSpec,
    uc: &llmb_recipe::ResolvedUseCase,
    opts: &PlanOptions,
    run_dir: &Path,
) -> Vec<ServerPlan> {
    let groups: Vec<(ServerRole, u32, u32)> = match &spec.disaggregated {
        Some(d) => vec![
            (
                ServerRole::Prefill,
                d.prefill.servers,
                d.prefill.gpus_per_server,
            ),
            (
                ServerRole::Decode,
                d.decode.servers,
                d.decode.gpus_per_server,
            ),
        ],
        None => vec![(ServerRole::Aggregated, 1, spec.scale)],
    };
    let mut servers = Vec::new();
    let mut next_node = 0u32;
    let plan_server = |role: ServerRole, name: String, nodes: Vec<u32>, ranks_per_node, gpus| {
        let engine = eng::engine_kind(spec, role, opts.sim);
        let settings = eng::settings(spec, uc, role, engine, &opts.install_dir);
        let port = if engine == EngineKind::Sim {
            PortChoice::FromLog
        } else if settings.port != 0 {
            PortChoice::Fixed(settings.port)
        } else {
            PortChoice::Pick
        };
        ServerPlan {
            log: run_dir.join(format!("{name}.log")),
            workdir: run_dir.join(&name),
            name,
            role,
            engine,
            settings,
            extra_args: if engine == EngineKind::Sim {
                opts.sim_args.clone()
            } else {
                Vec::new()
            },
            nodes,
            ranks_per_node,
            gpus,
            port,
            after: Vec::new(),
        }
    };
    if spec.disaggregated.is_some() && !opts.sim {
        // Dynamo's control plane on the first node, before anything that registers with it.
        for (part, role) in [
            ("nats", ServerRole::MessageBus),
            ("etcd", ServerRole::Discovery),
        ] {
            servers.push(plan_server(
                role,
                format!("{}-{part}", uc.name),
                vec![0],
                1,
                0,
            ));
        }
    }
    for (role, count, gpus) in &groups {
        for i in 0..*count {
            let span = gpus.div_ceil(spec.gpus_per_node).max(1);
            let nodes: Vec<u32> = (next_node..next_node + span).collect();
            next_node += span;
            let ranks_per_node = (*gpus).min(spec.gpus_per_node).max(1);
            let name = if *role == ServerRole::Aggregated {
                format!("{}-server{i}", uc.name)
            } else {
                format!("{}-{}{i}", uc.name, role.as_str())
            };
            servers.push(plan_server(*role, name, nodes, ranks_per_node, *gpus));
        }
    }
    if spec.disaggregated.is_some() {
        let workers: Vec<usize> = (0..servers.len())
            .filter(|&i| {
                !matches!(
                    servers[i].role,
                    ServerRole::MessageBus | ServerRole::Discovery
                )
            })
            .collect();
        let mut frontend = plan_server(
            ServerRole::Frontend,
            format!("{}-frontend", uc.name),
            vec![0],
            1,
            0,
        );
        if frontend.engine == EngineKind::Sim {
            // The simulated frontend is told its workers' URLs, so they start first.
            frontend.after = workers;
        }
        servers.push(frontend);
    }
    servers
}

/// The offline run of one sweep point: the request count `llmb bench` would send, the
/// seeds' dataset file (written with the recipe's tokenizer when missing), the ranks.
fn offline_run(
    spec: &RunSpec,
    uc: &llmb_recipe::ResolvedUseCase,
    c: Concurrency,
    dir: &Path,
    opts: &PlanOptions,
) -> OfflineRun {
    let mut settings = eng::settings(
        spec,
        uc,
        ServerRole::Aggregated,
        EngineKind::TrtllmBench,
        &opts.install_dir,
    );
    let requests = measured_requests(spec, uc, c);
    let dataset = workload_dir(&opts.install_dir, &spec.workload_key)
        .join(format!("dataset_{}_{}_{}.txt", uc.name, uc.isl, uc.osl));
    settings.bench.dataset = Some(dataset.display().to_string());
    settings.bench.num_requests = requests;
    settings.bench.concurrency = Some(c.as_i64());
    settings.bench.streaming = spec.streaming;
    let dataset_lengths = DatasetLengths {
        isl: u64::from(uc.isl),
        osl: u64::from(uc.osl),
        num_requests: requests.unwrap_or(50_000).max(50_000),
        tokenizer: eng::tokenizer(spec).or_else(|| settings.model.clone()),
    };
    let name = dir
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    OfflineRun {
        engine: EngineKind::TrtllmBench,
        settings,
        nodes: (0..spec.nodes).collect(),
        ranks_per_node: spec.ntasks_per_node,
        dataset_lengths,
        dataset,
        log: dir.join(format!(
            "{name}_streaming-{}.out",
            if spec.streaming { "on" } else { "off" }
        )),
    }
}

/// Measured requests of one sweep point: the use case's count, else concurrency × the
/// recipe's requests per concurrency (at least its minimum); `None` leaves it to
/// `--multi-round` or the tool's default.
fn measured_requests(
    spec: &RunSpec,
    uc: &llmb_recipe::ResolvedUseCase,
    c: Concurrency,
) -> Option<u64> {
    let load = &spec.load;
    match (uc.num_requests, c) {
        (Some(n), _) => Some(n),
        (None, Concurrency::Limit(n)) => load
            .requests_per_concurrency
            .map(|k| (u64::from(n) * u64::from(k)).max(load.min_requests.unwrap_or(0))),
        (None, Concurrency::Unbounded) => None,
    }
}

/// The load step's benchmark: the use case's lengths, the point's concurrency and request
/// counts, the recipe's accounting and report, quiet (its output goes to the step's log).
fn bench_settings(
    spec: &RunSpec,
    uc: &llmb_recipe::ResolvedUseCase,
    c: Concurrency,
    dir: &Path,
    sim: bool,
    decode_gpus: Option<u32>,
) -> BenchSettings {
    let load = &spec.load;
    let num_requests = measured_requests(spec, uc, c);
    BenchSettings {
        isl: i64::from(uc.isl),
        osl: i64::from(uc.osl),
        num_requests,
        multi_round: match (num_requests, load.multi_round, c) {
            (None, Some(k), Concurrency::Limit(_)) => Some(u64::from(k)),
            _ => None,
        },
        warmup: match (load.warmup_requests_per_concurrency, c) {
            (Some(k), Concurrency::Limit(n)) => u64::from(n) * u64::from(k),
            _ => 0,
        },
        concurrency: vec![c.as_i64()],
        output_dir: Some(dir.to_path_buf()),
        gpus: u64::from(spec.scale),
        decode_gpus: decode_gpus.map(u64::from),
        format: report_format(spec.load_style),
        server: bench_server(spec.engine)
            .filter(|_| !sim)
            .unwrap_or(ServerKind::Generic),
        // On the simulator a tokenizer named by hub id (not a file here) gives way to the
        // built-in one the simulator counts with: nothing can fetch it.
        tokenizer: eng::tokenizer(spec)
            .map(PathBuf::from)
            .filter(|t| !sim || t.exists()),
        stream: spec.streaming,
        endpoint: match spec.recipe.load.endpoint {
            llmb_recipe::Endpoint::Completions => llmb_settings::Endpoint::Completions,
            llmb_recipe::Endpoint::Chat => llmb_settings::Endpoint::Chat,
        },
        ..BenchSettings::default()
    }
}

/// Which request knobs the engine understands.
fn bench_server(engine: llmb_recipe::EngineKind) -> Option<ServerKind> {
    use llmb_recipe::EngineKind as E;
    match engine {
        E::TrtllmServe => Some(ServerKind::Trtllm),
        E::Nim => Some(ServerKind::Nim),
        E::DynamoTrtllm => Some(ServerKind::Dynamo),
        E::Vllm => Some(ServerKind::Vllm),
        E::Sglang => Some(ServerKind::Sglang),
        E::LlamaCpp => Some(ServerKind::Llamacpp),
        E::TrtllmBench | E::Sim => None,
    }
}

impl Plan {
    /// Every server, with its use case.
    pub fn servers(&self) -> impl Iterator<Item = (&UseCasePlan, &ServerPlan)> {
        self.use_cases
            .iter()
            .flat_map(|u| u.servers.iter().map(move |s| (u, s)))
    }

    /// Every engine process of the plan as it will start: command line, placement, image,
    /// environment and generated files (`--dry-run` prints this; snapshot tests pin it).
    ///
    /// # Errors
    /// An engine the adapters cannot configure.
    pub fn describe_engines(&self) -> Result<String, EngineError> {
        use std::fmt::Write;
        let mut t = String::new();
        let spec_text = |t: &mut String, spec: &EngineSpec| {
            for (k, v) in &spec.env {
                let _ = writeln!(t, "  env {k}={v}");
            }
            if let Some(h) = &spec.health {
                let _ = writeln!(t, "  ready: GET {} {:?}", h.path, h.expect);
            }
            for (name, text) in &spec.files {
                let _ = writeln!(t, "  file {name}:");
                for l in text.lines() {
                    let _ = writeln!(t, "    {l}");
                }
            }
        };
        for (uc, s) in self.servers() {
            let spec = s.engine_spec(0)?;
            let nodes: Vec<String> = s.nodes.iter().map(u32::to_string).collect();
            let _ = writeln!(
                t,
                "server {} [{}: {}, {} GPU(s), nodes {}, {} rank(s)/node{}]",
                s.name,
                uc.name,
                s.engine.name(),
                s.gpus,
                nodes.join(","),
                s.ranks_per_node,
                spec.image
                    .as_deref()
                    .map(|i| format!(", image {i}"))
                    .unwrap_or_default()
            );
            let _ = writeln!(t, "  $ {}", s.command_line()?);
            if !s.after.is_empty() {
                let names: Vec<&str> = s
                    .after
                    .iter()
                    .filter_map(|&i| uc.servers.get(i).map(|d| d.name.as_str()))
                    .collect();
                let _ = writeln!(
                    t,
                    "  starts when ready: {} (their URLs are added as --prefill/--decode)",
                    names.join(", ")
                );
            }
            spec_text(&mut t, &spec);
        }
        for step in self.use_cases.iter().flat_map(|u| &u.steps) {
            if let Some(o) = &step.offline {
                let spec = engine::spec(o.engine, &o.settings)?;
                let _ = writeln!(
                    t,
                    "offline {} [{}, nodes 0-{}, {} rank(s)/node{}]",
                    step.name,
                    o.engine.name(),
                    o.nodes.len().saturating_sub(1),
                    o.ranks_per_node,
                    spec.image
                        .as_deref()
                        .map(|i| format!(", image {i}"))
                        .unwrap_or_default()
                );
                let _ = writeln!(t, "  $ {}", spec.command_line());
                let _ = writeln!(
                    t,
                    "  dataset (when missing): {}",
                    o.dataset_lengths.command_line(&o.dataset)
                );
                spec_text(&mut t, &spec);
            }
        }
        Ok(t)
    }

    /// `plan.json` in the run folder.
    pub fn path(&self) -> PathBuf {
        self.run_dir.join("plan.json")
    }

    /// `run_status.json`: how `llmb run-plan` ended ([`status_path`]).
    pub fn status_path(&self) -> PathBuf {
        status_path(&self.run_dir)
    }

    /// The local launcher's job log (run-plan's output).
    pub fn local_log_path(&self) -> PathBuf {
        self.run_dir.join("job.log")
    }

    /// Slurm's output file of job `id` (the script's `--output`).
    pub fn slurm_log_path(&self, id: &str) -> PathBuf {
        self.run_dir.join(format!("slurm-{id}.out"))
    }

    /// The sbatch script's path in the run folder.
    pub fn script_path(&self) -> PathBuf {
        self.run_dir.join("launch.sbatch")
    }

    /// The Slurm job log (`%j` is the job id).
    pub fn slurm_log_pattern(&self) -> PathBuf {
        self.run_dir.join("slurm-%j.out")
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // A plan holds only strings, numbers and paths: serialization cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses `plan.json`; `file` names it in the error.
    pub fn from_json(text: &str, file: &str) -> Result<Plan, String> {
        let plan: Plan = serde_json::from_str(text).map_err(|e| {
            format!("{file}: not a plan written by `llmb submit` ({e}); submit the run again")
        })?;
        if plan.version != PLAN_VERSION {
            return Err(format!(
                "{file}: plan version {} is not supported by this llmb (expects {PLAN_VERSION}); submit the run again",
                plan.version
            ));
        }
        Ok(plan)
    }

    /// Use-case names, space separated, for the job record.
    pub fn use_case_names(&self) -> String {
        self.use_cases
            .iter()
            .map(|u| format!("{}:{}/{}", u.name, u.isl, u.osl))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Node index → ranks placed there, over all servers of the first use case (a summary
    /// for humans and tests).
    pub fn placement(&self) -> BTreeMap<u32, u32> {
        let mut m = BTreeMap::new();
        if let Some(u) = self.use_cases.first() {
            for s in u.servers.iter().filter(|s| s.gpus > 0) {
                for n in &s.nodes {
                    *m.entry(*n).or_insert(0) += s.ranks_per_node;
                }
            }
        }
        m
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use llmb_recipe::{builtin, Catalog, GpuType, RunRequest, ValidateContext};

    pub(crate) fn spec(w: &str, size: &str, dtype: &str, scale: u32, gpu: GpuType) -> RunSpec {
        spec_env(w, size, dtype, scale, gpu, &[])
    }

    pub(crate) fn spec_env(
        w: &str,
        size: &str,
        dtype: &str,
        scale: u32,
        gpu: GpuType,
        env: &[(&str, &str)],
    ) -> RunSpec {
        let mut c = Catalog::new();
        c.extend_source(builtin().unwrap()).unwrap();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        llmb_recipe::validate(
            &RunRequest {
                workload: w.into(),
                model_size: size.into(),
                dtype: dtype.into(),
                scale,
                ..RunRequest::default()
            },
            &ValidateContext {
                catalog: &c,
                installed: None,
                gpu_type: &gpu,
                gpus_per_node: None,
                env: &env,
                force: false,
            },
        )
        .unwrap()
    }

    pub(crate) fn opts(sim: bool) -> PlanOptions {
        PlanOptions {
            install_dir: "/lustre/llmb".into(),
            llmb: "/opt/llmb/bin/llmb".into(),
            stamp: "20250602-091407".into(),
            sim,
            sim_args: vec![],
        }
    }

    #[test]
    fn llama33_chat_on_sim() {
        let s = spec_env(
            "inference_llama3.3",
            "70b",
            "nvfp4",
            1,
            GpuType::Gb200,
            &[("USE_CASES", "chat:128/128"), ("NUM_REQUESTS", "40")],
        );
        let p = build(&s, &opts(true)).unwrap();
        assert_eq!(
            p.run_dir,
            Path::new("/lustre/llmb/workloads/inference_llama3.3/experiments/inference_llama3.3_70b_nvfp4_gpus1/20250602-091407")
        );
        let uc = &p.use_cases[0];
        assert_eq!(uc.servers.len(), 1);
        assert_eq!(uc.servers[0].engine, EngineKind::Sim);
        assert_eq!(uc.servers[0].port, PortChoice::FromLog);
        assert_eq!(
            uc.servers[0].command_line().unwrap(),
            "llmb serve sim --host 0.0.0.0 --port 0 --model Llama3.3-70B --max-batch-size 4096 --max-num-tokens 8192 --stream-interval 4"
        );
        let step = &uc.steps[0];
        assert_eq!(
            step.experiment_dir,
            Path::new("/lustre/llmb/workloads/inference_llama3.3/experiments/Llama3.3-70B_TP1_EP1_PP1_CON-1_chat/20250602-091407")
        );
        assert_eq!(
            step.bench,
            BenchSettings {
                isl: 128,
                osl: 128,
                num_requests: Some(40),
                concurrency: vec![-1],
                output_dir: Some(step.experiment_dir.clone()),
                gpus: 1,
                format: ReportFormat::Trtllm,
                ..BenchSettings::default()
            }
        );
        let back = Plan::from_json(&p.to_json(), "plan.json").unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn llama4_one_instance_over_two_nodes() {
        let s = spec("inference_llama4", "17b", "fp8", 8, GpuType::Gb200);
        let p = build(&s, &opts(true)).unwrap();
        let srv = &p.use_cases[0].servers[0];
        assert_eq!((srv.nodes.clone(), srv.ranks_per_node), (vec![0, 1], 4));
        assert_eq!(srv.ranks(), 8);
        assert_eq!(p.placement(), BTreeMap::from([(0, 4), (1, 4)]));
        assert!(p.use_cases[0].steps[0]
            .experiment_dir
            .to_string_lossy()
            .contains("_TP8_EP8_PP1_CON-1_reasoning"));
    }

    #[test]
    fn deepseek_pools_fill_eight_nodes() {
        let s = spec(
            "inference_deepseek-r1-dynamo",
            "671b",
            "nvfp4",
            32,
            GpuType::Gb200,
        );
        let p = build(&s, &opts(false)).unwrap();
        let u = &p.use_cases[0];
        // NATS and etcd on node 0, 6 prefill (one node each), 1 decode over nodes 6-7, the
        // frontend on node 0.
        assert_eq!(u.servers.len(), 10);
        assert_eq!(u.servers[0].engine, EngineKind::Nats);
        assert_eq!(u.servers[1].port, PortChoice::Fixed(2379));
        assert_eq!(p.placement().len(), 8);
        assert_eq!(u.servers[8].role, ServerRole::Decode);
        assert_eq!(u.servers[8].nodes, vec![6, 7]);
        assert_eq!(u.servers[9].role, ServerRole::Frontend);
        assert_eq!(u.servers[9].port, PortChoice::Fixed(8000));
        assert_eq!(u.steps[0].target, 9);
        assert_eq!(
            (u.steps[0].bench.gpus, u.steps[0].bench.decode_gpus),
            (32, Some(8))
        );
        assert_eq!(
            u.servers
                .iter()
                .filter(|s| s.settings.image.is_some())
                .count(),
            10
        );
    }
}
