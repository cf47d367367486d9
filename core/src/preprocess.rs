//! From the bytes of a photo to the S×S image the network sees: decode under explicit limits,
//! apply EXIF orientation, convert to RGB, resize. The trainer and the page both call [`prepare`],
//! and the bundle records the [`PreprocessConfig`], so the two can never disagree.

use std::io::Cursor;

use ::image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage, imageops,
    imageops::FilterType,
};
use serde::{Deserialize, Serialize};

use crate::image::FloatImage;

/// Why a photo could not be used. Every variant names the problem in words a volunteer can act on.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ImageError {
    #[error("the file is empty")]
    Empty,
    #[error("{format} images are not supported; please use a JPEG, PNG, WebP, GIF or BMP photo")]
    Unsupported { format: String },
    #[error("this file is not an image in a known format (JPEG, PNG, WebP, GIF or BMP)")]
    UnknownFormat,
    #[error(
        "the image is too large ({width}×{height} pixels); the limit is {max_megapixels} megapixels"
    )]
    TooLarge { width: u32, height: u32, max_megapixels: u32 },
    #[error("the image file is damaged or incomplete ({0})")]
    Corrupt(String),
    #[error("decoding the image would need more memory than allowed ({0})")]
    OutOfMemory(String),
    #[error("the model takes {expected}×{expected} images, not {width}×{height}")]
    WrongSize { expected: usize, width: usize, height: usize },
}

/// Limits applied before any pixel memory is allocated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeLimits {
    /// Largest accepted `width * height`.
    pub max_pixels: u64,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    /// 40 megapixels (beyond any phone camera's default) and 256 MiB.
    fn default() -> Self {
        Self { max_pixels: 40_000_000, max_alloc: 256 * 1024 * 1024 }
    }
}

/// How a photo of any shape becomes S×S.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// The tutorial's Keras `load_img(target_size=…)`: stretch to S×S, ignoring the aspect ratio,
    /// nearest neighbour (PIL's sampling grid).
    Stretch,
    /// Crop the central square (keeps the butterfly's proportions), then a smooth, antialiased
    /// triangle filter.
    CenterCrop,
    /// torchvision's ImageNet evaluation transform: resize (antialiased bilinear) so the shorter
    /// side is `shorter`, then crop the central S×S. What ImageNet backbones expect.
    ResizeThenCrop { shorter: u32 },
}

/// Everything needed to turn a photo into network input; stored in every bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Side S of the square network input.
    pub image_size: usize,
    pub resize: ResizeMode,
    /// Fraction of the shorter side kept by [`ResizeMode::CenterCrop`] (1.0 = the whole square).
    #[serde(default = "one")]
    pub crop_fraction: f32,
    /// Multiplier applied after augmentation (Keras `rescale`; 1/255 for the tutorial).
    pub scale: f32,
    /// Added after `scale` (0 for the tutorial).
    #[serde(default)]
    pub offset: f32,
}

fn one() -> f32 {
    1.0
}

impl PreprocessConfig {
    /// The better default for the baseline CNN: centre crop, smooth filter, rescale 1/255.
    pub fn baseline(image_size: usize) -> Self {
        Self { image_size, resize: ResizeMode::CenterCrop, crop_fraction: 1.0, scale: 1.0 / 255.0, offset: 0.0 }
    }

    /// Exactly the tutorial: stretch with nearest neighbour, rescale 1/255.
    pub fn tutorial(image_size: usize) -> Self {
        Self { resize: ResizeMode::Stretch, ..Self::baseline(image_size) }
    }

    /// Decodes `bytes` and resizes to S×S, values 0–255, not yet normalised (Keras augments first
    /// and rescales after).
    pub fn load(&self, bytes: &[u8], limits: &DecodeLimits) -> Result<FloatImage, ImageError> {
        let rgb = decode(bytes, limits)?;
        Ok(FloatImage::from_rgb8(&self.resize(&rgb)))
    }

    /// Decodes, resizes and normalises: the network input for inference.
    pub fn prepare(&self, bytes: &[u8], limits: &DecodeLimits) -> Result<FloatImage, ImageError> {
        Ok(self.normalize(self.load(bytes, limits)?))
    }

    /// Applies `scale` and `offset`.
    pub fn normalize(&self, image: FloatImage) -> FloatImage {
        image.normalized(self.scale, self.offset)
    }

    /// Resizes any RGB image to S×S as configured.
    pub fn resize(&self, image: &RgbImage) -> RgbImage {
        let size = self.image_size as u32;
        match self.resize {
            ResizeMode::Stretch => resize_nearest(image, size, size),
            ResizeMode::CenterCrop => {
                let (w, h) = image.dimensions();
                let side = ((w.min(h) as f32 * self.crop_fraction).round() as u32).clamp(1, w.min(h));
                let square = imageops::crop_imm(image, (w - side) / 2, (h - side) / 2, side, side);
                imageops::resize(&*square, size, size, FilterType::Triangle)
            }
            ResizeMode::ResizeThenCrop { shorter } => {
                let (w, h) = image.dimensions();
                let scale = f64::from(shorter.max(size)) / f64::from(w.min(h));
                let (rw, rh) = ((f64::from(w) * scale).round() as u32, (f64::from(h) * scale).round() as u32);
                let resized = imageops::resize(image, rw.max(size), rh.max(size), FilterType::Triangle);
                // torchvision's CenterCrop: offsets round((len − S) / 2), ties to even (Python's round).
                let offset = |len: u32| (f64::from(len - size) / 2.0).round_ties_even() as u32;
                let (rw, rh) = resized.dimensions();
                imageops::crop_imm(&resized, offset(rw), offset(rh), size, size).to_image()
            }
        }
    }

