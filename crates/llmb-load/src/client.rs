//! One HTTP connection pool and one streaming request: every chunk is stamped when its
//! bytes are read, before any parsing; JSON is parsed into borrowed views.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use llmb_metrics::{Chunk, Outcome, ServerUsage};
use llmb_protocol::{ChunkView, Endpoint, SseDecoder};

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

/// The pooled HTTP/1.1 client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl HttpClient {
    /// A pool with no idle-connection cap, TCP_NODELAY and a connect timeout.
    pub fn new(connect_timeout: Duration) -> HttpClient {
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(connect_timeout));
        let inner = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(usize::MAX)
            .pool_idle_timeout(Duration::from_secs(90))
            .build(conn);
        HttpClient { inner }
    }

    /// `GET` a small JSON document (for preflight checks).
    pub async fn get_json(
        &self,
        target: &Target,
        path: &str,
    ) -> Result<serde_json::Value, ClientError> {
        let uri = target.uri(path)?;
        let url = uri.to_string();
        let mut req = Request::get(uri);
        for (k, v) in &target.headers {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| ClientError::BadUrl(url.clone(), e.to_string()))?;
        let resp = tokio::time::timeout(Duration::from_secs(10), self.inner.request(req))
            .await
            .map_err(|_| ClientError::Unreachable {
                url: url.clone(),
                message: "no answer within 10 s".into(),
            })?
            .map_err(|e| ClientError::Unreachable {
                url: url.clone(),
                message: error_chain(&e),
            })?;
        let status = resp.status();
        let body = tokio::time::timeout(Duration::from_secs(10), resp.into_body().collect())
            .await
            .map_err(|_| ClientError::Unreachable {
                url: url.clone(),
                message: "body not received within 10 s".into(),
            })?
            .map_err(|e| ClientError::Unreachable {
                url: url.clone(),
                message: e.to_string(),
            })?
            .to_bytes();
        if !status.is_success() {
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
    /// How it ended.
    pub outcome: Outcome,
}

struct StreamState {
    sent: Instant,
    first: Option<Instant>,
    chunks: Vec<Chunk>,
    text: String,
    usage: ServerUsage,
    done: bool,
    finished: bool,
    error: Option<String>,
}

impl StreamState {
    fn on_payload(&mut self, data: &[u8], at: Instant) -> bool {
        if data == b"[DONE]" {
            self.done = true;
            return false;
        }
        match ChunkView::parse(data) {
            Ok(view) => {
                if let Some(u) = view.usage {
                    self.usage = ServerUsage {
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                    };
                }
                if let Some(c) = view.choices.0.as_ref() {
                    let mut bytes = 0;
                    for t in c.texts() {
                        self.text.push_str(t);
                        bytes += t.len();
                    }
                    if bytes > 0 {
                        self.first.get_or_insert(at);
                        let offset_ns = at.saturating_duration_since(self.sent).as_nanos() as u64;
                        self.chunks.push(Chunk {
                            offset_ns,
                            tokens: 0,
                            text_bytes: bytes as u32,
                        });
                    }
                    if c.finish_reason.is_some() {
                        self.finished = true;
                    }
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

/// Sends one request and reads it to the end.
pub async fn send(
    client: &HttpClient,
    target: &Target,
    uri: &Uri,
    body: Bytes,
    stream: bool,
) -> RawResponse {
    let mut req = Request::post(uri.clone()).header(http::header::CONTENT_TYPE, "application/json");
    if stream {
        req = req.header(http::header::ACCEPT, "text/event-stream");
    }
    for (k, v) in &target.headers {
        req = req.header(k, v);
    }
    let req = req.body(Full::new(body)).expect("valid request parts");
    let sent = Instant::now();
    let deadline = tokio::time::Instant::from_std(sent + target.timeout);
    let mut st = StreamState {
        sent,
        first: None,
        chunks: Vec::new(),
        text: String::new(),
        usage: ServerUsage::default(),
        done: false,
        finished: false,
        error: None,
    };
    let finish = |st: StreamState, outcome: Outcome| RawResponse {
        sent: st.sent,
        first_token: st.first,
        end: Instant::now(),
        chunks: st.chunks,
        text: st.text,
        usage: st.usage,
        outcome,
    };
    let resp = match tokio::time::timeout_at(deadline, client.inner.request(req)).await {
        Err(_) => return finish(st, Outcome::Timeout),
        Ok(Err(e)) => {
            return finish(
                st,
                Outcome::ConnectionError {
                    message: error_chain(&e),
                },
            )
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    let mut body = resp.into_body();
    if status != StatusCode::OK {
        let mut snippet = Vec::new();
        while snippet.len() < 512 {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(Some(Ok(f))) => {
                    if let Some(d) = f.data_ref() {
                        snippet.extend_from_slice(d);
                    }
                }
                _ => break,
            }
        }
        snippet.truncate(512);
        let body = String::from_utf8_lossy(&snippet).into_owned();
        return finish(
            st,
            Outcome::HttpStatus {
                status: status.as_u16(),
                body,
            },
        );
    }
    let mut sse = SseDecoder::new();
    let mut whole = Vec::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return finish(st, Outcome::Timeout),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                let message = format!("connection broke mid-response: {}", error_chain(&e));
                return finish(st, Outcome::StreamError { message });
            }
            Ok(Some(Ok(f))) => f,
        };
        let at = Instant::now();
        let Some(data) = frame.data_ref() else {
            continue;
        };
        if !stream {
            whole.extend_from_slice(data);
            continue;
        }
        sse.push(data, &mut |ev| st.on_payload(ev.data, at));
        if let Some(message) = st.error.take() {
            return finish(st, Outcome::StreamError { message });
        }
        if st.done {
            return finish(st, Outcome::Completed);
        }
    }
    if !stream {
        let at = Instant::now();
        st.on_payload(&whole, at);
        st.first = None;
        return match st.error.take() {
            Some(message) => finish(st, Outcome::StreamError { message }),
            None => finish(st, Outcome::Completed),
        };
    }
    if st.finished {
        finish(st, Outcome::Completed)
    } else {
        finish(
            st,
            Outcome::StreamError {
                message: "stream ended before [DONE]".into(),
            },
        )
    }
}

/// An error and its sources, joined.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
