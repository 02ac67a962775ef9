//! `llmb serve sim`: start the embedded engine and serve until Ctrl-C.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use llmb_serve::sim::{self, FaultKind, FaultPlan, SchedulerConfig, SimConfig, StepCost, Timing};
use llmb_tokenizer::Tokenizer;

use super::{bad, ExitStatus};
use crate::cli::serve::{ServeArgs, ServeEngine, SimArgs};

/// Runs `llmb serve`.
pub async fn run(args: ServeArgs) -> anyhow::Result<ExitStatus> {
    match args.engine {
        ServeEngine::Sim(a) => run_sim(a).await,
    }
}

/// Builds the engine configuration from the flags, refusing bad values.
pub fn sim_config(a: &SimArgs) -> anyhow::Result<SimConfig> {
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
        seed: a.seed,
        timing,
        faults: FaultPlan {
            rate: a.fault_rate,
            kinds,
            seed: a.seed,
        },
        stream_interval: a.stream_interval.max(1),
        ..SimConfig::default()
    })
}

async fn run_sim(a: SimArgs) -> anyhow::Result<ExitStatus> {
    let cfg = sim_config(&a)?;
    // One socket per client stream: let the engine hold as many as the system allows.
    llmb_load::limits::raise_to_hard();
    let ip: IpAddr = a
        .host
        .parse()
        .map_err(|_| bad(format!("--host `{}` is not an IP address", a.host)))?;
    let tokenizer =
        Tokenizer::load(a.tokenizer.as_deref().map(Path::new)).map_err(|e| bad(e.to_string()))?;
    let handle = sim::spawn(cfg, tokenizer, SocketAddr::new(ip, a.port))
        .await
        .map_err(|e| {
            bad(format!(
                "cannot listen on {}:{}: {e}; pick another --port (0 = any free port)",
                a.host, a.port
            ))
        })?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "llmb sim engine serving model {} listening on {}",
            a.model,
            handle.base_url()
        )?;
        out.flush()?;
    }
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    Ok(ExitStatus::OK)
}
