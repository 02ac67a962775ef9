//! The `--workers K` coordinator and its worker side: the parent writes the prepared
//! requests and one [`WorkerSpec`] per worker into the run folder, starts K `llmb
//! bench-worker` processes, releases them together once all are ready (`ready` on their
//! stdout, `go <unix ns>` on their stdin, so they share one start), then merges their
//! records. A warm-up runs once, in the parent, after the workers are ready and before
//! `go`, which then also names the warm-up's start as the clock origin of every record.
//! Inside a Slurm allocation of at least K nodes each worker runs on its own node through
//! `srun` (the same pipes travel through it); the files live in the run folder, which must
//! be on a shared file system there.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use http::{HeaderName, HeaderValue};
use llmb_settings::invalid;
use llmb_tls::Verify;
use llmb_tokenizer::Tokenizer;

use crate::client::HttpClient;
use crate::driver::{DriverContext, LoadResult};
use crate::progress::Progress;
use crate::sink::Sink;
use crate::worker::{self, WorkerReport, WorkerSpec};
use crate::{Concurrency, LoadPlan, Shard, Target};

/// Environment variable carrying request headers (the API key included) to workers, so
/// they never touch a file.
const HEADERS_ENV: &str = "LLMB_WORKER_HEADERS";
/// How far ahead of "now" the common start is set once every worker is ready.
const START_MARGIN: Duration = Duration::from_millis(100);

/// What the parent knows that every worker shares.
pub struct Shared<'a> {
    /// The `llmb` executable the workers run (`llmb bench-worker SPEC`).
    pub exe: &'a Path,
    /// Target (headers travel through the environment).
    pub target: &'a Target,
    /// Streamed responses.
    pub stream: bool,
    /// Tokenizer file, if not the built-in one (workers load it themselves).
    pub tokenizer: Option<PathBuf>,
    /// The same tokenizer, loaded (the warm-up runs here).
    pub loaded: &'a Tokenizer,
    /// The parent's client (the warm-up runs here).
    pub client: &'a HttpClient,
    /// Runtime worker threads, for the warm-up's CPU verdict.
    pub threads: usize,
    /// When a worker gives up.
    pub stop: crate::breaker::StopPolicy,
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

