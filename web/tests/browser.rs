//! The web crate's API in a real browser (headless Chromium via wasm-bindgen-test):
//! `./dev test` runs `cargo test -p vlinder-web --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]

use burn::backend::NdArray;
use image::{ImageFormat, RgbImage};
use vlinder_core::bundle::{Architecture, Provenance, Thresholds};
use vlinder_core::model::{BaselineConfig, Head};
use vlinder_core::{Bundle, BundleHeader, ClassList, Classifier, DecodeLimits, Precision, PreprocessConfig};
use vlinder_web::Vlinder;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const CLASSES: [&str; 4] = ["coenonympha_pamphilus", "maniola_jurtina", "other", "pyronia_tithonus"];

fn bundle_bytes(size: usize) -> Vec<u8> {
    let header = BundleHeader {
        architecture: Architecture::Baseline { config: BaselineConfig::new(Head::Softmax(4)).with_image_size(size) },
        classes: ClassList::from_ids(CLASSES),
        preprocess: PreprocessConfig::baseline(size),
        precision: Precision::F32,
        thresholds: Thresholds::default(),
        provenance: Provenance { dataset: "browser test".into(), ..Default::default() },
    };
    let network = header.architecture.init::<NdArray>(&Default::default());
    Bundle::from_network(header, network).unwrap().to_bytes()
}

/// A 40×30 PNG: orange left half, brown right half.
fn photo() -> Vec<u8> {
    let image = RgbImage::from_fn(40, 30, |x, _| if x < 20 { image::Rgb([230, 140, 40]) } else { image::Rgb([90, 60, 30]) });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &key.into()).unwrap()
}

fn error_name_and_message(error: JsValue) -> (String, String) {
    let error: js_sys::Error = error.dyn_into().expect("errors are JavaScript Error objects");
    (error.name().into(), error.message().into())
}

#[wasm_bindgen_test]
fn loads_a_bundle_and_classifies_like_the_core() {
    let bytes = bundle_bytes(16);
    let mut vlinder = Vlinder::new();
    let info = vlinder.load_model(&bytes).unwrap();
    assert_eq!(get(&info, "architecture").as_string().unwrap(), "baseline");
    assert_eq!(get(&info, "image_size").as_f64().unwrap(), 16.0);
    assert_eq!(js_sys::Array::from(&get(&info, "classes")).length(), 4);

    let result = vlinder.classify(&photo()).unwrap();
    let ranking = js_sys::Array::from(&get(&result, "ranking"));
    assert_eq!(ranking.length(), 4);
    let probs: Vec<f64> = ranking.iter().map(|c| get(&c, "probability").as_f64().unwrap()).collect();
    assert!(probs.windows(2).all(|w| w[0] >= w[1]), "ranked: {probs:?}");
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-5);

    // The same numbers as the core's classifier on the same bytes (what `vlinder predict` runs).
    let reference = Classifier::<NdArray>::from_bytes(&bytes, &Default::default())
        .unwrap()
        .classify_bytes(&photo(), &DecodeLimits::default())
        .unwrap();
    let in_class_order = js_sys::Array::from(&get(&result, "probabilities"));
    for (i, p) in reference.probabilities.iter().enumerate() {
        assert!((in_class_order.get(i as u32).as_f64().unwrap() - *p as f64).abs() < 1e-6);
    }
    let top = ranking.get(0);
    assert_eq!(get(&top, "id").as_string().unwrap(), reference.top().id);

    let crop: web_sys::ImageData = get(&result, "crop").dyn_into().unwrap();
    assert_eq!((crop.width(), crop.height()), (16, 16));
    // The left of the crop is orange, the right brown.
    let rgba = crop.data().0;
    assert_eq!(&rgba[..4], &[230, 140, 40, 255]);
    assert!(rgba[15 * 4] < 140, "{:?}", &rgba[15 * 4..15 * 4 + 4]);
}

#[wasm_bindgen_test]
fn a_corrupt_bundle_is_refused_and_the_previous_model_stays() {
    let mut vlinder = Vlinder::new();
    vlinder.load_model(&bundle_bytes(16)).unwrap();
    let mut damaged = bundle_bytes(12);
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    let (name, message) = error_name_and_message(vlinder.load_model(&damaged).unwrap_err());
    assert_eq!(name, "BundleError");
    assert!(message.contains("damaged"), "{message}");
    let (name, message) = error_name_and_message(vlinder.load_model(b"PK\x03\x04 not a model").unwrap_err());
    assert_eq!(name, "BundleError");
    assert!(message.contains("not a Vlinder model"), "{message}");
    // Still the 16×16 model.
    assert_eq!(get(&vlinder.model_info().unwrap(), "image_size").as_f64().unwrap(), 16.0);
    assert!(vlinder.classify(&photo()).is_ok());
}

