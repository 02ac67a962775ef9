//! One generation: how long the output is, when each token is produced (scheduler or
//! fixed clock), and how tokens become chunks, with the injected fault if any.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Response, StatusCode};
use llmb_protocol::completions::Sampling;
use llmb_protocol::disagg::DisaggPhase;
use llmb_protocol::Endpoint;
use llmb_rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::body::SimBody;
use super::faults::FaultKind;
use super::routes::error;
use super::scheduler::Admit;
use super::stream::ChunkWriter;
use super::{App, SimConfig, Timing};

/// A parsed generation request.
#[derive(Debug, Clone)]
pub struct Job {
    /// Sequence number of the request on this server.
    pub n: u64,
    /// Which route.
    pub endpoint: Endpoint,
    /// When the request arrived.
    pub arrival: Instant,
    /// Prompt length.
    pub prompt_tokens: u64,
    /// Output length decided up front.
    pub output_tokens: u64,
    /// SSE or one body.
    pub stream: bool,
    /// Final usage chunk.
    pub include_usage: bool,
    /// Tokens per chunk.
    pub interval: u32,
    /// Injected fault.
    pub fault: Option<FaultKind>,
    /// The disaggregated phase asked for (`None`: the whole request, aggregated).
    pub phase: Option<DisaggPhase>,
}

impl Job {
    /// Decode phase: the prompt's KV cache is already here, so there is no prefill work.
    pub fn kv_transferred(&self) -> bool {
        matches!(self.phase, Some(DisaggPhase::Decode { .. }))
    }
}

/// Sub-seed of natural output lengths, so they are independent of the output words.
const NATURAL_LENGTH_STREAM: u64 = 0x4E41_5455_5241_4C00;

/// Output length: `max_tokens` with `ignore_eos`; otherwise a seeded natural length,
/// raised to `min_tokens` and capped at `max_tokens`.
pub fn output_length(cfg: &SimConfig, n: u64, s: &Sampling, max_tokens: Option<u64>) -> u64 {
    let (lo, hi) = cfg.natural_output;
    let natural =
        lo + Rng::for_item(cfg.seed ^ NATURAL_LENGTH_STREAM, n).below(hi.saturating_sub(lo) + 1);
    let len = match (s.ignores_eos(), max_tokens) {
        (true, Some(max)) => max,
        _ => natural.max(s.min_tokens.unwrap_or(0)),
    };
    max_tokens.map_or(len, |m| len.min(m)).max(1)
}

/// Where a request's tokens come from.
enum Source {
    Fixed { next: Instant, itl: Duration },
    Batched(mpsc::UnboundedReceiver<u32>),
}

/// How early the fixed-timing engine aims its sleeps (tokio's mean wake-up lateness).
const TIMER_LEAD: Duration = Duration::from_millis(1);

impl Source {
    /// Waits for the next produced token(s); `None` when the engine dropped the request.
    async fn next(&mut self) -> Option<u32> {
        match self {
            Source::Fixed { next, itl } => {
                // A deadline already past (firehose: ITL 0) needs no trip through the timer.
                // tokio's timer fires on the first 1 ms tick at or after a deadline and its
                // driver parks in whole milliseconds too: measured here, sleeps wake about
                // 1 ms late on average. Aiming that much early centres the error near zero,
                // so the mean TTFT is the set one (ITL is exact either way: the deadlines
                // are absolute, so the lateness is the same for every token).
                let aim = next.checked_sub(TIMER_LEAD).unwrap_or(*next);
                if aim > Instant::now() {
                    tokio::time::sleep_until(aim).await;
                }
                *next += *itl;
                Some(1)
            }
            Source::Batched(rx) => rx.recv().await,
        }
    }
}

