//! `vlinder export` and `vlinder inspect`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::backend::NdArray;
use serde::Serialize;
use vlinder_core::bundle::Thresholds;
use vlinder_core::{Bundle, BundleHeader, Precision};

use crate::fsutil::write_atomic;
use crate::train::BEST_BUNDLE;

/// Reads a bundle from a file, or a run directory's best epoch.
pub fn read_bundle(path: &Path) -> Result<Bundle> {
    let file = if path.is_dir() { path.join(BEST_BUNDLE) } else { path.to_path_buf() };
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    Bundle::from_bytes(&bytes).with_context(|| format!("{}", file.display()))
}

/// Re-encodes a run's best epoch (or any bundle) at `precision`, optionally with new thresholds.
pub fn export(source: &Path, out: &Path, precision: Precision, thresholds: Option<Thresholds>) -> Result<Inspection> {
    let bundle = read_bundle(source)?;
    let network = bundle.load_network::<NdArray>(&Default::default())?;
    let header = BundleHeader {
        precision,
        thresholds: thresholds.unwrap_or(bundle.header.thresholds),
        ..bundle.header.clone()
    };
    let exported = Bundle::from_network(header, network)?;
    let bytes = exported.to_bytes();
    // Prove the file loads before replacing anything.
    Bundle::from_bytes(&bytes)?.load_network::<NdArray>(&Default::default())?;
    write_atomic(out, &bytes)?;
    inspect(out)
}

#[derive(Serialize)]
pub struct Inspection {
    pub file: PathBuf,
    pub bytes: u64,
    pub parameters: usize,
    pub header: BundleHeader,
}

pub fn inspect(path: &Path) -> Result<Inspection> {
    let bundle = read_bundle(path)?;
    let network = bundle.load_network::<NdArray>(&Default::default())?;
    use burn::module::Module;
    Ok(Inspection {
        file: path.to_path_buf(),
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        parameters: network.num_params(),
        header: bundle.header,
    })
}

impl Inspection {
    pub fn render(&self) -> String {
        let h = &self.header;
        let mut s = format!("{}: {} bytes, {} parameters\n", self.file.display(), self.bytes, self.parameters);
        s += &format!("architecture  {}\n", serde_json::to_string(&h.architecture).unwrap());
        s += &format!("precision     {:?}\n", h.precision);
        s += &format!(
            "input         {0}×{0}, {1:?}, crop {2}, x·{3} + {4}\n",
            h.preprocess.image_size, h.preprocess.resize, h.preprocess.crop_fraction, h.preprocess.scale, h.preprocess.offset
        );
        s += &format!("thresholds    likely ≥ {}, possible ≥ {}\n", h.thresholds.likely, h.thresholds.possible);
        s += "classes\n";
        for (i, c) in h.classes.iter().enumerate() {
            let names: Vec<&str> = [c.english.as_deref(), c.dutch.as_deref(), c.scientific.as_deref()].into_iter().flatten().collect();
            s += &format!("  {i:>2} {:<26} {}\n", c.id, names.join(" · "));
        }
        let p = &h.provenance;
        s += &format!("trained       {} by {} on {} (seed {}, best epoch {})\n", p.created, p.trainer, p.dataset, p.seed, p.epochs);
        if let Some(v) = &p.validation {
            s += &format!(
                "validation    {} images, accuracy {:.3}{}\n",
                v.images,
                v.accuracy,
                v.balanced_accuracy.map(|b| format!(", balanced {b:.3}")).unwrap_or_default()
            );
        }
        if let Some(n) = &p.notes {
            s += &format!("notes         {n}\n");
        }
        s
    }
}
