//! Running Slurm's client commands (`sbatch`, `sacct`, `squeue`, `scancel`) and parsing what
//! they print.
//!
//! Every output format has a pure parser below, tested with literal Slurm 22.05 output; the
//! [`Slurm`] struct only builds argument lists, runs the program once and hands stdout to the
//! parser. Blocking `std::process` on purpose: callers on an async runtime use
//! `spawn_blocking`. A submission is never retried, so a job is never submitted twice.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use super::state::JobState;
use crate::time::UtcTime;

/// The columns llmb asks `sacct` for, in order; [`parse_sacct`] expects exactly these.
pub const SACCT_FORMAT: &str = "JobID,State,ExitCode,Elapsed,NodeList,Start,End";

/// A Slurm job id as `sbatch --parsable` returned it: the id and, on a multi-cluster setup,
/// the cluster it went to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct JobId {
    id: String,
    cluster: Option<String>,
}

impl JobId {
    /// The id as Slurm's commands take it (`123`, or `123_4` for an array task).
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The cluster named after `;` in `sbatch --parsable` output, if any.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl FromStr for JobId {
    type Err = SlurmError;

    /// Parse `123`, `123;cluster` or an array task `123_4`.
    fn from_str(s: &str) -> Result<JobId, SlurmError> {
        parse_sbatch_parsable(s)
    }
}

/// A job's or step's exit code as sacct prints it: `code:signal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExitCode {
    /// The exit status of the script (or of the first failing step).
    pub code: i32,
    /// The signal that ended it, 0 if none.
    pub signal: i32,
}

/// What `sacct` knows about a job's allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobDetails {
    /// The id as sacct printed it.
    pub job_id: String,
    /// The parsed state.
    pub state: JobState,
    /// The state text as sacct printed it (e.g. `CANCELLED by 0`).
    pub raw_state: String,
    /// `code:signal`; `None` if sacct printed something else.
    pub exit_code: Option<ExitCode>,
    /// Run time so far (or in all), whole seconds.
    pub elapsed_s: Option<u64>,
    /// Allocated nodes in Slurm's compressed form (`node[1-2]`); `None` while pending.
    pub node_list: Option<String>,
    /// When it started; `None` while pending.
    pub start: Option<UtcTime>,
    /// When it ended; `None` while it has not.
    pub end: Option<UtcTime>,
}

/// Why a Slurm command could not be run or its answer not understood.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// The program is not installed (or not in the configured directory).
    #[error(
        "{program} not found {location}; install Slurm's client tools or run with --launcher local"
    )]
    NotFound {
        /// `sbatch`, `sacct`, …
        program: &'static str,
        /// `on PATH` or `in <dir>`.
        location: String,
    },
    /// The program exists but could not be started.
    #[error("failed to run {program}")]
    Spawn {
        /// `sbatch`, `sacct`, …
        program: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The working directory given for a submission does not exist.
    #[error("failed to submit {script}: working directory {cwd} does not exist")]
    MissingCwd {
        /// The batch script.
        script: PathBuf,
        /// The missing directory.
        cwd: PathBuf,
    },
    /// The program ran and exited non-zero; `stderr` is Slurm's own message, verbatim.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// `sbatch`, `sacct`, …
        program: &'static str,
        /// The exit status, as the OS describes it.
        status: String,
        /// Slurm's message (trimmed stderr, or stdout if stderr was empty).
        stderr: String,
    },
    /// The program succeeded but printed something llmb does not understand.
    #[error("failed to understand {program} output {output:?}: {reason}")]
    UnexpectedOutput {
        /// `sbatch`, `sacct`, …
        program: &'static str,
        /// What it printed.
        output: String,
        /// What was expected, and what to do about it.
        reason: String,
    },
}

/// One batch submission: what `sbatch` runs, with which options, environment and directory.
#[derive(Debug, Clone, Default)]
pub struct SubmitRequest {
    /// The batch script.
    pub script: PathBuf,
    /// sbatch options placed before the script (`-J name`, `-N 2`, `--output=…`).
    pub sbatch_args: Vec<String>,
    /// Variables added to llmb's own environment for sbatch. sbatch's default `--export=ALL`
    /// passes the whole environment on to the job, and it reads `SBATCH_*` itself.
    pub env: BTreeMap<String, String>,
    /// Directory sbatch runs in, which becomes the job's working directory.
    pub cwd: PathBuf,
}

