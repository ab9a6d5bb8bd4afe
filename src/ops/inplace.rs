//! In-place ops (`add_`, `sub_`, `mul_`, `div_`, `zero_`, `fill_` of a number or a 0-dim
//! tensor) guarded by the version counter, and the checks and history of the in-place view
//! ops (`restride`: `t_`, `squeeze_`, ..., which give `self` a new layout, not new values).
//! The elementwise ones (`apply_elementwise`) also refuse memory overlap as PyTorch does.
//!
//! One mechanism serves them all: compute the out-of-place result from a pre-image of `self`
//! (a copy carrying `self`'s history, so a rule that saved `self` keeps the old values), write
//! it into `self`'s storage, bump the version, and make the result's node `self.grad_fn`.
//! Without autograd the pre-image is `self` itself and no copy is made.
//!
//! When `self` is a view of another tensor (its root) and autograd records, the write also
//! changes the root's values, so the root's history is rebased too: the root becomes the
//! output of a `CopySlices` node (grad outside the written region flows to the root's old
//! history, grad inside it to the in-place result), and the view becomes an
//! `AsStridedBackward0` view of the new root.

use super::arith::{self, BinOp, Operand};
use super::Backward as Op;
use super::{record, track, Ctx, Grads};
use crate::autograd::is_grad_enabled;
use crate::dtype::{Category, DType};
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::{format_shape, Dims, Layout};
use crate::tensor::Tensor;
use smallvec::smallvec;

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
    apply_or_assign(dst, other, false, || Ok(false), f)
}

