//! Views and copies that change shape, order or dtype, and joining/splitting.
//!
//! Views (`view`, `reshape` when strides allow, `expand`, `transpose`, `permute`,
//! `unsqueeze`, `squeeze`, `narrow`, `diagonal`, `movedim`, the pieces of `split`/`chunk`/
//! `unbind`) alias the input's storage and version counter. Copies: `contiguous`, `clone`,
//! `to(dtype)`, `repeat`, `flip`, `roll`, `tril`/`triu`, `cat`, `stack`.
//!
//! `split`/`chunk`/`unbind` record one node with several outputs (`MultiBackward`). The
//! rules of the random creation ops (`ops::creation`) live here too: they only ever produce
//! zero grads (`Backward::ZeroGrad`) or refuse (`Backward::NotImplemented`).

use super::reduce::sum_to;
use super::{
    cast_raw, track, track_multi, track_multi_unsaved, track_unsaved, Backward as Op, Ctx, Grads,
};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::{self, team, PARALLEL_THRESHOLD};
use crate::shape::{
    check_offset_fits, check_strides_fit, check_view_strides, checked_numel, format_i64s,
    format_shape, infer_shape, wrap_dim, Dims, Layout,
};
use crate::storage::Element;
use crate::tensor::Tensor;
use smallvec::{smallvec, SmallVec};
use std::borrow::Cow;

/// Dispatches `$body` with `$T` bound to the element type of any dtype (bool included).
#[macro_export]
macro_rules! any_dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::dtype::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::dtype::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// A view of `t` with `shape` (which must have the same element count), no autograd.
pub fn view_raw(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    check_same_numel(t, shape)?;
    let strides = t.layout().view_strides(shape).ok_or(Error::InvalidView)?;
    check_view_strides(&strides)?;
    Ok(t.alias_with_layout(Layout {
        shape: shape.into(),
        strides,
        offset: t.layout().offset,
    }))
}

/// `view(*shape)`: ViewBackward0.
pub fn view(t: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let shape = infer_shape(shape, t.numel())?;
    let out = view_raw(t, &shape)?;
    let input_shape = t.dims();
    track(out, &[Some(t)], |_| {
        Op::shape(Backward::View { shape: input_shape })
    })
}

/// `reshape(*shape)`: a view when strides allow, else a contiguous copy.
pub fn reshape_i64(t: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let shape = infer_shape(shape, t.numel())?;
    reshape(t, &shape)
}

/// A target shape given as sizes (`reshape_as`, internal callers) must hold exactly `t`'s
/// elements: a view with more would read past the storage.
fn check_same_numel(t: &Tensor, shape: &[usize]) -> Result<()> {
    let n = if shape.contains(&0) {
        Some(0)
    } else {
        shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
    };
    if n == Some(t.numel()) {
        return Ok(());
    }
    let sizes: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Err(Error::InvalidShape {
        shape: crate::shape::format_i64s(&sizes),
        numel: t.numel(),
    })
}

pub fn reshape(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    check_same_numel(t, shape)?;
    let input_shape = t.dims();
    if let Some(strides) = t.layout().view_strides(shape) {
        check_view_strides(&strides)?;
        let out = t.alias_with_layout(Layout {
            shape: shape.into(),
            strides,
            offset: t.layout().offset,
        });
        // PyTorch views a contiguous input (ViewBackward0) and aliases any other one whose
        // strides allow it (`_reshape_alias`: ReshapeAliasBackward0).
        let contiguous = t.is_contiguous();
        return track(out, &[Some(t)], |_| {
            Op::shape(if contiguous {
                Backward::View { shape: input_shape }
            } else {
                Backward::ReshapeAlias { shape: input_shape }
            })
        });
    }
    let copy = kernels::cast(t, t.dtype())?;
    let out = view_raw(&copy, shape)?;
    track(out, &[Some(t)], |_| {
        Op::shape(Backward::UnsafeView { shape: input_shape })
    })
}

/// `expand(*shape)`: a broadcast view (stride 0 on expanded dims). -1 keeps a size.
pub fn expand(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    // Always a new view, even to the same shape (PyTorch records ExpandBackward0 then too).
    // A target whose element count overflows would give a view whose `numel()` wraps (found
    // by `fuzz/fuzz_targets/views.rs`: `expand([1], [usize::MAX - 2])`).
    checked_numel(shape)?;
    let layout = t.layout().broadcast_to(shape)?;
    // A new leading size-1 dim of an empty view may get a stride past i64::MAX (PyTorch's
    // wrapped product is negative): `empty(0).view(2**62, 0, 3).expand(1, 2**62, 0, 3)`.
    check_strides_fit(&layout.strides)?;
    let out = t.alias_with_layout(layout);
    let input_shape = t.dims();
    track(out, &[Some(t)], |_| {
        Op::shape(Backward::Expand { shape: input_shape })
    })
}

pub fn expand_i64(t: &Tensor, sizes: &[i64]) -> Result<Tensor> {
    let nd = sizes.len();
    if nd < t.ndim() {
        let type_name = match t.dtype() {
            DType::Bool => "CPUBoolType",
            d => d.legacy_type_name(),
        };
        return Err(Error::Runtime(format!(
            "expand({type_name}{{{}}}, size={}): the number of sizes provided ({nd}) must be greater or equal to the number of dimensions in the tensor ({})",
            format_shape(t.shape()),
            format_i64s(sizes),
            t.ndim()
        )));
    }
    let lead = nd - t.ndim();
    let mut shape = Dims::new();
    for (i, &s) in sizes.iter().enumerate() {
        let existing = i.checked_sub(lead).map(|j| t.shape()[j]);
        if s == -1 {
            match existing {
                Some(n) => shape.push(n),
                None => {
                    return Err(Error::Runtime(format!(
                        "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i}"
                    )))
                }
            }
        } else if s < 0 {
            // PyTorch's wording depends on whether the dim could have been broadcast.
            return Err(Error::Runtime(match existing {
                Some(n) if n != 1 => format!(
                    "The expanded size of the tensor ({s}) must match the existing size ({n}) at non-singleton dimension {i}.  Target sizes: {}.  Tensor sizes: {}",
                    format_i64s(sizes),
                    format_shape(t.shape())
                ),
                _ => "numel: integer multiplication overflow".into(),
            }));
        } else {
            shape.push(s as usize);
        }
    }
    checked_numel(&shape)?;
    expand(t, &shape)
}

/// `transpose(d0, d1)`: a view with two dims swapped (TransposeBackward0).
pub fn transpose(t: &Tensor, d0: i64, d1: i64) -> Result<Tensor> {
    transpose_named(t, d0, d1, "TransposeBackward0")
}

fn transpose_named(t: &Tensor, d0: i64, d1: i64, name: &'static str) -> Result<Tensor> {
    let (a, b) = (wrap_dim(d0, t.ndim())?, wrap_dim(d1, t.ndim())?);
    let out = t.alias_with_layout(swap_dims(t.layout(), a, b));
    track(out, &[Some(t)], |_| {
        Op::shape(Backward::Transpose { dims: (a, b), name })
    })
}

/// `t()`: transpose of a tensor with at most 2 dims (TBackward0).
pub fn t(x: &Tensor) -> Result<Tensor> {
    t_named(x, "t", "TBackward0")
}

fn t_named(x: &Tensor, op: &str, name: &'static str) -> Result<Tensor> {
    if x.ndim() > 2 {
        return Err(Error::Runtime(format!(
            "{op}() expects a tensor with <= 2 dimensions, but self is {}D",
            x.ndim()
        )));
    }
    let dims = if x.ndim() < 2 { (0, 0) } else { (0, 1) };
    let out = x.alias_with_layout(swap_dims(x.layout(), dims.0, dims.1));
    track(out, &[Some(x)], |_| {
        Op::shape(Backward::Transpose { dims, name })
    })
}

/// `layout` with dims `a` and `b` swapped; a 0-dim layout (where both are the wrapped dim 0)
/// is returned unchanged.
fn swap_dims(layout: &Layout, a: usize, b: usize) -> Layout {
    if layout.shape.is_empty() || a == b {
        layout.clone()
    } else {
        layout.transpose(a, b)
    }
}

