//! Pointwise math (`exp`, `log`, `sqrt`, `abs`, `reciprocal`, `sign`) and its derivatives.
//! Integer inputs of floating functions are promoted to the default float dtype, as PyTorch.

use super::arith::{self, Operand};
use super::{cast_raw, track, Backward as Op, Ctx, Grads, Saved};
use crate::dtype::{DType, Scalar, DEFAULT_FLOAT};
use crate::error::Result;
use crate::kernels;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{float_dispatch, numeric_dispatch};
use num_traits::Float;
use smallvec::smallvec;

/// `t` as a floating tensor (integers and bools become the default float dtype).
fn floating(t: &Tensor) -> Result<Tensor> {
    if t.dtype().is_floating_point() {
        Ok(t.clone())
    } else {
        cast_raw(t, DEFAULT_FLOAT)
    }
}

fn float_map(t: &Tensor, f32f: fn(f32) -> f32, f64f: fn(f64) -> f64) -> Result<Tensor> {
    let x = floating(t)?;
    match x.dtype() {
        DType::F32 => kernels::unary::<f32, f32>(&x, f32f),
        _ => kernels::unary::<f64, f64>(&x, f64f),
    }
}

pub fn exp(t: &Tensor) -> Result<Tensor> {
    let out = float_map(t, f32::exp, f64::exp)?;
    Ok(track(out, &[Some(t)], |out| {
        Op::Unary(Backward::Exp {
            result: Saved::output(out),
        })
    }))
}

pub fn log(t: &Tensor) -> Result<Tensor> {
    let out = float_map(t, f32::ln, f64::ln)?;
    Ok(track(out, &[Some(t)], |_| {
        Op::Unary(Backward::Log {
            input: Saved::input(t),
        })
    }))
}

pub fn sqrt(t: &Tensor) -> Result<Tensor> {
    let out = float_map(t, f32::sqrt, f64::sqrt)?;
    Ok(track(out, &[Some(t)], |out| {
        Op::Unary(Backward::Sqrt {
            result: Saved::output(out),
        })
    }))
}

pub fn reciprocal(t: &Tensor) -> Result<Tensor> {
    let out = float_map(t, f32::recip, f64::recip)?;
    Ok(track(out, &[Some(t)], |out| {
        Op::Unary(Backward::Reciprocal {
            result: Saved::output(out),
        })
    }))
}

pub fn abs(t: &Tensor) -> Result<Tensor> {
    let out = match t.dtype() {
        DType::Bool => t.detach(),
        DType::I64 => kernels::unary::<i64, i64>(t, i64::wrapping_abs)?,
        DType::F32 => kernels::unary::<f32, f32>(t, f32::abs)?,
        DType::F64 => kernels::unary::<f64, f64>(t, f64::abs)?,
    };
    Ok(track(out, &[Some(t)], |_| {
        Op::Unary(Backward::Abs {
            input: Saved::input(t),
        })
    }))
}

/// `sign(x)`: -1, 0 or 1; 0 for zeros of either sign and for NaN (as PyTorch's
/// `(0 < x) - (x < 0)`, which `abs` and the norms rely on: their grads are 0 at a NaN input).
/// Its gradient is zero, but it is recorded
/// (SignBackward0, as PyTorch) so that grads built from it, like `abs`'s `g * sign(x)`, stay
/// attached to `x` under `create_graph` and differentiate (to zero) once more.
pub fn sign(t: &Tensor) -> Result<Tensor> {
    let out = numeric_dispatch!(t.dtype(), T => kernels::unary::<T, T>(&t.detach(), |x| {
        let z = T::default();
        if x > z { T::from_i64(1) } else if x < z { T::from_i64(-1) } else { z }
    }))?;
    Ok(track(out, &[Some(t)], |_| Op::Unary(Backward::Sign)))
}

#[derive(Clone)]
pub enum Backward {
    Exp { result: Saved },
    Log { input: Saved },
    Sqrt { result: Saved },
    Reciprocal { result: Saved },
    Abs { input: Saved },
    Sign,
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::Exp { .. } => "ExpBackward0",
            Backward::Log { .. } => "LogBackward0",
            Backward::Sqrt { .. } => "SqrtBackward0",
            Backward::Reciprocal { .. } => "ReciprocalBackward0",
            Backward::Abs { .. } => "AbsBackward0",
            Backward::Sign => "SignBackward0",
        }
    }

    pub fn has_saved(&self) -> bool {
        !matches!(self, Backward::Sign)
    }

    pub fn apply(&self, g: &Tensor, ctx: &Ctx) -> Result<Grads> {
        let grad = match self {
            Backward::Exp { result } => arith::mul(g, Operand::Tensor(&result.unpack(ctx)?))?,
            Backward::Log { input } => arith::div(g, Operand::Tensor(&input.unpack(ctx)?))?,
            Backward::Sqrt { result } => {
                let r = result.unpack(ctx)?;
                arith::div(
                    g,
                    Operand::Tensor(&arith::mul(&r, Operand::Scalar(Scalar::Float(2.0)))?),
                )?
            }
            Backward::Reciprocal { result } => {
                // d(1/x) = -1/x^2 = -r*r
                let r = result.unpack(ctx)?;
                let r2 = arith::mul(&r, Operand::Tensor(&r))?;
                arith::neg(&arith::mul(g, Operand::Tensor(&r2))?)?
            }
            Backward::Abs { input } => {
                let x = input.unpack(ctx)?;
                arith::mul(g, Operand::Tensor(&sign(&x)?))?
            }
            Backward::Sign => arith::mul(g, Operand::Scalar(Scalar::Float(0.0)))?,
        };
        Ok(smallvec![Some(grad)])
    }
}

/// Applies a float function elementwise without recording (for kernels of composite ops).
pub fn map_float(t: &Tensor, f: impl Fn(f64) -> f64 + Sync) -> Result<Tensor> {
    float_dispatch!(t.dtype(), T => kernels::unary::<T, T>(t, |x| <T as num_traits::NumCast>::from(f(x.to_f64_lossy())).unwrap_or_else(T::nan)))
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
