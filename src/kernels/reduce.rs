//! Reductions over dimensions.

use super::{pool, PARALLEL_THRESHOLD};
use crate::error::Result;
use crate::shape::Layout;
use crate::storage::Element;
use crate::tensor::Tensor;
use ndarray::{ArrayViewD, Axis, IxDyn, ShapeBuilder};
use rayon::prelude::*;

/// Element types that can be summed.
pub trait SumElement: Element + std::ops::Add<Output = Self> + num_traits::Zero {}
impl SumElement for f32 {}
impl SumElement for f64 {}
impl SumElement for i64 {}

/// A read-only ndarray view of `t`'s elements (any strides).
fn view<'a, T: Element>(t: &'a Tensor, data: &'a [T]) -> ArrayViewD<'a, T> {
    let l: &Layout = t.layout();
    let shape = IxDyn(&l.shape);
    let strides = IxDyn(&l.strides);
    // SAFETY: the layout was validated when the tensor was built: every index reachable
    // through shape/strides/offset lies inside `data`.
    unsafe { ArrayViewD::from_shape_ptr(shape.strides(strides), data.as_ptr().add(l.offset)) }
}

/// Sums over all elements, in f64 for floats (pairwise via chunked partial sums).
pub fn sum_all<T: SumElement>(t: &Tensor) -> f64 {
    if let Some(s) = t.contiguous_slice::<T>() {
        if s.len() >= PARALLEL_THRESHOLD {
            return pool().install(|| {
                s.par_chunks(1 << 14)
                    .map(|c| c.iter().map(|&x| x.to_f64()).sum::<f64>())
                    .sum::<f64>()
            });
        }
        return s.iter().map(|&x| x.to_f64()).sum();
    }
    let Some(data) = T::slice(t.buffer()) else {
        return 0.0;
    };
    view(t, data).iter().map(|&x| x.to_f64()).sum()
}

/// Sums `t` over the (sorted, distinct) `dims`, keeping them as size-1 dims.
pub fn sum_dims<T: SumElement>(t: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let Some(data) = T::slice(t.buffer()) else {
        return Err(crate::error::Error::Runtime("sum: dtype mismatch".into()));
    };
    let v = view(t, data);
    let mut acc = match dims.first() {
        Some(&d) => v.sum_axis(Axis(d)).insert_axis(Axis(d)),
        None => v.to_owned(),
    };
    for &d in dims.iter().skip(1) {
        acc = acc.sum_axis(Axis(d)).insert_axis(Axis(d));
    }
    let shape: Vec<usize> = acc.shape().to_vec();
    let values: Vec<T> = acc.iter().copied().collect();
    Tensor::from_vec(values, &shape)
}
