//! Load beyond one process (`llmb bench --workers K`): what the parent hands each worker
//! (a typed spec and the prepared requests, as files), what each worker reports back, and
//! the exact merge of their results into one run.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use llmb_metrics::{Distribution, RequestRecord, RunWindow};
use llmb_protocol::Endpoint;
use serde::{Deserialize, Serialize};

use crate::dataset::PreparedRequest;
use crate::driver::LoadResult;
use crate::plan::{Concurrency, Shard};
use crate::schedule::Arrival;
use crate::verdict::ClientStats;

/// Everything one worker needs besides secrets (API keys and headers travel in its
/// environment, never in this file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// This worker's share.
    pub shard: Shard,
    /// Server base URL.
    pub base_url: String,
    /// Route.
    pub endpoint: Endpoint,
    /// Streamed responses.
    pub stream: bool,
    /// Per-request timeout, seconds.
    pub timeout_s: f64,
    /// Idle timeout of a started stream, seconds.
    pub idle_timeout_s: f64,
    /// Skip TLS certificate verification (`--insecure`).
    #[serde(default)]
    pub insecure: bool,
    /// The prepared requests (written by [`write_requests`]).
    pub requests_file: PathBuf,
    /// Where this worker appends its records.
    pub records_file: PathBuf,
    /// Tokenizer for chunk token counts (built-in when absent).
    pub tokenizer: Option<PathBuf>,
    /// Measured requests of the whole run (every worker walks the same ids).
    pub count: Option<u64>,
    /// Warm-up requests of the whole run.
    pub warmup: u64,
    /// This worker's concurrency limit.
    pub concurrency: Concurrency,
    /// Arrival process of the whole run.
    pub arrival: Arrival,
    /// Issue requests for this long (seconds).
    pub duration_s: Option<f64>,
    /// Grace after Ctrl-C (seconds).
    pub grace_s: f64,
    /// Arrival seed of the whole run.
    pub seed: u64,
    /// When to give up.
    #[serde(default)]
    pub stop: crate::breaker::StopPolicy,
}

/// What a worker prints when it is done (one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Which worker.
    pub index: u32,
    /// CPU seconds of its measured phase.
    pub cpu_s: f64,
    /// Wall seconds of its measured phase.
    pub wall_s: f64,
    /// Its runtime threads.
    pub threads: usize,
    /// Its timer lateness samples (ms).
    pub loop_lag_ms: Vec<f64>,
    /// Its measured window, from the shared origin.
    pub window: RunWindow,
    /// Stopped before its end.
    pub interrupted: bool,
    /// Why it stopped by itself.
    #[serde(default)]
    pub stopped: Option<crate::breaker::StopReason>,
    /// Where it ran (Slurm's node name, else the host name).
    #[serde(default)]
    pub node: Option<String>,
}

