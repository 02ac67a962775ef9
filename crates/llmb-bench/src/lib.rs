//! `llmb bench` as a library. [`BenchSettings`](llmb_settings::BenchSettings) are validated
//! once into a [`Resolved`] run; a [`Session`] opens the target (starting the embedded
//! engine when there is no URL) and expands the settings into [`Point`]s;
//! [`Session::run_point`] runs one and returns its [`PointRun`], which writes every file of
//! the point, says what the user must know and gives its row in a sweep. The binary only
//! prints and picks the exit code.
#![warn(missing_docs)]

pub mod embedded;
pub mod point;
pub mod resolve;
pub mod session;

pub use point::{PointRun, PointStatus, Verdict};
pub use resolve::{read_settings, Resolved};
pub use session::{Point, Session};