/// `apply` for the elementwise in-place ops (PyTorch's TensorIterator ops: `add_`, `exp_`,
/// `clamp_`, `copy_`, `+=` ...), which also refuse a `dst` with several elements in one
/// memory location and an `other` that partly overlaps `dst` (see `check_overlap`).
pub fn apply_elementwise(
    dst: &Tensor,
    other: Option<&Tensor>,
    f: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<()> {
    apply_or_assign(dst, other, true, || Ok(false), f)
}

/// PyTorch's memory-overlap checks of an elementwise write (`assert_no_internal_overlap`,
/// `assert_no_partial_overlap`): `dst` may not have a stride 0 over a dim of several
/// elements, and `other` may not share part of `dst`'s memory unless it is `dst` exactly.
/// Layouts that are not dense and non-overlapping (e.g. `x[::2]` against `x[1::2]`) are
/// "too hard" for PyTorch too, and pass.
fn check_overlap(dst: &Tensor, other: Option<&Tensor>) -> Result<()> {
    let l = dst.layout();
    if l.shape
        .iter()
        .zip(&l.strides)
        .any(|(&d, &s)| d > 1 && s == 0)
    {
        return Err(Error::Runtime("unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation.".into()));
    }
    let Some(o) = other.filter(|o| o.same_storage(dst)) else {
        return Ok(());
    };
    let lo = o.layout();
    if dst.numel() == 0
        || o.numel() == 0
        || !l.is_non_overlapping_and_dense()
        || !lo.is_non_overlapping_and_dense()
    {
        return Ok(());
    }
    // Element ranges in the shared storage (one dtype: the same buffer).
    let span = |l: &Layout| (l.offset, l.offset + l.numel());
    let ((a0, a1), (b0, b1)) = (span(l), span(lo));
    let partial = if (a0, a1) == (b0, b1) {
        l.strides != lo.strides
    } else {
        a0 < b1 && b0 < a1
    };
    if partial {
        return Err(Error::Runtime("unsupported operation: some elements of the input tensor and the written-to tensor refer to a single memory location. Please clone() the tensor before performing the operation.".into()));
    }
    Ok(())
}

/// `apply`, where `direct` may first try to update `dst` in place when nothing records
/// (`true`: done, so `f` is skipped; the version is bumped here), and `elementwise` adds the
/// overlap checks of `apply_elementwise`.
fn apply_or_assign(
    dst: &Tensor,
    other: Option<&Tensor>,
    elementwise: bool,
    direct: impl FnOnce() -> Result<bool>,
    f: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<()> {
    let grad_mode = is_grad_enabled();
    if grad_mode && dst.is_leaf() && dst.requires_grad() {
        return Err(Error::InplaceOnLeaf);
    }
    if dst.is_inference() && !crate::autograd::mode::is_inference_mode_enabled() {
        return Err(Error::Runtime(INFERENCE_INPLACE.into()));
    }
    let tracking = grad_mode && (dst.requires_grad() || other.is_some_and(|o| o.requires_grad()));
    if grad_mode && dst.was_created_as_view() {
        check_not_multi_output_view(dst)?;
    }
    if elementwise {
        check_overlap(dst, other)?;
    }
    if grad_mode {
        if let Some(base) = dst.view_base().filter(|b| tracking || b.requires_grad()) {
            return apply_on_view(dst, &base, f);
        }
    }
    let pre = if tracking {
        dst.with_same_history(kernels::cast(dst, dst.dtype())?)
    } else {
        if direct()? {
            dst.bump_version();
            return Ok(());
        }
        dst.clone()
    };
    let result = f(&pre)?;
    write_result(dst, &result)?;
    if tracking {
        dst.set_grad_fn(result.grad_fn(), 0);
    }
    Ok(())
}

/// The in-place view ops (`t_`, `squeeze_`, ...; see `ops::shape`): `view(dst)` is the
/// out-of-place view (recording its node when autograd records); the result is the handle
/// that replaces `dst`: its layout, `dst`'s identity, the view's node, the version bumped.
///
/// The checks are those of a write (a leaf that requires grad, a view of one, an output of
/// `split`/`chunk`/`unbind`, an inference tensor), in PyTorch's order and words. `dst` keeps
/// its history when nothing records (under `no_grad`, as in PyTorch), and a non-leaf that
/// retains its grad keeps receiving the grad of its value before the call (as in PyTorch,
/// whose retain-grad hook stays on the old node for these ops).
pub fn restride(dst: &Tensor, view: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    let grad_mode = is_grad_enabled();
    if grad_mode && dst.is_leaf() && dst.requires_grad() {
        return Err(Error::InplaceOnLeaf);
    }
    if dst.is_inference() && !crate::autograd::mode::is_inference_mode_enabled() {
        return Err(Error::Runtime(INFERENCE_INPLACE.into()));
    }
    if grad_mode && dst.was_created_as_view() {
        check_not_multi_output_view(dst)?;
        if dst
            .view_base()
            .is_some_and(|b| b.is_leaf() && b.requires_grad())
        {
            return Err(Error::Runtime(VIEW_OF_LEAF.into()));
        }
    }
    let out = view(dst)?;
    let new = dst.restrided(out.layout().clone());
    if let Some(node) = out.grad_fn() {
        if new.meta().retains_grad {
            // As PyTorch: `.grad` keeps receiving the grad of the value before the call
            // (the old node's output), now through the new handle.
            if let Some(old) = dst.grad_fn() {
                let (nr, weak) = (dst.output_nr(), new.downgrade());
                crate::autograd::hooks::with_node_hooks(old.id(), |h| {
                    h.retain_grad.push((nr, weak))
                })?;
            }
        }
        new.set_grad_fn(Some(node), out.output_nr());
    }
    new.bump_version();
    new.mark_view_current();
    Ok(new)
}

const VIEW_OF_LEAF: &str =
    "a view of a leaf Variable that requires grad is being used in an in-place operation.";

const INFERENCE_INPLACE: &str = "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details.";

/// PyTorch refuses in-place writes to the views that `split`, `chunk` and `unbind` return
/// (their backward could not see the write).
fn check_not_multi_output_view(dst: &Tensor) -> Result<()> {
    let Some(node) = dst.grad_fn() else {
        return Ok(());
    };
    let op = match node.name() {
        "SplitBackward0" => "Split",
        "SplitWithSizesBackward0" => "SplitWithSizes",
        "UnbindBackward0" => "Unbind",
        _ => return Ok(()),
    };
    Err(Error::Runtime(format!(
        "Output {} of {op} is a view and is being modified inplace. This view is the output of a function that returns multiple views. Such functions do not allow the output views to be modified inplace. You should replace the inplace operation by an out-of-place one.",
        dst.output_nr()
    )))
}

/// Checks that `result` fits `dst` (dtype and shape) and writes it into `dst`'s storage.
fn write_result(dst: &Tensor, result: &Tensor) -> Result<()> {
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
        kernels::cast(result, result.dtype())?
    } else {
        result.clone()
    };
    kernels::copy_into(dst, &values);
    dst.bump_version();
    Ok(())
}

/// The in-place op on `dst`, a view of `base`, with the base's history rebased.
fn apply_on_view(
    dst: &Tensor,
    base: &Tensor,
    f: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<()> {
    if base.is_leaf() && base.requires_grad() {
        return Err(Error::Runtime(VIEW_OF_LEAF.into()));
    }
    let region = region_in(dst, base)?;
    let pre = dst.with_same_history(kernels::cast(dst, dst.dtype())?);
    let result = f(&pre)?;
    write_result(dst, &result)?;
    let base_shape = base.dims();
    let node = record(
        Op::inplace(Backward::CopySlices {
            region: region.clone(),
            base_shape: base_shape.clone(),
        }),
        &[Some(base), Some(&result)],
    );
    base.set_grad_fn(Some(node), 0);
    let view_node = record(
        Op::inplace(Backward::AsStrided { region, base_shape }),
        &[Some(base)],
    );
    dst.set_grad_fn(Some(view_node), 0);
    Ok(())
}

/// A new `AsStridedBackward0` node reading `view`'s region out of its root's current
/// history (how a view whose storage was written through another alias regenerates its
/// history; see `Tensor::refresh_view`).
pub(crate) fn view_of_root(
    view: &Tensor,
    base: &Tensor,
) -> Result<crate::autograd::graph::NodeRef> {
    let region = region_in(view, base)?;
    Ok(record(
        Op::inplace(Backward::AsStrided {
            region,
            base_shape: base.dims(),
        }),
        &[Some(base)],
    ))
}

/// Where the view `dst` lies inside its (contiguous) root, in the root's element coordinates.
fn region_in(dst: &Tensor, base: &Tensor) -> Result<Layout> {
    let l = dst.layout();
    if !base.is_contiguous() {
        return Err(Error::Runtime(
            "in-place operations on views of a non-contiguous tensor are not supported yet".into(),
        ));
    }
    if l.shape
        .iter()
        .zip(&l.strides)
        .any(|(&n, &s)| n > 1 && s == 0)
    {
        return Err(Error::Runtime("unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation.".into()));
    }
    Ok(Layout {
        shape: l.shape.clone(),
        strides: l.strides.clone(),
        offset: l.offset - base.layout().offset,
    })
}

/// The region of a (contiguous) tensor shaped like the root, as a view (AsStridedBackward0).
fn as_strided(t: &Tensor, region: &Layout, base_shape: &[usize]) -> Result<Tensor> {
    let t = super::shape::contiguous(t)?;
    let l = Layout {
        offset: region.offset + t.layout().offset,
        ..region.clone()
    };
    let out = t.alias_with_layout(l);
    track(out, &[Some(&t)], |_| {
        Op::inplace(Backward::AsStrided {
            region: region.clone(),
            base_shape: base_shape.into(),
        })
    })
}

/// Zeros shaped like the root with `g` written into the region (the adjoint of `as_strided`).
fn region_scatter(g: &Tensor, region: &Layout, base_shape: &[usize]) -> Result<Tensor> {
    let out = Tensor::zeros(base_shape, g.dtype())?;
    kernels::copy_into(&out.alias_with_layout(region.clone()), &g.detach());
    let out = out.detach();
    track(out, &[Some(g)], |_| {
        Op::inplace(Backward::RegionScatter {
            region: region.clone(),
            base_shape: base_shape.into(),
        })
    })
}

#[derive(Clone)]
pub enum Backward {
    /// The root after an in-place write through a view: inputs (old root, written values).
    CopySlices {
        region: Layout,
        base_shape: Dims,
    },
    /// A view re-read from the rebased root.
    AsStrided {
        region: Layout,
        base_shape: Dims,
    },
    RegionScatter {
        region: Layout,
        base_shape: Dims,
    },
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::CopySlices { .. } => "CopySlices",
            Backward::AsStrided { .. } => "AsStridedBackward0",
            Backward::RegionScatter { .. } => "AsStridedScatterBackward0",
        }
    }

    pub fn apply(&self, g: &Tensor, _ctx: &Ctx) -> Result<Grads> {
        Ok(match self {
            Backward::CopySlices { region, base_shape } => {
                let keep = Tensor::ones(base_shape, g.dtype())?;
                kernels::copy_into(
                    &keep.alias_with_layout(region.clone()),
                    &Tensor::zeros(&region.shape, g.dtype())?,
                );
                let g_base = arith::mul(g, Operand::Tensor(&keep.detach()))?;
                let g_values = as_strided(g, region, base_shape)?;
                smallvec![Some(g_base), Some(g_values)]
            }
            Backward::AsStrided { region, base_shape } => {
                smallvec![Some(region_scatter(g, region, base_shape)?)]
            }
            Backward::RegionScatter { region, base_shape } => {
                smallvec![Some(as_strided(g, region, base_shape)?)]
            }
        })
    }
}

