//! The one driver for every load mode: take the next request, wait until the schedule says
//! it is due, wait for a concurrency slot, send it on its own task; stop on count, duration
//! or Ctrl-C. Warm-up is the same loop run first with its records marked.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Uri;
use llmb_metrics::{Outcome, RequestRecord, RunWindow};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::breaker::{Breaker, StopPolicy, StopReason};
use crate::client::{self, HttpClient, Target};
use crate::plan::{Concurrency, LoadPlan};
use crate::progress::Progress;
use crate::schedule::Schedule;
use crate::sink::{Finished, Sink};
use crate::verdict::{ClientStats, CpuMeter, LagProbe};

/// What a run produced.
#[derive(Debug)]
pub struct LoadResult {
    /// Every request, warm-up included, in the order they ended.
    pub records: Vec<RequestRecord>,
    /// The measured phase.
    pub window: RunWindow,
    /// Stopped before the end, by the user or because it could not succeed.
    pub interrupted: bool,
    /// Why it stopped by itself (the server is gone, too many errors).
    pub stopped: Option<StopReason>,
    /// How the client itself fared.
    pub client: ClientStats,
}

/// Everything the driver needs besides the plan.
#[derive(Debug, Clone)]
pub struct DriverContext {
    /// The pooled client.
    pub client: HttpClient,
    /// Where requests go.
    pub target: Target,
    /// Streamed responses.
    pub stream: bool,
    /// Live counters.
    pub progress: Arc<Progress>,
    /// Becomes `true` on Ctrl-C.
    pub interrupt: watch::Receiver<bool>,
    /// When to stop a run that cannot succeed.
    pub stop: StopPolicy,
    /// Worker threads of the runtime, for the CPU verdict.
    pub threads: usize,
    /// The common start, when several processes share one (`--workers`): the driver waits
    /// for it.
    pub start_at: Option<Instant>,
    /// The instant every time in the records counts from (default: `start_at`, else now).
    /// With `--workers` and a warm-up it is when the parent's warm-up began, so warm-up and
    /// measured records share one clock, as in a single process.
    pub origin: Option<Instant>,
}

struct Phase {
    first_id: u64,
    count: Option<u64>,
    warmup: bool,
}

