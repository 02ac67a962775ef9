//! The predictable result-folder layout: every path a run writes, in one place.

use std::path::{Path, PathBuf};

/// Files of one load point.
#[derive(Debug, Clone)]
pub struct PointDir {
    /// The folder.
    pub dir: PathBuf,
}

impl PointDir {
    /// A point folder at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> PointDir {
        PointDir { dir: dir.into() }
    }
    /// Resolved settings.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    /// One line per request, appended as each ends.
    pub fn records(&self) -> PathBuf {
        self.dir.join("records.jsonl")
    }
    /// The engine's own metrics, scraped while the load ran (one line per scrape).
    pub fn server_metrics(&self) -> PathBuf {
        self.dir.join("server_metrics.jsonl")
    }
    /// llmb's summary.
    pub fn summary(&self) -> PathBuf {
        self.dir.join("summary.json")
    }
    /// trtllm-bench's report.
    pub fn overview(&self) -> PathBuf {
        self.dir.join("performance_overview.txt")
    }
    /// benchmark_serving's printed block.
    pub fn serving_txt(&self) -> PathBuf {
        self.dir.join("serving_result.txt")
    }
    /// benchmark_serving's JSON.
    pub fn serving_json(&self) -> PathBuf {
        self.dir.join("serving_result.json")
    }
    /// AIPerf's `profile_export_aiperf.json` (a `llmb profile` run).
    pub fn aiperf_json(&self) -> PathBuf {
        self.dir.join("profile_export_aiperf.json")
    }
    /// AIPerf's `profile_export_aiperf.csv`.
    pub fn aiperf_csv(&self) -> PathBuf {
        self.dir.join("profile_export_aiperf.csv")
    }
    /// AIPerf's per-request `profile_export.jsonl`.
    pub fn aiperf_jsonl(&self) -> PathBuf {
        self.dir.join("profile_export.jsonl")
    }
    /// `vllm bench serve`'s result JSON (a `llmb bench serve` run).
    pub fn vllm_json(&self) -> PathBuf {
        self.dir.join("vllm_result.json")
    }
    /// `vllm bench serve`'s printed block.
    pub fn vllm_txt(&self) -> PathBuf {
        self.dir.join("vllm_result.txt")
    }
    /// GenAI-Perf's JSON.
    pub fn genai_json(&self) -> PathBuf {
        self.dir.join("profile_export_genai_perf.json")
    }
    /// GenAI-Perf's CSV.
    pub fn genai_csv(&self) -> PathBuf {
        self.dir.join("profile_export_genai_perf.csv")
    }
    /// The Dynamo recipe's `perf_summary.txt` (disaggregated runs, `--decode-gpus`).
    pub fn perf_summary(&self) -> PathBuf {
        self.dir.join("perf_summary.txt")
    }
    /// `--workers` plumbing: the prepared requests, one spec and one records file per
    /// worker, and their reports.
    pub fn workers(&self) -> PathBuf {
        self.dir.join("workers")
    }
}

/// The table across the points of a sweep, in the sweep's top folder.
pub fn sweep_summary(top: &Path) -> PathBuf {
    top.join("sweep_summary.json")
}

/// `results/<YYYYmmdd-HHMMSS>-<label>` under `root`.
pub fn default_dir(root: &Path, stamp: &str, label: &str) -> PathBuf {
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    root.join(format!("{stamp}-{clean}"))
}

/// UTC `YYYYmmdd-HHMMSS` of a Unix time.
pub fn stamp(unix_s: u64) -> String {
    let [y, m, d, hh, mm, ss] = utc(unix_s);
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// Year, month, day, hour, minute, second (UTC) of a Unix time.
pub fn utc(unix_s: u64) -> [i64; 6] {
    let days = (unix_s / 86_400) as i64;
    let secs = (unix_s % 86_400) as i64;
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    [y, m, d, secs / 3600, secs / 60 % 60, secs % 60]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(stamp(0), "19700101-000000");
        assert_eq!(stamp(1_795_000_000), "20261118-110640");
        assert_eq!(stamp(951_782_400), "20000229-000000");
    }

    #[test]
    fn labels_are_sanitised() {
        assert_eq!(
            default_dir(Path::new("results"), "s", "chat 128/128"),
            PathBuf::from("results/s-chat_128_128")
        );
    }
}