/// `permute(*dims)`: a view with dims reordered (PermuteBackward0).
pub fn permute(t: &Tensor, dims: &[i64]) -> Result<Tensor> {
    let nd = t.ndim();
    if dims.len() != nd {
        return Err(Error::Runtime(format!(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal to len(dims) = {}",
            dims.len()
        )));
    }
    let mut perm = Dims::new();
    for &d in dims {
        let w = wrap_dim(d, nd)?;
        if perm.contains(&w) {
            return Err(Error::Runtime(
                "permute(): duplicate dims are not allowed.".into(),
            ));
        }
        perm.push(w);
    }
    let l = t.layout();
    let layout = Layout {
        shape: perm.iter().map(|&p| l.shape[p]).collect(),
        strides: perm.iter().map(|&p| l.strides[p]).collect(),
        offset: l.offset,
    };
    let out = t.alias_with_layout(layout);
    track(out, &[Some(t)], |_| Op::shape(Backward::Permute { perm }))
}

/// `unsqueeze(dim)`: a view with a new size-1 dim (UnsqueezeBackward0).
pub fn unsqueeze(t: &Tensor, dim: i64) -> Result<Tensor> {
    unsqueeze_named(t, dim, "UnsqueezeBackward0")
}

fn unsqueeze_named(t: &Tensor, dim: i64, name: &'static str) -> Result<Tensor> {
    let d = wrap_dim(dim, t.ndim() + 1)?;
    let out = t.alias_with_layout(unsqueeze_layout(t.layout(), d)?);
    let shape = t.dims();
    track(out, &[Some(t)], |_| {
        Op::shape(Backward::Restride { shape, name })
    })
}

/// `l` with a new size-1 dim at `d` (`d <= l.ndim()`).
fn unsqueeze_layout(l: &Layout, d: usize) -> Result<Layout> {
    let mut layout = l.clone();
    // Wrapping, as PyTorch's int64 product: an empty view's size * stride may overflow
    // (`empty(0).view(0, 4, 2**62).unsqueeze(1)`, found by the cargo-fuzz target `views`),
    // and PyTorch refuses a product past i64::MAX (a negative stride).
    let stride = if d < l.ndim() {
        l.shape[d].wrapping_mul(l.strides[d])
    } else {
        1
    };
    layout.shape.insert(d, 1);
    layout.strides.insert(d, stride);
    check_strides_fit(&layout.strides)?;
    layout.strides[d] = stride.max(1);
    Ok(layout)
}

/// `squeeze()` / `squeeze(dim)` / `squeeze(dims)`: a view without the named size-1 dims
/// (SqueezeBackward0 / 1 / 2, as PyTorch names the three overloads).
pub fn squeeze(t: &Tensor, dims: Option<&[i64]>) -> Result<Tensor> {
    squeeze_as(t, dims, dims.is_some_and(|d| d.len() != 1))
}

/// `squeeze` with the overload chosen by the caller: `list` is PyTorch's dims overload
/// (SqueezeBackward2, also for a one-element tuple), else one dim (SqueezeBackward1).
pub fn squeeze_as(t: &Tensor, dims: Option<&[i64]>, list: bool) -> Result<Tensor> {
    const NAMES: [&str; 3] = ["SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2"];
    squeeze_named(t, dims, list, NAMES)
}

/// `squeeze` under the node names of its three overloads (no dim, one dim, a list of dims).
fn squeeze_named(
    t: &Tensor,
    dims: Option<&[i64]>,
    list: bool,
    names: [&'static str; 3],
) -> Result<Tensor> {
    let nd = t.ndim();
    let (targets, name): (Dims, &'static str) = match dims {
        None => ((0..nd).collect(), names[0]),
        Some(ds) => {
            let mut v = Dims::new();
            for &d in ds {
                let w = wrap_dim(d, nd)?;
                if list && v.contains(&w) {
                    return Err(Error::Runtime(format!(
                        "dim {w} appears multiple times in the list of dims"
                    )));
                }
                v.push(w);
            }
            (v, if list { names[2] } else { names[1] })
        }
    };
    let l = t.layout();
    let mut layout = Layout {
        shape: Dims::new(),
        strides: Dims::new(),
        offset: l.offset,
    };
    for i in 0..nd {
        if !(l.shape[i] == 1 && targets.contains(&i)) {
            layout.shape.push(l.shape[i]);
            layout.strides.push(l.strides[i]);
        }
    }
    let out = t.alias_with_layout(layout);
    let shape = t.dims();
    track(out, &[Some(t)], |_| {
        Op::shape(Backward::Restride { shape, name })
    })
}

// ---- in-place views: `self` itself takes the view's layout -----------------------------
//
// PyTorch's `t_`, `transpose_`, `squeeze_` and `unsqueeze_` restride `self`. Here a tensor's
// layout is fixed at creation (every op reads it without a lock), so each returns a new
// handle to the same tensor (`Tensor::restrided`: same storage, version counter and view
// base, a copy of the autograd metadata) that the Python wrapper puts in place of the old
// one (`ops::inplace::restride` has the checks and the history). The node is the view's,
// under PyTorch's name of the in-place overload (`TBackward1`, `SqueezeBackward3`, ...).

/// `t_()`: `t()` in place (TBackward1).
pub fn t_(x: &Tensor) -> Result<Tensor> {
    super::inplace::restride(x, |x| t_named(x, "t_", "TBackward1"))
}

/// `transpose_(d0, d1)` (and `swapaxes_`/`swapdims_`): TransposeBackward1.
pub fn transpose_(x: &Tensor, d0: i64, d1: i64) -> Result<Tensor> {
    super::inplace::restride(x, |x| transpose_named(x, d0, d1, "TransposeBackward1"))
}

/// `unsqueeze_(dim)`: UnsqueezeBackward1.
pub fn unsqueeze_(x: &Tensor, dim: i64) -> Result<Tensor> {
    super::inplace::restride(x, |x| unsqueeze_named(x, dim, "UnsqueezeBackward1"))
}

/// `squeeze_()` / `squeeze_(dim)` / `squeeze_(dims)` (`list`, as in `squeeze_as`):
/// SqueezeBackward3 / 4 / 5. A dim whose size is not 1 is left alone (the version still
/// moves on, as in PyTorch).
pub fn squeeze_(x: &Tensor, dims: Option<&[i64]>, list: bool) -> Result<Tensor> {
    const NAMES: [&str; 3] = ["SqueezeBackward3", "SqueezeBackward4", "SqueezeBackward5"];
    super::inplace::restride(x, |x| squeeze_named(x, dims, list, NAMES))
}

/// A view of `t` reshaped to `shape` under a given node name (for composite ops that end in
/// PyTorch's `squeeze_`/`_unsafe_view`, e.g. `matmul`).
pub fn reshape_named(t: &Tensor, shape: &[usize], name: &'static str) -> Result<Tensor> {
    let out = match t.layout().view_strides(shape) {
        Some(strides) => {
            check_view_strides(&strides)?;
            t.alias_with_layout(Layout {
                shape: shape.into(),
                strides,
                offset: t.layout().offset,
            })
        }
        None => view_raw(&kernels::cast(t, t.dtype())?, shape)?,
    };
    let input_shape = t.dims();
    track(out, &[Some(t)], |_| {
        Op::shape(Backward::Restride {
            shape: input_shape,
            name,
        })
    })
}

/// `contiguous()`: `t` itself when already contiguous, else a copy (CloneBackward0).
pub fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        return Ok(t.clone());
    }
    clone_as(t, false)
}

/// `clone()`: a copy laid out as PyTorch's `preserve_format` lays it (CloneBackward0).
pub fn clone(t: &Tensor) -> Result<Tensor> {
    clone_as(t, true)
}

/// `clone(memory_format=...)`: `preserve` keeps `t`'s strides when `t` is dense and
/// non-overlapping, and otherwise orders dense strides as `t`'s are ordered (PyTorch's
/// `empty_like`); else a row-major copy (`contiguous_format`).
pub fn clone_as(t: &Tensor, preserve: bool) -> Result<Tensor> {
    let out = if preserve {
        let layout = Layout {
            shape: t.dims(),
            strides: preserved_strides(t.layout()),
            offset: 0,
        };
        // Compared whole: PyTorch keeps even the strides of size-1 dims.
        if layout.strides == Layout::contiguous(&layout.shape).strides {
            kernels::cast(t, t.dtype())?
        } else {
            let buf = crate::storage::Buffer::zeros(t.dtype(), t.numel())?;
            let storage = std::sync::Arc::new(crate::storage::Storage::new(buf));
            let out = Tensor::from_storage(storage, layout)?;
            kernels::copy_into(&out, t);
            out
        }
    } else {
        kernels::cast(t, t.dtype())?
    };
    track(out, &[Some(t)], |_| Op::shape(Backward::Clone))
}

