//! How llmb remembers jobs: the SQLite store, the provenance file written per job, and
//! keeping the store current from Slurm.

pub mod provenance;
pub mod store;
pub mod track;
