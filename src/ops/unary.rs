//! Pointwise math and activations (`exp` ... `erf`, `relu`, `gelu`, `silu`, `softplus`,
//! `elu`, `leaky_relu`, rounding) and their derivatives.
//!
//! Most functions are floating-point only and promote integer and bool inputs to the default
//! float dtype, as PyTorch does; they are listed in one table (`float_functions!`), one row per
//! function holding its forward kernel and, beside it, its derivative written with
//! ferrograd's own ops (so `create_graph=True` differentiates it again). Activations refuse
//! integer inputs with PyTorch's error instead of promoting them. Functions with parameters
//! (`gelu`'s approximation, `softplus`, `elu`, `leaky_relu`, `round(decimals)`) and those
//! that keep integer dtypes (`relu`, `abs`, `sign`, `floor` ...) are written out below it.

use super::arith::{self, add, div, grad_where, mul, neg, pow, zeros_like, Operand};
use super::reduce::type_word;
use super::{cast_raw, inplace, track, Backward as Op, Ctx, Grads, Saved};
use crate::dtype::{DType, Scalar, DEFAULT_FLOAT};
use crate::error::{Error, Result};
use crate::kernels;
use crate::kernels::vmath::VecMath;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{float_dispatch, numeric_dispatch};
use smallvec::smallvec;

fn t(x: &Tensor) -> Operand<'_> {
    Operand::Tensor(x)
}

fn s(x: f64) -> Operand<'static> {
    Operand::Scalar(Scalar::Float(x))
}

/// `1 - x * x`.
fn one_minus_square(x: &Tensor) -> Result<Tensor> {
    arith::rsub_scalar(&mul(x, t(x))?, Scalar::Float(1.0))
}

/// `g * (1 - y * y)`, tanh's derivative from its result `y`: one loop when nothing records
/// (the same operations in the same order as the three ops, so the same values), else those
/// ops, so that `create_graph=True` differentiates it.
fn tanh_backward(g: &Tensor, y: &Tensor) -> Result<Tensor> {
    if g.dtype() == y.dtype() && g.shape() == y.shape() && !super::needs_grad(&[Some(g), Some(y)]) {
        return float_dispatch!(g.dtype(), T => kernels::binary::<T, T>(g, y, |g, y| g * (1.0 - y * y)));
    }
    mul(g, t(&one_minus_square(y)?))
}

/// `1 + x * x`.
fn one_plus_square(x: &Tensor) -> Result<Tensor> {
    add(&mul(x, t(x))?, s(1.0), 1.0)
}

/// `erf` from the platform's C math library (Rust's own `f64::erf` is not stable yet; std
/// already links the C math library).
trait Erf {
    fn erf_c(self) -> Self;
}

mod c_math {
    extern "C" {
        pub fn erf(x: f64) -> f64;
        pub fn erff(x: f32) -> f32;
    }
}

impl Erf for f64 {
    #[inline]
    fn erf_c(self) -> f64 {
        // SAFETY: `erf` is a pure C function defined for every double (NaN included).
        unsafe { c_math::erf(self) }
    }
}

impl Erf for f32 {
    #[inline]
    fn erf_c(self) -> f32 {
        // SAFETY: as above, for float.
        unsafe { c_math::erff(self) }
    }
}

