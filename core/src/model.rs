//! The networks. [`Baseline`] is the tutorial's CNN, layer for layer.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, softmax};

/// The classifier on top of the features.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum Head {
    /// The tutorial's single sigmoid output for two classes (binary cross-entropy).
    Sigmoid,
    /// Softmax over this many classes (cross-entropy).
    Softmax(usize),
}

impl Head {
    /// The head for `classes` classes: the tutorial's sigmoid when `sigmoid` and there are two.
    pub fn for_classes(classes: usize, sigmoid: bool) -> Self {
        if sigmoid && classes == 2 { Head::Sigmoid } else { Head::Softmax(classes) }
    }

    /// Number of network outputs.
    pub fn outputs(&self) -> usize {
        match self {
            Head::Sigmoid => 1,
            Head::Softmax(n) => *n,
        }
    }

    /// Number of classes the head tells apart.
    pub fn classes(&self) -> usize {
        match self {
            Head::Sigmoid => 2,
            Head::Softmax(n) => *n,
        }
    }
}

/// Keras "same" padding for a 2×2 kernel: 0 before, 1 after (top, left, bottom, right).
pub const KERAS_SAME_2X2: PaddingConfig2d = PaddingConfig2d::Explicit(0, 0, 1, 1);

/// Configuration of the tutorial CNN.
#[derive(Config, Debug, PartialEq)]
pub struct BaselineConfig {
    pub head: Head,
    /// Side S of the square input.
    #[config(default = 75)]
    pub image_size: usize,
    #[config(default = 0.25)]
    pub dropout: f64,
}

impl BaselineConfig {
    /// Side of the feature map after the second pooling: S → S/2 → S/2 − 1 → (S/2 − 1)/2.
    pub fn feature_side(&self) -> usize {
        (self.image_size / 2 - 1) / 2
    }

    /// Builds the network with fresh weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Baseline<B> {
        let side = self.feature_side();
        Baseline {
            conv1: Conv2dConfig::new([3, 32], [2, 2]).with_padding(KERAS_SAME_2X2).init(device),
            conv2: Conv2dConfig::new([32, 64], [2, 2]).with_padding(PaddingConfig2d::Valid).init(device),
            dense: LinearConfig::new(64 * side * side, 64).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(64, self.head.outputs()).init(device),
        }
    }
}

/// The tutorial CNN: Conv 2×2×32 same → ReLU → MaxPool 2 → Conv 2×2×64 valid → ReLU → MaxPool 2
/// → Flatten → Dense 64 → ReLU → Dropout → head.
#[derive(Module, Debug)]
pub struct Baseline<B: Backend> {
    pub(crate) conv1: Conv2d<B>,
    pub(crate) conv2: Conv2d<B>,
    pub(crate) dense: Linear<B>,
    dropout: Dropout,
    pub(crate) head: Linear<B>,
}

impl<B: Backend> Baseline<B> {
    /// Images `[batch, 3, S, S]` → logits `[batch, outputs]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        // Keras "same" for 2×2: one row and column of zeros after.
        let padded = images.pad((0, 1, 0, 1), burn::tensor::ops::PadMode::Constant(0.0));
        let x = max_pool2x2(relu(conv2x2(&self.conv1, padded)));
        let x = max_pool2x2(relu(conv2x2(&self.conv2, x)));
        let x = x.flatten::<2>(1, 3);
        let x = self.dropout.forward(relu(self.dense.forward(x)));
        self.head.forward(x)
    }
}

