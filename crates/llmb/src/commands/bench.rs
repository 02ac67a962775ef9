//! `llmb bench`: resolve the flags into load points, prepare prompts before the clock
//! starts, run each point, write its result folder before the next starts, print reports.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http::{HeaderName, HeaderValue};
use llmb_engines::telemetry::{self, ServerView};
use llmb_engines::EngineKind;
use llmb_load::client::HttpClient;
use llmb_load::dataset::{self, PromptEntry, RequestShape, ServerKind};
use llmb_load::driver::DriverContext;
use llmb_load::progress::Progress;
use llmb_load::scrape::Scraper;
use llmb_load::sink::Sink;
use llmb_load::verdict::{self, ClientBound};
use llmb_load::{Arrival, ClientError, Concurrency, LoadPlan, Target};
use llmb_metrics::{FailIf, Slo, Summary, Warning};
use llmb_protocol::Endpoint;
use llmb_report::run_dir::{self, PointDir};
use llmb_report::{genai_perf, perf_summary, serving, summary_json, trtllm, RunInfo};
use llmb_tokenizer::{LengthSpec, Tokenizer};
use serde_json::{json, Value};

use super::{bad, embedded, workers, ExitStatus};
use crate::cli::bench::BenchArgs;
use crate::live::Live;
use llmb_recipe::use_case::{self, UseCase};
use llmb_settings::{BenchSettings, ReportFormat};

/// One load point of the run.
struct Point {
    label: String,
    use_case: Option<UseCase>,
    concurrency: Concurrency,
}

