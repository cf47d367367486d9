//! EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for phones): no squeeze-excite, ReLU6,
//! stem 32 and head 1280 channels, the B0 block table, and TensorFlow's "same" padding.
//!
//! Batch normalisation is folded into the preceding convolution when the ImageNet weights are
//! imported ([`Lite0::from_torch`]), so every convolution here has a bias and there is no
//! batch-norm layer: the network is what inference needs, and fine-tuning keeps the ImageNet
//! statistics (the usual choice for small data sets).

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::ops::PadMode;

/// The B0 table: (expand ratio, output channels, repeats, kernel, first stride).
const STAGES: [(usize, usize, usize, usize, usize); 7] =
    [(1, 16, 1, 3, 1), (6, 24, 2, 3, 2), (6, 40, 2, 5, 2), (6, 80, 3, 3, 2), (6, 112, 3, 5, 1), (6, 192, 4, 5, 2), (6, 320, 1, 3, 1)];
const STEM: usize = 32;
/// Width of the pooled features the classifier head reads.
pub const FEATURES: usize = 1280;
/// Batch-norm epsilon of the reference weights.
pub const BN_EPS: f32 = 1e-3;

#[derive(Config, Debug, PartialEq)]
pub struct Lite0Config {
    /// Outputs of the classifier head (1000 for the ImageNet weights).
    pub classes: usize,
    #[config(default = 224)]
    pub image_size: usize,
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// One inverted-residual block: 1×1 expand → k×k depthwise (stride s) → 1×1 project, ReLU6 after
/// the first two, a residual connection when the shape is unchanged.
#[derive(Module, Debug)]
pub struct MbConv<B: Backend> {
    pub(crate) expand: Option<Conv2d<B>>,
    pub(crate) depthwise: Conv2d<B>,
    pub(crate) project: Conv2d<B>,
    kernel: usize,
    stride: usize,
    residual: bool,
}

#[derive(Module, Debug)]
pub struct Lite0<B: Backend> {
    pub(crate) stem: Conv2d<B>,
    pub(crate) blocks: Vec<MbConv<B>>,
    pub(crate) head: Conv2d<B>,
    dropout: Dropout,
    pub(crate) classifier: Linear<B>,
}

/// Per block: (input channels, expand ratio, output channels, kernel, stride).
fn block_table() -> Vec<(usize, usize, usize, usize, usize)> {
    let mut blocks = Vec::new();
    let mut channels = STEM;
    for (expand, out, repeats, kernel, stride) in STAGES {
        for i in 0..repeats {
            blocks.push((channels, expand, out, kernel, if i == 0 { stride } else { 1 }));
            channels = out;
        }
    }
    blocks
}

fn conv<B: Backend>(channels: [usize; 2], kernel: usize, stride: usize, groups: usize, device: &B::Device) -> Conv2d<B> {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Valid) // padded by `same_pad` first
        .init(device)
}

impl Lite0Config {
    pub fn init<B: Backend>(&self, device: &B::Device) -> Lite0<B> {
        let blocks = block_table()
            .into_iter()
            .map(|(cin, expand, cout, kernel, stride)| {
                let hidden = cin * expand;
                MbConv {
                    expand: (expand != 1).then(|| conv([cin, hidden], 1, 1, 1, device)),
                    depthwise: conv([hidden, hidden], kernel, stride, hidden, device),
                    project: conv([hidden, cout], 1, 1, 1, device),
                    kernel,
                    stride,
                    residual: stride == 1 && cin == cout,
                }
            })
            .collect();
        Lite0 {
            stem: conv([3, STEM], 3, 2, 1, device),
            blocks,
            head: conv([320, FEATURES], 1, 1, 1, device),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(FEATURES, self.classes).init(device),
        }
    }
}

