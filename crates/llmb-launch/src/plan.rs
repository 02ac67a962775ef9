//! The plan: a validated [`RunSpec`] resolved into processes, placement and load steps, saved
//! as `plan.json` in the run folder. Both launchers (Slurm and local) execute the same plan
//! with `llmb run-plan`.
//!
//! Pure: building a plan reads no files and starts nothing. The caller picks the run stamp
//! (and makes sure the run folder does not exist yet), so a repeat never overwrites results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llmb_recipe::{Concurrency, EngineKind, LoadStyle, RunSpec};
use serde::{Deserialize, Serialize};

/// The plan format version written into `plan.json`.
pub const PLAN_VERSION: u32 = 1;

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
    pub dtype: String,
    /// Total GPUs.
    pub scale: u32,
    /// Cluster GPU type.
    pub gpu_type: String,
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
    pub recipe_engine: EngineKind,
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

/// What a server process runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineLaunch {
    /// `llmb <args>` (the simulated engine: `serve sim ...`). Port 0: the engine picks a
    /// free port and prints it; `run-plan` reads it from the log.
    Llmb {
        /// Arguments after the `llmb` executable.
        args: Vec<String>,
    },
    /// A real engine in a container: recorded, not yet runnable (issue 6).
    External {
        /// The engine.
        engine: EngineKind,
        /// Its image.
        image: Option<String>,
    },
}

/// One model instance (server) and where its ranks run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerPlan {
    /// `chat-server0`, `chat-prefill1`.
    pub name: String,
    /// `aggregated`, `prefill` or `decode`.
    pub role: String,
    /// What runs on rank 0 (the other ranks of a simulated engine only hold their place).
    pub launch: EngineLaunch,
    /// Node indices (0-based, into the allocation's node list) this server spans.
    pub nodes: Vec<u32>,
    /// Ranks per node.
    pub ranks_per_node: u32,
    /// Port; 0 = read the chosen port from the log line `listening on http://HOST:PORT`.
    pub port: u16,
    /// Readiness path, `GET` answering 200 when ready.
    pub health_path: String,
    /// The server's log file.
    pub log: PathBuf,
}

