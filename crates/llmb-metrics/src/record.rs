//! What one request produced: raw instants and counts, no derived metrics.
//!
//! All instants are nanoseconds since the run's origin (the instant the load generator
//! started its clock); chunk arrivals are offsets from the actual send.

use serde::{Deserialize, Serialize};

/// One streamed chunk as it arrived. In files it is a compact array
/// `[offset_ns, tokens, text_bytes, client_lag_ns|null]`: a record holds one per token,
/// so field names would triple the size of `records.jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ChunkRow", from = "ChunkRow")]
pub struct Chunk {
    /// Arrival, in ns after the request was sent (stamped when its bytes were read).
    pub offset_ns: u64,
    /// Generated tokens this chunk carried (see `tokens::assign_chunk_tokens`).
    pub tokens: u32,
    /// Bytes of generated text it carried.
    pub text_bytes: u32,
    /// Arrival minus the engine's own send stamp (ns), when the engine stamps chunks
    /// (the embedded engine does): the client's lag, measured exactly on one host. Built
    /// with [`Chunk::lag`]: a lag of 0 is kept as 1 ns, so that "none" costs no room and a
    /// chunk is 24 bytes (every finished request's chunks stay in memory until the end).
    pub client_lag_ns: Option<std::num::NonZeroU64>,
}

impl Chunk {
    /// The value of [`Chunk::client_lag_ns`] for a lag of `ns`.
    pub fn lag(ns: u64) -> Option<std::num::NonZeroU64> {
        std::num::NonZeroU64::new(ns.max(1))
    }
}

/// [`Chunk`] as written to files.
#[derive(Serialize, Deserialize)]
struct ChunkRow(u64, u32, u32, #[serde(default)] Option<u64>);

impl From<Chunk> for ChunkRow {
    fn from(c: Chunk) -> ChunkRow {
        ChunkRow(
            c.offset_ns,
            c.tokens,
            c.text_bytes,
            c.client_lag_ns.map(|l| l.get()),
        )
    }
}

impl From<ChunkRow> for Chunk {
    fn from(r: ChunkRow) -> Chunk {
        Chunk {
            offset_ns: r.0,
            tokens: r.1,
            text_bytes: r.2,
            client_lag_ns: r.3.and_then(Chunk::lag),
        }
    }
}

/// Token counts reported by the server in `usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerUsage {
    /// `usage.prompt_tokens`
    pub prompt_tokens: Option<u64>,
    /// `usage.completion_tokens`
    pub completion_tokens: Option<u64>,
    /// A `completion_tokens` the stream cannot have carried (more tokens than bytes of
    /// text and chunks), set aside rather than used: see `tokens::plausible_usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implausible_completion_tokens: Option<u64>,
}

/// How a request ended. Every request ends in exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The server finished the response.
    Completed,
    /// The server answered with a non-success HTTP status.
    HttpStatus {
        /// The status code.
        status: u16,
        /// The start of the response body (secrets the user gave are masked).
        body: String,
    },
    /// No complete response within the request's total timeout.
    Timeout,
    /// The server sent nothing for the idle timeout (a stalled stream).
    IdleTimeout {
        /// How long nothing came, ms.
        idle_ms: u64,
    },
    /// Could not connect, or the connection failed before a response started.
    ConnectionError {
        /// What the transport said.
        message: String,
    },
    /// The connection broke after the response started.
    Reset {
        /// What the transport said.
        message: String,
    },
    /// A chunk or body that is not valid JSON of a completion.
    MalformedChunk {
        /// What the parser said, with the start of the payload.
        message: String,
    },
    /// A streamed request answered with a body that is no event stream (an HTML error
    /// page from a proxy, say).
    NotSse {
        /// The response's `Content-Type` (empty when it sent none).
        content_type: String,
        /// The start of the body.
        body: String,
    },
    /// The response ran far past what was asked (chunks or bytes), so it was cut.
    Overlong {
        /// Which limit, and what was asked.
        message: String,
    },
    /// The stream ended early or carried the server's own error.
    StreamError {
        /// What went wrong.
        message: String,
    },
    /// Stopped by the user (Ctrl-C) or by the end of the run.
    Cancelled,
}

/// The closed set of outcome kinds, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// [`Outcome::Completed`]
    Completed,
    /// [`Outcome::HttpStatus`]
    HttpStatus,
    /// [`Outcome::Timeout`]
    Timeout,
    /// [`Outcome::IdleTimeout`]
    IdleTimeout,
    /// [`Outcome::ConnectionError`]
    ConnectionError,
    /// [`Outcome::Reset`]
    Reset,
    /// [`Outcome::MalformedChunk`]
    MalformedChunk,
    /// [`Outcome::NotSse`]
    NotSse,
    /// [`Outcome::Overlong`]
    Overlong,
    /// [`Outcome::StreamError`]
    StreamError,
    /// [`Outcome::Cancelled`]
    Cancelled,
}