/// The run's settings: `--settings` (a plan's load step), else the options.
fn resolve(args: BenchArgs) -> anyhow::Result<BenchSettings> {
    let Some(path) = args.settings.clone() else {
        return Ok(args.into_settings());
    };
    let (text, source) = if path.as_os_str() == "-" {
        let mut t = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
            .context("cannot read settings from stdin")?;
        (t, "stdin".to_owned())
    } else {
        let t = std::fs::read_to_string(&path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        (t, path.display().to_string())
    };
    let mut s = BenchSettings::from_json(&text, &source).map_err(bad)?;
    if args.url.is_some() {
        s.url = args.url;
    }
    s.headers = args.headers;
    Ok(s)
}

/// Runs `llmb bench`.
pub async fn run(args: BenchArgs) -> anyhow::Result<ExitStatus> {
    let a = resolve(args)?;
    // ---- resolve and validate everything before any traffic ----
    if a.isl <= 0 || a.osl <= 0 {
        return Err(bad(format!(
            "--isl and --osl must be positive (got {} and {})",
            a.isl, a.osl
        )));
    }
    let concurrencies = a
        .concurrency
        .iter()
        .map(|c| Concurrency::from_flag(*c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    for c in &concurrencies {
        workers::check(a.workers, *c)?;
    }
    // One socket per stream; an unbounded run takes whatever the system allows.
    let max_streams = concurrencies.iter().try_fold(0u64, |m, c| match c {
        Concurrency::Limit(n) => Some(m.max(*n as u64)),
        Concurrency::Unbounded => None,
    });
    match max_streams {
        Some(n) => {
            llmb_load::limits::ensure_open_files(n).map_err(|e| bad(e.to_string()))?;
        }
        None => {
            llmb_load::limits::raise_to_hard();
        }
    }
    let use_cases: Vec<UseCase> = a
        .use_cases
        .iter()
        .map(|s| use_case::parse_list(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.0))?
        .into_iter()
        .flatten()
        .collect();
    if let Some(r) = a.request_rate {
        if !(r > 0.0 && r.is_finite()) {
            return Err(bad(format!(
                "--request-rate {r} must be a positive number of requests per second"
            )));
        }
    }
    if !(a.burstiness > 0.0 && a.burstiness.is_finite()) {
        return Err(bad("--burstiness must be positive (1 = Poisson)"));
    }
    if a.num_requests == Some(0) || a.multi_round == Some(0) {
        return Err(bad("--num-requests and --multi-round must be at least 1"));
    }
    if a.gpus == 0 {
        return Err(bad("--gpus must be at least 1"));
    }
    if let Some(d) = a.decode_gpus.filter(|&d| d == 0 || d > a.gpus) {
        return Err(bad(format!(
            "--decode-gpus {d} must be between 1 and --gpus ({})",
            a.gpus
        )));
    }
    let slo = a
        .slo
        .as_deref()
        .map(Slo::parse)
        .transpose()
        .map_err(|e| bad(e.to_string()))?;
    let fail_if = a
        .fail_if
        .as_deref()
        .map(FailIf::parse_list)
        .transpose()
        .map_err(|e| bad(e.to_string()))?
        .unwrap_or_default();
    let extra_body = match &a.extra_body {
        Some(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(bad(format!(
                    "--extra-body must be a JSON object, e.g. '{{\"temperature\": 0}}' (got `{s}`)"
                )))
            }
        },
        None => Default::default(),
    };
    let mut headers = Vec::new();
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| bad(format!("--header `{h}` is not K:V")))?;
        let name = HeaderName::try_from(k.trim())
            .map_err(|_| bad(format!("--header `{h}`: bad header name")))?;
        let value = HeaderValue::try_from(v.trim())
            .map_err(|_| bad(format!("--header `{h}`: bad header value")))?;
        headers.push((name, value));
    }
    if let Ok(key) = std::env::var(&a.api_key_env) {
        if !key.is_empty() {
            let mut v = HeaderValue::try_from(format!("Bearer {key}")).map_err(|_| {
                bad(format!(
                    "${} holds characters not allowed in a header",
                    a.api_key_env
                ))
            })?;
            v.set_sensitive(true);
            headers.push((http::header::AUTHORIZATION, v));
        }
    }
    let endpoint = a.endpoint;
    if a.prompt_token_ids && endpoint != Endpoint::Completions {
        return Err(bad("--prompt-token-ids needs --endpoint completions"));
    }
    let tokenizer = Tokenizer::load(a.tokenizer.as_deref()).map_err(|e| bad(e.to_string()))?;

    // ---- the target ----
    let (_engine, base_url) = match &a.url {
        Some(u) => (None, u.clone()),
        None => {
            let e = embedded::start(a.seed).await?;
            let url = e.url.clone();
            (Some(e), url)
        }
    };
    let target = Target {
        base_url: base_url.clone(),
        endpoint,
        headers,
        timeout: a.timeout,
    };
    target.uri("/").map_err(|e| bad(e.to_string()))?;
    let client = HttpClient::new(Duration::from_secs(10));
    let model = match client.get_json(&target, "/v1/models").await {
        Ok(v) => match (&a.model, v["data"][0]["id"].as_str()) {
            (Some(m), _) => m.clone(),
            (None, Some(m)) => m.to_owned(),
            (None, None) => {
                return Err(bad(format!(
                    "{base_url} lists no models at /v1/models; pass --model"
                )))
            }
        },
        Err(e @ ClientError::Unreachable { .. }) | Err(e @ ClientError::BadUrl(..)) => {
            return Err(bad(e.to_string()))
        }
        Err(e) => match &a.model {
            Some(m) => m.clone(),
            None => {
                return Err(bad(format!(
                    "{e}; pass --model if the server has no /v1/models"
                )))
            }
        },
    };

    // ---- points ----
    let shapes: Vec<Option<UseCase>> = if use_cases.is_empty() {
        vec![None]
    } else {
        use_cases.into_iter().map(Some).collect()
    };
    let mut points = Vec::new();
    for uc in &shapes {
        for c in &concurrencies {
            let mut label = uc.as_ref().map_or_else(String::new, |u| u.name.clone());
            if concurrencies.len() > 1 || label.is_empty() {
                if !label.is_empty() {
                    label.push('-');
                }
                label.push_str(&format!("c{}", c.as_flag()));
            }
            points.push(Point {
                label,
                use_case: uc.clone(),
                concurrency: *c,
            });
        }
    }
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stamp = run_dir::stamp(now_s);
    let top = match &a.output_dir {
        Some(d) => d.clone(),
        None => {
            let (isl, osl) = shapes[0]
                .as_ref()
                .map_or((a.isl as u64, a.osl as u64), |u| {
                    (u64::from(u.isl), u64::from(u.osl))
                });
            let label = a
                .label
                .clone()
                .unwrap_or_else(|| format!("{}-{isl}-{osl}", endpoint.as_str()));
            run_dir::default_dir(&PathBuf::from("results"), &stamp, &label)
        }
    };
    let single = points.len() == 1;
    let (interrupt_tx, interrupt_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = interrupt_tx.send(true);
        }
    });
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut status = ExitStatus::OK;
    let mut sweep_rows = Vec::new();
    for point in &points {
        let dir = if single {
            PointDir::new(&top)
        } else {
            PointDir::new(top.join(&point.label))
        };
        std::fs::create_dir_all(&dir.dir)
            .with_context(|| format!("cannot create result folder {}", dir.dir.display()))?;
        let (isl, osl) = point
            .use_case
            .as_ref()
            .map_or((a.isl as u64, a.osl as u64), |u| {
                (u64::from(u.isl), u64::from(u.osl))
            });
        let count = match (a.num_requests, a.multi_round, point.concurrency, a.duration) {
            (Some(n), _, _, _) => Some(n),
            (None, Some(k), Concurrency::Limit(c), _) => Some(c as u64 * k),
            (None, _, _, Some(_)) => None,
            (None, _, Concurrency::Limit(c), None) => Some(10 * c as u64),
            (None, _, Concurrency::Unbounded, None) => Some(256),
        };
        let distinct = count.unwrap_or(10_000) + a.warmup;
        let entries: Vec<PromptEntry> = match &a.dataset {
            Some(p) => {
                dataset::from_file(p, &tokenizer, Some(osl)).map_err(|e| bad(e.to_string()))?
            }
            None => dataset::synthetic(
                &tokenizer,
                distinct as usize,
                LengthSpec {
                    mean: isl,
                    stddev: a.isl_stddev,
                },
                LengthSpec {
                    mean: osl,
                    stddev: a.osl_stddev,
                },
                a.seed,
            )
            .map_err(|e| bad(e.to_string()))?,
        };
        let ignore_eos = a.ignore_eos;
        let shape = RequestShape {
            endpoint,
            model: model.clone(),
            stream: a.stream,
            ignore_eos,
            server: a.server,
            prompt_token_ids: a.prompt_token_ids,
            extra_body: extra_body.clone(),
        };
        let requests = dataset::prepare(&entries, &shape, &tokenizer);
        let arrival = match a.request_rate {
            Some(r) => Arrival::Rate {
                per_second: r,
                burstiness: a.burstiness,
            },
            None => Arrival::Immediate,
        };
        let plan = LoadPlan {
            requests,
            count,
            warmup: a.warmup,
            concurrency: point.concurrency,
            arrival,
            duration: a.duration,
            grace: a.grace,
            seed: a.seed,
            shard: None,
        };
        let config = json!({
            "llmb_version": env!("CARGO_PKG_VERSION"),
            "url": base_url, "embedded_engine": a.url.is_none(), "endpoint": endpoint, "model": model,
            "server": shape.server, "tokenizer": tokenizer.name(),
            "isl": isl, "osl": osl, "isl_stddev": a.isl_stddev, "osl_stddev": a.osl_stddev,
            "use_case": point.use_case.as_ref().map(|u| &u.name),
            "dataset": a.dataset.as_ref().map(|p| p.display().to_string()),
            "num_requests": count, "warmup": a.warmup, "duration_s": a.duration.map(|d| d.as_secs_f64()),
            "concurrency": point.concurrency.as_flag(), "arrival": arrival, "seed": a.seed,
            "ignore_eos": ignore_eos, "stream": shape.stream, "prompt_token_ids": a.prompt_token_ids,
            "extra_body": Value::Object(extra_body.clone()),
            "headers": a.headers.iter().map(|h| h.split_once(':').map_or(h.as_str(), |(k, _)| k).to_owned()).collect::<Vec<_>>(),
            "api_key_env": a.api_key_env, "timeout_s": a.timeout.as_secs_f64(), "gpus": a.gpus,
            "slo": slo, "fail_if": a.fail_if, "started_unix_s": now_s,
        });
        std::fs::write(dir.config(), serde_json::to_vec_pretty(&config)?)?;
        let _ = std::fs::remove_file(dir.records());
        let scraper = a.server_metrics.then(|| {
            let addr = target
                .uri("/")
                .ok()
                .and_then(|u| u.authority().map(|x| x.to_string()))
                .unwrap_or_default();
            let kind = match (a.url.is_none(), a.server) {
                (true, _) => Some(EngineKind::Sim),
                (false, ServerKind::Vllm) => Some(EngineKind::Vllm),
                (false, ServerKind::Sglang) => Some(EngineKind::Sglang),
                (false, ServerKind::Llamacpp) => Some(EngineKind::LlamaCpp),
                _ => None,
            };
            Scraper::start(
                addr,
                "/metrics".into(),
                telemetry::names_for(kind),
                Duration::from_secs(1),
            )
        });
        // The baseline scrape comes before the first request, so counters diff exactly.
        let mut scraper = scraper;
        if let Some(s) = scraper.as_mut() {
            s.first_scrape().await;
        }
        let result = if a.workers > 1 {
            let shared = workers::Shared {
                target: &target,
                stream: shape.stream,
                tokenizer: a.tokenizer.clone(),
                loaded: &tokenizer,
                client: &client,
                threads,
            };
            let r = workers::run(&plan, a.workers, shared, &dir.dir, interrupt_rx.clone()).await?;
            write_records(&dir.records(), &r.records)?;
            r
        } else {
            let sink = Sink::start(Some(&dir.records()), tokenizer.clone())
                .with_context(|| format!("cannot write {}", dir.records().display()))?;
            let progress = Arc::new(Progress::default());
            let live = Live::start(progress.clone(), point.label.clone(), a.quiet);
            let ctx = DriverContext {
                client: client.clone(),
                target: target.clone(),
                stream: shape.stream,
                progress,
                interrupt: interrupt_rx.clone(),
                threads,
                start_at: None,
                origin: None,
            };
            let result = llmb_load::run(&plan, ctx, sink).await;
            live.finish().await;
            result?
        };

        // ---- metrics and files ----
        let summary = Summary::from_records(&result.records, Some(result.window));
        let good = slo.as_ref().map(|s| s.good_requests(&result.records));
        let info = RunInfo {
            model: model.clone(),
            tokenizer: tokenizer.name().to_owned(),
            gpus: a.gpus,
            decode_gpus: a.decode_gpus,
            streaming: shape.stream,
            concurrency: point.concurrency.as_flag(),
            request_rate: a.request_rate,
            burstiness: a.burstiness,
            num_prompts: summary.requests,
            good_requests: good,
            backend: format!("{:?}", a.server).to_lowercase(),
            date: stamp.clone(),
        };
        let warnings = warnings(&summary, &result.records, result.interrupted);
        let bound = verdict::judge(
            &result.client,
            &summary.send_lag_ms,
            &summary.client_lag_ms,
            &summary.connect_wait_ms,
        );
        let brief = |d: &llmb_metrics::Distribution| json!({"mean": d.mean(), "p99": d.percentile(99.0, llmb_metrics::percentile::Method::Linear), "max": d.max()});
        let lag = &summary.client_lag_ms;
        let client_json = json!({
            "cpu_s": result.client.cpu_s, "wall_s": result.client.wall_s, "threads": result.client.threads,
            "cpu_busy": result.client.busy(),
            "timer_lag_ms": brief(&result.client.loop_lag_ms),
            "client_lag_ms": if lag.is_empty() { Value::Null } else { brief(lag) },
            "client_bound": bound, "valid": bound.is_empty(),
        });
        let overview = trtllm::report(&summary, &info);
        let serving_txt = serving::report(&summary, &info);
        let csv = genai_perf::csv(&summary, &result.records, &info);
        std::fs::write(dir.overview(), &overview)?;
        std::fs::write(dir.serving_txt(), &serving_txt)?;
        std::fs::write(
            dir.serving_json(),
            serde_json::to_vec(&serving::result_json(&summary, &result.records, &info))?,
        )?;
        std::fs::write(
            dir.genai_json(),
            serde_json::to_vec_pretty(&genai_perf::json(
                &summary,
                &result.records,
                &info,
                config.clone(),
            ))?,
        )?;
        std::fs::write(dir.genai_csv(), &csv)?;
        if a.decode_gpus.is_some() {
            std::fs::write(
                dir.dir.join("perf_summary.txt"),
                perf_summary::report(&summary, &info, isl, osl),
            )?;
        }
        let mut summary_doc = summary_json::summary(
            &summary,
            &info,
            client_json,
            serde_json::to_value(&warnings)?,
            result.interrupted,
        );
        let server_view = match scraper {
            Some(s) => {
                let scrapes = s.finish().await;
                let mut lines = Vec::new();
                for x in &scrapes {
                    serde_json::to_writer(&mut lines, x)?;
                    lines.push(b'\n');
                }
                std::fs::write(dir.server_metrics(), lines)?;
                Some(ServerView::from_scrapes(&scrapes))
            }
            None => None,
        };
        if let (Some(v), false) = (&server_view, a.quiet) {
            if let Some(g) = v.generated_tokens {
                writeln!(
                    std::io::stderr(),
                    "server view ({} scrapes of /metrics): {g:.0} tokens generated (client counted {}), mean {:.1} running, max {:.0} waiting",
                    v.samples,
                    summary.total_output_tokens,
                    v.mean_running.unwrap_or(0.0),
                    v.max_waiting.unwrap_or(0.0)
                )?;
            }
        }
        summary_doc["server"] = json!({
            "definition": "the engine's own Prometheus metrics, scraped every second from before the first request to after the last (server_metrics.jsonl); generated_tokens = counter at the last scrape - at the first",
            "view": server_view,
        });
        std::fs::write(dir.summary(), serde_json::to_vec_pretty(&summary_doc)?)?;

        // ---- what the user sees ----
        if !a.quiet {
            let mut out = std::io::stdout().lock();
            if matches!(a.format, ReportFormat::Trtllm | ReportFormat::All) {
                writeln!(out, "{overview}")?;
            }
            if matches!(a.format, ReportFormat::Serving | ReportFormat::All) {
                writeln!(out, "{serving_txt}")?;
            }
            if matches!(a.format, ReportFormat::GenaiPerf | ReportFormat::All) {
                writeln!(out, "{}", csv.replace("\r\n", "\n"))?;
            }
        }
        let mut err = std::io::stderr().lock();
        if summary.failed() > 0 {
            let kinds: Vec<String> = summary
                .failures
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            writeln!(
                err,
                "failed requests: {} of {} ({})",
                summary.failed(),
                summary.requests,
                kinds.join(", ")
            )?;
        }
        for w in &warnings {
            writeln!(err, "warning: {w}")?;
        }
        if !lag.is_empty() && !a.quiet {
            writeln!(
                err,
                "client lag behind the engine's send stamps: mean {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                lag.mean(),
                lag.percentile(99.0, llmb_metrics::percentile::Method::Linear),
                lag.max()
            )?;
        }
        let mut point_status = ExitStatus::OK;
        if !bound.is_empty() {
            let why: Vec<String> = bound.iter().map(ClientBound::to_string).collect();
            writeln!(
                err,
                "client-bound: results invalid ({}); lower the load or give the client more CPU",
                why.join("; ")
            )?;
            point_status = ExitStatus::CLIENT_BOUND;
        }
        if summary.requests > 0 && summary.failed() * 2 > summary.requests {
            writeln!(err, "more than half of the requests failed")?;
            point_status = ExitStatus::THRESHOLD;
        }
        for f in fail_if.iter().filter(|f| f.holds(&summary)) {
            writeln!(err, "fail-if: {f} (measured {:.4})", f.value(&summary))?;
            point_status = ExitStatus::THRESHOLD;
        }
        writeln!(err, "results: {}", dir.dir.display())?;
        drop(err);
        sweep_rows.push(json!({
            "label": point.label, "dir": dir.dir.display().to_string(), "concurrency": point.concurrency.as_flag(),
            "use_case": point.use_case.as_ref().map(|u| &u.name), "isl": isl, "osl": osl,
            "completed": summary.completed, "failed": summary.failed(),
            "output_tokens_per_s": summary.output_rate(summary.span_s),
            "output_tokens_per_s_per_gpu": summary.output_rate(summary.span_s) / a.gpus as f64,
            "user_tokens_per_s": summary.user_tput_with_ctx.mean(),
            "mean_ttft_ms": summary.latency.ttft_ms.mean(), "mean_tpot_ms": summary.tpot_ms.mean(),
        }));
        if !single {
            std::fs::write(
                top.join("sweep_summary.json"),
                serde_json::to_vec_pretty(
                    &json!({"schema": "llmb.sweep/1", "points": sweep_rows}),
                )?,
            )?;
        }
        if point_status != ExitStatus::OK && status == ExitStatus::OK {
            status = point_status;
        }
        if result.interrupted {
            return Ok(ExitStatus::INTERRUPTED);
        }
    }
    Ok(status)
}

