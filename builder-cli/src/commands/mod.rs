//! One module per command.

pub mod build;
pub mod build_outputs;
pub mod debug;
pub mod images;
pub mod transfer;
