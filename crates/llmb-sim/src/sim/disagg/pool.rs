//! The frontend's side of its workers: per worker a pool of keep-alive HTTP/1.1
//! connections (hyper's client), its in-flight count, and the choice of worker within a
//! role (least in flight, ties round-robin).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use llmb_protocol::error_chain;

use super::WorkerUrl;
use llmb_engines::DisaggRole;

/// Idle connections kept per worker; more are closed when they come back.
const MAX_IDLE: usize = 4096;

type Sender = SendRequest<Full<Bytes>>;

/// What went wrong talking to a worker.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No connection could be opened.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No (complete) answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection failed during the exchange.
    #[error("the connection failed: {0}")]
    Transport(String),
    /// It answered with a server error.
    #[error("it answered HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of its body.
        body: String,
    },
    /// The answer could not be used.
    #[error("its answer is unusable: {0}")]
    Protocol(String),
}

impl UpstreamError {
    /// The status the client gets: 503 when the worker cannot be reached, 504 when it
    /// did not answer in time, 502 when it answered badly.
    pub fn client_status(&self) -> http::StatusCode {
        match self {
            UpstreamError::Connect(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            UpstreamError::Timeout(_) => http::StatusCode::GATEWAY_TIMEOUT,
            _ => http::StatusCode::BAD_GATEWAY,
        }
    }

    /// The stable `type` of the JSON error.
    pub fn error_type(&self) -> &'static str {
        match self {
            UpstreamError::Connect(_) => "worker_unreachable",
            UpstreamError::Timeout(_) => "worker_timeout",
            _ => "worker_error",
        }
    }
}

/// One worker: where it is, its idle connections and how busy the frontend keeps it.
#[derive(Debug)]
pub struct Worker {
    role: DisaggRole,
    url: WorkerUrl,
    connect_timeout: Duration,
    inflight: AtomicUsize,
    idle: Mutex<Vec<Sender>>,
}

impl Worker {
    /// A worker with no connection yet.
    pub fn new(role: DisaggRole, url: WorkerUrl, connect_timeout: Duration) -> Worker {
        Worker {
            role,
            url,
            connect_timeout,
            inflight: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Prefill or decode.
    pub fn role(&self) -> DisaggRole {
        self.role
    }

    /// Its base URL.
    pub fn url(&self) -> &WorkerUrl {
        &self.url
    }

    /// Requests the frontend has on it now.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Relaxed)
    }

    async fn connect(&self) -> Result<Sender, UpstreamError> {
        let dial = async {
            let stream = TcpStream::connect(self.url.authority()).await?;
            let _ = stream.set_nodelay(true);
            Ok::<_, std::io::Error>(stream)
        };
        let stream = tokio::time::timeout(self.connect_timeout, dial)
            .await
            .map_err(|_| UpstreamError::Timeout(self.connect_timeout))?
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| UpstreamError::Connect(error_chain(&e)))?;
        // Ends when the connection closes: the sender and any response body dropped, or
        // the worker gone.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// An idle connection that is still open, else a new one; `true` when reused.
    async fn checkout(&self) -> Result<(Sender, bool), UpstreamError> {
        loop {
            let pooled = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
            let Some(mut sender) = pooled else { break };
            // A connection comes back once its response body ended; the client side may
            // need a moment to turn idle, and a closed one errors here.
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Ok((sender, true));
            }
        }
        Ok((self.connect().await?, false))
    }

    fn request(&self, method: &Method, path: &str, body: Bytes) -> Request<Full<Bytes>> {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.url.authority())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .expect("static request parts")
    }

    /// Sends one request and returns the answer's head; the body streams on the
    /// connection, which goes back to the pool through [`Conn::release`]. No deadline of
    /// its own but the connect timeout: the caller bounds the whole exchange.
    pub async fn send(
        self: &Arc<Self>,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<(Response<Incoming>, Conn), UpstreamError> {
        let (mut sender, reused) = self.checkout().await?;
        let req = self.request(&method, path, body);
        let resp = match sender.try_send_request(req).await {
            Ok(r) => r,
            // A pooled connection the worker closed while it was idle, before the request
            // went out: once more on a fresh connection.
            Err(mut e) if reused && e.message().is_some() => {
                let req = e.take_message().expect("checked above");
                sender = self.connect().await?;
                sender
                    .send_request(req)
                    .await
                    .map_err(|e| UpstreamError::Transport(error_chain(&e)))?
            }
            Err(e) => return Err(UpstreamError::Transport(error_chain(e.error()))),
        };
        Ok((
            resp,
            Conn {
                sender,
                worker: self.clone(),
            },
        ))
    }
}