/// The strides of a `preserve_format` copy of a tensor laid out as `l` (PyTorch's
/// `empty_like`): `l`'s own when it is dense and non-overlapping, else dense strides whose
/// order follows `l`'s (`infer_dense_strides`: a stable sort, size-1 and zero-stride dims
/// keep their place).
fn preserved_strides(l: &Layout) -> Dims {
    let (shape, strides) = (&l.shape, &l.strides);
    let nd = shape.len();
    if l.is_non_overlapping_and_dense() {
        return strides.clone();
    }
    // -1: `a` stays before `b`; 1: they swap; 0: undecided (keep looking further back).
    let order = |a: usize, b: usize| -> i8 {
        let (sa, sb) = (strides[a], strides[b]);
        if sa == 0 || sb == 0 {
            0
        } else if sa != sb {
            if sa < sb {
                -1
            } else {
                1
            }
        } else if shape[a] > shape[b] {
            1
        } else {
            0
        }
    };
    let mut perm: Dims = (0..nd).rev().collect();
    for i in 1..nd {
        let mut d1 = i;
        for d0 in (0..i).rev() {
            match order(perm[d0], perm[d1]) {
                1 => {
                    perm.swap(d0, d1);
                    d1 = d0;
                }
                -1 => break,
                _ => {}
            }
        }
    }
    let mut out: Dims = smallvec![0; nd];
    let mut step = 1usize;
    for &d in perm.iter() {
        out[d] = step;
        if shape[d] > 1 {
            step *= shape[d];
        }
    }
    out
}

/// `to(dtype)`: `t` itself when the dtype already matches, else a copy (ToCopyBackward0).
pub fn to_dtype(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        return Ok(t.clone());
    }
    let out = cast_raw(t, dtype)?;
    if !dtype.is_floating_point() {
        return Ok(out);
    }
    track(out, &[Some(t)], |_| Op::shape(Backward::ToCopy))
}

// ---- flatten / unflatten / .T / .mT -----------------------------------------------------

/// `flatten(start_dim, end_dim)`: a reshape merging the dims in between (a view when the
/// strides allow). `t` itself when they name one dim; a zero-dim tensor becomes 1-d.
pub fn flatten(t: &Tensor, start_dim: i64, end_dim: i64) -> Result<Tensor> {
    let (s, e) = (wrap_dim(start_dim, t.ndim())?, wrap_dim(end_dim, t.ndim())?);
    if t.ndim() == 0 {
        return reshape(t, &[1]);
    }
    if s > e {
        return Err(Error::Runtime(
            "flatten() has invalid args: start_dim cannot come after end_dim".into(),
        ));
    }
    if s == e {
        return Ok(t.clone());
    }
    let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
    let mut out = shape[..s].to_vec();
    // An empty tensor's other sizes may multiply past 64 bits: PyTorch's int64 product wraps
    // (`empty(0).view(0, 4, 2**62).flatten(1, 2)` has shape `[0, 0]`), and a product that
    // wraps negative is refused by reshape as a negative size (found by the cargo-fuzz
    // target `views`: `empty(0).view(0, 3, 2**62, 4).flatten(1, 2)` had a size past i64::MAX).
    out.push(shape[s..=e].iter().fold(1i64, |a, &d| a.wrapping_mul(d)));
    out.extend_from_slice(&shape[e + 1..]);
    reshape_i64(t, &out)
}

/// `unflatten(dim, sizes)`: a view splitting `dim` into `sizes` (one may be -1).
pub fn unflatten(t: &Tensor, dim: i64, sizes: &[i64]) -> Result<Tensor> {
    if sizes.is_empty() {
        return Err(Error::Runtime("unflatten: sizes must be non-empty".into()));
    }
    let d = wrap_dim(dim, t.ndim())?;
    let n = t.shape().get(d).copied().unwrap_or(1);
    let inner = infer_shape(sizes, n).map_err(|e| match e {
        Error::InvalidShape { .. } => Error::Runtime(format!(
            "unflatten: Provided sizes {} don't multiply up to the size of dim {d} ({n}) in the input tensor",
            format_i64s(sizes)
        )),
        other => Error::Runtime(format!("unflatten got an unexpected error:\n{other}")),
    })?;
    let mut shape: Vec<i64> = t.shape()[..d.min(t.ndim())]
        .iter()
        .map(|&x| x as i64)
        .collect();
    shape.extend(inner.iter().map(|&x| x as i64));
    shape.extend(t.shape().iter().skip(d + 1).map(|&x| x as i64));
    view(t, &shape)
}

/// `.T`: all dims reversed (PermuteBackward0, whatever the number of dims).
pub fn numpy_t(t: &Tensor) -> Result<Tensor> {
    let rev: Vec<i64> = (0..t.ndim() as i64).rev().collect();
    permute(t, &rev)
}

/// `.mT`: the last two dims swapped (TransposeBackward0); a zero-dim tensor is returned as
/// it is (PyTorch's deprecated identity).
pub fn matrix_t(t: &Tensor) -> Result<Tensor> {
    if t.ndim() == 0 {
        return Ok(t.clone());
    }
    if t.ndim() < 2 {
        return Err(Error::Runtime(format!(
            "tensor.mT is only supported on matrices or batches of matrices. Got {}-D tensor.",
            t.ndim()
        )));
    }
    transpose(t, -2, -1)
}

/// `swapaxes`/`swapdims` are `transpose`; `movedim(source, destination)` moves the dims in
/// `source` to the positions in `destination`, keeping the others in order (a permute).
pub fn movedim(t: &Tensor, source: &[i64], destination: &[i64]) -> Result<Tensor> {
    if source.len() != destination.len() {
        return Err(Error::Runtime(format!(
            "movedim: Invalid source or destination dims: source ({} dims) should contain the same number of dims as destination ({} dims)",
            format_i64s(source),
            format_i64s(destination)
        )));
    }
    let nd = t.ndim();
    let repeated =
        |what: &str, ds: &[i64]| format!("movedim: repeated dim in `{what}` ({})", format_i64s(ds));
    let src = distinct_dims(source, nd, |_| repeated("source", source))?;
    let dst = distinct_dims(destination, nd, |_| repeated("destination", destination))?;
    if nd == 0 {
        let out = t.alias_with_layout(t.layout().clone());
        let shape = t.dims();
        return track(out, &[Some(t)], |_| {
            Op::shape(Backward::Restride {
                shape,
                name: "AliasBackward0",
            })
        });
    }
    let mut perm: Vec<Option<usize>> = vec![None; nd];
    for (&s, &d) in src.iter().zip(&dst) {
        perm[d] = Some(s);
    }
    let mut rest = (0..nd).filter(|d| !src.contains(d));
    let perm: Vec<i64> = perm
        .into_iter()
        .map(|p| p.or_else(|| rest.next()).unwrap_or(0) as i64)
        .collect();
    permute(t, &perm)
}

// ---- sub-regions: narrow, diagonal, select ----------------------------------------------

/// A view onto part of a tensor, described so that it can be taken of any layout: of the
/// input in the forward, of the grad in double backward, of zeros in `embed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// `narrow(dim, start, len)`.
    Slice {
        dim: usize,
        start: usize,
        len: usize,
    },
    /// `select(dim, index)`: `dim` is removed.
    Select { dim: usize, index: usize },
    /// `diagonal(offset, dim1, dim2)`: both dims removed, the diagonal appended last.
    Diagonal {
        offset: i64,
        dim1: usize,
        dim2: usize,
    },
}

impl Region {
    /// The region's layout. Offsets and strides use PyTorch's wrapping int64 arithmetic
    /// (only an empty view's can overflow: its strides may be huge), and a result past
    /// `i64::MAX` is PyTorch's error for a negative offset or stride.
    fn layout(self, l: &Layout) -> Result<Layout> {
        let mut out = l.clone();
        match self {
            Region::Slice { dim, start, len } => {
                out.offset =
                    check_offset_fits(l.offset.wrapping_add(start.wrapping_mul(l.strides[dim])))?;
                out.shape[dim] = len;
            }
            Region::Select { dim, index } => {
                out.offset =
                    check_offset_fits(l.offset.wrapping_add(index.wrapping_mul(l.strides[dim])))?;
                out.shape.remove(dim);
                out.strides.remove(dim);
            }
            Region::Diagonal { offset, dim1, dim2 } => {
                let (n1, n2) = (l.shape[dim1], l.shape[dim2]);
                let k = offset.unsigned_abs() as usize;
                let (size, along) = if offset >= 0 {
                    (n1.min(n2.saturating_sub(k)), dim2)
                } else {
                    (n1.saturating_sub(k).min(n2), dim1)
                };
                if size > 0 {
                    // k < the size of `along` here, so this stays inside the storage of a
                    // non-empty view.
                    out.offset =
                        check_offset_fits(l.offset.wrapping_add(k.wrapping_mul(l.strides[along])))?;
                }
                out.shape.clear();
                out.strides.clear();
                for d in (0..l.ndim()).filter(|&d| d != dim1 && d != dim2) {
                    out.shape.push(l.shape[d]);
                    out.strides.push(l.strides[d]);
                }
                out.shape.push(size);
                // Found by the cargo-fuzz target `views`: a plain `+` overflowed on an empty
                // view's huge strides.
                out.strides
                    .push(l.strides[dim1].wrapping_add(l.strides[dim2]));
                check_strides_fit(&out.strides)?;
            }
        }
        Ok(out)
    }

