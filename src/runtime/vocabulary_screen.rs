//! The greedy step's most likely token without streaming the fp32 output projection.
//!
//! A greedy decoder step needs only the argmax of the processed logits. Over a vocabulary of
//! 50k-250k rows the fp32 projection is the largest single product of the step (it streams the
//! whole tied embedding, 512 MB for M2M100), so the screen multiplies a smaller copy of it
//! instead, bounds how far each approximate logit can be from the fp32 one, and recomputes in
//! fp32 only the rows that could still be the maximum. The token chosen is the fp32 argmax: a
//! token left out has an fp32 logit below the fp32 logit of a token kept, by the bound. Greedy
//! search only: beam search needs every logit's exact value for its normalisation, so it keeps
//! the fp32 projection.
//!
//! Two copies, two bounds, for a row `w` of width K and a decoder state `x`:
//! - **int8** ([`Int8Weight`], the default where libtorch's quantized operators run: a quarter
//!   of the fp32 bytes). `w̃` is `w` rounded per row to 255 levels, `x̃` is `x` with every
//!   element moved by at most `e` ([`Int8Weight::activation_error`]), and the int8 product is
//!   `x̃·w̃` exactly (integer sums, then a few fp32 roundings). `x·w − x̃·w̃ = (x − x̃)·w +
//!   x̃·(w − w̃)`, so `|error| ≤ e·‖w‖₁ + (‖x‖₂ + e·√K)·‖w − w̃‖₂`, plus 2⁻¹⁸ of the product's
//!   magnitude `(‖x‖₂ + e·√K)·(‖w‖₂ + ‖w − w̃‖₂)` for the fp32 roundings.
//! - **bf16** (half the fp32 bytes; fast only with AVX-512 BF16). It rounds `w` and `x` to bf16
//!   (relative error at most u = 2⁻⁸ each), accumulates in fp32 (at most K·2⁻²⁴ of the sum of
//!   the products' magnitudes) and rounds the result to bf16 (u again), so
//!   `|error| ≤ (3u + u² + K·2⁻²⁴)·Σ|wᵢxᵢ| ≤ that · ‖w‖·‖x‖` (Cauchy-Schwarz). The screen uses
//!   2⁻⁶·‖w‖·‖x‖, which covers that for widths up to 16k with room to spare.
use tch::{Kind, Tensor};

use crate::runtime::int8_linear::{self, Int8Weight};

/// The factor of `‖w‖·‖x‖` that bounds a bf16 logit's distance from its fp32 value (module doc).
const BF16_ERROR_FACTOR: f64 = 1.0 / 64.0;

/// The int8 bound's share for the fp32 roundings of the operator's output (module doc).
const INT8_ROUNDING_FACTOR: f64 = 1.0 / 262_144.0;

/// Past this many candidates over all rows, recomputing them costs more than the full fp32
/// projection saves (flat distributions): the step falls back to the fp32 projection.
const MAX_CANDIDATES: i64 = 4096;

/// The copy of the projection a screen multiplies.
enum Approximation {
    /// With `‖w‖₁` of every row, for the bound.
    Int8 {
        weight: Int8Weight,
        row_sums: Tensor,
    },
    Bf16 {
        weight: Tensor,
    },
}

/// A smaller copy of an output projection and its rows' fp32 norms.
pub struct VocabularyScreen {
    approximation: Approximation,
    /// `‖w‖₂` of every row.
    row_norms: Tensor,
    width: i64,
}

impl VocabularyScreen {
    /// From the fp32 projection weight `[vocabulary, width]`: an int8 copy where this libtorch
    /// multiplies one, else bf16.
    pub fn new(weight: &Tensor) -> Self {
        if int8_linear::available() {
            match Self::int8(weight) {
                Ok(screen) => return screen,
                Err(error) => tracing::warn!(%error, "the vocabulary screen falls back to bf16"),
            }
        }
        Self::bf16(weight)
    }

    /// Over an int8 copy of `weight`.
    pub fn int8(weight: &Tensor) -> Result<Self, int8_linear::Int8LinearError> {
        let _no_grad = tch::no_grad_guard();
        let approximation = Approximation::Int8 {
            weight: Int8Weight::quantize(weight)?,
            // The 1-norm directly: `abs()` would be a whole fp32 copy at load.
            row_sums: weight.norm_scalaropt_dim(1, [1], false),
        };
        Ok(Self::over(weight, approximation))
    }