/// A connection whose answer is being read. Dropped, it closes (the worker sees the
/// client go and stops); released after its body ended, it is reused.
#[derive(Debug)]
pub struct Conn {
    sender: Sender,
    worker: Arc<Worker>,
}

impl Conn {
    /// Puts the connection back into its worker's pool (its response body has ended).
    pub fn release(self) {
        if self.sender.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.worker.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(self.sender);
            }
        }
    }
}

/// One request's claim on a worker: counted in its in-flight number until dropped.
#[derive(Debug)]
pub struct Lease {
    worker: Arc<Worker>,
}

impl Lease {
    /// The worker.
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.worker.inflight.fetch_sub(1, Relaxed);
    }
}

/// The workers of one role.
#[derive(Debug)]
pub struct Pool {
    workers: Vec<Arc<Worker>>,
    next: AtomicUsize,
}

impl Pool {
    /// A pool over `urls` (at least one).
    pub fn new(role: DisaggRole, urls: &[WorkerUrl], connect_timeout: Duration) -> Pool {
        Pool {
            workers: urls
                .iter()
                .map(|u| Arc::new(Worker::new(role, u.clone(), connect_timeout)))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// All workers, in the order given.
    pub fn workers(&self) -> &[Arc<Worker>] {
        &self.workers
    }

    /// Claims the least busy worker; among equally busy ones, the turn goes round.
    pub fn pick(&self) -> Lease {
        let start = self.next.fetch_add(1, Relaxed);
        let i = least_loaded(self.workers.len(), start, |i| self.workers[i].inflight());
        let worker = self.workers[i].clone();
        worker.inflight.fetch_add(1, Relaxed);
        Lease { worker }
    }
}

/// Index (below `n`) of the smallest `load`, scanning from `start` (modulo `n`) so that
/// ties go to the first one at or after `start`.
fn least_loaded(n: usize, start: usize, load: impl Fn(usize) -> usize) -> usize {
    (0..n)
        .map(|k| (start + k) % n.max(1))
        .min_by_key(|&i| load(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(loads: &[usize], start: usize) -> usize {
        least_loaded(loads.len(), start, |i| loads[i])
    }

    #[test]
    fn least_loaded_wins_and_ties_take_turns() {
        assert_eq!(pick(&[3, 1, 2], 0), 1);
        assert_eq!(pick(&[3, 1, 2], 2), 1);
        let picks: Vec<usize> = (0..6).map(|s| pick(&[0, 0, 0], s)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        // a tie between the two idle ones goes to the next in turn
        assert_eq!(pick(&[1, 0, 0], 0), 1);
        assert_eq!(pick(&[1, 0, 0], 2), 2);
        assert_eq!(pick(&[5], 7), 0);
    }

    #[test]
    fn pool_spreads_and_leases_count() {
        let urls: Vec<WorkerUrl> = ["http://a:1", "http://b:2"]
            .iter()
            .map(|u| u.parse().unwrap())
            .collect();
        let pool = Pool::new(DisaggRole::Prefill, &urls, Duration::from_secs(1));
        let a = pool.pick();
        let b = pool.pick();
        assert_ne!(a.worker().url(), b.worker().url());
        let c = pool.pick();
        assert_eq!(c.worker().inflight(), 2);
        drop((a, b, c));
        assert!(pool.workers().iter().all(|w| w.inflight() == 0));
    }

    #[test]
    fn errors_map_to_gateway_statuses() {
        assert_eq!(
            UpstreamError::Connect("refused".into()).client_status(),
            503
        );
        assert_eq!(
            UpstreamError::Timeout(Duration::from_secs(1)).client_status(),
            504
        );
        let e = UpstreamError::Status {
            status: 500,
            body: "x".into(),
        };
        assert_eq!(
            (e.client_status().as_u16(), e.error_type()),
            (502, "worker_error")
        );
    }
}
