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
use super::{cast_raw, track, track_multi, Backward as Op, Ctx, Grads};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::{self, pool, PARALLEL_THRESHOLD};
use crate::shape::{checked_numel, format_shape, infer_shape, wrap_dim, Dims, Layout};
use crate::storage::Element;
use crate::tensor::Tensor;
use rayon::prelude::*;
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
    let strides = t.layout().view_strides(shape).ok_or(Error::InvalidView)?;
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
    Ok(track(out, &[Some(t)], |_| {
        Op::Shape(Backward::View { shape: input_shape })
    }))
}

/// `reshape(*shape)`: a view when strides allow, else a contiguous copy.
pub fn reshape_i64(t: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let shape = infer_shape(shape, t.numel())?;
    reshape(t, &shape)
}

pub fn reshape(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let input_shape = t.dims();
    if let Some(strides) = t.layout().view_strides(shape) {
        let out = t.alias_with_layout(Layout {
            shape: shape.into(),
            strides,
            offset: t.layout().offset,
        });
        // PyTorch views a contiguous input (ViewBackward0) and aliases any other one whose
        // strides allow it (`_reshape_alias`: ReshapeAliasBackward0).
        let contiguous = t.is_contiguous();
        return Ok(track(out, &[Some(t)], |_| {
            Op::Shape(if contiguous {
                Backward::View { shape: input_shape }
            } else {
                Backward::ReshapeAlias { shape: input_shape }
            })
        }));
    }
    let copy = kernels::cast(t, t.dtype())?;
    let out = view_raw(&copy, shape)?;
    Ok(track(out, &[Some(t)], |_| {
        Op::Shape(Backward::UnsafeView { shape: input_shape })
    }))
}

/// `expand(*shape)`: a broadcast view (stride 0 on expanded dims). -1 keeps a size.
pub fn expand(t: &Tensor, shape: &[usize]) -> Result<Tensor> {
    // Always a new view, even to the same shape (PyTorch records ExpandBackward0 then too).
    let layout = t.layout().broadcast_to(shape)?;
    let out = t.alias_with_layout(layout);
    let input_shape = t.dims();
    Ok(track(out, &[Some(t)], |_| {
        Op::Shape(Backward::Expand { shape: input_shape })
    }))
}

