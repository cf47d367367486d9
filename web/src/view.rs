//! What the page shows, as plain serialisable data: the model's description, a photo's answer,
//! and the augmentation preview's settings. Kept apart from the wasm bindings so it is tested
//! natively.

use serde::{Deserialize, Serialize};

use vlinder_core::augment::{FillMode, TransformParams};
use vlinder_core::bundle::BundleHeader;
use vlinder_core::classify::{Confidence, Prediction};

/// The loaded model, for the page's "model" line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelView {
    pub architecture: String,
    pub image_size: usize,
    pub classes: Vec<String>,
    pub dataset: String,
    pub created: String,
    pub validation_accuracy: Option<f64>,
    pub likely: f32,
    pub possible: f32,
    /// Size of the bundle file in bytes (0 when unknown).
    pub bytes: usize,
}

impl ModelView {
    pub fn new(header: &BundleHeader, bytes: usize) -> Self {
        Self {
            architecture: header.architecture.name().to_string(),
            image_size: header.preprocess.image_size,
            classes: header.classes.iter().map(|c| c.label().to_string()).collect(),
            dataset: header.provenance.dataset.clone(),
            created: header.provenance.created.clone(),
            validation_accuracy: header.provenance.validation.as_ref().map(|v| v.accuracy),
            likely: header.thresholds.likely,
            possible: header.thresholds.possible,
            bytes,
        }
    }
}

/// One class in the answer, with everything needed to name it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassView {
    pub id: String,
    pub probability: f32,
    pub english: String,
    pub dutch: Option<String>,
    pub scientific: Option<String>,
    pub field_mark: Option<String>,
    pub field_mark_dutch: Option<String>,
    /// True for the catch-all class ("none of the three").
    pub other: bool,
}

/// The answer for one photo.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhotoView {
    /// `likely`, `possible` or `not_sure`, by the bundle's thresholds.
    pub verdict: Confidence,
    /// Whether the page names a species: only when the top class is one of the look-alikes and
    /// at least "possible". Otherwise it shows its not-sure state (low confidence, or the model's
    /// best guess is "another species").
    pub names_species: bool,
    /// All classes, most probable first.
    pub ranking: Vec<ClassView>,
    /// Probabilities in the bundle's class order (what `vlinder predict --json` prints).
    pub probabilities: Vec<f32>,
    pub decode_ms: f64,
    pub forward_ms: f64,
}

impl PhotoView {
    pub fn new(header: &BundleHeader, prediction: &Prediction, decode_ms: f64, forward_ms: f64) -> Self {
        let ranking: Vec<ClassView> = prediction
            .ranking
            .iter()
            .map(|r| {
                let info = header.classes.get(r.index);
                ClassView {
                    id: r.id.clone(),
                    probability: r.probability,
                    english: info.map_or(r.id.clone(), |c| c.label().to_string()),
                    dutch: info.and_then(|c| c.dutch.clone()),
                    scientific: info.and_then(|c| c.scientific.clone()),
                    field_mark: info.and_then(|c| c.field_mark.clone()),
                    field_mark_dutch: info.and_then(|c| c.field_mark_dutch.clone()),
                    other: r.id == "other",
                }
            })
            .collect();
        let names_species = prediction.confidence != Confidence::NotSure && !ranking.first().is_some_and(|c| c.other);
        Self {
            verdict: prediction.confidence,
            names_species,
            ranking,
            probabilities: prediction.probabilities.clone(),
            decode_ms,
            forward_ms,
        }
    }
}

/// The preview's sliders, in the units a person reads: degrees, fractions of the side, zoom
/// factors (< 1 zooms in, as Keras).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PreviewSettings {
    pub rotation: f64,
    /// Fraction of the width, positive = right.
    pub width_shift: f64,
    /// Fraction of the height, positive = down.
    pub height_shift: f64,
    pub shear: f64,
    pub zoom_rows: f64,
    pub zoom_cols: f64,
    pub flip_horizontal: bool,
    pub flip_vertical: bool,
    pub fill_mode: FillMode,
}

impl Default for PreviewSettings {
    fn default() -> Self {
        Self::from_params(&TransformParams::default(), 1, 1)
    }
}

