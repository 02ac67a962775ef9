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
use llmb_protocol::Endpoint;
use tokio::time::Instant;

use super::body::SimBody;
use super::generate::{self, Job};
use super::App;

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
        (&Method::GET, "/v1/models") => Ok(models(&app)),
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

fn models(app: &App) -> Response<SimBody> {
    let created = app
        .started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let body = serde_json::json!({
        "object": "list",
        "data": [{"id": app.cfg.model, "object": "model", "created": created, "owned_by": "llmb"}]
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
    let (model, sampling, prompt_tokens, max_tokens) = match endpoint {
        Endpoint::Chat => {
            let r: ChatRequest = parse(&raw)?;
            let tokens = r.texts().map(|t| app.tokenizer.count(t) as u64).sum();
            let max = r.max_tokens();
            (r.model, r.sampling, tokens, max)
        }
        Endpoint::Completions => {
            let r: CompletionRequest = parse(&raw)?;
            let tokens = match &r.prompt {
                Prompt::Text(t) => app.tokenizer.count(t) as u64,
                Prompt::Ids(ids) => ids.len() as u64,
                Prompt::Texts(v) if v.len() == 1 => app.tokenizer.count(&v[0]) as u64,
                Prompt::IdLists(v) if v.len() == 1 => v[0].len() as u64,
                _ => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        "batched prompts are not supported: send one prompt per request",
                    ))
                }
            };
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
    let n = app.metrics.request_received();
    let served = app.served.fetch_add(1, Relaxed);
    let job = Job {
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
    };
    generate::respond(app, job)
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<SimBody>> {
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
