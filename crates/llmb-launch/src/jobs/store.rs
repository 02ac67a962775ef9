//! The SQLite jobs store (`$LLMB_INSTALL/.llmb/jobs.sqlite3`): schema, migrations, queries.
//!
//! One row per submission. Several llmb processes may share the file: it runs in WAL mode
//! with a busy timeout, and the schema version lives in `PRAGMA user_version`.
//!
//! Slurm reuses job ids once its state is wiped, so `id` is not unique: a new submission
//! whose id matches an older unfinished row marks that row `PURGED`, and `get`/`update_state`
//! act on the newest row with the id.

use std::path::{Path, PathBuf};
use std::time::Duration;

use llmb_recipe::{Dtype, GpuType};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql, TransactionBehavior};
use serde::Serialize;

use crate::slurm::commands::JobDetails;
use crate::slurm::state::JobState;
use crate::time::UtcTime;

/// The schema version this code writes; `PRAGMA user_version` of an up-to-date file.
pub const SCHEMA_VERSION: i64 = 2;

/// How long a query waits for another llmb process holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Migrations, index i taking the schema from version i to i+1.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE jobs (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT    NOT NULL,
    launcher       TEXT    NOT NULL CHECK (launcher IN ('slurm', 'local')),
    workload       TEXT    NOT NULL,
    model_size     TEXT    NOT NULL,
    dtype          TEXT    NOT NULL,
    scale          INTEGER NOT NULL,
    gpu_type       TEXT    NOT NULL,
    use_case       TEXT,
    state          TEXT    NOT NULL,
    exit_code      INTEGER,
    submitted_at   TEXT    NOT NULL,
    started_at     TEXT,
    ended_at       TEXT,
    experiment_dir TEXT    NOT NULL,
    log_path       TEXT    NOT NULL,
    plan_path      TEXT    NOT NULL,
    note           TEXT
);
CREATE INDEX jobs_by_id ON jobs (id);
CREATE INDEX jobs_by_submitted_at ON jobs (submitted_at);
",
    // 2: the nodes a Slurm job ran on, as sacct prints them.
    "ALTER TABLE jobs ADD COLUMN nodes TEXT;",
];

const COLUMNS: &str = "id, launcher, workload, model_size, dtype, scale, gpu_type, use_case, \
     state, exit_code, submitted_at, started_at, ended_at, experiment_dir, log_path, plan_path, note, nodes";

/// Where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LauncherKind {
    /// Submitted to Slurm with sbatch; the id is Slurm's job id.
    Slurm,
    /// A child process of llmb on this machine; the id is llmb's own.
    Local,
}

impl LauncherKind {
    /// `slurm` or `local`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            LauncherKind::Slurm => "slurm",
            LauncherKind::Local => "local",
        }
    }
}

/// One remembered job: what was run, where, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRecord {
    /// Slurm job id, or a local id.
    pub id: String,
    /// Where it runs.
    pub launcher: LauncherKind,
    /// Workload key, e.g. `inference_llama3.3`.
    pub workload: String,
    /// Model size, e.g. `70b`.
    pub model_size: String,
    /// Data type, e.g. `fp8`.
    pub dtype: Dtype,
    /// Total GPUs.
    pub scale: u32,
    /// GPU type, e.g. `h100`.
    pub gpu_type: GpuType,
    /// Use case (`name:ISL/OSL`), when the run has one.
    pub use_case: Option<String>,
    /// Last known state.
    pub state: JobState,
    /// Exit code of the job, once known.
    pub exit_code: Option<i32>,
    /// When it was submitted.
    pub submitted_at: UtcTime,
    /// When it started running.
    pub started_at: Option<UtcTime>,
    /// When it ended.
    pub ended_at: Option<UtcTime>,
    /// The experiment folder of this run.
    pub experiment_dir: PathBuf,
    /// The job's log (e.g. `slurm-<id>.out`).
    pub log_path: PathBuf,
    /// The resolved plan the job runs.
    pub plan_path: PathBuf,
    /// Free text: a failure reason, the tail of an engine log.
    pub note: Option<String>,
    /// The nodes a Slurm job ran on, in Slurm's compressed form (`node[1-2]`).
    pub nodes: Option<String>,
}

