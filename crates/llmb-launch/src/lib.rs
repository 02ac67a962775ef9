//! Where llmb runs execute and how we remember them: the [`plan::Plan`] a recipe becomes,
//! its executor ([`exec`], `llmb run-plan`: servers started, watched and stopped, load
//! steps run, on this machine or inside a Slurm allocation), Slurm's client commands and
//! the job states they report, the sbatch script rendered from a plan, the SQLite jobs
//! store, and the `llmb-config_<JOBID>.yaml` provenance file written next to each job.
//!
//! Blocking and free of any async runtime: the binary calls into it with `spawn_blocking`.
//! Nothing here exits; only the executor prints (its own log lines, on stdout).
#![warn(missing_docs)]

pub mod engines;
pub mod exec;
pub mod install;
pub mod jobs;
pub mod plan;
pub mod slurm;
pub mod submit;
pub mod time;

pub use engines::ServerRole;
pub use jobs::provenance::{
    is_secret_key, redact, redact_map, ClusterInfo, ContainerInfo, JobConfig, JobInfo, ModelInfo,
    Provenance, ProvenanceError, Secrets, WorkloadInfo,
};
pub use jobs::store::{JobFilter, JobRecord, JobStore, LauncherKind, StateUpdate, StoreError};
pub use plan::{
    DatasetLengths, LoadStep, OfflineRun, Plan, PlanOptions, PortChoice, ServerPlan, UseCasePlan,
};
pub use slurm::commands::{ExitCode, JobDetails, JobId, Slurm, SlurmError, SubmitRequest};
pub use slurm::state::JobState;
pub use time::UtcTime;

#[cfg(test)]
pub(crate) mod test_util {
    //! Unique temporary directories for tests, removed on drop.
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    static NEXT: AtomicU64 = AtomicU64::new(0);

    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "llmb-launch-{tag}-{}-{n}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