/// Runs Slurm's client commands, from `PATH` or from one directory.
#[derive(Debug, Clone, Default)]
pub struct Slurm {
    bin_dir: Option<PathBuf>,
}

impl Slurm {
    /// Use the Slurm commands found on `PATH`.
    pub fn new() -> Slurm {
        Slurm { bin_dir: None }
    }

    /// Use the Slurm commands in `dir` (e.g. `/opt/slurm/bin`, or fakes in tests).
    pub fn with_bin_dir(dir: impl Into<PathBuf>) -> Slurm {
        Slurm {
            bin_dir: Some(dir.into()),
        }
    }

    /// Submit a batch script with `sbatch --parsable` and return its job id.
    ///
    /// Runs sbatch exactly once: on any failure nothing is retried, so a job is never
    /// submitted twice.
    pub fn submit(&self, req: &SubmitRequest) -> Result<JobId, SlurmError> {
        if !req.cwd.is_dir() {
            return Err(SlurmError::MissingCwd {
                script: req.script.clone(),
                cwd: req.cwd.clone(),
            });
        }
        let mut args: Vec<OsString> = vec!["--parsable".into()];
        args.extend(req.sbatch_args.iter().map(OsString::from));
        args.push(req.script.clone().into_os_string());
        let mut cmd = self.command("sbatch");
        cmd.args(&args).envs(&req.env).current_dir(&req.cwd);
        let out = run("sbatch", cmd, self.location())?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        parse_sbatch_parsable(&stdout).map_err(|e| match e {
            SlurmError::UnexpectedOutput { output, reason, .. } => SlurmError::UnexpectedOutput {
                program: "sbatch",
                output,
                reason: format!(
                    "{reason}; sbatch exited 0, so a job may have been submitted: check squeue before submitting again"
                ),
            },
            other => other,
        })
    }

    /// The job's current state: `sacct` first; `squeue` when sacct has no record yet, when
    /// accounting is unavailable, or while sacct says the job is still live.
    ///
    /// sacct lags slurmctld (22.05 here: `PENDING` in sacct while squeue already says
    /// `RUNNING`), so for a live job the controller's answer wins when it has one, except
    /// that a terminal state is only reported once sacct has it too (until then:
    /// `COMPLETING`). So when this returns a terminal state, [`Slurm::status`] has the
    /// final exit code and end time. Where sacct fails (accounting disabled), squeue's
    /// answer is final.
    /// [`JobState::Purged`] when sacct answered and neither command knows the job;
    /// [`JobState::Unknown`] when sacct could not answer and squeue does not know the job.
    pub fn state(&self, job: &JobId) -> Result<JobState, SlurmError> {
        self.status(job).map(|(state, _)| state)
    }

    /// [`Slurm::state`], with sacct's record of the job when it had one (one sacct call).
    pub fn status(&self, job: &JobId) -> Result<(JobState, Option<JobDetails>), SlurmError> {
        let sacct = match self.sacct(job) {
            Ok(Some(details)) if details.state.is_terminal() => {
                return Ok((details.state, Some(details)))
            }
            Ok(found) => Ok(found),
            Err(e @ (SlurmError::NotFound { .. } | SlurmError::Failed { .. })) => Err(e),
            Err(e) => return Err(e),
        };
        let sacct_state = sacct.as_ref().map(|d| d.as_ref().map(|d| d.state));
        let squeue = match (self.squeue_state(job), &sacct_state) {
            (Ok(state), _) => state,
            // sacct already answered: a failing squeue does not hide that answer.
            (Err(_), Ok(Some(state))) => return Ok((*state, sacct.ok().flatten())),
            (Err(e), _) => return Err(e),
        };
        let state = match (squeue, sacct_state) {
            // Ended in the controller, not yet in accounting (sacct still says live, or has no
            // record yet: both observed on 22.05 for a job that ran for 0 s): report it as
            // still wrapping up, so a caller that polls until terminal then reads the final
            // sacct record. (A terminal sacct answer returned above.)
            (Some(ended), Ok(_)) if ended.is_terminal() => JobState::Completing,
            (Some(state), _) | (None, Ok(Some(state))) => state,
            (None, Ok(None)) => JobState::Purged,
            (None, Err(_)) => JobState::Unknown,
        };
        Ok((state, sacct.ok().flatten()))
    }