/// A 2×2, stride-1, unpadded convolution as im2col + one matrix product. Same weights and result
/// as `conv.forward` without padding, but its gradient is a matrix product too: burn-ndarray's own
/// convolution backward pass (a transposed convolution with per-element indexing) made training
/// ~50× slower than Keras.
///
/// `x [batch, C, H, W]` → `[batch, O, H − 1, W − 1]`.
fn conv2x2<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [batch, channels, height, width] = x.dims();
    let (oh, ow) = (height - 1, width - 1);
    // The four shifted views, in the weight's (kh, kw) order: [batch, C, 4, oh, ow].
    let taps: Vec<Tensor<B, 4>> = [(0, 0), (0, 1), (1, 0), (1, 1)]
        .into_iter()
        .map(|(dy, dx)| x.clone().slice(s![.., .., dy..dy + oh, dx..dx + ow]))
        .collect();
    // [batch, C, 4, oh, ow] is contiguous, so this reshape is free: no permutes, which
    // burn-ndarray materialises element by element.
    let patches = Tensor::stack::<5>(taps, 2).reshape([batch, channels * 4, oh * ow]);
    let weight = conv.weight.val(); // [O, C, 2, 2]
    let out_channels = weight.dims()[0];
    let weight = weight.reshape([1, out_channels, channels * 4]);
    let mut y = weight.matmul(patches); // [batch, O, oh·ow], the weight broadcast over the batch
    if let Some(bias) = &conv.bias {
        y = y + bias.val().reshape([1, out_channels, 1]);
    }
    y.reshape([batch, out_channels, oh, ow])
}

/// 2×2 max pooling with stride 2 (an odd last row or column is dropped, as in Keras and
/// `MaxPool2d`), as three element-wise maxima of the four phases of a reshaped view: burn-ndarray's
/// pooling walks every element through dynamic-rank indexing, forward and backward. (`max_dim`
/// over the same view measured half as fast again: its backward pass scatters.)
///
/// `x [batch, C, H, W]` → `[batch, C, H / 2, W / 2]`.
fn max_pool2x2<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [batch, channels, height, width] = x.dims();
    let (oh, ow) = (height / 2, width / 2);
    let x = if height % 2 == 1 || width % 2 == 1 { x.slice(s![.., .., 0..oh * 2, 0..ow * 2]) } else { x };
    let x = x.reshape([batch, channels, oh, 2, ow, 2]);
    let phase = |dy: usize, dx: usize| x.clone().slice(s![.., .., .., dy..dy + 1, .., dx..dx + 1]);
    let top = phase(0, 0).max_pair(phase(0, 1));
    let bottom = phase(1, 0).max_pair(phase(1, 1));
    top.max_pair(bottom).reshape([batch, channels, oh, ow])
}

/// A network of any supported architecture; the bundle records it whole.
#[derive(Module, Debug)]
pub enum Network<B: Backend> {
    Baseline(Baseline<B>),
    Lite0(crate::lite0::Lite0<B>),
}

impl<B: Backend> Network<B> {
    /// Normalised images `[batch, 3, S, S]` → logits `[batch, outputs]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        match self {
            Network::Baseline(m) => m.forward(images),
            Network::Lite0(m) => m.forward(images),
        }
    }
}

