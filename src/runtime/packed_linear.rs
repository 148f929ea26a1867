//! Linear layers whose weight oneDNN packs once, at load, into its own blocked layout.
//!
//! Why: libtorch multiplies an fp32 `linear` through MKL, which packs the weight afresh on
//! every call, and on this project's AMD CPUs runs its AVX2 kernels. At a decoder step's few
//! rows that packing is most of the product's time. oneDNN's inner product over a weight it
//! has already laid out (libtorch's `mkldnn::_reorder_linear_weight` and
//! `mkldnn::_linear_pointwise`, the operators behind `torch.jit.freeze` on CPU) skips it:
//! `python scripts/probe_packed_linear.py` (one thread, median of 15) measured 1,024 → 4,096 at
//! 9 rows 2.00 → 0.73 ms, at 36 rows 4.03 → 2.72 ms, and the 128,112 × 1,024 projection to the
//! vocabulary at 36 rows 182 → 97 ms. The values are fp32 dot products of the same rows in
//! another summation order (within fp32 rounding of the aten product; tests below).
//!
//! tch binds ATen's operators only, and these two live in libtorch's `mkldnn` namespace, so a
//! two-function C++ bridge (`onednn_linear.cpp`, compiled by build.rs) calls them through
//! libtorch's operator dispatcher.
use std::ffi::{c_char, c_int, CStr};

use tch::{Kind, Tensor};
use torch_sys::C_tensor;

