//! The weights bundle: one self-describing, versioned, checksummed file that carries everything
//! the page and `vlinder predict` need — architecture and config, classes with display names,
//! preprocessing, precision, thresholds, provenance — and the burn record.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! "VLINDER\x01"  magic (8 bytes)
//! u32            format version (FORMAT_VERSION)
//! u32            header length H
//! H bytes        header, UTF-8 JSON (BundleHeader)
//! u64            record length R
//! R bytes        burn BinBytesRecorder record, f32 or f16 (header.precision)
//! u32            CRC-32 of everything above
//! ```

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, HalfPrecisionSettings, Recorder};
use serde::{Deserialize, Serialize};

use crate::classes::ClassList;
use crate::lite0::Lite0Config;
use crate::model::{BaselineConfig, Network, NetworkRecord};
use crate::preprocess::PreprocessConfig;

pub const MAGIC: &[u8; 8] = b"VLINDER\x01";
pub const FORMAT_VERSION: u32 = 1;
/// Bundles larger than this are refused before reading the record (the largest model is ~20 MB).
pub const MAX_BUNDLE_BYTES: usize = 512 * 1024 * 1024;

/// Why a bundle could not be read or used.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum BundleError {
    #[error("not a Vlinder model bundle (the file does not start with the Vlinder signature)")]
    NotABundle,
    #[error("the model bundle is incomplete: {0} (was the download cut off?)")]
    Truncated(&'static str),
    #[error("the model bundle is damaged (checksum mismatch)")]
    Checksum,
    #[error("the model bundle has format version {found}; this build reads version {supported}")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("the model bundle's description is unreadable: {0}")]
    Header(String),
    #[error("the model bundle's weights do not fit its architecture: {0}")]
    WrongArchitecture(String),
    #[error("the model bundle's weights are unreadable: {0}")]
    Record(String),
    #[error("the model bundle is too large ({0} bytes)")]
    TooLarge(usize),
}

/// Network architecture and its configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Architecture {
    /// The tutorial CNN.
    Baseline { config: BaselineConfig },
    /// EfficientNet-Lite0 (ImageNet backbone, batch norm folded).
    Lite0 { config: Lite0Config },
}

impl Architecture {
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::Baseline { .. } => "baseline",
            Architecture::Lite0 { .. } => "lite0",
        }
    }

    /// Builds the network with fresh weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Network<B> {
        match self {
            Architecture::Baseline { config } => Network::Baseline(config.init(device)),
            Architecture::Lite0 { config } => Network::Lite0(config.init(device)),
        }
    }
}

/// Storage precision of the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    #[default]
    F32,
    /// Half the size; the network still computes in f32.
    F16,
}

/// Confidence bands for the answer (iRecord's 0.7 / 0.2 by default).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// At or above: "likely".
    pub likely: f32,
    /// At or above (and below `likely`): "possible"; below: "not sure".
    pub possible: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { likely: 0.7, possible: 0.2 }
    }
}

/// Validation figures of the exported epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ValidationMetrics {
    pub images: usize,
    pub accuracy: f64,
    #[serde(default)]
    pub balanced_accuracy: Option<f64>,
    #[serde(default)]
    pub loss: Option<f64>,
}

/// Where the weights came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Provenance {
    /// The training data, in words or as a path.
    pub dataset: String,
    /// RFC 3339 date and time of training.
    pub created: String,
    pub seed: u64,
    pub epochs: usize,
    pub validation: Option<ValidationMetrics>,
    /// Version of the vlinder code that wrote the bundle.
    pub trainer: String,
    pub notes: Option<String>,
}

/// The JSON description at the start of a bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundleHeader {
    pub architecture: Architecture,
    pub classes: ClassList,
    pub preprocess: PreprocessConfig,
    pub precision: Precision,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub provenance: Provenance,
}

/// A parsed bundle: the header plus the still-encoded record.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    pub header: BundleHeader,
    record: Vec<u8>,
}

impl Bundle {
    /// Records `network`'s weights in `header.precision`. The header must describe the network.
    pub fn from_network<B: Backend>(header: BundleHeader, network: Network<B>) -> Result<Self, BundleError> {
        let record = encode_record(header.precision, network.into_record())?;
        Ok(Self { header, record })
    }

