//! Reductions: `sum`, `mean` and the vector `norm`, over all elements or over `dim`s.

use super::arith::{self, Operand};
use super::{cast_raw, shape, track, Backward as Op, Ctx, Grads, Saved};
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::{wrap_dim, Dims};
use crate::tensor::Tensor;
use smallvec::smallvec;

/// Normalised, sorted, distinct reduction dims; `None` or an empty list mean "all dims".
pub fn reduction_dims(dims: Option<&[i64]>, ndim: usize) -> Result<Dims> {
    let mut out: Dims = Dims::new();
    match dims {
        Some(ds) if !ds.is_empty() => {
            for &d in ds {
                let w = wrap_dim(d, ndim)?;
                if out.contains(&w) {
                    return Err(Error::Runtime(format!(
                        "dim {w} appears multiple times in the list of dims"
                    )));
                }
                out.push(w);
            }
            if ndim == 0 {
                out.clear();
            }
        }
        _ => out.extend(0..ndim),
    }
    out.sort_unstable();
    Ok(out)
}

/// The shape after reducing `dims` (kept as 1 when `keepdim`).
fn reduced_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Dims {
    let mut out = Dims::new();
    for (i, &d) in shape.iter().enumerate() {
        if dims.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

/// Sum over `dims` with keepdim, no autograd. Integers and bools sum to int64.
fn sum_raw(t: &Tensor, dims: &[usize], out_dtype: DType) -> Result<Tensor> {
    let x = cast_raw(t, out_dtype)?;
    if dims.len() == x.ndim() {
        // Full reduction: accumulate in f64 (exactly for i64 via the i64 path).
        let keep: Dims = x.shape().iter().map(|_| 1).collect();
        return match out_dtype {
            DType::F32 => Tensor::from_vec(vec![kernels::reduce::sum_all::<f32>(&x) as f32], &keep),
            DType::F64 => Tensor::from_vec(vec![kernels::reduce::sum_all::<f64>(&x)], &keep),
            _ => {
                let v = x.to_vec::<i64>().into_iter().fold(0i64, i64::wrapping_add);
                Tensor::from_vec(vec![v], &keep)
            }
        };
    }
    match out_dtype {
        DType::F32 => kernels::sum_dims::<f32>(&x, dims),
        DType::F64 => kernels::sum_dims::<f64>(&x, dims),
        _ => kernels::sum_dims::<i64>(&x, dims),
    }
}

fn sum_dtype(t: &Tensor, dtype: Option<DType>) -> DType {
    dtype.unwrap_or(if t.dtype().is_floating_point() {
        t.dtype()
    } else {
        DType::I64
    })
}

/// `sum()` (dims `None`: SumBackward0) or `sum(dim, keepdim)` (SumBackward1).
pub fn sum(
    t: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    dtype: Option<DType>,
) -> Result<Tensor> {
    let rd = reduction_dims(dims, t.ndim())?;
    let raw = sum_raw(t, &rd, sum_dtype(t, dtype))?;
    let out = if keepdim {
        raw
    } else {
        shape::view_raw(&raw, &reduced_shape(t.shape(), &rd, false))?
    };
    let input_shape = t.dims();
    Ok(track(out, &[Some(t)], |_| {
        Op::Reduce(match dims {
            None => Backward::Sum { shape: input_shape },
            Some(_) => Backward::SumDim {
                shape: input_shape,
                dims: rd.clone(),
                keepdim,
            },
        })
    }))
}

/// `mean()` / `mean(dim, keepdim)`; floating dtypes only, as PyTorch.
pub fn mean(
    t: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    dtype: Option<DType>,
) -> Result<Tensor> {
    let out_dtype = dtype.unwrap_or(t.dtype());
    if !out_dtype.is_floating_point() {
        return Err(Error::Runtime(format!(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
            type_word(t.dtype())
        )));
    }
    let rd = reduction_dims(dims, t.ndim())?;
    let count: usize = rd.iter().map(|&d| t.shape()[d]).product();
    let raw = sum_raw(t, &rd, out_dtype)?;
    let raw = arith::binary_raw(
        &raw,
        Operand::Scalar(Scalar::Float(count as f64)),
        arith::BinOp::Div,
        false,
    )?;
    let out = if keepdim {
        raw
    } else {
        shape::view_raw(&raw, &reduced_shape(t.shape(), &rd, false))?
    };
    let input_shape = t.dims();
    Ok(track(out, &[Some(t)], |_| {
        Op::Reduce(match dims {
            None => Backward::Mean {
                shape: input_shape,
                count,
            },
            Some(_) => Backward::MeanDim {
                shape: input_shape,
                dims: rd.clone(),
                keepdim,
                count,
            },
        })
    }))
}

/// PyTorch's capitalised scalar-type word used in some messages ("Long", "Float").
pub fn type_word(d: DType) -> &'static str {
    match d {
        DType::Bool => "Bool",
        DType::I64 => "Long",
        DType::F32 => "Float",
        DType::F64 => "Double",
    }
}

/// Vector norm of order `p` (1, 2 or inf) over `dims` (`None`: all).
pub fn norm(t: &Tensor, p: f64, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    if !t.dtype().is_floating_point() {
        return Err(Error::Runtime(format!(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
            type_word(t.dtype())
        )));
    }
    if !(p == 1.0 || p == 2.0 || p.is_infinite() && p > 0.0) {
        return Err(Error::Runtime(format!(
            "norm: order {p} is not supported yet (supported: 1, 2, inf, 'fro')"
        )));
    }
    let rd = reduction_dims(dims, t.ndim())?;
    let raw = {
        let _off = crate::autograd::GradModeGuard::new(false);
        let a = super::unary::abs(t)?;
        if p == 1.0 {
            sum(
                &a,
                Some(&rd.iter().map(|&d| d as i64).collect::<Vec<_>>()),
                true,
                None,
            )?
        } else if p == 2.0 {
            let sq = arith::mul(&a, Operand::Tensor(&a))?;
            let s = sum(
                &sq,
                Some(&rd.iter().map(|&d| d as i64).collect::<Vec<_>>()),
                true,
                None,
            )?;
            super::unary::sqrt(&s)?
        } else {
            max_dims(&a, &rd)?
        }
    };
    let out = if keepdim {
        raw
    } else {
        shape::view_raw(&raw, &reduced_shape(t.shape(), &rd, false))?
    };
    Ok(track(out, &[Some(t)], |out| {
        Op::Reduce(Backward::Norm {
            input: Saved::input(t),
            result: Saved::output(out),
            dims: rd.clone(),
            keepdim,
            p,
        })
    }))
}

/// Max over `dims` with keepdim (no autograd; used by the inf-norm).
fn max_dims(t: &Tensor, dims: &[usize]) -> Result<Tensor> {
    // Only an empty reduction has no value: an empty tensor reduced over non-empty dims
    // gives an empty result (as PyTorch).
    if t.ndim() == 0 || dims.len() == t.ndim() {
        if t.numel() == 0 {
            return Err(Error::Runtime("linalg.vector_norm cannot compute the inf norm on an empty tensor because the operation does not have an identity".into()));
        }
    } else if let Some(&d) = dims.iter().find(|&&d| t.shape()[d] == 0) {
        return Err(Error::Runtime(format!("linalg.vector_norm cannot compute the inf norm on the dimension {d}because this dimension is empty and the operation does not have an identity")));
    }
    let shape = reduced_shape(t.shape(), dims, true);
    let n: usize = shape.iter().product();
    let values = t.to_vec::<f64>();
    let mut out = vec![f64::NEG_INFINITY; n];
    let out_strides = crate::shape::contiguous_strides(&shape);
    let in_strides = crate::shape::contiguous_strides(t.shape());
    for (i, v) in values.iter().enumerate() {
        let mut o = 0;
        for d in 0..t.ndim() {
            let idx = (i / in_strides[d]) % t.shape()[d];
            if !dims.contains(&d) {
                o += idx * out_strides[d];
            }
        }
        if v.is_nan() || *v > out[o] {
            out[o] = *v;
        }
    }
    let r = Tensor::from_vec(out, &shape)?;
    cast_raw(&r, t.dtype())
}

#[derive(Clone)]
pub enum Backward {
    Sum {
        shape: Dims,
    },
    SumDim {
        shape: Dims,
        dims: Dims,
        keepdim: bool,
    },
    Mean {
        shape: Dims,
        count: usize,
    },
    MeanDim {
        shape: Dims,
        dims: Dims,
        keepdim: bool,
        count: usize,
    },
    Norm {
        input: Saved,
        result: Saved,
        dims: Dims,
        keepdim: bool,
        p: f64,
    },
}

/// Re-inserts reduced dims into `g` (as size 1) so it broadcasts against the input.
fn unsqueeze_reduced(g: &Tensor, shape: &[usize], dims: &[usize], keepdim: bool) -> Result<Tensor> {
    if keepdim {
        return Ok(g.clone());
    }
    shape::reshape(g, &reduced_shape(shape, dims, true))
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::Sum { .. } => "SumBackward0",
            Backward::SumDim { .. } => "SumBackward1",
            Backward::Mean { .. } => "MeanBackward0",
            Backward::MeanDim { .. } => "MeanBackward1",
            Backward::Norm { .. } => "LinalgVectorNormBackward0",
        }
    }

    pub fn has_saved(&self) -> bool {
        matches!(self, Backward::Norm { .. })
    }

    pub fn apply(&self, g: &Tensor, ctx: &Ctx) -> Result<Grads> {
        let grad = match self {
            Backward::Sum { shape } => shape::expand(g, shape)?,
            Backward::SumDim {
                shape,
                dims,
                keepdim,
            } => shape::expand(&unsqueeze_reduced(g, shape, dims, *keepdim)?, shape)?,
            Backward::Mean { shape, count } => {
                let e = shape::expand(g, shape)?;
                arith::div(&e, Operand::Scalar(Scalar::Float(*count as f64)))?
            }
            Backward::MeanDim {
                shape,
                dims,
                keepdim,
                count,
            } => {
                let e = shape::expand(&unsqueeze_reduced(g, shape, dims, *keepdim)?, shape)?;
                arith::div(&e, Operand::Scalar(Scalar::Float(*count as f64)))?
            }
            Backward::Norm {
                input,
                result,
                dims,
                keepdim,
                p,
            } => {
                let x = input.unpack(ctx)?;
                let r = result.unpack(ctx)?;
                let g = unsqueeze_reduced(g, x.shape(), dims, *keepdim)?;
                let r = unsqueeze_reduced(&r, x.shape(), dims, *keepdim)?;
                if *p == 1.0 {
                    arith::mul(&super::unary::sign(&x)?, Operand::Tensor(&g))?
                } else if *p == 2.0 {
                    // x * (g / norm), with 0 where the norm is 0.
                    let scale = arith::div(&g, Operand::Tensor(&r))?;
                    let zero = arith::compare(
                        &r.detach(),
                        Operand::Scalar(Scalar::Float(0.0)),
                        arith::CmpOp::Ne,
                    )?;
                    let scale = arith::mul(&scale, Operand::Tensor(&cast_raw(&zero, r.dtype())?))?;
                    let scale = zero_nans(&scale, &zero)?;
                    arith::mul(&x, Operand::Tensor(&scale))?
                } else {
                    // inf-norm: the grad is shared evenly among the entries attaining the max,
                    // a NaN counting as one (as PyTorch; its sign, hence its grad, is 0).
                    let absx = super::unary::abs(&x.detach())?;
                    let hit =
                        arith::compare(&absx, Operand::Tensor(&r.detach()), arith::CmpOp::Eq)?;
                    let nan = arith::compare(&absx, Operand::Tensor(&absx), arith::CmpOp::Ne)?;
                    let hit = arith::binary_raw(
                        &cast_raw(&hit, x.dtype())?,
                        Operand::Tensor(&cast_raw(&nan, x.dtype())?),
                        arith::BinOp::Add,
                        false,
                    )?;
                    let count = sum(
                        &hit,
                        Some(&dims.iter().map(|&d| d as i64).collect::<Vec<_>>()),
                        true,
                        None,
                    )?;
                    let w = arith::div(
                        &arith::mul(&super::unary::sign(&x)?, Operand::Tensor(&hit))?,
                        Operand::Tensor(&count),
                    )?;
                    arith::mul(&w, Operand::Tensor(&g))?
                }
            }
        };
        Ok(smallvec![Some(grad)])
    }
}

/// Replaces NaNs (from 0/0) by 0 where `keep` is false, keeping `x`'s history.
fn zero_nans(x: &Tensor, keep: &Tensor) -> Result<Tensor> {
    let keep_f = cast_raw(keep, x.dtype())?;
    let fixed = crate::float_dispatch!(x.dtype(), T => kernels::binary::<T, T>(&x.detach(), &keep_f, |v, k| {
        if k == T::from_f64(0.0) { T::from_f64(0.0) } else { v }
    }))?;
    Ok(x.with_same_history(fixed))
}

use crate::storage::Element;

/// Sums `g` down to `shape` (undoing a broadcast), recording like any op.
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.ndim().saturating_sub(shape.len());
    let mut dims: Vec<i64> = (0..lead as i64).collect();
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape().get(lead + i).copied() != Some(1) {
            dims.push((lead + i) as i64);
        }
    }
    let s = if dims.is_empty() {
        g.clone()
    } else {
        sum(g, Some(&dims), true, None)?
    };
    shape::reshape(&s, shape)
}
