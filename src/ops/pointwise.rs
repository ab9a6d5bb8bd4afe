//! Pointwise logic: `logical_and/or/xor/not`, the bitwise `& | ^ ~` of bool and integer
//! tensors, and the float-class tests `isnan`, `isinf`, `isfinite`. None is differentiable:
//! results carry no history.

use super::arith::Operand;
use super::reduce::type_word;
use super::{cast_raw, promote_with, scalar_as};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::float_dispatch;
use crate::kernels;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicOp {
    And,
    Or,
    Xor,
}

impl LogicOp {
    fn bitwise_kernel(self) -> &'static str {
        match self {
            LogicOp::And => "bitwise_and_cpu",
            LogicOp::Or => "bitwise_or_cpu",
            LogicOp::Xor => "bitwise_xor_cpu",
        }
    }
}

/// Binds `$f` to the closure of `$op` over `$T` (one kernel per op).
macro_rules! with_logic_fn {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            LogicOp::And => {
                let $f = |x: $T, y: $T| x & y;
                $body
            }
            LogicOp::Or => {
                let $f = |x: $T, y: $T| x | y;
                $body
            }
            LogicOp::Xor => {
                let $f = |x: $T, y: $T| x ^ y;
                $body
            }
        }
    };
}

/// `t != 0` as a bool tensor (NaN is true).
fn truth(t: &Tensor) -> Result<Tensor> {
    cast_raw(t, DType::Bool)
}

/// `logical_and/or/xor(a, b)`: the truth values of any two tensors, broadcast; bool result.
pub fn logical(a: &Tensor, b: &Tensor, op: LogicOp) -> Result<Tensor> {
    let (a, b) = (truth(a)?, truth(b)?);
    with_logic_fn!(op, bool, f => kernels::binary::<bool, bool>(&a, &b, f))
}

pub fn logical_not(a: &Tensor) -> Result<Tensor> {
    kernels::unary::<bool, bool>(&truth(a)?, |v| !v)
}

/// `a & b`, `a | b`, `a ^ b` for bool and integer operands (promoted as arithmetic is).
pub fn bitwise(a: &Tensor, b: Operand, op: LogicOp) -> Result<Tensor> {
    let dtype = promote_with(a, &b);
    let ac = cast_raw(a, dtype)?;
    macro_rules! go {
        ($T:ty) => {
            with_logic_fn!(op, $T, f => match b {
                Operand::Tensor(bt) => kernels::binary::<$T, $T>(&ac, &cast_raw(bt, dtype)?, f),
                Operand::Scalar(s) => {
                    let s: $T = scalar_as(s);
                    kernels::unary::<$T, $T>(&ac, move |x| f(x, s))
                }
            })
        };
    }
    match dtype {
        DType::Bool => go!(bool),
        DType::I64 => go!(i64),
        other => Err(Error::NotImplementedFor {
            op: op.bitwise_kernel(),
            type_word: type_word(other),
        }),
    }
}

/// `~a`: logical negation of bools, two's-complement negation of integers.
pub fn bitwise_not(a: &Tensor) -> Result<Tensor> {
    match a.dtype() {
        DType::Bool => kernels::unary::<bool, bool>(a, |v| !v),
        DType::I64 => kernels::unary::<i64, i64>(a, |v| !v),
        other => Err(Error::NotImplementedFor {
            op: "bitwise_not_cpu",
            type_word: type_word(other),
        }),
    }
}

/// Which float class `isnan` / `isinf` / `isfinite` test for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatClass {
    Nan,
    Inf,
    Finite,
}

/// A bool tensor: whether each element is NaN / infinite / finite (integers and bools are
/// always finite).
pub fn is_class(a: &Tensor, class: FloatClass) -> Result<Tensor> {
    if !a.dtype().is_floating_point() {
        return Tensor::full(
            a.shape(),
            (class == FloatClass::Finite) as u8 as f64,
            DType::Bool,
        );
    }
    float_dispatch!(a.dtype(), T => match class {
        FloatClass::Nan => kernels::unary::<T, bool>(a, T::is_nan),
        FloatClass::Inf => kernels::unary::<T, bool>(a, T::is_infinite),
        FloatClass::Finite => kernels::unary::<T, bool>(a, T::is_finite),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::Scalar;

    #[test]
    fn logic_of_mixed_dtypes() {
        let i = Tensor::from_vec(vec![-7i64, 0, 7], &[3]).unwrap();
        let f = Tensor::from_vec(vec![1.5f32, 0.0, f32::NAN], &[3]).unwrap();
        let r = logical(&i, &f, LogicOp::And).unwrap();
        assert_eq!(r.to_vec::<bool>(), vec![true, false, true]);
        assert_eq!(
            logical_not(&f).unwrap().to_vec::<bool>(),
            vec![false, true, false]
        );
        let x = bitwise(&i, Operand::Scalar(Scalar::Int(3)), LogicOp::And).unwrap();
        assert_eq!(x.to_vec::<i64>(), vec![1, 0, 3]);
        assert!(bitwise(&f, Operand::Scalar(Scalar::Int(1)), LogicOp::Or).is_err());
        assert_eq!(bitwise_not(&i).unwrap().to_vec::<i64>(), vec![6, -1, -8]);
        let n = is_class(&f, FloatClass::Nan).unwrap();
        assert_eq!(n.to_vec::<bool>(), vec![false, false, true]);
        assert!(is_class(&i, FloatClass::Finite)
            .unwrap()
            .to_vec::<bool>()
            .iter()
            .all(|&b| b));
    }
}
