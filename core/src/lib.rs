//! The code the Vlinder trainer and the Vlinder web page share, so that a photo is prepared,
//! augmented and classified the same way everywhere.
//!
//! Modules follow the data's path: [`preprocess`] (bytes → S×S RGB), [`augment`] (Keras
//! `ImageDataGenerator`), [`classes`] (`flow_from_directory` class list), [`model`] (the networks),
//! [`bundle`] (the self-describing weights file) and [`classify`] (bundle + photo → probabilities).

pub mod augment;
pub mod bundle;
pub mod classes;
pub mod classify;
pub mod image;
pub mod kernels;
pub mod lite0;
pub mod model;
pub mod preprocess;

pub use augment::{AugmentConfig, FillMode, TransformParams};
pub use bundle::{Bundle, BundleError, BundleHeader, Precision};
pub use classes::{ClassInfo, ClassList};
pub use classify::{Classifier, Prediction};
pub use image::FloatImage;
pub use preprocess::{DecodeLimits, ImageError, PreprocessConfig, ResizeMode};

/// The version of this crate, recorded in every bundle it writes.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
