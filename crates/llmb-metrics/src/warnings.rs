//! Typed warnings about a run's data, each saying what to change.

use std::fmt;

/// Something the user should know before trusting the numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// The server counted other prompt lengths than the client generated.
    InputLengthMismatch {
        /// Completed requests affected.
        mismatched: u64,
        /// Completed requests.
        completed: u64,
        /// Server count minus client count, if the same for every affected request.
        constant_offset: Option<i64>,
    },
    /// Outputs were not the requested length.
    OutputLengthMismatch {
        /// Completed requests affected.
        mismatched: u64,
        /// Completed requests.
        completed: u64,
        /// Shortest output seen.
        shortest: u64,
        /// Requested length of that request.
        requested: u64,
    },
    /// The server sent no `usage`; token counts come from the client's tokenizer.
    NoUsageReported {
        /// Completed requests without usage.
        requests: u64,
    },
    /// Requests failed.
    RequestsFailed {
        /// Failed requests.
        failed: u64,
        /// Measured requests.
        total: u64,
    },
    /// The run was stopped before its end (Ctrl-C).
    Interrupted,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::InputLengthMismatch { mismatched, completed, constant_offset: Some(off) } => write!(
                f,
                "the server counted {off:+} prompt tokens against the client on {mismatched} of {completed} requests \
                 (a chat template or BOS token?); use --endpoint completions --prompt-token-ids for exact input lengths, \
                 or --tokenizer with the server's tokenizer"
            ),
            Warning::InputLengthMismatch { mismatched, completed, constant_offset: None } => write!(
                f,
                "the server saw other prompt lengths than the client generated on {mismatched} of {completed} requests; \
                 pass --tokenizer with the server model's tokenizer.json"
            ),
            Warning::OutputLengthMismatch { mismatched, completed, shortest, requested } => write!(
                f,
                "{mismatched} of {completed} outputs were not the requested length (shortest: {shortest} of {requested} tokens); \
                 the server ignored ignore_eos/min_tokens: try --server vllm|sglang|trtllm|nim|dynamo or --extra-body"
            ),
            Warning::NoUsageReported { requests } => write!(
                f,
                "the server sent no usage on {requests} requests: token counts come from the client's tokenizer \
                 (pass --tokenizer with the server model's tokenizer for exact counts)"
            ),
            Warning::RequestsFailed { failed, total } => {
                write!(f, "{failed} of {total} requests failed; their kinds are listed above and in records.jsonl")
            }
            Warning::Interrupted => write!(f, "the run was interrupted: results cover the requests that ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let w = Warning::InputLengthMismatch {
            mismatched: 3,
            completed: 4,
            constant_offset: Some(7),
        };
        assert!(w
            .to_string()
            .starts_with("the server counted +7 prompt tokens"));
        let w = Warning::OutputLengthMismatch {
            mismatched: 1,
            completed: 2,
            shortest: 5,
            requested: 64,
        };
        assert!(w.to_string().contains("shortest: 5 of 64"));
    }
}
