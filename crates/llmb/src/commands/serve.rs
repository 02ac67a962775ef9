//! `llmb serve sim`: start the embedded engine and serve until Ctrl-C.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use llmb_sim::sim::disagg::{self, Deadlines, FrontendConfig};
use llmb_sim::sim::{
    self, FaultKind, FaultPlan, SchedulerConfig, SimConfig, StepCost, Timing, WorkerRole,
};
use llmb_tokenizer::Tokenizer;

use super::{bad, ExitStatus};
use crate::cli::serve::{ServeArgs, ServeEngine, SimArgs, SimRoleArg};

/// Runs `llmb serve`.
pub async fn run(args: ServeArgs) -> anyhow::Result<ExitStatus> {
    match args.engine {
        ServeEngine::Sim(a) if a.role == SimRoleArg::Frontend => run_frontend(a).await,
        ServeEngine::Sim(a) => run_sim(a).await,
    }
}

/// The engine role for `--role`; `None` for the frontend, which is no engine.
fn worker_role(role: SimRoleArg) -> Option<WorkerRole> {
    match role {
        SimRoleArg::Aggregated => Some(WorkerRole::Aggregated),
        SimRoleArg::Prefill => Some(WorkerRole::Prefill),
        SimRoleArg::Decode => Some(WorkerRole::Decode),
        SimRoleArg::Frontend => None,
    }
}

/// Builds the frontend configuration from the flags: at least one worker of each role.
pub fn frontend_config(a: &SimArgs) -> anyhow::Result<FrontendConfig> {
    for (flag, list) in [("--prefill", &a.prefill), ("--decode", &a.decode)] {
        if list.is_empty() {
            return Err(bad(format!(
                "--role frontend needs at least one {flag} URL: the base URL of a \
                 `llmb serve sim --role {}` worker, e.g. {flag} http://127.0.0.1:8001",
                &flag[2..]
            )));
        }
    }
    Ok(FrontendConfig {
        model: a.model.clone(),
        prefill: a.prefill.clone(),
        decode: a.decode.clone(),
        deadlines: Deadlines::default(),
    })
}