    /// Over a bf16 copy of `weight`.
    pub fn bf16(weight: &Tensor) -> Self {
        let _no_grad = tch::no_grad_guard();
        let approximation = Approximation::Bf16 {
            weight: weight.to_kind(Kind::BFloat16),
        };
        Self::over(weight, approximation)
    }

    fn over(weight: &Tensor, approximation: Approximation) -> Self {
        Self {
            approximation,
            row_norms: weight.norm_scalaropt_dim(2, [1], false),
            width: weight.size().last().copied().unwrap_or(0),
        }
    }

    /// The argmax of `process(x · weightᵀ + bias)` per row of `x` `[rows, width]`, as the fp32
    /// projection gives it; `None` when too many tokens stay candidates. `process` may only set
    /// logits to -inf (bans, forced tokens): it runs on the approximate logits, so a token it
    /// bans never becomes a candidate.
    pub fn argmax(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        process: impl FnOnce(&mut Tensor),
    ) -> Option<Vec<i64>> {
        let _no_grad = tch::no_grad_guard();
        let (approximate, slack) = self.approximate_logits(x)?;
        let mut approximate = approximate + bias;
        process(&mut approximate);
        // The best fp32 logit of a row is at least the best lower bound of its logits.
        let floor = (&approximate - &slack).amax([1], true);
        let candidates = (approximate + slack).ge_tensor(&floor).nonzero();
        let count = candidates.size()[0];
        if count > MAX_CANDIDATES {
            return None;
        }
        let rows = candidates.select(1, 0);
        let columns = candidates.select(1, 1);
        let exact = (x.index_select(0, &rows) * weight.index_select(0, &columns)).sum_dim_intlist(
            [1i64].as_slice(),
            false,
            Kind::Float,
        ) + bias.index_select(0, &columns);
        let rows = Vec::<i64>::try_from(&rows).ok()?;
        let columns = Vec::<i64>::try_from(&columns).ok()?;
        let exact = Vec::<f32>::try_from(&exact).ok()?;
        let mut best: Vec<Option<(f32, i64)>> = vec![None; x.size()[0] as usize];
        // `nonzero` lists candidates row by row in ascending columns: keeping the first of equal
        // logits picks the lowest token, as libtorch's argmax does.
        for ((row, column), logit) in rows.into_iter().zip(columns).zip(exact) {
            let slot = &mut best[row as usize];
            if slot.is_none_or(|(kept, _)| logit > kept) {
                *slot = Some((logit, column));
            }
        }
        best.into_iter()
            .map(|slot| slot.map(|(_, token)| token))
            .collect()
    }

    /// `x · weightᵀ` through the copy `[rows, vocabulary]`, and how far each of its elements
    /// may be from the fp32 product (module doc); `None` if the int8 operator refused.
    fn approximate_logits(&self, x: &Tensor) -> Option<(Tensor, Tensor)> {
        let norms = x.norm_scalaropt_dim(2, [1], true);
        let row_norms = self.row_norms.unsqueeze(0);
        match &self.approximation {
            Approximation::Int8 { weight, row_sums } => {
                let logits = weight.forward(x).ok()?;
                let moved = Int8Weight::activation_error(x);
                let rounded_norms = norms + moved * (self.width as f64).sqrt();
                let row_errors = weight.row_errors().unsqueeze(0);
                let slack = row_sums.unsqueeze(0) * moved
                    + &rounded_norms * &row_errors
                    + rounded_norms * (row_norms + row_errors) * INT8_ROUNDING_FACTOR;
                Some((logits, slack))
            }
            Approximation::Bf16 { weight } => Some((
                bf16_logits(weight, x),
                norms * row_norms * BF16_ERROR_FACTOR,
            )),
        }
    }

    /// Bytes the copy and the norms hold.
    pub fn bytes(&self) -> usize {
        let norms = self.row_norms.numel() * 4;
        match &self.approximation {
            Approximation::Int8 { weight, row_sums } => {
                weight.bytes() + row_sums.numel() * 4 + norms
            }
            Approximation::Bf16 { weight } => weight.numel() * 2 + norms,
        }
    }
}

