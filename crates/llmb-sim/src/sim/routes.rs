//! HTTP routes: `/v1/chat/completions`, `/v1/completions`, `/v1/models`, `/health`,
//! `/metrics`. Errors are OpenAI-style JSON with a stable `type`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use llmb_protocol::chat::ChatRequest;
use llmb_protocol::completions::{CompletionRequest, Prompt};
use llmb_protocol::disagg::DisaggPhase;
use llmb_protocol::Endpoint;
use tokio::time::Instant;

use super::body::SimBody;
use super::generate::{self, Job};
use super::{App, WorkerRole};

const MAX_BODY: usize = 64 << 20;

/// Dispatches one request.
pub async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<SimBody>, std::convert::Infallible> {
    let arrival = Instant::now();
    let resp = match (req.method(), req.uri().path()) {
        (&Method::POST, "/v1/chat/completions") => {
            generation(app, req, Endpoint::Chat, arrival).await
        }
        (&Method::POST, "/v1/completions") => {
            generation(app, req, Endpoint::Completions, arrival).await
        }
        (&Method::GET, "/v1/models") => Ok(models(&app.cfg.model, app.started)),
        (&Method::GET, "/health") => Ok(json(StatusCode::OK, br#"{"status":"healthy"}"#.to_vec())),
        (&Method::GET, "/metrics") => Ok(Response::builder()
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(SimBody::full(app.metrics.render(&app.cfg.model)))
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

/// `GET /v1/models`: the one served model.
pub fn models(model: &str, started: std::time::SystemTime) -> Response<SimBody> {
    let created = started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let body = serde_json::json!({
        "object": "list",
        "data": [{"id": model, "object": "model", "created": created, "owned_by": "llmb"}]
    });
    json(StatusCode::OK, body.to_string().into_bytes())
}

async fn generation(
    app: Arc<App>,
    req: Request<Incoming>,
    endpoint: Endpoint,
    arrival: Instant,
) -> Result<Response<SimBody>, Response<SimBody>> {
    let raw = read_body(req).await?;
    // A decode-phase request brings its prompt length with it: no need to count it.
    let counted = |marked: Option<DisaggPhase>, count: &dyn Fn() -> u64| match marked {
        Some(DisaggPhase::Decode { prompt_tokens }) => prompt_tokens,
        _ => count(),
    };
    let (model, sampling, prompt_tokens, max_tokens) = match endpoint {
        Endpoint::Chat => {
            let r: ChatRequest = parse(&raw)?;
            let tokens = counted(r.sampling.llmb_disagg, &|| {
                r.texts().map(|t| app.tokenizer.count_fast(t) as u64).sum()
            });
            let max = r.max_tokens();
            (r.model, r.sampling, tokens, max)
        }
        Endpoint::Completions => {
            let r: CompletionRequest = parse(&raw)?;
            if matches!(&r.prompt, Prompt::Texts(v) if v.len() != 1)
                || matches!(&r.prompt, Prompt::IdLists(v) if v.len() != 1)
            {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "batched prompts are not supported: send one prompt per request",
                ));
            }
            let tokens = counted(r.sampling.llmb_disagg, &|| match &r.prompt {
                Prompt::Text(t) => app.tokenizer.count_fast(t) as u64,
                Prompt::Ids(ids) => ids.len() as u64,
                Prompt::Texts(v) => app.tokenizer.count_fast(&v[0]) as u64,
                Prompt::IdLists(v) => v[0].len() as u64,
            });
            let max = r.sampling.max_tokens.or(Some(16));
            (r.model, r.sampling, tokens, max)
        }
    };
    if let Some(m) = model.as_deref() {
        if m != app.cfg.model {
            return Err(error(
                StatusCode::NOT_FOUND,
                &format!(
                    "The model `{m}` does not exist; this server serves `{}`",
                    app.cfg.model
                ),
            ));
        }
    }
    if max_tokens == Some(0) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "max_tokens must be at least 1",
        ));
    }
    let phase = sampling.llmb_disagg;
    check_phase(app.cfg.role, phase)?;
    let n = app.metrics.request_received();
    let served = app.served.fetch_add(1, Relaxed);
    let mut job = Job {
        n: served,
        endpoint,
        arrival,
        prompt_tokens,
        output_tokens: generate::output_length(&app.cfg, served, &sampling, max_tokens),
        stream: sampling.streams(),
        include_usage: sampling.include_usage(),
        interval: sampling
            .stream_interval
            .unwrap_or(app.cfg.stream_interval)
            .max(1),
        fault: app.cfg.faults.pick(n),
        phase,
    };
    if phase == Some(DisaggPhase::Prefill) {
        // Prefill, then answer with the first token in one body (whatever the request said).
        job.output_tokens = 1;
        job.stream = false;
        job.include_usage = false;
    }
    generate::respond(app, job)
}

/// Refuses a phase this engine's role does not serve: a miswired frontend fails loudly
/// instead of silently doing the other half's work.
#[allow(clippy::result_large_err)] // the error is the HTTP answer, built once per request
fn check_phase(role: WorkerRole, phase: Option<DisaggPhase>) -> Result<(), Response<SimBody>> {
    if matches!(
        (role, phase),
        (_, None)
            | (WorkerRole::Prefill, Some(DisaggPhase::Prefill))
            | (WorkerRole::Decode, Some(DisaggPhase::Decode { .. }))
    ) {
        return Ok(());
    }
    let phase = phase.map_or("", DisaggPhase::as_str);
    Err(error(
        StatusCode::BAD_REQUEST,
        &format!(
            "this engine runs --role {} and does not serve {phase}-phase requests \
             (llmb_disagg); send them to a --role {phase} worker",
            role.as_str()
        ),
    ))
}

/// The whole request body, refused over 64 MiB.
#[allow(clippy::result_large_err)] // the error is the HTTP answer, built once per request
pub async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<SimBody>> {
    let collected = req.into_body().collect().await.map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("could not read the request body: {e}"),
        )
    })?;
    let b = collected.to_bytes();
    if b.len() > MAX_BODY {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body over 64 MiB",
        ));
    }
    Ok(b)
}

#[allow(clippy::result_large_err)] // the error is the HTTP answer, built once per request
fn parse<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, Response<SimBody>> {
    serde_json::from_slice(raw).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("invalid request body: {e}"),
        )
    })
}

/// A JSON response.
pub fn json(status: StatusCode, body: Vec<u8>) -> Response<SimBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(SimBody::full(body))
        .expect("static response")
}

/// An OpenAI-style error response.
pub fn error(status: StatusCode, message: &str) -> Response<SimBody> {
    let kind = match status.as_u16() {
        400 | 413 => "invalid_request_error",
        404 => "not_found_error",
        405 => "method_not_allowed",
        429 => "rate_limit_error",
        _ => "server_error",
    };
    let body =
        serde_json::json!({"error": {"message": message, "type": kind, "code": status.as_u16()}});
    json(status, body.to_string().into_bytes())
}
