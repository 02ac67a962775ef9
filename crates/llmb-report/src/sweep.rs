//! `sweep_summary.json`: one row per point of a sweep (several use cases or
//! concurrencies), rewritten after each point so an interrupted sweep keeps what it ran.
//! Written and read back through the same types.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Schema identifier of the document.
pub const SCHEMA: &str = "llmb.sweep/1";

/// One point's headline figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// The point's label (its folder's name).
    pub label: String,
    /// The point's folder.
    pub dir: String,
    /// Client concurrency (`-1` unbounded).
    pub concurrency: i64,
    /// Use case name, when the point has one.
    pub use_case: Option<String>,
    /// Nominal input tokens.
    pub isl: u64,
    /// Nominal output tokens.
    pub osl: u64,
    /// Completed requests.
    pub completed: u64,
    /// Failed requests.
    pub failed: u64,
    /// Output tokens/s over the span.
    pub output_tokens_per_s: Option<f64>,
    /// The same per GPU.
    pub output_tokens_per_s_per_gpu: Option<f64>,
    /// Mean per-user output tokens/s (`n / e2e`).
    pub user_tokens_per_s: Option<f64>,
    /// Mean TTFT.
    pub mean_ttft_ms: Option<f64>,
    /// Mean TPOT.
    pub mean_tpot_ms: Option<f64>,
}

/// The document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// [`SCHEMA`].
    pub schema: String,
    /// Points in the order they ran.
    pub points: Vec<SweepRow>,
}

impl SweepSummary {
    /// A document of `points`.
    pub fn new(points: Vec<SweepRow>) -> SweepSummary {
        SweepSummary {
            schema: SCHEMA.to_owned(),
            points,
        }
    }

    /// Writes it (pretty JSON) to `path`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(
            path,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )
    }

    /// Reads one back, refusing another schema.
    ///
    /// # Errors
    /// Unreadable, not JSON of this shape, or another schema; the path is named.
    pub fn read(path: &Path) -> Result<SweepSummary, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let s: SweepSummary = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a sweep summary ({e})", path.display()))?;
        if s.schema != SCHEMA {
            return Err(format!(
                "{}: schema {} (this llmb reads {SCHEMA})",
                path.display(),
                s.schema
            ));
        }
        Ok(s)
    }
}

/// `x` when it is a number (an empty distribution's mean is NaN: written as null).
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_read_back() {
        let row = SweepRow {
            label: "c1".into(),
            dir: "r/c1".into(),
            concurrency: 1,
            use_case: None,
            isl: 8,
            osl: 4,
            completed: 2,
            failed: 0,
            output_tokens_per_s: finite(10.0),
            output_tokens_per_s_per_gpu: finite(5.0),
            user_tokens_per_s: finite(f64::NAN),
            mean_ttft_ms: Some(1.5),
            mean_tpot_ms: None,
        };
        let dir = std::env::temp_dir().join(format!("llmb-sweep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("sweep_summary.json");
        let doc = SweepSummary::new(vec![row]);
        doc.write(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"user_tokens_per_s\": null"), "{text}");
        assert_eq!(SweepSummary::read(&p).unwrap(), doc);
        std::fs::write(&p, r#"{"schema": "llmb.sweep/9", "points": []}"#).unwrap();
        assert!(SweepSummary::read(&p).unwrap_err().contains("llmb.sweep/9"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