    /// Cancel the job with `scancel`.
    pub fn cancel(&self, job: &JobId) -> Result<(), SlurmError> {
        let mut cmd = self.command("scancel");
        cmd.args(cluster_args(job)).arg(job.as_str());
        run("scancel", cmd, self.location()).map(|_| ())
    }

    fn sacct(&self, job: &JobId) -> Result<Option<JobDetails>, SlurmError> {
        let mut cmd = self.command("sacct");
        cmd.args(sacct_args(job))
            // Start/End in UTC and in the ISO form parse_sacct expects, whatever the user set.
            .env("TZ", "UTC")
            .env("SLURM_TIME_FORMAT", "standard");
        let out = run("sacct", cmd, self.location())?;
        parse_sacct(&String::from_utf8_lossy(&out.stdout), job.as_str())
    }

    fn squeue_state(&self, job: &JobId) -> Result<Option<JobState>, SlurmError> {
        let mut cmd = self.command("squeue");
        cmd.args(squeue_args(job));
        match run("squeue", cmd, self.location()) {
            Ok(out) => Ok(parse_squeue_state(&String::from_utf8_lossy(&out.stdout))),
            // 22.05: "slurm_load_jobs error: Invalid job id specified", exit 1.
            Err(SlurmError::Failed { stderr, .. }) if stderr.contains("Invalid job id") => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn command(&self, program: &str) -> Command {
        let path = match &self.bin_dir {
            Some(dir) => dir.join(program),
            None => PathBuf::from(program),
        };
        let mut cmd = Command::new(path);
        cmd.stdin(Stdio::null());
        cmd
    }

    fn location(&self) -> String {
        match &self.bin_dir {
            Some(dir) => format!("in {}", dir.display()),
            None => "on PATH".to_string(),
        }
    }
}

fn run(program: &'static str, mut cmd: Command, location: String) -> Result<Output, SlurmError> {
    // "Text file busy": a script just written (a site's wrapper, or a test's fake) is
    // still open for writing in a process another thread forked an instant ago; that fd
    // closes at its exec. Try again a few times rather than fail the command.
    let mut busy = 0;
    let out = loop {
        match cmd.output() {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && busy < 20 => {
                busy += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => break other,
        }
    };
    let out = out.map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => SlurmError::NotFound { program, location },
        _ => SlurmError::Spawn { program, source },
    })?;
    if out.status.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let stderr = if stderr.is_empty() {
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    } else {
        stderr
    };
    Err(SlurmError::Failed {
        program,
        status: out.status.to_string(),
        stderr,
    })
}

fn cluster_args(job: &JobId) -> Vec<String> {
    job.cluster()
        .map(|c| vec![format!("--clusters={c}")])
        .unwrap_or_default()
}

/// The arguments llmb passes to `sacct` for one job (allocation line only, parsable, no header).
pub fn sacct_args(job: &JobId) -> Vec<String> {
    let mut args = vec![
        "-X".to_string(),
        "-n".to_string(),
        "-P".to_string(),
        "-j".to_string(),
        job.as_str().to_string(),
        format!("--format={SACCT_FORMAT}"),
    ];
    args.extend(cluster_args(job));
    args
}

/// The arguments llmb passes to `squeue` for one job's state (`-t all` so a job that just
/// ended but is still in slurmctld's memory is reported too).
pub fn squeue_args(job: &JobId) -> Vec<String> {
    let mut args = vec![
        "-h".to_string(),
        "-t".to_string(),
        "all".to_string(),
        "-j".to_string(),
        job.as_str().to_string(),
        "-o".to_string(),
        "%T".to_string(),
    ];
    args.extend(cluster_args(job));
    args
}

/// Parse `sbatch --parsable` stdout: `123`, or `123;cluster` on a multi-cluster setup.
pub fn parse_sbatch_parsable(stdout: &str) -> Result<JobId, SlurmError> {
    let unexpected = |reason: &str| SlurmError::UnexpectedOutput {
        program: "sbatch",
        output: stdout.to_string(),
        reason: reason.to_string(),
    };
    // sbatch may print warnings before the id on stdout; the id is the last non-empty line.
    let line = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .ok_or_else(|| unexpected("expected a job id, got nothing"))?;
    let (id, cluster) = match line.split_once(';') {
        Some((id, cluster)) => (id.trim(), Some(cluster.trim())),
        None => (line, None),
    };
    let valid_id = !id.is_empty()
        && id.starts_with(|c: char| c.is_ascii_digit())
        && id.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !valid_id {
        return Err(unexpected(
            "expected a numeric job id such as 123 or 123;cluster",
        ));
    }
    if cluster.is_some_and(str::is_empty) {
        return Err(unexpected("expected a cluster name after ';'"));
    }
    Ok(JobId {
        id: id.to_string(),
        cluster: cluster.map(str::to_string),
    })
}

/// Parse `sacct -n -P --format=`[`SACCT_FORMAT`] output and return the allocation line of
/// `job_id` (not its steps `ID.batch`, `ID.extern`, `ID.0`), or `None` if sacct has no record.
///
/// If several lines carry the id (a requeued job listed with `-D`), the last one wins.
pub fn parse_sacct(stdout: &str, job_id: &str) -> Result<Option<JobDetails>, SlurmError> {
    let mut found = None;
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('|').collect();
        // -P has no trailing '|'; -p has one. Accept both.
        let fields = match fields.as_slice() {
            [f @ .., ""] if f.len() == 7 => f,
            f => f,
        };
        let [id, state, exit, elapsed, nodes, start, end] = fields else {
            return Err(SlurmError::UnexpectedOutput {
                program: "sacct",
                output: stdout.to_string(),
                reason: format!("expected 7 '|'-separated columns ({SACCT_FORMAT}) per line"),
            });
        };
        if id.trim() != job_id {
            continue;
        }
        found = Some(JobDetails {
            job_id: id.trim().to_string(),
            state: JobState::parse(state),
            raw_state: state.trim().to_string(),
            exit_code: parse_exit_code(exit),
            elapsed_s: parse_elapsed(elapsed).map(|d| d.as_secs()),
            node_list: parse_node_list(nodes),
            start: parse_sacct_time(start),
            end: parse_sacct_time(end),
        });
    }
    Ok(found)
}