    fn name(self) -> &'static str {
        match self {
            Region::Slice { .. } => "SliceBackward0",
            Region::Select { .. } => "SelectBackward0",
            Region::Diagonal { .. } => "DiagonalBackward0",
        }
    }

    fn embed_name(self) -> &'static str {
        match self {
            Region::Slice { .. } => "SliceBackwardBackward0",
            Region::Select { .. } => "SelectBackwardBackward0",
            Region::Diagonal { .. } => "DiagonalBackwardBackward0",
        }
    }
}

/// The region of `t` as a view, not recorded.
fn region_raw(t: &Tensor, region: Region) -> Result<Tensor> {
    let mut layout = region.layout(t.layout())?;
    if layout.numel() == 0 {
        // An empty view reads nothing; keep its offset inside the storage.
        layout.offset = layout.offset.min(t.buffer().len());
    }
    Ok(t.alias_with_layout(layout))
}

/// The region of `t` as a recorded view (SliceBackward0 / DiagonalBackward0 / ...).
fn region_view(t: &Tensor, region: Region) -> Result<Tensor> {
    let shape = t.dims();
    Ok(track_unsaved(region_raw(t, region)?, &[Some(t)], |_| {
        Op::shape(Backward::Region { region, shape })
    }))
}

/// Zeros of `shape` with `g` written into `region` (the adjoint of taking the region).
fn embed(g: &Tensor, shape: &[usize], region: Region) -> Result<Tensor> {
    let out = Tensor::zeros(shape, g.dtype())?;
    kernels::copy_into(&region_raw(&out, region)?, g);
    track(out, &[Some(g)], |_| Op::shape(Backward::Embed { region }))
}

/// `narrow(dim, start, length)`: a view of `length` entries of `dim` from `start`.
pub fn narrow(t: &Tensor, dim: i64, start: i64, length: i64) -> Result<Tensor> {
    if t.ndim() == 0 {
        return Err(Error::Runtime(
            "narrow() cannot be applied to a 0-dim tensor.".into(),
        ));
    }
    if length < 0 {
        return Err(Error::Runtime(
            "narrow(): length must be non-negative.".into(),
        ));
    }
    let d = wrap_dim(dim, t.ndim())?;
    let size = t.shape()[d] as i64;
    if start < -size || start > size {
        return Err(Error::Index(format!(
            "start out of range (expected to be in range of [{}, {size}], but got {start})",
            -size
        )));
    }
    let start = if start < 0 { start + size } else { start };
    if start.saturating_add(length) > size {
        return Err(Error::Runtime(format!(
            "start ({start}) + length ({length}) exceeds dimension size ({size})."
        )));
    }
    region_view(
        t,
        Region::Slice {
            dim: d,
            start: start as usize,
            len: length as usize,
        },
    )
}

/// `diagonal(offset, dim1, dim2)`: a view of the diagonal of the `dim1` x `dim2` planes.
pub fn diagonal(t: &Tensor, offset: i64, dim1: i64, dim2: i64) -> Result<Tensor> {
    let (d1, d2) = (wrap_dim(dim1, t.ndim())?, wrap_dim(dim2, t.ndim())?);
    if d1 == d2 {
        return Err(Error::Runtime(format!(
            "diagonal dimensions cannot be identical {dim1}, {dim2}"
        )));
    }
    region_view(
        t,
        Region::Diagonal {
            offset,
            dim1: d1,
            dim2: d2,
        },
    )
}

// ---- split / chunk / unbind: one node, several outputs -----------------------------------

/// The error of splitting a zero-dim tensor (`what`: split / chunk).
fn need_dims(t: &Tensor, what: &str) -> Result<()> {
    if t.ndim() == 0 {
        return Err(Error::Runtime(format!(
            "{what} expects at least a 1-dimensional tensor"
        )));
    }
    Ok(())
}

/// `split(split_size, dim)`: pieces of `split_size` along `dim` (the last may be shorter).
pub fn split(t: &Tensor, split_size: i64, dim: i64) -> Result<Vec<Tensor>> {
    need_dims(t, "split")?;
    if split_size < 0 {
        return Err(Error::Runtime(format!(
            "split expects split_size be non-negative, but got split_size={split_size}"
        )));
    }
    let d = wrap_dim(dim, t.ndim())?;
    let n = t.shape()[d];
    if split_size == 0 && n != 0 {
        return Err(Error::Runtime(format!(
            "split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
        )));
    }
    let step = (split_size as u64).min(n as u64) as usize;
    let count = if step == 0 {
        1
    } else {
        n.div_ceil(step).max(1)
    };
    let sizes: Vec<usize> = (0..count).map(|i| step.min(n - i * step)).collect();
    split_pieces(t, d, sizes, "SplitBackward0")
}

/// `split(sizes, dim)` with a list of sizes (SplitWithSizesBackward0).
pub fn split_with_sizes(t: &Tensor, sizes: &[i64], dim: i64) -> Result<Vec<Tensor>> {
    need_dims(t, "split")?;
    let d = wrap_dim(dim, t.ndim())?;
    let n = t.shape()[d];
    if sizes.iter().any(|&s| s < 0) {
        return Err(Error::Runtime(format!(
            "split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes={}",
            format_i64s(sizes)
        )));
    }
    let total = sizes.iter().try_fold(0u64, |a, &s| a.checked_add(s as u64));
    if total != Some(n as u64) {
        return Err(Error::Runtime(format!(
            "split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension {d}), but got split_sizes={}",
            format_i64s(sizes)
        )));
    }
    let sizes = sizes.iter().map(|&s| s as usize).collect();
    split_pieces(t, d, sizes, "SplitWithSizesBackward0")
}

/// `chunk(chunks, dim)`: `split` into pieces of `ceil(size / chunks)`.
pub fn chunk(t: &Tensor, chunks: i64, dim: i64) -> Result<Vec<Tensor>> {
    need_dims(t, "chunk")?;
    if chunks <= 0 {
        return Err(Error::Runtime(format!(
            "chunk expects `chunks` to be greater than 0, got: {chunks}"
        )));
    }
    let d = wrap_dim(dim, t.ndim())?;
    let n = t.shape()[d];
    let step = (n as u64).div_ceil(chunks as u64) as i64;
    if n == 0 {
        // An empty dim still gives `chunks` (empty) pieces.
        let mut sizes = Vec::new();
        sizes
            .try_reserve_exact(chunks as usize)
            .map_err(|_| Error::Runtime(format!("chunk: cannot make {chunks} chunks")))?;
        sizes.resize(chunks as usize, 0);
        return split_pieces(t, d, sizes, "SplitWithSizesBackward0");
    }
    split(t, step, dim)
}

fn split_pieces(
    t: &Tensor,
    dim: usize,
    sizes: Vec<usize>,
    name: &'static str,
) -> Result<Vec<Tensor>> {
    let mut start = 0;
    let pieces = sizes
        .iter()
        .map(|&len| {
            let p = region_raw(t, Region::Slice { dim, start, len });
            start += len;
            p
        })
        .collect::<Result<_>>()?;
    Ok(track_multi_unsaved(pieces, &[Some(t)], |_| {
        Op::multi(MultiBackward::Split {
            dim,
            sizes,
            shape: t.dims(),
            name,
        })
    }))
}

/// `unbind(dim)`: the slices along `dim`, each without it (UnbindBackward0).
pub fn unbind(t: &Tensor, dim: i64) -> Result<Vec<Tensor>> {
    let d = wrap_dim(dim, t.ndim())?;
    if t.ndim() == 0 {
        return Err(Error::Index(format!(
            "Dimension specified as {d} but tensor has no dimensions"
        )));
    }
    let pieces = (0..t.shape()[d])
        .map(|index| region_raw(t, Region::Select { dim: d, index }))
        .collect::<Result<_>>()?;
    track_multi(pieces, &[Some(t)], |_| {
        Op::multi(MultiBackward::Unbind {
            dim: d,
            shape: t.dims(),
        })
    })
}

// ---- joining: cat / stack ----------------------------------------------------------------

