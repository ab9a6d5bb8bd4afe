//! In-place ops (`add_`, `sub_`, `mul_`, `div_`, `zero_`, `fill_`) guarded by the version
//! counter.
//!
//! One mechanism serves them all: compute the out-of-place result from a pre-image of `self`
//! (a copy carrying `self`'s history, so a rule that saved `self` keeps the old values), write
//! it into `self`'s storage, bump the version, and make the result's node `self.grad_fn`.
//! Without autograd the pre-image is `self` itself and no copy is made.

use super::arith::{self, Operand};
use super::track;
use super::Backward as Op;
use crate::autograd::is_grad_enabled;
use crate::dtype::{Category, DType};
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::format_shape;
use crate::tensor::Tensor;

/// PyTorch's `canCast`: no float into an integer tensor, nothing but bool into bool.
fn can_cast(from: DType, to: DType) -> bool {
    !(from.category() == Category::Floating && to.category() != Category::Floating
        || from != DType::Bool && to == DType::Bool)
}

/// Runs `f` on a pre-image of `dst` and writes the result into `dst`.
pub fn apply(
    dst: &Tensor,
    other: Option<&Tensor>,
    f: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<()> {
    let grad_mode = is_grad_enabled();
    if grad_mode && dst.is_leaf() && dst.requires_grad() {
        return Err(Error::InplaceOnLeaf);
    }
    let tracking = grad_mode && (dst.requires_grad() || other.is_some_and(|o| o.requires_grad()));
    let pre = if tracking {
        dst.with_same_history(kernels::cast(dst, dst.dtype())?)
    } else {
        dst.clone()
    };
    let result = f(&pre)?;
    if !can_cast(result.dtype(), dst.dtype()) {
        return Err(Error::InplaceCast {
            result: result.dtype(),
            out: dst.dtype(),
        });
    }
    if result.shape() != dst.shape() {
        return Err(Error::Runtime(format!(
            "output with shape {} doesn't match the broadcast shape {}",
            format_shape(dst.shape()),
            format_shape(result.shape())
        )));
    }
    let values = if result.same_storage(dst) {
        kernels::cast(&result, result.dtype())?
    } else {
        result.clone()
    };
    kernels::copy_into(dst, &values);
    dst.bump_version();
    if tracking {
        dst.set_grad_fn(result.grad_fn(), 0);
    }
    Ok(())
}

pub fn add_(dst: &Tensor, other: Operand, alpha: f64) -> Result<()> {
    apply(dst, operand_tensor(&other), |pre| {
        arith::add(pre, other, alpha)
    })
}

pub fn sub_(dst: &Tensor, other: Operand, alpha: f64) -> Result<()> {
    apply(dst, operand_tensor(&other), |pre| {
        arith::sub(pre, other, alpha)
    })
}

pub fn mul_(dst: &Tensor, other: Operand) -> Result<()> {
    apply(dst, operand_tensor(&other), |pre| arith::mul(pre, other))
}

pub fn div_(dst: &Tensor, other: Operand) -> Result<()> {
    apply(dst, operand_tensor(&other), |pre| arith::div(pre, other))
}

pub fn fill_(dst: &Tensor, value: f64) -> Result<()> {
    overwrite(dst, value, "FillBackward0")
}

pub fn zero_(dst: &Tensor) -> Result<()> {
    overwrite(dst, 0.0, "ZeroBackward0")
}

fn overwrite(dst: &Tensor, value: f64, name: &'static str) -> Result<()> {
    apply(dst, None, |pre| {
        let out = Tensor::full(pre.shape(), value, pre.dtype())?;
        Ok(track(out, &[Some(pre)], |_| {
            Op::Arith(arith::Backward::Overwrite { name })
        }))
    })
}

fn operand_tensor<'a>(o: &Operand<'a>) -> Option<&'a Tensor> {
    match o {
        Operand::Tensor(t) => Some(t),
        Operand::Scalar(_) => None,
    }
}
