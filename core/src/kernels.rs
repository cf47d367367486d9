//! The baseline network's forward pass for single photos, in plain Rust loops.
//!
//! burn is built for batches: at batch 1 its `Linear` copies the 1.3 M dense weights on every
//! call and its tensor machinery costs more than the arithmetic. Classifying one photo at a time
//! is what the page and `vlinder predict` do, so [`Classifier`](crate::Classifier) runs the
//! baseline through these kernels instead — the same weights, the same arithmetic up to float
//! summation order (tested against the burn network below).
//!
//! Activations are kept channels-last (HWC): a 2×2 convolution's patch is then two contiguous
//! runs of `2·C` values, and every inner loop runs over a contiguous row of output channels,
//! which the compiler vectorises (SIMD128 in the browser, AVX natively).

use burn::prelude::*;

use crate::model::Baseline;

/// Output channels of the two convolutions and of the dense layer (fixed by the tutorial).
const CONV1: usize = 32;
const CONV2: usize = 64;
const DENSE: usize = 64;

/// The baseline's weights, rearranged for the loops below.
#[derive(Clone, Debug)]
pub struct BaselineKernels {
    side: usize,
    /// `[4·3][32]`: row `(dy·2 + dx)·C + c` holds `w[o][c][dy][dx]` over `o`.
    conv1: Vec<f32>,
    conv1_bias: [f32; CONV1],
    /// `[4·32][64]`, same layout.
    conv2: Vec<f32>,
    conv2_bias: [f32; CONV2],
    /// `[F·F·64][64]`, rows in HWC order (burn flattens CHW; the rows are permuted once here).
    dense: Vec<f32>,
    dense_bias: [f32; DENSE],
    /// `[64][outputs]`.
    head: Vec<f32>,
    head_bias: Vec<f32>,
}

fn floats<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().expect("float tensor")
}

fn array<const N: usize>(v: Vec<f32>) -> [f32; N] {
    v.try_into().expect("layer width fixed by the architecture")
}

/// `[O, C, 2, 2]` burn weights → `[(dy·2 + dx)·C + c][O]`.
fn conv_rows<B: Backend>(weight: Tensor<B, 4>) -> Vec<f32> {
    let [o, c, _, _] = weight.dims();
    let w = floats(weight);
    let mut rows = vec![0.0; 4 * c * o];
    for oi in 0..o {
        for ci in 0..c {
            for tap in 0..4 {
                rows[(tap * c + ci) * o + oi] = w[(oi * c + ci) * 4 + tap];
            }
        }
    }
    rows
}

impl BaselineKernels {
    /// Copies and rearranges the weights of `network`, whose input side is `side`.
    pub fn new<B: Backend>(network: &Baseline<B>, side: usize) -> Self {
        let bias = |b: &Option<burn::module::Param<Tensor<B, 1>>>, n: usize| {
            b.as_ref().map(|p| floats(p.val())).unwrap_or_else(|| vec![0.0; n])
        };
        let features = (side / 2 - 1) / 2;
        // burn's Linear weight is [in, out] with `in` in CHW order; reorder rows to HWC.
        let dense_chw = floats(network.dense.weight.val());
        let mut dense = vec![0.0; dense_chw.len()];
        for c in 0..CONV2 {
            for y in 0..features {
                for x in 0..features {
                    let chw = (c * features + y) * features + x;
                    let hwc = (y * features + x) * CONV2 + c;
                    dense[hwc * DENSE..][..DENSE].copy_from_slice(&dense_chw[chw * DENSE..][..DENSE]);
                }
            }
        }
        let outputs = network.head.weight.dims()[1];
        Self {
            side,
            conv1: conv_rows(network.conv1.weight.val()),
            conv1_bias: array(bias(&network.conv1.bias, CONV1)),
            conv2: conv_rows(network.conv2.weight.val()),
            conv2_bias: array(bias(&network.conv2.bias, CONV2)),
            dense,
            dense_bias: array(bias(&network.dense.bias, DENSE)),
            head: floats(network.head.weight.val()),
            head_bias: bias(&network.head.bias, outputs),
        }
    }

