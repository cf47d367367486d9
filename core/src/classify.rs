//! Bundle + photo → ranked classes with a confidence verdict: what the page and
//! `vlinder predict` show.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, BundleError, BundleHeader};
use crate::image::FloatImage;
use crate::kernels::BaselineKernels;
use crate::model::{Network, probabilities};
use crate::preprocess::{DecodeLimits, ImageError};

/// How sure the answer is, by the bundle's thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Likely,
    Possible,
    NotSure,
}

/// One class's share of the answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub index: usize,
    pub id: String,
    pub probability: f32,
}

/// The answer for one photo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Probability per class, in class order.
    pub probabilities: Vec<f32>,
    /// All classes, most probable first.
    pub ranking: Vec<Ranked>,
    pub confidence: Confidence,
}

impl Prediction {
    pub fn top(&self) -> &Ranked {
        &self.ranking[0]
    }
}

/// A loaded model ready to classify.
pub struct Classifier<B: Backend> {
    header: BundleHeader,
    network: Network<B>,
    /// The baseline's single-photo fast path (see [`crate::kernels`]); `None` for networks that
    /// run through burn.
    kernels: Option<BaselineKernels>,
    device: B::Device,
}

impl<B: Backend> Classifier<B> {
    /// Parses, verifies and loads a bundle.
    pub fn from_bytes(bytes: &[u8], device: &B::Device) -> Result<Self, BundleError> {
        Self::from_bundle(&Bundle::from_bytes(bytes)?, device)
    }

    pub fn from_bundle(bundle: &Bundle, device: &B::Device) -> Result<Self, BundleError> {
        let network = bundle.load_network(device)?;
        let kernels = match &network {
            Network::Baseline(baseline) => Some(BaselineKernels::new(baseline, bundle.header.preprocess.image_size)),
            Network::Lite0(_) => None,
        };
        Ok(Self { header: bundle.header.clone(), network, kernels, device: device.clone() })
    }

    pub fn header(&self) -> &BundleHeader {
        &self.header
    }

    pub fn network(&self) -> &Network<B> {
        &self.network
    }

    /// Decodes and preprocesses a photo exactly as training did, then classifies it.
    pub fn classify_bytes(&self, bytes: &[u8], limits: &DecodeLimits) -> Result<Prediction, ImageError> {
        let image = self.header.preprocess.prepare(bytes, limits)?;
        Ok(self.classify(std::slice::from_ref(&image))?.remove(0))
    }

    /// Classifies already-normalised S×S images (S from the bundle's preprocessing).
    pub fn classify(&self, images: &[FloatImage]) -> Result<Vec<Prediction>, ImageError> {
        let side = self.header.preprocess.image_size;
        if let Some(bad) = images.iter().find(|i| (i.width, i.height) != (side, side)) {
            return Err(ImageError::WrongSize { expected: side, width: bad.width, height: bad.height });
        }
        if images.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(kernels) = &self.kernels {
            return Ok(images.iter().map(|image| self.rank(softmax_or_sigmoid(kernels.forward(&image.data)))).collect());
        }
        let mut data = Vec::with_capacity(images.len() * 3 * side * side);
        for image in images {
            data.extend(image.to_chw());
        }
        let input = Tensor::<B, 1>::from_floats(data.as_slice(), &self.device).reshape([images.len(), 3, side, side]);
        let probs: Vec<f32> = probabilities(self.network.forward(input)).into_data().convert::<f32>().to_vec().unwrap();
        Ok(probs.chunks(self.header.classes.len()).map(|p| self.rank(p.to_vec())).collect())
    }

    /// Ranks class probabilities and applies the bundle's thresholds.
    pub fn rank(&self, probabilities: Vec<f32>) -> Prediction {
        let mut ranking: Vec<Ranked> = probabilities
            .iter()
            .enumerate()
            .map(|(index, &probability)| Ranked {
                index,
                id: self.header.classes.get(index).map(|c| c.id.clone()).unwrap_or_default(),
                probability,
            })
            .collect();
        ranking.sort_by(|a, b| b.probability.total_cmp(&a.probability).then(a.index.cmp(&b.index)));
        let top = ranking[0].probability;
        let t = self.header.thresholds;
        let confidence = if top >= t.likely {
            Confidence::Likely
        } else if top >= t.possible {
            Confidence::Possible
        } else {
            Confidence::NotSure
        };
        Prediction { probabilities, ranking, confidence }
    }
}

/// Logits of one image → probabilities, as [`probabilities`] does for a batch: one logit is the
/// tutorial's sigmoid (`[1 − p, p]`), more are a softmax.
pub fn softmax_or_sigmoid(logits: Vec<f32>) -> Vec<f32> {
    if let [logit] = logits[..] {
        let p = 1.0 / (1.0 + (-logit).exp());
        return vec![1.0 - p, p];
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}