/// The values of `t` in row-major order as `T`: borrowed when `t` already is a contiguous
/// `T` tensor, else gathered and converted.
fn values_as<T: Element>(t: &Tensor) -> Cow<'_, [T]> {
    if t.dtype() == T::DTYPE {
        if let Some(s) = t.contiguous_slice::<T>() {
            return Cow::Borrowed(s);
        }
    }
    Cow::Owned(kernels::gather_cast::<T>(t))
}

/// A zero-filled `Vec`; allocation failure is PyTorch's allocator error, not an abort.
pub(crate) fn zeroed<T: Element>(n: usize) -> Result<Vec<T>> {
    crate::storage::alloc_filled(n, T::default())
}

/// Fills `out` (contiguous, `row` elements per row) row by row with `fill(row, dst)`, across
/// the pool when it is large.
fn fill_rows<T: Element>(out: &mut [T], row: usize, fill: impl Fn(usize, &mut [T]) + Sync) {
    if row == 0 {
        return;
    }
    if out.len() >= PARALLEL_THRESHOLD {
        team::for_each_chunk_mut(out, row, fill);
    } else {
        for (r, dst) in out.chunks_mut(row).enumerate() {
            fill(r, dst);
        }
    }
}

/// Concatenates `parts` (same ndim, same sizes except at `dim`) along `dim` as `dtype`.
fn cat_raw(parts: &[Tensor], dim: usize, dtype: DType) -> Result<Tensor> {
    let mut shape = parts[0].dims();
    // Wrapping, as PyTorch's int64 sum: empty parts may have sizes that add past 64 bits
    // (`cat([empty(0).view(0, 2**62)] * 4, 1)` has shape `[0, 0]`); a sum past i64::MAX is
    // checked_numel's negative-dimension error, as in PyTorch.
    shape[dim] = parts
        .iter()
        .fold(0usize, |a, p| a.wrapping_add(p.shape()[dim]));
    let n = checked_numel(&shape)?;
    let inner: usize = shape[dim + 1..].iter().product();
    // Wrapping for the same reason: only an empty result's widths can overflow, and then no
    // row is filled.
    let widths: Vec<usize> = parts
        .iter()
        .map(|p| p.shape()[dim].wrapping_mul(inner))
        .collect();
    let row = widths.iter().fold(0usize, |a, &w| a.wrapping_add(w));
    crate::any_dispatch!(dtype, T => {
        // The output first: when it can be allocated, so can each part it is made of.
        let mut out = zeroed::<T>(n)?;
        let srcs: Vec<Cow<'_, [T]>> = parts.iter().map(values_as::<T>).collect();
        fill_rows(&mut out, row, |r, dst| {
            let mut at = 0;
            for (src, &w) in srcs.iter().zip(&widths) {
                dst[at..at + w].copy_from_slice(&src[r * w..(r + 1) * w]);
                at += w;
            }
        });
        Tensor::from_vec(out, &shape)
    })
}

/// `cat(tensors, dim)`: the tensors joined along `dim`, in their promoted dtype
/// (CatBackward0). 1-d empty tensors are skipped, as PyTorch's legacy rule.
pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
    if tensors.is_empty() {
        return Err(Error::Value(
            "torch.cat(): expected a non-empty list of Tensors".into(),
        ));
    }
    if let Some(i) = tensors.iter().position(|t| t.ndim() == 0) {
        return Err(Error::Runtime(format!(
            "zero-dimensional tensor (at position {i}) cannot be concatenated"
        )));
    }
    let dtype = tensors
        .iter()
        .skip(1)
        .fold(tensors[0].dtype(), |d, t| d.promote(t.dtype()));
    let skipped = |t: &Tensor| t.ndim() == 1 && t.numel() == 0;
    let inputs: Vec<Option<&Tensor>> = tensors.iter().map(Some).collect();
    let Some(first) = tensors.iter().find(|t| !skipped(t)) else {
        let out = Tensor::zeros(&[0], dtype)?;
        let sizes = tensors.iter().map(|_| None).collect();
        return track(out, &inputs, |_| Op::shape(Backward::Cat { dim: 0, sizes }));
    };
    let d = wrap_dim(dim, first.ndim())?;
    let mut parts = Vec::with_capacity(tensors.len());
    for (i, t) in tensors.iter().enumerate().filter(|(_, t)| !skipped(t)) {
        if t.ndim() != first.ndim() {
            return Err(Error::Runtime(format!(
                "Tensors must have same number of dimensions: got {} and {}",
                first.ndim(),
                t.ndim()
            )));
        }
        for k in (0..t.ndim()).filter(|&k| k != d) {
            if t.shape()[k] != first.shape()[k] {
                return Err(Error::Runtime(format!(
                    "Sizes of tensors must match except in dimension {d}. Expected size {} but got size {} for tensor number {i} in the list.",
                    first.shape()[k],
                    t.shape()[k]
                )));
            }
        }
        parts.push(t.clone());
    }
    let out = cat_raw(&parts, d, dtype)?;
    track(out, &inputs, |_| {
        Op::shape(Backward::Cat {
            dim: d,
            sizes: tensors
                .iter()
                .map(|t| (!skipped(t)).then(|| t.shape()[d]))
                .collect(),
        })
    })
}

/// `stack(tensors, dim)`: equal-shaped tensors joined along a new dim (StackBackward0).
pub fn stack(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
    let Some(first) = tensors.first() else {
        return Err(Error::Runtime(
            "stack expects a non-empty TensorList".into(),
        ));
    };
    let d = wrap_dim(dim, first.ndim() + 1)?;
    if let Some((i, t)) = tensors
        .iter()
        .enumerate()
        .find(|(_, t)| t.shape() != first.shape())
    {
        return Err(Error::Runtime(format!(
            "stack expects each tensor to be equal size, but got {} at entry 0 and {} at entry {i}",
            format_shape(first.shape()),
            format_shape(t.shape())
        )));
    }
    let dtype = tensors
        .iter()
        .fold(first.dtype(), |acc, t| acc.promote(t.dtype()));
    let parts: Vec<Tensor> = tensors
        .iter()
        .map(|t| Ok(t.alias_with_layout(unsqueeze_layout(t.layout(), d)?)))
        .collect::<Result<_>>()?;
    let out = cat_raw(&parts, d, dtype)?;
    let inputs: Vec<Option<&Tensor>> = tensors.iter().map(Some).collect();
    track(out, &inputs, |_| Op::shape(Backward::Stack { dim: d }))
}

// ---- copies that reorder: repeat, flip, roll, tril/triu ----------------------------------

/// `repeat(*repeats)`: `t` tiled `repeats[i]` times along each dim (new leading dims for
/// extra repeats), as a contiguous copy (RepeatBackward0).
pub fn repeat(t: &Tensor, repeats: &[i64]) -> Result<Tensor> {
    if repeats.len() < t.ndim() {
        return Err(Error::Runtime(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
                .into(),
        ));
    }
    let lead = repeats.len() - t.ndim();
    let l = t.layout();
    let padded: Dims = std::iter::repeat_n(1, lead)
        .chain(l.shape.iter().copied())
        .collect();
    let target: Vec<i64> = repeats
        .iter()
        .zip(&padded)
        .map(|(&r, &p)| r.saturating_mul(p as i64))
        .collect();
    if let Some(&bad) = target.iter().find(|&&s| s < 0) {
        return Err(Error::Runtime(format!(
            "Trying to create tensor with negative dimension {bad}: {}",
            format_i64s(&target)
        )));
    }
    let target: Dims = target.iter().map(|&s| s as usize).collect();
    checked_numel(&target)?;
    // Read `t` through a layout of shape [r0, p0, r1, p1, ...] with stride 0 on the repeat
    // dims, so one strided copy tiles it.
    let mut tiled = Layout {
        shape: Dims::new(),
        strides: Dims::new(),
        offset: l.offset,
    };
    for (i, (&r, &p)) in repeats.iter().zip(&padded).enumerate() {
        tiled.shape.extend([r.max(0) as usize, p]);
        tiled
            .strides
            .extend([0, if i < lead { 0 } else { l.strides[i - lead] }]);
    }
    let copy = kernels::cast(&t.alias_with_layout(tiled), t.dtype())?;
    let out = view_raw(&copy, &target)?.detach();
    let (repeats, shape): (Dims, Dims) = (
        repeats.iter().map(|&r| r.max(0) as usize).collect(),
        t.dims(),
    );
    track(out, &[Some(t)], |_| {
        Op::shape(Backward::Repeat { repeats, shape })
    })
}

