//! Slurm: the job states llmb tracks and the client commands that submit, query and cancel jobs.

pub mod commands;
pub mod state;