/// Writes merged records (a `--workers` run) as one records.jsonl.
fn write_records(
    path: &std::path::Path,
    records: &[llmb_metrics::RequestRecord],
) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    for r in records {
        serde_json::to_writer(&mut w, r)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

fn warnings(
    s: &Summary,
    records: &[llmb_metrics::RequestRecord],
    interrupted: bool,
) -> Vec<Warning> {
    let mut w = Vec::new();
    let done: Vec<_> = records
        .iter()
        .filter(|r| !r.warmup && r.is_completed())
        .collect();
    if s.input_mismatches > 0 {
        let diffs: std::collections::BTreeSet<i64> = done
            .iter()
            .filter_map(|r| {
                r.usage
                    .prompt_tokens
                    .map(|p| p as i64 - r.input_tokens as i64)
            })
            .filter(|d| *d != 0)
            .collect();
        let constant_offset = (diffs.len() == 1 && s.input_mismatches == s.completed)
            .then(|| *diffs.iter().next().unwrap_or(&0));
        w.push(Warning::InputLengthMismatch {
            mismatched: s.input_mismatches,
            completed: s.completed,
            constant_offset,
        });
    }
    if s.output_mismatches > 0 {
        let worst = done
            .iter()
            .filter(|r| {
                r.requested_output_tokens
                    .is_some_and(|q| q != r.output_tokens())
            })
            .min_by_key(|r| r.output_tokens());
        if let Some(r) = worst {
            w.push(Warning::OutputLengthMismatch {
                mismatched: s.output_mismatches,
                completed: s.completed,
                shortest: r.output_tokens(),
                requested: r.requested_output_tokens.unwrap_or(0),
            });
        }
    }
    let no_usage = done
        .iter()
        .filter(|r| r.usage.completion_tokens.is_none())
        .count() as u64;
    if no_usage > 0 {
        w.push(Warning::NoUsageReported { requests: no_usage });
    }
    if s.failed() > 0 {
        w.push(Warning::RequestsFailed {
            failed: s.failed(),
            total: s.requests,
        });
    }
    if interrupted {
        w.push(Warning::Interrupted);
    }
    w
}