/// A new state for a job, with whatever else was learned with it. `None` fields keep the
/// stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdate {
    /// The new state.
    pub state: JobState,
    /// The exit code, if known now.
    pub exit_code: Option<i32>,
    /// The start time, if known now.
    pub started_at: Option<UtcTime>,
    /// The end time, if known now.
    pub ended_at: Option<UtcTime>,
    /// A note to store, replacing the old one.
    pub note: Option<String>,
    /// The allocated nodes, if known now.
    pub nodes: Option<String>,
}

impl StateUpdate {
    /// An update to `state` that changes nothing else.
    pub fn to(state: JobState) -> StateUpdate {
        StateUpdate {
            state,
            exit_code: None,
            started_at: None,
            ended_at: None,
            note: None,
            nodes: None,
        }
    }

    /// The update to `state` with what sacct's record of the job adds: its start and nodes
    /// once it ran; its exit code (not the signal) and end only once `state` is terminal
    /// (sacct prints `0:0` for a job still running).
    pub fn with_sacct(state: JobState, details: Option<&JobDetails>) -> StateUpdate {
        let mut update = StateUpdate::to(state);
        if let Some(d) = details {
            update.started_at = d.start;
            update.nodes.clone_from(&d.node_list);
            if state.is_terminal() {
                update.exit_code = d.exit_code.map(|e| e.code);
                update.ended_at = d.end;
            }
        }
        update
    }
}

/// Which jobs [`JobStore::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this workload key.
    pub workload: Option<String>,
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// At most this many (newest first).
    pub limit: Option<usize>,
}