extern "C" {
    fn precis_onednn_pack_linear_weight(
        weight: *const C_tensor,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;
    fn precis_onednn_linear(
        x: *const C_tensor,
        packed: *const C_tensor,
        bias: *const C_tensor,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;
}

/// libtorch refused an operator; its message.
#[derive(Debug, thiserror::Error)]
#[error("oneDNN linear: {0}")]
pub struct PackedLinearError(String);

/// Calls one bridge function with an error buffer; its tensor or libtorch's message.
fn bridged(
    call: impl FnOnce(*mut *mut C_tensor, *mut c_char, usize) -> c_int,
) -> Result<Tensor, PackedLinearError> {
    let mut out: *mut C_tensor = std::ptr::null_mut();
    let mut error = [0 as c_char; 1024];
    let status = call(&mut out, error.as_mut_ptr(), error.len());
    if status != 0 || out.is_null() {
        // SAFETY: the bridge wrote a NUL-terminated message into the buffer (or left zeros).
        let message = unsafe { CStr::from_ptr(error.as_ptr()) };
        return Err(PackedLinearError(message.to_string_lossy().into_owned()));
    }
    // SAFETY: the bridge returned a tensor it allocated with `new`; tch deletes it on drop.
    Ok(unsafe { Tensor::from_ptr(out) })
}

/// A weight `[out, in]` in oneDNN's layout, for products with any number of rows.
pub struct PackedWeight {
    packed: Tensor,
    kind: Kind,
    outputs: i64,
}

impl PackedWeight {
    /// Packs `weight` (fp32 or bf16, `[out, in]`); the plain tensor is not kept.
    pub fn pack(weight: &Tensor) -> Result<Self, PackedLinearError> {
        let [outputs, _] = weight.size()[..] else {
            return Err(PackedLinearError(format!(
                "a weight is [out, in], not {:?}",
                weight.size()
            )));
        };
        let weight = weight.contiguous();
        let packed = bridged(|out, error, capacity| {
            // SAFETY: `weight` outlives the call; the bridge only reads it.
            unsafe { precis_onednn_pack_linear_weight(weight.as_ptr(), out, error, capacity) }
        })?;
        Ok(Self {
            packed,
            kind: weight.kind(),
            outputs,
        })
    }

    /// `x · weightᵀ + bias` for `x` of shape `[.., in]` in the weight's kind.
    pub fn forward(&self, x: &Tensor, bias: Option<&Tensor>) -> Result<Tensor, PackedLinearError> {
        let x = x.contiguous();
        bridged(|out, error, capacity| {
            let bias = bias.map_or(std::ptr::null(), Tensor::as_ptr);
            // SAFETY: `x`, the packed weight and `bias` outlive the call; the bridge only reads
            // them.
            unsafe {
                precis_onednn_linear(x.as_ptr(), self.packed.as_ptr(), bias, out, error, capacity)
            }
        })
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The weight's output width (its rows).
    pub fn outputs(&self) -> i64 {
        self.outputs
    }
}

/// Whether this libtorch packs and multiplies weights of `kind` (fp32 or bf16) on this CPU:
/// builds without oneDNN have no operators, and oneDNN's bf16 path needs AVX-512 (BW, VL, DQ)
/// or AVX-NE-CONVERT. Packs a small weight once per process and kind.
pub fn available(kind: Kind) -> bool {
    static FLOAT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    static BFLOAT16: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let cell = match kind {
        Kind::Float => &FLOAT,
        Kind::BFloat16 => &BFLOAT16,
        _ => return false,
    };
    *cell.get_or_init(|| {
        let weight = Tensor::ones([4, 4], (kind, tch::Device::Cpu));
        PackedWeight::pack(&weight).is_ok_and(|packed| {
            packed
                .forward(&Tensor::ones([1, 4], (kind, tch::Device::Cpu)), None)
                .is_ok()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(shape: &[i64], kind: Kind) -> Tensor {
        Tensor::randn(shape, (Kind::Float, tch::Device::Cpu)).to_kind(kind)
    }

    /// The largest difference from a float64 product, and the fp32 aten product's own.
    fn errors(x: &Tensor, weight: &Tensor, bias: &Tensor, packed: &Tensor) -> (f64, f64) {
        let exact = x.to_kind(Kind::Double).linear(
            &weight.to_kind(Kind::Double),
            Some(&bias.to_kind(Kind::Double)),
        );
        let aten = x.linear(weight, Some(bias)).to_kind(Kind::Double);
        let err =
            |t: &Tensor| f64::try_from((t.to_kind(Kind::Double) - &exact).abs().max()).unwrap();
        (err(packed), err(&aten))
    }

    #[test]
    fn the_packed_product_equals_aten_s_within_fp32_rounding_at_every_row_count() {
        let _no_grad = tch::no_grad_guard();
        tch::manual_seed(7);
        assert!(
            available(Kind::Float),
            "this libtorch has oneDNN's linear operators"
        );
        for (inputs, outputs) in [(64, 48), (512, 2048), (1024, 5000)] {
            let weight = random(&[outputs, inputs], Kind::Float) * 0.05;
            let bias = random(&[outputs], Kind::Float);
            let packed = PackedWeight::pack(&weight).unwrap();
            assert_eq!(packed.outputs(), outputs);
            for rows in [1, 4, 9, 36, 300] {
                let x = random(&[rows, inputs], Kind::Float);
                let y = packed.forward(&x, Some(&bias)).unwrap();
                assert_eq!(y.size(), vec![rows, outputs]);
                assert_eq!(y.kind(), Kind::Float);
                let (ours, aten) = errors(&x, &weight, &bias, &y);
                // fp32 rounding of a sum of `inputs` products: both within a few ulps of the
                // sums' scale, ours at most a small factor above aten's own.
                assert!(
                    ours < 1e-4 && ours < 16.0 * aten.max(1e-7),
                    "{inputs}x{outputs}, {rows} rows: {ours} vs aten {aten}"
                );
            }
        }
    }

    #[test]
    fn batched_inputs_and_a_missing_bias_keep_their_meaning() {
        let _no_grad = tch::no_grad_guard();
        tch::manual_seed(8);
        let weight = random(&[96, 64], Kind::Float) * 0.1;
        let packed = PackedWeight::pack(&weight).unwrap();
        let x = random(&[3, 5, 64], Kind::Float);
        let y = packed.forward(&x, None).unwrap();
        assert_eq!(y.size(), vec![3, 5, 96]);
        let aten = x.linear(&weight, None::<&Tensor>);
        assert!(y.allclose(&aten, 1e-5, 1e-5, false));
        // A non-contiguous input (a transposed view) is read by its values, not its storage.
        let transposed = random(&[64, 7], Kind::Float).tr();
        let y = packed.forward(&transposed, None).unwrap();
        assert!(y.allclose(
            &transposed.linear(&weight, None::<&Tensor>),
            1e-5,
            1e-5,
            false
        ));
    }

    /// Whether oneDNN's bf16 path should run here (its own check, `mkldnn_bf16_device_check`,
    /// also accepts AVX-NE-CONVERT, which std cannot detect on stable; no CPU of ours has it
    /// without AVX-512).
    fn cpu_multiplies_bf16() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512dq")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            available(Kind::BFloat16)
        }
    }

    #[test]
    fn bf16_weights_multiply_bf16_inputs_where_the_cpu_can_and_are_refused_where_it_cannot() {
        let _no_grad = tch::no_grad_guard();
        tch::manual_seed(9);
        let weight = random(&[128, 256], Kind::BFloat16);
        let bias = random(&[128], Kind::BFloat16);
        assert_eq!(available(Kind::BFloat16), cpu_multiplies_bf16());
        if !cpu_multiplies_bf16() {
            let error = PackedWeight::pack(&weight)
                .err()
                .expect("bf16 packing refused without AVX-512");
            assert!(error.to_string().contains("bf16 path needs"), "{error}");
            return;
        }
        let packed = PackedWeight::pack(&weight).unwrap();
        assert_eq!(packed.kind(), Kind::BFloat16);
        let x = random(&[9, 256], Kind::BFloat16);
        let y = packed.forward(&x, Some(&bias)).unwrap();
        assert_eq!(y.kind(), Kind::BFloat16);
        let aten = x.linear(&weight, Some(&bias));
        let difference = f64::try_from(
            (y.to_kind(Kind::Float) - aten.to_kind(Kind::Float))
                .abs()
                .max(),
        )
        .unwrap();
        // bf16 outputs: one rounding of values of magnitude ~16 is up to 2^-4.
        assert!(difference <= 0.25, "{difference}");
    }

    #[test]
    fn a_weight_that_is_not_a_matrix_or_a_mismatched_input_is_an_error_not_a_crash() {
        let _no_grad = tch::no_grad_guard();
        let error = PackedWeight::pack(&Tensor::ones([2, 3, 4], (Kind::Float, tch::Device::Cpu)))
            .err()
            .expect("a 3-d weight is refused");
        assert!(error.to_string().contains("[out, in]"), "{error}");
        let packed =
            PackedWeight::pack(&Tensor::ones([8, 4], (Kind::Float, tch::Device::Cpu))).unwrap();
        let wrong = Tensor::ones([2, 5], (Kind::Float, tch::Device::Cpu));
        assert!(packed.forward(&wrong, None).is_err());
    }
}
