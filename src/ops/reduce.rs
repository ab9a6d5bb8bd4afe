//! Reductions (`sum`, `mean`, `prod`, `max`/`min`, `amax`/`amin`, `argmax`/`argmin`,
//! `var`/`std`, `norm`, `logsumexp`, `all`/`any`), scans (`cumsum`, `cumprod`) and
//! `softmax`/`log_softmax`, each forward followed by its backward rule.
//!
//! Forwards compute with the reduction engine of `kernels::reduce`; every rule is written
//! with differentiable ops, so `create_graph=True` differentiates it again. (The one
//! exception: the grads of `prod`/`cumprod` at inputs holding zeros come from a kernel, so
//! there only the first derivative is exact.)

use super::arith::{self, CmpOp, Operand};
use super::{cast_raw, shape, track, Backward as Op, Ctx, Grads, Saved};
use crate::dtype::{DType, Scalar, DEFAULT_FLOAT};
use crate::error::{Error, Result};
use crate::float_dispatch;
use crate::kernels;
use crate::kernels::reduce::{
    reduce, reduce_tensor, ArgExtreme, Extreme, Fold, LogSumExp, Norm as NormFold, Prod,
    SquaredDeviation, Sum, Truth,
};
use crate::shape::{wrap_dim, Dims};
use crate::storage::Element;
use crate::tensor::Tensor;
use smallvec::smallvec;

/// Runs `$body` with `$T` bound to the element type of any dtype.
macro_rules! any_dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

// ---- dims and shapes ----------------------------------------------------------------------

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

/// One optional dim (`None`: all dims), normalised.
fn one_dim(dim: Option<i64>, ndim: usize) -> Result<Dims> {
    match dim {
        Some(d) => {
            let w = wrap_dim(d, ndim)?;
            Ok(if ndim == 0 { Dims::new() } else { smallvec![w] })
        }
        None => Ok((0..ndim).collect()),
    }
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

/// A keepdim-shaped result viewed without the reduced dims unless `keepdim`.
fn finish(raw: Tensor, input_shape: &[usize], dims: &[usize], keepdim: bool) -> Result<Tensor> {
    if keepdim {
        return Ok(raw);
    }
    let shape = reduced_shape(input_shape, dims, false);
    match raw.try_into_shape(&shape) {
        Ok(out) => Ok(out),
        Err(raw) => shape::view_raw(&raw, &shape),
    }
}

fn dims_i64(dims: &[usize]) -> Vec<i64> {
    dims.iter().map(|&d| d as i64).collect()
}

fn count(shape: &[usize], dims: &[usize]) -> usize {
    dims.iter().map(|&d| shape[d]).product()
}

/// PyTorch's capitalised scalar-type word used in some messages ("Long", "Float").
pub fn type_word(d: DType) -> &'static str {
    d.type_word()
}

/// The dtype of a sum or product: integers and bools accumulate into int64.
fn accumulate_dtype(t: &Tensor, dtype: Option<DType>) -> DType {
    dtype.unwrap_or(if t.dtype().is_floating_point() {
        t.dtype()
    } else {
        DType::I64
    })
}

/// `t` as a floating tensor (integers and bools become the default float dtype), no autograd.
fn floating_raw(t: &Tensor) -> Result<Tensor> {
    if t.dtype().is_floating_point() {
        Ok(t.clone())
    } else {
        cast_raw(t, DEFAULT_FLOAT)
    }
}

/// `t` itself if contiguous, else a contiguous copy (no autograd).
fn contiguous_raw(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        kernels::cast(t, t.dtype())
    }
}

/// A sum-like fold (`Sum` or `Prod`) of `t` over `dims` into `out_dtype`, keepdim shape.
fn accumulate_raw<F>(t: &Tensor, dims: &[usize], out_dtype: DType, fold: &F) -> Result<Tensor>
where
    F: Fold<f32, Out = f32> + Fold<f64, Out = f64> + Fold<i64, Out = i64> + Fold<bool, Out = i64>,
{
    // Bools and integers accumulate as themselves into int64; anything else is cast first.
    let x = if accumulate_dtype(t, None) == out_dtype {
        t.clone()
    } else {
        cast_raw(t, out_dtype)?
    };
    let r = any_dispatch!(x.dtype(), T => reduce_tensor::<T, F>(&x, dims, fold))?;
    cast_raw(&r, out_dtype)
}

// ---- sum, mean, prod ----------------------------------------------------------------------

