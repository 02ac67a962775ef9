//! One generation: how long the output is, when each token is produced (scheduler or
//! fixed clock), and how tokens become chunks, with the injected fault if any.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Response, StatusCode};
use llmb_protocol::completions::Sampling;
use llmb_protocol::disagg::DisaggPhase;
use llmb_protocol::Endpoint;
use llmb_rand::Rng;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

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
    /// KV-cache tokens the request holds while it runs.
    pub fn kv(&self) -> u64 {
        self.prompt_tokens + self.output_tokens
    }

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
    /// Fixed timing: the next token is due at `next`; `sleep` is the one timer of the
    /// request, re-armed for each token.
    Fixed {
        next: Instant,
        itl: Duration,
        sleep: Pin<Box<Sleep>>,
    },
    /// The batching scheduler sends how many tokens each step produced.
    Batched(mpsc::UnboundedReceiver<u32>),
}

/// How early the fixed-timing engine aims its sleeps (tokio's mean wake-up lateness).
const TIMER_LEAD: Duration = Duration::from_millis(1);

impl Source {
    fn fixed(first: Instant, itl: Duration) -> Source {
        Source::Fixed {
            next: first,
            itl,
            sleep: Box::pin(tokio::time::sleep_until(first)),
        }
    }

    /// The next produced token(s); `Ready(None)` when the engine dropped the request.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<u32>> {
        match self {
            Source::Fixed { next, itl, sleep } => {
                // A deadline already past (firehose: ITL 0) needs no trip through the timer.
                // tokio's timer fires on the first 1 ms tick at or after a deadline and its
                // driver parks in whole milliseconds too: measured here, sleeps wake about
                // 1 ms late on average. Aiming that much early centres the error near zero,
                // so the mean TTFT is the set one (ITL is exact either way: the deadlines
                // are absolute, so the lateness is the same for every token).
                let aim = next.checked_sub(TIMER_LEAD).unwrap_or(*next);
                if aim > Instant::now() {
                    if sleep.deadline() != aim {
                        sleep.as_mut().reset(aim);
                    }
                    ready!(sleep.as_mut().poll(cx));
                }
                *next += *itl;
                Poll::Ready(Some(1))
            }
            Source::Batched(rx) => rx.poll_recv(cx),
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
        Timing::Fixed { ttft, itl } => Source::fixed(
            job.arrival + if job.kv_transferred() { *itl } else { *ttft },
            *itl,
        ),
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
    let generation = Generation::new(app, job, source);
    Ok(resp
        .body(SimBody::Generate(Box::new(generation)))
        .expect("static response"))
}

/// Most bytes gathered into one frame of the body before it is handed over.
const FLUSH_AT: usize = 16 * 1024;

/// One request's generation, driven by the connection that streams it: hyper polls the
/// body, the body waits for the next token and hands the chunk straight back. The send
/// stamp is taken in the same poll that returns the bytes to be written, and no task or
/// channel sits between the token and the socket (one wake-up per chunk).
pub struct Generation {
    app: Arc<App>,
    job: Job,
    source: Source,
    writer: ChunkWriter,
    rng: Rng,
    produced: u64,
    pending: u32,
    text: String,
    sent_first: bool,
    fault_at: u64,
    /// Tokens the source produced that are not yet in the text (a step may make several).
    owed: u32,
    /// Bytes made and not yet handed to the connection.
    out: Vec<u8>,
    /// Tokens made (fixed timing) not yet added to the engine's generation counter.
    uncounted: u64,
    state: GenState,
}

/// Where a generation stands between polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GenState {
    Producing,
    /// The token that triggers the injected fault was produced (its chunk may have gone).
    FaultDue,
    /// A stall: never another byte; the body is dropped when the client goes.
    Stalled,
    Done,
}