/// Starts the generation and returns the response (its body streams as tokens come).
#[allow(clippy::result_large_err)] // the error is the HTTP answer, built once per request
pub fn respond(app: Arc<App>, job: Job) -> Result<Response<SimBody>, Response<SimBody>> {
    match job.fault {
        Some(FaultKind::Http500) => {
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected fault: internal error",
            ))
        }
        Some(FaultKind::Http429) => {
            return Err(error(
                StatusCode::TOO_MANY_REQUESTS,
                "injected fault: too many requests",
            ))
        }
        _ => {}
    }
    let source = match &app.cfg.timing {
        // With the KV cache transferred the first token is a decode step like the others:
        // it comes one `itl` after arrival, and `ttft` (prefill) is skipped.
        Timing::Fixed { ttft, itl } => Source::Fixed {
            next: job.arrival + if job.kv_transferred() { *itl } else { *ttft },
            itl: *itl,
        },
        Timing::Batched(_) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let sched = app
                .scheduler
                .as_ref()
                .expect("batched timing has a scheduler");
            if !sched.admit(Admit {
                prompt_tokens: job.prompt_tokens,
                output_tokens: job.output_tokens,
                kv_transferred: job.kv_transferred(),
                tokens: tx,
            }) {
                return Err(error(StatusCode::SERVICE_UNAVAILABLE, "engine stopped"));
            }
            Source::Batched(rx)
        }
    };
    let (tx, rx) = mpsc::channel(32);
    let content_type = if job.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-cache");
    if job.kv_transferred() {
        // Tells the frontend what to add to its output-token counter when the stream ends.
        resp = resp.header(super::disagg::OUTPUT_TOKENS_HEADER, job.output_tokens);
    }
    tokio::spawn(run(app, job, source, tx));
    Ok(resp.body(SimBody::Stream(rx)).expect("static response"))
}

type Tx = mpsc::Sender<Result<Bytes, std::io::Error>>;

async fn run(app: Arc<App>, job: Job, mut source: Source, tx: Tx) {
    let fixed = matches!(source, Source::Fixed { .. });
    let kv = job.prompt_tokens + job.output_tokens;
    let prefilled = if job.kv_transferred() {
        0
    } else {
        job.prompt_tokens
    };
    if fixed {
        app.metrics.request_started(kv);
    }
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let writer = ChunkWriter::new(job.endpoint, job.n, created, &app.cfg.model);
    let words = app.tokenizer.words();
    let mut rng = Rng::for_item(app.cfg.seed, job.n);
    let fault_at = (job.output_tokens / 2).max(1);
    let mut produced = 0u64;
    let mut pending = 0u32;
    let mut text = String::new();
    let mut buf = Vec::with_capacity(512);
    let mut sent_first = false;
    let finish = if job.output_tokens > 0 {
        "length"
    } else {
        "stop"
    };
    'gen: while produced < job.output_tokens {
        let Some(k) = source.next().await else { break };
        for _ in 0..k {
            if produced == 0 {
                app.metrics
                    .observe_ttft(job.arrival.elapsed().as_secs_f64());
            }
            produced += 1;
            pending += 1;
            text.push(' ');
            text.push_str(&words[rng.below(words.len() as u64) as usize]);
            if fixed {
                app.metrics
                    .add_tokens(if produced == 1 { prefilled } else { 0 }, 1);
            }
            let last = produced == job.output_tokens;
            if job.stream && (pending >= job.interval || last) {
                buf.clear();
                let stamp = llmb_protocol::clock::monotonic_ns();
                writer.chunk(&mut buf, &text, !sent_first, last.then_some(finish), stamp);
                if last && job.include_usage {
                    writer.usage_chunk(&mut buf, job.prompt_tokens, produced);
                }
                if last {
                    buf.extend_from_slice(b"data: [DONE]\n\n");
                }
                sent_first = true;
                pending = 0;
                text.clear();
                if tx.send(Ok(Bytes::copy_from_slice(&buf))).await.is_err() {
                    break 'gen;
                }
            }
            if produced == fault_at && !inject(job.fault, job.stream, &tx).await {
                break 'gen;
            }
        }
    }
    if !job.stream && produced == job.output_tokens {
        let _ = tx
            .send(Ok(Bytes::from(writer.full(
                &text,
                finish,
                job.prompt_tokens,
                produced,
            ))))
            .await;
    }
    if fixed {
        app.metrics.request_ended(kv);
    }
}

/// Applies a mid-stream fault; `false` when generation must stop.
async fn inject(fault: Option<FaultKind>, stream: bool, tx: &Tx) -> bool {
    match fault {
        Some(FaultKind::Reset) => {
            let _ = tx
                .send(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                )))
                .await;
            false
        }
        Some(FaultKind::Stall) => {
            tx.closed().await;
            false
        }
        Some(FaultKind::Malformed) if stream => tx
            .send(Ok(Bytes::from_static(
                b"data: {\"choices\":[{\"delta\":\n\n",
            )))
            .await
            .is_ok(),
        Some(FaultKind::Malformed) => {
            let _ = tx
                .send(Ok(Bytes::from_static(b"{\"choices\":[{\"message\":")))
                .await;
            false
        }
        _ => true,
    }
}
