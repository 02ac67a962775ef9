//! `llmb bench --workers K`: the parent writes the prepared requests and one spec per
//! worker, starts K `llmb bench-worker` processes, releases them together once all are
//! ready (`ready` on their stdout, `go <unix ns>` on their stdin, so they share one
//! origin), then merges their records. Inside a Slurm allocation of at least K nodes each
//! worker runs on its own node through `srun` (the same pipes travel through it); the
//! files live in the run folder, which must be on a shared file system there. The worker
//! side lives here too.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use http::{HeaderName, HeaderValue};
use llmb_load::client::HttpClient;
use llmb_load::driver::{DriverContext, LoadResult};
use llmb_load::progress::Progress;
use llmb_load::sink::Sink;
use llmb_load::worker::{self, WorkerReport, WorkerSpec};
use llmb_load::{Concurrency, LoadPlan, Shard, Target};
use llmb_tokenizer::Tokenizer;

use super::{bad, ExitStatus};

/// Environment variable carrying request headers (the API key included) to workers, so
/// they never touch a file.
const HEADERS_ENV: &str = "LLMB_WORKER_HEADERS";
/// How far ahead of "now" the common start is set once every worker is ready.
const START_MARGIN: Duration = Duration::from_millis(100);

/// What the parent knows that every worker shares.
pub struct Shared<'a> {
    /// Target (headers travel through the environment).
    pub target: &'a Target,
    /// Streamed responses.
    pub stream: bool,
    /// Tokenizer file, if not the built-in one.
    pub tokenizer: Option<PathBuf>,
}

/// Where worker processes run.
enum Placement {
    /// Child processes of this one.
    Local,
    /// One per node of the current Slurm allocation, through `srun`.
    Srun,
}

/// Inside a Slurm allocation with at least `k` nodes: one worker per node; else local.
fn placement(k: u32) -> Placement {
    let nodes: u32 = std::env::var("SLURM_JOB_NUM_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if std::env::var_os("SLURM_JOB_ID").is_some() && nodes >= k {
        Placement::Srun
    } else {
        Placement::Local
    }
}

/// Refuses a worker count that cannot be started, with the numbers.
pub fn check(k: u32, concurrency: Concurrency) -> anyhow::Result<()> {
    if k == 0 {
        return Err(bad("--workers must be at least 1"));
    }
    if let Concurrency::Limit(c) = concurrency {
        if (c as u64) < u64::from(k) {
            return Err(bad(format!(
                "--workers {k} needs at least {k} concurrent streams to share, but --concurrency is {c}; lower --workers to {c} or raise --concurrency"
            )));
        }
    }
    Ok(())
}

/// Runs one load point across `k` worker processes and merges their results.
pub async fn run(
    plan: &LoadPlan,
    k: u32,
    shared: Shared<'_>,
    dir: &Path,
) -> anyhow::Result<LoadResult> {
    check(k, plan.concurrency)?;
    let wdir = dir.join("workers");
    std::fs::create_dir_all(&wdir).with_context(|| format!("cannot create {}", wdir.display()))?;
    let requests_file = wdir.join("requests.jsonl");
    worker::write_requests(&requests_file, &plan.requests)
        .with_context(|| format!("cannot write {}", requests_file.display()))?;
    let headers: Vec<(String, String)> = shared
        .target
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let headers = serde_json::to_string(&headers)?;
    let exe = std::env::current_exe().context("cannot find the llmb executable")?;
    let placement = placement(k);
    let mut children = Vec::new();
    for index in 0..k {
        let shard = Shard { index, count: k };
        let spec = WorkerSpec {
            shard,
            base_url: shared.target.base_url.clone(),
            endpoint: shared.target.endpoint,
            stream: shared.stream,
            timeout_s: shared.target.timeout.as_secs_f64(),
            requests_file: requests_file.clone(),
            records_file: wdir.join(format!("records-{index}.jsonl")),
            tokenizer: shared.tokenizer.clone(),
            count: plan.count,
            warmup: plan.warmup,
            concurrency: match plan.concurrency {
                Concurrency::Limit(c) => Concurrency::Limit(shard.part_of(c as u64) as usize),
                Concurrency::Unbounded => Concurrency::Unbounded,
            },
            arrival: plan.arrival,
            duration_s: plan.duration.map(|d| d.as_secs_f64()),
            grace_s: plan.grace.as_secs_f64(),
            seed: plan.seed,
        };
        let _ = std::fs::remove_file(&spec.records_file);
        let spec_path = wdir.join(format!("worker-{index}.json"));
        std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec)?)?;
        let mut cmd = match &placement {
            Placement::Local => Command::new(&exe),
            Placement::Srun => {
                let mut c = Command::new("srun");
                c.args([
                    "--nodes=1",
                    "--ntasks=1",
                    "--overlap",
                    "--kill-on-bad-exit=1",
                ])
                .arg(format!("--relative={index}"))
                .arg(&exe);
                c
            }
        };
        let child = cmd
            .arg("bench-worker")
            .arg(&spec_path)
            .env(HEADERS_ENV, &headers)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start worker {index} ({})", exe.display()))?;
        children.push((spec, child));
    }
    let k_usize = k as usize;
    let reports_path = wdir.join("reports.json");
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<LoadResult> {
        let mut lines = Vec::with_capacity(k_usize);
        for (spec, child) in &mut children {
            let mut out = BufReader::new(child.stdout.take().expect("piped"));
            let mut line = String::new();
            out.read_line(&mut line)?;
            if line.trim() != "ready" {
                let status = child.wait()?;
                anyhow::bail!(
                    "worker {} did not start ({status}); its messages are above",
                    spec.shard.index
                );
            }
            lines.push(out);
        }
        let go = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64
            + START_MARGIN.as_nanos() as u64;
        for (_, child) in &mut children {
            let mut stdin = child.stdin.take().expect("piped");
            writeln!(stdin, "go {go}")?;
        }
        let mut reports = Vec::new();
        let mut records = Vec::new();
        for ((spec, child), mut out) in children.iter_mut().zip(lines) {
            let mut line = String::new();
            out.read_line(&mut line)?;
            let status = child.wait()?;
            let report: WorkerReport = serde_json::from_str(line.trim()).with_context(|| {
                format!(
                    "worker {} ended ({status}) without a report",
                    spec.shard.index
                )
            })?;
            records.push(worker::read_records(&spec.records_file)?);
            reports.push(report);
        }
        let _ = std::fs::write(
            reports_path,
            serde_json::to_vec_pretty(&reports).unwrap_or_default(),
        );
        Ok(worker::merge(&reports, records))
    })
    .await??;
    Ok(result)
}