/// Why the jobs store could not be opened or queried.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The folder for the database could not be created.
    #[error("failed to create folder {path} for the jobs database")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or prepared.
    #[error("failed to open jobs database {path}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer llmb.
    #[error(
        "jobs database {path} has schema version {found}, newer than this llmb understands \
         ({SCHEMA_VERSION}); upgrade llmb"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
    },
    /// A query failed.
    #[error("failed to {action} in the jobs database")]
    Query {
        /// What was being done, e.g. `record job 123`.
        action: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// The jobs database, open.
#[derive(Debug)]
pub struct JobStore {
    conn: Connection,
    path: PathBuf,
}

impl JobStore {
    /// Open (creating the file and its parent folders if needed) and migrate to
    /// [`SCHEMA_VERSION`].
    pub fn open(path: impl AsRef<Path>) -> Result<JobStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // WAL lets readers and one writer overlap across processes. Filesystems without
        // shared memory keep the old journal; that is slower, not wrong, so the answer is ignored.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(open_err)?;
        migrate(&mut conn, &path)?;
        Ok(JobStore { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record a new job. An older unfinished row with the same launcher and id (Slurm reused
    /// the id) is marked `PURGED` first.
    pub fn insert(&mut self, job: &JobRecord) -> Result<(), StoreError> {
        let query = |source| StoreError::Query {
            action: format!("record job {}", job.id),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(query)?;
        tx.execute(
            &format!(
                "UPDATE jobs SET state = 'PURGED', \
                 note = COALESCE(note || '; ', '') || 'job id reused by a later submission' \
                 WHERE id = ?1 AND launcher = ?2 AND state NOT IN ({})",
                terminal_list()
            ),
            params![job.id, job.launcher],
        )
        .map_err(query)?;
        tx.execute(
            &format!(
                "INSERT INTO jobs ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            ),
            params![
                job.id,
                job.launcher,
                job.workload,
                job.model_size,
                job.dtype.as_str(),
                job.scale,
                job.gpu_type.as_str(),
                job.use_case,
                job.state,
                job.exit_code,
                job.submitted_at,
                job.started_at,
                job.ended_at,
                path_text(&job.experiment_dir),
                path_text(&job.log_path),
                path_text(&job.plan_path),
                job.note,
                job.nodes,
            ],
        )
        .map_err(query)?;
        tx.commit().map_err(query)
    }

    /// Apply `update` to the newest job with `id`, if it changes anything. Returns whether
    /// a row changed (false also when no job has the id).
    pub fn update_state(&self, id: &str, update: &StateUpdate) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE jobs SET
                     state      = ?2,
                     exit_code  = COALESCE(?3, exit_code),
                     started_at = COALESCE(?4, started_at),
                     ended_at   = COALESCE(?5, ended_at),
                     note       = COALESCE(?6, note),
                     nodes      = COALESCE(?7, nodes)
                 WHERE seq = (SELECT MAX(seq) FROM jobs WHERE id = ?1)
                   AND (state IS NOT ?2
                        OR (?3 IS NOT NULL AND exit_code  IS NOT ?3)
                        OR (?4 IS NOT NULL AND started_at IS NOT ?4)
                        OR (?5 IS NOT NULL AND ended_at   IS NOT ?5)
                        OR (?6 IS NOT NULL AND note       IS NOT ?6)
                        OR (?7 IS NOT NULL AND nodes      IS NOT ?7))",
                params![
                    id,
                    update.state,
                    update.exit_code,
                    update.started_at,
                    update.ended_at,
                    update.note,
                    update.nodes,
                ],
            )
            .map_err(|source| StoreError::Query {
                action: format!("update the state of job {id}"),
                source,
            })?;
        Ok(changed > 0)
    }

    /// The newest job with `id`.
    pub fn get(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1 ORDER BY seq DESC LIMIT 1"),
                params![id],
                read_row,
            )
            .optional()
            .map_err(|source| StoreError::Query {
                action: format!("read job {id}"),
                source,
            })
    }

    /// Jobs matching `filter`, newest submission first.
    pub fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        let limit = filter
            .limit
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        self.collect(
            "list jobs",
            &format!(
                "SELECT {COLUMNS} FROM jobs
                 WHERE (?1 IS NULL OR workload = ?1) AND (?2 IS NULL OR state = ?2)
                 ORDER BY submitted_at DESC, seq DESC LIMIT ?3"
            ),
            params![filter.workload, filter.state, limit],
        )
    }

    /// Jobs whose state may still change (what a refresh should ask Slurm about), oldest first.
    pub fn non_terminal(&self) -> Result<Vec<JobRecord>, StoreError> {
        self.collect(
            "list unfinished jobs",
            &format!(
                "SELECT {COLUMNS} FROM jobs WHERE state NOT IN ({}) ORDER BY seq",
                terminal_list()
            ),
            params![],
        )
    }

    fn collect(
        &self,
        action: &str,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<JobRecord>, StoreError> {
        let query = |source| StoreError::Query {
            action: action.to_string(),
            source,
        };
        let mut stmt = self.conn.prepare(sql).map_err(query)?;
        let rows = stmt.query_map(params, read_row).map_err(query)?;
        rows.collect::<Result<_, _>>().map_err(query)
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    // IMMEDIATE takes the write lock first, so two processes opening a new file at once
    // migrate one after the other.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open_err)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(open_err)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.execute_batch(sql).map_err(open_err)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)
            .map_err(open_err)?;
    }
    tx.commit().map_err(open_err)
}

fn terminal_list() -> String {
    JobState::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
        .map(|s| format!("'{}'", s.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A TEXT column parsed into its closed set (dtype, GPU type); a value this llmb does not
/// know is a conversion error naming it.
fn parse_column<T: std::str::FromStr<Err = String>>(
    row: &Row<'_>,
    i: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(i)?;
    text.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    Ok(JobRecord {
        id: row.get(0)?,
        launcher: row.get(1)?,
        workload: row.get(2)?,
        model_size: row.get(3)?,
        dtype: parse_column(row, 4)?,
        scale: row.get(5)?,
        gpu_type: parse_column(row, 6)?,
        use_case: row.get(7)?,
        state: row.get(8)?,
        exit_code: row.get(9)?,
        submitted_at: row.get(10)?,
        started_at: row.get(11)?,
        ended_at: row.get(12)?,
        experiment_dir: PathBuf::from(row.get::<_, String>(13)?),
        log_path: PathBuf::from(row.get::<_, String>(14)?),
        plan_path: PathBuf::from(row.get::<_, String>(15)?),
        note: row.get(16)?,
        nodes: row.get(17)?,
    })
}

impl ToSql for JobState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.name()))
    }
}

impl FromSql for JobState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<JobState> {
        value.as_str().map(JobState::parse)
    }
}

impl ToSql for LauncherKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for LauncherKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<LauncherKind> {
        match value.as_str()? {
            "slurm" => Ok(LauncherKind::Slurm),
            "local" => Ok(LauncherKind::Local),
            other => Err(FromSqlError::Other(
                format!("unknown launcher {other:?}").into(),
            )),
        }
    }
}

