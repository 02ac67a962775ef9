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
use llmb_protocol::{parse_chunk, Endpoint, ProtocolError, SseDecoder};

pub use chunked::{ChunkedDecoder, ChunkedError};
pub use conn::HttpClient;
use conn::{Exchange, Framing, ReadEnd};
pub use llmb_tls::Verify;

/// Where requests go and what they carry besides the body.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL, e.g. `http://127.0.0.1:8000` or `https://host` (a trailing `/v1` is
    /// accepted).
    pub base_url: String,
    /// Route.
    pub endpoint: Endpoint,
    /// Extra headers (authorization included); never written to result files.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Give up on a request after this long.
    pub timeout: Duration,
    /// Give up on a streamed response that has started when nothing comes for this long.
    pub idle_timeout: Duration,
    /// How an `https` server's certificate is checked.
    pub verify: llmb_tls::Verify,
}

/// Default [`Target::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the target could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL does not parse or is neither `http` nor `https`.
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
    /// It refused the credentials (HTTP 401 or 403).
    #[error("{url} refused the request ({message}): give the server's API key in $OPENAI_API_KEY (or the variable --api-key-env names), or pass --header 'Authorization: Bearer KEY'")]
    Refused {
        /// The URL tried.
        url: String,
        /// What it answered.
        message: String,
    },
    /// Its TLS certificate did not verify (the sentence names the host, the reason and
    /// the options that change it).
    #[error("{0}")]
    Certificate(String),
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
    /// `text` with every header value the user gave (and the key after `Bearer `)
    /// replaced by `***`: servers echo headers in error bodies.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (_, v) in &self.headers {
            let Ok(v) = v.to_str() else { continue };
            let key = v.rsplit(' ').next().unwrap_or(v);
            for secret in [v, key] {
                if secret.len() >= 4 && out.contains(secret) {
                    out = out.replace(secret, "***");
                }
            }
        }
        out
    }

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
        let host_port = uri.authority().map_or("", |a| a.as_str());
        let host_port = host_port.rsplit('@').next().unwrap_or(host_port);
        if let Some((_, port)) = host_port.rsplit_once(':').filter(|(_, p)| !p.contains(']')) {
            if !port.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n)) {
                return Err(ClientError::BadUrl(
                    self.base_url.clone(),
                    format!("port `{port}` is out of range: use 1 to 65535"),
                ));
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(ClientError::BadUrl(
                self.base_url.clone(),
                "it names no host".into(),
            ));
        }
        match uri.scheme_str() {
            Some("http" | "https") => Ok(uri),
            _ => Err(ClientError::BadUrl(
                self.base_url.clone(),
                "it must start with http:// or https://".into(),
            )),
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

/// How far one response may run before it is cut ([`Outcome::Overlong`]): a server that
/// streams without end cannot grow a request's memory past what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// SSE events (chunks, empty or not).
    pub max_events: usize,
    /// Body bytes.
    pub max_bytes: usize,
    /// Output tokens asked for (for the message).
    pub asked: Option<u64>,
}

/// Output tokens assumed when a request does not say how many it wants.
const UNSTATED_OUTPUT_TOKENS: u64 = 16_384;

impl ResponseLimits {
    /// Four events per asked token plus 64 (role, usage and empty chunks; servers send one
    /// per token), 2 KiB of body per event (a chunk is about 300 bytes) plus 1 MiB.
    pub fn for_request(asked: Option<u64>) -> ResponseLimits {
        let tokens = asked.unwrap_or(UNSTATED_OUTPUT_TOKENS).min(1 << 24) as usize;
        let max_events = tokens * 4 + 64;
        ResponseLimits {
            max_events,
            max_bytes: max_events * 2048 + (1 << 20),
            asked,
        }
    }

    fn overlong(&self, what: String) -> Outcome {
        let asked = self.asked.map_or_else(
            || "no max_tokens".to_owned(),
            |n| format!("{n} tokens asked"),
        );
        Outcome::Overlong {
            message: format!("{what} ({asked}); the response was cut"),
        }
    }
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
    events: usize,
    limits: ResponseLimits,
    error: Option<Outcome>,
}