/// Runs one load point across `k` worker processes and merges their results; `wdir` is
/// the folder for their files (requests, specs, per-worker records, reports).
pub async fn run(
    plan: &LoadPlan,
    k: u32,
    shared: Shared<'_>,
    wdir: &Path,
    interrupt: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<LoadResult> {
    check(k, plan.concurrency)?;
    std::fs::create_dir_all(wdir).with_context(|| format!("cannot create {}", wdir.display()))?;
    let requests_file = wdir.join("requests.jsonl");
    worker::write_requests(&requests_file, &plan.requests)
        .with_context(|| format!("cannot write {}", requests_file.display()))?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in &shared.target.headers {
        let v = value.to_str().map_err(|_| {
            invalid(format!(
                "header `{name}` holds bytes other than visible ASCII, which --workers cannot pass on; use plain ASCII"
            ))
        })?;
        headers.push((name.to_string(), v.to_owned()));
    }
    let headers = serde_json::to_string(&headers)?;
    let exe = shared.exe;
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
            idle_timeout_s: shared.target.idle_timeout.as_secs_f64(),
            insecure: shared.target.verify == Verify::Skip,
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
            stop: shared.stop,
        };
        let _ = std::fs::remove_file(&spec.records_file);
        let spec_path = wdir.join(format!("worker-{index}.json"));
        std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec)?)
            .with_context(|| format!("cannot write {}", spec_path.display()))?;
        let mut cmd = match &placement {
            Placement::Local => {
                let mut c = Command::new(exe);
                llmb_signals::die_with_parent(&mut c);
                c
            }
            Placement::Srun => {
                let mut c = Command::new("srun");
                c.args([
                    "--nodes=1",
                    "--ntasks=1",
                    "--overlap",
                    "--kill-on-bad-exit=1",
                ])
                .arg(format!("--relative={index}"))
                .arg(exe);
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
    let reports_path = wdir.join("reports.json");
    let mut team = Team { members: children };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let warm_interrupt = interrupt.clone();
    let watcher = {
        let (stop, mut interrupt) = (stop.clone(), interrupt);
        tokio::spawn(async move {
            if interrupt.wait_for(|v| *v).await.is_ok() {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    let ready_limit = READY_TIMEOUT;
    let stop_ready = stop.clone();
    let (mut team, rx) = tokio::task::spawn_blocking(move || {
        let stop = stop_ready;
        // One thread per worker forwards its stdout lines, so waits can time out.
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Option<String>)>();
        for (i, (_, child)) in team.members.iter_mut().enumerate() {
            let out = BufReader::new(child.stdout.take().expect("piped"));
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in out.lines() {
                    match line {
                        Ok(l) => {
                            if tx.send((i, Some(l))).is_err() {
                                return;
                            }
                        }
                        Err(_) => break,
                    }
                }
                let _ = tx.send((i, None));
            });
        }
        drop(tx);
        let n = team.members.len();
        let deadline = Instant::now() + ready_limit;
        let mut ready = vec![false; n];
        while ready.iter().any(|r| !r) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((i, Some(l))) if l.trim() == "ready" => ready[i] = true,
                Ok((i, _)) => anyhow::bail!(
                    "worker {i} did not start (it said {:?}); its messages are above",
                    team.status(i)
                ),
                Err(_) => anyhow::bail!(
                    "worker(s) {:?} not ready after {} s; check that `srun` can start them and that the run folder is shared",
                    (0..n).filter(|i| !ready[*i]).collect::<Vec<_>>(),
                    ready_limit.as_secs()
                ),
            }
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                anyhow::bail!("interrupted before the workers started");
            }
        }
        anyhow::Ok((team, rx))
    })
    .await??;
    // The warm-up runs here, once, at the run's concurrency, while the workers wait: each
    // worker ending its own share at a different moment would split the shared schedule.
    let (origin_ns, warm_records) = if plan.warmup > 0 {
        let (origin_ns, records) = warm_up(plan, &shared, warm_interrupt).await?;
        (Some(origin_ns), records)
    } else {
        (None, Vec::new())
    };
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<LoadResult> {
        let n = team.members.len();
        let go = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64
            + START_MARGIN.as_nanos() as u64;
        match origin_ns {
            Some(o) => team.tell_all(&format!("go {go} {o}")),
            None => team.tell_all(&format!("go {go}")),
        }
        let mut reports: Vec<Option<WorkerReport>> = vec![None; n];
        let mut ended = vec![false; n];
        let mut told_stop = false;
        while ended.iter().any(|e| !e) {
            if !told_stop && stop.load(std::sync::atomic::Ordering::Relaxed) {
                team.tell_all("stop");
                told_stop = true;
            }
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok((i, Some(l))) => {
                    reports[i] = Some(serde_json::from_str(l.trim()).with_context(|| {
                        format!("worker {i} printed {l:?} instead of its report")
                    })?);
                }
                Ok((i, None)) => ended[i] = true,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let mut done = Vec::with_capacity(n);
        let mut records = Vec::with_capacity(n + 1);
        records.push(warm_records);
        for (i, r) in reports.into_iter().enumerate() {
            let status = team.status(i);
            let r = r.ok_or_else(|| {
                anyhow::anyhow!(
                    "worker {i} ended ({status}) without a report; its messages are above"
                )
            })?;
            let file = &team.members[i].0.records_file;
            records.push(
                worker::read_records(file)
                    .with_context(|| format!("cannot read {}", file.display()))?,
            );
            done.push(r);
        }
        let _ = std::fs::write(
            &reports_path,
            serde_json::to_vec_pretty(&done).unwrap_or_default(),
        );
        // The merged records.jsonl replaces the per-worker files.
        for (spec, _) in &team.members {
            let _ = std::fs::remove_file(&spec.records_file);
        }
        Ok(worker::merge(&done, records))
    })
    .await?;
    watcher.abort();
    result
}

