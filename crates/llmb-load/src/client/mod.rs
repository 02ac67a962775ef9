//! The streaming HTTP/1.1 client: a pool of keep-alive connections and one request read to
//! its end. Each read is stamped the moment the socket returns it, before any decoding;
//! the body is de-chunked into a reused buffer, framed as SSE and parsed into borrowed
//! views. Nothing on this path locks, tokenizes or allocates per token.

mod chunked;
mod conn;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Uri};
use llmb_metrics::{Chunk, Outcome, ServerUsage};
use llmb_protocol::clock::MonoAnchor;
use llmb_protocol::{parse_chunk, Endpoint, SseDecoder};

pub use chunked::{ChunkedDecoder, ChunkedError};
pub use conn::HttpClient;
use conn::{Exchange, Framing, ReadEnd};

/// Where requests go and what they carry besides the body.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL, e.g. `http://127.0.0.1:8000` (a trailing `/v1` is accepted).
    pub base_url: String,
    /// Route.
    pub endpoint: Endpoint,
    /// Extra headers (authorization included); never written to result files.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Give up on a request after this long.
    pub timeout: Duration,
}

/// Why the target could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL does not parse or is not plain HTTP.
    #[error("invalid --url `{0}`: {1}")]
    BadUrl(String, String),
    /// Nothing answered.
    #[error("cannot reach {url}: {message}. Is the server running? Check --url")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What the transport said.
        message: String,
    },
    /// It answered, but not as an OpenAI-compatible server.
    #[error("{url} is not an OpenAI-compatible server: {message}")]
    NotOpenAi {
        /// The URL tried.
        url: String,
        /// What was wrong.
        message: String,
    },
}

impl Target {
    /// Normalised base (no trailing slash, no trailing `/v1`).
    pub fn base(&self) -> &str {
        let b = self.base_url.trim_end_matches('/');
        b.strip_suffix("/v1").unwrap_or(b)
    }

    /// Full URI of a path below the base.
    pub fn uri(&self, path: &str) -> Result<Uri, ClientError> {
        let s = format!("{}{}", self.base(), path);
        let uri: Uri = s.parse().map_err(|e: http::uri::InvalidUri| {
            ClientError::BadUrl(self.base_url.clone(), e.to_string())
        })?;
        match uri.scheme_str() {
            Some("http") => Ok(uri),
            Some("https") => Err(ClientError::BadUrl(
                self.base_url.clone(),
                "https is not supported yet; use http:// (for example through a local port-forward)".into(),
            )),
            _ => Err(ClientError::BadUrl(self.base_url.clone(), "it must start with http://".into())),
        }
    }
}

/// What one request produced, before token counts are resolved.
#[derive(Debug)]
pub struct RawResponse {
    /// When it was sent.
    pub sent: Instant,
    /// First text chunk.
    pub first_token: Option<Instant>,
    /// End.
    pub end: Instant,
    /// Text chunks (tokens not yet resolved).
    pub chunks: Vec<Chunk>,
    /// Concatenated generated text.
    pub text: String,
    /// Server-reported counts.
    pub usage: ServerUsage,
    /// Time spent opening a connection for it (none when a pooled one was reused).
    pub connect_wait: Option<Duration>,
    /// How it ended.
    pub outcome: Outcome,
}

struct StreamState {
    sent: Instant,
    anchor: MonoAnchor,
    first: Option<Instant>,
    chunks: Vec<Chunk>,
    text: String,
    usage: ServerUsage,
    done: Option<Instant>,
    finished: bool,
    error: Option<String>,
}

impl StreamState {
    fn on_payload(&mut self, data: &[u8], at: Instant) -> bool {
        if data == b"[DONE]" {
            self.done = Some(at);
            return false;
        }
        match parse_chunk(data, &mut self.text) {
            Ok(facts) => {
                if let Some(u) = facts.usage {
                    self.usage = ServerUsage {
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                    };
                }
                if facts.text_bytes > 0 {
                    self.first.get_or_insert(at);
                    let offset_ns = at.saturating_duration_since(self.sent).as_nanos() as u64;
                    let client_lag_ns = facts
                        .sent_ns
                        .and_then(|s| Chunk::lag(self.anchor.ns(at).saturating_sub(s)));
                    self.chunks.push(Chunk {
                        offset_ns,
                        tokens: 0,
                        text_bytes: facts.text_bytes as u32,
                        client_lag_ns,
                    });
                }
                if facts.finished {
                    self.finished = true;
                }
                true
            }
            Err(e) => {
                self.error = Some(e.to_string());
                false
            }
        }
    }
}

/// The request head for `POST uri` with the target's headers; the body follows it.
fn request_head(target: &Target, uri: &Uri, body_len: usize, stream: bool) -> Vec<u8> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let host = uri.authority().map_or("", |a| a.as_str());
    let mut h = Vec::with_capacity(256 + body_len);
    h.extend_from_slice(b"POST ");
    h.extend_from_slice(path.as_bytes());
    h.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    h.extend_from_slice(host.as_bytes());
    h.extend_from_slice(b"\r\nContent-Type: application/json\r\n");
    if stream {
        h.extend_from_slice(b"Accept: text/event-stream\r\n");
    }
    for (k, v) in &target.headers {
        h.extend_from_slice(k.as_str().as_bytes());
        h.extend_from_slice(b": ");
        h.extend_from_slice(v.as_bytes());
        h.extend_from_slice(b"\r\n");
    }
    h.extend_from_slice(b"Content-Length: ");
    h.extend_from_slice(body_len.to_string().as_bytes());
    h.extend_from_slice(b"\r\n\r\n");
    h
}

