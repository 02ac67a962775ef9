//! Keep-alive connections (plain TCP or TLS) and one request/response exchange on one of
//! them: write the request, parse the response head (`httparse`), then hand out body bytes
//! as each read returns, stamped with the instant the read completed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http::Uri;
use llmb_tls::rustls::ClientConfig;
use llmb_tls::tokio_rustls::TlsConnector;
use llmb_tls::{ServerName, Stream, Verify};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::chunked::ChunkedDecoder;
use super::{ClientError, Target};

/// Read buffer size per connection.
const READ_CHUNK: usize = 4 * 1024;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A pool of idle keep-alive connections per `host:port`, shared by every request task.
/// The lock is taken once to take a connection and once to give it back, never per read.
#[derive(Clone, Debug)]
pub struct HttpClient {
    idle: Arc<Mutex<HashMap<String, Vec<Conn>>>>,
    connect_timeout: Duration,
    handshakes: Arc<tokio::sync::Semaphore>,
    verify: Verify,
    /// The TLS configuration, made at the first `https` connection (a plain-HTTP run never
    /// loads the system's roots).
    tls: Arc<OnceLock<Result<Arc<ClientConfig>, String>>>,
}

/// TCP handshakes in flight at once. Thousands of simultaneous connects overflow the
/// server's SYN and accept queues (Linux defaults: 2,048 and 4,096), and each dropped SYN
/// costs a retry of one second or more; queueing them here costs microseconds each.
const MAX_HANDSHAKES: usize = 256;

/// How long an error body may pause before the excerpt is taken as it is.
const SNIPPET_IDLE: Duration = Duration::from_secs(2);

/// Where a request goes: the pool's key (scheme, host and port), the address to connect
/// to, and for `https` the name the certificate must carry.
struct Origin {
    key: String,
    addr: String,
    tls_name: Option<ServerName<'static>>,
}

impl Origin {
    fn of(uri: &Uri) -> Result<Origin, ReadEnd> {
        let tls = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .ok_or_else(|| ReadEnd::Broken(format!("no host in {uri}")))?;
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let addr = format!("{host}:{port}");
        let tls_name = if tls {
            Some(llmb_tls::server_name(host).map_err(|e| ReadEnd::Broken(e.to_string()))?)
        } else {
            None
        };
        let key = if tls {
            format!("https://{addr}")
        } else {
            addr.clone()
        };
        Ok(Origin {
            key,
            addr,
            tls_name,
        })
    }
}

/// One connection and its read buffer.
#[derive(Debug)]
pub(super) struct Conn {
    sock: Stream,
    buf: Vec<u8>,
    /// When the last read returned: the idle limit counts from it, with no clock read of
    /// its own.
    last_read: Instant,
}

/// Why an exchange stopped early.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadEnd {
    /// The request's deadline passed.
    #[error("timed out")]
    Timeout,
    /// Nothing came for the idle limit.
    #[error("nothing came for {0:?}")]
    Idle(Duration),
    /// The server's certificate did not verify (the sentence says what to change).
    #[error("{0}")]
    Certificate(String),
    /// Socket or protocol failure.
    #[error("{0}")]
    Broken(String),
}

/// How the response body is delimited.
#[derive(Debug, Clone)]
pub(super) enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked(ChunkedDecoder),
    /// `Content-Length`: bytes still to read.
    Length(u64),
    /// Until the server closes the connection.
    Close,
}

/// A request in flight on one connection.
pub(super) struct Exchange<'c> {
    client: &'c HttpClient,
    key: String,
    conn: Option<Conn>,
    /// Response status.
    pub status: u16,
    /// How the body ends.
    pub framing: Framing,
    /// The response's `Content-Type`, when it is not `text/event-stream`.
    pub other_content_type: Option<Box<str>>,
    keep_alive: bool,
    /// Body bytes already read with the head, not handed out yet.
    start: usize,
    /// Where de-chunked bytes go (reused across reads).
    body: Vec<u8>,
    deadline: tokio::time::Instant,
    head_at: Instant,
    /// Time spent opening connections for this request (waiting for a handshake slot and
    /// the TCP handshake); zero when a pooled connection was reused.
    pub connect_wait: Duration,
}

