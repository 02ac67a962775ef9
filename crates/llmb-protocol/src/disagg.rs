//! The marker a disaggregated frontend puts on the requests it sends to its workers
//! (`"llmb_disagg": {"phase": ...}`): llmb's own extension, read by the simulated engine.

use serde::{Deserialize, Serialize};

/// The name of the marker field in a request body.
pub const FIELD: &str = "llmb_disagg";

/// Which half of a disaggregated request a worker is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum DisaggPhase {
    /// Process the prompt and answer after the first token (`{"phase":"prefill"}`).
    Prefill,
    /// The prompt's KV cache is already here: generate the output without prefilling
    /// (`{"phase":"decode","prompt_tokens":N}`).
    Decode {
        /// The prompt length the prefill worker reported; the decode worker reports it as
        /// `usage.prompt_tokens`.
        prompt_tokens: u64,
    },
}

impl DisaggPhase {
    /// `prefill` or `decode`.
    pub fn as_str(self) -> &'static str {
        match self {
            DisaggPhase::Prefill => "prefill",
            DisaggPhase::Decode { .. } => "decode",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape() {
        assert_eq!(
            serde_json::to_string(&DisaggPhase::Prefill).unwrap(),
            r#"{"phase":"prefill"}"#
        );
        let d = DisaggPhase::Decode { prompt_tokens: 7 };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"phase":"decode","prompt_tokens":7}"#
        );
        let back: DisaggPhase =
            serde_json::from_str(r#"{"prompt_tokens":7,"phase":"decode"}"#).unwrap();
        assert_eq!(back, d);
        assert!(serde_json::from_str::<DisaggPhase>(r#"{"phase":"decode"}"#).is_err());
        assert!(serde_json::from_str::<DisaggPhase>(r#"{"phase":"both"}"#).is_err());
    }
}