/// `sum()` (dims `None`: SumBackward0) or `sum(dim, keepdim)` (SumBackward1).
pub fn sum(
    t: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    dtype: Option<DType>,
) -> Result<Tensor> {
    let rd = reduction_dims(dims, t.ndim())?;
    let raw = accumulate_raw(t, &rd, accumulate_dtype(t, dtype), &Sum { div: 1.0 })?;
    let out = finish(raw, t.shape(), &rd, keepdim)?;
    let input_shape = t.dims();
    track(out, &[Some(t)], |_| {
        Op::reduce(match dims {
            None => Backward::Sum { shape: input_shape },
            Some(_) => Backward::SumDim {
                shape: input_shape,
                dims: rd.clone(),
                keepdim,
            },
        })
    })
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
    let count = count(t.shape(), &rd);
    let raw = accumulate_raw(t, &rd, out_dtype, &Sum { div: count as f64 })?;
    let out = finish(raw, t.shape(), &rd, keepdim)?;
    let input_shape = t.dims();
    track(out, &[Some(t)], |_| {
        Op::reduce(match dims {
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
    })
}

/// `prod()` (ProdBackward0) or `prod(dim, keepdim)` (ProdBackward1).
pub fn prod(t: &Tensor, dim: Option<i64>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
    let rd = one_dim(dim, t.ndim())?;
    let raw = accumulate_raw(t, &rd, accumulate_dtype(t, dtype), &Prod)?;
    let out = finish(raw, t.shape(), &rd, keepdim)?;
    track(out, &[Some(t)], |out| {
        Op::reduce(Backward::Prod {
            input: Saved::input(t),
            result: Saved::output(out),
            dims: rd.clone(),
            along: dim.map(|_| rd.first().copied().unwrap_or(0)),
            keepdim,
        })
    })
}

// ---- max, min, amax, amin, argmax, argmin -------------------------------------------------

fn extreme_name(min: bool) -> &'static str {
    if min {
        "min"
    } else {
        "max"
    }
}

/// PyTorch's errors for a max-like reduction with no identity over an empty tensor or over
/// an empty one of `dims` (named as the caller says: `amax` as given, `max` wrapped).
fn check_nonempty(name: &str, t: &Tensor, dims: &[i64], all: bool) -> Result<()> {
    if t.numel() != 0 {
        return Ok(());
    }
    if all {
        let hint = if name.starts_with("arg") {
            ""
        } else {
            " Specify the reduction dim with the 'dim' argument."
        };
        let msg = format!(
            "{name}(): Expected reduction dim to be specified for input.numel() == 0.{hint}"
        );
        return Err(if name.starts_with("arg") {
            Error::Index(msg)
        } else {
            Error::Runtime(msg)
        });
    }
    let empty = |&&d: &&i64| wrap_dim(d, t.ndim()).is_ok_and(|w| t.shape().get(w) == Some(&0));
    match dims.iter().find(empty) {
        Some(d) => Err(Error::Index(format!(
            "{name}(): Expected reduction dim {d} to have non-zero size."
        ))),
        None => Ok(()),
    }
}

/// The largest (`min == false`) or smallest elements over `dims`, keepdim shape, no autograd.
fn extreme_raw(t: &Tensor, dims: &[usize], min: bool) -> Result<Tensor> {
    any_dispatch!(t.dtype(), T => if min {
        reduce_tensor::<T, _>(t, dims, &Extreme::<true>)
    } else {
        reduce_tensor::<T, _>(t, dims, &Extreme::<false>)
    })
}

/// `max()` / `min()` over all elements (MaxBackward1 / MinBackward1).
pub fn extreme_all(t: &Tensor, min: bool) -> Result<Tensor> {
    check_nonempty(extreme_name(min), t, &[], true)?;
    let rd: Dims = (0..t.ndim()).collect();
    let out = finish(extreme_raw(t, &rd, min)?, t.shape(), &rd, false)?;
    track(out, &[Some(t)], |out| {
        Op::reduce(Backward::ExtremeAll {
            input: Saved::input(t),
            result: Saved::output(out),
            min,
        })
    })
}

/// `amax(dim, keepdim)` / `amin` (AmaxBackward0 / AminBackward0); no dims: all.
pub fn amax(t: &Tensor, dims: &[i64], keepdim: bool, min: bool) -> Result<Tensor> {
    let rd = reduction_dims(Some(dims), t.ndim())?;
    let name = if min { "amin" } else { "amax" };
    check_nonempty(name, t, dims, dims.is_empty() || t.ndim() == 0)?;
    let out = finish(extreme_raw(t, &rd, min)?, t.shape(), &rd, keepdim)?;
    track(out, &[Some(t)], |out| {
        Op::reduce(Backward::Amax {
            input: Saved::input(t),
            result: Saved::output(out),
            dims: rd.clone(),
            keepdim,
            min,
        })
    })
}

/// Values and first indices of the extreme elements over `dims` (keepdim shape).
fn arg_extreme_raw(t: &Tensor, dims: &[usize], min: bool) -> Result<(Tensor, Tensor)> {
    let shape = kernels::reduce::keep_shape(t.shape(), dims);
    any_dispatch!(t.dtype(), T => {
        let pairs: Vec<(T, i64)> = if min {
            reduce::<T, _>(t, dims, &ArgExtreme::<true>)?
        } else {
            reduce::<T, _>(t, dims, &ArgExtreme::<false>)?
        };
        let (values, indices): (Vec<T>, Vec<i64>) = pairs.into_iter().unzip();
        Ok((Tensor::from_vec(values, &shape)?, Tensor::from_vec(indices, &shape)?))
    })
}

/// `max(dim, keepdim)` / `min(dim, keepdim)`: values (MaxBackward0 / MinBackward0) and the
/// indices of the first extreme elements.
pub fn extreme_dim(t: &Tensor, dim: i64, keepdim: bool, min: bool) -> Result<(Tensor, Tensor)> {
    let rd = one_dim(Some(dim), t.ndim())?;
    check_nonempty(extreme_name(min), t, &dims_i64(&rd), false)?;
    let (values, indices) = arg_extreme_raw(t, &rd, min)?;
    let values = finish(values, t.shape(), &rd, keepdim)?;
    let indices = finish(indices, t.shape(), &rd, keepdim)?;
    let values = track(values, &[Some(t)], |_| {
        Op::reduce(Backward::ExtremeDim {
            indices: Saved::input(&indices),
            shape: t.dims(),
            dim: rd.first().copied().unwrap_or(0),
            keepdim,
            min,
        })
    })?;
    Ok((values, indices))
}

/// `argmax(dim, keepdim)` / `argmin`; no dim: the index into the flattened tensor.
pub fn argmax(t: &Tensor, dim: Option<i64>, keepdim: bool, min: bool) -> Result<Tensor> {
    let name = if min { "argmin" } else { "argmax" };
    if t.dtype() == DType::Bool {
        return Err(Error::Runtime(format!(
            "{name}(): does not support bool input"
        )));
    }
    let rd = one_dim(dim, t.ndim())?;
    check_nonempty(name, t, &dims_i64(&rd), dim.is_none())?;
    let (_, indices) = arg_extreme_raw(t, &rd, min)?;
    finish(indices, t.shape(), &rd, keepdim)
}

// ---- var, std -----------------------------------------------------------------------------

/// The number of elements each output of a reduction over `dims` sees (PyTorch's "input
/// numel divided by output numel").
pub fn reduction_count(t: &Tensor, dims: Option<&[i64]>) -> Result<usize> {
    let rd = reduction_dims(dims, t.ndim())?;
    let out: usize = t
        .shape()
        .iter()
        .enumerate()
        .filter(|(i, _)| !rd.contains(i))
        .map(|(_, &n)| n)
        .product();
    Ok(t.numel() / out.max(1))
}

/// `var(dim, correction, keepdim)` (VarBackward0), or `std` when `sqrt` (StdBackward0).
pub fn var(
    t: &Tensor,
    dims: Option<&[i64]>,
    correction: f64,
    keepdim: bool,
    sqrt: bool,
) -> Result<Tensor> {
    if !t.dtype().is_floating_point() {
        return Err(Error::Runtime(
            "std and var only support floating point and complex dtypes".into(),
        ));
    }
    let rd = reduction_dims(dims, t.ndim())?;
    let n = count(t.shape(), &rd);
    let divisor = (n as f64 - correction).max(0.0);
    let raw = float_dispatch!(t.dtype(), T => {
        let means = reduce::<T, _>(t, &rd, &Mean64)?;
        reduce_tensor::<T, _>(t, &rd, &SquaredDeviation { means: &means, divisor, sqrt })
    })?;
    let out = finish(raw, t.shape(), &rd, keepdim)?;
    track(out, &[Some(t)], |out| {
        Op::reduce(Backward::Var {
            input: Saved::input(t),
            result: sqrt.then(|| Saved::output(out)),
            dims: rd.clone(),
            keepdim,
            dof: n as f64 - correction,
            full: dims.is_none() || t.ndim() == 0,
        })
    })
}

/// Means in f64 (the first pass of `var`), of the data shifted by its first element: a
/// constant input then has exactly its value as mean (and a variance of exactly 0).
struct Mean64;

/// (shift, sum of `x - shift`, count)
type Shifted = (f64, f64, f64);

impl<T: Element> Fold<T> for Mean64 {
    type Acc = Shifted;
    type Out = f64;
    fn init(&self, _: usize) -> Shifted {
        (0.0, 0.0, 0.0)
    }
    fn step(&self, (k, s, n): Shifted, x: T, _: usize) -> Shifted {
        let x = x.to_f64();
        let k = if n == 0.0 { x } else { k };
        (k, s + (x - k), n + 1.0)
    }
    fn run(&self, (k, s, n): Shifted, xs: &[T], _: usize) -> Shifted {
        let Some(first) = xs.first() else {
            return (k, s, n);
        };
        let k = if n == 0.0 { first.to_f64() } else { k };
        let sum = kernels::reduce::sum_map(xs, |x| x - k);
        (k, s + sum, n + xs.len() as f64)
    }
    fn merge(&self, a: Shifted, b: Shifted) -> Shifted {
        if a.2 == 0.0 {
            return b;
        }
        (a.0, a.1 + b.1 + b.2 * (b.0 - a.0), a.2 + b.2)
    }
    fn finish(&self, (k, s, n): Shifted) -> f64 {
        k + s / n
    }
}

// ---- norm, logsumexp, all, any ------------------------------------------------------------

/// `p` as PyTorch prints a norm order in messages (`2`, `-2.5`, `inf`).
fn order_text(p: f64) -> String {
    if p.is_infinite() {
        (if p > 0.0 { "inf" } else { "-inf" }).into()
    } else if p.fract() == 0.0 {
        format!("{}", p as i64)
    } else {
        format!("{p}")
    }
}

/// Vector norm of order `p` (any real, `inf` and `-inf`) over `dims` (`None`: all).
pub fn norm(t: &Tensor, p: f64, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    if !t.dtype().is_floating_point() {
        return Err(Error::Runtime(format!(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
            type_word(t.dtype())
        )));
    }
    let rd = reduction_dims(dims, t.ndim())?;
    // Orders without an identity (inf and the negative ones) need something to reduce.
    if (p < 0.0 || p == f64::INFINITY) && t.numel() == 0 {
        let given = dims.filter(|d| !d.is_empty()).unwrap_or(&[]);
        if given.is_empty() {
            return Err(Error::Runtime(format!("linalg.vector_norm cannot compute the {} norm on an empty tensor because the operation does not have an identity", order_text(p))));
        }
        let empty = |&&d: &&i64| wrap_dim(d, t.ndim()).is_ok_and(|w| t.shape().get(w) == Some(&0));
        if let Some(&d) = given.iter().find(empty) {
            return Err(Error::Runtime(format!("linalg.vector_norm cannot compute the {} norm on the dimension {d}because this dimension is empty and the operation does not have an identity", order_text(p))));
        }
    }
    let raw = float_dispatch!(t.dtype(), T => reduce_tensor::<T, _>(t, &rd, &NormFold { p }))?;
    let out = finish(raw, t.shape(), &rd, keepdim)?;
    track(out, &[Some(t)], |out| {
        Op::reduce(Backward::Norm {
            input: Saved::input(t),
            result: Saved::output(out),
            dims: rd.clone(),
            keepdim,
            p,
        })
    })
}

/// `logsumexp(dim, keepdim)` (LogsumexpBackward0); integers are promoted to float.
pub fn logsumexp(t: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    let rd = reduction_dims(Some(dims), t.ndim())?;
    if dims.is_empty() && t.ndim() > 0 && t.numel() > 0 && !keepdim {
        // PyTorch reduces over every dim but then fails to write the kept-dims result.
        return Err(Error::Runtime(format!(
            "output with shape [] doesn't match the broadcast shape {}",
            crate::shape::format_shape(&reduced_shape(t.shape(), &rd, true))
        )));
    }
    let x = floating_raw(t)?;
    let raw = float_dispatch!(x.dtype(), T => {
        let maxes: Vec<f64> = reduce::<T, _>(&x, &rd, &Extreme::<false>)?
            .into_iter()
            .map(|m| m.to_f64())
            .collect();
        reduce_tensor::<T, _>(&x, &rd, &LogSumExp { maxes: &maxes })
    })?;
    let out = finish(raw, t.shape(), &rd, keepdim)?;
    track(out, &[Some(t)], |out| {
        Op::reduce(Backward::Logsumexp {
            input: Saved::input(t),
            result: Saved::output(out),
            dims: rd.clone(),
            keepdim,
        })
    })
}

/// `all(dim, keepdim)` (`any == false`) / `any`: bool results, not differentiable.
pub fn all(t: &Tensor, dims: Option<&[i64]>, keepdim: bool, any: bool) -> Result<Tensor> {
    let rd = reduction_dims(dims, t.ndim())?;
    let raw = any_dispatch!(t.dtype(), T => if any {
        reduce_tensor::<T, _>(t, &rd, &Truth::<true>)
    } else {
        reduce_tensor::<T, _>(t, &rd, &Truth::<false>)
    })?;
    finish(raw, t.shape(), &rd, keepdim)
}

// ---- cumsum, cumprod ----------------------------------------------------------------------

/// A cumulative sum or product along `dim` into `out_dtype`, from the end when `reverse`.
fn scan_raw(t: &Tensor, dim: usize, out_dtype: DType, prod: bool, reverse: bool) -> Result<Tensor> {
    if out_dtype == DType::Bool {
        let what = if prod { "cumprod" } else { "cumsum" };
        return Err(Error::Runtime(format!(
            "\"{what}_out_cpu\" not implemented for 'Bool'"
        )));
    }
    let x = if accumulate_dtype(t, None) == out_dtype {
        t.clone()
    } else {
        cast_raw(t, out_dtype)?
    };
    let x = contiguous_raw(&x)?;
    let r = any_dispatch!(x.dtype(), T => if prod {
        kernels::reduce::scan::<T, true>(&x, dim, reverse)
    } else {
        kernels::reduce::scan::<T, false>(&x, dim, reverse)
    })?;
    cast_raw(&r, out_dtype)
}

/// `cumsum(dim)` (CumsumBackward0), summing from the end when `reverse` (its own backward).
fn cumsum_dir(t: &Tensor, dim: usize, dtype: Option<DType>, reverse: bool) -> Result<Tensor> {
    let out = scan_raw(t, dim, accumulate_dtype(t, dtype), false, reverse)?;
    track(out, &[Some(t)], |_| {
        Op::reduce(Backward::Cumsum { dim, reverse })
    })
}

pub fn cumsum(t: &Tensor, dim: i64, dtype: Option<DType>) -> Result<Tensor> {
    cumsum_dir(t, wrap_dim(dim, t.ndim())?, dtype, false)
}

/// `cumprod(dim)` (CumprodBackward0).
pub fn cumprod(t: &Tensor, dim: i64, dtype: Option<DType>) -> Result<Tensor> {
    let d = wrap_dim(dim, t.ndim())?;
    let out = scan_raw(t, d, accumulate_dtype(t, dtype), true, false)?;
    track(out, &[Some(t)], |out| {
        Op::reduce(Backward::Cumprod {
            input: Saved::input(t),
            result: Saved::output(out),
            dim: d,
        })
    })
}

// ---- softmax, log_softmax -----------------------------------------------------------------

/// `softmax(dim, dtype)` (SoftmaxBackward0) or, when `log`, `log_softmax`
/// (LogSoftmaxBackward0). With `dtype` the input is converted first (ToCopyBackward0).
pub fn softmax(t: &Tensor, dim: i64, dtype: Option<DType>, log: bool) -> Result<Tensor> {
    let x = match dtype {
        Some(d) => shape::to_dtype(t, d)?,
        None => t.clone(),
    };
    let d = wrap_dim(dim, x.ndim())?;
    if !x.dtype().is_floating_point() {
        let last = if d + 1 >= x.ndim() { "_lastdim" } else { "" };
        let name = if log { "log_softmax" } else { "softmax" };
        return Err(Error::Runtime(format!(
            "\"{name}{last}_kernel_impl\" not implemented for '{}'",
            type_word(x.dtype())
        )));
    }
    let xc = contiguous_raw(&x)?;
    let out = float_dispatch!(x.dtype(), T => kernels::reduce::softmax::<T>(&xc, d, log))?;
    track(out, &[Some(&x)], |out| {
        let result = Saved::output(out);
        Op::reduce(if log {
            Backward::LogSoftmax { result, dim: d }
        } else {
            Backward::Softmax { result, dim: d }
        })
    })
}

// ---- selecting values along a dim (the grads of max(dim) / min(dim)) ----------------------

/// Zeros of `shape` with `src` written along `dim` at `index` (ScatterBackward0 inside
/// backward graphs); `src` and `index` have `shape` with size 1 at `dim`.
fn scatter_along(src: &Tensor, dim: usize, index: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let s = contiguous_raw(src)?;
    let out =
        any_dispatch!(s.dtype(), T => kernels::reduce::scatter_dim::<T>(&s, dim, index, shape))?;
    track(out, &[Some(src)], |_| {
        Op::reduce(Backward::Scatter {
            dim,
            index: index.clone(),
        })
    })
}

/// The elements of `src` along `dim` at `index` (GatherBackward0).
fn gather_along(src: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    let s = contiguous_raw(src)?;
    let out = any_dispatch!(s.dtype(), T => kernels::reduce::gather_dim::<T>(&s, dim, index))?;
    track(out, &[Some(src)], |_| {
        Op::reduce(Backward::Gather {
            dim,
            index: index.clone(),
            shape: src.dims(),
        })
    })
}

// ---- backward rules -----------------------------------------------------------------------

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
    Prod {
        input: Saved,
        result: Saved,
        dims: Dims,
        /// The dim of `prod(dim)` (ProdBackward1); `None` for `prod()`.
        along: Option<usize>,
        keepdim: bool,
    },
    ExtremeAll {
        input: Saved,
        result: Saved,
        min: bool,
    },
    ExtremeDim {
        indices: Saved,
        shape: Dims,
        dim: usize,
        keepdim: bool,
        min: bool,
    },
    Amax {
        input: Saved,
        result: Saved,
        dims: Dims,
        keepdim: bool,
        min: bool,
    },
    /// `var`, or `std` when the result is saved.
    Var {
        input: Saved,
        result: Option<Saved>,
        dims: Dims,
        keepdim: bool,
        /// `n - correction`, the divisor of the sum of squared deviations.
        dof: f64,
        /// Reduced over all elements without naming dims.
        full: bool,
    },
    Norm {
        input: Saved,
        result: Saved,
        dims: Dims,
        keepdim: bool,
        p: f64,
    },
    Logsumexp {
        input: Saved,
        result: Saved,
        dims: Dims,
        keepdim: bool,
    },
    Cumsum {
        dim: usize,
        reverse: bool,
    },
    Cumprod {
        input: Saved,
        result: Saved,
        dim: usize,
    },
    Softmax {
        result: Saved,
        dim: usize,
    },
    LogSoftmax {
        result: Saved,
        dim: usize,
    },
    Scatter {
        dim: usize,
        index: Tensor,
    },
    Gather {
        dim: usize,
        index: Tensor,
        shape: Dims,
    },
}