pub fn add_(dst: &Tensor, other: Operand, alpha: f64) -> Result<()> {
    let direct = || arith::binary_assign(dst, other, BinOp::Add, alpha);
    apply_or_assign(dst, operand_tensor(&other), true, direct, |pre| {
        arith::add(pre, other, alpha)
    })
}

pub fn sub_(dst: &Tensor, other: Operand, alpha: f64) -> Result<()> {
    let direct = || arith::binary_assign(dst, other, BinOp::Sub, alpha);
    apply_or_assign(dst, operand_tensor(&other), true, direct, |pre| {
        arith::sub(pre, other, alpha)
    })
}

pub fn mul_(dst: &Tensor, other: Operand) -> Result<()> {
    let direct = || arith::binary_assign(dst, other, BinOp::Mul, 1.0);
    apply_or_assign(dst, operand_tensor(&other), true, direct, |pre| {
        arith::mul(pre, other)
    })
}

pub fn div_(dst: &Tensor, other: Operand) -> Result<()> {
    let direct = || arith::binary_assign(dst, other, BinOp::Div, 1.0);
    apply_or_assign(dst, operand_tensor(&other), true, direct, |pre| {
        arith::div(pre, other)
    })
}

pub fn fill_(dst: &Tensor, value: f64) -> Result<()> {
    overwrite(dst, value, "FillBackward2")
}