/// One row per floating function:
/// `Variant name "NodeName" saves input|result|nothing, ints promote|"kernel": |v| forward, |g, s| derivative;`
/// `forward` is an expression in the element `v` (compiled once for f32 and once for f64);
/// `derivative` turns the incoming grad `g` into the input's grad, given the saved tensor
/// `s`. `ints promote` converts integer and bool inputs to the default float dtype; a kernel
/// name refuses them with PyTorch's "not implemented for" error instead.
macro_rules! float_functions {
    ($(
        $(#[$doc:meta])*
        $Var:ident $name:ident $node:literal saves $saves:ident, ints $ints:tt:
            |$v:ident| $fwd:expr,
            |$g:ident, $s:tt| $grad:expr;
    )*) => {
        /// A floating function of the table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum FloatFn {
            $($Var,)*
        }

        impl FloatFn {
            pub fn name(self) -> &'static str {
                match self {
                    $(FloatFn::$Var => $node,)*
                }
            }

            fn saves(self) -> Saves {
                match self {
                    $(FloatFn::$Var => float_functions!(@saves $saves),)*
                }
            }

            /// The kernel that refuses integer inputs (`None`: they are promoted).
            fn int_kernel(self) -> Option<&'static str> {
                match self {
                    $(FloatFn::$Var => float_functions!(@ints $ints),)*
                }
            }

            /// The forward values over a floating tensor, no autograd. (Each body is
            /// compiled for f32 and f64, so its literals are written at f64 precision.)
            #[allow(clippy::excessive_precision, clippy::approx_constant)]
            fn kernel(self, x: &Tensor) -> Result<Tensor> {
                match (self, x.dtype()) {
                    $(
                        (FloatFn::$Var, DType::F32) => kernels::unary::<f32, f32>(x, |$v: f32| $fwd),
                        (FloatFn::$Var, _) => kernels::unary::<f64, f64>(x, |$v: f64| $fwd),
                    )*
                }
            }

            /// The input's grad from the output's grad `g` and the saved tensor.
            fn derivative(self, g: &Tensor, saved: &Tensor) -> Result<Tensor> {
                match self {
                    $(FloatFn::$Var => {
                        let ($g, $s) = (g, saved);
                        $grad
                    })*
                }
            }
        }

        $(
            $(#[$doc])*
            pub fn $name(x: &Tensor) -> Result<Tensor> {
                float_fn(x, FloatFn::$Var)
            }
        )*
    };
    (@saves input) => { Saves::Input };
    (@saves result) => { Saves::Result };
    (@saves nothing) => { Saves::Nothing };
    (@ints promote) => { None };
    (@ints $kernel:literal) => { Some($kernel) };
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Saves {
    Input,
    Result,
    Nothing,
}

