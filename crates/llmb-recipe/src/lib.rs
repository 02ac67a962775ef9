//! Workloads as data: llmb's recipe format, NVIDIA's `metadata.yaml`, `cluster_config.yaml`,
//! the seeds' environment knobs, llmb-run's validation order and bulk-file expansion, all
//! resolving to one [`RunSpec`] that launchers consume. Pure: no async runtime, no process
//! environment, no I/O beyond reading the files a caller names.
//!
//! Pipeline: [`discover::discover`] → [`Catalog`] → ([`expand`] bulk files into
//! [`RunRequest`]s) → [`validate::validate`] with a [`ValidateContext`] → [`RunSpec`].
#![warn(missing_docs)]

pub mod cluster_config;
pub mod discover;
pub mod error;
pub mod expand;
pub mod knobs;
pub mod metadata;
pub mod recipe;
pub mod types;
pub mod use_case;
pub mod validate;
pub mod workload;

pub use cluster_config::{ClusterConfig, ClusterConfigError};
pub use error::{FileLocation, LoadError};
pub use knobs::{KnobError, Knobs};
pub use recipe::{Endpoint, Recipe};
pub use types::{
    ByGpu, Concurrency, Dtype, EngineKind, GpuType, LoadStyle, Scalar, TimeLimit, WorkloadType,
};
pub use use_case::UseCase;
pub use validate::{
    validate, ResolvedUseCase, RunRequest, RunSpec, SlurmSpec, ValidateContext, ValidateError,
    ValidationWarning,
};
pub use workload::{builtin, Catalog, ScriptLaunch, Source, Workload};
