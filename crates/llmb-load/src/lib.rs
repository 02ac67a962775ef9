//! The load generator: prepared requests (built before the clock starts), an arrival
//! schedule, one driver for every load mode, a streaming client that stamps each chunk as
//! its bytes arrive, and a sink that appends each record to disk as it ends.
#![warn(missing_docs)]

pub mod breaker;
pub mod client;
pub use llmb_workload::{dataset, dataset_writer, progress};
pub mod driver;
pub mod limits;
pub mod plan;
pub mod schedule;
pub mod sink;
pub mod team;
pub mod verdict;
pub mod worker;

pub use client::{ClientError, Target};
pub use dataset::{PreparedRequest, RequestShape, ServerKind};
pub use driver::{run, LoadResult};
pub use plan::{Concurrency, LoadPlan, Shard};
pub use schedule::Arrival;
