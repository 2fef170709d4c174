//! One module per command.

pub mod build;
pub mod debug;
pub mod images;
pub mod inspect;
pub mod login;
pub mod prune;
pub mod tags;
pub mod version;
