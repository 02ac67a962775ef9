//! `llmb submit`: validate each requested run (llmb-run's order, knobs from the environment),
//! resolve it into a plan, and hand it to the Slurm launcher (sbatch) or the local launcher
//! (a `llmb run-plan` child in the foreground). Every job lands in the jobs store.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context;
use llmb_launch::jobs::provenance;
use llmb_launch::plan::{self, Plan, PlanOptions};
use llmb_launch::slurm::script;
use llmb_launch::{
    ClusterInfo, ContainerInfo, JobConfig, JobInfo, JobRecord, JobState, JobStore, LauncherKind,
    ModelInfo, Provenance, Secrets, Slurm, StateUpdate, SubmitRequest, UtcTime, WorkloadInfo,
};
use llmb_recipe::{expand, RunRequest, RunSpec, ValidateContext};

use super::install::{process_env, Install};
use super::jobs::failure_note;
use super::{bad, ExitStatus};
use crate::cli::launch::{EngineArg, LauncherArg, SubmitArgs};

/// Runs `llmb submit`.
pub async fn run(a: SubmitArgs) -> anyhow::Result<ExitStatus> {
    let install = Install::locate()?;
    let catalog = install.catalog()?;
    let mut env = process_env();
    if !a.use_cases.is_empty() {
        env.insert("USE_CASES".into(), a.use_cases.join(" "));
    }
    let requests = requests(&a)?;
    let installed = &install.config.workloads.installed;
    let ctx = ValidateContext {
        catalog: &catalog,
        installed: (!installed.is_empty()).then_some(installed.as_slice()),
        gpu_type: &install.config.gpu_type,
        gpus_per_node: install.config.gpus_per_node,
        env: &env,
        force: a.force,
    };
    // Validate everything before submitting anything.
    let specs = requests
        .iter()
        .map(|r| llmb_recipe::validate(r, &ctx).map_err(|e| bad(e.to_string())))
        .collect::<anyhow::Result<Vec<RunSpec>>>()?;
    let llmb = std::env::current_exe()
        .context("cannot find the llmb executable")?
        .canonicalize()
        .context("cannot resolve the llmb executable")?;
    let sim_args: Vec<String> = env
        .get("SIM_ARGS")
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let base = llmb_report::run_dir::stamp(UtcTime::now().unix().try_into().unwrap_or(0));
    let mut taken = Vec::new();
    let mut failed = 0;
    for spec in &specs {
        {
            let mut err = std::io::stderr().lock();
            for w in &spec.warnings {
                writeln!(err, "warning: {w}")?;
            }
        }
        let stamp = free_stamp(&install.dir, spec, &base, &mut taken);
        let plan = plan::build(
            spec,
            &PlanOptions {
                install_dir: install.dir.clone(),
                llmb: llmb.clone(),
                stamp,
                sim: a.engine == EngineArg::Sim,
                sim_args: sim_args.clone(),
            },
        )
        .map_err(|e| bad(format!("{}: {e}", spec.workload_key)))?;
        if !a.dry_run {
            // Engines that cannot start here fail now, not minutes later in the job.
            llmb_launch::exec::preflight(&plan, a.launcher == LauncherArg::Slurm).map_err(bad)?;
        }
        let ok = match a.launcher {
            LauncherArg::Slurm => submit_slurm(&install, spec, &plan, &env, a.dry_run)?,
            LauncherArg::Local => run_local(&install, spec, &plan, a.dry_run).await?,
        };
        if !ok {
            failed += 1;
        }
    }
    Ok(if failed == 0 {
        ExitStatus::OK
    } else {
        ExitStatus(1)
    })
}