/// TensorFlow "same" padding for a k×k, stride-s convolution: the output is ⌈n / s⌉ and the
/// padding's odd pixel goes after (right/bottom) — 0/1 for a 3×3 stride-2 conv on an even size.
fn same_pad<B: Backend>(x: Tensor<B, 4>, kernel: usize, stride: usize) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let total = |n: usize| ((n.div_ceil(stride) - 1) * stride + kernel).saturating_sub(n);
    let (th, tw) = (total(h), total(w));
    if th == 0 && tw == 0 {
        return x;
    }
    x.pad((tw / 2, tw - tw / 2, th / 2, th - th / 2), PadMode::Constant(0.0))
}

fn relu6<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    x.clamp(0.0, 6.0)
}

impl<B: Backend> MbConv<B> {
    fn forward(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let mut x = input.clone();
        if let Some(expand) = &self.expand {
            x = relu6(expand.forward(x));
        }
        x = relu6(self.depthwise.forward(same_pad(x, self.kernel, self.stride)));
        x = self.project.forward(x);
        if self.residual { x + input } else { x }
    }
}

impl<B: Backend> Lite0<B> {
    /// Normalised images `[batch, 3, S, S]` → pooled features `[batch, 1280]`.
    pub fn features(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = relu6(self.stem.forward(same_pad(images, 3, 2)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x = relu6(self.head.forward(x));
        let [batch, channels, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([batch, channels])
    }

    /// Features `[batch, 1280]` → logits `[batch, classes]`.
    pub fn classify_features(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        self.classifier.forward(self.dropout.forward(features))
    }

    /// Normalised images `[batch, 3, S, S]` → logits `[batch, classes]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.classify_features(self.features(images))
    }

    /// Number of blocks (16); `--freeze N` counts in these.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Stops training the stem and the first `blocks` blocks (all 16 and the head convolution
    /// too when `blocks` ≥ 17): fine-tuning then updates only what follows.
    pub fn freeze(mut self, blocks: usize) -> Self {
        self.stem = self.stem.no_grad();
        self.blocks = self.blocks.into_iter().enumerate().map(|(i, b)| if i < blocks { b.no_grad() } else { b }).collect();
        if blocks > 16 {
            self.head = self.head.no_grad();
        }
        self
    }

    /// Replaces the classifier head by a fresh one for `classes` classes.
    pub fn with_new_head(mut self, classes: usize, device: &B::Device) -> Self {
        self.classifier = LinearConfig::new(FEATURES, classes).init(device);
        self
    }

    /// Sets the classifier head's weights `[1280, classes]` and bias.
    pub fn with_head(mut self, weight: Tensor<B, 2>, bias: Tensor<B, 1>) -> Self {
        self.classifier.weight = Param::from_tensor(weight);
        self.classifier.bias = Some(Param::from_tensor(bias));
        self
    }

    /// Builds the network from a PyTorch EfficientNet-Lite0 state dict (`tensor(key)` returns the
    /// shape and row-major values), folding every batch norm into its convolution.
    pub fn from_torch(
        config: &Lite0Config,
        tensor: &dyn Fn(&str) -> Option<(Vec<usize>, Vec<f32>)>,
        device: &B::Device,
    ) -> Result<Self, String> {
        let get = |key: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
            let (found, data) = tensor(key).ok_or_else(|| format!("the state dict has no `{key}`"))?;
            if found != shape {
                return Err(format!("`{key}` has shape {found:?}, expected {shape:?}"));
            }
            Ok(data)
        };
        // conv weight [O, I/g, k, k] + bn → folded weight and bias.
        let folded = |conv_key: &str, bn: &str, shape: [usize; 4]| -> Result<(Tensor<B, 4>, Tensor<B, 1>), String> {
            let mut w = get(&format!("{conv_key}.weight"), &shape)?;
            let o = shape[0];
            let gamma = get(&format!("{bn}.weight"), &[o])?;
            let beta = get(&format!("{bn}.bias"), &[o])?;
            let mean = get(&format!("{bn}.running_mean"), &[o])?;
            let var = get(&format!("{bn}.running_var"), &[o])?;
            let per_out = w.len() / o;
            let mut bias = vec![0.0; o];
            for c in 0..o {
                let scale = gamma[c] / (var[c] + BN_EPS).sqrt();
                w[c * per_out..(c + 1) * per_out].iter_mut().for_each(|v| *v *= scale);
                bias[c] = beta[c] - mean[c] * scale;
            }
            Ok((
                Tensor::from_data(TensorData::new(w, shape), device),
                Tensor::from_data(TensorData::new(bias, [o]), device),
            ))
        };
        let set = |conv: &mut Conv2d<B>, (w, b): (Tensor<B, 4>, Tensor<B, 1>)| {
            conv.weight = Param::from_tensor(w);
            conv.bias = Some(Param::from_tensor(b));
        };
        let mut net = config.init::<B>(device);
        set(&mut net.stem, folded("_conv_stem", "_bn0", [STEM, 3, 3, 3])?);
        for (i, ((cin, expand, cout, kernel, _), block)) in block_table().into_iter().zip(net.blocks.iter_mut()).enumerate() {
            let hidden = cin * expand;
            let p = format!("_blocks.{i}");
            if let Some(conv) = block.expand.as_mut() {
                set(conv, folded(&format!("{p}._expand_conv"), &format!("{p}._bn0"), [hidden, cin, 1, 1])?);
            }
            set(&mut block.depthwise, folded(&format!("{p}._depthwise_conv"), &format!("{p}._bn1"), [hidden, 1, kernel, kernel])?);
            set(&mut block.project, folded(&format!("{p}._project_conv"), &format!("{p}._bn2"), [cout, hidden, 1, 1])?);
        }
        set(&mut net.head, folded("_conv_head", "_bn1", [FEATURES, 320, 1, 1])?);
        if config.classes == 1000 {
            // PyTorch's Linear weight is [out, in]; burn's is [in, out].
            let w = get("_fc.weight", &[1000, FEATURES])?;
            let b = get("_fc.bias", &[1000])?;
            let weight = Tensor::<B, 2>::from_data(TensorData::new(w, [1000, FEATURES]), device).transpose();
            net = net.with_head(weight, Tensor::from_data(TensorData::new(b, [1000]), device));
        }
        Ok(net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray;

    #[test]
    fn lite0_has_the_published_shape() {
        let device = Default::default();
        let net = Lite0Config::new(1000).init::<B>(&device);
        assert_eq!(net.block_count(), 16);
        // 4.65 M parameters with batch norm; folded, the BN scale/shift pairs become biases.
        let params = net.num_params();
        assert!((4_600_000..4_700_000).contains(&params), "{params}");
        let features = net.features(Tensor::zeros([1, 3, 224, 224], &device));
        assert_eq!(features.dims(), [1, FEATURES]);
    }

    #[test]
    fn same_padding_puts_the_odd_pixel_after() {
        let device = Default::default();
        let x = Tensor::<B, 4>::ones([1, 1, 224, 224], &device);
        // 3×3 stride 2 on 224: output 112 needs 223 + 3 − 224 = 1 pixel, after.
        let padded = same_pad(x.clone(), 3, 2);
        assert_eq!(padded.dims(), [1, 1, 225, 225]);
        let first: f32 = padded.clone().slice(s![.., .., 0..1, 0..1]).into_scalar();
        let last: f32 = padded.slice(s![.., .., 224..225, 224..225]).into_scalar();
        assert_eq!((first, last), (1.0, 0.0));
        // 5×5 stride 2 on 56: output 28 needs 3: 1 before, 2 after.
        let padded = same_pad(Tensor::<B, 4>::ones([1, 1, 56, 56], &device), 5, 2);
        assert_eq!(padded.dims(), [1, 1, 59, 59]);
        let sum: f32 = padded.slice(s![.., .., 0..1, ..]).sum().into_scalar();
        assert_eq!(sum, 0.0, "one zero row before");
        // Stride 1: symmetric.
        assert_eq!(same_pad(Tensor::<B, 4>::ones([1, 1, 14, 14], &device), 5, 1).dims(), [1, 1, 18, 18]);
    }
}