    /// EfficientNet-Lite0's ImageNet preprocessing, measured against the reference: shorter side
    /// 256, centre crop 224, `(x − 127) / 128`.
    pub fn imagenet_lite(image_size: usize) -> Self {
        let shorter = (image_size as f64 * 256.0 / 224.0).round() as u32;
        Self { image_size, resize: ResizeMode::ResizeThenCrop { shorter }, crop_fraction: 1.0, scale: 1.0 / 128.0, offset: -127.0 / 128.0 }
    }
}

/// Decodes JPEG, PNG, WebP, GIF (first frame) or BMP to RGB under `limits`, applying the EXIF
/// orientation (phones store portrait photos sideways and say so in EXIF).
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let format = sniff(bytes)?;
    if format == ImageFormat::Jpeg && !has_jpeg_end(bytes) {
        // The JPEG decoder pads a cut-off file with grey rather than failing; a half-downloaded
        // photo must not be classified as if it were whole.
        return Err(ImageError::Corrupt("the JPEG data ends early (truncated file)".into()));
    }
    // Check the size from the header first. The PNG decoder reserves its whole output buffer as
    // it opens, which in 32-bit wasm fails as "out of memory" for a huge image before its size can
    // be reported, so PNG's fixed-position IHDR is read directly.
    let (width, height) = match (format, bytes.get(12..24)) {
        (ImageFormat::Png, Some(ihdr)) if &ihdr[..4] == b"IHDR" => (
            u32::from_be_bytes(ihdr[4..8].try_into().unwrap()),
            u32::from_be_bytes(ihdr[8..12].try_into().unwrap()),
        ),
        _ => {
            let mut header = ImageReader::with_format(Cursor::new(bytes), format);
            header.no_limits();
            header.into_dimensions().map_err(classify_error)?
        }
    };
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ImageError::TooLarge {
            width,
            height,
            max_megapixels: (limits.max_pixels / 1_000_000) as u32,
        });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(classify_error)?;
    let orientation = decoder.orientation().unwrap_or(::image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(classify_error)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// Identifies the format from the content (never the file name: renamed HEIC files exist).
fn sniff(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
    let unsupported = |name: &str| Err(ImageError::Unsupported { format: name.to_string() });
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return match &bytes[8..12] {
            b"avif" | b"avis" => unsupported("AVIF"),
            _ => unsupported("HEIC"),
        };
    }
    match ::image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif | ImageFormat::Bmp)) => Ok(f),
        Ok(other) => unsupported(other.to_mime_type().trim_start_matches("image/").to_uppercase().as_str()),
        Err(_) if bytes.starts_with(b"%PDF") => unsupported("PDF"),
        Err(_) => Err(ImageError::UnknownFormat),
    }
}

/// Whether an end-of-image marker follows the start of the scan data. Some phones append data
/// after it, so look for the marker anywhere after the first start-of-scan.
fn has_jpeg_end(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else { return false };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn classify_error(err: ::image::ImageError) -> ImageError {
    use ::image::ImageError as E;
    match err {
        E::Limits(e) => ImageError::OutOfMemory(e.to_string()),
        E::Unsupported(e) => ImageError::Unsupported { format: e.to_string() },
        other => ImageError::Corrupt(other.to_string()),
    }
}

/// PIL's nearest-neighbour resize: output pixel `x` samples input `floor((x + 0.5) * in / out)`.
fn resize_nearest(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (in_w, in_h) = image.dimensions();
    let source = |out: u32, in_len: u32, out_len: u32| -> u32 {
        let x = ((f64::from(out) + 0.5) * f64::from(in_len) / f64::from(out_len)).floor() as u32;
        x.min(in_len - 1)
    };
    RgbImage::from_fn(width, height, |x, y| {
        *image.get_pixel(source(x, in_w, width), source(y, in_h, height))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_resize_follows_pil_grid() {
        // 4 columns → 2: PIL samples columns 1 and 3.
        let img = RgbImage::from_fn(4, 1, |x, _| ::image::Rgb([x as u8 * 10, 0, 0]));
        let out = resize_nearest(&img, 2, 1);
        assert_eq!(out.get_pixel(0, 0)[0], 10);
        assert_eq!(out.get_pixel(1, 0)[0], 30);
    }

    #[test]
    fn center_crop_keeps_the_middle_square() {
        // Left third red, middle third green, right third blue, 30×10.
        let img = RgbImage::from_fn(30, 10, |x, _| match x / 10 {
            0 => ::image::Rgb([255, 0, 0]),
            1 => ::image::Rgb([0, 255, 0]),
            _ => ::image::Rgb([0, 0, 255]),
        });
        let out = PreprocessConfig::baseline(5).resize(&img);
        assert_eq!(out.dimensions(), (5, 5));
        assert!(out.pixels().all(|p| p[1] > 200 && p[0] < 50 && p[2] < 50));
    }
}