float_functions! {
    Exp exp "ExpBackward0" saves result, ints promote:
        |v| v.vexp(),
        |g, r| mul(g, t(r));
    Expm1 expm1 "Expm1Backward0" saves result, ints promote:
        |v| v.exp_m1(),
        |g, r| mul(g, t(&add(r, s(1.0), 1.0)?));
    Log log "LogBackward0" saves input, ints promote:
        |v| v.ln(),
        |g, x| div(g, t(x));
    Log1p log1p "Log1PBackward0" saves input, ints promote:
        |v| v.ln_1p(),
        |g, x| div(g, t(&add(x, s(1.0), 1.0)?));
    Log2 log2 "Log2Backward0" saves input, ints promote:
        |v| v.log2(),
        |g, x| div(g, t(&mul(x, s(std::f64::consts::LN_2))?));
    Log10 log10 "Log10Backward0" saves input, ints promote:
        |v| v.log10(),
        |g, x| div(g, t(&mul(x, s(std::f64::consts::LN_10))?));
    Sqrt sqrt "SqrtBackward0" saves result, ints promote:
        |v| v.sqrt(),
        |g, r| div(g, t(&mul(r, s(2.0))?));
    /// `1 / sqrt(x)`.
    Rsqrt rsqrt "RsqrtBackward0" saves result, ints promote:
        |v| 1.0 / v.sqrt(),
        |g, r| mul(g, t(&mul(&pow(r, Operand::Scalar(Scalar::Int(3)))?, s(-0.5))?));
    Reciprocal reciprocal "ReciprocalBackward0" saves result, ints promote:
        |v| v.recip(),
        |g, r| neg(&mul(g, t(&mul(r, t(r))?))?);
    Sin sin "SinBackward0" saves input, ints promote:
        |v| v.sin(),
        |g, x| mul(g, t(&cos(x)?));
    Cos cos "CosBackward0" saves input, ints promote:
        |v| v.cos(),
        |g, x| mul(g, t(&neg(&sin(x)?)?));
    Tan tan "TanBackward0" saves result, ints promote:
        |v| v.tan(),
        |g, r| mul(g, t(&one_plus_square(r)?));
    Asin asin "AsinBackward0" saves input, ints promote:
        |v| v.asin(),
        |g, x| div(g, t(&sqrt(&one_minus_square(x)?)?));
    Acos acos "AcosBackward0" saves input, ints promote:
        |v| v.acos(),
        |g, x| neg(&div(g, t(&sqrt(&one_minus_square(x)?)?))?);
    Atan atan "AtanBackward0" saves input, ints promote:
        |v| v.atan(),
        |g, x| div(g, t(&one_plus_square(x)?));
    Sinh sinh "SinhBackward0" saves input, ints promote:
        |v| v.sinh(),
        |g, x| mul(g, t(&cosh(x)?));
    Cosh cosh "CoshBackward0" saves input, ints promote:
        |v| v.cosh(),
        |g, x| mul(g, t(&sinh(x)?));
    Tanh tanh "TanhBackward0" saves result, ints promote:
        |v| v.vtanh(),
        |g, r| tanh_backward(g, r);
    /// `1 / (1 + exp(-x))`.
    Sigmoid sigmoid "SigmoidBackward0" saves result, ints promote:
        |v| 1.0 / (1.0 + (-v).vexp()),
        |g, r| mul(g, t(&mul(r, t(&arith::rsub_scalar(r, Scalar::Float(1.0))?))?));
    /// d/dx erf(x) = 2/sqrt(pi) exp(-x^2).
    Erf erf "ErfBackward0" saves input, ints promote:
        |v| v.erf_c(),
        |g, x| mul(g, t(&mul(&exp(&neg(&mul(x, t(x))?)?)?, s(std::f64::consts::FRAC_2_SQRT_PI))?));
    /// `x - trunc(x)`; its derivative is 1.
    Frac frac "FracBackward0" saves nothing, ints "frac_cpu":
        |v| v.fract(),
        |g, _| Ok(g.clone());
    /// `x * sigmoid(x)`; d/dx = s (1 + x (1 - s)) with s = sigmoid(x).
    Silu silu "SiluBackward0" saves input, ints "silu_cpu":
        |v| v / (1.0 + (-v).vexp()),
        |g, x| {
            let sg = sigmoid(x)?;
            let one_minus = arith::rsub_scalar(&sg, Scalar::Float(1.0))?;
            let d = mul(&sg, t(&add(&mul(x, t(&one_minus))?, s(1.0), 1.0)?))?;
            mul(g, t(&d))
        };
    /// `x * Phi(x)` with the normal CDF Phi; d/dx = Phi(x) + x phi(x).
    GeluErf gelu_erf "GeluBackward0" saves input, ints "GeluKernelImpl":
        |v| v * 0.5 * (1.0 + (v * 0.7071067811865476).erf_c()),
        |g, x| {
            let cdf = mul(&add(&erf(&mul(x, s(std::f64::consts::FRAC_1_SQRT_2))?)?, s(1.0), 1.0)?, s(0.5))?;
            let pdf = mul(&exp(&mul(&mul(x, t(x))?, s(-0.5))?)?, s(0.3989422804014327))?;
            mul(g, t(&add(&cdf, t(&mul(x, t(&pdf))?), 1.0)?))
        };
    /// `x/2 (1 + tanh(k (x + c x^3)))` with `k = sqrt(2/pi)`, `c = 0.044715`.
    GeluTanh gelu_tanh "GeluBackward0" saves input, ints "GeluKernelImpl":
        |v| 0.5 * v * (1.0 + (0.7978845608028654 * (v + 0.044715 * v * v * v)).vtanh()),
        |g, x| {
            let (k, c) = (0.7978845608028654, 0.044715);
            let x2 = mul(x, t(x))?;
            let inner = mul(&add(x, t(&mul(&mul(&x2, t(x))?, s(c))?), 1.0)?, s(k))?;
            let th = tanh(&inner)?;
            let left_d = mul(&add(&th, s(1.0), 1.0)?, s(0.5))?;
            let inner_d = mul(&add(&mul(&x2, s(3.0 * c))?, s(1.0), 1.0)?, s(k))?;
            let right_d = mul(&mul(&mul(x, s(0.5))?, t(&one_minus_square(&th)?))?, t(&inner_d))?;
            mul(g, t(&add(&left_d, t(&right_d), 1.0)?))
        };
}

/// `t` as a floating tensor (integers and bools become the default float dtype).
fn floating(t: &Tensor) -> Result<Tensor> {
    if t.dtype().is_floating_point() {
        Ok(t.clone())
    } else {
        cast_raw(t, DEFAULT_FLOAT)
    }
}

/// Refuses a non-floating input of an activation with PyTorch's error.
fn check_floating(t: &Tensor, kernel: &'static str) -> Result<()> {
    if t.dtype().is_floating_point() {
        Ok(())
    } else {
        Err(Error::NotImplementedFor {
            op: kernel,
            type_word: type_word(t.dtype()),
        })
    }
}