/// Re-inserts reduced dims into `g` (as size 1) so it broadcasts against the input.
fn unsqueeze_reduced(g: &Tensor, shape: &[usize], dims: &[usize], keepdim: bool) -> Result<Tensor> {
    if keepdim {
        return Ok(g.clone());
    }
    shape::reshape(g, &reduced_shape(shape, dims, true))
}

fn scalar(x: f64) -> Operand<'static> {
    Operand::Scalar(Scalar::Float(x))
}

/// 1 where `hit(x)` holds, else 0, in `x`'s (floating) dtype, without history.
fn indicator(x: &Tensor, hit: impl Fn(f64) -> bool + Sync) -> Result<Tensor> {
    float_dispatch!(x.dtype(), T => kernels::unary::<T, T>(&x.detach(), |v| {
        T::from_f64(if hit(v.to_f64()) { 1.0 } else { 0.0 })
    }))
}

/// 1 where `a == b` (broadcasting), else 0, in `a`'s dtype, without history.
fn equal_mask(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let eq = arith::compare(&a.detach(), Operand::Tensor(&b.detach()), CmpOp::Eq)?;
    cast_raw(&eq, a.dtype())
}

/// Whether any element of a floating tensor is zero.
fn has_zero(x: &Tensor) -> Result<bool> {
    float_dispatch!(x.dtype(), T => Ok(x.to_vec::<T>().iter().any(|&v| v.to_f64() == 0.0)))
}