/// Runs the warm-up requests (ids `0..warmup`) in this process; returns when it began (unix
/// ns, the origin of every record's clock) and its records, flagged as warm-up.
async fn warm_up(
    plan: &LoadPlan,
    shared: &Shared<'_>,
    interrupt: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(u64, Vec<llmb_metrics::RequestRecord>)> {
    // Request i uses requests[i % len]: the first `warmup` of them are all the warm-up needs.
    let requests = if (plan.warmup as usize) < plan.requests.len() {
        plan.requests[..plan.warmup as usize].to_vec()
    } else {
        plan.requests.clone()
    };
    let warm = LoadPlan {
        requests,
        count: Some(plan.warmup),
        warmup: 0,
        concurrency: plan.concurrency,
        arrival: plan.arrival,
        duration: None,
        grace: plan.grace,
        seed: plan.seed,
        shard: None,
    };
    let sink = Sink::start(None, shared.loaded.clone()).context("cannot start the warm-up")?;
    let origin_ns = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    let ctx = DriverContext {
        client: shared.client.clone(),
        target: shared.target.clone(),
        stream: shared.stream,
        progress: Arc::new(Progress::default()),
        interrupt,
        stop: shared.stop,
        threads: shared.threads,
        start_at: None,
        origin: Some(Instant::now()),
    };
    let mut records = crate::run(&warm, ctx, sink).await?.records;
    for r in &mut records {
        r.warmup = true;
    }
    Ok((origin_ns, records))
}

/// How long workers may take to load their requests and say `ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The worker processes; any still running when this is dropped are killed, so a failed
/// run never leaves load running against the server.
struct Team {
    members: Vec<(WorkerSpec, std::process::Child)>,
}

impl Team {
    /// Sends one line to every worker's stdin (a gone worker is noticed on its stdout).
    fn tell_all(&mut self, line: &str) {
        for (_, child) in &mut self.members {
            if let Some(stdin) = child.stdin.as_mut() {
                let _ = writeln!(stdin, "{line}");
                let _ = stdin.flush();
            }
        }
    }

    /// The exit status of worker `i`, waiting for it.
    fn status(&mut self, i: usize) -> String {
        self.members[i]
            .1
            .wait()
            .map_or_else(|e| e.to_string(), |s| s.to_string())
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        for (_, child) in &mut self.members {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// The worker (`llmb bench-worker SPEC`): load the spec and requests, say `ready`, wait for `go`, run the shard,
/// print the report.
pub async fn worker(spec_path: &Path) -> anyhow::Result<()> {
    let spec: WorkerSpec = serde_json::from_slice(
        &std::fs::read(spec_path)
            .with_context(|| format!("cannot read {}", spec_path.display()))?,
    )
    .with_context(|| format!("{} is not a worker spec", spec_path.display()))?;
    if let Concurrency::Limit(c) = spec.concurrency {
        crate::limits::ensure_open_files(c as u64).map_err(|e| invalid(e.to_string()))?;
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
    let tokenizer =
        Tokenizer::load(spec.tokenizer.as_deref()).map_err(|e| invalid(e.to_string()))?;
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
        idle_timeout: Duration::from_secs_f64(spec.idle_timeout_s),
        verify: if spec.insecure {
            Verify::Skip
        } else {
            Verify::Roots
        },
    };
    let sink = Sink::start(Some(&spec.records_file), tokenizer)
        .with_context(|| format!("cannot write {}", spec.records_file.display()))?;
    let (interrupt_tx, interrupt_rx) = tokio::sync::watch::channel(false);
    let interrupt_tx = Arc::new(interrupt_tx);
    let interrupt_tx_stdin = interrupt_tx.clone();
    // SIGINT, SIGTERM or SIGHUP: stop like `stop` from the parent; records so far are kept.
    llmb_signals::Stop::install(move |_| {
        let _ = interrupt_tx.send(true);
    })
    .context("cannot catch SIGINT, SIGTERM and SIGHUP")?;
    println_flush("ready")?;
    let go = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await??;
    // `go <start unix ns> [<origin unix ns>]`: the origin is when the parent's warm-up began.
    let stamps: Vec<u64> = go
        .trim()
        .strip_prefix("go ")
        .map(|v| {
            v.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let Some(&go_ns) = stamps.first() else {
        return Err(invalid(format!(
            "worker expected `go <unix ns> [<origin unix ns>]`, got {go:?}"
        )));
    };
    let now_ns = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    let now = Instant::now();
    // A stamp already past still names the shared instant: count from it, in the past.
    let instant_of = |ns: u64| {
        if ns >= now_ns {
            now + Duration::from_nanos(ns - now_ns)
        } else {
            now.checked_sub(Duration::from_nanos(now_ns - ns))
                .unwrap_or(now)
        }
    };
    let start_at = instant_of(go_ns);
    let origin = stamps.get(1).map(|&o| instant_of(o));
    // `stop` from the parent, or its end (EOF), interrupts like Ctrl-C.
    let stop_tx = interrupt_tx_stdin;
    std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.trim() == "stop" => break,
                Ok(_) => {}
            }
        }
        let _ = stop_tx.send(true);
    });
    let ctx = DriverContext {
        client: HttpClient::new(Duration::from_secs(10), target.verify),
        target,
        stream: spec.stream,
        progress: Arc::new(Progress::default()),
        interrupt: interrupt_rx,
        stop: spec.stop,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        start_at: Some(start_at),
        origin,
    };
    let result = crate::run(&plan, ctx, sink).await?;
    let node = std::env::var("SLURMD_NODENAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok());
    let report = WorkerReport::from_result(spec.shard.index, &result, node);
    println_flush(&serde_json::to_string(&report)?)?;
    Ok(())
}

fn println_flush(s: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}")?;
    out.flush()
}

/// Refuses a worker count that cannot be started, with the numbers.
pub fn check(k: u32, concurrency: Concurrency) -> anyhow::Result<()> {
    if k == 0 {
        return Err(invalid("--workers must be at least 1"));
    }
    if let Concurrency::Limit(c) = concurrency {
        if (c as u64) < u64::from(k) {
            return Err(invalid(format!(
                "--workers {k} needs at least {k} concurrent streams to share, but --concurrency is {c}; lower --workers to {c} or raise --concurrency"
            )));
        }
    }
    Ok(())
}
