//! `llmb selfbench`: runs the harness of `llmb-selfbench`, prints its table, saves and
//! checks reports; `selfbench-reader` runs the reference reader and prints one JSON line.

use std::io::Write;

use anyhow::Context;
use llmb_selfbench::harness::{self, Mode, Report, Row};
use llmb_selfbench::reader::{self, ReaderConfig};

use super::{bad, ExitStatus};
use crate::cli::selfbench::{ModeArg, ReaderArgs, SelfbenchArgs};

/// Runs the harness.
pub async fn run(a: SelfbenchArgs) -> anyhow::Result<ExitStatus> {
    let exe = std::env::current_exe().context("cannot find the llmb executable")?;
    let mut configs = harness::standard_configs(a.quick);
    if let Some(m) = a.mode {
        let m = match m {
            ModeArg::Firehose => Mode::Firehose,
            ModeArg::Paced => Mode::Paced,
        };
        configs.retain(|c| c.mode == m);
    }
    if !a.concurrency.is_empty() {
        let known: Vec<u64> = configs.iter().map(|c| c.concurrency).collect();
        configs.retain(|c| a.concurrency.contains(&c.concurrency));
        if configs.is_empty() {
            return Err(bad(format!(
                "--concurrency {:?} matches no configuration; choose from {known:?}",
                a.concurrency
            )));
        }
    }
    if a.tls {
        configs = harness::with_tls(configs);
    }
    let baseline: Option<Report> = match &a.check {
        Some(p) => Some(
            serde_json::from_slice(
                &std::fs::read(p)
                    .map_err(|e| bad(format!("cannot read --check {}: {e}", p.display())))?,
            )
            .map_err(|e| {
                bad(format!(
                    "--check {} is not a selfbench report: {e}",
                    p.display()
                ))
            })?,
        ),
        None => None,
    };
    let scratch = std::env::temp_dir().join(format!("llmb-selfbench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let (isl, osl) = (a.isl, a.osl);
    let report = tokio::task::spawn_blocking(move || {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{}", header());
        let r = harness::run(&exe, &configs, isl, osl, &scratch, |row| {
            let _ = writeln!(out, "{}", line(row));
        });
        let _ = std::fs::remove_dir_all(&scratch);
        r
    })
    .await??;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "({} cores; CPU = user+sys ms per 1,000 output tokens; ratio = llmb / reference reader; lag against the engine's send stamps; engine = its CPU per 1k tokens while serving llmb, x eng = llmb all / engine)",
        report.cores
    )?;
    for (plain, tls) in report.rows.iter().zip(report.rows.iter().skip(1)) {
        let same = |c: &harness::Config| (c.mode, c.concurrency, c.requests);
        if !plain.config.tls && tls.config.tls && same(&plain.config) == same(&tls.config) {
            writeln!(
                out,
                "TLS cost, {}: llmb active CPU per token x{:.3}, whole run x{:.3} (https / http)",
                plain.config.name(),
                tls.llmb.cpu_ms_per_1k_active / plain.llmb.cpu_ms_per_1k_active,
                tls.llmb.cpu_ms_per_1k_whole / plain.llmb.cpu_ms_per_1k_whole,
            )?;
        }
    }
    if let Some(p) = &a.save {
        std::fs::write(p, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", p.display()))?;
        writeln!(out, "saved {}", p.display())?;
    }
    if let Some(base) = baseline {
        let bad = harness::check(&report, &base);
        if bad.is_empty() {
            writeln!(out, "check: no figure regressed by more than 20%")?;
        } else {
            for b in &bad {
                writeln!(out, "regression: {b}")?;
            }
            return Ok(ExitStatus::THRESHOLD);
        }
    }
    Ok(ExitStatus::OK)
}

fn header() -> String {
    format!(
        "{:<13} {:>6} {:>7} | {:>8} {:>8} {:>9} {:>7} {:>7} | {:>8} {:>8} {:>9} {:>7} {:>7} {:>7} {:>7} | {:>6} {:>6} | {:>6} {:>6}",
        "mode", "conc", "reqs",
        "ref act", "ref all", "ref tok/s", "ref lag", "ref p99",
        "llmb act", "llmb all", "tok/s", "lag ms", "p99 ms", "KB/strm", "errors",
        "x act", "x all", "engine", "x eng"
    )
}

fn line(r: &Row) -> String {
    let (f, l) = (&r.reference, &r.llmb);
    format!(
        "{:<13} {:>6} {:>7} | {:>8.2} {:>8.2} {:>9.0} {:>7.3} {:>7.3} | {:>8.2} {:>8.2} {:>9.0} {:>7.3} {:>7.3} {:>7.1} {:>7} | {:>6.2} {:>6.2} | {:>6.2} {:>6.2}",
        format!("{}{}", r.config.mode.as_str(), if r.config.tls { "+tls" } else { "" }),
        r.config.concurrency, r.config.requests,
        f.cpu_ms_per_1k_active, f.cpu_ms_per_1k_whole, f.tokens_per_s, f.lag.mean_ms, f.lag.p99_ms,
        l.cpu_ms_per_1k_active, l.cpu_ms_per_1k_whole, l.tokens_per_s, l.lag.mean_ms, l.lag.p99_ms,
        l.rss_per_stream_kib, l.errors,
        r.active_ratio(), r.whole_ratio(), r.engine_cpu_ms_per_1k, r.engine_headroom()
    )
}

/// Runs the reference reader and prints its report as one JSON line.
pub async fn reader(a: ReaderArgs) -> anyhow::Result<ExitStatus> {
    llmb_load::limits::ensure_open_files(a.concurrency).map_err(|e| bad(e.to_string()))?;
    let url = a.url.trim_end_matches('/');
    let (addr, tls) = if let Some(addr) = url.strip_prefix("http://") {
        (addr.to_owned(), None)
    } else if let Some(addr) = url.strip_prefix("https://") {
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let name = llmb_tls::server_name(host).map_err(|e| bad(e.to_string()))?;
        let config =
            llmb_tls::client_config(llmb_tls::Verify::Roots).map_err(|e| bad(e.to_string()))?;
        (addr.to_owned(), Some((name, config)))
    } else {
        return Err(bad(format!(
            "--url `{}` must start with http:// or https://",
            a.url
        )));
    };
    let cfg = ReaderConfig {
        addr,
        tls,
        concurrency: a.concurrency as usize,
        requests: a.requests,
        isl: a.isl,
        osl: a.osl,
    };
    let report = reader::run(&cfg).await;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(&report)?)?;
    Ok(ExitStatus::OK)
}