fn requests(a: &SubmitArgs) -> anyhow::Result<Vec<RunRequest>> {
    let base: Vec<RunRequest> = match &a.file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read bulk file {}", f.display()))?;
            expand::expand_bulk(&text, &f.display().to_string()).map_err(|e| bad(e.to_string()))?
        }
        None => {
            let (Some(w), Some(s), Some(d), Some(scale)) =
                (&a.workload, &a.model_size, &a.dtype, a.scale)
            else {
                return Err(bad(
                    "give -w WORKLOAD -s SIZE --dtype DTYPE --scale N, or --file BULK",
                ));
            };
            vec![RunRequest {
                workload: w.clone(),
                model_size: s.clone(),
                dtype: d.clone(),
                scale,
                profile: a.profile,
                ..RunRequest::default()
            }]
        }
    };
    Ok(base
        .iter()
        .flat_map(|r| {
            let mut r = r.clone();
            r.profile |= a.profile;
            if a.repeats > 1 {
                expand::repeat(&r, a.repeats)
            } else {
                vec![r]
            }
        })
        .collect())
}

/// A stamp whose run folder and experiment folders do not exist yet (and that this
/// invocation has not used): `base`, else `base-2`, `base-3`, ...
fn free_stamp(install: &Path, spec: &RunSpec, base: &str, taken: &mut Vec<PathBuf>) -> String {
    for n in 1u32.. {
        let stamp = if n == 1 {
            base.to_owned()
        } else {
            format!("{base}-{n}")
        };
        let run = plan::run_dir(install, spec, &stamp);
        let exps = spec.use_cases.iter().flat_map(|u| {
            u.concurrency
                .iter()
                .map(|c| plan::experiment_dir(install, spec, &u.name, c.as_i64(), &stamp))
                .collect::<Vec<_>>()
        });
        let mut all = vec![run];
        all.extend(exps);
        if all.iter().all(|p| !p.exists() && !taken.contains(p)) {
            taken.extend(all);
            return stamp;
        }
    }
    unreachable!("u32 stamps exhausted")
}

/// Writes plan.json (and the script) into a new run folder.
fn write_run_dir(plan: &Plan, script_text: Option<&str>) -> anyhow::Result<()> {
    let parent = plan.run_dir.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    // create_dir (not _all): fails if another submission took the same folder meanwhile.
    std::fs::create_dir(&plan.run_dir)
        .with_context(|| format!("cannot create run folder {}", plan.run_dir.display()))?;
    std::fs::write(plan.path(), plan.to_json())
        .with_context(|| format!("cannot write {}", plan.path().display()))?;
    if let Some(s) = script_text {
        std::fs::write(plan.script_path(), s)
            .with_context(|| format!("cannot write {}", plan.script_path().display()))?;
    }
    Ok(())
}

/// Variables added to sbatch's environment (it inherits llmb's own too): the knobs and
/// overrides, the cluster's `SBATCH_*` (where the shell has not set them), the cluster's
/// job environment, and `LLMB_INSTALL`.
fn job_env(
    install: &Install,
    spec: &RunSpec,
    shell: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (k, v) in install.config.slurm_env() {
        if !shell.contains_key(&k) {
            env.insert(k, v);
        }
    }
    let (passed, missing) = install.config.job_environment(shell);
    env.extend(passed);
    for name in missing {
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: cluster_config.yaml passes {name} through to jobs, but this shell does not set it; export {name} before submitting if the job needs it"
        );
    }
    env.extend(spec.knobs.clone());
    env.extend(spec.env_overrides.clone());
    env.insert("LLMB_INSTALL".into(), install.dir.display().to_string());
    env.insert("MODEL_SIZE".into(), spec.model_size.clone());
    env.insert("DTYPE".into(), spec.dtype.to_string());
    env.insert("JOB_TOTAL_GPUS".into(), spec.scale.to_string());
    env.insert("GPU_TYPE".into(), spec.gpu_type.to_string());
    if spec.profile {
        env.insert("ENABLE_PROFILE".into(), "true".into());
    }
    env
}

