//! Slurm: the job states llmb tracks, the client commands that submit, query and cancel jobs,
//! and the batch script rendered from a plan.

pub mod commands;
pub mod script;
pub mod state;
