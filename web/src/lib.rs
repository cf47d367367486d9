//! The Vlinder classifier in the browser.
//!
//! One object, [`Vlinder`], lives in the page's Web Worker: it holds the loaded model bundle and
//! the last photo, classifies photos and renders augmentation previews — all with the same
//! `vlinder-core` code the trainer uses. JavaScript only moves bytes and draws what comes back.
//!
//! Every exported method returns `Result`: bad bundles and bad photos become JavaScript `Error`s
//! whose `name` says which kind (`BundleError`, `ImageError`, `UsageError`) and whose message is
//! written for a volunteer. A panic would be a bug; [`start`] installs a hook that reports it on
//! the console before the worker dies, and the page then restarts the worker.

pub mod text;
pub mod view;

use burn::backend::NdArray;
use rand::SeedableRng;
use rand::rngs::StdRng;
use wasm_bindgen::prelude::*;

use vlinder_core::augment::{self, AugmentConfig};
use vlinder_core::{Bundle, Classifier, DecodeLimits, FloatImage};

use view::{ModelView, PhotoView, PreviewSettings};

/// Installs the panic hook. Called once when the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("Vlinder crashed (this is a bug): {info}").into());
    }));
}

/// A JavaScript `Error` with `name` set to the kind of failure.
fn error(kind: &str, message: impl std::fmt::Display) -> JsValue {
    let error = js_sys::Error::new(&message.to_string());
    error.set_name(kind);
    error.into()
}

/// Serde value → plain JavaScript object (via JSON: small payloads, no extra dependency).
fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let json = serde_json::to_string(value).map_err(|e| error("UsageError", e))?;
    js_sys::JSON::parse(&json)
}

fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, JsValue> {
    let json = js_sys::JSON::stringify(value)?.as_string().unwrap_or_default();
    serde_json::from_str(&json).map_err(|e| error("UsageError", format!("bad settings: {e}")))
}

/// Milliseconds from a monotonic clock (`performance.now()`, in the page or a worker).
fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// RGBA `ImageData` of an image on the 0–255 scale.
fn image_data(image: &FloatImage) -> Result<web_sys::ImageData, JsValue> {
    let mut rgba = Vec::with_capacity(image.width * image.height * 4);
    for pixel in image.to_rgb8().pixels() {
        rgba.extend_from_slice(&[pixel[0], pixel[1], pixel[2], 255]);
    }
    // Copied out of wasm memory: a view into it would be detached when the memory grows.
    let pixels = js_sys::Uint8ClampedArray::from(rgba.as_slice());
    web_sys::ImageData::new_with_js_u8_clamped_array_and_sh(&pixels, image.width as u32, image.height as u32)
}

/// The classifier, its model and the current photo.
#[wasm_bindgen]
pub struct Vlinder {
    classifier: Option<Classifier<NdArray>>,
    /// The current photo as the model sees it before normalisation: S×S, 0–255.
    crop: Option<FloatImage>,
    limits: DecodeLimits,
}

impl Default for Vlinder {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl Vlinder {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Vlinder {
        Vlinder { classifier: None, crop: None, limits: DecodeLimits::default() }
    }

    /// Loads a `.vlinder` bundle and returns its description. On any error the previous model
    /// stays loaded.
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&mut self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let bundle = Bundle::from_bytes(bytes).map_err(|e| error("BundleError", e))?;
        let classifier = Classifier::from_bundle(&bundle, &Default::default()).map_err(|e| error("BundleError", e))?;
        let view = ModelView::new(classifier.header(), bytes.len());
        self.classifier = Some(classifier);
        self.crop = None; // the crop size belongs to the model
        to_js(&view)
    }

    /// The loaded model's description, or `null`.
    #[wasm_bindgen(js_name = modelInfo)]
    pub fn model_info(&self) -> Result<JsValue, JsValue> {
        match &self.classifier {
            Some(c) => to_js(&ModelView::new(c.header(), 0)),
            None => Ok(JsValue::NULL),
        }
    }

    /// Decodes a photo (any size up to the limits; EXIF orientation applied), prepares it as in
    /// training and classifies it. Returns the ranked classes with names, the verdict, timings
    /// and `crop`: the S×S image the model saw, as `ImageData`.
    pub fn classify(&mut self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let classifier = self.classifier.as_ref().ok_or_else(|| error("UsageError", "no model is loaded"))?;
        let preprocess = &classifier.header().preprocess;
        let started = now_ms();
        let crop = preprocess.load(bytes, &self.limits).map_err(|e| error("ImageError", e))?;
        let decoded = now_ms();
        let prediction = classifier
            .classify(std::slice::from_ref(&preprocess.normalize(crop.clone())))
            .map_err(|e| error("ImageError", e))?
            .remove(0);
        let classified = now_ms();
        let view = PhotoView::new(classifier.header(), &prediction, decoded - started, classified - decoded);
        let result = to_js(&view)?;
        js_sys::Reflect::set(&result, &"crop".into(), &image_data(&crop)?.into())?;
        self.crop = Some(crop);
        Ok(result)
    }

    /// The current photo's crop transformed by `settings` (a [`PreviewSettings`] object), as
    /// `ImageData`: what the trainer would feed the network for that transform.
    pub fn preview(&self, settings: JsValue) -> Result<web_sys::ImageData, JsValue> {
        let crop = self.crop.as_ref().ok_or_else(|| error("UsageError", "choose a photo first"))?;
        let settings: PreviewSettings = from_js(&settings)?;
        image_data(&augment::apply(crop, &settings.to_params(crop.height, crop.width)))
    }

    /// Draws one transform the way training does (the tutorial's ranges), from `seed`.
    #[wasm_bindgen(js_name = randomSettings)]
    pub fn random_settings(&self, seed: u32) -> Result<JsValue, JsValue> {
        let side = self.classifier.as_ref().map_or(75, |c| c.header().preprocess.image_size);
        let params = AugmentConfig::tutorial().sample(side, side, &mut StdRng::seed_from_u64(seed as u64));
        to_js(&PreviewSettings::from_params(&params, side, side))
    }

    /// Times the model's forward pass alone on the current crop: `runs` passes, in milliseconds.
    #[wasm_bindgen(js_name = benchForward)]
    pub fn bench_forward(&self, runs: u32) -> Result<Vec<f64>, JsValue> {
        let classifier = self.classifier.as_ref().ok_or_else(|| error("UsageError", "no model is loaded"))?;
        let crop = self.crop.as_ref().ok_or_else(|| error("UsageError", "choose a photo first"))?;
        let input = [classifier.header().preprocess.normalize(crop.clone())];
        let mut times = Vec::with_capacity(runs as usize);
        for _ in 0..runs {
            let t = now_ms();
            classifier.classify(&input).map_err(|e| error("ImageError", e))?;
            times.push(now_ms() - t);
        }
        Ok(times)
    }
}

/// The page's text in `language` (`en` or `nl`; anything else gets English).
#[wasm_bindgen(js_name = uiText)]
pub fn ui_text(language: &str) -> Result<JsValue, JsValue> {
    to_js(&text::strings(text::Language::from_tag(language)))
}