/// The grad of `repeat`: `g` summed over the tiles.
fn repeat_backward(g: &Tensor, repeats: &[usize], shape: &[usize]) -> Result<Tensor> {
    if repeats.is_empty() {
        return Ok(g.clone());
    }
    let lead = repeats.len() - shape.len();
    let mut split: Dims = Dims::new();
    for (i, &r) in repeats.iter().enumerate() {
        split.extend([r, if i < lead { 1 } else { shape[i - lead] }]);
    }
    let tiles: Vec<i64> = (0..repeats.len() as i64).map(|i| 2 * i).collect();
    let summed = super::reduce::sum(&reshape(g, &split)?, Some(&tiles), false, None)?;
    reshape(&summed, shape)
}

/// Normalises a list of dims, refusing repeats with `repeated(dim)`'s message.
fn distinct_dims(dims: &[i64], ndim: usize, repeated: impl Fn(usize) -> String) -> Result<Dims> {
    let mut out = Dims::new();
    for &d in dims {
        let w = wrap_dim(d, ndim)?;
        if out.contains(&w) {
            return Err(Error::Runtime(repeated(w)));
        }
        out.push(w);
    }
    Ok(out)
}

/// `flip(dims)`: a copy with the order of the entries along `dims` reversed (FlipBackward0).
pub fn flip(t: &Tensor, dims: &[i64]) -> Result<Tensor> {
    let dims = distinct_dims(dims, t.ndim(), |d| {
        format!("dim {d} appears multiple times in the list of dims")
    })?;
    let out = flip_raw(t, &dims)?;
    track(out, &[Some(t)], |_| Op::shape(Backward::Flip { dims }))
}

fn flip_raw(t: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let l = t.layout();
    if l.numel() == 0 || t.ndim() == 0 {
        return kernels::cast(t, t.dtype());
    }
    let mut offset = l.offset as isize;
    let mut strides: SmallVec<[isize; 4]> = l.strides.iter().map(|&s| s as isize).collect();
    for &d in dims {
        offset += (l.shape[d] as isize - 1) * strides[d];
        strides[d] = -strides[d];
    }
    let (shape, nd) = (&l.shape, l.ndim());
    let (inner, inner_stride) = (shape[nd - 1], strides[nd - 1]);
    crate::any_dispatch!(t.dtype(), T => {
        let src = T::slice(t.buffer()).ok_or_else(|| Error::Runtime("flip: storage dtype mismatch".into()))?;
        let mut out = zeroed::<T>(l.numel())?;
        fill_rows(&mut out, inner, |r, dst| {
            // The start of output row `r`, from its index over the outer dims.
            let (mut rem, mut o) = (r, offset);
            for d in (0..nd - 1).rev() {
                o += (rem % shape[d]) as isize * strides[d];
                rem /= shape[d];
            }
            for x in dst.iter_mut() {
                *x = src[o as usize];
                o += inner_stride;
            }
        });
        Tensor::from_vec(out, shape)
    })
}

/// `roll(shifts, dims)`: entries shifted circularly along `dims` (along the flattened
/// tensor when `dims` is empty), as a copy (RollBackward0).
pub fn roll(t: &Tensor, shifts: &[i64], dims: &[i64]) -> Result<Tensor> {
    if shifts.is_empty() {
        return Err(Error::Runtime("`shifts` required".into()));
    }
    if shifts.len() != dims.len() && !(dims.is_empty() && shifts.len() == 1) {
        return Err(Error::Runtime(format!(
            "shifts and dimensions must align. shifts: {}, dims:{}",
            shifts.len(),
            dims.len()
        )));
    }
    // Shifts are kept reduced to [0, size), so the backward's negated shifts cannot overflow.
    let reduce = |s: i64, n: usize| if n == 0 { 0 } else { s.rem_euclid(n as i64) };
    let mut kept: SmallVec<[i64; 4]> = SmallVec::new();
    let mut out = if dims.is_empty() {
        let flat = view_raw(&kernels::cast(t, t.dtype())?, &[t.numel()])?;
        kept.push(reduce(shifts[0], t.numel()));
        view_raw(&roll_dim_raw(&flat, 0, kept[0] as usize)?, t.shape())?
    } else {
        if t.ndim() == 0 {
            return Err(Error::Index(format!(
                "Dimension specified as {} but tensor has no dimensions",
                dims[0]
            )));
        }
        let mut x = t.clone();
        for (&s, &d) in shifts.iter().zip(dims) {
            let d = wrap_dim(d, t.ndim())?;
            let s = reduce(s, t.shape()[d]);
            kept.push(s);
            x = roll_dim_raw(&x, d, s as usize)?;
        }
        x
    };
    if out.same_storage(t) {
        out = kernels::cast(&out, out.dtype())?;
    }
    let dims = dims.into();
    track(out.detach(), &[Some(t)], |_| {
        Op::shape(Backward::Roll { shifts: kept, dims })
    })
}

/// `t` rolled by `s` (in `[0, size)`) along `dim`: its last `s` entries, then the others.
fn roll_dim_raw(t: &Tensor, dim: usize, s: usize) -> Result<Tensor> {
    let n = t.shape()[dim];
    if s == 0 {
        return Ok(t.clone());
    }
    let tail = region_raw(
        t,
        Region::Slice {
            dim,
            start: n - s,
            len: s,
        },
    )?;
    let head = region_raw(
        t,
        Region::Slice {
            dim,
            start: 0,
            len: n - s,
        },
    )?;
    cat_raw(&[tail, head], dim, t.dtype())
}

/// `tril(diagonal)` / `triu(diagonal)`: a copy keeping the entries on and below (above) the
/// `diagonal`-th diagonal of the last two dims (TrilBackward0 / TriuBackward0).
pub fn tril(t: &Tensor, diagonal: i64) -> Result<Tensor> {
    triangle(t, diagonal, false)
}

pub fn triu(t: &Tensor, diagonal: i64) -> Result<Tensor> {
    triangle(t, diagonal, true)
}

fn triangle(t: &Tensor, k: i64, upper: bool) -> Result<Tensor> {
    let out = triangle_raw(t, k, upper)?;
    track(out, &[Some(t)], |_| {
        Op::shape(Backward::Triangle { k, upper })
    })
}

/// In place: `tril_(diagonal)` / `triu_(diagonal)`.
pub fn tril_(t: &Tensor, diagonal: i64) -> Result<()> {
    super::inplace::apply(t, None, |pre| triangle(pre, diagonal, false))
}

pub fn triu_(t: &Tensor, diagonal: i64) -> Result<()> {
    super::inplace::apply(t, None, |pre| triangle(pre, diagonal, true))
}

fn triangle_raw(t: &Tensor, k: i64, upper: bool) -> Result<Tensor> {
    let nd = t.ndim();
    if nd < 2 {
        return Err(Error::Runtime(format!(
            "{}: input tensor must have at least 2 dimensions",
            if upper { "triu" } else { "tril" }
        )));
    }
    let (rows, cols) = (t.shape()[nd - 2] as i64, t.shape()[nd - 1]);
    crate::any_dispatch!(t.dtype(), T => {
        let mut v = kernels::try_gather_cast::<T>(t)?;
        fill_rows(&mut v, cols, |r, row| {
            // Row i of its matrix keeps columns j with j - i <= k (tril) or >= k (triu).
            let i = (r as i64) % rows;
            let edge = i.saturating_add(k);
            for (j, x) in row.iter_mut().enumerate() {
                let j = j as i64;
                if (upper && j < edge) || (!upper && j > edge) {
                    *x = T::default();
                }
            }
        });
        Tensor::from_vec(v, t.shape())
    })
}