/// Builds the engine configuration from the flags, refusing bad values.
pub fn sim_config(a: &SimArgs) -> anyhow::Result<SimConfig> {
    let Some(role) = worker_role(a.role) else {
        return Err(bad("--role frontend is not an engine: use frontend_config"));
    };
    if !(a.prefill.is_empty() && a.decode.is_empty()) {
        return Err(bad(format!(
            "--prefill and --decode name the workers of --role frontend; this is --role {}",
            role.as_str()
        )));
    }
    if !(0.0..=1.0).contains(&a.fault_rate) {
        return Err(bad(format!(
            "--fault-rate {} is outside 0..1",
            a.fault_rate
        )));
    }
    let kinds = a
        .fault_kinds
        .iter()
        .map(|k| k.parse::<FaultKind>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let timing = match (a.ttft_ms, a.itl_ms) {
        (Some(t), Some(i)) => {
            if !(t >= 0.0 && i >= 0.0 && t.is_finite() && i.is_finite()) {
                return Err(bad("--ttft-ms and --itl-ms must be zero or positive"));
            }
            Timing::Fixed {
                ttft: Duration::from_secs_f64(t / 1000.0),
                itl: Duration::from_secs_f64(i / 1000.0),
            }
        }
        _ => {
            if a.max_batch_size == 0 || a.max_num_tokens == 0 || a.kv_cache_tokens == 0 {
                return Err(bad(
                    "--max-batch-size, --max-num-tokens and --kv-cache-tokens must be at least 1",
                ));
            }
            let cost = StepCost {
                base_ms: a.step_base_ms,
                per_prefill_token_ms: a.step_prefill_token_ms,
                per_decode_seq_ms: a.step_decode_seq_ms,
            };
            if [
                cost.base_ms,
                cost.per_prefill_token_ms,
                cost.per_decode_seq_ms,
            ]
            .iter()
            .any(|v| !v.is_finite() || *v < 0.0)
            {
                return Err(bad("--step-* costs must be zero or positive"));
            }
            Timing::Batched(SchedulerConfig {
                max_batch_size: a.max_batch_size,
                max_num_tokens: a.max_num_tokens,
                kv_cache_tokens: a.kv_cache_tokens,
                cost,
            })
        }
    };
    Ok(SimConfig {
        model: a.model.clone(),
        role,
        seed: a.seed,
        timing,
        faults: FaultPlan {
            rate: a.fault_rate,
            kinds,
            seed: a.seed,
        },
        stream_interval: a.stream_interval.max(1),
        tls: match (&a.tls_cert, &a.tls_key) {
            (Some(cert), Some(key)) => {
                Some(llmb_tls::server_config(cert, key).map_err(|e| bad(e.to_string()))?)
            }
            _ => None,
        },
        ..SimConfig::default()
    })
}

fn listen_ip(a: &SimArgs) -> anyhow::Result<IpAddr> {
    a.host
        .parse()
        .map_err(|_| bad(format!("--host `{}` is not an IP address", a.host)))
}

/// Prints the line launchers read the address from (`listening on http://HOST:PORT`).
fn announce(what: &str, model: &str, url: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{what} serving model {model} listening on {url}")?;
    out.flush()?;
    Ok(())
}

async fn run_frontend(a: SimArgs) -> anyhow::Result<ExitStatus> {
    if a.tls_cert.is_some() {
        return Err(bad(
            "--tls-cert serves https from an engine (aggregated, prefill or decode); the frontend serves plain http: drop --tls-cert/--tls-key here",
        ));
    }
    let cfg = frontend_config(&a)?;
    // Two sockets per client stream (client side and decode side).
    llmb_load::limits::raise_to_hard();
    let ip = listen_ip(&a)?;
    let (p, d) = (cfg.prefill.len(), cfg.decode.len());
    let handle = disagg::spawn_frontend(cfg, SocketAddr::new(ip, a.port)).map_err(|e| match e {
        disagg::FrontendError::Listen { source, .. } => bad(format!(
            "cannot listen on {}:{}: {source}; pick another --port (0 = any free port)",
            a.host, a.port
        )),
        other => bad(other.to_string()),
    })?;
    announce(
        &format!("llmb sim frontend ({p} prefill, {d} decode workers)"),
        &a.model,
        &handle.base_url(),
    )?;
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    Ok(ExitStatus::OK)
}

async fn run_sim(a: SimArgs) -> anyhow::Result<ExitStatus> {
    let cfg = sim_config(&a)?;
    // One socket per client stream: let the engine hold as many as the system allows.
    llmb_load::limits::raise_to_hard();
    let ip = listen_ip(&a)?;
    let tokenizer =
        Tokenizer::load(a.tokenizer.as_deref().map(Path::new)).map_err(|e| bad(e.to_string()))?;
    let cfg_role = cfg.role;
    let handle = sim::spawn(cfg, tokenizer, SocketAddr::new(ip, a.port))
        .await
        .map_err(|e| {
            bad(format!(
                "cannot listen on {}:{}: {e}; pick another --port (0 = any free port)",
                a.host, a.port
            ))
        })?;
    let what = match cfg_role {
        WorkerRole::Aggregated => "llmb sim engine",
        WorkerRole::Prefill => "llmb sim prefill worker",
        WorkerRole::Decode => "llmb sim decode worker",
    };
    announce(what, &a.model, &handle.base_url())?;
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    Ok(ExitStatus::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(role: SimRoleArg, prefill: &[&str], decode: &[&str]) -> SimArgs {
        use clap::Parser;
        let cli = crate::cli::Cli::parse_from(["llmb", "serve", "sim"]);
        let crate::cli::Command::Serve(ServeArgs {
            engine: ServeEngine::Sim(mut a),
        }) = cli.command
        else {
            unreachable!()
        };
        a.role = role;
        a.prefill = prefill.iter().map(|u| u.parse().unwrap()).collect();
        a.decode = decode.iter().map(|u| u.parse().unwrap()).collect();
        a
    }

    #[test]
    fn frontend_needs_both_kinds_of_worker() {
        let p = ["http://127.0.0.1:1"];
        let d = ["http://127.0.0.1:2"];
        let e = frontend_config(&args(SimRoleArg::Frontend, &[], &d)).unwrap_err();
        assert!(e.to_string().contains("at least one --prefill URL"), "{e}");
        let e = frontend_config(&args(SimRoleArg::Frontend, &p, &[])).unwrap_err();
        assert!(e.to_string().contains("--role decode"), "{e}");
        let cfg = frontend_config(&args(SimRoleArg::Frontend, &p, &d)).unwrap();
        assert_eq!((cfg.prefill.len(), cfg.decode.len()), (1, 1));
    }

    #[test]
    fn workers_take_their_role_and_no_worker_urls() {
        let cfg = sim_config(&args(SimRoleArg::Decode, &[], &[])).unwrap();
        assert_eq!(cfg.role, WorkerRole::Decode);
        let e = sim_config(&args(SimRoleArg::Prefill, &[], &["http://h:1"])).unwrap_err();
        assert!(e.to_string().contains("--role frontend"), "{e}");
    }
}