impl PreviewSettings {
    /// Keras' transform for an image of `height × width` (shifts in pixels).
    pub fn to_params(&self, height: usize, width: usize) -> TransformParams {
        TransformParams {
            theta: self.rotation,
            tx: self.height_shift * height as f64,
            ty: self.width_shift * width as f64,
            shear: self.shear,
            zx: self.zoom_rows,
            zy: self.zoom_cols,
            flip_horizontal: self.flip_horizontal,
            flip_vertical: self.flip_vertical,
            fill_mode: self.fill_mode,
            cval: 0.0,
        }
    }

    pub fn from_params(params: &TransformParams, height: usize, width: usize) -> Self {
        Self {
            rotation: params.theta,
            width_shift: params.ty / width as f64,
            height_shift: params.tx / height as f64,
            shear: params.shear,
            zoom_rows: params.zx,
            zoom_cols: params.zy,
            flip_horizontal: params.flip_horizontal,
            flip_vertical: params.flip_vertical,
            fill_mode: params.fill_mode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use vlinder_core::augment::AugmentConfig;
    use vlinder_core::bundle::{Architecture, Provenance, Thresholds};
    use vlinder_core::classify::Ranked;
    use vlinder_core::model::{BaselineConfig, Head};
    use vlinder_core::{ClassList, Precision, PreprocessConfig};

    fn answer(probabilities: [f32; 4]) -> PhotoView {
        let header = BundleHeader {
            architecture: Architecture::Baseline { config: BaselineConfig::new(Head::Softmax(4)) },
            classes: ClassList::from_ids(["coenonympha_pamphilus", "maniola_jurtina", "other", "pyronia_tithonus"]),
            preprocess: PreprocessConfig::baseline(75),
            precision: Precision::F32,
            thresholds: Thresholds { likely: 0.7, possible: 0.5 },
            provenance: Provenance::default(),
        };
        let mut ranking: Vec<Ranked> = probabilities
            .iter()
            .enumerate()
            .map(|(index, &probability)| Ranked { index, id: header.classes.get(index).unwrap().id.clone(), probability })
            .collect();
        ranking.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        let top = ranking[0].probability;
        let confidence = if top >= 0.7 { Confidence::Likely } else if top >= 0.5 { Confidence::Possible } else { Confidence::NotSure };
        PhotoView::new(&header, &Prediction { probabilities: probabilities.to_vec(), ranking, confidence }, 0.0, 0.0)
    }

    #[test]
    fn a_species_is_named_only_when_confident_and_not_other() {
        let meadow = answer([0.1, 0.8, 0.05, 0.05]);
        assert!(meadow.names_species);
        assert_eq!(meadow.ranking[0].english, "meadow brown");
        assert_eq!(meadow.ranking[0].dutch.as_deref(), Some("bruin zandoogje"));
        assert!(meadow.ranking[0].field_mark.as_deref().unwrap().contains("One white pupil"));
        assert!(answer([0.1, 0.55, 0.05, 0.3]).names_species, "possible");
        assert!(!answer([0.3, 0.4, 0.1, 0.2]).names_species, "below the possible threshold");
        let other = answer([0.05, 0.05, 0.85, 0.05]);
        assert!(!other.names_species && other.ranking[0].other);
    }

    #[test]
    fn settings_round_trip_through_keras_params() {
        let params = AugmentConfig::tutorial().sample(75, 75, &mut rand::rngs::StdRng::seed_from_u64(7));
        let settings = PreviewSettings::from_params(&params, 75, 75);
        let back = settings.to_params(75, 75);
        assert!((back.tx - params.tx).abs() < 1e-9 && (back.ty - params.ty).abs() < 1e-9);
        assert_eq!((back.theta, back.shear, back.zx, back.zy), (params.theta, params.shear, params.zx, params.zy));
        assert!(settings.width_shift.abs() <= 0.2 && settings.rotation.abs() <= 40.0);
    }

    #[test]
    fn missing_settings_mean_the_identity() {
        let settings: PreviewSettings = serde_json::from_str(r#"{"rotation": 10}"#).unwrap();
        let params = settings.to_params(75, 75);
        assert_eq!(params, TransformParams { theta: 10.0, ..TransformParams::default() });
    }
}
