//! Matrix products: a batched GEMM over strided 3-D layouts.
//!
//! Floats go to the `gemm` crate (a tuned, BLAS-class kernel that takes arbitrary strides, so
//! transposed views need no copy); int64 uses a plain loop. Products below
//! `PARALLEL_FLOPS` run on the calling thread; larger ones use the ferrograd pool.

use super::{num_threads, team};
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::Element;
use crate::tensor::Tensor;
use std::ops::Range;

/// Which matrix-product kernel ferrograd uses (reported by the benchmarks).
pub const MATMUL_KERNEL: &str = "gemm 0.19 (f32/f64; one block per thread), loop (int64)";

/// Below this many multiply-adds a product stays on the calling thread.
pub const PARALLEL_FLOPS: usize = 1 << 18;

/// Element types with a matrix product.
pub trait MatElement: Element {
    /// `c[m×n] = a[m×k] @ b[k×n]` on the calling thread; `a`/`b` given by pointer and
    /// (row, column) strides, `c` row-major with row stride `c_rs` (its old values unread).
    ///
    /// # Safety
    /// Every index reachable through the given sizes and strides must be in bounds.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        a: *const Self,
        a_rs: isize,
        a_cs: isize,
        b: *const Self,
        b_rs: isize,
        b_cs: isize,
        c: *mut Self,
        c_rs: isize,
    );
}

macro_rules! float_gemm {
    ($t:ty) => {
        impl MatElement for $t {
            unsafe fn gemm(
                m: usize,
                n: usize,
                k: usize,
                a: *const Self,
                a_rs: isize,
                a_cs: isize,
                b: *const Self,
                b_rs: isize,
                b_cs: isize,
                c: *mut Self,
                c_rs: isize,
            ) {
                // SAFETY: forwarded from the caller.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        c,
                        1,
                        c_rs,
                        false,
                        a,
                        a_cs,
                        a_rs,
                        b,
                        b_cs,
                        b_rs,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                }
            }
        }
    };
}
float_gemm!(f32);
float_gemm!(f64);

impl MatElement for i64 {
    unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        a: *const Self,
        a_rs: isize,
        a_cs: isize,
        b: *const Self,
        b_rs: isize,
        b_cs: isize,
        c: *mut Self,
        c_rs: isize,
    ) {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0i64;
                for p in 0..k {
                    // SAFETY: in bounds by the caller's contract.
                    unsafe {
                        let x = *a.offset(i as isize * a_rs + p as isize * a_cs);
                        let y = *b.offset(p as isize * b_rs + j as isize * b_cs);
                        acc = acc.wrapping_add(x.wrapping_mul(y));
                    }
                }
                // SAFETY: in bounds by the caller's contract.
                unsafe { *c.offset(i as isize * c_rs + j as isize) = acc };
            }
        }
    }
}

/// `out[b] = a[b] @ b[b]` for 3-D tensors `(batch, m, k)` and `(batch, k, n)` of one dtype
/// (any strides, batch stride may be 0). The result is contiguous `(batch, m, n)`.
///
/// Products of at least `PARALLEL_FLOPS` multiply-adds are cut into one block per thread
/// (whole products when the batch is large enough, else row or column blocks of each) and
/// each block runs the sequential kernel on the team: one fork-join per call, where the
/// `gemm` crate's own threading joins many times per call.
pub fn bmm<T: MatElement>(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (la, lb) = (a.layout(), b.layout());
    let (batch, m, k, n) = (la.shape[0], la.shape[1], la.shape[2], lb.shape[2]);
    let total = crate::shape::checked_numel(&[batch, m, n])?;
    if total == 0 || k == 0 {
        let out: Vec<T> = crate::storage::alloc_filled(total, T::default())?;
        return Tensor::from_vec(out, &[batch, m, n]);
    }
    let (da, db) = (typed::<T>(a)?, typed::<T>(b)?);
    let mut out: Vec<T> = crate::storage::alloc_vec(total)?;
    let c = team::SendPtr::new(out.spare_capacity_mut().as_mut_ptr().cast::<T>());
    // The block of product `i` with output rows `rows` and columns `cols`.
    let block = |i: usize, rows: Range<usize>, cols: Range<usize>| {
        let (r0, c0) = (rows.start as isize, cols.start as isize);
        let (a_rs, a_cs) = (la.strides[1] as isize, la.strides[2] as isize);
        let (b_rs, b_cs) = (lb.strides[1] as isize, lb.strides[2] as isize);
        // SAFETY: the layouts were validated when the tensors were built, so every index
        // reachable through their sizes and strides is inside the buffers; the output
        // blocks of different calls are disjoint and inside `out`'s capacity.
        unsafe {
            T::gemm(
                rows.len(),
                cols.len(),
                k,
                ptr_at(da, la, i).offset(r0 * a_rs),
                a_rs,
                a_cs,
                ptr_at(db, lb, i).offset(c0 * b_cs),
                b_rs,
                b_cs,
                c.get().add(i * m * n).offset(r0 * n as isize + c0),
                n as isize,
            )
        }
    };
    let threads = num_threads();
    let parallel = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_FLOPS;
    if !parallel {
        (0..batch).for_each(|i| block(i, 0..m, 0..n));
    } else if batch >= threads {
        team::for_each(batch, |i| block(i, 0..m, 0..n));
    } else {
        // Blocks of whole 16-row (or 16-column) panels, along the longer side.
        let per = threads.div_ceil(batch);
        let side = m.max(n);
        let step = side.div_ceil(per).div_ceil(16) * 16;
        let parts = side.div_ceil(step);
        team::for_each(batch * parts, |t| {
            let (i, p) = (t / parts, t % parts);
            let span = p * step..((p + 1) * step).min(side);
            if m >= n {
                block(i, span, 0..n)
            } else {
                block(i, 0..m, span)
            }
        });
    }
    // SAFETY: the blocks cover every output element, and the kernels wrote each one.
    unsafe { out.set_len(total) };
    Tensor::from_vec(out, &[batch, m, n])
}

fn ptr_at<T>(data: &[T], l: &Layout, batch: usize) -> *const T {
    data[l.offset + batch * l.strides[0]..].as_ptr()
}

fn typed<T: Element>(t: &Tensor) -> Result<&[T]> {
    T::slice(t.buffer())
        .ok_or_else(|| Error::Runtime(format!("matmul: unexpected dtype {}", t.dtype())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a[i * k + p] * b[p * n + j];
                }
            }
        }
        c
    }

    #[test]
    fn small_and_large_products_match_a_naive_loop() {
        for (m, k, n) in [(2, 3, 4), (1, 1, 1), (70, 90, 80)] {
            let av: Vec<f64> = (0..m * k).map(|i| (i % 7) as f64 - 3.0).collect();
            let bv: Vec<f64> = (0..k * n).map(|i| (i % 5) as f64 * 0.5).collect();
            let a = Tensor::from_vec(av.clone(), &[1, m, k]).unwrap();
            let b = Tensor::from_vec(bv.clone(), &[1, k, n]).unwrap();
            let c = bmm::<f64>(&a, &b).unwrap().to_vec::<f64>();
            assert_eq!(c, naive(&av, &bv, m, k, n), "{m}x{k}x{n}");
        }
    }

    #[test]
    fn transposed_operand_needs_no_copy() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[1, 3, 2]).unwrap();
        let at = a.alias_with_layout(a.layout().transpose(1, 2)); // (1, 2, 3)
        let c = bmm::<f32>(&at, &a).unwrap();
        assert_eq!(c.to_vec::<f32>(), vec![35.0, 44.0, 44.0, 56.0]);
    }
}
