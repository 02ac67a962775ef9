//! The frontend's routes and the flow of one generation request: prefill worker first
//! (whole answer, for the prompt length), then decode worker, whose answer is relayed to
//! the client as it arrives. Failures become JSON errors naming the worker.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use llmb_protocol::Endpoint;

use super::health;
use super::metrics::{FrontendMetrics, RequestGuard};
use super::phase;
use super::pool::{Lease, Pool, UpstreamError, Worker};
use super::relay::{Relay, RelayPlan};
use super::{Deadlines, FrontendConfig, OUTPUT_TOKENS_HEADER};
use crate::sim::body::SimBody;
use crate::sim::routes::{error, json, models, read_body};
use llmb_engines::DisaggRole;

/// Longest worker error body quoted to the client.
const SNIPPET: usize = 512;

/// The frontend's state.
#[derive(Debug)]
pub struct Frontend {
    model: String,
    deadlines: Deadlines,
    prefill: Pool,
    decode: Pool,
    metrics: Arc<FrontendMetrics>,
    started: SystemTime,
}

impl Frontend {
    /// A frontend over the configured workers (no connection opened yet).
    pub fn new(cfg: FrontendConfig) -> Frontend {
        let c = cfg.deadlines.connect;
        Frontend {
            prefill: Pool::new(DisaggRole::Prefill, &cfg.prefill, c),
            decode: Pool::new(DisaggRole::Decode, &cfg.decode, c),
            model: cfg.model,
            deadlines: cfg.deadlines,
            metrics: Arc::new(FrontendMetrics::default()),
            started: SystemTime::now(),
        }
    }
}

/// Dispatches one request.
pub async fn handle(
    fe: Arc<Frontend>,
    req: Request<Incoming>,
) -> Result<Response<SimBody>, Infallible> {
    let resp = match (req.method(), req.uri().path()) {
        (&Method::POST, "/v1/chat/completions") => generation(&fe, req, Endpoint::Chat).await,
        (&Method::POST, "/v1/completions") => generation(&fe, req, Endpoint::Completions).await,
        (&Method::GET, "/v1/models") => Ok(models(&fe.model, fe.started)),
        (&Method::GET, "/health") => Ok(health_route(&fe).await),
        (&Method::GET, "/metrics") => Ok(Response::builder()
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(SimBody::full(fe.metrics.render(&fe.model)))
            .expect("static response")),
        (_, "/v1/chat/completions" | "/v1/completions" | "/v1/models" | "/health" | "/metrics") => {
            Err(error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed for this route",
            ))
        }
        (_, path) => Err(error(StatusCode::NOT_FOUND, &format!("no route {path}"))),
    };
    Ok(resp.unwrap_or_else(|e| e))
}

async fn health_route(fe: &Frontend) -> Response<SimBody> {
    let workers: Vec<Arc<Worker>> = fe
        .prefill
        .workers()
        .iter()
        .chain(fe.decode.workers())
        .cloned()
        .collect();
    let mut asks = tokio::task::JoinSet::new();
    for (i, w) in workers.iter().enumerate() {
        let (w, d) = (w.clone(), fe.deadlines.health);
        asks.spawn(async move { (i, health::probe(w, d).await) });
    }
    let mut probes: Vec<health::Probe> = vec![Err("not asked".into()); workers.len()];
    while let Some(done) = asks.join_next().await {
        if let Ok((i, p)) = done {
            probes[i] = p;
        }
    }
    let (ok, body) = health::summary(&workers, &probes);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, body.to_string().into_bytes())
}

/// The client's answer when a worker failed.
fn worker_failed(w: &Worker, e: &UpstreamError) -> Response<SimBody> {
    let status = e.client_status();
    let role = w.role().as_str();
    let body = serde_json::json!({"error": {
        "message": format!("{role} worker {} failed: {e}", w.url()),
        "type": e.error_type(),
        "code": status.as_u16(),
        "worker": w.url().as_str(),
        "role": role,
    }});
    json(status, body.to_string().into_bytes())
}

