//! Submitting plans: a run stamp no other run took, the run folder (`plan.json`, the
//! sbatch script), the job's environment, its record in the jobs store and its provenance
//! file; then the Slurm launcher (sbatch) or the local launcher (`llmb run-plan` in the
//! foreground, recorded from RUNNING to its end, stopped cleanly on SIGINT or SIGTERM).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use llmb_recipe::RunSpec;

use crate::exec::stop::Stop;
use crate::install::Install;
use crate::jobs::provenance;
use crate::jobs::track::failure_note;
use crate::plan::{self, Plan};
use crate::slurm::script;
use crate::{
    ClusterInfo, ContainerInfo, JobConfig, JobInfo, JobRecord, JobState, JobStore, LauncherKind,
    ModelInfo, Provenance, Secrets, Slurm, StateUpdate, SubmitRequest, UtcTime, WorkloadInfo,
};

/// A stamp whose run folder and experiment folders do not exist yet (and that this
/// invocation has not used): `base`, else `base-2`, `base-3`, ...
pub fn free_stamp(install: &Path, spec: &RunSpec, base: &str, taken: &mut Vec<PathBuf>) -> String {
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
///
/// # Errors
/// The folder exists already (another submission took it) or cannot be written.
pub fn write_run_dir(plan: &Plan, script_text: Option<&str>) -> anyhow::Result<()> {
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

/// Variables added to sbatch's environment (it inherits llmb's own too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEnv {
    /// The knobs and overrides, the cluster's `SBATCH_*` (where the shell has not set
    /// them), the cluster's job environment, and `LLMB_INSTALL`.
    pub vars: BTreeMap<String, String>,
    /// Variables the cluster passes through to jobs that this shell does not set.
    pub missing: Vec<String>,
}

/// The job's environment from the install, the validated run and the submitting shell.
pub fn job_env(install: &Install, spec: &RunSpec, shell: &BTreeMap<String, String>) -> JobEnv {
    let mut env = BTreeMap::new();
    for (k, v) in install.config.slurm_env() {
        if !shell.contains_key(&k) {
            env.insert(k, v);
        }
    }
    let (passed, missing) = install.config.job_environment(shell);
    env.extend(passed);
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
    JobEnv {
        vars: env,
        missing: missing.into_iter().map(|m| m.to_string()).collect(),
    }
}

/// The sbatch command line, as run in the run folder.
pub fn sbatch_command(plan: &Plan) -> String {
    format!(
        "sbatch --parsable {}",
        script::shell_quote(&plan.script_path().display().to_string())
    )
}

/// The store's record of a job just submitted or started.
pub fn job_record(
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
        dtype: spec.dtype,
        scale: spec.scale,
        gpu_type: spec.gpu_type.clone(),
        use_case: Some(plan.use_case_names()).filter(|s| !s.is_empty()),
        state,
        exit_code: None,
        submitted_at: UtcTime::now(),
        started_at: None,
        ended_at: None,
        experiment_dir: plan.run_dir.clone(),
        log_path: match launcher {
            LauncherKind::Slurm => plan.slurm_log_path(id),
            LauncherKind::Local => plan.local_log_path(),
        },
        plan_path: plan.path(),
        note: None,
        nodes: None,
    }
}

/// Writes `llmb-config_<id>.yaml` into the workload folder (secrets redacted).
///
/// # Errors
/// The file cannot be written.
pub fn write_provenance(
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

/// A job sbatch accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Slurm's job id.
    pub id: String,
    /// Its output file.
    pub log: PathBuf,
    /// Its provenance file.
    pub provenance: PathBuf,
}

/// The Slurm launcher: writes the run folder and script, submits with `env`, records the
/// job as PENDING and writes its provenance.
///
/// # Errors
/// The run folder cannot be written, sbatch refuses, the store cannot be written.
pub fn submit_slurm(
    install: &Install,
    spec: &RunSpec,
    plan: &Plan,
    env: BTreeMap<String, String>,
    secrets: &Secrets,
) -> anyhow::Result<Submitted> {
    write_run_dir(plan, Some(&script::render(plan)))?;
    let job = Slurm::new()
        .submit(&SubmitRequest {
            script: plan.script_path(),
            sbatch_args: Vec::new(),
            env,
            cwd: plan.run_dir.clone(),
        })
        .map_err(|e| {
            // Nothing was submitted: the fresh run folder (plan, script) goes too.
            let _ = std::fs::remove_dir_all(&plan.run_dir);
            anyhow::anyhow!("{e}")
        })?;
    let id = job.as_str().to_owned();
    let mut store = JobStore::open(install.jobs_db())?;
    store.insert(&job_record(
        spec,
        plan,
        &id,
        LauncherKind::Slurm,
        JobState::Pending,
    ))?;
    let provenance = write_provenance(install, spec, plan, &id, secrets)?;
    Ok(Submitted {
        log: plan.slurm_log_path(&id),
        id,
        provenance,
    })
}

/// How a local job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEnd {
    /// Its id in the store (`local-<stamp>-<pid>`).
    pub id: String,
    /// COMPLETED, FAILED, or CANCELLED (a signal).
    pub state: JobState,
    /// Why it failed, when it did.
    pub note: Option<String>,
}

/// The local launcher: writes the run folder, records the job as RUNNING, runs `llmb
/// run-plan` in the foreground (output in the job log) and records how it ended. A SIGINT
/// or SIGTERM to this process is passed on, the executor stops its engines and saves what
/// it has, and the job is recorded CANCELLED rather than left RUNNING. `started` is told
/// the job id once it runs.
///
/// # Errors
/// The run folder, the store or the log cannot be written; run-plan cannot start.
pub fn run_local(
    install: &Install,
    spec: &RunSpec,
    plan: &Plan,
    started: impl FnOnce(&str),
) -> anyhow::Result<LocalEnd> {
    write_run_dir(plan, None)?;
    let id = format!("local-{}-{}", plan.stamp, std::process::id());
    let mut store = JobStore::open(install.jobs_db())?;
    let mut rec = job_record(spec, plan, &id, LauncherKind::Local, JobState::Running);
    rec.started_at = Some(UtcTime::now());
    store.insert(&rec)?;
    let secrets = Secrets::from_env(std::env::vars());
    write_provenance(install, spec, plan, &id, &secrets)?;
    let stop = Stop::install(|_| {}).context("cannot catch SIGTERM and SIGINT")?;
    started(&id);
    let log = std::fs::File::create(&rec.log_path)
        .with_context(|| format!("cannot create {}", rec.log_path.display()))?;
    let mut child = crate::exec::child::Proc(
        Command::new(&plan.llmb)
            .arg("run-plan")
            .arg(plan.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", plan.llmb.display()))?,
    );
    let status = match child.wait_or_stop(&stop) {
        Ok(st) => st,
        Err(_) => {
            // Pass the signal on (harmless if the terminal already sent it to the group),
            // then wait for the executor to stop its engines and write its status.
            child.signal(if stop.signal() == Some("SIGINT") {
                libc::SIGINT
            } else {
                libc::SIGTERM
            });
            child.0.wait()?
        }
    };
    let state = if stop.signal().is_some() {
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
    Ok(LocalEnd { id, state, note })
}