/// Applies a table function and records its node.
pub fn float_fn(x: &Tensor, f: FloatFn) -> Result<Tensor> {
    let out = match f.int_kernel() {
        Some(k) => {
            check_floating(x, k)?;
            f.kernel(x)?
        }
        None => f.kernel(&floating(x)?)?,
    };
    track(out, &[Some(x)], |out| {
        let saved = match f.saves() {
            Saves::Input => Some(Saved::input(x)),
            Saves::Result => Some(Saved::output(out)),
            Saves::Nothing => None,
        };
        Op::Unary(Backward::Float { f, saved })
    })
}

/// `gelu(x, approximate='none' | 'tanh')`.
pub fn gelu(x: &Tensor, approximate: &str) -> Result<Tensor> {
    match approximate {
        "none" => gelu_erf(x),
        "tanh" => gelu_tanh(x),
        _ => Err(Error::Runtime(
            "approximate argument must be either none or tanh.".into(),
        )),
    }
}

/// `x ** 2`, PyTorch's `square` (recorded as a power, integers stay integers).
pub fn square(x: &Tensor) -> Result<Tensor> {
    pow(x, Operand::Scalar(Scalar::Int(2)))
}

// ---- activations with parameters -------------------------------------------------------

/// `max(x, 0)`; integers stay integers, NaN stays NaN.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    if x.dtype() == DType::Bool {
        return Err(Error::NotImplemented(
            "Boolean inputs not supported for relu".into(),
        ));
    }
    let out = numeric_dispatch!(x.dtype(), T => {
        let zero = T::default();
        kernels::unary::<T, T>(x, move |v| arith::Num::max_nan(v, zero))
    })?;
    track(out, &[Some(x)], |out| {
        Op::Unary(Backward::Relu {
            result: Saved::output(out),
        })
    })
}

/// `x if x > 0 else x * slope`.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    check_floating(x, "leaky_relu_cpu")?;
    let out = leaky_relu_raw(x, slope)?;
    track(out, &[Some(x)], |_| {
        Op::Unary(Backward::LeakyRelu {
            saved: Saved::input(x),
            slope,
            is_result: false,
        })
    })
}

fn leaky_relu_raw(x: &Tensor, slope: f64) -> Result<Tensor> {
    float_dispatch!(x.dtype(), T => {
        let k = T::from_f64(slope);
        kernels::unary::<T, T>(x, move |v| if v > 0.0 { v } else { v * k })
    })
}

/// In-place `leaky_relu_`: recorded from its result (LeakyReluBackward1), as PyTorch.
pub fn leaky_relu_(x: &Tensor, slope: f64) -> Result<()> {
    check_floating(x, "leaky_relu_cpu")?;
    inplace::apply(x, None, |pre| {
        let out = leaky_relu_raw(pre, slope)?;
        track(out, &[Some(pre)], |out| {
            Op::Unary(Backward::LeakyRelu {
                saved: Saved::output(out),
                slope,
                is_result: true,
            })
        })
    })
}

/// `x if x > 0 else alpha * (exp(x) - 1)`.
pub fn elu(x: &Tensor, alpha: f64) -> Result<Tensor> {
    check_floating(x, "elu_cpu")?;
    let out = elu_raw(x, alpha)?;
    track(out, &[Some(x)], |_| {
        Op::Unary(Backward::Elu {
            saved: Saved::input(x),
            alpha,
            is_result: false,
        })
    })
}

fn elu_raw(x: &Tensor, alpha: f64) -> Result<Tensor> {
    float_dispatch!(x.dtype(), T => {
        let a = T::from_f64(alpha);
        kernels::unary::<T, T>(x, move |v| if v > 0.0 { v } else { a * v.exp_m1() })
    })
}

/// In-place `elu_`: recorded from its result (EluBackward1), as PyTorch.
pub fn elu_(x: &Tensor, alpha: f64) -> Result<()> {
    check_floating(x, "elu_cpu")?;
    inplace::apply(x, None, |pre| {
        let out = elu_raw(pre, alpha)?;
        track(out, &[Some(pre)], |out| {
            Op::Unary(Backward::Elu {
                saved: Saved::output(out),
                alpha,
                is_result: true,
            })
        })
    })
}