/// `v` with the entries where `d` (broadcast) is zero replaced by 0, keeping `v`'s history:
/// `masked_fill(d == 0, 0)`.
fn zero_where_zero(v: &Tensor, d: &Tensor) -> Result<Tensor> {
    let keep = indicator(d, |x| x != 0.0)?;
    let masked = arith::mul(v, Operand::Tensor(&keep))?;
    // inf * 0 gave NaN where masked.
    let fixed = float_dispatch!(masked.dtype(), T => kernels::binary::<T, T>(&masked.detach(), &cast_raw(&keep, masked.dtype())?, |x, k| {
        if k == T::from_f64(0.0) { T::from_f64(0.0) } else { x }
    }))?;
    Ok(masked.with_same_history(fixed))
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::Sum { .. } => "SumBackward0",
            Backward::SumDim { .. } => "SumBackward1",
            Backward::Mean { .. } => "MeanBackward0",
            Backward::MeanDim { .. } => "MeanBackward1",
            Backward::Prod { along: None, .. } => "ProdBackward0",
            Backward::Prod { .. } => "ProdBackward1",
            Backward::ExtremeAll { min: false, .. } => "MaxBackward1",
            Backward::ExtremeAll { min: true, .. } => "MinBackward1",
            Backward::ExtremeDim { min: false, .. } => "MaxBackward0",
            Backward::ExtremeDim { min: true, .. } => "MinBackward0",
            Backward::Amax { min: false, .. } => "AmaxBackward0",
            Backward::Amax { min: true, .. } => "AminBackward0",
            Backward::Var { result: None, .. } => "VarBackward0",
            Backward::Var { .. } => "StdBackward0",
            Backward::Norm { .. } => "LinalgVectorNormBackward0",
            Backward::Logsumexp { .. } => "LogsumexpBackward0",
            Backward::Cumsum { .. } => "CumsumBackward0",
            Backward::Cumprod { .. } => "CumprodBackward0",
            Backward::Softmax { .. } => "SoftmaxBackward0",
            Backward::LogSoftmax { .. } => "LogSoftmaxBackward0",
            Backward::Scatter { .. } => "ScatterBackward0",
            Backward::Gather { .. } => "GatherBackward0",
        }
    }

    pub fn has_saved(&self) -> bool {
        !matches!(
            self,
            Backward::Sum { .. }
                | Backward::SumDim { .. }
                | Backward::Mean { .. }
                | Backward::MeanDim { .. }
                | Backward::Cumsum { .. }
                | Backward::Scatter { .. }
                | Backward::Gather { .. }
        )
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
                arith::div(&e, scalar(*count as f64))?
            }
            Backward::MeanDim {
                shape,
                dims,
                keepdim,
                count,
            } => {
                let e = shape::expand(&unsqueeze_reduced(g, shape, dims, *keepdim)?, shape)?;
                arith::div(&e, scalar(*count as f64))?
            }
            Backward::Prod {
                input,
                result,
                dims,
                along,
                keepdim,
            } => {
                let x = input.unpack(ctx)?;
                let g = unsqueeze_reduced(g, x.shape(), dims, *keepdim)?;
                if has_zero(&x)? {
                    let others = float_dispatch!(x.dtype(), T => kernels::reduce::prod_of_others::<T>(&x.detach(), *along))?;
                    arith::mul(&g, Operand::Tensor(&others))?
                } else {
                    let r = unsqueeze_reduced(&result.unpack(ctx)?, x.shape(), dims, *keepdim)?;
                    arith::mul(&g, Operand::Tensor(&arith::div(&r, Operand::Tensor(&x))?))?
                }
            }
            Backward::ExtremeAll { input, result, .. } => {
                // Shared evenly among the elements equal to the result (NaNs, if it is NaN).
                let x = input.unpack(ctx)?;
                let r = result.unpack(ctx)?.item()?.to_f64();
                let mask = if r.is_nan() {
                    indicator(&x, f64::is_nan)?
                } else {
                    indicator(&x, |v| v == r)?
                };
                let n = sum(&mask, None, false, None)?;
                arith::mul(&mask, Operand::Tensor(&arith::div(g, Operand::Tensor(&n))?))?
            }
            Backward::ExtremeDim {
                indices,
                shape,
                dim,
                keepdim,
                ..
            } => {
                let dims: Dims = if shape.is_empty() {
                    Dims::new()
                } else {
                    smallvec![*dim]
                };
                let g = unsqueeze_reduced(g, shape, &dims, *keepdim)?;
                let idx = indices.unpack(ctx)?;
                let idx = shape::view_raw(&contiguous_raw(&idx)?, g.shape())?;
                scatter_along(&g, *dim, &idx, shape)?
            }
            Backward::Amax {
                input,
                result,
                dims,
                keepdim,
                ..
            } => {
                // Shared evenly among ties (a NaN result matches nothing: NaN grads, as PyTorch).
                let x = input.unpack(ctx)?;
                let r = unsqueeze_reduced(&result.unpack(ctx)?, x.shape(), dims, *keepdim)?;
                let g = unsqueeze_reduced(g, x.shape(), dims, *keepdim)?;
                let mask = equal_mask(&x, &r)?;
                let n = sum(&mask, Some(&dims_i64(dims)), true, None)?;
                arith::mul(
                    &arith::div(&g, Operand::Tensor(&n))?,
                    Operand::Tensor(&mask),
                )?
            }
            Backward::Var {
                input,
                result,
                dims,
                keepdim,
                dof,
                full,
            } => {
                // var: 2 / dof * g * (x - mean); std: the same for g / (2 std), 0 where
                // std == 0. With no dims and dof <= 0 PyTorch gives NaN or inf.
                let x = input.unpack(ctx)?;
                let g = unsqueeze_reduced(g, x.shape(), dims, *keepdim)?;
                let r = match result {
                    Some(r) => Some(unsqueeze_reduced(
                        &r.unpack(ctx)?,
                        x.shape(),
                        dims,
                        *keepdim,
                    )?),
                    None => None,
                };
                let g = match &r {
                    Some(r) => arith::div(&g, Operand::Tensor(&arith::mul(r, scalar(2.0))?))?,
                    None => g,
                };
                let m = mean(&x, Some(&dims_i64(dims)), true, None)?;
                let centred = arith::sub(&x, Operand::Tensor(&m), 1.0)?;
                let grad = if *full && *dof <= 0.0 {
                    let f = kernels::unary::<f64, f64>(
                        &cast_raw(&centred.detach(), DType::F64)?,
                        |v| {
                            if v == 0.0 {
                                f64::NAN
                            } else {
                                f64::INFINITY
                            }
                        },
                    )?;
                    arith::mul(&g, Operand::Tensor(&cast_raw(&f, x.dtype())?))?
                } else {
                    arith::mul(
                        &centred,
                        Operand::Tensor(&arith::mul(&g, scalar(2.0 / dof))?),
                    )?
                };
                match &r {
                    Some(r) => zero_where_zero(&grad, r)?,
                    None => grad,
                }
            }
            Backward::Norm {
                input,
                result,
                dims,
                keepdim,
                p,
            } => {
                let x = input.unpack(ctx)?;
                let r = unsqueeze_reduced(&result.unpack(ctx)?, x.shape(), dims, *keepdim)?;
                let g = unsqueeze_reduced(g, x.shape(), dims, *keepdim)?;
                match norm_grad(&x, &r, &g, dims, *p)? {
                    Some(grad) => grad,
                    None => return Ok(smallvec![None]),
                }
            }
            Backward::Logsumexp {
                input,
                result,
                dims,
                keepdim,
            } => {
                let x = input.unpack(ctx)?;
                let r = unsqueeze_reduced(&result.unpack(ctx)?, x.shape(), dims, *keepdim)?;
                let g = unsqueeze_reduced(g, x.shape(), dims, *keepdim)?;
                let e = super::unary::exp(&arith::sub(&x, Operand::Tensor(&r), 1.0)?)?;
                arith::mul(&g, Operand::Tensor(&e))?
            }
            Backward::Cumsum { dim, reverse } => cumsum_dir(g, *dim, None, !reverse)?,
            Backward::Cumprod { input, result, dim } => {
                let x = input.unpack(ctx)?;
                if has_zero(&x)? {
                    let gx = cast_raw(g, x.dtype())?;
                    float_dispatch!(x.dtype(), T => kernels::reduce::cumprod_grad::<T>(&x.detach(), &gx, *dim))?
                } else {
                    // sum over later positions of g * result, divided by x.
                    let r = result.unpack(ctx)?;
                    let gr = arith::mul(g, Operand::Tensor(&r))?;
                    arith::div(&cumsum_dir(&gr, *dim, None, true)?, Operand::Tensor(&x))?
                }
            }
            Backward::Softmax { result, dim } => {
                // y * (g - sum(g * y))
                let y = result.unpack(ctx)?;
                let gy = arith::mul(g, Operand::Tensor(&y))?;
                let s = sum(&gy, Some(&[*dim as i64]), true, None)?;
                arith::mul(
                    &y,
                    Operand::Tensor(&arith::sub(g, Operand::Tensor(&s), 1.0)?),
                )?
            }
            Backward::LogSoftmax { result, dim } => {
                // g - exp(y) * sum(g)
                let y = result.unpack(ctx)?;
                let s = sum(g, Some(&[*dim as i64]), true, None)?;
                let p = super::unary::exp(&y)?;
                arith::sub(
                    g,
                    Operand::Tensor(&arith::mul(&p, Operand::Tensor(&s))?),
                    1.0,
                )?
            }
            Backward::Scatter { dim, index } => gather_along(g, *dim, index)?,
            Backward::Gather { dim, index, shape } => scatter_along(g, *dim, index, shape)?,
        };
        Ok(smallvec![Some(grad)])
    }
}

