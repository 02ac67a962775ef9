//! Typed warnings about a run's data, each saying what to change.

use std::fmt;

use crate::record::RequestRecord;
use crate::summary::Summary;

/// Something the user should know before trusting the numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// The server claimed more output tokens than it streamed text for.
    ImplausibleUsage {
        /// Requests affected.
        requests: u64,
        /// The largest claim.
        largest: u64,
    },
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
            Warning::ImplausibleUsage { requests, largest } => write!(
                f,
                "the server claimed more completion tokens than it streamed text for on {requests} requests \
                 (up to {largest}): those counts were set aside and tokens counted over the chunks; the server's usage is wrong"
            ),
        }
    }
}

/// Every warning a finished run's records call for, in the order they are printed.
pub fn collect(s: &Summary, records: &[RequestRecord], interrupted: bool) -> Vec<Warning> {
    let mut w = Vec::new();
    let done: Vec<_> = records
        .iter()
        .filter(|r| !r.warmup && r.is_completed())
        .collect();
    if s.input_mismatches > 0 {
        let diffs: std::collections::BTreeSet<i64> = done
            .iter()
            .filter_map(|r| {
                r.usage
                    .prompt_tokens
                    .map(|p| p as i64 - r.input_tokens as i64)
            })
            .filter(|d| *d != 0)
            .collect();
        let constant_offset = (diffs.len() == 1 && s.input_mismatches == s.completed)
            .then(|| *diffs.iter().next().unwrap_or(&0));
        w.push(Warning::InputLengthMismatch {
            mismatched: s.input_mismatches,
            completed: s.completed,
            constant_offset,
        });
    }
    if s.output_mismatches > 0 {
        let worst = done
            .iter()
            .filter(|r| {
                r.requested_output_tokens
                    .is_some_and(|q| q != r.output_tokens())
            })
            .min_by_key(|r| r.output_tokens());
        if let Some(r) = worst {
            w.push(Warning::OutputLengthMismatch {
                mismatched: s.output_mismatches,
                completed: s.completed,
                shortest: r.output_tokens(),
                requested: r.requested_output_tokens.unwrap_or(0),
            });
        }
    }
    let implausible: Vec<u64> = records
        .iter()
        .filter(|r| !r.warmup)
        .filter_map(|r| r.usage.implausible_completion_tokens)
        .collect();
    if let Some(&largest) = implausible.iter().max() {
        w.push(Warning::ImplausibleUsage {
            requests: implausible.len() as u64,
            largest,
        });
    }
    let no_usage = done
        .iter()
        .filter(|r| r.usage.completion_tokens.is_none())
        .filter(|r| r.usage.implausible_completion_tokens.is_none())
        .count() as u64;
    if no_usage > 0 {
        w.push(Warning::NoUsageReported { requests: no_usage });
    }
    if s.failed() > 0 {
        w.push(Warning::RequestsFailed {
            failed: s.failed(),
            total: s.requests,
        });
    }
    if interrupted {
        w.push(Warning::Interrupted);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Outcome, ServerUsage};

    fn record(
        id: u64,
        input: u64,
        prompt: Option<u64>,
        asked: Option<u64>,
        got: Option<u64>,
    ) -> RequestRecord {
        RequestRecord {
            id,
            prompt_index: id,
            worker: 0,
            warmup: false,
            scheduled_ns: 0,
            slot_ns: 0,
            sent_ns: 0,
            first_token_ns: Some(1_000),
            end_ns: 2_000,
            input_tokens: input,
            requested_output_tokens: asked,
            usage: ServerUsage {
                implausible_completion_tokens: None,
                prompt_tokens: prompt,
                completion_tokens: got,
            },
            connect_ns: None,
            chunks: Vec::new(),
            outcome: Outcome::Completed,
        }
    }

    #[test]
    fn warnings_from_records_worked_by_hand() {
        // Three completed requests of 10 prompt tokens: the server counted 11 on every one
        // (a constant +1, a BOS token); outputs asked 8: got 8, 5 and none reported.
        let recs = vec![
            record(0, 10, Some(11), Some(8), Some(8)),
            record(1, 10, Some(11), Some(8), Some(5)),
            record(2, 10, Some(11), Some(8), None),
        ];
        let s = Summary::from_records(&recs, None);
        let w = collect(&s, &recs, true);
        assert_eq!(
            w[0],
            Warning::InputLengthMismatch {
                mismatched: 3,
                completed: 3,
                constant_offset: Some(1)
            }
        );
        // Request 2 reported no usage: its output is counted over chunks (none: 0 tokens),
        // so two of three missed 8, the shortest being 0.
        assert_eq!(
            w[1],
            Warning::OutputLengthMismatch {
                mismatched: 2,
                completed: 3,
                shortest: 0,
                requested: 8
            }
        );
        assert_eq!(w[2], Warning::NoUsageReported { requests: 1 });
        assert_eq!(w[3], Warning::Interrupted);
        assert_eq!(w.len(), 4, "{w:?}");
        // Offsets that differ are not called constant.
        let recs = vec![
            record(0, 10, Some(11), None, Some(1)),
            record(1, 10, Some(12), None, Some(1)),
        ];
        let s = Summary::from_records(&recs, None);
        assert_eq!(
            collect(&s, &recs, false),
            vec![Warning::InputLengthMismatch {
                mismatched: 2,
                completed: 2,
                constant_offset: None
            }]
        );
    }

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
