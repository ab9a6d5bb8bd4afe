//! Elementwise kernels: `unary` (map), `binary` (broadcasting zip), `ternary` (broadcasting
//! three-way zip, for `where` and `clamp`) and `cast`, whose outputs are new contiguous
//! tensors; and `assign`, the in-place update of a contiguous tensor (`x -= lr * g`).
//!
//! Every kernel is generic over its closure, so each op's loop is compiled for that op and
//! vectorised where the op allows. Callers pass closures or function items (`f32::exp`,
//! `<T as Num>::add`), never `fn` pointers: a pointer turns the loop into an indirect call
//! per element.
//!
//! Contiguous operands take slice loops. Anything else is walked run by run (`Walk`): dims
//! that are contiguous with each other in every operand are merged first, and a run is a
//! stretch of the innermost dim with one fixed stride per operand, so the common strides get
//! their own loops (1: a contiguous row, 0: a broadcast value). A contiguous operand against
//! a contiguous row it repeats (`x + bias`) is zipped row by row instead, eight lanes at a
//! time. The output is written once, into uninitialised memory, in chunks spread over the
//! thread team above `PARALLEL_THRESHOLD` elements (one contiguous part per thread up to
//! 2^20 elements, see `team::chunk_len`; a chunk may start in the middle of a row); below
//! it, on the calling thread, compiled for AVX2 where the CPU has it.

use super::{team, PARALLEL_THRESHOLD};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{broadcast_shapes, checked_numel, Dims, Layout};
use crate::storage::{Buffer, Element};
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::mem::MaybeUninit;

/// Output elements per parallel task.
const CHUNK: usize = 1 << 13;

fn typed<T: Element>(t: &Tensor) -> Result<&[T]> {
    T::slice(t.buffer()).ok_or_else(|| {
        Error::Runtime(format!(
            "expected a tensor of dtype {}, got {}",
            T::DTYPE,
            t.dtype()
        ))
    })
}

/// The right-hand side of an in-place update (`assign`).
pub enum Rhs<'a, T> {
    Scalar(T),
    /// One element per element of the destination, in its order.
    Slice(&'a [T]),
}

/// `dst[i] = f(dst[i], rhs[i])` in place. `false` (and nothing written) unless `dst` is
/// contiguous and of dtype `T`, and a slice `rhs` has `dst`'s element count.
///
/// # Safety
/// No other reference into `dst`'s storage may be alive (a slice `rhs` must come from
/// another storage).
pub unsafe fn assign<T: Element>(
    dst: &Tensor,
    rhs: Rhs<'_, T>,
    f: impl Fn(T, T) -> T + Sync + Copy,
) -> bool {
    let l = dst.layout();
    let n = l.numel();
    if !l.is_contiguous() || matches!(rhs, Rhs::Slice(s) if s.len() != n) {
        return false;
    }
    // SAFETY: by the caller's contract.
    let Some(buf) = T::slice_mut(unsafe { dst.storage().buffer_mut() }) else {
        return false;
    };
    let Some(d) = buf.get_mut(l.offset..l.offset + n) else {
        return false;
    };
    let run = |start: usize, d: &mut [T]| match rhs {
        Rhs::Scalar(s) => d.iter_mut().for_each(|x| *x = f(*x, s)),
        Rhs::Slice(r) => {
            let r = &r[start..start + d.len()];
            d.iter_mut().zip(r).for_each(|(x, &y)| *x = f(*x, y))
        }
    };
    if n >= PARALLEL_THRESHOLD {
        let len = team::chunk_len(n, CHUNK);
        team::for_each_chunk_mut(d, len, |i, d| run(i * len, d));
    } else {
        run(0, d);
    }
    true
}

/// From this many elements on, a sequential loop runs in its AVX2 build (below, the CPU
/// check and call cost more than the wider vectors save: `a + b` of 2×2 is ~1% slower).
const VECTOR_MIN: usize = 32;

