//! Linear products over an int8 copy of a weight, through libtorch's quantized operators.
//!
//! Why: a greedy decoder step with one row is bound by the bytes it streams, and its largest
//! product, the output projection, streams the whole fp32 tied embedding (206 MB for
//! BART-large widths, 525 MB for M2M100). An int8 copy is a quarter of that:
//! `python scripts/probe_int8_projection.py` (one thread) measures the one-row product of
//! 50,264 × 1,024 and 128,112 × 1,024 against fp32. The int8 product is approximate; its only
//! user, the vocabulary screen, bounds its error and recomputes the close rows in fp32.
//!
//! The operators (`quantized::linear_prepack` and `quantized::linear_dynamic`, fbgemm's or,
//! on CPUs with VNNI, oneDNN's) live outside ATen, so a C++ bridge (`int8_linear.cpp`, compiled
//! by build.rs) calls them through libtorch's dispatcher. The weight is quantized per row,
//! symmetric, to [-127, 127]; x is quantized per call, per tensor, to 7 bits (`reduce_range`),
//! so no product of a u8 and an s8 pair overflows the 16-bit sums of CPUs without VNNI.
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::NonNull;

use tch::{Kind, Tensor};
use torch_sys::C_tensor;

extern "C" {
    fn precis_int8_pack_linear_weight(
        weight: *const C_tensor,
        out: *mut *mut c_void,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;
    fn precis_int8_linear(
        x: *const C_tensor,
        packed: *const c_void,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;
    fn precis_int8_free_linear_weight(packed: *mut c_void);
}

/// libtorch refused an operator; its message.
#[derive(Debug, thiserror::Error)]
#[error("int8 linear: {0}")]
pub struct Int8LinearError(String);

/// Calls one bridge function with an error buffer; the object it allocated, or libtorch's
/// message.
fn bridged<T>(
    call: impl FnOnce(*mut *mut T, *mut c_char, usize) -> c_int,
) -> Result<NonNull<T>, Int8LinearError> {
    let mut out: *mut T = std::ptr::null_mut();
    let mut error = [0 as c_char; 1024];
    let status = call(&mut out, error.as_mut_ptr(), error.len());
    match NonNull::new(out) {
        Some(out) if status == 0 => Ok(out),
        _ => {
            // SAFETY: the bridge wrote a NUL-terminated message into the buffer (or left zeros).
            let message = unsafe { CStr::from_ptr(error.as_ptr()) };
            Err(Int8LinearError(message.to_string_lossy().into_owned()))
        }
    }
}

/// Rows quantized at once at load (32 MB of fp32 temporaries at 1,024 wide).
const QUANTIZED_ROWS_AT_ONCE: i64 = 8192;

/// Rows per packed operator weight. Packing copies its int8 source, so one packed copy of a
/// whole 128,112-row embedding would sit beside a whole int8 one at load (M2M100: +131 MB of
/// peak RSS). Each slice costs a step one more operator call: in
/// `scripts/probe_int8_projection.py`, the one-row 128,112 × 1,024 product took 12.5 ms whole,
/// 13.4 ms in 32,768-row slices and 14.3 ms in 8,192-row ones.
const PACKED_ROWS_AT_ONCE: i64 = 32_768;

/// The coarsest step x is quantized with is this many-th of its range (7 bits).
const ACTIVATION_LEVELS: f64 = 127.0;

/// An fp32 weight `[out, in]` as packed int8 rows, and how far each row moved.
pub struct Int8Weight {
    /// Consecutive slices of the rows, in order, each packed for the operator.
    slices: Vec<NonNull<c_void>>,
    /// `‖w − dequantized w‖₂` of every row `[out]`.
    row_errors: Tensor,
    inputs: i64,
}

// SAFETY: the packed slices are immutable libtorch objects (their reference counts are
// atomic) and `row_errors` is never written after `quantize`; the operator only reads them,
// from any thread.
unsafe impl Send for Int8Weight {}
// SAFETY: as above: concurrent products read the same packed bytes.
unsafe impl Sync for Int8Weight {}

impl Int8Weight {
    /// Quantizes `weight` (fp32 `[out, in]`) per row and packs it; the fp32 tensor is not kept.
    pub fn quantize(weight: &Tensor) -> Result<Self, Int8LinearError> {
        Self::quantize_in_slices(weight, PACKED_ROWS_AT_ONCE)
    }

    /// [`Self::quantize`], packing at most `packed_rows` rows per operator weight.
    fn quantize_in_slices(weight: &Tensor, packed_rows: i64) -> Result<Self, Int8LinearError> {
        let _no_grad = tch::no_grad_guard();
        let [outputs, inputs] = weight.size()[..] else {
            return Err(Int8LinearError(format!(
                "a weight is [out, in], not {:?}",
                weight.size()
            )));
        };
        let mut result = Self {
            slices: Vec::new(),
            row_errors: Tensor::empty([outputs], (Kind::Float, tch::Device::Cpu)),
            inputs,
        };
        for start in (0..outputs).step_by(packed_rows.max(1) as usize) {
            let rows = (outputs - start).min(packed_rows);
            let packed = pack_rows(
                &weight.narrow(0, start, rows),
                &result.row_errors.narrow(0, start, rows),
            )?;
            // Pushed at once: a later slice's error still frees this one (Drop).
            result.slices.push(packed);
        }
        Ok(result)
    }

    /// `x · weightᵀ` approximately, for fp32 `x` `[rows, in]`; see [`Self::activation_error`]
    /// and [`Self::row_errors`] for how far it can be from the fp32 product.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, Int8LinearError> {
        let x = x.to_kind(Kind::Float).contiguous();
        if x.dim() != 2 || x.size()[1] != self.inputs {
            return Err(Int8LinearError(format!(
                "x is [rows, {}], not {:?}",
                self.inputs,
                x.size()
            )));
        }
        // Every slice's call quantizes the same x with the same step, so one bound covers all.
        let mut parts = self
            .slices
            .iter()
            .map(|packed| {
                let out = bridged(|out, error, capacity| {
                    // SAFETY: `x` and the packed slice outlive the call; the bridge only reads
                    // them.
                    unsafe { precis_int8_linear(x.as_ptr(), packed.as_ptr(), out, error, capacity) }
                })?;
                // SAFETY: the bridge returned a tensor it allocated with `new`; tch deletes it
                // on drop.
                Ok(unsafe { Tensor::from_ptr(out.as_ptr()) })
            })
            .collect::<Result<Vec<_>, Int8LinearError>>()?;
        Ok(match parts.len() {
            1 => parts.remove(0),
            _ => Tensor::cat(&parts, 1),
        })
    }

    /// A bound on how far [`Self::forward`] moves any element of `x` (one for all rows: the
    /// operator quantizes the whole tensor with one step). The step `s` is at most a 127th of
    /// the range widened to hold 0 (`reduce_range`; a VNNI CPU's 255 levels are finer), and
    /// the zero point `z` is `−min / s` rounded, so the lowest level `−z·s` lies within `s/2`
    /// of the minimum and the highest, 127 steps up, within `s/2` of the maximum: every
    /// element, clamped or not, is within half a step of its level. 2⁻¹⁰ more covers the fp32
    /// rounding of the step and of `x / s`.
    pub fn activation_error(x: &Tensor) -> f64 {
        let (low, high) = x.to_kind(Kind::Float).aminmax(None, false);
        let high = f64::try_from(high).unwrap_or(f64::INFINITY).max(0.0);
        let low = f64::try_from(low).unwrap_or(f64::NEG_INFINITY).min(0.0);
        (high - low) / ACTIVATION_LEVELS / 2.0 * (1.0 + 1.0 / 1024.0)
    }

    /// `‖w − dequantized w‖₂` of every row of the weight `[out]`.
    pub fn row_errors(&self) -> &Tensor {
        &self.row_errors
    }

    /// The packed bytes (one per weight) and the row errors.
    pub fn bytes(&self) -> usize {
        self.row_errors.numel() * (self.inputs as usize + 4)
    }
}

impl Drop for Int8Weight {
    fn drop(&mut self) {
        for packed in &self.slices {
            // SAFETY: each slice came from the bridge's `new` and is freed once, here.
            unsafe { precis_int8_free_linear_weight(packed.as_ptr()) }
        }
    }
}

/// Quantizes `rows` (fp32 `[out, in]`) per row, in slices, writing each row's error into
/// `errors` `[out]`, and packs the result as one operator weight.
fn pack_rows(rows: &Tensor, errors: &Tensor) -> Result<NonNull<c_void>, Int8LinearError> {
    let [outputs, inputs] = rows.size()[..] else {
        unreachable!("Int8Weight::quantize checked the shape")
    };
    let levels = Tensor::empty([outputs, inputs], (Kind::Int8, tch::Device::Cpu));
    let scales = Tensor::empty([outputs], (Kind::Double, tch::Device::Cpu));
    // Slices of rows: whole-matrix fp32 temporaries would add several copies of a 525 MB
    // embedding to the load's peak RSS.
    for start in (0..outputs).step_by(QUANTIZED_ROWS_AT_ONCE as usize) {
        let count = (outputs - start).min(QUANTIZED_ROWS_AT_ONCE);
        let slice = rows.narrow(0, start, count).to_kind(Kind::Float);
        // A row of zeros still needs a positive scale; its values are exact at any.
        let scale = (slice.abs().amax([1], true) / 127.0).clamp_min(f64::from(f32::MIN_POSITIVE));
        let rounded = (&slice / &scale).round().clamp(-127.0, 127.0);
        // The operator multiplies by the fp32 scale, as here.
        errors
            .narrow(0, start, count)
            .copy_(&(&slice - &rounded * &scale).norm_scalaropt_dim(2, [1], false));
        levels.narrow(0, start, count).copy_(&rounded);
        scales.narrow(0, start, count).copy_(&scale.squeeze_dim(1));
    }
    let zeros = Tensor::zeros([outputs], (Kind::Int64, tch::Device::Cpu));
    let quantized = levels
        .f_internal_make_per_channel_quantized_tensor(&scales, &zeros, 0)
        .map_err(|error| Int8LinearError(error.to_string()))?;
    drop(levels);
    bridged(|out, error, capacity| {
        // SAFETY: `quantized` outlives the call; the bridge only reads it.
        unsafe { precis_int8_pack_linear_weight(quantized.as_ptr(), out, error, capacity) }
    })
}

/// Whether this libtorch has the quantized operators for this CPU (fbgemm needs AVX2):
/// quantizes and multiplies a small weight once per process.
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let weight = Tensor::ones([4, 8], (Kind::Float, tch::Device::Cpu));
        Int8Weight::quantize(&weight).is_ok_and(|packed| {
            packed
                .forward(&Tensor::ones([1, 8], (Kind::Float, tch::Device::Cpu)))
                .is_ok()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(shape: &[i64]) -> Tensor {
        Tensor::randn(shape, (Kind::Float, tch::Device::Cpu))
    }

    #[test]
    fn the_int8_product_stays_within_the_bound_the_screen_relies_on() {
        let _no_grad = tch::no_grad_guard();
        tch::manual_seed(11);
        assert!(
            available(),
            "this libtorch has the quantized linear operators"
        );
        for (inputs, outputs) in [(64, 48), (1024, 5000)] {
            // Rows of unequal scale, as an embedding's are, and one row of zeros.
            let weight = random(&[outputs, inputs]) * 0.05 * (random(&[outputs, 1]).abs() + 0.1);
            let _ = weight.get(0).zero_();
            let int8 = Int8Weight::quantize(&weight).unwrap();
            // Plain states, states of every sign balance (the zero point's rounding matters at
            // the range's edges), and an outlier channel as trained decoders' states have.
            let cases = [
                (1, None, 0.0),
                (4, None, 0.0),
                (9, None, 0.0),
                (1, None, 2.9),
                (4, None, -3.3),
                (1, None, 9.0),
                (1, Some(40.0), 0.0),
                (9, Some(40.0), 0.0),
            ];
            for (rows, outlier, shift) in cases {
                let x = random(&[rows, inputs]) + shift;
                if let Some(value) = outlier {
                    let _ = x.select(1, 3).fill_(value);
                }
                let y = int8.forward(&x).unwrap();
                assert_eq!(y.size(), vec![rows, outputs]);
                let exact = x
                    .to_kind(Kind::Double)
                    .linear(&weight.to_kind(Kind::Double), None::<Tensor>);
                let moved = Int8Weight::activation_error(&x);
                let bound = weight
                    .abs()
                    .sum_dim_intlist([1i64].as_slice(), false, Kind::Double)
                    .unsqueeze(0)
                    * moved
                    + (x.norm_scalaropt_dim(2, [1], true).to_kind(Kind::Double)
                        + moved * (inputs as f64).sqrt())
                        * int8.row_errors().to_kind(Kind::Double).unsqueeze(0);
                let excess =
                    f64::try_from(((y.to_kind(Kind::Double) - &exact).abs() - &bound).max())
                        .unwrap();
                assert!(
                    excess <= 1e-4,
                    "{inputs}x{outputs}, {rows} rows: the error passes the bound by {excess}"
                );
                if outlier.is_some() {
                    // One step for all channels: the outlier coarsens every other one.
                    continue;
                }
                // And the product is close, not merely bounded.
                let typical =
                    f64::try_from((y.to_kind(Kind::Double) - &exact).abs().mean(Kind::Double))
                        .unwrap();
                let scale = f64::try_from(exact.abs().mean(Kind::Double)).unwrap();
                assert!(
                    typical < 0.05 * scale,
                    "{inputs}x{outputs}: mean error {typical} against mean |y| {scale}"
                );
            }
            // The zero row is exact.
            assert_eq!(f64::try_from(int8.row_errors().get(0)).unwrap(), 0.0);
        }
    }

    #[test]
    fn a_weight_packed_in_slices_gives_the_whole_weights_product() {
        let _no_grad = tch::no_grad_guard();
        tch::manual_seed(12);
        // 20,000 rows: more than one quantized slice and, at 7,000 rows per packed slice, three
        // packed slices, the last one short.
        let weight = random(&[20_000, 64]) * 0.05;
        let whole = Int8Weight::quantize_in_slices(&weight, 20_000).unwrap();
        let sliced = Int8Weight::quantize_in_slices(&weight, 7_000).unwrap();
        assert_eq!((whole.slices.len(), sliced.slices.len()), (1, 3));
        assert!(whole.row_errors().equal(sliced.row_errors()));
        for rows in [1, 5] {
            let x = random(&[rows, 64]);
            let (a, b) = (whole.forward(&x).unwrap(), sliced.forward(&x).unwrap());
            assert_eq!(b.size(), vec![rows, 20_000]);
            assert!(a.equal(&b), "{rows} rows: sliced and whole products differ");
        }
    }

    #[test]
    fn a_misshapen_weight_or_input_is_refused_with_its_shape() {
        let error = Int8Weight::quantize(&random(&[5])).err().unwrap();
        assert!(error.to_string().contains("[out, in]"), "{error}");
        let int8 = Int8Weight::quantize(&random(&[6, 8])).unwrap();
        let error = int8.forward(&random(&[2, 7])).err().unwrap();
        assert!(error.to_string().contains("[rows, 8]"), "{error}");
    }
}