#[wasm_bindgen_test]
fn a_corrupt_or_unsupported_photo_is_an_image_error() {
    let mut vlinder = Vlinder::new();
    let (name, message) = error_name_and_message(vlinder.classify(&photo()).unwrap_err());
    assert_eq!((name.as_str(), message.as_str()), ("UsageError", "no model is loaded"));
    vlinder.load_model(&bundle_bytes(16)).unwrap();

    let mut truncated = photo();
    truncated.truncate(truncated.len() / 2);
    let (name, message) = error_name_and_message(vlinder.classify(&truncated).unwrap_err());
    assert_eq!(name, "ImageError");
    assert!(message.contains("damaged or incomplete"), "{message}");

    let (name, message) = error_name_and_message(vlinder.classify(b"\0\0\0\x18ftypheic\0\0\0\0").unwrap_err());
    assert_eq!(name, "ImageError");
    assert!(message.contains("HEIC"), "{message}");

    let (name, _) = error_name_and_message(vlinder.classify(b"hello").unwrap_err());
    assert_eq!(name, "ImageError");

    // A PNG header claiming 60000×60000 pixels: refused by size, before any pixel memory.
    let mut huge = photo();
    huge[16..20].copy_from_slice(&60000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let crc = crc32fast::hash(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    let (name, message) = error_name_and_message(vlinder.classify(&huge).unwrap_err());
    assert_eq!(name, "ImageError");
    assert!(message.contains("too large (60000×60000 pixels)"), "{message}");
}

#[wasm_bindgen_test]
fn the_preview_applies_the_sliders_to_the_crop() {
    let mut vlinder = Vlinder::new();
    vlinder.load_model(&bundle_bytes(16)).unwrap();
    assert!(vlinder.preview(JsValue::from(js_sys::Object::new())).is_err(), "no photo yet");
    let result = vlinder.classify(&photo()).unwrap();
    let crop: web_sys::ImageData = get(&result, "crop").dyn_into().unwrap();

    let identity = vlinder.preview(js_sys::JSON::parse("{}").unwrap()).unwrap();
    assert_eq!(identity.data().0, crop.data().0);
    let mirrored = vlinder.preview(js_sys::JSON::parse(r#"{"flip_horizontal": true}"#).unwrap()).unwrap();
    let (original, mirrored) = (crop.data().0, mirrored.data().0);
    for (a, b) in original.chunks(16 * 4).zip(mirrored.chunks(16 * 4)) {
        let reversed: Vec<&[u8]> = a.chunks(4).rev().collect();
        assert_eq!(b.chunks(4).collect::<Vec<_>>(), reversed);
    }
    assert_ne!(original, mirrored);

    let random = vlinder.random_settings(7).unwrap();
    let again = vlinder.random_settings(7).unwrap();
    assert_eq!(js_sys::JSON::stringify(&random).unwrap(), js_sys::JSON::stringify(&again).unwrap());
    let rotation = get(&random, "rotation").as_f64().unwrap();
    assert!(rotation.abs() <= 40.0 && rotation != 0.0);
    assert!(vlinder.preview(js_sys::JSON::parse(r#"{"rotation": "left"}"#).unwrap()).is_err());
}

/// The SIMD128 kernels (compiled only for the browser) compute what burn's network computes.
#[wasm_bindgen_test]
fn browser_kernels_match_burns_network() {
    use burn::prelude::*;
    let device = Default::default();
    for (size, classes) in [(75, 4), (21, 3)] {
        let network = BaselineConfig::new(Head::Softmax(classes)).with_image_size(size).init::<NdArray>(&device);
        let kernels = vlinder_core::kernels::BaselineKernels::new(&network, size);
        let hwc: Vec<f32> = (0..size * size * 3).map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0).collect();
        let chw = Tensor::<NdArray, 1>::from_floats(hwc.as_slice(), &device).reshape([1, size, size, 3]).permute([0, 3, 1, 2]);
        let expected: Vec<f32> = network.forward(chw).into_data().to_vec().unwrap();
        let got = kernels.forward(&hwc);
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-4 * e.abs().max(1.0), "{size}: {g} vs {e}");
        }
    }
}