/// The grad of the `p`-norm `r` of `x` for upstream `g` (both broadcast to `x`), PyTorch's
/// rule for each order; `None` for `p == 0` (no grad flows).
fn norm_grad(x: &Tensor, r: &Tensor, g: &Tensor, dims: &[usize], p: f64) -> Result<Option<Tensor>> {
    use super::unary::{abs, sign};
    let mul = |a: &Tensor, b: &Tensor| arith::mul(a, Operand::Tensor(b));
    Ok(Some(if p == 0.0 {
        return Ok(None);
    } else if p == 1.0 {
        mul(&sign(x)?, g)?
    } else if p.is_infinite() {
        // Shared evenly among the entries attaining the max (min) of |x|, a NaN counting
        // as one (its sign, hence its grad, is 0).
        let a = abs(&x.detach())?;
        let hit = indicator(&a, f64::is_nan)?;
        let hit = arith::binary_raw(
            &equal_mask(&a, r)?,
            Operand::Tensor(&hit),
            arith::BinOp::Add,
            false,
        )?;
        let n = sum(&hit, Some(&dims_i64(dims)), true, None)?;
        let w = arith::div(&mul(&sign(x)?, &hit)?, Operand::Tensor(&n))?;
        mul(&w, g)?
    } else if p < 1.0 {
        // sign(x) |x|^(p-1) (0 where x == 0) * g * r^(1-p)
        let s = arith::pow(&abs(x)?, scalar(p - 1.0))?;
        let s = zero_where_zero(&mul(&sign(x)?, &s)?, x)?;
        mul(&s, &mul(g, &arith::pow(r, scalar(1.0 - p))?)?)?
    } else {
        // x |x|^(p-2) (sign(x) |x|^(p-1) for p < 2) * g / r^(p-1), 0 where r == 0
        let s = if p == 2.0 {
            x.clone()
        } else if p < 2.0 {
            mul(&sign(x)?, &arith::pow(&abs(x)?, scalar(p - 1.0))?)?
        } else {
            mul(x, &arith::pow(&abs(x)?, scalar(p - 2.0))?)?
        };
        let rp = if p == 2.0 {
            r.clone()
        } else {
            arith::pow(r, scalar(p - 1.0))?
        };
        let scale = zero_where_zero(&arith::div(g, Operand::Tensor(&rp))?, r)?;
        mul(&s, &scale)?
    }))
}

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
    // A fresh sum that records nothing is reshaped without becoming a view.
    match s.try_into_shape(shape) {
        Ok(out) => Ok(out),
        Err(s) => shape::reshape(&s, shape),
    }
}
