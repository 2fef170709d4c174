//! Snapshots: extracted layers on the host filesystem.

mod extract;

pub use extract::{
    Compression, ExtractError, ExtractOptions, ExtractStats, LayerReader, WhiteoutMode,
    extract_layer,
};
