//! Manifest and index assembly from descriptors. Bytes come from
//! [`canonical_json`](super::canonical_json): the field order of `registry_client`'s types is
//! the Go structs' order, and annotations are `BTreeMap`s.

use std::collections::BTreeMap;

use registry_client::{Descriptor, ImageIndex, ImageManifest, media_type};

use super::ImageError;

/// Which manifest dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManifestFormat {
    /// OCI image manifest and media types (the default).
    #[default]
    Oci,
    /// Docker schema2, for `docker load` and old registries.
    Docker,
}

impl ManifestFormat {
    /// The manifest media type.
    pub fn manifest_media_type(self) -> &'static str {
        match self {
            Self::Oci => media_type::OCI_MANIFEST,
            Self::Docker => media_type::DOCKER_MANIFEST,
        }
    }

    /// The config media type.
    pub fn config_media_type(self) -> &'static str {
        match self {
            Self::Oci => media_type::OCI_CONFIG,
            Self::Docker => media_type::DOCKER_CONFIG,
        }
    }

    /// A layer media type in this dialect (OCI layer types are the input).
    pub fn layer_media_type(self, oci: &str) -> Result<String, ImageError> {
        let docker = match media_type::essence(oci) {
            media_type::OCI_LAYER_GZIP | media_type::DOCKER_LAYER_GZIP => {
                media_type::DOCKER_LAYER_GZIP
            }
            media_type::OCI_LAYER_TAR | DOCKER_LAYER_TAR => DOCKER_LAYER_TAR,
            other => {
                return match self {
                    Self::Oci => Ok(other.to_owned()),
                    Self::Docker => Err(ImageError::NoDockerMediaType {
                        media_type: other.to_owned(),
                    }),
                };
            }
        };
        Ok(match self {
            Self::Docker => docker.to_owned(),
            Self::Oci if docker == DOCKER_LAYER_TAR => media_type::OCI_LAYER_TAR.to_owned(),
            Self::Oci => media_type::OCI_LAYER_GZIP.to_owned(),
        })
    }
}

/// Docker's uncompressed layer type.
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// An image manifest for a config and its layers (base first), with media types set for
/// `format`. The descriptors' digests and sizes are kept; annotations are written sorted.
pub fn image_manifest(
    format: ManifestFormat,
    config: &Descriptor,
    layers: &[Descriptor],
    annotations: Option<BTreeMap<String, String>>,
) -> Result<ImageManifest, ImageError> {
    let mut config = config.clone();
    config.media_type = format.config_media_type().to_owned();
    let layers = layers
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.media_type = format.layer_media_type(&l.media_type)?;
            Ok(l)
        })
        .collect::<Result<Vec<_>, ImageError>>()?;
    Ok(ImageManifest {
        schema_version: 2,
        media_type: Some(format.manifest_media_type().to_owned()),
        artifact_type: None,
        config,
        layers,
        subject: None,
        annotations: annotations.filter(|a| !a.is_empty()),
    })
}

/// An OCI image index over `manifests` (each usually with a platform or a
/// `org.opencontainers.image.ref.name` annotation), in the order given.
pub fn image_index(
    manifests: Vec<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
) -> ImageIndex {
    ImageIndex {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.to_owned()),
        manifests,
        annotations: annotations.filter(|a| !a.is_empty()),
    }
}