impl Outcome {
    /// The kind, without details.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Completed => OutcomeKind::Completed,
            Outcome::HttpStatus { .. } => OutcomeKind::HttpStatus,
            Outcome::Timeout => OutcomeKind::Timeout,
            Outcome::IdleTimeout { .. } => OutcomeKind::IdleTimeout,
            Outcome::ConnectionError { .. } => OutcomeKind::ConnectionError,
            Outcome::Reset { .. } => OutcomeKind::Reset,
            Outcome::MalformedChunk { .. } => OutcomeKind::MalformedChunk,
            Outcome::NotSse { .. } => OutcomeKind::NotSse,
            Outcome::Overlong { .. } => OutcomeKind::Overlong,
            Outcome::StreamError { .. } => OutcomeKind::StreamError,
            Outcome::Cancelled => OutcomeKind::Cancelled,
        }
    }

    /// A short label for tables: `completed`, `http_503`, `timeout`, ...
    pub fn label(&self) -> String {
        match self {
            Outcome::HttpStatus { status, .. } => format!("http_{status}"),
            other => other.kind().as_str().to_owned(),
        }
    }
}

impl OutcomeKind {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Completed => "completed",
            OutcomeKind::HttpStatus => "http_status",
            OutcomeKind::Timeout => "timeout",
            OutcomeKind::IdleTimeout => "idle_timeout",
            OutcomeKind::ConnectionError => "connection_error",
            OutcomeKind::Reset => "reset",
            OutcomeKind::MalformedChunk => "malformed_chunk",
            OutcomeKind::NotSse => "not_sse",
            OutcomeKind::Overlong => "overlong",
            OutcomeKind::StreamError => "stream_error",
            OutcomeKind::Cancelled => "cancelled",
        }
    }
}

/// Everything one request produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Position in the run's request sequence (0-based, warm-up requests included).
    pub id: u64,
    /// Which prompt of the dataset was sent.
    pub prompt_index: u64,
    /// Which client process sent it (0 for a single-process run).
    #[serde(default)]
    pub worker: u32,
    /// A warm-up request: recorded but left out of every metric.
    #[serde(default)]
    pub warmup: bool,
    /// When the schedule meant to send it (ns since the run origin).
    pub scheduled_ns: u64,
    /// When a concurrency slot was free for it (ns); equals `scheduled_ns` without a limit.
    pub slot_ns: u64,
    /// When it was actually sent (ns).
    pub sent_ns: u64,
    /// Arrival of the first chunk carrying generated text (ns), if any.
    pub first_token_ns: Option<u64>,
    /// When the response ended, or the request failed (ns).
    pub end_ns: u64,
    /// Prompt length under the client's tokenizer.
    pub input_tokens: u64,
    /// Output length asked for (`max_tokens`), if any.
    pub requested_output_tokens: Option<u64>,
    /// What the server reported.
    pub usage: ServerUsage,
    /// Time spent opening a connection for it (waiting for a handshake slot and the TCP
    /// handshake), ns; absent when a pooled connection was reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ns: Option<u64>,
    /// Every chunk that carried generated text, in arrival order.
    pub chunks: Vec<Chunk>,
    /// How it ended.
    pub outcome: Outcome,
}

impl RequestRecord {
    /// Whether it completed.
    pub fn is_completed(&self) -> bool {
        self.outcome == Outcome::Completed
    }

    /// Output tokens: the server's `usage.completion_tokens`, else the sum over chunks.
    pub fn output_tokens(&self) -> u64 {
        self.usage
            .completion_tokens
            .unwrap_or_else(|| self.chunks.iter().map(|c| u64::from(c.tokens)).sum())
    }

    /// Absolute arrival (ns since origin) of every chunk.
    pub fn chunk_arrivals_ns(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks.iter().map(move |c| self.sent_ns + c.offset_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_compact_arrays_and_read_back() {
        let c = Chunk {
            offset_ns: 1500,
            tokens: 2,
            text_bytes: 9,
            client_lag_ns: Chunk::lag(70),
        };
        let s = serde_json::to_string(&[
            c,
            Chunk {
                client_lag_ns: None,
                ..c
            },
        ])
        .unwrap();
        assert_eq!(s, "[[1500,2,9,70],[1500,2,9,null]]");
        let back: Vec<Chunk> = serde_json::from_str(&s).unwrap();
        assert_eq!(back[0], c);
        assert_eq!(back[1].client_lag_ns, None);
        assert_eq!(std::mem::size_of::<Chunk>(), 24);
        assert_eq!(Chunk::lag(0).map(|l| l.get()), Some(1));
    }
}