#[derive(Clone)]
pub enum Backward {
    View {
        shape: Dims,
    },
    UnsafeView {
        shape: Dims,
    },
    ReshapeAlias {
        shape: Dims,
    },
    Expand {
        shape: Dims,
    },
    Transpose {
        dims: (usize, usize),
        name: &'static str,
    },
    Permute {
        perm: Dims,
    },
    /// A view that only adds/removes size-1 dims (or reshapes): its grad is reshaped back.
    Restride {
        shape: Dims,
        name: &'static str,
    },
    Clone,
    /// The engine casts the grad back to the input's dtype.
    ToCopy,
    /// A region view of an input of `shape`: its grad is embedded into zeros.
    Region {
        region: Region,
        shape: Dims,
    },
    /// `embed` (the grad of a region view): its grad is the region of the grad again.
    Embed {
        region: Region,
    },
    Repeat {
        repeats: Dims,
        shape: Dims,
    },
    Flip {
        dims: Dims,
    },
    Roll {
        shifts: SmallVec<[i64; 4]>,
        dims: SmallVec<[i64; 4]>,
    },
    Triangle {
        k: i64,
        upper: bool,
    },
    /// `sizes[i]`: input i's extent along `dim`; `None` for a skipped 1-d empty input.
    Cat {
        dim: usize,
        sizes: SmallVec<[Option<usize>; 4]>,
    },
    Stack {
        dim: usize,
    },
    /// Random ops whose result does not depend differentiably on their inputs: zero grads
    /// of the inputs' `shapes` (NormalBackward1-3, BernoulliBackward0-2).
    ZeroGrad {
        name: &'static str,
        shapes: SmallVec<[Dims; 2]>,
    },
    /// An op PyTorch records but cannot differentiate (its node is PyTorch's
    /// `torch::autograd::NotImplemented`).
    NotImplemented {
        op: &'static str,
    },
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::View { .. } => "ViewBackward0",
            Backward::UnsafeView { .. } => "UnsafeViewBackward0",
            Backward::ReshapeAlias { .. } => "ReshapeAliasBackward0",
            Backward::Expand { .. } => "ExpandBackward0",
            Backward::Transpose { name, .. } => name,
            Backward::Permute { .. } => "PermuteBackward0",
            Backward::Restride { name, .. } => name,
            Backward::Clone => "CloneBackward0",
            Backward::ToCopy => "ToCopyBackward0",
            Backward::Region { region, .. } => region.name(),
            Backward::Embed { region } => region.embed_name(),
            Backward::Repeat { .. } => "RepeatBackward0",
            Backward::Flip { .. } => "FlipBackward0",
            Backward::Roll { .. } => "RollBackward0",
            Backward::Triangle { upper: false, .. } => "TrilBackward0",
            Backward::Triangle { upper: true, .. } => "TriuBackward0",
            Backward::Cat { .. } => "CatBackward0",
            Backward::Stack { .. } => "StackBackward0",
            Backward::ZeroGrad { name, .. } => name,
            Backward::NotImplemented { .. } => "torch::autograd::NotImplemented",
        }
    }

    pub fn apply(&self, g: &Tensor, _ctx: &Ctx) -> Result<Grads> {
        let grad = match self {
            Backward::View { shape }
            | Backward::UnsafeView { shape }
            | Backward::ReshapeAlias { shape } => reshape(g, shape)?,
            Backward::Expand { shape } => sum_to(g, shape)?,
            Backward::Permute { perm } => {
                let mut inverse = vec![0i64; perm.len()];
                for (i, &p) in perm.iter().enumerate() {
                    inverse[p] = i as i64;
                }
                permute(g, &inverse)?
            }
            Backward::Restride { shape, .. } => reshape(g, shape)?,
            Backward::Transpose { dims: (a, b), .. } => {
                let out = g.alias_with_layout(swap_dims(g.layout(), *a, *b));
                track(out, &[Some(g)], |_| {
                    Op::shape(Backward::Transpose {
                        dims: (*a, *b),
                        name: "TransposeBackward0",
                    })
                })?
            }
            Backward::Clone | Backward::ToCopy => g.clone(),
            Backward::Region { region, shape } => embed(g, shape, *region)?,
            Backward::Embed { region } => region_view(g, *region)?,
            Backward::Repeat { repeats, shape } => repeat_backward(g, repeats, shape)?,
            Backward::Flip { dims } => {
                flip(g, &dims.iter().map(|&d| d as i64).collect::<Vec<_>>())?
            }
            Backward::Roll { shifts, dims } => {
                let back: Vec<i64> = shifts.iter().map(|s| -s).collect();
                roll(g, &back, dims)?
            }
            Backward::Triangle { k, upper } => triangle(g, *k, *upper)?,
            Backward::Cat { dim, sizes } => {
                let mut start = 0;
                let mut grads = Grads::new();
                for size in sizes {
                    grads.push(Some(match *size {
                        Some(len) => {
                            let piece = region_view(
                                g,
                                Region::Slice {
                                    dim: *dim,
                                    start,
                                    len,
                                },
                            )?;
                            start += len;
                            piece
                        }
                        None => Tensor::zeros(&[0], g.dtype())?,
                    }));
                }
                return Ok(grads);
            }
            Backward::Stack { dim } => {
                return Ok(unbind(g, *dim as i64)?.into_iter().map(Some).collect());
            }
            Backward::ZeroGrad { shapes, .. } => {
                return shapes
                    .iter()
                    .map(|s| Tensor::zeros(s, g.dtype()).map(Some))
                    .collect();
            }
            Backward::NotImplemented { op } => {
                return Err(Error::Runtime(format!(
                    "derivative for {op} is not implemented"
                )))
            }
        };
        Ok(smallvec![Some(grad)])
    }
}

/// Rules of ops with several differentiable outputs (each output is `output_nr` i of one
/// node). `apply` receives one grad per output, `None` where none arrived; those count as
/// zeros.
#[derive(Clone)]
pub enum MultiBackward {
    /// `split`/`chunk` (SplitBackward0 / SplitWithSizesBackward0): piece i has `sizes[i]`
    /// entries of `dim` of an input of `shape`.
    Split {
        dim: usize,
        sizes: Vec<usize>,
        shape: Dims,
        name: &'static str,
    },
    /// `unbind(dim)` of an input of `shape`.
    Unbind { dim: usize, shape: Dims },
}