/// Runs the plan; records go to `sink` as they end.
pub async fn run(
    plan: &LoadPlan,
    ctx: DriverContext,
    sink: Sink,
) -> Result<LoadResult, crate::ClientError> {
    let uri = ctx.target.uri(ctx.target.endpoint.path())?;
    if let Some(at) = ctx.start_at {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
    let origin = ctx.origin.or(ctx.start_at).unwrap_or_else(Instant::now);
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let breaker = Arc::new(Breaker::new(ctx.stop));
    let mut interrupted = false;
    if plan.warmup > 0 && plan.shard.is_none() {
        let phase = Phase {
            first_id: 0,
            count: Some(plan.warmup),
            warmup: true,
        };
        interrupted = run_phase(
            plan, &ctx, &sink, &uri, origin, phase, &cancel_tx, &cancel_rx, &breaker,
        )
        .await;
    }
    let start_ns = origin.elapsed().as_nanos() as u64;
    ctx.progress.planned.store(plan.count.unwrap_or(0), Relaxed);
    let meter = CpuMeter::start();
    let probe = LagProbe::start();
    if !interrupted {
        let phase = Phase {
            first_id: plan.warmup,
            count: plan.count,
            warmup: false,
        };
        interrupted = run_phase(
            plan, &ctx, &sink, &uri, origin, phase, &cancel_tx, &cancel_rx, &breaker,
        )
        .await;
    }
    let (cpu_s, wall_s) = meter.read();
    let lags = probe.finish().await;
    let records = sink.finish().map_err(|e| crate::ClientError::NotOpenAi {
        url: ctx.target.base_url.clone(),
        message: format!("failed to write records: {e}"),
    })?;
    let end_ns = records
        .iter()
        .filter(|r| !r.warmup)
        .map(|r| r.end_ns)
        .max()
        .unwrap_or(start_ns)
        .max(start_ns);
    Ok(LoadResult {
        records,
        window: RunWindow { start_ns, end_ns },
        interrupted,
        stopped: breaker.reason(),
        client: ClientStats {
            cpu_s,
            wall_s,
            threads: ctx.threads,
            loop_lag_ms: llmb_metrics::Distribution::new(lags),
        },
    })
}

/// One phase; returns whether it was interrupted.
#[allow(clippy::too_many_arguments)]
async fn run_phase(
    plan: &LoadPlan,
    ctx: &DriverContext,
    sink: &Sink,
    uri: &Uri,
    origin: Instant,
    phase: Phase,
    cancel_tx: &watch::Sender<bool>,
    cancel_rx: &watch::Receiver<bool>,
    breaker: &Arc<Breaker>,
) -> bool {
    let start = tokio::time::Instant::now();
    let deadline = plan.duration.filter(|_| !phase.warmup).map(|d| start + d);
    // With no client-side limit, the machine's: one socket per request in flight.
    let slots = Arc::new(Semaphore::new(match plan.concurrency {
        Concurrency::Limit(n) => n,
        Concurrency::Unbounded => crate::limits::UNBOUNDED_IN_FLIGHT,
    }));
    let mut schedule = Schedule::new(plan.arrival, plan.seed.wrapping_add(phase.first_id));
    let mut interrupt = ctx.interrupt.clone();
    let mut tasks = JoinSet::new();
    let mut interrupted = *interrupt.borrow();
    // What every request task reads, shared rather than cloned per request.
    let shared = Arc::new(Shared {
        ctx: ctx.clone(),
        uri: uri.clone(),
    });
    let mut i = 0u64;
    let ns =
        |t: tokio::time::Instant| t.into_std().saturating_duration_since(origin).as_nanos() as u64;
    while !interrupted && phase.count.is_none_or(|c| i < c) {
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
        if breaker.is_tripped() {
            interrupted = true;
            break;
        }
        // When is it due?
        let due = schedule.next_offset().map(|o| start + o);
        let id = phase.first_id + i;
        if plan.shard.is_some_and(|s| !s.owns(id)) {
            // Another worker's request: its arrival was drawn, so the schedule stays global.
            i += 1;
            continue;
        }
        if let Some(due) = due {
            if deadline.is_some_and(|d| due >= d) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = interrupt.wait_for(|v| *v) => { interrupted = true; break; }
                _ = breaker.tripped() => { interrupted = true; break; }
            }
        }
        // Wait for a slot.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
            _ = interrupt.wait_for(|v| *v) => { interrupted = true; break; }
            _ = breaker.tripped() => { interrupted = true; break; }
            _ = sleep_until_opt(deadline) => break,
        };
        let slot_at = tokio::time::Instant::now();
        let scheduled_ns = due.map_or_else(|| ns(slot_at), ns);
        let req = &plan.requests[(id % plan.requests.len() as u64) as usize];
        let job = Job {
            id,
            worker: plan.shard.map_or(0, |s| s.index),
            warmup: phase.warmup,
            prompt_index: req.prompt_index,
            input_tokens: req.input_tokens,
            requested: req.output_tokens,
            scheduled_ns,
            slot_ns: ns(slot_at),
        };
        let body = req.body.clone();
        let limits = client::ResponseLimits::for_request(req.output_tokens);
        let (shared, tx, breaker) = (shared.clone(), sink.sender(), breaker.clone());
        let mut cancel = cancel_rx.clone();
        tasks.spawn(async move {
            let Shared { ctx, uri } = &*shared;
            let progress = &ctx.progress;
            progress.sent.fetch_add(1, Relaxed);
            let raw = tokio::select! {
                r = client::send(&ctx.client, &ctx.target, uri, body, ctx.stream, limits) => Some(r),
                _ = cancel.wait_for(|v| *v) => None,
            };
            let finished = job.finish(raw, origin);
            breaker.record(&finished.record.outcome);
            let (ok, chunks) = (
                finished.record.is_completed(),
                finished.record.chunks.len() as u64,
            );
            if !job.warmup {
                if ok {
                    &progress.completed
                } else {
                    &progress.failed
                }
                .fetch_add(1, Relaxed);
                progress.chunks.fetch_add(chunks, Relaxed);
            }
            let _ = tx.send(finished);
            drop(permit);
        });
        i += 1;
        // Reap finished tasks without waiting.
        while tasks.try_join_next().is_some() {}
    }
    // Let in-flight requests finish; on Ctrl-C give them the grace period, then cancel.
    loop {
        if tasks.is_empty() {
            break;
        }
        if interrupted {
            let grace = tokio::time::sleep(plan.grace);
            tokio::pin!(grace);
            loop {
                tokio::select! {
                    r = tasks.join_next() => if r.is_none() { break },
                    _ = &mut grace => { let _ = cancel_tx.send(true); }
                }
            }
            break;
        }
        tokio::select! {
            _ = tasks.join_next() => {}
            _ = interrupt.wait_for(|v| *v) => interrupted = true,
            _ = breaker.tripped() => interrupted = true,
        }
    }
    interrupted
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

struct Shared {
    ctx: DriverContext,
    uri: Uri,
}

#[derive(Debug, Clone, Copy)]
struct Job {
    id: u64,
    worker: u32,
    warmup: bool,
    prompt_index: u64,
    input_tokens: u64,
    requested: Option<u64>,
    scheduled_ns: u64,
    slot_ns: u64,
}

impl Job {
    fn finish(&self, raw: Option<client::RawResponse>, origin: Instant) -> Finished {
        let ns = |t: Instant| t.saturating_duration_since(origin).as_nanos() as u64;
        let base = |sent_ns, end_ns| RequestRecord {
            id: self.id,
            prompt_index: self.prompt_index,
            worker: self.worker,
            warmup: self.warmup,
            scheduled_ns: self.scheduled_ns,
            slot_ns: self.slot_ns,
            sent_ns,
            first_token_ns: None,
            end_ns,
            input_tokens: self.input_tokens,
            requested_output_tokens: self.requested,
            usage: Default::default(),
            connect_ns: None,
            chunks: Vec::new(),
            outcome: Outcome::Cancelled,
        };
        match raw {
            None => {
                let now = ns(Instant::now());
                Finished {
                    record: base(self.slot_ns, now),
                    text: String::new(),
                }
            }
            Some(r) => {
                let mut record = base(ns(r.sent), ns(r.end));
                record.first_token_ns = r.first_token.map(ns);
                record.usage = r.usage;
                record.connect_ns = r.connect_wait.map(|d| d.as_nanos() as u64);
                record.chunks = r.chunks;
                record.outcome = r.outcome;
                Finished {
                    record,
                    text: r.text,
                }
            }
        }
    }
}

/// Grace period default after Ctrl-C.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
