//! Decoding photos of every supported format, EXIF orientation, and every kind of bad input.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};
use vlinder_core::preprocess::{DecodeLimits, ImageError, PreprocessConfig, ResizeMode, decode};

/// 32×16: left half red, right half blue.
fn two_halves() -> RgbImage {
    RgbImage::from_fn(32, 16, |x, _| if x < 16 { Rgb([230, 20, 20]) } else { Rgb([20, 20, 230]) })
}

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::WebP => image::codecs::webp::WebPEncoder::new_lossless(&mut out)
            .encode(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8)
            .unwrap(),
        _ => image.write_to(&mut out, format).unwrap(),
    }
    out.into_inner()
}

/// Inserts an EXIF APP1 segment with the given orientation right after the JPEG's SOI marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes()); // IFD0 offset
    tiff.extend(1u16.to_le_bytes()); // one entry
    tiff.extend(0x0112u16.to_le_bytes()); // Orientation
    tiff.extend(3u16.to_le_bytes()); // SHORT
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(orientation.to_le_bytes());
    tiff.extend([0, 0]);
    tiff.extend(0u32.to_le_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
    out.extend(&jpeg[2..]);
    out
}

fn is_red(p: &Rgb<u8>) -> bool {
    p[0] > 180 && p[2] < 80
}

fn is_blue(p: &Rgb<u8>) -> bool {
    p[2] > 180 && p[0] < 80
}

#[test]
fn every_supported_format_decodes_to_the_same_picture() {
    let original = two_halves();
    for format in [ImageFormat::Png, ImageFormat::Bmp, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Jpeg] {
        let decoded = decode(&encode(&original, format), &DecodeLimits::default())
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(decoded.dimensions(), (32, 16), "{format:?}");
        assert!(is_red(decoded.get_pixel(4, 8)) && is_blue(decoded.get_pixel(28, 8)), "{format:?}");
        if matches!(format, ImageFormat::Png | ImageFormat::Bmp | ImageFormat::WebP) {
            assert_eq!(decoded, original, "{format:?} is lossless");
        }
    }
}

#[test]
fn exif_orientation_is_applied() {
    let jpeg = encode(&two_halves(), ImageFormat::Jpeg);
    // 6 = "rotate 90° clockwise to display": the left (red) half ends up on top.
    let rotated = decode(&with_exif_orientation(&jpeg, 6), &DecodeLimits::default()).unwrap();
    assert_eq!(rotated.dimensions(), (16, 32));
    assert!(is_red(rotated.get_pixel(8, 4)) && is_blue(rotated.get_pixel(8, 28)));
    // 3 = 180°: red moves to the right.
    let upside_down = decode(&with_exif_orientation(&jpeg, 3), &DecodeLimits::default()).unwrap();
    assert_eq!(upside_down.dimensions(), (32, 16));
    assert!(is_blue(upside_down.get_pixel(4, 8)) && is_red(upside_down.get_pixel(28, 8)));
}

#[test]
fn unsupported_formats_are_named() {
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0".to_vec();
    assert_eq!(decode(&heic, &DecodeLimits::default()), Err(ImageError::Unsupported { format: "HEIC".into() }));
    let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1".to_vec();
    assert_eq!(decode(&avif, &DecodeLimits::default()), Err(ImageError::Unsupported { format: "AVIF".into() }));
    let tiff = encode(&two_halves(), ImageFormat::Png);
    let mut tiff_header = b"II*\0".to_vec();
    tiff_header.extend(&tiff[..40]);
    let err = decode(&tiff_header, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(&err, ImageError::Unsupported { format } if format.contains("TIFF")), "{err}");
    assert!(err.to_string().contains("not supported"));
    assert_eq!(decode(b"hello, not an image", &DecodeLimits::default()), Err(ImageError::UnknownFormat));
    assert_eq!(decode(b"", &DecodeLimits::default()), Err(ImageError::Empty));
}

#[test]
fn truncated_and_corrupt_files_are_refused() {
    for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::WebP, ImageFormat::Bmp] {
        let bytes = encode(&two_halves(), format);
        let cut = &bytes[..bytes.len() * 6 / 10];
        let err = decode(cut, &DecodeLimits::default()).expect_err(&format!("{format:?} cut short"));
        assert!(matches!(err, ImageError::Corrupt(_)), "{format:?}: {err:?}");
    }
    let mut png = encode(&two_halves(), ImageFormat::Png);
    let mid = png.len() / 2;
    png[mid..mid + 8].copy_from_slice(&[0xAB; 8]);
    assert!(matches!(decode(&png, &DecodeLimits::default()), Err(ImageError::Corrupt(_))));
}

#[test]
fn huge_images_are_refused_before_allocating() {
    // A PNG header claiming 60000×60000 (3.6 gigapixels) with valid checksums and no pixel data.
    let mut png = encode(&RgbImage::new(1, 1), ImageFormat::Png);
    png[16..20].copy_from_slice(&60000u32.to_be_bytes());
    png[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    match decode(&png, &DecodeLimits::default()) {
        Err(ImageError::TooLarge { width: 60000, height: 60000, max_megapixels: 40 }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let small_limit = DecodeLimits { max_pixels: 100, ..DecodeLimits::default() };
    let err = decode(&encode(&two_halves(), ImageFormat::Jpeg), &small_limit).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
}

#[test]
fn prepare_resizes_and_rescales_as_configured() {
    let jpeg = encode(&two_halves(), ImageFormat::Png);
    let stretch = PreprocessConfig::tutorial(8);
    assert_eq!(stretch.resize, ResizeMode::Stretch);
    let img = stretch.prepare(&jpeg, &DecodeLimits::default()).unwrap();
    assert_eq!((img.width, img.height), (8, 8));
    assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
    // Stretching keeps both halves; the centre crop keeps the middle 16×16, half red half blue too.
    assert!((img.at(0, 0, 0) - 230.0 / 255.0).abs() < 1e-6 && (img.at(0, 7, 2) - 230.0 / 255.0).abs() < 1e-6);
    let wide = RgbImage::from_fn(48, 16, |x, _| if (16..32).contains(&x) { Rgb([0, 200, 0]) } else { Rgb([200, 0, 0]) });
    let crop = PreprocessConfig::baseline(4).prepare(&encode(&wide, ImageFormat::Png), &DecodeLimits::default()).unwrap();
    assert!(crop.data.chunks(3).all(|p| p[1] > 0.7 && p[0] < 0.1), "the centre crop sees only the green middle");
}
