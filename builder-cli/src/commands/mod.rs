//! One module per command.

pub mod build;
pub mod debug;
pub mod images;