/// `log(1 + exp(beta x)) / beta`, and `x` itself where `beta x > threshold`.
pub fn softplus(x: &Tensor, beta: f64, threshold: f64) -> Result<Tensor> {
    check_floating(x, "softplus_cpu")?;
    let out = float_dispatch!(x.dtype(), T => {
        let (b, th) = (T::from_f64(beta), T::from_f64(threshold));
        kernels::unary::<T, T>(x, move |v| if v * b > th { v } else { (v * b).exp().ln_1p() / b })
    })?;
    track(out, &[Some(x)], |_| {
        Op::Unary(Backward::Softplus {
            input: Saved::input(x),
            beta,
            threshold,
        })
    })
}

// ---- integer-preserving functions ------------------------------------------------------

pub fn abs(x: &Tensor) -> Result<Tensor> {
    let out = match x.dtype() {
        DType::Bool => {
            return Err(Error::NotImplementedFor {
                op: "abs_cpu",
                type_word: "Bool",
            })
        }
        DType::I64 => kernels::unary::<i64, i64>(x, i64::wrapping_abs)?,
        DType::F32 => kernels::unary::<f32, f32>(x, f32::abs)?,
        DType::F64 => kernels::unary::<f64, f64>(x, f64::abs)?,
    };
    track(out, &[Some(x)], |_| {
        Op::Unary(Backward::Abs {
            input: Saved::input(x),
        })
    })
}

/// `sign(x)`: -1, 0 or 1; 0 for zeros of either sign and for NaN (as PyTorch's
/// `(0 < x) - (x < 0)`, which `abs` and the norms rely on: their grads are 0 at a NaN input);
/// bools are their own sign. Its gradient is zero, but it is recorded (SignBackward0, as
/// PyTorch) so that grads built from it, like `abs`'s `g * sign(x)`, stay attached to `x`
/// under `create_graph` and differentiate (to zero) once more.
pub fn sign(x: &Tensor) -> Result<Tensor> {
    let out = if x.dtype() == DType::Bool {
        kernels::cast(x, DType::Bool)?
    } else {
        numeric_dispatch!(x.dtype(), T => kernels::unary::<T, T>(&x.detach(), |v| {
            let z = T::default();
            if v > z { T::from_i64(1) } else if v < z { T::from_i64(-1) } else { z }
        }))?
    };
    track(out, &[Some(x)], |_| Op::Unary(Backward::Sign))
}

/// Rounding functions: integers pass through unchanged, grads are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundFn {
    Floor,
    Ceil,
    Trunc,
    /// Half to even, to `decimals` decimal places (`Round(0)` is plain `round`).
    Round(i64),
}

impl RoundFn {
    fn name(self) -> &'static str {
        match self {
            RoundFn::Floor => "FloorBackward0",
            RoundFn::Ceil => "CeilBackward0",
            RoundFn::Trunc => "TruncBackward0",
            RoundFn::Round(0) => "RoundBackward0",
            RoundFn::Round(_) => "RoundBackward1",
        }
    }

    /// PyTorch's kernel name in its "not implemented for" errors.
    fn kernel_name(self) -> &'static str {
        match self {
            RoundFn::Floor => "floor_vml_cpu",
            RoundFn::Ceil => "ceil_vml_cpu",
            RoundFn::Trunc => "trunc_vml_cpu",
            RoundFn::Round(0) => "round_vml_cpu",
            RoundFn::Round(_) => "round_cpu",
        }
    }
}

pub fn floor(x: &Tensor) -> Result<Tensor> {
    rounding(x, RoundFn::Floor)
}

pub fn ceil(x: &Tensor) -> Result<Tensor> {
    rounding(x, RoundFn::Ceil)
}

pub fn trunc(x: &Tensor) -> Result<Tensor> {
    rounding(x, RoundFn::Trunc)
}

/// Round half to even, to `decimals` places (negative: to tens, hundreds, ...).
pub fn round(x: &Tensor, decimals: i64) -> Result<Tensor> {
    rounding(x, RoundFn::Round(decimals))
}

