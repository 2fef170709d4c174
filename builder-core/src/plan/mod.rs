//! Typed stages + options -> the stages to build, in order, with every word expanded.

mod error;

pub use error::PlanError;