/// Parse `squeue -h -o %T` output: the first state line, or `None` if empty.
///
/// Skips the `CLUSTER: name` header squeue prints with `--clusters`.
pub fn parse_squeue_state(stdout: &str) -> Option<JobState> {
    stdout
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("CLUSTER:"))
        .map(JobState::parse)
}

/// Parse sacct's `ExitCode` column: `code:signal`, e.g. `3:0` or `0:15`.
pub fn parse_exit_code(text: &str) -> Option<ExitCode> {
    let (code, signal) = text.trim().split_once(':')?;
    Some(ExitCode {
        code: code.parse().ok()?,
        signal: signal.parse().ok()?,
    })
}

/// Parse sacct's `Elapsed` column: `[D-][HH:]MM:SS`, e.g. `00:01:05` or `1-02:03:04`.
pub fn parse_elapsed(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (days, clock) = match text.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let parts: Vec<u64> = clock
        .split(':')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    let (h, m, s) = match parts.as_slice() {
        [h, m, s] => (*h, *m, *s),
        [m, s] => (0, *m, *s),
        _ => return None,
    };
    Some(Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + s))
}

/// Parse sacct's `Start`/`End` columns (run with `TZ=UTC`): an ISO timestamp, or `None` for
/// `Unknown`/`None`. Epoch seconds (`SLURM_TIME_FORMAT=%s`) are accepted too.
pub fn parse_sacct_time(text: &str) -> Option<UtcTime> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().map(UtcTime::from_unix);
    }
    text.parse().ok()
}

