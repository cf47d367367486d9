//! Image folders with Keras `flow_from_directory` semantics, loaded once into memory, and turned
//! into (optionally augmented) batches.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use vlinder_core::augment::{AugmentConfig, apply};
use vlinder_core::preprocess::DecodeLimits;
use vlinder_core::{ClassList, FloatImage, PreprocessConfig};

use crate::output::Output;

/// Extensions read from class folders (case-insensitive). Keras reads png/jpg/jpeg/bmp/ppm/tif;
/// we read what the core decodes, which adds WebP and GIF and drops TIFF/PPM.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "gif", "webp"];

pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// One labelled file.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub path: PathBuf,
    pub label: usize,
}

/// A class-per-sub-folder data set.
#[derive(Clone, Debug)]
pub struct ImageFolder {
    pub classes: ClassList,
    pub samples: Vec<Sample>,
}

impl ImageFolder {
    /// Classes are the sub-folders sorted by code point; files are walked in sorted order.
    pub fn open(dir: &Path) -> Result<Self> {
        let classes = ClassList::from_directory(dir).with_context(|| format!("reading {}", dir.display()))?;
        if classes.is_empty() {
            bail!("{} has no class sub-folders (expected DIR/<class>/<image files>)", dir.display());
        }
        let folders: Vec<(String, usize)> = classes.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect();
        Self::with_folders(dir, classes, &folders)
    }

    /// Reads the given `(folder, label)` pairs under `dir` with an existing class list.
    pub fn with_folders(dir: &Path, classes: ClassList, folders: &[(String, usize)]) -> Result<Self> {
        let mut samples = Vec::new();
        for (folder, label) in folders {
            for path in list_images(&dir.join(folder))? {
                samples.push(Sample { path, label: *label });
            }
        }
        Ok(Self { classes, samples })
    }

    /// Images per class.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for s in &self.samples {
            counts[s.label] += 1;
        }
        counts
    }
}

/// The image files directly inside `dir`, sorted.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_image(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Decoded, resized images (0–255, not normalised) with their labels; files that cannot be
/// decoded are listed in `skipped` rather than stopping the run.
pub struct Loaded {
    pub images: Vec<FloatImage>,
    pub labels: Vec<usize>,
    pub paths: Vec<PathBuf>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// Decodes every sample on `workers` threads.
pub fn load(samples: &[Sample], preprocess: &PreprocessConfig, workers: usize, out: &Output, what: &str) -> Loaded {
    let bar = out.bar(samples.len() as u64, what);
    let limits = DecodeLimits::default();
    let workers = workers.max(1).min(samples.len().max(1));
    let chunk = samples.len().div_ceil(workers).max(1);
    let results: Vec<(usize, Result<FloatImage, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = samples
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let bar = bar.clone();
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let r = std::fs::read(&s.path)
                                .map_err(|e| e.to_string())
                                .and_then(|bytes| preprocess.load(&bytes, &limits).map_err(|e| e.to_string()));
                            bar.inc(1);
                            (c * chunk + i, r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("loader thread")).collect()
    });
    bar.finish_and_clear();
    let mut loaded = Loaded { images: Vec::new(), labels: Vec::new(), paths: Vec::new(), skipped: Vec::new() };
    for (i, r) in results {
        match r {
            Ok(img) => {
                loaded.images.push(img);
                loaded.labels.push(samples[i].label);
                loaded.paths.push(samples[i].path.clone());
            }
            Err(e) => loaded.skipped.push((samples[i].path.clone(), e)),
        }
    }
    for (path, err) in &loaded.skipped {
        out.warn(format!("skipping {}: {err}", path.display()));
    }
    loaded
}

/// Builds network input: augments (when configured) and normalises images, then stacks them
/// `[batch, 3, S, S]`. Augmentation is seeded per (seed, epoch, index) so a resumed run sees
/// exactly what an uninterrupted one would have.
pub fn batch<B: Backend>(
    images: &[&FloatImage],
    augment: Option<(&AugmentConfig, u64)>,
    indices: &[usize],
    preprocess: &PreprocessConfig,
    workers: usize,
    device: &B::Device,
) -> Tensor<B, 4> {
    let side = preprocess.image_size;
    let prepare = |(image, &index): (&&FloatImage, &usize)| -> Vec<f32> {
        let image = match augment {
            Some((cfg, seed)) if !cfg.is_identity() => {
                let mut rng = StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                apply(image, &cfg.sample(image.height, image.width, &mut rng))
            }
            _ => (*image).clone(),
        };
        preprocess.normalize(image).to_chw()
    };
    let pairs: Vec<_> = images.iter().zip(indices).collect();
    let per_thread = pairs.len().div_ceil(workers.max(1)).max(1);
    let data: Vec<f32> = if workers > 1 && pairs.len() > 1 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = pairs
                .chunks(per_thread)
                .map(|part| scope.spawn(move || part.iter().flat_map(|p| prepare(*p)).collect::<Vec<f32>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("augment thread")).collect()
        })
    } else {
        pairs.into_iter().flat_map(prepare).collect()
    };
    Tensor::<B, 1>::from_floats(data.as_slice(), device).reshape([images.len(), 3, side, side])
}