impl HttpClient {
    /// An empty pool; new connections get `TCP_NODELAY` and this connect timeout, and
    /// `https` servers' certificates are checked as `verify` says.
    pub fn new(connect_timeout: Duration, verify: Verify) -> HttpClient {
        HttpClient {
            idle: Arc::new(Mutex::new(HashMap::new())),
            connect_timeout,
            handshakes: Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES)),
            verify,
            tls: Arc::new(OnceLock::new()),
        }
    }

    fn tls_config(&self) -> Result<Arc<ClientConfig>, ReadEnd> {
        self.tls
            .get_or_init(|| llmb_tls::client_config(self.verify).map_err(|e| e.to_string()))
            .clone()
            .map_err(ReadEnd::Certificate)
    }

    /// An idle connection the server has not closed: one that would block on a read.
    /// (Anything readable on an idle connection, EOF or stray bytes, makes it unusable.)
    fn checkout(&self, key: &str) -> Option<Conn> {
        loop {
            let mut conn = self.idle.lock().ok()?.get_mut(key)?.pop()?;
            if conn.sock.is_quiet() {
                return Some(conn);
            }
        }
    }

    fn checkin(&self, key: String, conn: Conn) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.entry(key).or_default().push(conn);
        }
    }

    async fn connect(
        &self,
        origin: &Origin,
        deadline: tokio::time::Instant,
    ) -> Result<Conn, ReadEnd> {
        let key = &origin.addr;
        let _turn = tokio::select! {
            biased;
            p = self.handshakes.acquire() => p.expect("never closed"),
            _ = tokio::time::sleep_until(deadline) => return Err(ReadEnd::Timeout),
        };
        let limit = tokio::time::Instant::now() + self.connect_timeout;
        let tcp = match tokio::time::timeout_at(limit.min(deadline), TcpStream::connect(key)).await
        {
            Err(_) if deadline <= limit => return Err(ReadEnd::Timeout),
            Err(_) => {
                return Err(ReadEnd::Broken(format!(
                    "connect to {key} timed out after {:?}",
                    self.connect_timeout
                )))
            }
            Ok(Err(e)) => return Err(ReadEnd::Broken(format!("cannot connect to {key}: {e}"))),
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        let sock = match &origin.tls_name {
            None => Stream::Plain(tcp),
            Some(name) => {
                let connector = TlsConnector::from(self.tls_config()?);
                let shake = connector.connect(name.clone(), tcp);
                match tokio::time::timeout_at(limit.min(deadline), shake).await {
                    Err(_) if deadline <= limit => return Err(ReadEnd::Timeout),
                    Err(_) => {
                        return Err(ReadEnd::Broken(format!(
                            "TLS handshake with {key} timed out after {:?}",
                            self.connect_timeout
                        )))
                    }
                    Ok(Err(e)) => {
                        let host = key.rsplit_once(':').map_or(key.as_str(), |(h, _)| h);
                        return Err(match llmb_tls::certificate_refusal(&e, host) {
                            Some(why) => ReadEnd::Certificate(why),
                            None => {
                                ReadEnd::Broken(format!("TLS handshake with {key} failed: {e}"))
                            }
                        });
                    }
                    Ok(Ok(s)) => Stream::Tls(Box::new(s)),
                }
            }
        };
        Ok(Conn {
            sock,
            buf: Vec::with_capacity(READ_CHUNK),
            last_read: Instant::now(),
        })
    }

    /// `GET` a small JSON document (for preflight checks).
    pub async fn get_json(
        &self,
        target: &Target,
        path: &str,
    ) -> Result<serde_json::Value, ClientError> {
        let uri = target.uri(path)?;
        let url = uri.to_string();
        let host = uri.authority().map_or("", |a| a.as_str());
        let mut msg =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n")
                .into_bytes();
        for (k, v) in &target.headers {
            msg.extend_from_slice(k.as_str().as_bytes());
            msg.extend_from_slice(b": ");
            msg.extend_from_slice(v.as_bytes());
            msg.extend_from_slice(b"\r\n");
        }
        msg.extend_from_slice(b"\r\n");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let unreachable = |message: String| ClientError::Unreachable {
            url: url.clone(),
            message,
        };
        let mut ex = match Exchange::start(self, &uri, &msg, deadline).await {
            Ok(ex) => ex,
            Err(ReadEnd::Certificate(why)) => return Err(ClientError::Certificate(why)),
            Err(e) => return Err(unreachable(e.to_string())),
        };
        let status = ex.status;
        let mut body = Vec::new();
        loop {
            match ex.next_body(None).await {
                Ok(Some((d, _))) => {
                    body.extend_from_slice(d);
                    if body.len() > 16 << 20 {
                        return Err(unreachable(format!("GET {path} answered more than 16 MiB")));
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(unreachable(format!("body of GET {path}: {e}"))),
            }
        }
        ex.release();
        if status == 401 || status == 403 {
            return Err(ClientError::Refused {
                url,
                message: format!("GET {path} answered HTTP {status}"),
            });
        }
        if !(200..300).contains(&status) {
            return Err(ClientError::NotOpenAi {
                url,
                message: format!("GET {path} answered HTTP {status}"),
            });
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::NotOpenAi {
            url,
            message: format!("GET {path} did not return JSON ({e})"),
        })
    }
}

impl Conn {
    /// Reads more bytes into `buf` (appending); `Ok(0)` at end of stream. Gives up at
    /// `deadline`, or when `idle` has passed since the last read returned (one timer
    /// either way).
    async fn read_more(
        &mut self,
        deadline: tokio::time::Instant,
        idle: Option<Duration>,
    ) -> Result<(usize, Instant), ReadEnd> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let idle_at = idle.map(|d| tokio::time::Instant::from_std(self.last_read + d));
        let wake = idle_at.map_or(deadline, |i| i.min(deadline));
        tokio::select! {
            biased;
            r = self.sock.read_buf(&mut self.buf) => match r {
                Ok(n) => {
                    let at = Instant::now();
                    self.last_read = at;
                    Ok((n, at))
                }
                Err(e) => Err(ReadEnd::Broken(e.to_string())),
            },
            _ = tokio::time::sleep_until(wake) => Err(match idle {
                Some(d) if wake < deadline => ReadEnd::Idle(d),
                _ => ReadEnd::Timeout,
            }),
        }
    }
}

impl<'c> Exchange<'c> {
    /// Writes `message` on a pooled (or new) connection and reads the response head. A
    /// reused connection the server had already closed is replaced once.
    pub(super) async fn start(
        client: &'c HttpClient,
        uri: &Uri,
        message: &[u8],
        deadline: tokio::time::Instant,
    ) -> Result<Exchange<'c>, ReadEnd> {
        let origin = Origin::of(uri)?;
        let mut pooled = client.checkout(&origin.key);
        let mut connect_wait = Duration::ZERO;
        loop {
            let reused = pooled.is_some();
            let mut conn = match pooled.take() {
                Some(c) => c,
                None => {
                    let t0 = Instant::now();
                    let c = client.connect(&origin, deadline).await?;
                    connect_wait += t0.elapsed();
                    c
                }
            };
            conn.buf.clear();
            let wrote = tokio::select! {
                biased;
                // The flush sends what TLS still buffers (a no-op on plain TCP).
                r = async {
                    conn.sock.write_all(message).await?;
                    conn.sock.flush().await
                } => r.map_err(|e| ReadEnd::Broken(e.to_string())),
                _ = tokio::time::sleep_until(deadline) => Err(ReadEnd::Timeout),
            };
            match wrote {
                Err(ReadEnd::Broken(_)) if reused => continue,
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            match read_head(&mut conn, deadline).await {
                Ok(head) => {
                    return Ok(Exchange {
                        client,
                        key: origin.key,
                        conn: Some(conn),
                        status: head.status,
                        framing: head.framing,
                        other_content_type: head.other_content_type,
                        keep_alive: head.keep_alive,
                        start: head.len,
                        body: Vec::new(),
                        deadline,
                        head_at: head.at,
                        connect_wait,
                    })
                }
                // A reused connection the server closed as we wrote (it passed the probe at
                // checkout, then the server's idle close crossed our request): not one byte
                // of response came back, so the request was not acted on; send it once more
                // on a new connection. A fresh connection is never retried.
                Err(HeadError::ClosedEarly) if reused => continue,
                Err(HeadError::ClosedEarly) => {
                    return Err(ReadEnd::Broken(
                        "the server closed the connection without answering".into(),
                    ))
                }
                Err(HeadError::End(e)) => return Err(e),
            }
        }
    }

    /// Whether the whole body has been read.
    pub(super) fn framing_done(&self) -> bool {
        match &self.framing {
            Framing::Chunked(d) => d.is_done(),
            Framing::Length(n) => *n == 0,
            Framing::Close => false,
        }
    }

    /// The next piece of body and when its bytes were read; `None` at the end of the body.
    /// With `idle`, a read that waits longer than that ends in [`ReadEnd::Idle`].
    pub(super) async fn next_body(
        &mut self,
        idle: Option<Duration>,
    ) -> Result<Option<(&[u8], Instant)>, ReadEnd> {
        let done = self.framing_done();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(None);
        };
        let (from, at) = if self.start < conn.buf.len() {
            // Body bytes that came in with the head.
            let from = self.start;
            self.start = usize::MAX;
            (from, self.head_at)
        } else {
            if done {
                return Ok(None);
            }
            conn.buf.clear();
            self.start = usize::MAX;
            let (n, at) = conn.read_more(self.deadline, idle).await?;
            if n == 0 {
                return match self.framing {
                    Framing::Close => Ok(None),
                    _ => Err(ReadEnd::Broken("connection closed mid-body".into())),
                };
            }
            (0, at)
        };
        let input = &conn.buf[from..];
        match &mut self.framing {
            Framing::Chunked(d) => {
                self.body.clear();
                let used = d
                    .decode(input, &mut self.body)
                    .map_err(|e| ReadEnd::Broken(e.to_string()))?;
                if used < input.len() {
                    // Bytes after the body: the connection is out of step; never reuse it.
                    self.keep_alive = false;
                }
                Ok(Some((&self.body, at)))
            }
            Framing::Length(left) => {
                let take = (*left).min(input.len() as u64) as usize;
                *left -= take as u64;
                if take < input.len() {
                    self.keep_alive = false;
                }
                Ok(Some((&input[..take], at)))
            }
            Framing::Close => Ok(Some((input, at))),
        }
    }

    /// Up to `limit` bytes of the body (for error statuses, waiting at most
    /// [`SNIPPET_IDLE`] for each piece); the connection is dropped.
    pub(super) async fn read_snippet(&mut self, limit: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < limit {
            match self.next_body(Some(SNIPPET_IDLE)).await {
                Ok(Some((d, _))) => out.extend_from_slice(d),
                _ => break,
            }
        }
        out.truncate(limit);
        self.conn = None;
        out
    }

    /// Returns the connection to the pool if the body was read to its end and the server
    /// keeps connections alive; otherwise closes it.
    pub(super) fn release(mut self) {
        if self.keep_alive && self.framing_done() {
            if let Some(c) = self.conn.take() {
                self.client.checkin(std::mem::take(&mut self.key), c);
            }
        }
    }
}

