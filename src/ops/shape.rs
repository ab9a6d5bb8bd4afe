//! Views and copies that change shape or dtype: `view`, `reshape`, `expand`, `contiguous`,
//! `clone`, `to(dtype)`. Views alias the input's storage and version counter.

use super::reduce::sum_to;
use super::{cast_raw, track, Backward as Op, Ctx, Grads};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::{checked_numel, infer_shape, wrap_dim, Dims, Layout};
use crate::tensor::Tensor;
use smallvec::smallvec;

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
        return Ok(track(out, &[Some(t)], |_| {
            Op::Shape(Backward::View { shape: input_shape })
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
    let layout = t.layout().broadcast_to(shape)?;
    if layout == *t.layout() {
        return Ok(t.clone());
    }
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
    if t.ndim() == 0 {
        return Ok(t.alias_with_layout(t.layout().clone()));
    }
    let out = t.alias_with_layout(t.layout().transpose(a, b));
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
    if x.ndim() < 2 {
        let out = x.alias_with_layout(x.layout().clone());
        return Ok(track(out, &[Some(x)], |_| {
            Op::Shape(Backward::Transpose {
                dims: (0, 0),
                name: "TBackward0",
            })
        }));
    }
    let out = x.alias_with_layout(x.layout().transpose(0, 1));
    Ok(track(out, &[Some(x)], |_| {
        Op::Shape(Backward::Transpose {
            dims: (0, 1),
            name: "TBackward0",
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
    Expand {
        shape: Dims,
    },
    Transpose {
        dims: (usize, usize),
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
            Backward::Expand { .. } => "ExpandBackward0",
            Backward::Transpose { name, .. } => name,
            Backward::Clone => "CloneBackward0",
            Backward::ToCopy => "ToCopyBackward0",
        }
    }

    pub fn apply(&self, g: &Tensor, _ctx: &Ctx) -> Result<Grads> {
        let grad = match self {
            Backward::View { shape } | Backward::UnsafeView { shape } => reshape(g, shape)?,
            Backward::Expand { shape } => sum_to(g, shape)?,
            Backward::Transpose { dims: (a, b), .. } => {
                let out = g.alias_with_layout(g.layout().transpose(*a, *b));
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