impl WorkerReport {
    /// From a worker's own result.
    pub fn from_result(index: u32, r: &LoadResult, node: Option<String>) -> WorkerReport {
        WorkerReport {
            node,
            index,
            cpu_s: r.client.cpu_s,
            wall_s: r.client.wall_s,
            threads: r.client.threads,
            loop_lag_ms: r.client.loop_lag_ms.values().to_vec(),
            window: r.window,
            interrupted: r.interrupted,
            stopped: r.stopped.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RequestLine {
    prompt_index: u64,
    input_tokens: u64,
    output_tokens: Option<u64>,
    body: String,
}

/// Writes prepared requests as JSON lines (bodies as strings).
pub fn write_requests(path: &Path, requests: &[PreparedRequest]) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    for r in requests {
        let line = RequestLine {
            prompt_index: r.prompt_index,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        };
        serde_json::to_writer(&mut w, &line)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Reads what [`write_requests`] wrote.
pub fn read_requests(path: &Path) -> std::io::Result<Vec<PreparedRequest>> {
    let f = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut out = Vec::new();
    for (i, line) in f.lines().enumerate() {
        let l: RequestLine = serde_json::from_str(&line?)
            .map_err(|e| std::io::Error::other(format!("{}:{}: {e}", path.display(), i + 1)))?;
        out.push(PreparedRequest {
            body: Bytes::from(l.body),
            input_tokens: l.input_tokens,
            output_tokens: l.output_tokens,
            prompt_index: l.prompt_index,
        });
    }
    Ok(out)
}

/// Reads one worker's records file.
pub fn read_records(path: &Path) -> std::io::Result<Vec<RequestRecord>> {
    let f = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut out = Vec::new();
    for (i, line) in f.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .map_err(|e| std::io::Error::other(format!("{}:{}: {e}", path.display(), i + 1)))?,
        );
    }
    Ok(out)
}

/// Merges the workers' results into one run: records concatenated (ordered by request
/// id), the window spanning all of them, CPU summed, timer samples pooled. Metrics are
/// then computed from the merged records exactly as for one process.
pub fn merge(reports: &[WorkerReport], records: Vec<Vec<RequestRecord>>) -> LoadResult {
    let mut all: Vec<RequestRecord> = records.into_iter().flatten().collect();
    all.sort_by_key(|r| r.id);
    let start_ns = reports.iter().map(|r| r.window.start_ns).min().unwrap_or(0);
    let end_ns = reports
        .iter()
        .map(|r| r.window.end_ns)
        .max()
        .unwrap_or(start_ns);
    LoadResult {
        records: all,
        window: RunWindow { start_ns, end_ns },
        interrupted: reports.iter().any(|r| r.interrupted),
        stopped: reports.iter().find_map(|r| r.stopped.clone()),
        client: ClientStats {
            cpu_s: reports.iter().map(|r| r.cpu_s).sum(),
            wall_s: reports.iter().map(|r| r.wall_s).fold(0.0, f64::max),
            threads: reports.iter().map(|r| r.threads).sum(),
            loop_lag_ms: Distribution::new(
                reports
                    .iter()
                    .flat_map(|r| r.loop_lag_ms.iter().copied())
                    .collect(),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(index: u32, start: u64, end: u64, cpu: f64) -> WorkerReport {
        WorkerReport {
            index,
            cpu_s: cpu,
            wall_s: cpu * 2.0,
            threads: 2,
            loop_lag_ms: vec![f64::from(index)],
            window: RunWindow {
                start_ns: start,
                end_ns: end,
            },
            interrupted: false,
            stopped: None,
            node: None,
        }
    }

    fn rec(id: u64) -> RequestRecord {
        RequestRecord {
            id,
            prompt_index: id,
            worker: (id % 2) as u32,
            warmup: false,
            scheduled_ns: 0,
            slot_ns: 0,
            sent_ns: 0,
            first_token_ns: None,
            end_ns: 1,
            input_tokens: 1,
            requested_output_tokens: None,
            usage: Default::default(),
            connect_ns: None,
            chunks: vec![],
            outcome: llmb_metrics::Outcome::Completed,
        }
    }

    #[test]
    fn merge_orders_records_and_combines_stats() {
        let m = merge(
            &[report(0, 10, 90, 1.5), report(1, 5, 100, 0.5)],
            vec![vec![rec(0), rec(2), rec(4)], vec![rec(1), rec(3)]],
        );
        let ids: Vec<u64> = m.records.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
        assert_eq!((m.window.start_ns, m.window.end_ns), (5, 100));
        assert_eq!(
            (m.client.cpu_s, m.client.wall_s, m.client.threads),
            (2.0, 3.0, 4)
        );
        assert_eq!(m.client.loop_lag_ms.len(), 2);
    }

    #[test]
    fn requests_round_trip_through_the_file() {
        let dir = std::env::temp_dir().join(format!("llmb-worker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("requests.jsonl");
        let reqs = vec![PreparedRequest {
            body: Bytes::from_static(b"{\"prompt\":\"a \\\"b\\\"\\n\"}"),
            input_tokens: 3,
            output_tokens: Some(7),
            prompt_index: 5,
        }];
        write_requests(&p, &reqs).unwrap();
        let back = read_requests(&p).unwrap();
        assert_eq!(back[0].body, reqs[0].body);
        assert_eq!(
            (
                back[0].input_tokens,
                back[0].output_tokens,
                back[0].prompt_index
            ),
            (3, Some(7), 5)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
