//! The closed set of job states llmb tracks, parsed from what `sacct` and `squeue` print.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a job is in its life, named as Slurm names it.
///
/// `PURGED` is llmb's own: the job is known locally but neither `sacct` nor `squeue` has a
/// record of it any more. `UNKNOWN` is any state text llmb does not recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Queued, waiting for resources.
    Pending,
    /// Allocated and running.
    Running,
    /// Finished, with processes or epilogs still being cleaned up.
    Completing,
    /// Every process exited with code 0.
    Completed,
    /// Ended with a non-zero exit code or another failure.
    Failed,
    /// Hit its time limit.
    Timeout,
    /// Cancelled by a user or an administrator (`CANCELLED by <uid>` in sacct).
    Cancelled,
    /// Killed for exceeding its memory limit.
    OutOfMemory,
    /// Ended because one of its nodes failed.
    NodeFail,
    /// Preempted by a higher-priority job.
    Preempted,
    /// Its nodes failed to boot.
    BootFail,
    /// Missed its `--deadline`.
    Deadline,
    /// Suspended by an administrator; it may resume.
    Suspended,
    /// Put back in the queue; it will run again.
    Requeued,
    /// Known to llmb but no longer known to Slurm (no sacct record, not in the queue).
    Purged,
    /// A state text llmb does not recognise.
    Unknown,
}

impl JobState {
    /// Every state, in declaration order.
    pub const ALL: [JobState; 16] = [
        JobState::Pending,
        JobState::Running,
        JobState::Completing,
        JobState::Completed,
        JobState::Failed,
        JobState::Timeout,
        JobState::Cancelled,
        JobState::OutOfMemory,
        JobState::NodeFail,
        JobState::Preempted,
        JobState::BootFail,
        JobState::Deadline,
        JobState::Suspended,
        JobState::Requeued,
        JobState::Purged,
        JobState::Unknown,
    ];

    /// The Slurm spelling, e.g. `OUT_OF_MEMORY`.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Running => "RUNNING",
            JobState::Completing => "COMPLETING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Timeout => "TIMEOUT",
            JobState::Cancelled => "CANCELLED",
            JobState::OutOfMemory => "OUT_OF_MEMORY",
            JobState::NodeFail => "NODE_FAIL",
            JobState::Preempted => "PREEMPTED",
            JobState::BootFail => "BOOT_FAIL",
            JobState::Deadline => "DEADLINE",
            JobState::Suspended => "SUSPENDED",
            JobState::Requeued => "REQUEUED",
            JobState::Purged => "PURGED",
            JobState::Unknown => "UNKNOWN",
        }
    }

    /// Parse a state as `sacct` or `squeue` prints it.
    ///
    /// Accepts the long names (`%T`), the short codes (`%t`: `PD`, `R`, `CG`, `CA`, …), the
    /// trailing `+` sacct adds when a column is truncated, and trailing words such as
    /// `CANCELLED by 0`. Anything else is [`JobState::Unknown`]; this never fails because a
    /// newer Slurm may add states.
    pub fn parse(text: &str) -> JobState {
        let word = text.split_whitespace().next().unwrap_or("");
        let word = word.trim_end_matches('+');
        match word.to_ascii_uppercase().as_str() {
            "PENDING" | "PD" => JobState::Pending,
            // Allocated while its nodes boot: not running yet.
            "CONFIGURING" | "CF" => JobState::Pending,
            "RUNNING" | "R" => JobState::Running,
            "COMPLETING" | "CG" | "STAGE_OUT" | "SO" | "SIGNALING" | "SI" => JobState::Completing,
            "COMPLETED" | "CD" => JobState::Completed,
            "FAILED" | "F" => JobState::Failed,
            "TIMEOUT" | "TO" => JobState::Timeout,
            "CANCELLED" | "CA" => JobState::Cancelled,
            "OUT_OF_MEMORY" | "OOM" => JobState::OutOfMemory,
            "NODE_FAIL" | "NF" => JobState::NodeFail,
            "PREEMPTED" | "PR" => JobState::Preempted,
            "BOOT_FAIL" | "BF" => JobState::BootFail,
            "DEADLINE" | "DL" => JobState::Deadline,
            "SUSPENDED" | "S" | "STOPPED" | "ST" => JobState::Suspended,
            "REQUEUED" | "RQ" | "REQUEUE_HOLD" | "RH" | "REQUEUE_FED" | "RF" => JobState::Requeued,
            "PURGED" => JobState::Purged,
            _ => JobState::Unknown,
        }
    }

    /// Whether the job will never change state again, so polling can stop.
    ///
    /// `PURGED` is terminal (there is nothing left to ask); `UNKNOWN` is not (a later poll
    /// may recognise it).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed
                | JobState::Failed
                | JobState::Timeout
                | JobState::Cancelled
                | JobState::OutOfMemory
                | JobState::NodeFail
                | JobState::Preempted
                | JobState::BootFail
                | JobState::Deadline
                | JobState::Purged
        )
    }

    /// Whether the job ended successfully.
    pub fn is_success(self) -> bool {
        self == JobState::Completed
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sacct_forms() {
        assert_eq!(JobState::parse("COMPLETED"), JobState::Completed);
        assert_eq!(JobState::parse("CANCELLED by 0"), JobState::Cancelled);
        assert_eq!(JobState::parse("CANCELLED+"), JobState::Cancelled);
        assert_eq!(JobState::parse("OUT_OF_MEMORY"), JobState::OutOfMemory);
        assert_eq!(JobState::parse("OUT_OF_ME+"), JobState::Unknown);
        assert_eq!(JobState::parse("NODE_FAIL"), JobState::NodeFail);
        assert_eq!(JobState::parse("  RUNNING \n"), JobState::Running);
        assert_eq!(JobState::parse("REQUEUED"), JobState::Requeued);
        assert_eq!(JobState::parse("BOOT_FAIL"), JobState::BootFail);
        assert_eq!(JobState::parse("DEADLINE"), JobState::Deadline);
        assert_eq!(JobState::parse(""), JobState::Unknown);
        assert_eq!(JobState::parse("RESIZING"), JobState::Unknown);
    }

    #[test]
    fn parses_squeue_short_codes() {
        assert_eq!(JobState::parse("PD"), JobState::Pending);
        assert_eq!(JobState::parse("R"), JobState::Running);
        assert_eq!(JobState::parse("CG"), JobState::Completing);
        assert_eq!(JobState::parse("OOM"), JobState::OutOfMemory);
    }

    #[test]
    fn display_round_trips_every_state() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(&s.to_string()), s);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{s}\""));
        }
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = JobState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .map(JobState::name)
            .collect();
        assert_eq!(
            terminal,
            [
                "COMPLETED",
                "FAILED",
                "TIMEOUT",
                "CANCELLED",
                "OUT_OF_MEMORY",
                "NODE_FAIL",
                "PREEMPTED",
                "BOOT_FAIL",
                "DEADLINE",
                "PURGED"
            ]
        );
    }
}