fn rounding(x: &Tensor, f: RoundFn) -> Result<Tensor> {
    let refuse = Error::NotImplementedFor {
        op: f.kernel_name(),
        type_word: type_word(x.dtype()),
    };
    let out = match (x.dtype(), f) {
        (DType::Bool, _) | (DType::I64, RoundFn::Round(1..) | RoundFn::Round(..=-1)) => {
            return Err(refuse)
        }
        (DType::I64, _) => kernels::cast(x, DType::I64)?,
        (dtype, _) => float_dispatch!(dtype, T => match f {
            RoundFn::Floor => kernels::unary::<T, T>(x, T::floor),
            RoundFn::Ceil => kernels::unary::<T, T>(x, T::ceil),
            RoundFn::Trunc => kernels::unary::<T, T>(x, T::trunc),
            RoundFn::Round(0) => kernels::unary::<T, T>(x, T::round_ties_even),
            RoundFn::Round(d) if d > 0 => {
                let p = T::from_f64(10.0).powi(d.min(i32::MAX as i64) as i32);
                kernels::unary::<T, T>(x, move |v| (v * p).round_ties_even() / p)
            }
            RoundFn::Round(d) => {
                let p = T::from_f64(10.0).powi(d.unsigned_abs().min(i32::MAX as u64) as i32);
                kernels::unary::<T, T>(x, move |v| (v / p).round_ties_even() * p)
            }
        })?,
    };
    track(out, &[Some(x)], |_| Op::Unary(Backward::Rounding { f }))
}

// ---- backward rules ---------------------------------------------------------------------

#[derive(Clone)]
pub enum Backward {
    /// A function of the `float_functions!` table.
    Float {
        f: FloatFn,
        saved: Option<Saved>,
    },
    Abs {
        input: Saved,
    },
    Sign,
    Rounding {
        f: RoundFn,
    },
    Relu {
        result: Saved,
    },
    /// `saved` is the input, or (in place, `is_result`) the result.
    LeakyRelu {
        saved: Saved,
        slope: f64,
        is_result: bool,
    },
    Elu {
        saved: Saved,
        alpha: f64,
        is_result: bool,
    },
    Softplus {
        input: Saved,
        beta: f64,
        threshold: f64,
    },
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::Float { f, .. } => f.name(),
            Backward::Abs { .. } => "AbsBackward0",
            Backward::Sign => "SignBackward0",
            Backward::Rounding { f } => f.name(),
            Backward::Relu { .. } => "ReluBackward0",
            Backward::LeakyRelu { is_result, .. } => {
                if *is_result {
                    "LeakyReluBackward1"
                } else {
                    "LeakyReluBackward0"
                }
            }
            Backward::Elu { is_result, .. } => {
                if *is_result {
                    "EluBackward1"
                } else {
                    "EluBackward0"
                }
            }
            Backward::Softplus { .. } => "SoftplusBackward0",
        }
    }

    pub fn has_saved(&self) -> bool {
        match self {
            Backward::Float { saved, .. } => saved.is_some(),
            Backward::Sign | Backward::Rounding { .. } => false,
            _ => true,
        }
    }

    pub fn apply(&self, g: &Tensor, ctx: &Ctx) -> Result<Grads> {
        let grad = match self {
            Backward::Float { f, saved } => {
                let saved = saved.as_ref().map(|s| s.unpack(ctx)).transpose()?;
                f.derivative(g, saved.as_ref().unwrap_or(g))?
            }
            Backward::Abs { input } => {
                let x = input.unpack(ctx)?;
                mul(g, t(&sign(&x)?))?
            }
            Backward::Sign => mul(g, s(0.0))?,
            Backward::Rounding { .. } => zeros_like(g)?,
            Backward::Relu { result } => {
                // Zero where the result is <= 0; NaN results pass the grad, as PyTorch's.
                let r = result.unpack(ctx)?.detach();
                let keep = positive_mask(&r, false)?;
                grad_where(&keep, g)?
            }
            Backward::LeakyRelu {
                saved,
                slope,
                is_result,
            } => {
                if *is_result && *slope < 0.0 {
                    return Err(Error::Runtime("In-place leakyReLu backward calculation is triggered with a negative slope which is not supported. This is caused by calling in-place forward function with a negative slope, please call out-of-place version instead. File an issue at https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu backward calculation with negative slope".into()));
                }
                let pos = positive_mask(&saved.unpack(ctx)?.detach(), true)?;
                arith::where_(&pos, t(g), t(&mul(g, s(*slope))?))?
            }
            Backward::Elu {
                saved,
                alpha,
                is_result,
            } => {
                // The negative branch is `x <= 0`: a NaN input passes the grad, as PyTorch's.
                let v = saved.unpack(ctx)?;
                let pos = positive_mask(&v.detach(), false)?;
                let neg_part = if *is_result {
                    if *alpha < 0.0 {
                        return Err(Error::Runtime("In-place elu backward calculation is triggered with a negative slope which is not supported. This is caused by calling in-place forward function with a negative slope, please call out-of-place version instead.".into()));
                    }
                    // d/dx alpha (e^x - 1) = alpha e^x = result + alpha
                    mul(g, t(&add(&v, s(*alpha), 1.0)?))?
                } else {
                    mul(g, t(&mul(&exp(&v)?, s(*alpha))?))?
                };
                arith::where_(&pos, t(g), t(&neg_part))?
            }
            Backward::Softplus {
                input,
                beta,
                threshold,
            } => {
                // sigmoid(beta x), and 1 where the forward passed x through.
                let x = input.unpack(ctx)?;
                let bx = mul(&x, s(*beta))?;
                let linear = arith::compare(&bx.detach(), s(*threshold), arith::CmpOp::Gt)?;
                let d = mul(g, t(&sigmoid(&bx)?))?;
                arith::where_(&linear, t(g), t(&d))?
            }
        };
        Ok(smallvec![Some(grad)])
    }
}