    /// One normalised S×S image, HWC → logits.
    pub fn forward(&self, hwc: &[f32]) -> Vec<f32> {
        let s = self.side;
        assert_eq!(hwc.len(), s * s * 3, "the image must be {s}×{s}×3");
        // Keras "same" for 2×2: one row and column of zeros after.
        let mut padded = vec![0.0; (s + 1) * (s + 1) * 3];
        for y in 0..s {
            padded[y * (s + 1) * 3..][..s * 3].copy_from_slice(&hwc[y * s * 3..][..s * 3]);
        }
        let x = conv2x2::<CONV1>(&padded, s + 1, s + 1, 3, &self.conv1, &self.conv1_bias);
        let (x, side) = max_pool2x2_relu::<CONV1>(&x, s, s);
        let x = conv2x2::<CONV2>(&x, side, side, CONV1, &self.conv2, &self.conv2_bias);
        let (x, _) = max_pool2x2_relu::<CONV2>(&x, side - 1, side - 1);
        let mut hidden = vector_matrix::<DENSE>(&x, &self.dense, &self.dense_bias);
        hidden.iter_mut().for_each(|v| *v = v.max(0.0));
        let outputs = self.head_bias.len();
        let mut logits = self.head_bias.clone();
        for (a, row) in hidden.iter().zip(self.head.chunks_exact(outputs)) {
            for (l, w) in logits.iter_mut().zip(row) {
                *l += a * w;
            }
        }
        logits
    }
}

/// Unpadded 2×2 convolution, stride 1: HWC `[h][w][cin]` → `[h − 1][w − 1][O]`.
///
/// A matrix product `patches [pixels][4·cin] · rows [4·cin][O]` computed in register-sized tiles:
/// 4 neighbouring pixels × 8 output channels, so each weight loaded serves four pixels and the 32
/// running sums stay in SIMD registers (measured 2× faster than one pixel at a time).
fn conv2x2<const O: usize>(input: &[f32], height: usize, width: usize, cin: usize, rows: &[f32], bias: &[f32; O]) -> Vec<f32> {
    let (oh, ow) = (height - 1, width - 1);
    let mut out = vec![0.0; oh * ow * O];
    for y in 0..oh {
        // A pixel's patch is (x, x+1) of row y, then of row y+1: 2·cin contiguous values each.
        let rows_yx = [&input[y * width * cin..(y + 1) * width * cin], &input[(y + 1) * width * cin..(y + 2) * width * cin]];
        let out_row = &mut out[y * ow * O..(y + 1) * ow * O];
        let mut x = 0;
        while x + TILE_PIXELS <= ow {
            conv_tile::<O, TILE_PIXELS>(rows_yx, x, cin, rows, bias, &mut out_row[x * O..(x + TILE_PIXELS) * O]);
            x += TILE_PIXELS;
        }
        for x in x..ow {
            conv_tile::<O, 1>(rows_yx, x, cin, rows, bias, &mut out_row[x * O..(x + 1) * O]);
        }
    }
    out
}

const TILE_PIXELS: usize = 4;
const TILE_CHANNELS: usize = 8;

/// `P` pixels starting at column `x` of one output row, all `O` channels, `TILE_CHANNELS` at a time.
#[inline(always)]
fn conv_tile<const O: usize, const P: usize>(input_rows: [&[f32]; 2], x: usize, cin: usize, rows: &[f32], bias: &[f32; O], out: &mut [f32]) {
    let taps = 2 * cin;
    let patches: [[&[f32]; P]; 2] = input_rows.map(|row| std::array::from_fn(|p| &row[(x + p) * cin..(x + p) * cin + taps]));
    assert!(rows.len() >= 2 * taps * O && O % TILE_CHANNELS == 0 && out.len() >= P * O);
    for channel in (0..O).step_by(TILE_CHANNELS) {
        // SAFETY: every index below is within the bounds asserted above.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        unsafe {
            wasm_simd::conv_tile(&patches, taps, rows, O, bias, channel, out);
            continue;
        }
        #[allow(unreachable_code)]
        let start: [f32; TILE_CHANNELS] = bias[channel..channel + TILE_CHANNELS].try_into().unwrap();
        let mut acc = [start; P];
        for (dy, patch) in patches.iter().enumerate() {
            for k in 0..taps {
                // SAFETY: k < taps = every patch's length, and (dy·taps + k)·O + channel + 8 ≤
                // 2·taps·O (asserted above). Bounds checks here cost a third of the speed.
                let (a, w): ([f32; P], &[f32; TILE_CHANNELS]) = unsafe {
                    (
                        std::array::from_fn(|p| *patch[p].get_unchecked(k)),
                        &*(rows.as_ptr().add((dy * taps + k) * O + channel) as *const [f32; TILE_CHANNELS]),
                    )
                };
                for p in 0..P {
                    for o in 0..TILE_CHANNELS {
                        acc[p][o] += a[p] * w[o];
                    }
                }
            }
        }
        for p in 0..P {
            out[p * O + channel..p * O + channel + TILE_CHANNELS].copy_from_slice(&acc[p]);
        }
    }
}