impl ToSql for UtcTime {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for UtcTime {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<UtcTime> {
        value
            .as_str()?
            .parse()
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TempDir;

    fn job(id: &str, submitted: i64) -> JobRecord {
        JobRecord {
            id: id.to_string(),
            launcher: LauncherKind::Slurm,
            workload: "inference_llama3.3".into(),
            model_size: "70b".into(),
            dtype: Dtype::Fp8,
            scale: 8,
            gpu_type: GpuType::H100,
            use_case: Some("chat:128/128".into()),
            state: JobState::Pending,
            exit_code: None,
            submitted_at: UtcTime::from_unix(1_750_000_000 + submitted),
            started_at: None,
            ended_at: None,
            experiment_dir: PathBuf::from(format!("/install/workloads/x/experiments/{id}")),
            log_path: PathBuf::from(format!("/install/workloads/x/slurm-{id}.out")),
            plan_path: PathBuf::from(format!("/install/workloads/x/experiments/{id}/plan.json")),
            note: None,
            nodes: None,
        }
    }

    #[test]
    fn open_creates_parents_sets_version_and_wal() {
        let tmp = TempDir::new("store-open");
        let path = tmp.path().join(".llmb/deeper/jobs.sqlite3");
        let store = JobStore::open(&path).unwrap();
        assert!(path.is_file());
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        // Re-opening an up-to-date file is a no-op.
        JobStore::open(&path).unwrap();
    }

    #[test]
    fn refuses_a_newer_schema() {
        let tmp = TempDir::new("store-newer");
        let path = tmp.path().join("jobs.sqlite3");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = JobStore::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade llmb"), "{err}");
    }

    #[test]
    fn insert_get_round_trip() {
        let tmp = TempDir::new("store-rt");
        let mut store = JobStore::open(tmp.path().join("jobs.sqlite3")).unwrap();
        let mut j = job("101", 0);
        j.note = Some("first".into());
        store.insert(&j).unwrap();
        assert_eq!(store.get("101").unwrap(), Some(j));
        assert_eq!(store.get("999").unwrap(), None);
    }