fn submit_slurm(
    install: &Install,
    spec: &RunSpec,
    plan: &Plan,
    shell: &BTreeMap<String, String>,
    dry_run: bool,
) -> anyhow::Result<bool> {
    let text = script::render(plan);
    let env = job_env(install, spec, shell);
    let secrets = Secrets::from_env(shell.iter());
    let shown_env = provenance::redact_map(&env, &secrets);
    let command = format!(
        "sbatch --parsable {}",
        script::shell_quote(&plan.script_path().display().to_string())
    );
    if dry_run {
        let mut out = std::io::stdout().lock();
        writeln!(out, "# sbatch script ({})", plan.script_path().display())?;
        out.write_all(text.as_bytes())?;
        writeln!(out, "# sbatch command (run in {}):", plan.run_dir.display())?;
        let vars: Vec<String> = shown_env
            .iter()
            .map(|(k, v)| format!("{k}={}", script::shell_quote(v)))
            .collect();
        writeln!(out, "{} {command}", vars.join(" "))?;
        print_servers(&mut out, plan)?;
        writeln!(out, "# dry run: nothing submitted")?;
        return Ok(true);
    }
    write_run_dir(plan, Some(&text))?;
    let job = Slurm::new()
        .submit(&SubmitRequest {
            script: plan.script_path(),
            sbatch_args: Vec::new(),
            env,
            cwd: plan.run_dir.clone(),
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = job.as_str().to_owned();
    let mut store = JobStore::open(install.jobs_db())?;
    store.insert(&record(
        spec,
        plan,
        &id,
        LauncherKind::Slurm,
        JobState::Pending,
    ))?;
    let prov = write_provenance(install, spec, plan, &id, &secrets)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Submitted job {id}: {} {} {} scale {} ({} node(s))",
        spec.workload_key, spec.model_size, spec.dtype, spec.scale, plan.nodes
    )?;
    writeln!(out, "  run folder: {}", plan.run_dir.display())?;
    writeln!(out, "  log:        {}", log_path(plan, &id).display())?;
    writeln!(out, "  provenance: {}", prov.display())?;
    writeln!(out, "  follow:     llmb jobs log {id} --follow")?;
    Ok(true)
}

fn log_path(plan: &Plan, id: &str) -> PathBuf {
    plan.run_dir.join(format!("slurm-{id}.out"))
}

fn record(
    spec: &RunSpec,
    plan: &Plan,
    id: &str,
    launcher: LauncherKind,
    state: JobState,
) -> JobRecord {
    JobRecord {
        id: id.to_owned(),
        launcher,
        workload: spec.workload_key.clone(),
        model_size: spec.model_size.clone(),
        dtype: spec.dtype.to_string(),
        scale: spec.scale,
        gpu_type: spec.gpu_type.to_string(),
        use_case: Some(plan.use_case_names()).filter(|s| !s.is_empty()),
        state,
        exit_code: None,
        submitted_at: UtcTime::now(),
        started_at: None,
        ended_at: None,
        experiment_dir: plan.run_dir.clone(),
        log_path: match launcher {
            LauncherKind::Slurm => log_path(plan, id),
            LauncherKind::Local => plan.run_dir.join("job.log"),
        },
        plan_path: plan.path(),
        note: None,
        nodes: None,
    }
}

fn write_provenance(
    install: &Install,
    spec: &RunSpec,
    plan: &Plan,
    id: &str,
    secrets: &Secrets,
) -> anyhow::Result<PathBuf> {
    let cfg = &install.config;
    let engine = serde_json::to_value(spec.engine)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let prov = Provenance {
        job_info: JobInfo {
            job_id: id.to_owned(),
            launch_time: UtcTime::now(),
        },
        workload_info: WorkloadInfo {
            framework: if plan.simulated {
                format!("{engine} (simulated by llmb)")
            } else {
                engine
            },
            gsw_version: env!("CARGO_PKG_VERSION").into(),
            fw_version: spec
                .container_image
                .as_deref()
                .and_then(|i| i.rsplit_once(':').map(|(_, t)| t.to_owned())),
            workload_type: spec.recipe.workload_type.to_string(),
            synthetic_dataset: true,
        },
        model_info: ModelInfo {
            model_name: spec.recipe.workload.clone(),
            model_size: spec.model_size.clone(),
            dtype: spec.dtype.to_string(),
            scale: spec.scale,
            gpu_type: spec.gpu_type.to_string(),
        },
        cluster_info: ClusterInfo {
            cluster_name: cfg.cluster_name.clone(),
            gpus_per_node: spec.gpus_per_node,
            llmb_install: install.dir.clone(),
            llmb_repo: Some(cfg.llmb_repo.clone()),
            slurm_account: cfg.slurm.account.clone(),
            slurm_gpu_partition: cfg.slurm.gpu_partition.clone(),
        },
        container_info: ContainerInfo {
            images: spec.container_image.iter().cloned().collect(),
        },
        job_config: JobConfig {
            profile_enabled: spec.profile,
            env_overrides: spec.knobs.clone(),
            model_overrides: spec.env_overrides.clone(),
            experiment_id: Some(plan.stamp.clone()),
        },
    };
    let dir = plan::workload_dir(&install.dir, &spec.workload_key);
    Ok(provenance::write(&dir, &prov, secrets)?)
}

/// Each engine's command and generated files, as `run-plan` will start them.
fn print_servers(out: &mut impl Write, plan: &Plan) -> anyhow::Result<()> {
    let text = plan.describe_engines().map_err(|e| bad(e.to_string()))?;
    for l in text.lines() {
        writeln!(out, "# {l}")?;
    }
    Ok(())
}

async fn run_local(
    install: &Install,
    spec: &RunSpec,
    plan: &Plan,
    dry_run: bool,
) -> anyhow::Result<bool> {
    if dry_run {
        let mut out = std::io::stdout().lock();
        writeln!(out, "# plan ({})", plan.path().display())?;
        writeln!(out, "{}", plan.to_json())?;
        writeln!(
            out,
            "# command: {} run-plan {}",
            plan.llmb.display(),
            plan.path().display()
        )?;
        print_servers(&mut out, plan)?;
        writeln!(out, "# dry run: nothing started")?;
        return Ok(true);
    }
    write_run_dir(plan, None)?;
    let id = format!("local-{}-{}", plan.stamp, std::process::id());
    let mut store = JobStore::open(install.jobs_db())?;
    let mut rec = record(spec, plan, &id, LauncherKind::Local, JobState::Running);
    rec.started_at = Some(UtcTime::now());
    store.insert(&rec)?;
    let secrets = Secrets::from_env(std::env::vars());
    write_provenance(install, spec, plan, &id, &secrets)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Running job {id} locally: {}", plan.run_dir.display())?;
        out.flush()?;
    }
    let log = std::fs::File::create(&rec.log_path)
        .with_context(|| format!("cannot create {}", rec.log_path.display()))?;
    let mut child = tokio::process::Command::new(&plan.llmb)
        .arg("run-plan")
        .arg(plan.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", plan.llmb.display()))?;
    // On Ctrl-C the executor stops its engines and saves what it has; wait for that, so the
    // job is recorded as cancelled rather than left RUNNING.
    let mut interrupted = false;
    let status = tokio::select! {
        s = child.wait() => s?,
        _ = tokio::signal::ctrl_c() => {
            interrupted = true;
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) on our own child; harmless if the terminal already sent it.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            }
            child.wait().await?
        }
    };
    let state = if interrupted {
        JobState::Cancelled
    } else if status.success() {
        JobState::Completed
    } else {
        JobState::Failed
    };
    let note = (!status.success())
        .then(|| failure_note(&plan.run_dir, &rec.log_path))
        .flatten();
    store.update_state(
        &id,
        &StateUpdate {
            state,
            exit_code: status.code(),
            started_at: None,
            ended_at: Some(UtcTime::now()),
            note: note.clone(),
            nodes: None,
        },
    )?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Job {id} {state}")?;
    if let Some(n) = note {
        writeln!(out, "{n}")?;
    }
    Ok(status.success())
}
