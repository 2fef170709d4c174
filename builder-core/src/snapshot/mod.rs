//! Snapshots: extracted layers on the host filesystem, and the two snapshotters a `RUN` step
//! uses: overlayfs ([`OverlayMount`]) and copy-and-compare ([`NaiveSnapshot`]).

mod error;
mod extract;
mod layers;
mod mountpoints;
mod naive;
mod overlay;
mod view;

pub use error::SnapshotError;
pub use extract::{
    Compression, ExtractError, ExtractOptions, ExtractStats, LayerReader, WhiteoutMode,
    extract_layer,
};
pub use layers::{LayerRef, adopt_snapshot, flattened_snapshot, layer_snapshot, materialize};
pub use mountpoints::Mountpoints;
pub use naive::NaiveSnapshot;
pub use overlay::OverlayMount;
pub use view::OverlayView;

/// Which snapshotter `RUN` steps use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotterKind {
    /// overlayfs where it can be mounted, else the naive snapshotter.
    #[default]
    Auto,
    /// overlayfs only (an error where it cannot be mounted).
    Overlay,
    /// Copy and compare.
    Naive,
}
