//! How llmb remembers jobs: the SQLite store and the provenance file written per job.

pub mod provenance;
pub mod store;