/// Largest non-streamed response body kept.
const MAX_WHOLE_BODY: usize = 64 << 20;
/// Largest unfinished SSE event kept.
const MAX_SSE_EVENT: usize = 1 << 20;

/// Sends one request and reads it to the end.
pub async fn send(
    client: &HttpClient,
    target: &Target,
    uri: &Uri,
    body: Bytes,
    stream: bool,
) -> RawResponse {
    let mut message = request_head(target, uri, body.len(), stream);
    message.extend_from_slice(&body);
    let sent = Instant::now();
    let deadline = tokio::time::Instant::from_std(sent + target.timeout);
    let mut st = StreamState {
        sent,
        anchor: MonoAnchor::now(),
        first: None,
        chunks: Vec::new(),
        text: String::new(),
        usage: ServerUsage::default(),
        done: None,
        finished: false,
        error: None,
    };
    let mut connect_wait = None;
    let finish =
        |st: StreamState, end: Instant, outcome: Outcome, wait: Option<Duration>| RawResponse {
            sent: st.sent,
            first_token: st.first,
            end,
            chunks: st.chunks,
            text: st.text,
            usage: st.usage,
            connect_wait: wait,
            outcome,
        };
    let mut ex = match Exchange::start(client, uri, &message, deadline).await {
        Ok(ex) => {
            connect_wait = Some(ex.connect_wait).filter(|d| !d.is_zero());
            ex
        }
        Err(ReadEnd::Timeout) => return finish(st, Instant::now(), Outcome::Timeout, connect_wait),
        Err(e) => {
            return finish(
                st,
                Instant::now(),
                Outcome::ConnectionError {
                    message: e.to_string(),
                },
                connect_wait,
            )
        }
    };
    if ex.status != 200 {
        let snippet = ex.read_snippet(512).await;
        let body = String::from_utf8_lossy(&snippet).into_owned();
        return finish(
            st,
            Instant::now(),
            Outcome::HttpStatus {
                status: ex.status,
                body,
            },
            connect_wait,
        );
    }
    let mut sse = SseDecoder::new();
    let mut whole = Vec::new();
    loop {
        let (data, at) = match ex.next_body().await {
            Ok(Some(x)) => x,
            Ok(None) => break,
            // `[DONE]` came: the response is complete whatever happens to its terminator
            // (the connection is dropped rather than reused).
            Err(_) if st.done.is_some() => break,
            Err(ReadEnd::Timeout) => {
                return finish(st, Instant::now(), Outcome::Timeout, connect_wait)
            }
            Err(e) => {
                let message = format!("connection broke mid-response: {e}");
                return finish(
                    st,
                    Instant::now(),
                    Outcome::StreamError { message },
                    connect_wait,
                );
            }
        };
        if !stream {
            if whole.len() + data.len() > MAX_WHOLE_BODY {
                let message = format!("response larger than {} MiB", MAX_WHOLE_BODY >> 20);
                return finish(
                    st,
                    Instant::now(),
                    Outcome::StreamError { message },
                    connect_wait,
                );
            }
            whole.extend_from_slice(data);
            continue;
        }
        if st.done.is_none() {
            sse.push(data, &mut |ev| st.on_payload(ev.data, at));
            if sse.pending_len() > MAX_SSE_EVENT {
                let message = format!(
                    "an SSE event grew past {} MiB without ending",
                    MAX_SSE_EVENT >> 20
                );
                return finish(
                    st,
                    Instant::now(),
                    Outcome::StreamError { message },
                    connect_wait,
                );
            }
        }
        if let Some(message) = st.error.take() {
            return finish(
                st,
                Instant::now(),
                Outcome::StreamError { message },
                connect_wait,
            );
        }
        // After `[DONE]` keep reading to the body's terminator so the connection can be
        // reused (the response ended at `[DONE]` whatever comes after it); a body that
        // ends only when the server closes is left there.
        if st.done.is_some() && matches!(ex.framing, Framing::Close) {
            break;
        }
    }
    let end = st.done.unwrap_or_else(Instant::now);
    if ex.framing_done() {
        ex.release();
    }
    if !stream {
        st.on_payload(&whole, end);
        st.first = None;
        return match st.error.take() {
            Some(message) => finish(st, end, Outcome::StreamError { message }, connect_wait),
            None => finish(st, end, Outcome::Completed, connect_wait),
        };
    }
    if st.done.is_some() || st.finished {
        finish(st, end, Outcome::Completed, connect_wait)
    } else {
        finish(
            st,
            end,
            Outcome::StreamError {
                message: "stream ended before [DONE]".into(),
            },
            connect_wait,
        )
    }
}