/// `x · weightᵀ` in bf16, back in fp32: one row as `weight · xᵀ` (as the fp32 path streams
/// it), more rows through `linear` (oneDNN). `scripts/probe_bf16_projection.py` (one
/// thread, idle box): at one row the two tie (50,264 rows 10.1 / 10.3 ms, 128,112 rows
/// 29.2 / 30.2 ms, fp32 12.5 / 35.2 ms); from two rows `linear` leads (128,112 rows at 2 / 9
/// rows: 26.0 / 37.7 ms against 43.1 / 47.5 ms).
fn bf16_logits(weight: &Tensor, x: &Tensor) -> Tensor {
    let x = x.to_kind(Kind::BFloat16);
    let logits = if x.size()[0] == 1 {
        weight.matmul(&x.tr()).tr()
    } else {
        x.linear(weight, None::<Tensor>)
    };
    logits.to_kind(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fp32 argmax of `process(x · weightᵀ + bias)`, the result the screen must equal.
    fn fp32_argmax(
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        process: impl FnOnce(&mut Tensor),
    ) -> Vec<i64> {
        let mut logits = x.linear(weight, Some(bias));
        process(&mut logits);
        Vec::<i64>::try_from(logits.argmax(-1, false)).unwrap()
    }

    /// Both kinds of screen over `weight`.
    fn screens(weight: &Tensor) -> [VocabularyScreen; 2] {
        let int8 = VocabularyScreen::int8(weight).expect("this libtorch multiplies int8");
        [int8, VocabularyScreen::bf16(weight)]
    }

    #[test]
    fn the_screened_argmax_is_the_fp32_argmax() {
        tch::manual_seed(7);
        let _no_grad = tch::no_grad_guard();
        for (vocabulary, width, rows) in [(3000, 64, 1), (5000, 128, 9), (20000, 256, 4)] {
            let weight = Tensor::randn([vocabulary, width], (Kind::Float, tch::Device::Cpu)) * 0.05;
            let bias = Tensor::randn([vocabulary], (Kind::Float, tch::Device::Cpu)) * 0.01;
            for screen in screens(&weight) {
                for _ in 0..20 {
                    let x = Tensor::randn([rows, width], (Kind::Float, tch::Device::Cpu)) * 3.0;
                    let screened = screen
                        .argmax(&x, &weight, &bias, |_| {})
                        .expect("few candidates");
                    assert_eq!(screened, fp32_argmax(&x, &weight, &bias, |_| {}));
                }
            }
        }
    }

    #[test]
    fn near_ties_closer_than_the_copy_resolves_go_to_the_fp32_winner() {
        let _no_grad = tch::no_grad_guard();
        // Two rows that differ by 1e-4 in one coordinate: their bf16 copies are equal, and
        // their int8 copies' products tie, so only the fp32 recomputation can tell which logit
        // is larger, and it must.
        let width = 32;
        let base = Tensor::ones([width], (Kind::Float, tch::Device::Cpu)) * 0.1;
        let nudged = base.copy();
        let _ = nudged.get(5).fill_(0.1001);
        let filler = Tensor::zeros([10, width], (Kind::Float, tch::Device::Cpu));
        for (first, second, winner) in [(&base, &nudged, 1), (&nudged, &base, 0)] {
            let weight = Tensor::cat(&[first.unsqueeze(0), second.unsqueeze(0), filler.copy()], 0);
            let bias = Tensor::zeros([12], (Kind::Float, tch::Device::Cpu));
            let x = Tensor::ones([1, width], (Kind::Float, tch::Device::Cpu));
            for screen in screens(&weight) {
                assert_eq!(
                    screen.argmax(&x, &weight, &bias, |_| {}),
                    Some(vec![winner])
                );
            }
        }
    }

    #[test]
    fn a_token_that_bf16_ranks_below_another_still_wins_when_fp32_ranks_it_first() {
        let _no_grad = tch::no_grad_guard();
        // x alternates 1, -1, so token 0's logit is 32 · (1.0035 - 1.0) = 0.112 in fp32 but 0
        // in bf16 (1.0035 rounds to 1.0); token 1's is 0.05 either way. Without the bound the
        // screen would keep token 1 alone.
        let width = 64;
        let signs: Vec<f32> = (0..width)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let first: Vec<f32> = (0..width)
            .map(|i| if i % 2 == 0 { 1.0035 } else { 1.0 })
            .collect();
        let mut second = vec![0.0f32; width];
        second[0] = 0.05;
        let weight = Tensor::from_slice(&[first, second].concat()).view([2, width as i64]);
        let x = Tensor::from_slice(&signs).view([1, width as i64]);
        let bias = Tensor::zeros([2], (Kind::Float, tch::Device::Cpu));
        let bf16 = bf16_logits(&weight.to_kind(Kind::BFloat16), &x);
        assert!(bf16.double_value(&[0, 0]) < bf16.double_value(&[0, 1]));
        assert_eq!(
            VocabularyScreen::bf16(&weight).argmax(&x, &weight, &bias, |_| {}),
            Some(vec![0])
        );
    }

    #[test]
    fn a_token_that_int8_ranks_below_another_still_wins_when_fp32_ranks_it_first() {
        let _no_grad = tch::no_grad_guard();
        // Token 0's row is 1.0 then 63 values of 0.0039: per-row steps are 1/127, so they all
        // round to 0 and its int8 logit for x = (0, 1, …, 1) is 0, while its fp32 logit is
        // 63 · 0.0039 = 0.246. Token 1's is 0.1 either way. Without the bound the screen would
        // keep token 1 alone.
        let width = 64;
        let first: Vec<f32> = (0..width)
            .map(|i| if i == 0 { 1.0 } else { 0.0039 })
            .collect();
        let mut second = vec![0.0f32; width];
        second[1] = 0.1;
        let weight = Tensor::from_slice(&[first, second].concat()).view([2, width as i64]);
        let x: Vec<f32> = (0..width).map(|i| if i == 0 { 0.0 } else { 1.0 }).collect();
        let x = Tensor::from_slice(&x).view([1, width as i64]);
        let bias = Tensor::zeros([2], (Kind::Float, tch::Device::Cpu));
        let screen = VocabularyScreen::int8(&weight).unwrap();
        let (int8, _) = screen.approximate_logits(&x).unwrap();
        assert!(int8.double_value(&[0, 0]) < int8.double_value(&[0, 1]));
        assert_eq!(screen.argmax(&x, &weight, &bias, |_| {}), Some(vec![0]));
    }

    #[test]
    fn bans_and_forced_tokens_apply_before_the_screen_chooses() {
        tch::manual_seed(11);
        let _no_grad = tch::no_grad_guard();
        let weight = Tensor::randn([4000, 64], (Kind::Float, tch::Device::Cpu)) * 0.05;
        let bias = Tensor::zeros([4000], (Kind::Float, tch::Device::Cpu));
        let x = Tensor::randn([3, 64], (Kind::Float, tch::Device::Cpu)) * 3.0;
        for screen in screens(&weight) {
            let unprocessed = screen.argmax(&x, &weight, &bias, |_| {}).unwrap();
            let banned = Tensor::from_slice(&unprocessed);
            // Banning each row's winner everywhere moves every row to its fp32 runner-up.
            let ban = |logits: &mut Tensor| {
                let _ = logits.index_fill_(1, &banned, f64::NEG_INFINITY);
            };
            let screened = screen.argmax(&x, &weight, &bias, ban).unwrap();
            assert_eq!(screened, fp32_argmax(&x, &weight, &bias, ban));
            assert!(screened.iter().all(|token| !unprocessed.contains(token)));
            // A forced token wins whatever its logit.
            let others: Vec<i64> = (0..4000).filter(|&token| token != 17).collect();
            let force = |logits: &mut Tensor| {
                let _ = logits.index_fill_(1, &Tensor::from_slice(&others), f64::NEG_INFINITY);
            };
            assert_eq!(
                screen.argmax(&x, &weight, &bias, force),
                Some(vec![17, 17, 17])
            );
        }
    }

    #[test]
    fn a_flat_distribution_gives_up_rather_than_recompute_most_rows() {
        let _no_grad = tch::no_grad_guard();
        let weight = Tensor::ones([MAX_CANDIDATES + 10, 16], (Kind::Float, tch::Device::Cpu));
        let bias = Tensor::zeros([MAX_CANDIDATES + 10], (Kind::Float, tch::Device::Cpu));
        let x = Tensor::ones([1, 16], (Kind::Float, tch::Device::Cpu));
        for screen in screens(&weight) {
            assert!(screen.argmax(&x, &weight, &bias, |_| {}).is_none());
        }
    }
}