impl MultiBackward {
    pub fn name(&self) -> &'static str {
        match self {
            MultiBackward::Split { name, .. } => name,
            MultiBackward::Unbind { .. } => "UnbindBackward0",
        }
    }

    pub fn has_saved(&self) -> bool {
        false
    }

    pub fn apply(&self, grads: &[Option<Tensor>], _ctx: &Ctx) -> Result<Grads> {
        let Some(dtype) = grads.iter().flatten().map(Tensor::dtype).next() else {
            return Ok(smallvec![None]);
        };
        let (dim, shape, count) = match self {
            MultiBackward::Split {
                dim, sizes, shape, ..
            } => (*dim, shape, sizes.len()),
            MultiBackward::Unbind { dim, shape } => (*dim, shape, shape[*dim]),
        };
        let mut full = Vec::with_capacity(count);
        for i in 0..count {
            full.push(match grads.get(i) {
                Some(Some(g)) => g.clone(),
                _ => {
                    let mut piece = shape.clone();
                    match self {
                        MultiBackward::Split { sizes, .. } => piece[dim] = sizes[i],
                        MultiBackward::Unbind { .. } => {
                            piece.remove(dim);
                        }
                    }
                    Tensor::zeros(&piece, dtype)?
                }
            });
        }
        let grad = match self {
            MultiBackward::Split { .. } => cat(&full, dim as i64)?,
            MultiBackward::Unbind { .. } => stack(&full, dim as i64)?,
        };
        Ok(smallvec![Some(grad)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arange(n: usize, shape: &[usize]) -> Tensor {
        Tensor::from_vec((0..n).map(|i| i as f64).collect::<Vec<_>>(), shape).unwrap()
    }

    #[test]
    fn cat_joins_along_a_dim_and_promotes() {
        let a = arange(4, &[2, 2]);
        let b = Tensor::from_vec(vec![7i64, 8], &[2, 1]).unwrap();
        let c = cat(&[a.clone(), b], 1).unwrap();
        assert_eq!(c.dtype(), DType::F64);
        assert_eq!(c.to_vec::<f64>(), vec![0.0, 1.0, 7.0, 2.0, 3.0, 8.0]);
        let e = Tensor::zeros(&[0], DType::F32).unwrap();
        assert_eq!(cat(&[e, a.clone()], 0).unwrap().shape(), &[2, 2]);
        assert!(cat(&[], 0).is_err());
        let s = stack(&[a.clone(), a], 2).unwrap();
        assert_eq!(s.shape(), &[2, 2, 2]);
        assert_eq!(
            s.to_vec::<f64>(),
            vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
        );
    }

    #[test]
    fn expand_to_an_overflowing_count_is_an_error() {
        // Found by the cargo-fuzz target `views`: a size of `usize::MAX - 2` (-3 cast) made a
        // view whose element count wrapped around.
        let a = arange(1, &[1]);
        let e = expand(&a, &[usize::MAX - 2]).unwrap_err();
        assert!(e.to_string().contains("negative dimension -3"), "{e}");
        assert!(expand(&a, &[1 << 40, 1 << 40]).is_err());
        assert_eq!(expand(&a, &[2, 3]).unwrap().numel(), 6);
        // Empty views may have sizes whose product overflows (PyTorch allows
        // `empty(0).view(0, 4, 2**62)`); flatten wraps as PyTorch does, without a panic.
        let huge = view(&arange(0, &[0]), &[0, 4, 1 << 62]).unwrap();
        assert_eq!(huge.numel(), 0);
        assert_eq!(flatten(&huge, 1, 2).unwrap().shape(), &[0, 0]);
        assert_eq!(flatten(&huge, 0, 1).unwrap().shape(), &[0, 1 << 62]);
        assert_eq!(unsqueeze(&huge, 1).unwrap().shape(), &[0, 1, 4, 1 << 62]);
    }

    #[test]
    fn split_chunk_unbind_are_views() {
        let a = arange(6, &[2, 3]);
        let p = split(&a, 2, 1).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].shape(), &[2, 1]);
        assert_eq!(p[1].to_vec::<f64>(), vec![2.0, 5.0]);
        assert!(p[1].same_storage(&a));
        assert_eq!(chunk(&a, 3, 1).unwrap().len(), 3);
        let u = unbind(&a, 1).unwrap();
        assert_eq!(u[2].to_vec::<f64>(), vec![2.0, 5.0]);
        assert_eq!(
            split_with_sizes(&a, &[1, 0, 2], 1).unwrap()[2].shape(),
            &[2, 2]
        );
    }

    #[test]
    fn regions_flip_roll_triangles() {
        let a = arange(12, &[3, 4]);
        assert_eq!(
            narrow(&a, 1, -2, 2).unwrap().to_vec::<f64>(),
            vec![2.0, 3.0, 6.0, 7.0, 10.0, 11.0]
        );
        assert_eq!(
            diagonal(&a, 1, 0, 1).unwrap().to_vec::<f64>(),
            vec![1.0, 6.0, 11.0]
        );
        assert_eq!(
            diagonal(&a, -1, 1, 0).unwrap().to_vec::<f64>(),
            vec![1.0, 6.0, 11.0]
        );
        assert_eq!(diagonal(&a, 9, 0, 1).unwrap().shape(), &[0]);
        assert_eq!(
            flip(&a, &[0, 1]).unwrap().to_vec::<f64>()[..3],
            [11.0, 10.0, 9.0]
        );
        assert_eq!(
            roll(&a, &[1], &[1]).unwrap().to_vec::<f64>()[..4],
            [3.0, 0.0, 1.0, 2.0]
        );
        assert_eq!(
            roll(&a, &[-13], &[]).unwrap().to_vec::<f64>()[..2],
            [1.0, 2.0]
        );
        let l = tril(&a, 0).unwrap().to_vec::<f64>();
        assert_eq!(l[..4], [0.0, 0.0, 0.0, 0.0]);
        assert_eq!(l[4..8], [4.0, 5.0, 0.0, 0.0]);
        assert_eq!(
            triu(&a, 1).unwrap().to_vec::<f64>()[4..8],
            [0.0, 0.0, 6.0, 7.0]
        );
        let r = repeat(&arange(2, &[2]), &[2, 2]).unwrap();
        assert_eq!(r.shape(), &[2, 4]);
        assert_eq!(
            r.to_vec::<f64>(),
            vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
        );
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        let a = arange(6, &[2, 3]);
        assert!(narrow(&a, 0, 1, 2).is_err());
        assert!(narrow(&a, 0, i64::MAX, i64::MAX).is_err());
        assert!(split(&a, -1, 0).is_err());
        assert!(split_with_sizes(&a, &[i64::MAX, i64::MAX], 0).is_err());
        assert!(chunk(&a, 0, 0).is_err());
        // An empty dim gives `chunks` empty pieces; an absurd count is an error, not an abort.
        assert!(chunk(&arange(0, &[0]), i64::MAX, 0).is_err());
        assert!(diagonal(&a, i64::MIN, 0, 1).unwrap().numel() == 0);
        assert!(repeat(&a, &[i64::MAX, 2, 2]).is_err());
        assert!(movedim(&a, &[0, 0], &[0, 1]).is_err());
        assert!(flip(&a, &[1, -1]).is_err());
        assert!(roll(&a, &[], &[]).is_err());
        assert!(tril(&arange(3, &[3]), 0).is_err());
        assert!(unflatten(&a, 1, &[-1, -1]).is_err());
        assert!(expand_i64(&a, &[-2, 3]).is_err());
    }

    /// Strides of `t` as PyTorch prints them (int64).
    fn strides(t: &Tensor) -> Vec<i64> {
        t.layout().strides.iter().map(|&s| s as i64).collect()
    }

    #[test]
    fn empty_views_use_wrapping_int64_stride_arithmetic_as_pytorch() {
        // Found by the cargo-fuzz target `views`: views of an empty tensor may carry huge
        // strides; every result below is PyTorch's (2.x, CPU).
        let e = arange(0, &[0]);
        let err = |r: Result<Tensor>| r.unwrap_err().to_string();
        // view: wrapped row-major strides, refused once one is negative as an int64.
        assert_eq!(
            strides(&view(&e, &[0, 4, 1 << 62]).unwrap()),
            [0, 1 << 62, 1]
        );
        assert_eq!(
            strides(&view(&e, &[0, 1 << 62, 5]).unwrap()),
            [1 << 62, 5, 1]
        );
        assert_eq!(
            err(view(&e, &[0, 1 << 62, 2])),
            "Stride calculation overflowed"
        );
        assert_eq!(
            err(reshape_i64(&e, &[0, 3, 1 << 62])),
            "Stride calculation overflowed"
        );
        // diagonal: the two strides' sum wraps (a plain `+` overflowed); negative is refused.
        let a = view(&e, &[0, 1, 1 << 61, 3]).unwrap();
        assert_eq!(
            err(diagonal(&a, 0, 0, 1)),
            "as_strided: Negative strides are not supported at the moment, got strides: [3, 1, -4611686018427387904]"
        );
        let d = diagonal(&a, 1, 1, 2).unwrap();
        assert_eq!(d.shape(), &[0, 3, 1]);
        assert_eq!(strides(&d), [3 << 61, 1, (3 << 61) + 3]);
        let b = view(&e, &[0, 1 << 62, 5]).unwrap();
        assert_eq!(strides(&diagonal(&b, 0, 0, 1).unwrap()), [1, (1 << 62) + 5]);
        // flatten: the wrapped product of the merged sizes; negative is a negative size.
        let g = view(&e, &[0, 3, 1 << 62, 4]).unwrap();
        assert_eq!(
            err(flatten(&g, 1, 2)),
            "invalid shape dimension -4611686018427387904 at index 1 of shape [0, -4611686018427387904, 4]"
        );
        assert_eq!(flatten(&g, 1, 3).unwrap().shape(), &[0, 0]);
        // unsqueeze / expand: a new dim's stride is size * stride, wrapped.
        let h = view(&e, &[1 << 62, 0, 3]).unwrap();
        assert_eq!(strides(&h), [3, 3, 1]);
        let neg = "as_strided: Negative strides are not supported at the moment, got strides: [-4611686018427387904, 3, 3, 1]";
        assert_eq!(err(unsqueeze(&h, 0)), neg);
        // (PyTorch's expand says `as_strided: Negative strides...` here; ours refuses the
        // target sizes first, as `empty(1, 2**62, 0, 3)` does.)
        assert!(expand_i64(&h, &[1, 1 << 62, 0, 3]).is_err());
        // narrow / select / split: a storage offset past i64::MAX is refused.
        assert_eq!(
            err(narrow(&h, 0, (1 << 62) - 1, 1)),
            "Tensor: invalid storage offset -4611686018427387907"
        );
        let k = view(&e, &[1 << 62, 0, 5]).unwrap();
        assert_eq!(
            split(&k, 1 << 61, 0).unwrap_err().to_string(),
            "Tensor: invalid storage offset -6917529027641081856"
        );
        let c = view(&e, &[0, 1 << 61, 3]).unwrap();
        assert_eq!(narrow(&c, 1, (1 << 61) - 2, 2).unwrap().shape(), &[0, 2, 3]);
        assert_eq!(
            stack(std::slice::from_ref(&h), 1).unwrap().shape(),
            &[1 << 62, 1, 0, 3]
        );
        assert!(stack(&[h], 0).is_err());
        // cat: the sizes along `dim` add up wrapping, as PyTorch's int64 sum.
        let w = view(&e, &[0, 1 << 62]).unwrap();
        assert_eq!(
            cat(&[w.clone(), w.clone()], 1).unwrap_err().to_string(),
            "Trying to create tensor with negative dimension -9223372036854775808: [0, -9223372036854775808]"
        );
        assert_eq!(
            cat(&[w.clone(), w.clone(), w.clone(), w], 1)
                .unwrap()
                .shape(),
            &[0, 0]
        );
    }
}
