//! Workers and frontend together, in-process on port 0: what each phase returns, what a
//! miswired or failing worker gives the client.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use llmb_tokenizer::Tokenizer;
use serde_json::{json, Value};

use super::pool::Worker;
use super::{spawn_frontend, Deadlines, FrontendConfig, OUTPUT_TOKENS_HEADER};
use crate::sim::{self, FaultKind, FaultPlan, SimConfig, SimHandle, Timing, WorkerRole};
use llmb_engines::DisaggRole;

fn tokenizer() -> Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| Tokenizer::builtin().unwrap()).clone()
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn fixed(role: WorkerRole, ttft_ms: u64, itl_ms: u64) -> SimConfig {
    SimConfig {
        role,
        timing: Timing::Fixed {
            ttft: Duration::from_millis(ttft_ms),
            itl: Duration::from_millis(itl_ms),
        },
        ..SimConfig::default()
    }
}

async fn engine(cfg: SimConfig) -> SimHandle {
    sim::spawn(cfg, tokenizer(), any_port()).await.unwrap()
}

fn frontend(prefill: &[&SimHandle], decode: &[&SimHandle], deadlines: Deadlines) -> SimHandle {
    let urls = |hs: &[&SimHandle]| hs.iter().map(|h| h.base_url().parse().unwrap()).collect();
    let cfg = FrontendConfig {
        model: "llmb-sim".into(),
        prefill: urls(prefill),
        decode: urls(decode),
        deadlines,
    };
    spawn_frontend(cfg, any_port()).unwrap()
}

/// One request, read whole.
async fn call(
    h: &SimHandle,
    method: Method,
    path: &str,
    body: &Value,
) -> (StatusCode, HeaderMap, Bytes) {
    let w = Arc::new(Worker::new(
        DisaggRole::Decode,
        h.base_url().parse().unwrap(),
        Duration::from_secs(5),
    ));
    let body = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
    };
    let (resp, _conn) = w.send(method, path, body).await.unwrap();
    let (parts, mut b) = resp.into_parts();
    // What came before a broken end is kept: a failed stream says why in its last event.
    let mut bytes = Vec::new();
    while let Some(Ok(frame)) = b.frame().await {
        bytes.extend_from_slice(frame.data_ref().map_or(&[][..], |d| &d[..]));
    }
    (parts.status, parts.headers, Bytes::from(bytes))
}

async fn post(h: &SimHandle, body: Value) -> (StatusCode, HeaderMap, Bytes) {
    call(h, Method::POST, "/v1/completions", &body).await
}

fn as_json(b: &Bytes) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

/// A counter or gauge of the engine's `/metrics`.
async fn metric(h: &SimHandle, name: &str) -> f64 {
    let (_, _, text) = call(h, Method::GET, "/metrics", &Value::Null).await;
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
}

#[tokio::test]
async fn prefill_phase_answers_one_token_whatever_was_asked() {
    let p = engine(fixed(WorkerRole::Prefill, 1, 1)).await;
    let (status, _, body) = post(
        &p,
        json!({"prompt": "one two three", "max_tokens": 50, "stream": true,
               "llmb_disagg": {"phase": "prefill"}}),
    )
    .await;
    assert_eq!(status, 200);
    let v = as_json(&body);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(v["usage"]["completion_tokens"], 1);
    assert_eq!(metric(&p, "llmb:prompt_tokens_total").await, 3.0);
    // Unmarked, a prefill worker serves the whole request.
    let (_, _, body) = post(
        &p,
        json!({"prompt": "a b", "max_tokens": 4, "ignore_eos": true}),
    )
    .await;
    assert_eq!(as_json(&body)["usage"]["completion_tokens"], 4);
    p.stop().await;
}