pub fn expand_i64(t: &Tensor, sizes: &[i64]) -> Result<Tensor> {
    let nd = sizes.len();
    if nd < t.ndim() {
        return Err(Error::Runtime(format!(
            "expand(torch.FloatTensor{{{}}}, size=[{}]): the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
            t.shape().iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
            sizes.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
            nd,
            t.ndim()
        )));
    }
    let lead = nd - t.ndim();
    let mut shape = Dims::new();
    for (i, &s) in sizes.iter().enumerate() {
        if s == -1 {
            if i < lead {
                return Err(Error::Runtime(format!(
                    "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i}"
                )));
            }
            shape.push(t.shape()[i - lead]);
        } else if s < 0 {
            return Err(Error::Runtime(format!(
                "Trying to create tensor with negative dimension {s}: [{}]",
                sizes
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        } else {
            shape.push(s as usize);
        }
    }
    checked_numel(&shape)?;
    expand(t, &shape)
}

/// `transpose(d0, d1)`: a view with two dims swapped (TransposeBackward0).
pub fn transpose(t: &Tensor, d0: i64, d1: i64) -> Result<Tensor> {
    let (a, b) = (wrap_dim(d0, t.ndim())?, wrap_dim(d1, t.ndim())?);
    let out = t.alias_with_layout(swap_dims(t.layout(), a, b));
    Ok(track(out, &[Some(t)], |_| {
        Op::Shape(Backward::Transpose {
            dims: (a, b),
            name: "TransposeBackward0",
        })
    }))
}

/// `t()`: transpose of a tensor with at most 2 dims (TBackward0).
pub fn t(x: &Tensor) -> Result<Tensor> {
    if x.ndim() > 2 {
        return Err(Error::Runtime(format!(
            "t() expects a tensor with <= 2 dimensions, but self is {}D",
            x.ndim()
        )));
    }
    let dims = if x.ndim() < 2 { (0, 0) } else { (0, 1) };
    let out = x.alias_with_layout(swap_dims(x.layout(), dims.0, dims.1));
    Ok(track(out, &[Some(x)], |_| {
        Op::Shape(Backward::Transpose {
            dims,
            name: "TBackward0",
        })
    }))
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
    Ok(track(out, &[Some(t)], |_| {
        Op::Shape(Backward::Permute { perm })
    }))
}

/// `unsqueeze(dim)`: a view with a new size-1 dim (UnsqueezeBackward0).
pub fn unsqueeze(t: &Tensor, dim: i64) -> Result<Tensor> {
    let d = wrap_dim(dim, t.ndim() + 1)?;
    let out = t.alias_with_layout(unsqueeze_layout(t.layout(), d));
    let shape = t.dims();
    Ok(track(out, &[Some(t)], |_| {
        Op::Shape(Backward::Restride {
            shape,
            name: "UnsqueezeBackward0",
        })
    }))
}

/// `l` with a new size-1 dim at `d` (`d <= l.ndim()`).
fn unsqueeze_layout(l: &Layout, d: usize) -> Layout {
    let mut layout = l.clone();
    let stride = if d < l.ndim() {
        l.shape[d] * l.strides[d]
    } else {
        1
    };
    layout.shape.insert(d, 1);
    layout.strides.insert(d, stride.max(1));
    layout
}

/// `squeeze()` / `squeeze(dim)` / `squeeze(dims)`: a view without the named size-1 dims
/// (SqueezeBackward0 / 1 / 2, as PyTorch names the three overloads).
pub fn squeeze(t: &Tensor, dims: Option<&[i64]>) -> Result<Tensor> {
    let nd = t.ndim();
    let (targets, name): (Dims, &'static str) = match dims {
        None => ((0..nd).collect(), "SqueezeBackward0"),
        Some(ds) => {
            let mut v = Dims::new();
            for &d in ds {
                v.push(wrap_dim(d, nd)?);
            }
            (
                v,
                if ds.len() == 1 {
                    "SqueezeBackward1"
                } else {
                    "SqueezeBackward2"
                },
            )
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
    Ok(track(out, &[Some(t)], |_| {
        Op::Shape(Backward::Restride { shape, name })
    }))
}

/// A view of `t` reshaped to `shape` under a given node name (for composite ops that end in
/// PyTorch's `squeeze_`/`_unsafe_view`, e.g. `matmul`).
pub fn reshape_named(t: &Tensor, shape: &[usize], name: &'static str) -> Result<Tensor> {
    let out = match t.layout().view_strides(shape) {
        Some(strides) => t.alias_with_layout(Layout {
            shape: shape.into(),
            strides,
            offset: t.layout().offset,
        }),
        None => view_raw(&kernels::cast(t, t.dtype())?, shape)?,
    };
    let input_shape = t.dims();
    Ok(track(out, &[Some(t)], |_| {
        Op::Shape(Backward::Restride {
            shape: input_shape,
            name,
        })
    }))
}

/// `contiguous()`: `t` itself when already contiguous, else a copy (CloneBackward0).
pub fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        return Ok(t.clone());
    }
    clone(t)
}

/// `clone()`: a contiguous copy (CloneBackward0).
pub fn clone(t: &Tensor) -> Result<Tensor> {
    let out = kernels::cast(t, t.dtype())?;
    Ok(track(out, &[Some(t)], |_| Op::Shape(Backward::Clone)))
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
    Ok(track(out, &[Some(t)], |_| Op::Shape(Backward::ToCopy)))
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
                    Op::Shape(Backward::Transpose {
                        dims: (*a, *b),
                        name: "TransposeBackward0",
                    })
                })
            }
            Backward::Clone | Backward::ToCopy => g.clone(),
        };
        Ok(smallvec![Some(grad)])
    }
}

/// Rules of ops with several differentiable outputs (each output is `output_nr` i of one
/// node). `apply` receives one grad per output, `None` where none arrived.
#[derive(Clone)]
pub enum MultiBackward {}

impl MultiBackward {
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    pub fn has_saved(&self) -> bool {
        match *self {}
    }

    pub fn apply(&self, _grads: &[Option<Tensor>], _ctx: &Ctx) -> Result<Grads> {
        match *self {}
    }
}
