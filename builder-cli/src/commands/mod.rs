//! One module per command.

pub mod build;
pub mod build_outputs;
pub mod debug;
pub mod images;
pub mod inspect;
pub mod login;
pub mod prune;
pub mod stdin_context;
pub mod store;
pub mod tags;
pub mod transfer;
pub mod version;