/// A new contiguous tensor of `shape` whose `n` elements are written by
/// `fill(start, chunk)`: `chunk` holds output elements `start..start + chunk.len()`, and
/// `fill` must write every one of them.
fn build<U: Element>(
    n: usize,
    shape: &[usize],
    fill: impl Fn(usize, &mut [MaybeUninit<U>]) + Sync,
) -> Result<Tensor> {
    let mut out: Vec<U> = crate::storage::alloc_vec(n)?;
    let spare = &mut out.spare_capacity_mut()[..n];
    if n >= PARALLEL_THRESHOLD {
        let len = team::chunk_len(n, CHUNK);
        team::for_each_chunk_mut(spare, len, |i, chunk| fill(i * len, chunk));
    } else if n >= VECTOR_MIN {
        super::vmath::vectorised(|| fill(0, spare));
    } else if n > 0 {
        fill(0, spare);
    }
    // SAFETY: the capacity is at least `n`, and `fill` wrote each of the first `n` elements
    // (every caller below writes its whole chunk; `U: Copy`, so nothing needs dropping).
    unsafe { out.set_len(n) };
    Tensor::from_vec(out, shape)
}

// ---- walking strided operands -----------------------------------------------------------

/// `K` operand layouts, all broadcast to one output shape, with mergeable dims merged and
/// size-1 dims dropped (at least one dim remains).
struct Walk<const K: usize> {
    shape: Dims,
    strides: [Dims; K],
    offsets: [usize; K],
}

impl<const K: usize> Walk<K> {
    fn new(shape: &[usize], layouts: [&Layout; K]) -> Walk<K> {
        // Built innermost dim first, then reversed.
        let mut dims: Dims = SmallVec::new();
        let mut strides: [Dims; K] = std::array::from_fn(|_| SmallVec::new());
        for d in (0..shape.len()).rev() {
            let n = shape[d];
            if n == 1 {
                continue;
            }
            if let Some(last) = dims.last_mut() {
                let i = strides[0].len() - 1;
                if (0..K).all(|k| layouts[k].strides[d] == strides[k][i] * *last) {
                    *last *= n;
                    continue;
                }
            }
            dims.push(n);
            for k in 0..K {
                strides[k].push(layouts[k].strides[d]);
            }
        }
        if dims.is_empty() {
            dims.push(1);
            for s in strides.iter_mut() {
                s.push(0);
            }
        }
        dims.reverse();
        for s in strides.iter_mut() {
            s.reverse();
        }
        Walk {
            shape: dims,
            strides,
            offsets: std::array::from_fn(|k| layouts[k].offset),
        }
    }

    /// The stride of each operand along a run.
    fn inner_strides(&self) -> [usize; K] {
        let last = self.shape.len() - 1;
        std::array::from_fn(|k| self.strides[k][last])
    }

    /// Calls `f(pos, bases, len)` for the runs that cover output elements
    /// `start..start + len`: `pos` is the run's position relative to `start`, `bases` the
    /// storage offset of its first element in each operand.
    #[inline]
    fn runs(&self, start: usize, len: usize, mut f: impl FnMut(usize, [usize; K], usize)) {
        let nd = self.shape.len();
        let inner = self.shape[nd - 1];
        let last = nd - 1;
        let (mut row, mut col) = (start / inner, start % inner);
        let mut index: Dims = SmallVec::from_elem(0, last);
        for d in (0..last).rev() {
            index[d] = row % self.shape[d];
            row /= self.shape[d];
        }
        let mut base: [usize; K] = std::array::from_fn(|k| {
            self.offsets[k]
                + (0..last)
                    .map(|d| index[d] * self.strides[k][d])
                    .sum::<usize>()
        });
        let (mut pos, mut remaining) = (0, len);
        while remaining > 0 {
            let n = (inner - col).min(remaining);
            f(
                pos,
                std::array::from_fn(|k| base[k] + col * self.strides[k][last]),
                n,
            );
            pos += n;
            remaining -= n;
            col = 0;
            // Advance the outer index (an odometer over dims 0..last).
            let mut d = last;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                index[d] += 1;
                for (b, s) in base.iter_mut().zip(&self.strides) {
                    *b += s[d];
                }
                if index[d] < self.shape[d] {
                    break;
                }
                for (b, s) in base.iter_mut().zip(&self.strides) {
                    *b -= s[d] * self.shape[d];
                }
                index[d] = 0;
            }
        }
    }
}

/// `out[i] = f(src[base + i * stride])`.
#[inline(always)]
fn map_run<T: Element, U: Element>(
    src: &[T],
    base: usize,
    stride: usize,
    out: &mut [MaybeUninit<U>],
    f: &impl Fn(T) -> U,
) {
    let n = out.len();
    match stride {
        1 => {
            for (o, &x) in out.iter_mut().zip(&src[base..base + n]) {
                o.write(f(x));
            }
        }
        0 => {
            let v = f(src[base]);
            for o in out {
                o.write(v);
            }
        }
        s => {
            for (i, o) in out.iter_mut().enumerate() {
                o.write(f(src[base + i * s]));
            }
        }
    }
}