/// `fill_(value)` with a 0-dim tensor (FillBackward3): `value`'s grad is the sum of the
/// grad, `dst`'s old values get zeros.
pub fn fill_tensor_(dst: &Tensor, value: &Tensor) -> Result<()> {
    if value.ndim() != 0 {
        return Err(Error::Runtime(format!(
            "fill_ only supports 0-dimension value tensor but got tensor with {} dimensions.",
            value.ndim()
        )));
    }
    let v = value.item()?.to_f64();
    apply(dst, Some(value), |pre| {
        let out = Tensor::full(pre.shape(), v, pre.dtype())?;
        track(out, &[Some(pre), Some(value)], |_| {
            Op::Arith(arith::Backward::Fill)
        })
    })
}

pub fn zero_(dst: &Tensor) -> Result<()> {
    overwrite(dst, 0.0, "ZeroBackward0")
}

fn overwrite(dst: &Tensor, value: f64, name: &'static str) -> Result<()> {
    apply(dst, None, |pre| {
        let out = Tensor::full(pre.shape(), value, pre.dtype())?;
        track(out, &[Some(pre)], |_| {
            Op::Arith(arith::Backward::Overwrite { name })
        })
    })
}

fn operand_tensor<'a>(o: &Operand<'a>) -> Option<&'a Tensor> {
    match o {
        Operand::Tensor(t) => Some(t),
        Operand::Scalar(_) => None,
    }
}
