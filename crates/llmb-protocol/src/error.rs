//! Errors from decoding what a server sent: which part of the stream was wrong; and how any
//! error is told with its causes.

/// A chunk or body that does not follow the OpenAI wire format.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The `data:` payload of an SSE event was not valid JSON for a completion chunk.
    #[error("malformed stream chunk ({source}): {snippet}")]
    MalformedChunk {
        /// The JSON error.
        #[source]
        source: serde_json::Error,
        /// The first bytes of the payload, for the error message.
        snippet: String,
    },
    /// The server put an `error` object in the stream.
    #[error("server reported an error in the stream: {0}")]
    ServerError(String),
}

impl ProtocolError {
    /// Builds a [`ProtocolError::MalformedChunk`] keeping at most 120 bytes of the payload.
    pub fn malformed(source: serde_json::Error, payload: &[u8]) -> Self {
        let end = payload.len().min(120);
        ProtocolError::MalformedChunk {
            source,
            snippet: String::from_utf8_lossy(&payload[..end]).into_owned(),
        }
    }
}

/// An error and its sources, joined with `: `; a source whose message the text already holds
/// (hyper repeats its cause) is not repeated.
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