/// Logits `[batch, outputs]` → class probabilities `[batch, classes]`. One output means the
/// tutorial's sigmoid: `[1 − p, p]` with class 1 the positive one, as Keras' binary labels.
pub fn probabilities<B: Backend>(logits: Tensor<B, 2>) -> Tensor<B, 2> {
    if logits.dims()[1] == 1 {
        let p = sigmoid(logits);
        Tensor::cat(vec![p.clone().neg().add_scalar(1.0), p], 1)
    } else {
        softmax(logits, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::nn::pool::MaxPool2dConfig;

    type B = NdArray;

    #[test]
    fn sigmoid_head_at_75_has_the_keras_parameter_count() {
        let model = BaselineConfig::new(Head::Sigmoid).init::<B>(&Default::default());
        assert_eq!(model.num_params(), 1_335_905);
    }

    #[test]
    fn softmax_head_outputs_one_logit_per_class_at_any_size() {
        let device = Default::default();
        for (size, classes) in [(75, 3), (32, 10), (64, 4)] {
            let config = BaselineConfig::new(Head::Softmax(classes)).with_image_size(size);
            let model = config.init::<B>(&device);
            let logits = model.forward(Tensor::zeros([2, 3, size, size], &device));
            assert_eq!(logits.dims(), [2, classes]);
            let side = config.feature_side();
            assert_eq!(model.num_params(), 416 + 8256 + (64 * side * side * 64 + 64) + (64 * classes + classes));
        }
    }

    #[test]
    fn same_padding_pads_after_like_keras() {
        // A 2×2 kernel of ones over a 2×2 image: Keras "same" sees only the bottom-right padding,
        // so output (0,0) sums all four pixels and (1,1) sees only pixel (1,1).
        let device = Default::default();
        let conv = Conv2dConfig::new([1, 1], [2, 2])
            .with_padding(KERAS_SAME_2X2)
            .with_bias(false)
            .with_initializer(burn::nn::Initializer::Ones)
            .init::<B>(&device);
        let image = Tensor::<B, 1>::from_floats([1.0, 2.0, 3.0, 4.0], &device).reshape([1, 1, 2, 2]);
        let out: Vec<f32> = conv.forward(image).into_data().to_vec().unwrap();
        assert_eq!(out, vec![10.0, 6.0, 7.0, 4.0]);
    }

    #[test]
    fn im2col_convolution_equals_burns_convolution() {
        let device = Default::default();
        let conv = Conv2dConfig::new([3, 5], [2, 2]).init::<B>(&device);
        let x = Tensor::<B, 4>::random([2, 3, 7, 6], burn::tensor::Distribution::Default, &device);
        let expected: Vec<f32> = conv.forward(x.clone()).into_data().to_vec().unwrap();
        let got: Vec<f32> = conv2x2(&conv, x).into_data().to_vec().unwrap();
        assert_eq!(got.len(), expected.len());
        for (a, b) in got.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn padded_im2col_equals_keras_same_convolution() {
        // The model pads one zero row and column after, then convolves unpadded: that must equal
        // burn's Conv2d with KERAS_SAME_2X2 padding, for any channel counts and sizes.
        let device = Default::default();
        for (cin, cout, size) in [(3, 32, 8), (32, 64, 5), (1, 4, 3)] {
            let conv = Conv2dConfig::new([cin, cout], [2, 2]).with_padding(KERAS_SAME_2X2).init::<B>(&device);
            let x = Tensor::<B, 4>::random([2, cin, size, size], burn::tensor::Distribution::Default, &device);
            let reference = conv.forward(x.clone());
            let ours = conv2x2(&conv, x.pad((0, 1, 0, 1), burn::tensor::ops::PadMode::Constant(0.0)));
            assert_eq!(ours.dims(), [2, cout, size, size]);
            let diff: f32 = (ours - reference).abs().max().into_scalar();
            assert!(diff < 1e-5, "{cin}→{cout} at {size}: {diff}");
        }
    }

    #[test]
    fn reshaped_max_pool_equals_burns_max_pool() {
        let device = Default::default();
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        for (h, w) in [(8, 8), (7, 9), (75, 75)] {
            let x = Tensor::<B, 4>::random([2, 3, h, w], burn::tensor::Distribution::Default, &device);
            let reference = pool.forward(x.clone());
            let ours = max_pool2x2(x);
            assert_eq!(ours.dims(), reference.dims());
            let diff: f32 = (ours - reference).abs().max().into_scalar();
            assert_eq!(diff, 0.0, "{h}×{w}");
        }
    }

    #[test]
    fn probabilities_sum_to_one_for_both_heads() {
        let device = Default::default();
        let binary = probabilities(Tensor::<B, 2>::from_floats([[0.0], [2.0]], &device));
        let v: Vec<f32> = binary.into_data().to_vec().unwrap();
        assert!((v[0] - 0.5).abs() < 1e-6 && (v[3] - 0.880797).abs() < 1e-5);
        assert!((v[2] + v[3] - 1.0).abs() < 1e-6);
        let multi = probabilities(Tensor::<B, 2>::from_floats([[1.0, 2.0, 3.0]], &device));
        let v: Vec<f32> = multi.into_data().to_vec().unwrap();
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6 && v[2] > v[1]);
    }
}