/// The same tile with explicit SIMD128: V8 does not keep the auto-vectorised sums in registers
/// (measured: the portable loop is slower in the browser than the one-pixel version).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm_simd {
    use core::arch::wasm32::*;

    /// Caller guarantees: `patches[dy][p].len() == taps`, `rows.len() ≥ 2·taps·o`,
    /// `channel + 8 ≤ o`, `bias.len() ≥ channel + 8`, `out.len() ≥ (P − 1)·o + channel + 8`.
    #[inline(always)]
    pub(super) unsafe fn conv_tile<const P: usize>(
        patches: &[[&[f32]; P]; 2],
        taps: usize,
        rows: &[f32],
        o: usize,
        bias: &[f32],
        channel: usize,
        out: &mut [f32],
    ) {
        unsafe {
            let low = v128_load(bias.as_ptr().add(channel) as *const v128);
            let high = v128_load(bias.as_ptr().add(channel + 4) as *const v128);
            let (mut acc_low, mut acc_high) = ([low; P], [high; P]);
            for (dy, patch) in patches.iter().enumerate() {
                for k in 0..taps {
                    let w = rows.as_ptr().add((dy * taps + k) * o + channel);
                    let (w_low, w_high) = (v128_load(w as *const v128), v128_load(w.add(4) as *const v128));
                    for p in 0..P {
                        let a = f32x4_splat(*patch[p].get_unchecked(k));
                        acc_low[p] = f32x4_add(acc_low[p], f32x4_mul(a, w_low));
                        acc_high[p] = f32x4_add(acc_high[p], f32x4_mul(a, w_high));
                    }
                }
            }
            for p in 0..P {
                let dst = out.as_mut_ptr().add(p * o + channel);
                v128_store(dst as *mut v128, acc_low[p]);
                v128_store(dst.add(4) as *mut v128, acc_high[p]);
            }
        }
    }
}

/// 2×2 max pooling, stride 2 (an odd last row/column dropped), then ReLU (they commute, and
/// after pooling there are four times fewer values): HWC → (HWC, new side).
fn max_pool2x2_relu<const C: usize>(input: &[f32], height: usize, width: usize) -> (Vec<f32>, usize) {
    let (oh, ow) = (height / 2, width / 2);
    let mut out = vec![0.0; oh * ow * C];
    for y in 0..oh {
        for x in 0..ow {
            let at = |dy: usize, dx: usize| &input[((2 * y + dy) * width + 2 * x + dx) * C..][..C];
            let (a, b, c, d) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
            let o = &mut out[(y * ow + x) * C..][..C];
            for i in 0..C {
                o[i] = a[i].max(b[i]).max(c[i].max(d[i])).max(0.0);
            }
        }
    }
    debug_assert_eq!(oh, ow);
    (out, oh)
}

/// `x · W + b` for `W [len(x)][N]`, skipping zero inputs.
fn vector_matrix<const N: usize>(x: &[f32], weights: &[f32], bias: &[f32; N]) -> Vec<f32> {
    let mut acc = *bias;
    for (&a, w) in x.iter().zip(weights.chunks_exact(N)) {
        if a == 0.0 {
            continue;
        }
        let w: &[f32; N] = w.try_into().unwrap();
        for o in 0..N {
            acc[o] += a * w[o];
        }
    }
    acc.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BaselineConfig, Head};
    use burn::backend::NdArray;
    use burn::tensor::Distribution;

    type B = NdArray;

    #[test]
    fn kernels_compute_the_burn_networks_logits() {
        let device = Default::default();
        for (size, head) in [(75, Head::Softmax(4)), (32, Head::Sigmoid), (17, Head::Softmax(10))] {
            let network = BaselineConfig::new(head).with_image_size(size).init::<B>(&device);
            let kernels = BaselineKernels::new(&network, size);
            let images = Tensor::<B, 4>::random([1, size, size, 3], Distribution::Uniform(-1.0, 1.0), &device);
            let hwc = floats(images.clone());
            let expected = floats(network.forward(images.permute([0, 3, 1, 2])));
            let got = kernels.forward(&hwc);
            assert_eq!(got.len(), head.outputs());
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() < 1e-4 * e.abs().max(1.0), "{size}: {g} vs {e}");
            }
        }
    }
}