    /// Serialises to the on-disk layout.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("bundle headers always serialise");
        let mut out = Vec::with_capacity(32 + header.len() + self.record.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&(self.record.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.record);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses and verifies a bundle; never panics on bad input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge(bytes.len()));
        }
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(if MAGIC.starts_with(bytes) && !bytes.is_empty() {
                BundleError::Truncated("signature")
            } else {
                BundleError::NotABundle
            });
        }
        let mut cursor = Reader { bytes, pos: MAGIC.len() };
        let version = u32::from_le_bytes(cursor.take(4, "version")?.try_into().unwrap());
        if version != FORMAT_VERSION {
            return Err(BundleError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
        }
        let header_len = u32::from_le_bytes(cursor.take(4, "header length")?.try_into().unwrap()) as usize;
        let header_bytes = cursor.take(header_len, "header")?;
        let record_len = u64::from_le_bytes(cursor.take(8, "record length")?.try_into().unwrap());
        let record = cursor.take(usize::try_from(record_len).unwrap_or(usize::MAX), "weights")?;
        let body_end = cursor.pos;
        let crc = u32::from_le_bytes(cursor.take(4, "checksum")?.try_into().unwrap());
        if cursor.pos != bytes.len() || crc32fast::hash(&bytes[..body_end]) != crc {
            return Err(BundleError::Checksum);
        }
        let header: BundleHeader =
            serde_json::from_slice(header_bytes).map_err(|e| BundleError::Header(e.to_string()))?;
        header.validate()?;
        Ok(Self { header, record: record.to_vec() })
    }

    /// Builds the network and loads the weights, checking every tensor's shape against the
    /// architecture in the header.
    pub fn load_network<B: Backend>(&self, device: &B::Device) -> Result<Network<B>, BundleError> {
        let fresh = self.header.architecture.init::<B>(device);
        let expected = param_shapes(&fresh);
        let record: NetworkRecord<B> = decode_record(self.header.precision, &self.record, device)?;
        // burn panics when a record of one variant is loaded into another: check first.
        if !matches!(
            (&fresh, &record),
            (Network::Baseline(_), NetworkRecord::Baseline(_)) | (Network::Lite0(_), NetworkRecord::Lite0(_))
        ) {
            return Err(BundleError::WrongArchitecture(format!(
                "the weights are not those of a {} network",
                self.header.architecture.name()
            )));
        }
        let loaded = fresh.load_record(record);
        let found = param_shapes(&loaded);
        if found != expected {
            return Err(BundleError::WrongArchitecture(format!(
                "expected tensors of shapes {expected:?}, found {found:?}"
            )));
        }
        Ok(loaded)
    }

    /// Size of the encoded weights in bytes.
    pub fn record_len(&self) -> usize {
        self.record.len()
    }
}

impl BundleHeader {
    /// Checks that the parts of the header agree with one another.
    pub fn validate(&self) -> Result<(), BundleError> {
        let bad = |msg: String| Err(BundleError::WrongArchitecture(msg));
        match &self.architecture {
            Architecture::Baseline { config } => {
                if config.head.classes() != self.classes.len() {
                    return bad(format!(
                        "the network has {} outputs but the bundle lists {} classes",
                        config.head.classes(),
                        self.classes.len()
                    ));
                }
                if config.image_size != self.preprocess.image_size || config.image_size < 6 {
                    return bad(format!(
                        "the network takes {0}×{0} images but preprocessing makes {1}×{1}",
                        config.image_size, self.preprocess.image_size
                    ));
                }
            }
            Architecture::Lite0 { config } => {
                if config.classes != self.classes.len() {
                    return bad(format!(
                        "the network has {} outputs but the bundle lists {} classes",
                        config.classes,
                        self.classes.len()
                    ));
                }
                if config.image_size != self.preprocess.image_size || config.image_size < 32 {
                    return bad(format!(
                        "the network takes {0}×{0} images but preprocessing makes {1}×{1}",
                        config.image_size, self.preprocess.image_size
                    ));
                }
            }
        }
        Ok(())
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], BundleError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or(BundleError::Truncated(what))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }
}

fn encode_record<B: Backend, R: burn::record::Record<B>>(precision: Precision, record: R) -> Result<Vec<u8>, BundleError> {
    let result = match precision {
        Precision::F32 => BinBytesRecorder::<FullPrecisionSettings>::default().record(record, ()),
        Precision::F16 => BinBytesRecorder::<HalfPrecisionSettings>::default().record(record, ()),
    };
    result.map_err(|e| BundleError::Record(e.to_string()))
}

fn decode_record<B: Backend, R: burn::record::Record<B>>(
    precision: Precision,
    bytes: &[u8],
    device: &B::Device,
) -> Result<R, BundleError> {
    let result = match precision {
        Precision::F32 => BinBytesRecorder::<FullPrecisionSettings>::default().load(bytes.to_vec(), device),
        Precision::F16 => BinBytesRecorder::<HalfPrecisionSettings>::default().load(bytes.to_vec(), device),
    };
    result.map_err(|e| BundleError::Record(e.to_string()))
}

/// The shapes of a module's float parameters, in visiting order.
fn param_shapes<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: Backend> ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.val().dims().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    module.visit(&mut shapes);
    shapes.0
}
