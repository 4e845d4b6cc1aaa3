//! One set of limits for reading a source, passed down everywhere.

use ocisize_layer::Limits as LayerLimits;
use ocisize_spec::JsonLimits;

/// Every limit that bounds what reading a source may cost. One value of this type travels
/// from the caller through the scan, the walk over documents and the layer measurements, so
/// a limit raised here is raised everywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// JSON document size limits (index, manifest, config, metadata).
    pub json: JsonLimits,
    /// Layer decompression limits (uncompressed bytes, tar entries).
    pub layer: LayerLimits,
    /// Most members an archive (or files a layout) may hold. Default 1,000,000.
    pub max_members: u64,
    /// Most layers one image may have. Default 4,096 (docker's overlay2 stops at 125). An
    /// image over the limit is reported without reading its layers.
    pub max_layers: usize,
    /// Most images (and artifacts) one source may hold. Default 65,536; the rest are not
    /// reported.
    pub max_images: usize,
    /// Deepest nesting of indexes. Default 8.
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            json: JsonLimits::default(),
            layer: LayerLimits::default(),
            max_members: 1_000_000,
            max_layers: 4096,
            max_images: 65536,
            max_depth: 8,
        }
    }
}

impl Limits {
    /// The largest document that may need keeping while it streams past.
    pub(crate) fn keep(&self) -> u64 {
        self.json.manifest.max(self.json.config).max(self.json.metadata)
    }
}
