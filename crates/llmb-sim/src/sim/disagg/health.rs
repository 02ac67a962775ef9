//! The frontend's `GET /health`: every worker's own `/health`, asked at once, summed up in
//! a Dynamo-like body. Healthy (200, `"status":"healthy"`, the Dynamo endpoint names) only
//! when every worker answered 200; otherwise 503 with the workers that are not ready.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::pool::{UpstreamError, Worker};
use llmb_engines::DisaggRole;

/// The endpoint Dynamo lists for a role's workers (reference 4.4: the readiness check
/// looks for `dyn://dynamo.tensorrt_llm.generate` and `tensorrt_llm_next`).
pub fn endpoint(role: DisaggRole) -> &'static str {
    match role {
        DisaggRole::Decode => "dyn://dynamo.tensorrt_llm.generate",
        DisaggRole::Prefill => "dyn://dynamo.tensorrt_llm_next.generate",
    }
}

/// One worker's answer: `Ok` when it said 200.
pub type Probe = Result<(), String>;

/// Asks one worker's `/health`.
pub async fn probe(worker: Arc<Worker>, deadline: Duration) -> Probe {
    let ask = async {
        let (resp, conn) = worker
            .send(Method::GET, "/health", bytes::Bytes::new())
            .await?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| UpstreamError::Transport(llmb_protocol::error_chain(&e)))?
            .to_bytes();
        conn.release();
        if status.is_success() {
            Ok(())
        } else {
            Err(UpstreamError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            })
        }
    };
    match tokio::time::timeout(deadline, ask).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(UpstreamError::Timeout(deadline).to_string()),
    }
}

/// The answer: (healthy, body). `workers` and `probes` are in the same order.
pub fn summary(workers: &[Arc<Worker>], probes: &[Probe]) -> (bool, Value) {
    let healthy = probes.iter().all(Result::is_ok);
    let instances: Vec<Value> = workers
        .iter()
        .zip(probes)
        .enumerate()
        .map(|(i, (w, p))| {
            let mut v = json!({
                "role": w.role().as_str(),
                "url": w.url().as_str(),
                "healthy": p.is_ok(),
            });
            match p {
                // Dynamo lists one `instance_id` per registered worker.
                Ok(()) => {
                    v["endpoint"] = endpoint(w.role()).into();
                    v["instance_id"] = i.into();
                }
                Err(why) => v["error"] = why.as_str().into(),
            }
            v
        })
        .collect();
    let mut endpoints: Vec<&str> = Vec::new();
    if healthy {
        for w in workers {
            let e = endpoint(w.role());
            if !endpoints.contains(&e) {
                endpoints.push(e);
            }
        }
    }
    let status = if healthy { "healthy" } else { "unhealthy" };
    (
        healthy,
        json!({"status": status, "endpoints": endpoints, "instances": instances}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workers() -> Vec<Arc<Worker>> {
        [
            (DisaggRole::Prefill, "http://p:1"),
            (DisaggRole::Decode, "http://d:2"),
        ]
        .into_iter()
        .map(|(r, u)| Arc::new(Worker::new(r, u.parse().unwrap(), Duration::from_secs(1))))
        .collect()
    }

    #[test]
    fn healthy_only_when_every_worker_is() {
        let ws = workers();
        let (ok, body) = summary(&ws, &[Ok(()), Err("cannot connect: refused".into())]);
        assert!(!ok);
        assert_eq!(body["status"], "unhealthy");
        assert_eq!(body["endpoints"], json!([]));
        assert_eq!(body["instances"][1]["healthy"], false);
        assert_eq!(body["instances"][1]["url"], "http://d:2");
        assert_eq!(body["instances"][1]["error"], "cannot connect: refused");
        assert_eq!(body["instances"][0]["instance_id"], 0);
        let (ok, body) = summary(&ws, &[Ok(()), Ok(())]);
        assert!(ok);
        assert_eq!(
            body["endpoints"],
            json!([
                "dyn://dynamo.tensorrt_llm_next.generate",
                "dyn://dynamo.tensorrt_llm.generate"
            ])
        );
        assert_eq!(body["instances"][1]["role"], "decode");
    }
}
