//! `llmb submit`: validate each requested run (llmb-run's order, knobs from the environment),
//! resolve it into a plan, and hand it to the Slurm launcher or the local launcher
//! (`llmb_launch::submit`); here the requests from the options, dry runs and messages.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;
use llmb_launch::install::{process_env, Install};
use llmb_launch::jobs::provenance;
use llmb_launch::plan::{self, Plan, PlanOptions};
use llmb_launch::slurm::script;
use llmb_launch::submit::{self as launch, free_stamp, job_env};
use llmb_launch::{JobState, Secrets, UtcTime};
use llmb_recipe::{expand, RunRequest, RunSpec, ValidateContext};

use super::{bad, ExitStatus};
use crate::cli::launch::{EngineArg, LauncherArg, SubmitArgs};

/// Runs `llmb submit`; a local run stopped by a signal ends it (the runs after it are not
/// started).
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
        let state = match a.launcher {
            LauncherArg::Slurm => submit_slurm(&install, spec, &plan, &env, a.dry_run)?,
            LauncherArg::Local => run_local(&install, spec, &plan, a.dry_run).await?,
        };
        if state == JobState::Cancelled {
            // A signal stopped this run: the ones after it are not started.
            failed += 1;
            break;
        }
        if !matches!(state, JobState::Completed | JobState::Pending) {
            failed += 1;
        }
    }
    Ok(if failed == 0 {
        ExitStatus::OK
    } else {
        ExitStatus(llmb_settings::exit::ERROR)
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

fn submit_slurm(
    install: &Install,
    spec: &RunSpec,
    plan: &Plan,
    shell: &BTreeMap<String, String>,
    dry_run: bool,
) -> anyhow::Result<JobState> {
    let env = job_env(install, spec, shell);
    for name in &env.missing {
        writeln!(
            std::io::stderr().lock(),
            "warning: cluster_config.yaml passes {name} through to jobs, but this shell does not set it; export {name} before submitting if the job needs it"
        )?;
    }
    let secrets = Secrets::from_env(shell.iter());
    if dry_run {
        let mut out = std::io::stdout().lock();
        writeln!(out, "# sbatch script ({})", plan.script_path().display())?;
        out.write_all(script::render(plan).as_bytes())?;
        writeln!(out, "# sbatch command (run in {}):", plan.run_dir.display())?;
        let vars: Vec<String> = provenance::redact_map(&env.vars, &secrets)
            .iter()
            .map(|(k, v)| format!("{k}={}", script::shell_quote(v)))
            .collect();
        writeln!(out, "{} {}", vars.join(" "), launch::sbatch_command(plan))?;
        print_servers(&mut out, plan)?;
        writeln!(out, "# dry run: nothing submitted")?;
        return Ok(JobState::Pending);
    }
    let job = launch::submit_slurm(install, spec, plan, env.vars, &secrets)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Submitted job {}: {} {} {} scale {} ({} node(s))",
        job.id, spec.workload_key, spec.model_size, spec.dtype, spec.scale, plan.nodes
    )?;
    writeln!(out, "  run folder: {}", plan.run_dir.display())?;
    writeln!(out, "  log:        {}", job.log.display())?;
    writeln!(out, "  provenance: {}", job.provenance.display())?;
    writeln!(out, "  follow:     llmb jobs log {} --follow", job.id)?;
    Ok(JobState::Pending)
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
) -> anyhow::Result<JobState> {
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
        return Ok(JobState::Completed);
    }
    let run_dir = plan.run_dir.clone();
    let (install, spec, plan) = (install.clone(), spec.clone(), plan.clone());
    let end = tokio::task::spawn_blocking(move || {
        launch::run_local(&install, &spec, &plan, |id| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "Running job {id} locally: {}", plan.run_dir.display());
            let _ = out.flush();
        })
    })
    .await??;
    let mut out = std::io::stdout().lock();
    match llmb_launch::jobs::track::bench_verdict(&run_dir) {
        Some(v) => writeln!(out, "Job {} {} ({v})", end.id, end.state)?,
        None => writeln!(out, "Job {} {}", end.id, end.state)?,
    }
    if let Some(n) = &end.note {
        writeln!(out, "{n}")?;
    }
    Ok(end.state)
}