#[tokio::test]
async fn decode_phase_skips_prefill_and_reports_the_marked_prompt() {
    for timing in [
        Timing::Fixed {
            ttft: Duration::from_secs(30),
            itl: Duration::from_millis(1),
        },
        Timing::Batched(sim::SchedulerConfig::default()),
    ] {
        let d = engine(SimConfig {
            role: WorkerRole::Decode,
            timing,
            ..SimConfig::default()
        })
        .await;
        let (status, headers, body) = post(
            &d,
            json!({"prompt": "one two three", "max_tokens": 6, "ignore_eos": true,
                   "llmb_disagg": {"phase": "decode", "prompt_tokens": 1000}}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(headers[OUTPUT_TOKENS_HEADER], "6");
        let v = as_json(&body);
        assert_eq!(v["usage"]["prompt_tokens"], 1000);
        assert_eq!(v["usage"]["completion_tokens"], 6);
        // The prompt was never processed here (with fixed timing the 30 s TTFT was skipped).
        assert_eq!(metric(&d, "llmb:prompt_tokens_total").await, 0.0);
        assert_eq!(metric(&d, "llmb:generation_tokens_total").await, 6.0);
        d.stop().await;
    }
}

#[tokio::test]
async fn a_phase_sent_to_the_wrong_role_is_refused() {
    let agg = engine(fixed(WorkerRole::Aggregated, 1, 1)).await;
    let dec = engine(fixed(WorkerRole::Decode, 1, 1)).await;
    let (status, _, body) = post(
        &agg,
        json!({"prompt": "x", "llmb_disagg": {"phase": "decode", "prompt_tokens": 1}}),
    )
    .await;
    assert_eq!(status, 400);
    let msg = as_json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("--role aggregated") && msg.contains("--role decode"),
        "{msg}"
    );
    let (status, _, body) = post(
        &dec,
        json!({"prompt": "x", "llmb_disagg": {"phase": "prefill"}}),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    agg.stop().await;
    dec.stop().await;
}

#[tokio::test]
async fn a_failing_prefill_worker_is_named_in_a_502() {
    let p = engine(SimConfig {
        faults: FaultPlan {
            rate: 1.0,
            kinds: vec![FaultKind::Http500],
            seed: 1,
        },
        ..fixed(WorkerRole::Prefill, 1, 1)
    })
    .await;
    let d = engine(fixed(WorkerRole::Decode, 1, 1)).await;
    let fe = frontend(&[&p], &[&d], Deadlines::default());
    let (status, _, body) = post(&fe, json!({"prompt": "x", "max_tokens": 2})).await;
    assert_eq!(status, 502);
    let e = &as_json(&body)["error"];
    assert_eq!(e["worker"], p.base_url());
    assert_eq!(e["role"], "prefill");
    assert!(e["message"].as_str().unwrap().contains("HTTP 500"), "{e}");
    // A request the worker finds wrong is the client's fault: its 4xx comes back as is.
    let (status, _, body) = post(&fe, json!({"prompt": ["x", "y"]})).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("batched prompts"));
    let (status, _, _) = post(&fe, json!({"prompt": "x", "model": "other"})).await;
    assert_eq!(status, 404);
    assert_eq!(metric(&d, "llmb:request_received_total").await, 0.0);
    fe.stop().await;
}

#[tokio::test]
async fn a_stalled_decode_stream_ends_with_an_error_event() {
    let p = engine(fixed(WorkerRole::Prefill, 1, 1)).await;
    let d = engine(SimConfig {
        faults: FaultPlan {
            rate: 1.0,
            kinds: vec![FaultKind::Stall],
            seed: 1,
        },
        ..fixed(WorkerRole::Decode, 1, 1)
    })
    .await;
    let deadlines = Deadlines {
        stream_idle: Duration::from_millis(200),
        ..Deadlines::default()
    };
    let fe = frontend(&[&p], &[&d], deadlines);
    let (status, _, body) = post(
        &fe,
        json!({"prompt": "x", "max_tokens": 8, "ignore_eos": true, "stream": true}),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    // Half the tokens came, then the worker went silent; the stream ends without [DONE].
    assert!(text.contains("\"finish_reason\":null"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    let e = as_json(&Bytes::from(
        last.strip_prefix("data: ").unwrap().to_owned(),
    ));
    assert_eq!(e["error"]["worker"], d.base_url(), "{text}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sent nothing for 200ms"),
        "{e}"
    );
    assert_eq!(metric(&fe, "dynamo_frontend_inflight_requests").await, 0.0);
    fe.stop().await;
}