struct Head {
    status: u16,
    framing: Framing,
    other_content_type: Option<Box<str>>,
    keep_alive: bool,
    /// Bytes of `buf` the head took.
    len: usize,
    at: Instant,
}

enum HeadError {
    ClosedEarly,
    End(ReadEnd),
}

async fn read_head(conn: &mut Conn, deadline: tokio::time::Instant) -> Result<Head, HeadError> {
    loop {
        let (n, at) = conn
            .read_more(deadline, None)
            .await
            .map_err(HeadError::End)?;
        if n == 0 {
            return Err(if conn.buf.is_empty() {
                HeadError::ClosedEarly
            } else {
                HeadError::End(ReadEnd::Broken(
                    "the connection closed inside the response head".into(),
                ))
            });
        }
        while let Some(mut head) = parse_head(&conn.buf).map_err(HeadError::End)? {
            if (100..200).contains(&head.status) && head.status != 101 {
                // An interim response (100 Continue, 103 Early Hints): the real one follows.
                conn.buf.drain(..head.len);
                continue;
            }
            head.at = at;
            return Ok(head);
        }
        if conn.buf.len() > MAX_HEAD {
            return Err(HeadError::End(ReadEnd::Broken(
                "response head larger than 64 KiB".into(),
            )));
        }
    }
}

