//! The embedded simulated engine: a real OpenAI-compatible HTTP server (hyper, HTTP/1.1,
//! keep-alive) whose tokens come from a continuous-batching scheduler or from fixed
//! timings, with seeded fault injection. `spawn` binds (port 0 in tests) and returns a
//! handle that stops it; with a TLS configuration it serves `https`. The engine can also be one role of a disaggregated deployment
//! (`WorkerRole`), and `disagg::spawn_frontend` starts the frontend that ties them up.

pub mod body;
pub mod cost_model;
pub mod disagg;
pub mod faults;
pub mod generate;
pub mod metrics;
pub mod routes;
pub mod scheduler;
pub mod stream;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use llmb_tokenizer::Tokenizer;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use cost_model::StepCost;
pub use faults::{FaultKind, FaultPlan};
pub use scheduler::SchedulerConfig;

/// How the engine times its tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum Timing {
    /// Continuous batching with a step-time model.
    Batched(SchedulerConfig),
    /// Every request on its own clock: first token `ttft` after arrival, then one token
    /// every `itl` (so tests know the truth exactly).
    Fixed {
        /// Time from request arrival to the first token.
        ttft: Duration,
        /// Time between tokens.
        itl: Duration,
    },
}

/// The part of a deployment the engine plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkerRole {
    /// The whole request on one engine; requests marked `llmb_disagg` are refused.
    #[default]
    Aggregated,
    /// Serves prefill-phase requests (`llmb_disagg: {"phase":"prefill"}`): the prompt,
    /// then one token in a non-streamed answer. Unmarked requests are served whole.
    Prefill,
    /// Serves decode-phase requests (`{"phase":"decode","prompt_tokens":N}`): no prefill,
    /// the output streamed. Unmarked requests are served whole.
    Decode,
}

impl WorkerRole {
    /// `aggregated`, `prefill` or `decode`, as `--role` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerRole::Aggregated => "aggregated",
            WorkerRole::Prefill => "prefill",
            WorkerRole::Decode => "decode",
        }
    }
}

/// Everything the simulated engine needs to know.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The served model name.
    pub model: String,
    /// Aggregated, or one half of a disaggregated deployment.
    pub role: WorkerRole,
    /// Seed of natural output lengths, output words and faults.
    pub seed: u64,
    /// Token timing.
    pub timing: Timing,
    /// Injected faults.
    pub faults: FaultPlan,
    /// Tokens per streamed chunk when the request does not say (`stream_interval`).
    pub stream_interval: u32,
    /// Natural output lengths (without `ignore_eos`) are uniform in this range.
    pub natural_output: (u64, u64),
    /// Serve HTTPS with this configuration (`llmb_tls::server_config`).
    pub tls: Option<Arc<llmb_tls::rustls::ServerConfig>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            model: "llmb-sim".to_owned(),
            role: WorkerRole::Aggregated,
            seed: 0,
            timing: Timing::Batched(SchedulerConfig::default()),
            faults: FaultPlan::none(),
            stream_interval: 1,
            natural_output: (16, 256),
            tls: None,
        }
    }
}

/// Shared state of a running engine.
pub struct App {
    cfg: SimConfig,
    tokenizer: Tokenizer,
    scheduler: Option<scheduler::SchedulerHandle>,
    metrics: Arc<metrics::SimMetrics>,
    started: std::time::SystemTime,
    served: AtomicU64,
}

/// A running engine.
#[derive(Debug)]
pub struct SimHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    tls: bool,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// `http://ADDR`, or `https://ADDR` when it serves TLS.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, closes connections and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds `addr` and serves until stopped. Must run inside a tokio runtime.
pub async fn spawn(
    cfg: SimConfig,
    tokenizer: Tokenizer,
    addr: SocketAddr,
) -> std::io::Result<SimHandle> {
    let listener = listen(addr)?;
    let tls = cfg.tls.clone();
    let kv = match &cfg.timing {
        Timing::Batched(s) => s.kv_cache_tokens,
        Timing::Fixed { .. } => SchedulerConfig::default().kv_cache_tokens,
    };
    let metrics = Arc::new(metrics::SimMetrics::new(kv));
    let scheduler = match &cfg.timing {
        Timing::Batched(s) => Some(scheduler::SchedulerHandle::spawn(*s, metrics.clone())),
        Timing::Fixed { .. } => None,
    };
    let app = Arc::new(App {
        cfg,
        tokenizer,
        scheduler,
        metrics,
        started: std::time::SystemTime::now(),
        served: AtomicU64::new(0),
    });
    serve(listener, tls, move |req| routes::handle(app.clone(), req))
}

/// Serves `listener` with `handler` (over TLS with `tls`) until the handle stops it.
fn serve<H, F>(
    listener: TcpListener,
    tls: Option<Arc<llmb_tls::rustls::ServerConfig>>,
    handler: H,
) -> std::io::Result<SimHandle>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<body::SimBody>, std::convert::Infallible>> + Send + 'static,
{
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let acceptor = tls.map(llmb_tls::tokio_rustls::TlsAcceptor::from);
    let acceptor_is_some = acceptor.is_some();
    let task = tokio::spawn(accept_loop(listener, acceptor, stop_rx, handler));
    Ok(SimHandle {
        addr,
        tls: acceptor_is_some,
        stop,
        task,
    })
}

/// Pending connections the listener queues (the kernel caps it at `net.core.somaxconn`):
/// thousands of clients connect at once, and a short queue turns that burst into SYN
/// retries of one second and more, which would be charged to the engine.
const ACCEPT_BACKLOG: u32 = 65_535;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// How long a client may take over its TLS handshake.
const TLS_HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

async fn accept_loop<H, F>(
    listener: TcpListener,
    tls: Option<llmb_tls::tokio_rustls::TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<body::SimBody>, std::convert::Infallible>> + Send + 'static,
{
    let mut last_said: Option<std::time::Instant> = None;
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = stop.changed() => return,
        };
        let stream = match conn {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors or similar: say so (at most every 5 s), and back
                // off briefly instead of spinning.
                if last_said.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                    last_said = Some(std::time::Instant::now());
                    let hint = if e.raw_os_error() == Some(libc::EMFILE)
                        || e.raw_os_error() == Some(libc::ENFILE)
                    {
                        ": out of file descriptors; raise the limit (ulimit -n) or lower the client's concurrency"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        std::io::stderr(),
                        "llmb sim: cannot accept a connection: {e}{hint}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let stop = stop.clone();
        match &tls {
            None => {
                tokio::spawn(serve_connection(stream, handler, stop));
            }
            Some(acceptor) => {
                let shake = acceptor.accept(stream);
                tokio::spawn(async move {
                    // A client that fails or stalls its handshake only loses its connection.
                    if let Ok(Ok(stream)) = tokio::time::timeout(TLS_HANDSHAKE_LIMIT, shake).await {
                        serve_connection(stream, handler, stop).await;
                    }
                });
            }
        }
    }
}

/// Serves HTTP/1.1 on one connection until it closes or the engine stops.
async fn serve_connection<S, H, F>(stream: S, handler: H, mut stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<body::SimBody>, std::convert::Infallible>> + Send + 'static,
{
    let service = hyper::service::service_fn(handler);
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {}
    }
}