/// `out[i] = f(a[oa + i * sa], b[ob + i * sb])`, with loops for contiguous and broadcast runs.
#[inline(always)]
fn zip_run<T: Element, U: Element>(
    (a, oa, sa): (&[T], usize, usize),
    (b, ob, sb): (&[T], usize, usize),
    out: &mut [MaybeUninit<U>],
    f: &impl Fn(T, T) -> U,
) {
    let n = out.len();
    match (sa, sb) {
        (1, 1) => {
            for ((o, &p), &q) in out.iter_mut().zip(&a[oa..oa + n]).zip(&b[ob..ob + n]) {
                o.write(f(p, q));
            }
        }
        (1, 0) => {
            let q = b[ob];
            for (o, &p) in out.iter_mut().zip(&a[oa..oa + n]) {
                o.write(f(p, q));
            }
        }
        (0, 1) => {
            let p = a[oa];
            for (o, &q) in out.iter_mut().zip(&b[ob..ob + n]) {
                o.write(f(p, q));
            }
        }
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                o.write(f(a[oa + i * sa], b[ob + i * sb]));
            }
        }
    }
}

/// `out[i] = f(a[i], b[i])` over short contiguous runs (the rows of a broadcast), eight
/// lanes at a time: a run of 16 is two vector operations, where a plain loop, whose vector
/// body wants 32 elements or more, would do 16 scalar ones.
#[inline(always)]
fn zip_short<T: Element, U: Element>(
    a: &[T],
    b: &[T],
    out: &mut [MaybeUninit<U>],
    f: &impl Fn(T, T) -> U,
) {
    const LANES: usize = 8;
    let n = out.len();
    let (a, b) = (&a[..n], &b[..n]);
    let mut oc = out.chunks_exact_mut(LANES);
    let (mut ac, mut bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for ((o, x), y) in (&mut oc).zip(&mut ac).zip(&mut bc) {
        for l in 0..LANES {
            o[l].write(f(x[l], y[l]));
        }
    }
    let rest = oc.into_remainder().iter_mut().zip(ac.remainder());
    for ((o, &x), &y) in rest.zip(bc.remainder()) {
        o.write(f(x, y));
    }
}

/// If one operand has the full shape and the other is a row that it repeats (its shape,
/// leading 1s dropped, is the full shape's trailing dims; a bias added to every row of a
/// batch), the row's length and whether the row is `b`.
fn repeated_row(shape: &[usize], a: &[usize], b: &[usize]) -> Option<(usize, bool)> {
    let row = |full: &[usize], r: &[usize]| {
        let r = &r[r.iter().take_while(|&&d| d == 1).count()..];
        (full == shape && r.len() < shape.len() && shape.ends_with(r))
            .then(|| r.iter().product::<usize>())
            .filter(|&w| w > 0)
    };
    row(a, b)
        .map(|w| (w, true))
        .or_else(|| row(b, a).map(|w| (w, false)))
}

// ---- kernels ----------------------------------------------------------------------------

/// `f` over every element of `t`, written in logical order into a new tensor of `shape`
/// (which has `t`'s element count).
fn map_to_shape<T: Element, U: Element>(
    t: &Tensor,
    shape: &[usize],
    f: impl Fn(T) -> U + Sync,
) -> Result<Tensor> {
    let n = t.numel();
    if let Some(src) = t.contiguous_slice::<T>() {
        return build(n, shape, |start, out| {
            map_run(src, start, 1, out, &f);
        });
    }
    let src = typed::<T>(t)?;
    let walk = Walk::new(t.shape(), [t.layout()]);
    let [s] = walk.inner_strides();
    build(n, shape, |start, out| {
        walk.runs(start, out.len(), |pos, [base], len| {
            map_run(src, base, s, &mut out[pos..pos + len], &f)
        })
    })
}

/// `out[i] = f(t[i])`. `t` must have dtype `T`.
pub fn unary<T: Element, U: Element>(t: &Tensor, f: impl Fn(T) -> U + Sync) -> Result<Tensor> {
    map_to_shape(t, t.shape(), f)
}

/// `out[i] = f(a[i], b[i])` with broadcasting. `a` and `b` must both have dtype `T`.
///
/// A one-element operand (a zero-dim tensor, the common `tensor op scalar` case) is read
/// once and the other operand is mapped, on either side.
pub fn binary<T: Element, U: Element>(
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(T, T) -> U + Sync,
) -> Result<Tensor> {
    // Two contiguous operands of one shape (the commonest case, and the one tiny-tensor
    // overhead matters most for) need no broadcasting.
    if a.shape() == b.shape() {
        if let (Some(x), Some(y)) = (a.contiguous_slice::<T>(), b.contiguous_slice::<T>()) {
            return build(x.len(), a.shape(), |start, out| {
                zip_run((x, start, 1), (y, start, 1), out, &f)
            });
        }
    }
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let n = checked_numel(&shape)?;
    let (xa, xb) = (typed::<T>(a)?, typed::<T>(b)?);
    if b.numel() == 1 {
        let q = xb[b.layout().offset];
        return map_to_shape(a, &shape, move |p| f(p, q));
    }
    if a.numel() == 1 {
        let p = xa[a.layout().offset];
        return map_to_shape(b, &shape, move |q| f(p, q));
    }
    if let (Some((w, b_is_row)), Some(x), Some(y)) = (
        repeated_row(&shape, a.shape(), b.shape()),
        a.contiguous_slice::<T>(),
        b.contiguous_slice::<T>(),
    ) {
        return build(n, &shape, |start, out| {
            let mut pos = 0;
            while pos < out.len() {
                let (i, col) = (start + pos, (start + pos) % w);
                let len = (w - col).min(out.len() - pos);
                let o = &mut out[pos..pos + len];
                if b_is_row {
                    zip_short(&x[i..], &y[col..], o, &f);
                } else {
                    zip_short(&x[col..], &y[i..], o, &f);
                }
                pos += len;
            }
        });
    }
    let (la, lb) = (
        a.layout().broadcast_to(&shape)?,
        b.layout().broadcast_to(&shape)?,
    );
    let walk = Walk::new(&shape, [&la, &lb]);
    let [sa, sb] = walk.inner_strides();
    build(n, &shape, |start, out| {
        walk.runs(start, out.len(), |pos, [oa, ob], len| {
            zip_run((xa, oa, sa), (xb, ob, sb), &mut out[pos..pos + len], &f)
        })
    })
}

/// `out[i] = f(a[i], b[i], c[i])` with broadcasting; each operand has its own element type.
pub fn ternary<A: Element, B: Element, C: Element, U: Element>(
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    f: impl Fn(A, B, C) -> U + Sync,
) -> Result<Tensor> {
    let shape = broadcast_shapes(&broadcast_shapes(a.shape(), b.shape())?, c.shape())?;
    let n = checked_numel(&shape)?;
    let (xa, xb, xc) = (typed::<A>(a)?, typed::<B>(b)?, typed::<C>(c)?);
    let layouts = [
        a.layout().broadcast_to(&shape)?,
        b.layout().broadcast_to(&shape)?,
        c.layout().broadcast_to(&shape)?,
    ];
    let walk = Walk::new(&shape, [&layouts[0], &layouts[1], &layouts[2]]);
    let [sa, sb, sc] = walk.inner_strides();
    build(n, &shape, |start, out| {
        walk.runs(start, out.len(), |pos, [oa, ob, oc], len| {
            let out = &mut out[pos..pos + len];
            // Contiguous runs, one of the last two operands possibly a broadcast constant
            // (`where(mask, g, 0)` in backward rules), take loops the compiler vectorises.
            if (sa, sb, sc) == (1, 1, 1) {
                let ys = xa[oa..oa + len].iter().zip(&xb[ob..ob + len]);
                for ((o, (&p, &q)), &r) in out.iter_mut().zip(ys).zip(&xc[oc..oc + len]) {
                    o.write(f(p, q, r));
                }
            } else if (sa, sb, sc) == (1, 1, 0) {
                let r = xc[oc];
                let ps = xa[oa..oa + len].iter().zip(out.iter_mut());
                for ((&p, o), &q) in ps.zip(&xb[ob..ob + len]) {
                    o.write(f(p, q, r));
                }
            } else if (sa, sb, sc) == (1, 0, 1) {
                let q = xb[ob];
                let ps = xa[oa..oa + len].iter().zip(out.iter_mut());
                for ((&p, o), &r) in ps.zip(&xc[oc..oc + len]) {
                    o.write(f(p, q, r));
                }
            } else {
                for (i, o) in out.iter_mut().enumerate() {
                    o.write(f(xa[oa + i * sa], xb[ob + i * sb], xc[oc + i * sc]));
                }
            }
        })
    })
}

/// A contiguous copy of `t` converted to `dtype` (`t` itself when nothing changes).
pub fn cast(t: &Tensor, dtype: DType) -> Result<Tensor> {
    let n = t.numel();
    let buf = match dtype {
        DType::Bool => Buffer::Bool(super::try_gather_cast::<bool>(t)?.into()),
        DType::I64 => Buffer::I64(super::try_gather_cast::<i64>(t)?.into()),
        DType::F32 => Buffer::F32(super::try_gather_cast::<f32>(t)?.into()),
        DType::F64 => Buffer::F64(super::try_gather_cast::<f64>(t)?.into()),
    };
    debug_assert_eq!(buf.len(), n);
    Tensor::from_buffer(buf, t.shape())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arange(n: usize, shape: &[usize]) -> Tensor {
        Tensor::from_vec((0..n).map(|i| i as f64).collect::<Vec<f64>>(), shape).unwrap()
    }

    /// The reference: element `i` of `t` read through its layout, one index at a time.
    fn naive(t: &Tensor) -> Vec<f64> {
        t.to_vec::<f64>()
    }

    #[test]
    fn binary_broadcasts_and_handles_strides() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        let b = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], &[3]).unwrap();
        let c = binary::<f32, f32>(&a, &b, |x, y| x + y).unwrap();
        assert_eq!(c.to_vec::<f32>(), vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        let at = a.alias_with_layout(a.layout().transpose(0, 1));
        let d = unary::<f32, f32>(&at, |x| x * 2.0).unwrap();
        assert_eq!(d.shape(), &[3, 2]);
        assert_eq!(d.to_vec::<f32>(), vec![2.0, 8.0, 4.0, 10.0, 6.0, 12.0]);
    }

    #[test]
    fn parallel_and_sequential_paths_agree() {
        for n in [PARALLEL_THRESHOLD - 1, PARALLEL_THRESHOLD + 7] {
            let v: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let a = Tensor::from_vec(v.clone(), &[n]).unwrap();
            let r = binary::<f64, f64>(&a, &a, |x, y| x * y)
                .unwrap()
                .to_vec::<f64>();
            assert!(r.iter().zip(&v).all(|(r, x)| *r == x * x));
            let u = unary::<f64, f64>(&a, |x| x + 1.0).unwrap().to_vec::<f64>();
            assert!(u.iter().zip(&v).all(|(u, x)| *u == x + 1.0));
        }
    }

    #[test]
    fn strided_walks_match_logical_order_in_parallel_chunks() {
        // Large enough to be split into chunks that start mid-row; rows of 37.
        let (r, c) = (2 * PARALLEL_THRESHOLD / 37 + 3, 37);
        let a = arange(r * c, &[r, c]);
        let at = a.alias_with_layout(a.layout().transpose(0, 1));
        let got = unary::<f64, f64>(&at, |x| x).unwrap().to_vec::<f64>();
        assert_eq!(got, naive(&at));
        // Broadcast a column against the transposed view, on both sides.
        let col = arange(c, &[c, 1]);
        let s = binary::<f64, f64>(&at, &col, |x, y| x - 2.0 * y).unwrap();
        let want: Vec<f64> = naive(&at)
            .iter()
            .enumerate()
            .map(|(i, x)| x - 2.0 * (i / r) as f64)
            .collect();
        assert_eq!(s.to_vec::<f64>(), want);
        let s = binary::<f64, f64>(&col, &at, |y, x| x - 2.0 * y).unwrap();
        assert_eq!(s.to_vec::<f64>(), want);
    }

    #[test]
    fn repeated_rows_on_either_side_and_across_chunks() {
        for (rows, shape_b) in [(3usize, vec![5usize]), (2, vec![1, 5]), (1, vec![5])] {
            let a = arange(rows * 5, &[rows, 5]);
            let b = Tensor::from_vec(vec![10.0, 20.0, 30.0, 40.0, 50.0], &shape_b).unwrap();
            let r = binary::<f64, f64>(&a, &b, |x, y| x - y).unwrap();
            let want: Vec<f64> = (0..rows * 5)
                .map(|i| i as f64 - 10.0 * (i % 5 + 1) as f64)
                .collect();
            assert_eq!(r.to_vec::<f64>(), want);
            let r = binary::<f64, f64>(&b, &a, |y, x| x - y).unwrap();
            assert_eq!(r.to_vec::<f64>(), want);
        }
        assert_eq!(repeated_row(&[3, 5], &[3, 5], &[5]), Some((5, true)));
        assert_eq!(repeated_row(&[3, 5], &[1, 5], &[3, 5]), Some((5, false)));
        assert_eq!(repeated_row(&[3, 5], &[3, 1], &[1, 5]), None);
        assert_eq!(repeated_row(&[3, 5], &[3, 5], &[3, 5]), None);
        assert_eq!(
            repeated_row(&[2, 3, 4], &[2, 3, 4], &[3, 4]),
            Some((12, true))
        );
        assert_eq!(repeated_row(&[0, 4], &[0, 4], &[4]), Some((4, true)));
        // Rows of 37 across parallel chunks of 8192 (chunks start mid-row); odd row lengths
        // leave a remainder after the eight-lane groups.
        let r = 2 * PARALLEL_THRESHOLD / 37 + 3;
        let a = arange(r * 37, &[r, 37]);
        let row = arange(37, &[37]);
        let s = binary::<f64, f64>(&a, &row, |x, y| x * 2.0 + y).unwrap();
        let want: Vec<f64> = (0..r * 37)
            .map(|i| 2.0 * i as f64 + (i % 37) as f64)
            .collect();
        assert_eq!(s.to_vec::<f64>(), want);
    }

    #[test]
    fn one_element_operands_on_either_side() {
        let a = arange(6, &[2, 3]);
        let s = Tensor::from_vec(vec![10.0f64], &[1, 1, 1]).unwrap();
        let r = binary::<f64, f64>(&a, &s, |x, y| x - y).unwrap();
        assert_eq!(r.shape(), &[1, 2, 3]);
        assert_eq!(r.to_vec::<f64>(), vec![-10.0, -9.0, -8.0, -7.0, -6.0, -5.0]);
        let r = binary::<f64, f64>(&s, &a, |x, y| x - y).unwrap();
        assert_eq!(r.to_vec::<f64>(), vec![10.0, 9.0, 8.0, 7.0, 6.0, 5.0]);
    }

    #[test]
    fn merged_dims_and_size_one_dims() {
        // (2, 1, 3) contiguous against (1, 4, 1): nothing merges; a (2, 3) against a (2, 3)
        // view with a size-1 dim in between merges into one run.
        let a = arange(6, &[2, 1, 3]);
        let b = arange(4, &[1, 4, 1]);
        let r = binary::<f64, f64>(&a, &b, |x, y| 10.0 * x + y).unwrap();
        assert_eq!(r.shape(), &[2, 4, 3]);
        let want: Vec<f64> = (0..24)
            .map(|i| {
                let (i0, i1, i2) = (i / 12, (i / 3) % 4, i % 3);
                10.0 * (i0 * 3 + i2) as f64 + i1 as f64
            })
            .collect();
        assert_eq!(r.to_vec::<f64>(), want);
    }

    #[test]
    fn ternary_broadcasts() {
        let c = Tensor::from_vec(vec![true, false, true], &[3]).unwrap();
        let x = arange(6, &[2, 3]);
        let y = Tensor::from_vec(vec![-1.0f64], &[]).unwrap();
        let r =
            ternary::<bool, f64, f64, f64>(&c, &x, &y, |c, x, y| if c { x } else { y }).unwrap();
        assert_eq!(r.to_vec::<f64>(), vec![0.0, -1.0, 2.0, 3.0, -1.0, 5.0]);
    }

    #[test]
    fn empty_and_zero_dim() {
        let e = Tensor::zeros(&[0, 3], DType::F64).unwrap();
        assert_eq!(unary::<f64, f64>(&e, |x| x).unwrap().shape(), &[0, 3]);
        let z = Tensor::from_vec(vec![2.0f64], &[]).unwrap();
        let r = binary::<f64, f64>(&z, &z, |x, y| x * y).unwrap();
        assert_eq!((r.shape(), r.to_vec::<f64>()), (&[][..], vec![4.0]));
    }

    #[test]
    fn mismatched_shapes_are_an_error() {
        let a = Tensor::zeros(&[2, 3], DType::F32).unwrap();
        let b = Tensor::zeros(&[2, 4], DType::F32).unwrap();
        assert!(binary::<f32, f32>(&a, &b, |x, y| x + y).is_err());
    }
}