/// Parses a response head; `None` when more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, ReadEnd> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ReadEnd::Broken(format!("not an HTTP response: {e}"))),
    };
    let status = resp.code.unwrap_or(0);
    let mut keep_alive = resp.version == Some(1);
    let mut framing = Framing::Close;
    let mut other_content_type = Some(Box::from(""));
    for h in resp.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            framing = Framing::Chunked(ChunkedDecoder::new());
        } else if h.name.eq_ignore_ascii_case("content-length")
            && !matches!(framing, Framing::Chunked(_))
        {
            let n = value
                .parse()
                .map_err(|_| ReadEnd::Broken(format!("bad Content-Length `{value}`")))?;
            framing = Framing::Length(n);
        } else if h.name.eq_ignore_ascii_case("connection") {
            keep_alive = !value.eq_ignore_ascii_case("close");
        } else if h.name.eq_ignore_ascii_case("content-type") {
            other_content_type = (!value
                .get(..17)
                .is_some_and(|v| v.eq_ignore_ascii_case("text/event-stream")))
            .then(|| Box::from(value));
        }
    }
    // 1xx, 204 and 304 have no body.
    if status < 200 || status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    if matches!(framing, Framing::Close) {
        keep_alive = false;
    }
    Ok(Some(Head {
        status,
        framing,
        other_content_type,
        keep_alive,
        len,
        at: Instant::now(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_give_status_framing_and_keep_alive() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.status, h.keep_alive, h.len), (200, true, 47));
        assert!(matches!(h.framing, Framing::Chunked(_)));
        let h =
            parse_head(b"HTTP/1.1 429 Too Many\r\nContent-Length: 12\r\nConnection: close\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!((h.status, h.keep_alive), (429, false));
        assert!(matches!(h.framing, Framing::Length(12)));
        let h = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert!(matches!(h.framing, Framing::Close) && !h.keep_alive);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-")
            .unwrap()
            .is_none());
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
    }
}