    #[test]
    fn update_state_reports_only_real_changes() {
        let tmp = TempDir::new("store-update");
        let mut store = JobStore::open(tmp.path().join("jobs.sqlite3")).unwrap();
        store.insert(&job("7", 0)).unwrap();

        assert!(!store
            .update_state("7", &StateUpdate::to(JobState::Pending))
            .unwrap());
        assert!(store
            .update_state("7", &StateUpdate::to(JobState::Running))
            .unwrap());
        assert!(!store
            .update_state("7", &StateUpdate::to(JobState::Running))
            .unwrap());

        let started = UtcTime::from_unix(1_750_000_010);
        let running = StateUpdate {
            started_at: Some(started),
            ..StateUpdate::to(JobState::Running)
        };
        assert!(store.update_state("7", &running).unwrap());
        assert!(!store.update_state("7", &running).unwrap());

        let done = StateUpdate {
            exit_code: Some(3),
            ended_at: Some(UtcTime::from_unix(1_750_000_020)),
            note: Some("engine exited: CUDA OOM".into()),
            ..StateUpdate::to(JobState::Failed)
        };
        assert!(store.update_state("7", &done).unwrap());
        let got = store.get("7").unwrap().unwrap();
        assert_eq!(got.state, JobState::Failed);
        assert_eq!(got.exit_code, Some(3));
        // A None field keeps what was stored.
        assert_eq!(got.started_at, Some(started));
        assert_eq!(got.note.as_deref(), Some("engine exited: CUDA OOM"));

        assert!(!store.update_state("nope", &done).unwrap());
    }

    #[test]
    fn update_from_sacct_details() {
        let tmp = TempDir::new("store-details");
        let mut store = JobStore::open(tmp.path().join("jobs.sqlite3")).unwrap();
        store.insert(&job("125", 0)).unwrap();
        let out = "125|FAILED|3:0|00:00:00|node1|2025-06-02T09:16:10|2025-06-02T09:16:11\n";
        let details = crate::slurm::commands::parse_sacct(out, "125")
            .unwrap()
            .unwrap();
        assert!(store
            .update_state(
                "125",
                &StateUpdate::with_sacct(details.state, Some(&details)),
            )
            .unwrap());
        let got = store.get("125").unwrap().unwrap();
        assert_eq!(got.exit_code, Some(3));
        assert_eq!(got.ended_at.unwrap().to_string(), "2025-06-02T09:16:11Z");
        assert_eq!(got.nodes.as_deref(), Some("node1"));

        // A running job's record gives its start and nodes, not sacct's `0:0`.
        let out = "126|RUNNING|0:0|00:00:05|node[2-3]|2025-06-02T09:16:10|Unknown\n";
        let running = crate::slurm::commands::parse_sacct(out, "126")
            .unwrap()
            .unwrap();
        let u = StateUpdate::with_sacct(JobState::Running, Some(&running));
        assert_eq!((u.exit_code, u.ended_at), (None, None));
        assert_eq!(u.nodes.as_deref(), Some("node[2-3]"));
        assert!(u.started_at.is_some());
    }

    #[test]
    fn an_unknown_dtype_in_the_file_is_an_error_naming_it() {
        let tmp = TempDir::new("store-dtype");
        let path = tmp.path().join("jobs.sqlite3");
        let store = JobStore::open(&path).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO jobs (id, launcher, workload, model_size, dtype, scale, gpu_type, \
                 state, submitted_at, experiment_dir, log_path, plan_path) \
                 VALUES ('7', 'slurm', 'w', '8b', 'fp3', 1, 'h100', 'RUNNING', \
                 '2025-06-02T09:16:10Z', '/e', '/l', '/p')",
                [],
            )
            .unwrap();
        let e = store.get("7").unwrap_err();
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(
            chain.contains("job 7") && chain.contains("unknown dtype `fp3`"),
            "{chain}"
        );
    }