fn parse_node_list(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && text != "None assigned" && text != "(null)").then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TempDir;
    use std::path::Path;

    // --- sbatch --------------------------------------------------------------------------

    #[test]
    fn sbatch_plain_id() {
        let id = parse_sbatch_parsable("123\n").unwrap();
        assert_eq!(id.as_str(), "123");
        assert_eq!(id.cluster(), None);
        assert_eq!(id.to_string(), "123");
    }

    #[test]
    fn sbatch_id_with_cluster() {
        let id = parse_sbatch_parsable("4567;lab-cluster\n").unwrap();
        assert_eq!(id.as_str(), "4567");
        assert_eq!(id.cluster(), Some("lab-cluster"));
    }

    #[test]
    fn sbatch_id_after_a_warning_line() {
        let out = "sbatch: WARNING: something harmless\n88\n";
        assert_eq!(parse_sbatch_parsable(out).unwrap().as_str(), "88");
    }

    #[test]
    fn sbatch_garbage_is_an_error_that_warns_about_resubmitting() {
        for bad in ["", "\n", "Submitted batch job 123", "abc", "12a", "123;"] {
            assert!(parse_sbatch_parsable(bad).is_err(), "{bad:?}");
        }
    }

    // --- sacct ---------------------------------------------------------------------------

    /// `sacct -n -P -j 123 --format=JobID,State,ExitCode,Elapsed,NodeList,Start,End` without
    /// `-X`, Slurm 22.05: the allocation line plus its steps.
    const SACCT_COMPLETED_WITH_STEPS: &str = "\
123|COMPLETED|0:0|00:00:01|node1|2025-06-02T09:14:07|2025-06-02T09:14:08
123.batch|COMPLETED|0:0|00:00:01|node1|2025-06-02T09:14:07|2025-06-02T09:14:08
123.extern|COMPLETED|0:0|00:00:01|node1|2025-06-02T09:14:07|2025-06-02T09:14:08
123.0|COMPLETED|0:0|00:00:00|node1|2025-06-02T09:14:07|2025-06-02T09:14:07
";

    #[test]
    fn sacct_takes_the_allocation_line() {
        let d = parse_sacct(SACCT_COMPLETED_WITH_STEPS, "123")
            .unwrap()
            .unwrap();
        assert_eq!(
            d,
            JobDetails {
                job_id: "123".into(),
                state: JobState::Completed,
                raw_state: "COMPLETED".into(),
                exit_code: Some(ExitCode { code: 0, signal: 0 }),
                elapsed_s: Some(1),
                node_list: Some("node1".into()),
                start: Some("2025-06-02T09:14:07Z".parse().unwrap()),
                end: Some("2025-06-02T09:14:08Z".parse().unwrap()),
            }
        );
    }

    #[test]
    fn sacct_cancelled_by_uid() {
        let out = "\
124|CANCELLED by 0|0:0|00:00:03|node2|2025-06-02T09:15:00|2025-06-02T09:15:03
124.batch|CANCELLED|0:15|00:00:04|node2|2025-06-02T09:15:00|2025-06-02T09:15:04
124.extern|COMPLETED|0:0|00:00:03|node2|2025-06-02T09:15:00|2025-06-02T09:15:03
";
        let d = parse_sacct(out, "124").unwrap().unwrap();
        assert_eq!(d.state, JobState::Cancelled);
        assert_eq!(d.raw_state, "CANCELLED by 0");
        assert_eq!(d.exit_code, Some(ExitCode { code: 0, signal: 0 }));
    }

    #[test]
    fn sacct_failed_exit_3() {
        let out = "125|FAILED|3:0|00:00:00|node1|2025-06-02T09:16:10|2025-06-02T09:16:10\n";
        let d = parse_sacct(out, "125").unwrap().unwrap();
        assert_eq!(d.state, JobState::Failed);
        assert_eq!(d.exit_code, Some(ExitCode { code: 3, signal: 0 }));
    }

    #[test]
    fn sacct_out_of_memory_and_node_fail() {
        let out = "\
126|OUT_OF_MEMORY|0:125|00:00:02|node3|2025-06-02T09:17:00|2025-06-02T09:17:02
126.batch|OUT_OF_MEMORY|0:125|00:00:02|node3|2025-06-02T09:17:00|2025-06-02T09:17:02
127|NODE_FAIL|0:0|1-02:03:04|node[4-5]|2025-06-01T07:00:00|2025-06-02T09:03:04
";
        let d = parse_sacct(out, "126").unwrap().unwrap();
        assert_eq!(d.state, JobState::OutOfMemory);
        assert_eq!(
            d.exit_code,
            Some(ExitCode {
                code: 0,
                signal: 125
            })
        );
        let d = parse_sacct(out, "127").unwrap().unwrap();
        assert_eq!(d.state, JobState::NodeFail);
        assert_eq!(d.elapsed_s, Some(93_784));
        assert_eq!(d.node_list.as_deref(), Some("node[4-5]"));
    }

    #[test]
    fn sacct_pending_and_running() {
        let out = "128|PENDING|0:0|00:00:00|None assigned|Unknown|Unknown\n";
        let d = parse_sacct(out, "128").unwrap().unwrap();
        assert_eq!(d.state, JobState::Pending);
        assert_eq!((d.node_list, d.start, d.end), (None, None, None));

        let out = "129|RUNNING|0:0|00:01:05|node[1-2]|2025-06-02T09:18:00|Unknown\n";
        let d = parse_sacct(out, "129").unwrap().unwrap();
        assert_eq!(d.state, JobState::Running);
        assert_eq!(d.elapsed_s, Some(65));
        assert!(d.start.is_some() && d.end.is_none());
    }

    #[test]
    fn sacct_cancelled_while_pending() {
        // Observed on 22.05: Start is `None`, not `Unknown`, for a job cancelled in the queue.
        let out = "10|CANCELLED by 0|0:0|00:00:00|None assigned|None|2026-11-23T11:06:33\n";
        let d = parse_sacct(out, "10").unwrap().unwrap();
        assert_eq!(d.state, JobState::Cancelled);
        assert_eq!((d.node_list, d.start), (None, None));
        assert_eq!(d.end.unwrap().to_string(), "2026-11-23T11:06:33Z");
    }

    #[test]
    fn sacct_truncated_state_and_trailing_pipe() {
        // `-p` (not `-P`) ends each line with '|'; a fixed-width column ends with '+'.
        let out = "130|CANCELLED+|0:0|00:00:03|node1|2025-06-02T09:15:00|2025-06-02T09:15:03|\n";
        let d = parse_sacct(out, "130").unwrap().unwrap();
        assert_eq!(d.state, JobState::Cancelled);
    }

    #[test]
    fn sacct_no_record_is_none() {
        assert_eq!(parse_sacct("", "131").unwrap(), None);
        assert_eq!(parse_sacct(SACCT_COMPLETED_WITH_STEPS, "12").unwrap(), None);
    }

    #[test]
    fn sacct_wrong_columns_is_an_error() {
        let err = parse_sacct("123|COMPLETED|0:0\n", "123").unwrap_err();
        assert!(err.to_string().contains("expected 7"), "{err}");
    }

    #[test]
    fn sacct_epoch_times() {
        let out = "132|COMPLETED|0:0|00:00:01|node1|1700000000|1700000001\n";
        let d = parse_sacct(out, "132").unwrap().unwrap();
        assert_eq!(d.start.unwrap().to_string(), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn elapsed_and_exit_code_forms() {
        assert_eq!(parse_elapsed("00:00:00"), Some(Duration::ZERO));
        assert_eq!(parse_elapsed("12:34"), Some(Duration::from_secs(754)));
        assert_eq!(parse_elapsed("INVALID"), None);
        assert_eq!(
            parse_exit_code("0:15"),
            Some(ExitCode {
                code: 0,
                signal: 15
            })
        );
        assert_eq!(parse_exit_code(""), None);
    }

    // --- squeue --------------------------------------------------------------------------

    #[test]
    fn squeue_states() {
        assert_eq!(parse_squeue_state("RUNNING\n"), Some(JobState::Running));
        assert_eq!(parse_squeue_state("PENDING\n"), Some(JobState::Pending));
        assert_eq!(
            parse_squeue_state("CLUSTER: lab\nCOMPLETING\n"),
            Some(JobState::Completing)
        );
        assert_eq!(parse_squeue_state(""), None);
    }

    #[test]
    fn argument_lists() {
        let job: JobId = "77;lab".parse().unwrap();
        assert_eq!(
            sacct_args(&job).join(" "),
            "-X -n -P -j 77 --format=JobID,State,ExitCode,Elapsed,NodeList,Start,End --clusters=lab"
        );
        assert_eq!(
            squeue_args(&job).join(" "),
            "-h -t all -j 77 -o %T --clusters=lab"
        );
    }

    // --- the commands, against fake programs in a bin_dir ---------------------------------

    #[cfg(unix)]
    fn fake(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn submit_passes_args_env_and_cwd_and_parses_the_id() {
        let tmp = TempDir::new("submit");
        let bin = tmp.path().join("bin");
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        fake(
            &bin,
            "sbatch",
            r#"echo "args=$*" > seen.txt; echo "model=$MODEL_SIZE" >> seen.txt; echo "cwd=$(pwd)" >> seen.txt; echo '4242;lab'"#,
        );
        let req = SubmitRequest {
            script: PathBuf::from("launch.sh"),
            sbatch_args: vec!["-J".into(), "llama_70b_fp8".into(), "-N".into(), "2".into()],
            env: BTreeMap::from([("MODEL_SIZE".to_string(), "70b".to_string())]),
            cwd: work.clone(),
        };
        let id = Slurm::with_bin_dir(&bin).submit(&req).unwrap();
        assert_eq!((id.as_str(), id.cluster()), ("4242", Some("lab")));
        let seen = std::fs::read_to_string(work.join("seen.txt")).unwrap();
        let cwd = work.canonicalize().unwrap();
        assert_eq!(
            seen,
            format!(
                "args=--parsable -J llama_70b_fp8 -N 2 launch.sh\nmodel=70b\ncwd={}\n",
                cwd.display()
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn submit_failure_carries_slurms_message_verbatim_and_runs_once() {
        let tmp = TempDir::new("submit-fail");
        fake(
            tmp.path(),
            "sbatch",
            "echo x >> calls.txt; echo 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2; exit 1",
        );
        let req = SubmitRequest {
            script: PathBuf::from("launch.sh"),
            cwd: tmp.path().to_path_buf(),
            ..SubmitRequest::default()
        };
        let err = Slurm::with_bin_dir(tmp.path()).submit(&req).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(
                "sbatch: error: Batch job submission failed: Invalid partition name specified"
            ),
            "{msg}"
        );
        assert!(msg.starts_with("sbatch failed (exit status: 1)"), "{msg}");
        let calls = std::fs::read_to_string(tmp.path().join("calls.txt")).unwrap();
        assert_eq!(calls, "x\n", "sbatch must run exactly once");
    }

    #[test]
    fn submit_without_sbatch_says_how_to_fix_it() {
        let tmp = TempDir::new("no-sbatch");
        let req = SubmitRequest {
            script: PathBuf::from("launch.sh"),
            cwd: tmp.path().to_path_buf(),
            ..SubmitRequest::default()
        };
        let err = Slurm::with_bin_dir(tmp.path()).submit(&req).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "sbatch not found in {}; install Slurm's client tools or run with --launcher local",
                tmp.path().display()
            )
        );
        let on_path = SlurmError::NotFound {
            program: "sbatch",
            location: "on PATH".into(),
        };
        assert_eq!(
            on_path.to_string(),
            "sbatch not found on PATH; install Slurm's client tools or run with --launcher local"
        );
    }

    #[test]
    fn submit_into_a_missing_directory_is_not_mistaken_for_missing_sbatch() {
        let tmp = TempDir::new("no-cwd");
        let req = SubmitRequest {
            script: PathBuf::from("launch.sh"),
            cwd: tmp.path().join("nope"),
            ..SubmitRequest::default()
        };
        let err = Slurm::with_bin_dir(tmp.path()).submit(&req).unwrap_err();
        assert!(matches!(err, SlurmError::MissingCwd { .. }), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn state_prefers_sacct_and_sets_utc() {
        let tmp = TempDir::new("state-sacct");
        let env_file = tmp.path().join("env.txt");
        fake(
            tmp.path(),
            "sacct",
            &format!(
                r#"echo "$TZ $SLURM_TIME_FORMAT $*" > '{}'; echo '9|CANCELLED by 0|0:0|00:00:03|node1|2025-06-02T09:15:00|2025-06-02T09:15:03'"#,
                env_file.display()
            ),
        );
        let slurm = Slurm::with_bin_dir(tmp.path());
        let job: JobId = "9".parse().unwrap();
        // squeue is absent: it must not be needed when sacct answers.
        assert_eq!(slurm.state(&job).unwrap(), JobState::Cancelled);
        assert_eq!(
            std::fs::read_to_string(&env_file).unwrap(),
            "UTC standard -X -n -P -j 9 --format=JobID,State,ExitCode,Elapsed,NodeList,Start,End\n"
        );
        let d = slurm.status(&job).unwrap().1.unwrap();
        assert_eq!(d.end.unwrap().to_string(), "2025-06-02T09:15:03Z");
    }

    #[cfg(unix)]
    #[test]
    fn state_falls_back_to_squeue_then_purged() {
        let tmp = TempDir::new("state-squeue");
        let slurm = Slurm::with_bin_dir(tmp.path());
        let job: JobId = "10".parse().unwrap();

        // sacct has no record yet, squeue knows it.
        fake(tmp.path(), "sacct", "exit 0");
        fake(tmp.path(), "squeue", "echo RUNNING");
        assert_eq!(slurm.state(&job).unwrap(), JobState::Running);
        // ... and it already ended there: not final until sacct has it.
        fake(tmp.path(), "squeue", "echo FAILED");
        assert_eq!(slurm.state(&job).unwrap(), JobState::Completing);

        // Neither knows it: purged.
        fake(
            tmp.path(),
            "squeue",
            "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1",
        );
        assert_eq!(slurm.state(&job).unwrap(), JobState::Purged);

        // Accounting disabled: sacct fails, squeue does not know it: unknown, not purged.
        fake(
            tmp.path(),
            "sacct",
            "echo 'Slurm accounting storage is disabled' >&2; exit 1",
        );
        assert_eq!(slurm.state(&job).unwrap(), JobState::Unknown);

        // Accounting disabled, squeue still holds the finished job.
        fake(tmp.path(), "squeue", "echo COMPLETED");
        assert_eq!(slurm.state(&job).unwrap(), JobState::Completed);
    }

    #[cfg(unix)]
    #[test]
    fn state_of_a_live_job_prefers_the_controller() {
        let tmp = TempDir::new("state-live");
        let slurm = Slurm::with_bin_dir(tmp.path());
        let job: JobId = "9".parse().unwrap();
        // Observed on 22.05: sacct still PENDING (with a start time) while squeue says RUNNING.
        fake(
            tmp.path(),
            "sacct",
            "echo '9|PENDING|0:0|00:00:01|node1|2026-11-23T11:06:27|Unknown'",
        );
        fake(tmp.path(), "squeue", "echo RUNNING");
        assert_eq!(slurm.state(&job).unwrap(), JobState::Running);
        // Ended in the controller, sacct not caught up: still wrapping up.
        fake(tmp.path(), "squeue", "echo FAILED");
        assert_eq!(slurm.state(&job).unwrap(), JobState::Completing);
        // No squeue at all: sacct's answer stands.
        std::fs::remove_file(tmp.path().join("squeue")).unwrap();
        assert_eq!(slurm.state(&job).unwrap(), JobState::Pending);
    }

    #[cfg(unix)]
    #[test]
    fn cancel_reports_scancels_error() {
        let tmp = TempDir::new("cancel");
        fake(
            tmp.path(),
            "scancel",
            "echo 'scancel: error: Kill job error on job id 11: Invalid job id specified' >&2; exit 1",
        );
        let err = Slurm::with_bin_dir(tmp.path())
            .cancel(&"11".parse().unwrap())
            .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("scancel: error: Kill job error on job id 11: Invalid job id specified"),
            "{err}"
        );
    }
}