impl StreamState {
    fn on_payload(&mut self, data: &[u8], at: Instant) -> bool {
        self.events += 1;
        if self.events > self.limits.max_events {
            let what = format!("more than {} events", self.limits.max_events);
            self.error = Some(self.limits.overlong(what));
            return false;
        }
        if data == b"[DONE]" {
            self.done = Some(at);
            return false;
        }
        match parse_chunk(data, &mut self.text) {
            Ok(facts) => {
                if let Some(u) = facts.usage {
                    self.usage = ServerUsage {
                        implausible_completion_tokens: None,
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
                        text_bytes: facts.text_bytes.min(u32::MAX as usize) as u32,
                        client_lag_ns,
                    });
                }
                if facts.finished {
                    self.finished = true;
                }
                true
            }
            Err(ProtocolError::ServerError(message)) => {
                self.error = Some(Outcome::StreamError {
                    message: format!("server reported an error in the stream: {message}"),
                });
                false
            }
            Err(e) => {
                self.error = Some(Outcome::MalformedChunk {
                    message: e.to_string(),
                });
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

/// Largest unfinished SSE event kept.
const MAX_SSE_EVENT: usize = 1 << 20;
/// Bytes of an unexpected body kept for the record.
const EXCERPT: usize = 200;

/// The start of a body, as text, for a record.
fn excerpt(bytes: &[u8]) -> String {
    let cut = bytes.len().min(EXCERPT);
    String::from_utf8_lossy(&bytes[..cut]).trim().to_owned()
}

/// Masks the user's secrets in whatever text an outcome carries.
fn redacted(outcome: Outcome, target: &Target) -> Outcome {
    match outcome {
        Outcome::HttpStatus { status, body } => Outcome::HttpStatus {
            status,
            body: target.redact(&body),
        },
        Outcome::NotSse { content_type, body } => Outcome::NotSse {
            content_type,
            body: target.redact(&body),
        },
        Outcome::MalformedChunk { message } => Outcome::MalformedChunk {
            message: target.redact(&message),
        },
        Outcome::StreamError { message } => Outcome::StreamError {
            message: target.redact(&message),
        },
        other => other,
    }
}

/// Sends one request and reads it to the end: in bounded time (the total and idle
/// timeouts) and bounded memory (`limits`).
pub async fn send(
    client: &HttpClient,
    target: &Target,
    uri: &Uri,
    body: Bytes,
    stream: bool,
    limits: ResponseLimits,
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
        events: 0,
        limits,
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
            outcome: redacted(outcome, target),
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
        let snippet = ex.read_snippet(EXCERPT).await;
        return finish(
            st,
            Instant::now(),
            Outcome::HttpStatus {
                status: ex.status,
                body: excerpt(&snippet),
            },
            connect_wait,
        );
    }
    let mut sse = SseDecoder::new();
    let mut whole = Vec::new();
    // The first bytes of a streamed body that is not an event stream, for the record.
    let mut odd_start: Vec<u8> = Vec::new();
    let mut body_bytes = 0usize;
    let idle = stream.then_some(target.idle_timeout);
    let odd_type = ex.other_content_type.take();
    loop {
        // The idle limit starts once the stream has sent something: waiting for the first
        // event is queueing, which the total timeout bounds.
        let (data, at) = match ex.next_body(idle.filter(|_| body_bytes > 0)).await {
            Ok(Some(x)) => x,
            Ok(None) => break,
            // `[DONE]` came: the response is complete whatever happens to its terminator
            // (the connection is dropped rather than reused).
            Err(_) if st.done.is_some() => break,
            Err(ReadEnd::Timeout) => {
                return finish(st, Instant::now(), Outcome::Timeout, connect_wait)
            }
            Err(ReadEnd::Idle(d)) => {
                let outcome = Outcome::IdleTimeout {
                    idle_ms: d.as_millis() as u64,
                };
                return finish(st, Instant::now(), outcome, connect_wait);
            }
            Err(e @ (ReadEnd::Broken(_) | ReadEnd::Certificate(_))) => {
                let message = format!("connection broke mid-response: {e}");
                return finish(st, Instant::now(), Outcome::Reset { message }, connect_wait);
            }
        };
        body_bytes += data.len();
        if body_bytes > limits.max_bytes {
            let outcome =
                limits.overlong(format!("more than {} MiB of body", limits.max_bytes >> 20));
            return finish(st, Instant::now(), outcome, connect_wait);
        }
        if !stream {
            whole.extend_from_slice(data);
            continue;
        }
        if st.events == 0 && odd_start.len() < EXCERPT && odd_type.is_some() {
            odd_start.extend_from_slice(&data[..data.len().min(EXCERPT)]);
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
                    Outcome::MalformedChunk { message },
                    connect_wait,
                );
            }
        }
        if let Some(outcome) = st.error.take() {
            return finish(st, Instant::now(), outcome, connect_wait);
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
            Some(outcome) => finish(st, end, outcome, connect_wait),
            None => finish(st, end, Outcome::Completed, connect_wait),
        };
    }
    if st.done.is_some() || st.finished {
        return finish(st, end, Outcome::Completed, connect_wait);
    }
    let outcome = match &odd_type {
        Some(ct) if st.events == 0 => Outcome::NotSse {
            content_type: ct.to_string(),
            body: excerpt(&odd_start),
        },
        _ => Outcome::StreamError {
            message: "stream ended before [DONE]".into(),
        },
    };
    finish(st, end, outcome, connect_wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str, headers: &[(&'static str, &str)]) -> Target {
        Target {
            base_url: url.into(),
            endpoint: Endpoint::Chat,
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        HeaderName::from_static(k),
                        HeaderValue::from_str(v).unwrap(),
                    )
                })
                .collect(),
            timeout: Duration::from_secs(1),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            verify: Verify::Roots,
        }
    }

    #[test]
    fn urls_are_checked_before_use() {
        assert!(target("http://127.0.0.1:8000/v1", &[]).uri("/x").is_ok());
        assert!(target("http://[::1]:8000", &[]).uri("/x").is_ok());
        assert!(target("http://localhost", &[]).uri("/x").is_ok());
        for (url, says) in [
            ("http://127.0.0.1:99999", "port `99999` is out of range"),
            ("http://127.0.0.1:0", "port `0`"),
            ("http://127.0.0.1:x1", "port `x1`"),
            ("ftp://127.0.0.1:21", "http://"),
        ] {
            let e = target(url, &[]).uri("/x").unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
    }

    #[test]
    fn secrets_are_masked_in_what_servers_echo() {
        let t = target(
            "http://h:1",
            &[
                ("authorization", "Bearer sk-abc123"),
                ("x-token", "tok-999"),
            ],
        );
        assert_eq!(
            t.redact("you sent Bearer sk-abc123, key sk-abc123 and tok-999"),
            "you sent ***, key *** and ***"
        );
        // Values too short to be secrets are left alone.
        let t = target("http://h:1", &[("x-a", "ab")]);
        assert_eq!(t.redact("ab cd"), "ab cd");
    }

    #[test]
    fn response_limits_follow_what_was_asked() {
        // 128 tokens: 128 x 4 + 64 = 576 events, 576 x 2 KiB + 1 MiB of body.
        let l = ResponseLimits::for_request(Some(128));
        assert_eq!(l.max_events, 576);
        assert_eq!(l.max_bytes, 576 * 2048 + (1 << 20));
        // Nothing asked: 16,384 tokens assumed.
        assert_eq!(
            ResponseLimits::for_request(None).max_events,
            16_384 * 4 + 64
        );
        let Outcome::Overlong { message } = l.overlong("more than 576 events".into()) else {
            panic!()
        };
        assert_eq!(
            message,
            "more than 576 events (128 tokens asked); the response was cut"
        );
    }
}