    #[test]
    fn a_version_1_file_gains_the_nodes_column_and_keeps_its_rows() {
        let tmp = TempDir::new("store-v1");
        let path = tmp.path().join("jobs.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO jobs (id, launcher, workload, model_size, dtype, scale, gpu_type, \
                 state, submitted_at, experiment_dir, log_path, plan_path) \
                 VALUES ('5', 'slurm', 'w', '8b', 'fp8', 1, 'h100', 'RUNNING', \
                 '2025-06-02T09:16:10Z', '/e', '/l', '/p')",
                [],
            )
            .unwrap();
        }
        let store = JobStore::open(&path).unwrap();
        let got = store.get("5").unwrap().unwrap();
        assert_eq!((got.state, got.nodes), (JobState::Running, None));
        let update = StateUpdate {
            nodes: Some("node[2-3]".into()),
            ..StateUpdate::to(JobState::Running)
        };
        assert!(store.update_state("5", &update).unwrap());
        assert_eq!(
            store.get("5").unwrap().unwrap().nodes.as_deref(),
            Some("node[2-3]")
        );
    }

    #[test]
    fn list_newest_first_with_filters_and_limit() {
        let tmp = TempDir::new("store-list");
        let mut store = JobStore::open(tmp.path().join("jobs.sqlite3")).unwrap();
        for (i, id) in ["1", "2", "3", "4"].iter().enumerate() {
            let mut j = job(id, i as i64 * 60);
            if *id == "3" {
                j.workload = "inference_deepseek-r1".into();
            }
            store.insert(&j).unwrap();
        }
        store
            .update_state("2", &StateUpdate::to(JobState::Completed))
            .unwrap();
        let ids = |f: &JobFilter| -> Vec<String> {
            store.list(f).unwrap().into_iter().map(|j| j.id).collect()
        };
        assert_eq!(ids(&JobFilter::default()), ["4", "3", "2", "1"]);
        assert_eq!(
            ids(&JobFilter {
                limit: Some(2),
                ..JobFilter::default()
            }),
            ["4", "3"]
        );
        assert_eq!(
            ids(&JobFilter {
                workload: Some("inference_llama3.3".into()),
                ..JobFilter::default()
            }),
            ["4", "2", "1"]
        );
        assert_eq!(
            ids(&JobFilter {
                state: Some(JobState::Completed),
                ..JobFilter::default()
            }),
            ["2"]
        );
        let unfinished: Vec<_> = store
            .non_terminal()
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(unfinished, ["1", "3", "4"]);
    }

    #[test]
    fn reused_slurm_id_purges_the_old_unfinished_row() {
        let tmp = TempDir::new("store-reuse");
        let mut store = JobStore::open(tmp.path().join("jobs.sqlite3")).unwrap();
        store.insert(&job("1", 0)).unwrap();
        let mut newer = job("1", 3600);
        newer.dtype = Dtype::Bf16;
        store.insert(&newer).unwrap();

        assert_eq!(store.get("1").unwrap().unwrap().dtype, Dtype::Bf16);
        let all = store.list(&JobFilter::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].state, JobState::Purged);
        assert_eq!(
            all[1].note.as_deref(),
            Some("job id reused by a later submission")
        );
        // Only the newest row is still being tracked, and updates reach it.
        assert_eq!(store.non_terminal().unwrap().len(), 1);
        assert!(store
            .update_state("1", &StateUpdate::to(JobState::Running))
            .unwrap());
        assert_eq!(store.get("1").unwrap().unwrap().state, JobState::Running);
    }

    #[test]
    fn two_connections_share_the_file() {
        let tmp = TempDir::new("store-two");
        let path = tmp.path().join("jobs.sqlite3");
        let mut a = JobStore::open(&path).unwrap();
        let b = JobStore::open(&path).unwrap();
        a.insert(&job("5", 0)).unwrap();
        assert!(b
            .update_state("5", &StateUpdate::to(JobState::Running))
            .unwrap());
        assert_eq!(a.get("5").unwrap().unwrap().state, JobState::Running);
    }

    #[test]
    fn record_serializes_with_slurm_names() {
        let j = job("8", 0);
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["state"], "PENDING");
        assert_eq!(v["launcher"], "slurm");
        assert_eq!(v["submitted_at"], "2025-06-15T15:06:40Z");
        assert_eq!(v["experiment_dir"], "/install/workloads/x/experiments/8");
    }
}