impl std::fmt::Debug for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generation")
            .field("n", &self.job.n)
            .field("produced", &self.produced)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Generation {
    fn new(app: Arc<App>, job: Job, source: Source) -> Generation {
        if matches!(source, Source::Fixed { .. }) {
            app.metrics.request_started(job.kv());
        }
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let writer = ChunkWriter::new(job.endpoint, job.n, created, &app.cfg.model);
        let rng = Rng::for_item(app.cfg.seed, job.n);
        let fault_at = (job.output_tokens / 2).max(1);
        Generation {
            app,
            job,
            source,
            writer,
            rng,
            produced: 0,
            pending: 0,
            text: String::new(),
            sent_first: false,
            fault_at,
            owed: 0,
            out: Vec::new(),
            uncounted: 0,
            state: GenState::Producing,
        }
    }

    fn fixed(&self) -> bool {
        matches!(self.source, Source::Fixed { .. })
    }

    fn finish_reason(&self) -> &'static str {
        if self.job.output_tokens > 0 {
            "length"
        } else {
            "stop"
        }
    }

    /// Adds one produced token to the pending text.
    fn produce_one(&mut self) {
        if self.produced == 0 {
            self.app
                .metrics
                .observe_ttft(self.job.arrival.elapsed().as_secs_f64());
        }
        self.produced += 1;
        self.pending += 1;
        let words = self.app.tokenizer.words();
        self.text.push(' ');
        self.text
            .push_str(&words[self.rng.below(words.len() as u64) as usize]);
        if self.fixed() {
            if self.produced == 1 && !self.job.kv_transferred() {
                self.app.metrics.add_tokens(self.job.prompt_tokens, 0);
            }
            self.uncounted += 1;
        }
    }

    /// Adds the tokens made since the last call to the engine's counter (once per frame,
    /// not per token: the counters are shared by every connection).
    fn count_tokens(&mut self) {
        if self.uncounted > 0 {
            self.app.metrics.add_tokens(0, self.uncounted);
            self.uncounted = 0;
        }
    }

    /// Appends the SSE event(s) for the pending text to the output, stamped now.
    fn chunk(&mut self) {
        let last = self.produced == self.job.output_tokens;
        let stamp = llmb_protocol::clock::monotonic_ns();
        let finish = last.then_some(self.finish_reason());
        self.writer
            .chunk(&mut self.out, &self.text, !self.sent_first, finish, stamp);
        if last && self.job.include_usage {
            self.writer
                .usage_chunk(&mut self.out, self.job.prompt_tokens, self.produced);
        }
        if last {
            self.out.extend_from_slice(b"data: [DONE]\n\n");
        }
        self.sent_first = true;
        self.pending = 0;
        self.text.clear();
    }

    /// The output gathered so far, if any.
    fn flush(&mut self) -> Option<Bytes> {
        self.count_tokens();
        (!self.out.is_empty()).then(|| Bytes::from(std::mem::take(&mut self.out)))
    }

    /// The next bytes of the body: `Ready(None)` at its end, an error to break the
    /// connection (injected reset). Chunks whose tokens are already due go out together
    /// (up to [`FLUSH_AT`] bytes): with no delay between tokens the engine streams as fast
    /// as a server can, one write for many events; when the next token is not due yet,
    /// what was made goes out at once.
    pub fn poll_bytes(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        loop {
            match self.state {
                GenState::Done => return Poll::Ready(self.flush().map(Ok)),
                GenState::Stalled => return Poll::Pending,
                GenState::FaultDue => {
                    if let Some(bytes) = self.flush() {
                        return Poll::Ready(Some(Ok(bytes)));
                    }
                    self.state = GenState::Producing;
                    if let Some(out) = self.inject() {
                        return Poll::Ready(Some(out));
                    }
                }
                GenState::Producing => {
                    if self.produced == self.job.output_tokens {
                        self.state = GenState::Done;
                        if !self.job.stream {
                            let full = self.writer.full(
                                &self.text,
                                self.finish_reason(),
                                self.job.prompt_tokens,
                                self.produced,
                            );
                            self.out.extend_from_slice(&full);
                        }
                        continue;
                    }
                    if self.owed == 0 {
                        match self.source.poll_next(cx) {
                            Poll::Pending => {
                                return match self.flush() {
                                    Some(bytes) => Poll::Ready(Some(Ok(bytes))),
                                    None => Poll::Pending,
                                }
                            }
                            // The engine dropped the request: end the body where it stands.
                            Poll::Ready(None) => {
                                self.state = GenState::Done;
                                continue;
                            }
                            Poll::Ready(Some(k)) => {
                                self.owed = k.min((self.job.output_tokens - self.produced) as u32);
                            }
                        }
                    }
                    while self.owed > 0 {
                        self.owed -= 1;
                        self.produce_one();
                        let last = self.produced == self.job.output_tokens;
                        if self.job.stream && (self.pending >= self.job.interval || last) {
                            self.chunk();
                        }
                        if self.produced == self.fault_at && self.job.fault.is_some() {
                            self.state = GenState::FaultDue;
                            break;
                        }
                    }
                    if self.out.len() >= FLUSH_AT {
                        return Poll::Ready(self.flush().map(Ok));
                    }
                }
            }
        }
    }

    /// Applies a mid-stream fault: the bytes to send, if any.
    fn inject(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        match self.job.fault {
            Some(FaultKind::Reset) => {
                self.state = GenState::Done;
                Some(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                )))
            }
            Some(FaultKind::Stall) => {
                self.state = GenState::Stalled;
                None
            }
            Some(FaultKind::Malformed) if self.job.stream => Some(Ok(Bytes::from_static(
                b"data: {\"choices\":[{\"delta\":\n\n",
            ))),
            Some(FaultKind::Malformed) => {
                self.state = GenState::Done;
                Some(Ok(Bytes::from_static(b"{\"choices\":[{\"message\":")))
            }
            _ => None,
        }
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.count_tokens();
        if self.fixed() {
            self.app.metrics.request_ended(self.job.kv());
        }
    }
}