/// A worker's error answer: a client error (4xx) goes back as the worker said it (the
/// request itself is at fault); anything else is the worker failing.
fn worker_refused(w: &Worker, status: StatusCode, body: &Bytes) -> Response<SimBody> {
    if status.is_client_error() {
        return json(status, body.to_vec());
    }
    let snippet = String::from_utf8_lossy(&body[..body.len().min(SNIPPET)]).into_owned();
    worker_failed(
        w,
        &UpstreamError::Status {
            status: status.as_u16(),
            body: snippet,
        },
    )
}

async fn generation(
    fe: &Frontend,
    req: Request<Incoming>,
    endpoint: Endpoint,
) -> Result<Response<SimBody>, Response<SimBody>> {
    let guard = RequestGuard::new(fe.metrics.clone());
    let raw = read_body(req).await?;
    let body = phase::parse(&raw).map_err(|m| error(StatusCode::BAD_REQUEST, &m))?;
    if let Some(m) = body.get("model").and_then(|v| v.as_str()) {
        if m != fe.model {
            return Err(error(
                StatusCode::NOT_FOUND,
                &format!(
                    "The model `{m}` does not exist; this server serves `{}`",
                    fe.model
                ),
            ));
        }
    }
    let prompt_tokens = prefill(fe, endpoint, &body).await?;
    decode(fe, endpoint, body, prompt_tokens, guard).await
}

/// The prefill half, read whole: the prompt length it reports.
async fn prefill(
    fe: &Frontend,
    endpoint: Endpoint,
    body: &phase::Body,
) -> Result<u64, Response<SimBody>> {
    let lease = fe.prefill.pick();
    let w = lease.worker();
    let ask = async {
        let (resp, conn) = w
            .send(Method::POST, endpoint.path(), phase::prefill_request(body))
            .await?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| UpstreamError::Transport(llmb_protocol::error_chain(&e)))?
            .to_bytes();
        conn.release();
        Ok((status, bytes))
    };
    let deadline = fe.deadlines.response;
    let (status, answer) = tokio::time::timeout(deadline, ask)
        .await
        .unwrap_or(Err(UpstreamError::Timeout(deadline)))
        .map_err(|e| worker_failed(w, &e))?;
    if !status.is_success() {
        return Err(worker_refused(w, status, &answer));
    }
    phase::prompt_tokens(&answer).map_err(|m| worker_failed(w, &UpstreamError::Protocol(m)))
}

/// The decode half: its answer's head now, its body relayed as it comes.
async fn decode(
    fe: &Frontend,
    endpoint: Endpoint,
    body: phase::Body,
    prompt_tokens: u64,
    mut guard: RequestGuard,
) -> Result<Response<SimBody>, Response<SimBody>> {
    let lease: Lease = fe.decode.pick();
    let w = lease.worker().clone();
    let deadline = fe.deadlines.response;
    let sent = w.send(
        Method::POST,
        endpoint.path(),
        phase::decode_request(body, prompt_tokens),
    );
    let (resp, conn) = tokio::time::timeout(deadline, sent)
        .await
        .unwrap_or(Err(UpstreamError::Timeout(deadline)))
        .map_err(|e| worker_failed(&w, &e))?;
    let (parts, inner) = resp.into_parts();
    if !parts.status.is_success() {
        let snippet = tokio::time::timeout(deadline, inner.collect())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        return Err(worker_refused(&w, parts.status, &snippet));
    }
    guard.dequeue();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    let plan = RelayPlan {
        output_tokens: parts
            .headers
            .get(OUTPUT_TOKENS_HEADER)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0),
        sse: content_type.as_bytes().starts_with(b"text/event-stream"),
        idle: fe.deadlines.stream_idle,
    };
    let relay = Relay::new((inner, conn, lease), guard, plan);
    Ok(Response::builder()
        .status(parts.status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-cache")
        .body(SimBody::Relay(Box::new(relay)))
        .expect("static response"))
}
