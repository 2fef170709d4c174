//! One module per command.

pub mod debug;