/// The worker: load the spec and requests, say `ready`, wait for `go`, run the shard,
/// print the report.
pub async fn worker(spec_path: &Path) -> anyhow::Result<ExitStatus> {
    let spec: WorkerSpec = serde_json::from_slice(
        &std::fs::read(spec_path)
            .with_context(|| format!("cannot read {}", spec_path.display()))?,
    )
    .with_context(|| format!("{} is not a worker spec", spec_path.display()))?;
    if let Concurrency::Limit(c) = spec.concurrency {
        llmb_load::limits::ensure_open_files(c as u64).map_err(|e| bad(e.to_string()))?;
    }
    let pairs: Vec<(String, String)> = match std::env::var(HEADERS_ENV) {
        Ok(s) => serde_json::from_str(&s).context("bad worker headers")?,
        Err(_) => Vec::new(),
    };
    let mut headers = Vec::new();
    for (k, v) in pairs {
        let mut value = HeaderValue::try_from(v).context("bad worker header value")?;
        value.set_sensitive(true);
        headers.push((
            HeaderName::try_from(k).context("bad worker header name")?,
            value,
        ));
    }
    let tokenizer = Tokenizer::load(spec.tokenizer.as_deref()).map_err(|e| bad(e.to_string()))?;
    let requests = worker::read_requests(&spec.requests_file)
        .with_context(|| format!("cannot read {}", spec.requests_file.display()))?;
    let plan = LoadPlan {
        requests,
        count: spec.count,
        warmup: spec.warmup,
        concurrency: spec.concurrency,
        arrival: spec.arrival,
        duration: spec.duration_s.map(Duration::from_secs_f64),
        grace: Duration::from_secs_f64(spec.grace_s),
        seed: spec.seed,
        shard: Some(spec.shard),
    };
    let target = Target {
        base_url: spec.base_url.clone(),
        endpoint: spec.endpoint,
        headers,
        timeout: Duration::from_secs_f64(spec.timeout_s),
    };
    let sink = Sink::start(Some(&spec.records_file), tokenizer)
        .with_context(|| format!("cannot write {}", spec.records_file.display()))?;
    let (interrupt_tx, interrupt_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = interrupt_tx.send(true);
        }
    });
    println_flush("ready")?;
    let go = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await??;
    let go_ns: u64 = go
        .trim()
        .strip_prefix("go ")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad(format!("worker expected `go <unix ns>`, got {go:?}")))?;
    let now_ns = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    let start_at = Instant::now() + Duration::from_nanos(go_ns.saturating_sub(now_ns));
    let ctx = DriverContext {
        client: HttpClient::new(Duration::from_secs(10)),
        target,
        stream: spec.stream,
        progress: Arc::new(Progress::default()),
        interrupt: interrupt_rx,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        start_at: Some(start_at),
    };
    let result = llmb_load::run(&plan, ctx, sink).await?;
    let node = std::env::var("SLURMD_NODENAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok());
    let report = WorkerReport::from_result(spec.shard.index, &result, node);
    println_flush(&serde_json::to_string(&report)?)?;
    Ok(ExitStatus::OK)
}

fn println_flush(s: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}")?;
    out.flush()
}