/// `x > 0` (`strict`), or `!(x <= 0)`, which also holds at NaN.
fn positive_mask(x: &Tensor, strict: bool) -> Result<Tensor> {
    numeric_dispatch!(x.dtype(), T => {
        let zero = T::default();
        if strict {
            kernels::unary::<T, bool>(x, move |v| v > zero)
        } else {
            // NaN is unordered: it counts as positive here.
            kernels::unary::<T, bool>(x, move |v| {
                v.partial_cmp(&zero).is_none_or(|o| o == std::cmp::Ordering::Greater)
            })
        }
    })
}

/// Applies a float function elementwise without recording (for kernels of composite ops).
pub fn map_float(t: &Tensor, f: impl Fn(f64) -> f64 + Sync) -> Result<Tensor> {
    float_dispatch!(t.dtype(), T => kernels::unary::<T, T>(t, |x| <T as num_traits::NumCast>::from(f(x.to_f64_lossy())).unwrap_or_else(<T as num_traits::Float>::nan)))
}

trait Lossy {
    fn to_f64_lossy(self) -> f64;
}
impl Lossy for f32 {
    fn to_f64_lossy(self) -> f64 {
        self as f64
    }
}
impl Lossy for f64 {
    fn to_f64_lossy(self) -> f64 {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vec64(v: &[f64]) -> Tensor {
        Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
    }

    #[test]
    fn erf_and_gelu_values() {
        let x = vec64(&[-1.0, 0.0, 0.5, 2.0]);
        let e = erf(&x).unwrap().to_vec::<f64>();
        let want = [
            -0.8427007929497149,
            0.0,
            0.5204998778130465,
            0.9953222650189527,
        ];
        for (a, b) in e.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
        let gl = gelu(&x, "none").unwrap().to_vec::<f64>();
        assert!((gl[3] - 1.9544997361036416).abs() < 1e-14);
        assert!(gelu(&x, "exact").is_err());
    }

    #[test]
    fn rounding_is_half_to_even_and_keeps_integers() {
        let x = vec64(&[0.5, 1.5, 2.5, -0.5, -2.5, 1234.5]);
        assert_eq!(
            round(&x, 0).unwrap().to_vec::<f64>(),
            vec![0.0, 2.0, 2.0, -0.0, -2.0, 1234.0]
        );
        assert_eq!(round(&x, -1).unwrap().to_vec::<f64>()[5], 1230.0);
        let i = Tensor::from_vec(vec![3i64, -4], &[2]).unwrap();
        assert_eq!(floor(&i).unwrap().dtype(), DType::I64);
        assert!(round(&i, 1).is_err());
        assert!(frac(&i).is_err());
    }

    #[test]
    fn integers_promote_or_are_refused() {
        let i = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        assert_eq!(exp(&i).unwrap().dtype(), DType::F32);
        assert_eq!(relu(&i).unwrap().dtype(), DType::I64);
        assert!(silu(&i).is_err());
        let b = Tensor::from_vec(vec![true], &[1]).unwrap();
        assert!(relu(&b).is_err());
        assert_eq!(sign(&b).unwrap().dtype(), DType::Bool);
    }
}