impl ServerPlan {
    /// Total ranks.
    pub fn ranks(&self) -> u32 {
        self.ranks_per_node * u32::try_from(self.nodes.len()).unwrap_or(u32::MAX)
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
    /// Arguments after the `llmb` executable (`bench ...`), without `--url`.
    pub args: Vec<String>,
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
pub fn report_format(style: LoadStyle) -> &'static str {
    match style {
        LoadStyle::TrtllmBench => "trtllm",
        LoadStyle::GenaiPerf => "genai-perf",
        LoadStyle::BenchmarkServing => "serving",
    }
}

/// Resolves `spec` into a plan.
pub fn build(spec: &RunSpec, opts: &PlanOptions) -> Plan {
    let run_dir = run_dir(&opts.install_dir, spec, &opts.stamp);
    let groups = server_groups(spec);
    let mut use_cases = Vec::new();
    for uc in &spec.use_cases {
        let mut servers = Vec::new();
        let mut next_node = 0u32;
        for (role, count, gpus) in &groups {
            for i in 0..*count {
                let span = gpus.div_ceil(spec.gpus_per_node).max(1);
                let nodes: Vec<u32> = (next_node..next_node + span).collect();
                next_node += span;
                let ranks_per_node = (*gpus).min(spec.gpus_per_node).max(1);
                let name = if *role == "aggregated" {
                    format!("{}-server{i}", uc.name)
                } else {
                    format!("{}-{role}{i}", uc.name)
                };
                let launch = if opts.sim {
                    EngineLaunch::Llmb {
                        args: sim_args(spec, uc, opts),
                    }
                } else {
                    EngineLaunch::External {
                        engine: spec.engine,
                        image: spec.container_image.clone(),
                    }
                };
                servers.push(ServerPlan {
                    log: run_dir.join(format!("{name}.log")),
                    name,
                    role: (*role).to_owned(),
                    launch,
                    nodes,
                    ranks_per_node,
                    port: 0,
                    health_path: "/health".into(),
                });
            }
        }
        // The load goes to the first server that answers requests (decode in a disaggregated
        // layout, where the frontend would sit).
        let target = servers
            .iter()
            .position(|s| s.role != "prefill")
            .unwrap_or(0);
        let decode_servers = groups
            .iter()
            .find(|g| g.0 == "decode")
            .map_or(1, |g| g.1.max(1));
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
            steps.push(LoadStep {
                name: format!("{}-c{con}", uc.name),
                concurrency: con,
                target,
                args: bench_args(spec, uc, c_total, &dir),
                experiment_dir: dir,
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
    Plan {
        version: PLAN_VERSION,
        workload: spec.workload_key.clone(),
        model_size: spec.model_size.clone(),
        dtype: spec.dtype.to_string(),
        scale: spec.scale,
        gpu_type: spec.gpu_type.to_string(),
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
    }
}

/// `(role, servers, GPUs each)`: one aggregated instance over every GPU, or the pools.
fn server_groups(spec: &RunSpec) -> Vec<(&'static str, u32, u32)> {
    match &spec.disaggregated {
        Some(d) => vec![
            ("prefill", d.prefill.servers, d.prefill.gpus_per_server),
            ("decode", d.decode.servers, d.decode.gpus_per_server),
        ],
        None => vec![("aggregated", 1, spec.scale)],
    }
}

fn sim_args(spec: &RunSpec, uc: &llmb_recipe::ResolvedUseCase, opts: &PlanOptions) -> Vec<String> {
    let mut a: Vec<String> = ["serve", "sim", "--host", "0.0.0.0", "--port", "0"]
        .map(String::from)
        .to_vec();
    a.extend(["--model".into(), model_short_name(spec)]);
    if let Some(b) = uc.max_batch_size {
        a.extend(["--max-batch-size".into(), b.to_string()]);
    }
    if let Some(t) = uc.max_num_tokens {
        a.extend(["--max-num-tokens".into(), t.to_string()]);
    }
    if let Some(si) = spec.recipe.engine.settings.stream_interval {
        a.extend(["--stream-interval".into(), si.to_string()]);
    }
    a.extend(opts.sim_args.iter().cloned());
    a
}

fn bench_args(
    spec: &RunSpec,
    uc: &llmb_recipe::ResolvedUseCase,
    c: Concurrency,
    dir: &Path,
) -> Vec<String> {
    let mut a: Vec<String> = vec!["bench".into()];
    let mut push = |k: &str, v: String| {
        a.push(k.into());
        a.push(v);
    };
    push("--isl", uc.isl.to_string());
    push("--osl", uc.osl.to_string());
    let load = &spec.load;
    let requests = match (uc.num_requests, c) {
        (Some(n), _) => Some(n),
        (None, Concurrency::Limit(n)) => load
            .requests_per_concurrency
            .map(|k| (u64::from(n) * u64::from(k)).max(load.min_requests.unwrap_or(0))),
        (None, Concurrency::Unbounded) => None,
    };
    if let Some(n) = requests {
        push("--num-requests", n.to_string());
    } else if let (Some(k), Concurrency::Limit(_)) = (load.multi_round, c) {
        push("--multi-round", k.to_string());
    }
    if let (Some(k), Concurrency::Limit(n)) = (load.warmup_requests_per_concurrency, c) {
        push("--warmup", (u64::from(n) * u64::from(k)).to_string());
    }
    push("--concurrency", c.as_i64().to_string());
    push("--output-dir", dir.display().to_string());
    push("--gpus", spec.scale.to_string());
    push("--format", report_format(spec.load_style).into());
    if !spec.streaming {
        a.push("--no-stream".into());
    }
    a
}

impl Plan {
    /// Every server, with its use case.
    pub fn servers(&self) -> impl Iterator<Item = (&UseCasePlan, &ServerPlan)> {
        self.use_cases
            .iter()
            .flat_map(|u| u.servers.iter().map(move |s| (u, s)))
    }

    /// The external engine, if any server would need one (not runnable yet).
    pub fn external_engine(&self) -> Option<(EngineKind, Option<&str>)> {
        self.servers().find_map(|(_, s)| match &s.launch {
            EngineLaunch::External { engine, image } => Some((*engine, image.as_deref())),
            EngineLaunch::Llmb { .. } => None,
        })
    }

    /// `plan.json` in the run folder.
    pub fn path(&self) -> PathBuf {
        self.run_dir.join("plan.json")
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
            for s in &u.servers {
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
        let p = build(&s, &opts(true));
        assert_eq!(
            p.run_dir,
            Path::new("/lustre/llmb/workloads/inference_llama3.3/experiments/inference_llama3.3_70b_nvfp4_gpus1/20250602-091407")
        );
        let uc = &p.use_cases[0];
        assert_eq!(uc.servers.len(), 1);
        assert_eq!(
            uc.servers[0].launch,
            EngineLaunch::Llmb {
                args: "serve sim --host 0.0.0.0 --port 0 --model Llama3.3-70B --max-batch-size 4096 --max-num-tokens 8192 --stream-interval 4"
                    .split(' ')
                    .map(String::from)
                    .collect()
            }
        );
        let step = &uc.steps[0];
        assert_eq!(
            step.experiment_dir,
            Path::new("/lustre/llmb/workloads/inference_llama3.3/experiments/Llama3.3-70B_TP1_EP1_PP1_CON-1_chat/20250602-091407")
        );
        assert_eq!(
            step.args.join(" "),
            format!("bench --isl 128 --osl 128 --num-requests 40 --concurrency -1 --output-dir {} --gpus 1 --format trtllm", step.experiment_dir.display())
        );
        let back = Plan::from_json(&p.to_json(), "plan.json").unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn llama4_one_instance_over_two_nodes() {
        let s = spec("inference_llama4", "17b", "fp8", 8, GpuType::Gb200);
        let p = build(&s, &opts(true));
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
        let p = build(&s, &opts(false));
        let u = &p.use_cases[0];
        assert_eq!(u.servers.len(), 7);
        assert_eq!(p.placement().len(), 8);
        assert_eq!(u.servers[6].role, "decode");
        assert_eq!(u.servers[6].nodes, vec![6, 7]);
        assert_eq!(u.steps[0].target, 6);
        assert_eq!(
            p.external_engine(),
            Some((EngineKind::DynamoTrtllm, p.image.as_deref()))
        );
    }
}
