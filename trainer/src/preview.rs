//! `vlinder augment`: the tutorial's `example_transformations` — N augmented versions of one photo
//! and a contact sheet, made by the same code that augments during training.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::{ImageFormat, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use vlinder_core::augment::{AugmentConfig, TransformParams, apply};
use vlinder_core::preprocess::DecodeLimits;
use vlinder_core::PreprocessConfig;

use crate::fsutil::write_atomic;

#[derive(Serialize)]
pub struct Preview {
    pub file: PathBuf,
    pub params: TransformParams,
}

#[derive(Serialize)]
pub struct PreviewReport {
    pub previews: Vec<Preview>,
    pub contact_sheet: PathBuf,
}

pub fn run(image: &Path, out_dir: &Path, count: usize, preprocess: &PreprocessConfig, augment: &AugmentConfig, seed: u64) -> Result<PreviewReport> {
    let bytes = std::fs::read(image).with_context(|| format!("reading {}", image.display()))?;
    let base = preprocess.load(&bytes, &DecodeLimits::default()).with_context(|| format!("{}", image.display()))?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut previews = Vec::new();
    let mut tiles = vec![base.to_rgb8()];
    for i in 0..count {
        let params = augment.sample(base.height, base.width, &mut rng);
        let tile = apply(&base, &params).to_rgb8();
        let file = out_dir.join(format!("augmented_{i:03}.png"));
        write_atomic(&file, &png(&tile)?)?;
        tiles.push(tile);
        previews.push(Preview { file, params });
    }
    let contact_sheet = out_dir.join("contact_sheet.png");
    write_atomic(&contact_sheet, &png(&contact(&tiles, 2))?)?;
    write_atomic(&out_dir.join("params.json"), serde_json::to_string_pretty(&previews)?.as_bytes())?;
    Ok(PreviewReport { previews, contact_sheet })
}

fn png(image: &RgbImage) -> Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// Tiles in a near-square grid, original first, with `gap` white pixels between them.
fn contact(tiles: &[RgbImage], gap: u32) -> RgbImage {
    let (w, h) = tiles[0].dimensions();
    let cols = (tiles.len() as f64).sqrt().ceil() as u32;
    let rows = (tiles.len() as u32).div_ceil(cols);
    let mut sheet = RgbImage::from_pixel(cols * (w + gap) + gap, rows * (h + gap) + gap, image::Rgb([255, 255, 255]));
    for (i, tile) in tiles.iter().enumerate() {
        let (c, r) = (i as u32 % cols, i as u32 / cols);
        image::imageops::overlay(&mut sheet, tile, i64::from(gap + c * (w + gap)), i64::from(gap + r * (h + gap)));
    }
    sheet
}
