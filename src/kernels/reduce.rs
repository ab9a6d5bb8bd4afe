//! Reductions, scans and softmax over dimensions, for any strided layout.
//!
//! One engine (`reduce`) runs every reduction. The input is seen as *kept* dims × *reduced*
//! dims, each group with size-1 dims dropped and neighbours merged where their strides allow
//! (so a contiguous tensor reduced over its trailing dims is one run per output). A `Fold`
//! says how to start, take one element, take a contiguous run (sums use a multi-accumulator
//! kernel there), merge two partial results and finish. Three loop shapes cover the layouts:
//!
//! - inner: the innermost reduced dim has stride 1, so every output folds contiguous runs;
//! - outer: the innermost kept dim has stride 1 (`sum(0)` of a row-major matrix): a tile of
//!   outputs is accumulated side by side, row after row, which vectorises across the tile;
//! - strided: anything else, element by element.
//!
//! Above `PARALLEL_THRESHOLD` elements the work is split across the pool: over outputs when
//! there are enough of them, else over the outermost reduced dim, the partial results being
//! merged in a fixed order so that a result never depends on scheduling.

use super::vmath::vectorised;
use super::{num_threads, team, PARALLEL_THRESHOLD};
use crate::error::{Error, Result};
use crate::shape::{Dims, Layout};
use crate::storage::Element;
use crate::tensor::Tensor;
use num_traits::Float;
use smallvec::smallvec;
use std::ops::Range;

fn typed<T: Element>(t: &Tensor) -> Result<&[T]> {
    T::slice(t.buffer()).ok_or_else(|| {
        Error::Runtime(format!(
            "expected a tensor of dtype {}, got {}",
            T::DTYPE,
            t.dtype()
        ))
    })
}

/// `x` as f64 (`Element`'s conversion, not `num_traits`').
#[inline(always)]
fn wide<T: Element>(x: T) -> f64 {
    x.to_f64()
}

fn alloc<T: Clone>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        Error::Runtime(format!(
            "[enforce fail at alloc_cpu.cpp] . DefaultCPUAllocator: can't allocate memory: you tried to allocate {} bytes.",
            n.saturating_mul(std::mem::size_of::<T>())
        ))
    })?;
    v.resize(n, value);
    Ok(v)
}

// ---- folds --------------------------------------------------------------------------------

/// How a reduction accumulates. `i` is the element's row-major index within the reduced
/// dims (only meaningful, and only kept in logical order, when `ORDERED`); `o` the output's.
pub trait Fold<T: Element>: Sync {
    type Acc: Copy + Send + Sync;
    type Out: Copy + Send + Sync + Default;
    /// Arg reductions need the reduced dims walked in logical order.
    const ORDERED: bool = false;
    fn init(&self, o: usize) -> Self::Acc;
    fn step(&self, acc: Self::Acc, x: T, i: usize) -> Self::Acc;
    /// Folds a contiguous run whose first element has index `i0`.
    #[inline]
    fn run(&self, mut acc: Self::Acc, xs: &[T], i0: usize) -> Self::Acc {
        for (k, &x) in xs.iter().enumerate() {
            acc = self.step(acc, x, i0 + k);
        }
        acc
    }
    /// Folds rows of `acc.len()` side-by-side elements (the outer loop shape), one row at
    /// each of `offsets`, the first with index `i0`.
    #[inline]
    fn rows(&self, acc: &mut [Self::Acc], data: &[T], offsets: &[usize], i0: usize) {
        let w = acc.len();
        vectorised(|| {
            for (r, &off) in offsets.iter().enumerate() {
                for (a, &x) in acc.iter_mut().zip(&data[off..off + w]) {
                    *a = self.step(*a, x, i0 + r);
                }
            }
        })
    }
    /// Combines two partial results, `a` covering the elements before `b`'s.
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn finish(&self, acc: Self::Acc) -> Self::Out;
}

/// Accumulation of sums and products: floats in f64, integers and bools in wrapping i64.
pub trait Accumulate: Element {
    type Acc: Copy + Send + Sync + std::fmt::Debug;
    /// The result dtype's element type (bools and integers give int64).
    type Out: Element;
    const ZERO: Self::Acc;
    const ONE: Self::Acc;
    fn widen(self) -> Self::Acc;
    fn add(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn mul(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// The sum of a contiguous run (vectorised where it matters).
    fn sum_run(xs: &[Self]) -> Self::Acc;
    /// Adds rows of `acc.len()` elements, one at each of `offsets`, into `acc`.
    #[inline]
    fn add_rows(acc: &mut [Self::Acc], data: &[Self], offsets: &[usize]) {
        let w = acc.len();
        for &off in offsets {
            for (a, &x) in acc.iter_mut().zip(&data[off..off + w]) {
                *a = Self::add(*a, x.widen());
            }
        }
    }
    /// `acc / div` in the output type (`div` is 1 for sums, the count for means).
    fn out(acc: Self::Acc, div: f64) -> Self::Out;
}

/// Elements per block of a float sum: each of its lanes adds 16 (f32) or 32 (f64) values in
/// the input's type, then the lanes are added in f64 (accurate like pairwise summation, and
/// as fast as memory).
const SUM_BLOCK: usize = 512;

/// Folds `xs` into `L` independent lanes from `init` (lane `k` sees elements `k`, `k + L`,
/// ..., so the loop vectorises), and the remainder into one more value from `init`.
#[inline(always)]
fn lanes<T: Copy, A: Copy, const L: usize>(
    init: A,
    xs: &[T],
    f: impl Fn(A, T) -> A,
) -> ([A; L], A) {
    let mut acc = [init; L];
    let mut it = xs.chunks_exact(L);
    for c in &mut it {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = f(*a, x);
        }
    }
    let tail = it.remainder().iter().fold(init, |s, &x| f(s, x));
    (acc, tail)
}

/// Combines the lanes pairwise.
#[inline(always)]
fn pairwise<T: Copy, const L: usize>(mut acc: [T; L], add: impl Fn(T, T) -> T) -> T {
    let mut w = L / 2;
    while w > 0 {
        for k in 0..w {
            acc[k] = add(acc[k], acc[k + w]);
        }
        w /= 2;
    }
    acc[0]
}

/// The sum of `map(x)` over `xs`, blocked: 32 lanes of `T` per block, blocks in f64.
#[inline(always)]
fn block_sum<T: Element + Float>(xs: &[T], map: impl Fn(T) -> T) -> f64 {
    xs.chunks(SUM_BLOCK)
        .map(|b| {
            let (acc, tail) = lanes::<T, T, 32>(T::zero(), b, |a, x| a + map(x));
            pairwise(acc.map(wide), |a, x| a + x) + wide(tail)
        })
        .sum()
}

/// `exp(x)` written without branches or calls, so that loops of it vectorise (libm's `exp`
/// does not): `x = k ln 2 + r` with `|r| <= ln 2 / 2`, `exp(r)` by its Taylor polynomial to
/// degree 13 (truncation below 1e-17), scaled by `2^k` in two halves (so subnormal results
/// round once). Within 2 ulps of the exact value.
#[inline(always)]
pub fn exp64(x: f64) -> f64 {
    const MAGIC: f64 = 6755399441055744.0; // 1.5 * 2^52: adding it rounds to an integer
                                           // ln 2 split (fdlibm's): the high part has 21 trailing zero bits, so k * LN2_HI is exact.
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    const C: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362880.0,
        1.0 / 3628800.0,
        1.0 / 39916800.0,
        1.0 / 479001600.0,
        1.0 / 6227020800.0,
    ];
    let xc = x.clamp(-745.2, 709.8);
    let t = xc * std::f64::consts::LOG2_E + MAGIC;
    let k = t - MAGIC;
    let ki = (t.to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64);
    let r = (xc - k * LN2_HI) - k * LN2_LO;
    let mut p = C[13];
    for &c in C[..13].iter().rev() {
        p = p * r + c;
    }
    let (k1, k2) = (ki >> 1, ki - (ki >> 1));
    let s1 = f64::from_bits(((k1 + 1023) as u64) << 52);
    let s2 = f64::from_bits(((k2 + 1023) as u64) << 52);
    let y = p * s1 * s2;
    let y = if x > 709.782_712_893_384 {
        f64::INFINITY
    } else {
        y
    };
    let y = if x < -745.133_219_101_941_1 { 0.0 } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// The sum of `map(x)` over `xs`, computed in f64 in 16 lanes.
#[inline(always)]
pub fn sum_map<T: Element>(xs: &[T], map: impl Fn(f64) -> f64) -> f64 {
    vectorised(|| {
        let (acc, tail) = lanes::<T, f64, 16>(0.0, xs, |a, x| a + map(wide(x)));
        pairwise(acc, |a, b| a + b) + tail
    })
}

pub fn sum_f32(xs: &[f32]) -> f64 {
    vectorised(|| block_sum(xs, |x| x))
}

pub fn sum_f64(xs: &[f64]) -> f64 {
    vectorised(|| block_sum(xs, |x| x))
}

/// Adds up to `ROWS` rows in f32 (vectorised across the row), then into the f64 `acc`.
fn add_rows_f32(acc: &mut [f64], data: &[f32], offsets: &[usize]) {
    // Narrow rows get a small buffer: zeroing a whole tile's (32 KiB) cost more than summing
    // a (100, 16) bias grad.
    if acc.len() <= NARROW {
        add_rows_f32_in::<NARROW>(acc, data, offsets)
    } else {
        add_rows_f32_in::<TILE>(acc, data, offsets)
    }
}

const NARROW: usize = 64;

#[inline(always)]
fn add_rows_f32_in<const N: usize>(acc: &mut [f64], data: &[f32], offsets: &[usize]) {
    vectorised(|| {
        let w = acc.len().min(N);
        let mut part = [0f32; N];
        let part = &mut part[..w];
        for rows in offsets.chunks(ROWS) {
            part.fill(0.0);
            // Four rows at a time: one pass over `part` per four rows.
            let mut quads = rows.chunks_exact(4);
            for q in &mut quads {
                let (a, b) = (&data[q[0]..q[0] + w], &data[q[1]..q[1] + w]);
                let (c, d) = (&data[q[2]..q[2] + w], &data[q[3]..q[3] + w]);
                for j in 0..w {
                    part[j] += (a[j] + b[j]) + (c[j] + d[j]);
                }
            }
            for &off in quads.remainder() {
                for (p, &x) in part.iter_mut().zip(&data[off..off + w]) {
                    *p += x;
                }
            }
            for (a, &p) in acc.iter_mut().zip(part.iter()) {
                *a += p as f64;
            }
        }
    })
}

impl Accumulate for f32 {
    type Acc = f64;
    type Out = f32;
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    #[inline(always)]
    fn widen(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn add(a: f64, b: f64) -> f64 {
        a + b
    }
    #[inline(always)]
    fn mul(a: f64, b: f64) -> f64 {
        a * b
    }
    fn sum_run(xs: &[f32]) -> f64 {
        sum_f32(xs)
    }
    fn add_rows(acc: &mut [f64], data: &[f32], offsets: &[usize]) {
        add_rows_f32(acc, data, offsets)
    }
    #[inline]
    fn out(acc: f64, div: f64) -> f32 {
        (acc / div) as f32
    }
}

impl Accumulate for f64 {
    type Acc = f64;
    type Out = f64;
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    #[inline(always)]
    fn widen(self) -> f64 {
        self
    }
    #[inline(always)]
    fn add(a: f64, b: f64) -> f64 {
        a + b
    }
    #[inline(always)]
    fn mul(a: f64, b: f64) -> f64 {
        a * b
    }
    fn sum_run(xs: &[f64]) -> f64 {
        sum_f64(xs)
    }
    #[inline]
    fn out(acc: f64, div: f64) -> f64 {
        acc / div
    }
}

impl Accumulate for i64 {
    type Acc = i64;
    type Out = i64;
    const ZERO: i64 = 0;
    const ONE: i64 = 1;
    #[inline(always)]
    fn widen(self) -> i64 {
        self
    }
    #[inline(always)]
    fn add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn mul(a: i64, b: i64) -> i64 {
        a.wrapping_mul(b)
    }
    fn sum_run(xs: &[i64]) -> i64 {
        let (acc, tail) = lanes::<i64, i64, 16>(0, xs, i64::wrapping_add);
        pairwise(acc, i64::wrapping_add).wrapping_add(tail)
    }
    #[inline]
    fn out(acc: i64, _div: f64) -> i64 {
        acc
    }
}

impl Accumulate for bool {
    type Acc = i64;
    type Out = i64;
    const ZERO: i64 = 0;
    const ONE: i64 = 1;
    #[inline(always)]
    fn widen(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn mul(a: i64, b: i64) -> i64 {
        a & b
    }
    fn sum_run(xs: &[bool]) -> i64 {
        xs.iter().map(|&b| b as i64).sum()
    }
    #[inline]
    fn out(acc: i64, _div: f64) -> i64 {
        acc
    }
}

/// `sum` (`div` 1) and `mean` (`div` the number of reduced elements).
pub struct Sum {
    pub div: f64,
}

impl<T: Accumulate> Fold<T> for Sum {
    type Acc = T::Acc;
    type Out = T::Out;
    #[inline(always)]
    fn init(&self, _: usize) -> T::Acc {
        T::ZERO
    }
    #[inline(always)]
    fn step(&self, acc: T::Acc, x: T, _: usize) -> T::Acc {
        T::add(acc, x.widen())
    }
    #[inline]
    fn run(&self, acc: T::Acc, xs: &[T], _: usize) -> T::Acc {
        T::add(acc, T::sum_run(xs))
    }
    #[inline]
    fn rows(&self, acc: &mut [T::Acc], data: &[T], offsets: &[usize], _: usize) {
        T::add_rows(acc, data, offsets)
    }
    #[inline(always)]
    fn merge(&self, a: T::Acc, b: T::Acc) -> T::Acc {
        T::add(a, b)
    }
    #[inline]
    fn finish(&self, acc: T::Acc) -> T::Out {
        T::out(acc, self.div)
    }
}

pub struct Prod;

impl<T: Accumulate> Fold<T> for Prod {
    type Acc = T::Acc;
    type Out = T::Out;
    #[inline(always)]
    fn init(&self, _: usize) -> T::Acc {
        T::ONE
    }
    #[inline(always)]
    fn step(&self, acc: T::Acc, x: T, _: usize) -> T::Acc {
        T::mul(acc, x.widen())
    }
    #[inline(always)]
    fn merge(&self, a: T::Acc, b: T::Acc) -> T::Acc {
        T::mul(a, b)
    }
    #[inline]
    fn finish(&self, acc: T::Acc) -> T::Out {
        T::out(acc, 1.0)
    }
}

/// Element types with an order, a lowest and a highest value, and NaN.
pub trait Ordered: Element {
    const LOWEST: Self;
    const HIGHEST: Self;
    /// (Only floats differ from themselves.)
    #[allow(clippy::eq_op)]
    #[inline(always)]
    fn is_nan(self) -> bool {
        self != self
    }
}

macro_rules! ordered {
    ($t:ty, $lo:expr, $hi:expr) => {
        impl Ordered for $t {
            const LOWEST: $t = $lo;
            const HIGHEST: $t = $hi;
        }
    };
}
ordered!(f32, f32::NEG_INFINITY, f32::INFINITY);
ordered!(f64, f64::NEG_INFINITY, f64::INFINITY);
ordered!(i64, i64::MIN, i64::MAX);
ordered!(bool, false, true);

/// Whether `x` replaces `best` in a max (`MIN == false`) or min: NaN wins and stays.
/// (Written without short-circuits, so that loops of it vectorise as selects.)
#[inline(always)]
fn beats<T: Ordered, const MIN: bool>(x: T, best: T) -> bool {
    let better = if MIN { x < best } else { x > best };
    !best.is_nan() & (x.is_nan() | better)
}

/// `amax` / `amin` (and `max()` / `min()`): NaN propagates.
pub struct Extreme<const MIN: bool>;

impl<T: Ordered, const MIN: bool> Fold<T> for Extreme<MIN> {
    type Acc = T;
    type Out = T;
    #[inline(always)]
    fn init(&self, _: usize) -> T {
        if MIN {
            T::HIGHEST
        } else {
            T::LOWEST
        }
    }
    #[inline(always)]
    fn step(&self, acc: T, x: T, _: usize) -> T {
        if beats::<T, MIN>(x, acc) {
            x
        } else {
            acc
        }
    }
    #[inline]
    fn run(&self, acc: T, xs: &[T], _: usize) -> T {
        let step = |a, x| <Self as Fold<T>>::step(self, a, x, 0);
        vectorised(|| {
            let (lanes, tail) = lanes::<T, T, 16>(acc, xs, step);
            lanes.into_iter().fold(tail, step)
        })
    }
    #[inline(always)]
    fn merge(&self, a: T, b: T) -> T {
        <Self as Fold<T>>::step(self, a, b, 0)
    }
    #[inline]
    fn finish(&self, acc: T) -> T {
        acc
    }
}

/// `max(dim)` / `argmax`: the value and the index of its first occurrence (a NaN counts as
/// the largest, and the first NaN wins).
pub struct ArgExtreme<const MIN: bool>;

impl<T: Ordered, const MIN: bool> Fold<T> for ArgExtreme<MIN> {
    type Acc = (T, usize);
    type Out = (T, i64);
    const ORDERED: bool = true;
    #[inline(always)]
    fn init(&self, _: usize) -> (T, usize) {
        (T::default(), usize::MAX)
    }
    #[inline(always)]
    fn step(&self, acc: (T, usize), x: T, i: usize) -> (T, usize) {
        if acc.1 == usize::MAX || beats::<T, MIN>(x, acc.0) {
            (x, i)
        } else {
            acc
        }
    }
    /// Lanes of (best value, its index): each lane keeps its first best, and the lanes are
    /// combined preferring the smaller index among equals.
    fn run(&self, acc: (T, usize), xs: &[T], i0: usize) -> (T, usize) {
        const L: usize = 8;
        if xs.len() < 2 * L {
            return xs.iter().enumerate().fold(acc, |a, (k, &x)| {
                <Self as Fold<T>>::step(self, a, x, i0 + k)
            });
        }
        vectorised(|| {
            let mut best = [xs[0]; L];
            let mut at = [0usize; L];
            let mut it = xs.chunks_exact(L);
            for (c, chunk) in (&mut it).enumerate() {
                for k in 0..L {
                    if beats::<T, MIN>(chunk[k], best[k]) {
                        best[k] = chunk[k];
                        at[k] = c * L + k;
                    }
                }
            }
            // Every lane starts from xs[0] (index 0): a real candidate that no later tie
            // displaces, so each lane holds the first best of xs[0] and its own elements.
            let mut r = (best[0], at[0]);
            for k in 1..L {
                let (v, i) = (best[k], at[k]);
                let tie = v == r.0 || (v.is_nan() && r.0.is_nan());
                if beats::<T, MIN>(v, r.0) || (tie && i < r.1) {
                    r = (v, i);
                }
            }
            let start = xs.len() - it.remainder().len();
            let mut r = (r.0, i0 + r.1);
            for (k, &x) in it.remainder().iter().enumerate() {
                if beats::<T, MIN>(x, r.0) {
                    r = (x, i0 + start + k);
                }
            }
            <Self as Fold<T>>::merge(self, acc, r)
        })
    }
    #[inline]
    fn merge(&self, a: (T, usize), b: (T, usize)) -> (T, usize) {
        if b.1 != usize::MAX && (a.1 == usize::MAX || beats::<T, MIN>(b.0, a.0)) {
            b
        } else {
            a
        }
    }
    #[inline]
    fn finish(&self, acc: (T, usize)) -> (T, i64) {
        (acc.0, acc.1 as i64)
    }
}

/// `all` (`ANY == false`) / `any`.
pub struct Truth<const ANY: bool>;

impl<T: Element, const ANY: bool> Fold<T> for Truth<ANY> {
    type Acc = bool;
    type Out = bool;
    #[inline(always)]
    fn init(&self, _: usize) -> bool {
        !ANY
    }
    #[inline(always)]
    fn step(&self, acc: bool, x: T, _: usize) -> bool {
        if ANY {
            acc | x.to_bool()
        } else {
            acc & x.to_bool()
        }
    }
    #[inline(always)]
    fn merge(&self, a: bool, b: bool) -> bool {
        if ANY {
            a | b
        } else {
            a & b
        }
    }
    #[inline]
    fn finish(&self, acc: bool) -> bool {
        acc
    }
}

/// The vector norm of order `p` over finite or infinite `p` (with `0`: the count of
/// non-zeros), accumulated in f64.
pub struct Norm {
    pub p: f64,
}

impl<T: Element + Float> Fold<T> for Norm {
    type Acc = f64;
    type Out = T;
    #[inline(always)]
    fn init(&self, _: usize) -> f64 {
        if self.p == f64::INFINITY {
            0.0
        } else if self.p == f64::NEG_INFINITY {
            f64::INFINITY
        } else {
            0.0
        }
    }
    #[inline(always)]
    fn step(&self, acc: f64, x: T, _: usize) -> f64 {
        let a = wide(x).abs();
        let p = self.p;
        if p == 2.0 {
            acc + a * a
        } else if p == 1.0 {
            acc + a
        } else if p == 0.0 {
            acc + (a != 0.0) as u8 as f64
        } else if p == f64::INFINITY {
            if beats::<f64, false>(a, acc) {
                a
            } else {
                acc
            }
        } else if p == f64::NEG_INFINITY {
            if beats::<f64, true>(a, acc) {
                a
            } else {
                acc
            }
        } else {
            acc + a.powf(p)
        }
    }
    fn run(&self, acc: f64, xs: &[T], _: usize) -> f64 {
        let p = self.p;
        if p == 2.0 {
            acc + sum_map(xs, |v| v * v)
        } else if p == 1.0 {
            acc + sum_map(xs, f64::abs)
        } else if p.is_infinite() {
            let min = p < 0.0;
            let pick = |a: T, x: T| {
                let x = x.abs();
                let better = if min { x < a } else { x > a };
                if !a.is_nan() & (x.is_nan() | better) {
                    x
                } else {
                    a
                }
            };
            let start = if min { T::infinity() } else { T::zero() };
            let best = vectorised(|| {
                let (lanes, tail) = lanes::<T, T, 16>(start, xs, pick);
                lanes.into_iter().fold(tail, pick)
            });
            <Self as Fold<f64>>::merge(self, acc, wide(best))
        } else {
            xs.iter()
                .fold(acc, |a, &x| <Self as Fold<T>>::step(self, a, x, 0))
        }
    }
    #[inline]
    fn merge(&self, a: f64, b: f64) -> f64 {
        if self.p.is_infinite() {
            <Self as Fold<f64>>::step(self, a, b, 0)
        } else {
            a + b
        }
    }
    #[inline]
    fn finish(&self, acc: f64) -> T {
        let p = self.p;
        T::from_f64(if p == 2.0 {
            acc.sqrt()
        } else if p == 1.0 || p == 0.0 || p.is_infinite() {
            acc
        } else {
            acc.powf(1.0 / p)
        })
    }
}

/// The second pass of `var`/`std`: squared deviations from each output's mean.
pub struct SquaredDeviation<'a> {
    pub means: &'a [f64],
    /// `n - correction`, clamped at 0 (as PyTorch: a non-positive count gives inf or NaN).
    pub divisor: f64,
    pub sqrt: bool,
}

impl<T: Element + Float> Fold<T> for SquaredDeviation<'_> {
    type Acc = (f64, f64);
    type Out = T;
    #[inline(always)]
    fn init(&self, o: usize) -> (f64, f64) {
        (self.means[o], 0.0)
    }
    #[inline(always)]
    fn step(&self, acc: (f64, f64), x: T, _: usize) -> (f64, f64) {
        let d = wide(x) - acc.0;
        (acc.0, acc.1 + d * d)
    }
    fn run(&self, (m, s): (f64, f64), xs: &[T], _: usize) -> (f64, f64) {
        (m, s + sum_map(xs, |v| (v - m) * (v - m)))
    }
    #[inline(always)]
    fn merge(&self, a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
        (a.0, a.1 + b.1)
    }
    #[inline]
    fn finish(&self, acc: (f64, f64)) -> T {
        let v = acc.1 / self.divisor;
        T::from_f64(if self.sqrt { v.sqrt() } else { v })
    }
}

/// The second pass of `logsumexp`: `m + ln(sum(exp(x - m)))` with each output's max `m`
/// (an infinite max is shifted by 0, as PyTorch, so that all -inf gives -inf).
pub struct LogSumExp<'a> {
    pub maxes: &'a [f64],
}

impl<T: Element + Float> Fold<T> for LogSumExp<'_> {
    type Acc = (f64, f64);
    type Out = T;
    #[inline(always)]
    fn init(&self, o: usize) -> (f64, f64) {
        let m = self.maxes[o];
        (if m.is_infinite() { 0.0 } else { m }, 0.0)
    }
    #[inline(always)]
    fn step(&self, acc: (f64, f64), x: T, _: usize) -> (f64, f64) {
        (acc.0, acc.1 + exp64(wide(x) - acc.0))
    }
    fn run(&self, (m, s): (f64, f64), xs: &[T], _: usize) -> (f64, f64) {
        (m, s + sum_map(xs, |v| exp64(v - m)))
    }
    #[inline(always)]
    fn merge(&self, a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
        (a.0, a.1 + b.1)
    }
    #[inline]
    fn finish(&self, acc: (f64, f64)) -> T {
        T::from_f64(acc.0 + acc.1.ln())
    }
}

// ---- the engine ---------------------------------------------------------------------------

/// Drops size-1 dims and merges neighbours that form one strided run.
fn coalesce(dims: impl Iterator<Item = (usize, usize)>) -> (Dims, Dims) {
    let (mut shape, mut strides) = (Dims::new(), Dims::new());
    for (n, s) in dims {
        if n == 1 {
            continue;
        }
        if let (Some(ln), Some(ls)) = (shape.last_mut(), strides.last_mut()) {
            if *ls == s * n {
                *ln *= n;
                *ls = s;
                continue;
            }
        }
        shape.push(n);
        strides.push(s);
    }
    (shape, strides)
}

/// Calls `f(offset)` for `count` indices of (`shape`, `strides`) from row-major index
/// `start`, in order.
#[inline]
fn walk(
    shape: &[usize],
    strides: &[usize],
    base: usize,
    start: usize,
    count: usize,
    mut f: impl FnMut(usize),
) {
    let nd = shape.len();
    if count == 0 {
        return;
    }
    if nd == 0 {
        f(base);
        return;
    }
    let mut idx: Dims = smallvec![0; nd];
    let (mut rem, mut off) = (start, base);
    for d in (0..nd).rev() {
        idx[d] = rem % shape[d];
        rem /= shape[d];
        off += idx[d] * strides[d];
    }
    let (n_in, s_in) = (shape[nd - 1], strides[nd - 1]);
    let mut left = count;
    loop {
        let k0 = idx[nd - 1];
        let take = (n_in - k0).min(left);
        let mut o = off;
        for _ in 0..take {
            f(o);
            o += s_in;
        }
        left -= take;
        if left == 0 {
            return;
        }
        off -= k0 * s_in;
        idx[nd - 1] = 0;
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            off += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d];
            idx[d] = 0;
        }
    }
}

/// A reduction's geometry: kept dims (logical order) and reduced dims, coalesced.
struct Plan {
    kept: (Dims, Dims),
    red: (Dims, Dims),
    offset: usize,
    n_out: usize,
    n_red: usize,
}

impl Plan {
    fn new(l: &Layout, dims: &[usize], ordered: bool) -> Plan {
        let pair = |d: usize| (l.shape[d], l.strides[d]);
        let kept = coalesce((0..l.ndim()).filter(|d| !dims.contains(d)).map(pair));
        let mut red: Vec<(usize, usize)> = dims.iter().map(|&d| pair(d)).collect();
        if !ordered {
            // Any order gives the same result: walk broadcast (stride-0) dims outermost, then
            // the largest strides, so that the innermost dim is the densest.
            red.sort_by_key(|&(_, s)| std::cmp::Reverse(if s == 0 { usize::MAX } else { s }));
        }
        let red = coalesce(red.into_iter());
        Plan {
            n_out: kept.0.iter().product(),
            n_red: red.0.iter().product(),
            kept,
            red,
            offset: l.offset,
        }
    }

    /// Row-major elements of the reduced dims per index of the outermost one.
    fn per_outer_red(&self) -> usize {
        self.red.0[1..].iter().product()
    }

    fn inner_is_run(&self) -> bool {
        self.red.1.last() == Some(&1)
    }

    /// Folds the reduced elements of the output at `base`, the outermost reduced dim
    /// restricted to `r0`.
    fn fold_one<T: Element, F: Fold<T>>(
        &self,
        fold: &F,
        data: &[T],
        base: usize,
        o: usize,
        r0: Range<usize>,
    ) -> F::Acc {
        let (rs, rst) = (&self.red.0, &self.red.1);
        let nd = rs.len();
        let mut acc = fold.init(o);
        if nd == 0 {
            return fold.step(acc, data[base], 0);
        }
        if nd == 1 {
            if rst[0] == 1 {
                return fold.run(acc, &data[base + r0.start..base + r0.end], r0.start);
            }
            for k in r0 {
                acc = fold.step(acc, data[base + k * rst[0]], k);
            }
            return acc;
        }
        let per0 = self.per_outer_red();
        let mut i = r0.start * per0;
        let run = self.inner_is_run();
        for k0 in r0 {
            let b0 = base + k0 * rst[0];
            if run {
                let l = rs[nd - 1];
                let (s, st) = (&rs[1..nd - 1], &rst[1..nd - 1]);
                walk(s, st, b0, 0, per0 / l, |off| {
                    acc = fold.run(acc, &data[off..off + l], i);
                    i += l;
                });
            } else {
                walk(&rs[1..], &rst[1..], b0, 0, per0, |off| {
                    acc = fold.step(acc, data[off], i);
                    i += 1;
                });
            }
        }
        acc
    }

    /// Folds `width` side-by-side outputs starting at `base` (kept inner stride 1), the
    /// outermost reduced dim restricted to `r0`.
    fn fold_tile<T: Element, F: Fold<T>>(
        &self,
        fold: &F,
        data: &[T],
        base: usize,
        o: usize,
        width: usize,
        r0: Range<usize>,
    ) -> Vec<F::Acc> {
        let (rs, rst) = (&self.red.0, &self.red.1);
        let mut acc: Vec<F::Acc> = (o..o + width).map(|o| fold.init(o)).collect();
        let per0 = self.per_outer_red();
        let mut i = r0.start * per0;
        let mut offsets: Vec<usize> = Vec::with_capacity(ROWS);
        for k0 in r0 {
            walk(&rs[1..], &rst[1..], base + k0 * rst[0], 0, per0, |off| {
                offsets.push(off);
                if offsets.len() == ROWS {
                    fold.rows(&mut acc, data, &offsets, i);
                    i += ROWS;
                    offsets.clear();
                }
            });
        }
        fold.rows(&mut acc, data, &offsets, i);
        acc
    }
}

/// Splits `0..n` into at most `parts` ranges of nearly equal length, aligned to `align`.
fn split(n: usize, parts: usize, align: usize) -> Vec<Range<usize>> {
    let step = n.div_ceil(parts.max(1)).div_ceil(align) * align;
    (0..n)
        .step_by(step.max(1))
        .map(|a| a..(a + step).min(n))
        .collect()
}

/// Column tile of the outer loop shape: long enough for the prefetchers to stream each row,
/// short enough for its float32 partial sums to stay in L1 and its accumulators in L2.
const TILE: usize = 8192;
/// Rows the outer loop shape hands a fold at once (float32 sums add them in f32).
const ROWS: usize = 16;

/// Reduces `t` (elements of type `T`) over the sorted, distinct `dims`; the outputs come in
/// row-major order of the kept dims (the keepdim shape).
pub fn reduce<T: Element, F: Fold<T>>(t: &Tensor, dims: &[usize], fold: &F) -> Result<Vec<F::Out>> {
    let data = typed::<T>(t)?;
    let p = Plan::new(t.layout(), dims, F::ORDERED);
    let mut out = alloc(p.n_out, F::Out::default())?;
    if p.n_out == 0 {
        return Ok(out);
    }
    if p.n_red == 0 {
        for (o, v) in out.iter_mut().enumerate() {
            *v = fold.finish(fold.init(o));
        }
        return Ok(out);
    }
    let threads = num_threads();
    let parallel = threads > 1 && p.n_out * p.n_red >= PARALLEL_THRESHOLD;
    let (ks, kst) = (&p.kept.0, &p.kept.1);
    let red0 = p.red.0.first().copied().unwrap_or(1);
    // Partial results over slices of the outermost reduced dim, merged in order.
    let merged = |parts: Vec<F::Acc>| parts.into_iter().reduce(|a, b| fold.merge(a, b));
    let align = if p.red.0.len() == 1 && p.inner_is_run() {
        SUM_BLOCK
    } else {
        1
    };

    let outer_shape = kst.last() == Some(&1) && !p.inner_is_run() && !p.red.0.is_empty();
    if outer_shape {
        let width = ks[ks.len() - 1];
        let (kos, kost) = (&ks[..ks.len() - 1], &kst[..kst.len() - 1]);
        let tiles = width.div_ceil(TILE);
        let units = (p.n_out / width) * tiles;
        let unit = |u: usize, dst: &mut [F::Out]| {
            let (ko, tile) = (u / tiles, u % tiles);
            let j0 = tile * TILE;
            let w = dst.len();
            let mut base = 0;
            walk(kos, kost, p.offset, ko, 1, |b| base = b);
            let o = ko * width + j0;
            let acc = if parallel && units < 2 * threads && red0 >= 2 * threads {
                let ranges = split(red0, 4 * threads, 1);
                let parts: Vec<Vec<F::Acc>> = team::map(ranges.len(), |i| {
                    p.fold_tile(fold, data, base + j0, o, w, ranges[i].clone())
                });
                let mut it = parts.into_iter();
                let mut acc = it.next().unwrap_or_default();
                for part in it {
                    for (a, b) in acc.iter_mut().zip(part) {
                        *a = fold.merge(*a, b);
                    }
                }
                acc
            } else {
                p.fold_tile(fold, data, base + j0, o, w, 0..red0)
            };
            for (d, a) in dst.iter_mut().zip(acc) {
                *d = fold.finish(a);
            }
        };
        // Each unit's outputs are one row tile of `out`.
        let mut chunks: Vec<(usize, &mut [F::Out])> = Vec::with_capacity(units);
        for (r, row) in out.chunks_mut(width).enumerate() {
            for (tile, c) in row.chunks_mut(TILE).enumerate() {
                chunks.push((r * tiles + tile, c));
            }
        }
        if parallel && units >= 2 * threads {
            team::for_each_item(chunks, |(u, c)| unit(u, c));
        } else {
            for (u, c) in chunks {
                unit(u, c);
            }
        }
        return Ok(out);
    }

    if parallel && p.n_out < 2 * threads {
        // Few outputs, long reductions: split each reduction.
        for (o, v) in out.iter_mut().enumerate() {
            let mut base = 0;
            walk(ks, kst, p.offset, o, 1, |b| base = b);
            let ranges = split(red0, 4 * threads, align);
            let parts: Vec<F::Acc> = team::map(ranges.len(), |i| {
                p.fold_one(fold, data, base, o, ranges[i].clone())
            });
            *v = fold.finish(merged(parts).unwrap_or_else(|| fold.init(o)));
        }
        return Ok(out);
    }
    let chunk = |o0: usize, dst: &mut [F::Out]| {
        let mut j = 0;
        walk(ks, kst, p.offset, o0, dst.len(), |base| {
            dst[j] = fold.finish(p.fold_one(fold, data, base, o0 + j, 0..red0));
            j += 1;
        });
    };
    if parallel {
        let size = p.n_out.div_ceil(4 * threads);
        team::for_each_chunk_mut(&mut out, size, |c, dst| chunk(c * size, dst));
    } else {
        chunk(0, &mut out);
    }
    Ok(out)
}

/// `reduce` into a tensor of the keepdim shape.
pub fn reduce_tensor<T: Element, F: Fold<T>>(t: &Tensor, dims: &[usize], fold: &F) -> Result<Tensor>
where
    F::Out: Element,
{
    let values = reduce(t, dims, fold)?;
    Tensor::from_vec(values, &keep_shape(t.shape(), dims))
}

/// The shape after reducing `dims` with keepdim.
pub fn keep_shape(shape: &[usize], dims: &[usize]) -> Dims {
    shape
        .iter()
        .enumerate()
        .map(|(i, &n)| if dims.contains(&i) { 1 } else { n })
        .collect()
}

/// Sums `t` over the sorted, distinct `dims`, keeping them as size-1 dims. `T` is `t`'s
/// element type; the result has `T::Out`'s.
pub fn sum_dims<T: Accumulate>(t: &Tensor, dims: &[usize]) -> Result<Tensor> {
    reduce_tensor::<T, _>(t, dims, &Sum { div: 1.0 })
}

// ---- scans and softmax --------------------------------------------------------------------

/// `t` viewed as `[outer, n, inner]` around `dim`, with its contiguous elements.
fn around<T: Element>(t: &Tensor, dim: usize) -> Result<(&[T], usize, usize, usize)> {
    let s = t
        .contiguous_slice::<T>()
        .ok_or_else(|| Error::Runtime("expected a contiguous tensor".into()))?;
    let shape = t.shape();
    let (n, inner) = match shape.get(dim) {
        Some(&n) => (n, shape[dim + 1..].iter().product()),
        None => (1, 1),
    };
    let outer = shape[..dim.min(shape.len())].iter().product();
    Ok((s, outer, n, inner))
}

/// Runs `f(src, dst)` over groups of whole `[n, inner]` blocks (in parallel when large);
/// `f` gets several blocks at a time, so its scratch space is allocated once per group.
fn blocks<T: Element, U: Element>(
    src: &[T],
    dst: &mut [U],
    block: usize,
    f: impl Fn(&[T], &mut [U]) + Sync,
) {
    if block == 0 || src.is_empty() {
        return;
    }
    let n_blocks = src.len() / block;
    let threads = num_threads();
    if src.len() >= PARALLEL_THRESHOLD && n_blocks > 1 && threads > 1 {
        let group = n_blocks.div_ceil(4 * threads) * block;
        team::for_each_chunk_mut(dst, group, |c, d| {
            let at = |i: usize| i.min(src.len());
            f(&src[at(c * group)..at((c + 1) * group)], d)
        });
    } else {
        f(src, dst);
    }
}

/// Cumulative sum (`PROD == false`) or product along `dim` of a contiguous `t`, from the end
/// when `reverse`; accumulated as `Accumulate` says (floats in f64, as PyTorch on CPU).
pub fn scan<T: Accumulate, const PROD: bool>(
    t: &Tensor,
    dim: usize,
    reverse: bool,
) -> Result<Tensor> {
    let (src, _, n, inner) = around::<T>(t, dim)?;
    let mut out = alloc(src.len(), T::Out::default())?;
    let op = |a: T::Acc, x: T| {
        if PROD {
            T::mul(a, x.widen())
        } else {
            T::add(a, x.widen())
        }
    };
    let start = if PROD { T::ONE } else { T::ZERO };
    let block = n * inner;
    blocks(src, &mut out, block, |s, d| {
        if inner == 1 {
            // Lines along the last dim: contiguous.
            for (s, d) in s.chunks_exact(n).zip(d.chunks_exact_mut(n)) {
                let mut a = start;
                let mut f = |(y, &x): (&mut T::Out, &T)| {
                    a = op(a, x);
                    *y = T::out(a, 1.0);
                };
                if reverse {
                    d.iter_mut().zip(s).rev().for_each(&mut f);
                } else {
                    d.iter_mut().zip(s).for_each(&mut f);
                }
            }
            return;
        }
        let mut acc = vec![start; inner];
        for (s, d) in s.chunks_exact(block).zip(d.chunks_exact_mut(block)) {
            acc.fill(start);
            for r in 0..n {
                let k = if reverse { n - 1 - r } else { r };
                let row = k * inner..(k + 1) * inner;
                for ((a, &x), y) in acc.iter_mut().zip(&s[row.clone()]).zip(&mut d[row]) {
                    *a = op(*a, x);
                    *y = T::out(*a, 1.0);
                }
            }
        }
    });
    Tensor::from_vec(out, t.shape())
}

/// `softmax` (or `log_softmax` when `log`) along `dim` of a contiguous float tensor, shifted
/// by each line's max; the exponentials are summed in f64.
pub fn softmax<T: Element + Float>(t: &Tensor, dim: usize, log: bool) -> Result<Tensor> {
    let (src, _, n, inner) = around::<T>(t, dim)?;
    let mut out = alloc(src.len(), T::default())?;
    let block = n * inner;
    let pick = |m: T, x: T| {
        if !m.is_nan() & (x.is_nan() | (x > m)) {
            x
        } else {
            m
        }
    };
    blocks(src, &mut out, block, |s, d| {
        if inner == 1 {
            // Lines along the last dim: contiguous.
            for (s, d) in s.chunks_exact(n).zip(d.chunks_exact_mut(n)) {
                let m = vectorised(|| {
                    let (lanes, tail) = lanes::<T, T, 16>(T::neg_infinity(), s, pick);
                    lanes.into_iter().fold(tail, pick)
                });
                vectorised(|| {
                    for (y, &x) in d.iter_mut().zip(s) {
                        *y = T::from_f64(exp64(wide(x - m)));
                    }
                });
                let sum = sum_map(d, |e| e);
                if log {
                    let l = T::from_f64(sum.ln());
                    for (y, &x) in d.iter_mut().zip(s) {
                        *y = x - m - l;
                    }
                } else {
                    for y in d.iter_mut() {
                        *y = T::from_f64(wide(*y) / sum);
                    }
                }
            }
            return;
        }
        let (mut max, mut sum) = (vec![T::zero(); inner], vec![0f64; inner]);
        for (s, d) in s.chunks_exact(block).zip(d.chunks_exact_mut(block)) {
            max.fill(T::neg_infinity());
            for row in s.chunks_exact(inner) {
                for (m, &x) in max.iter_mut().zip(row) {
                    *m = pick(*m, x);
                }
            }
            // (An infinite max gives inf - inf = NaN, which PyTorch's softmax gives too.)
            sum.fill(0.0);
            for (row, drow) in s.chunks_exact(inner).zip(d.chunks_exact_mut(inner)) {
                vectorised(|| {
                    for (((acc, &m), &x), y) in sum.iter_mut().zip(&max).zip(row).zip(drow) {
                        let e = T::from_f64(exp64(wide(x - m)));
                        *y = e;
                        *acc += wide(e);
                    }
                });
            }
            for (row, drow) in s.chunks_exact(inner).zip(d.chunks_exact_mut(inner)) {
                for (((&acc, &m), &x), y) in sum.iter().zip(&max).zip(row).zip(drow) {
                    *y = if log {
                        x - m - T::from_f64(acc.ln())
                    } else {
                        T::from_f64(wide(*y) / acc)
                    };
                }
            }
        }
    });
    Tensor::from_vec(out, t.shape())
}

// ---- helpers of backward rules ------------------------------------------------------------

/// Visits every line along `dim` of a contiguous tensor: `f(first_offset, stride, n)`.
fn lines(shape: &[usize], dim: Option<usize>, mut f: impl FnMut(usize, usize, usize)) {
    let numel: usize = shape.iter().product();
    let Some(dim) = dim.filter(|&d| d < shape.len()) else {
        f(0, 1, numel);
        return;
    };
    let n = shape[dim];
    let inner: usize = shape[dim + 1..].iter().product();
    if n == 0 || inner == 0 {
        return;
    }
    for o in 0..numel / (n * inner) {
        for j in 0..inner {
            f(o * n * inner + j, inner, n);
        }
    }
}

/// For each element, the product of the others on its line along `dim` (`None`: the whole
/// tensor), without dividing (so zeros are handled exactly).
pub fn prod_of_others<T: Element + Float>(t: &Tensor, dim: Option<usize>) -> Result<Tensor> {
    let x = t.to_vec::<T>();
    let mut out = alloc(x.len(), T::zero())?;
    lines(t.shape(), dim, |base, stride, n| {
        let mut before = T::one();
        for k in 0..n {
            out[base + k * stride] = before;
            before = before * x[base + k * stride];
        }
        let mut after = T::one();
        for k in (0..n).rev() {
            let o = base + k * stride;
            out[o] = out[o] * after;
            after = after * x[o];
        }
    });
    Tensor::from_vec(out, t.shape())
}

/// The gradient of `cumprod` along `dim` for the upstream grad `g` (same shape as `x`),
/// without dividing: `grad[k] = prod(x[..k]) * r[k]`, `r[k] = g[k] + x[k+1] * r[k+1]`.
pub fn cumprod_grad<T: Element + Float>(x: &Tensor, g: &Tensor, dim: usize) -> Result<Tensor> {
    let (xv, gv) = (x.to_vec::<T>(), g.to_vec::<T>());
    let mut out = alloc(xv.len(), T::zero())?;
    lines(x.shape(), Some(dim), |base, stride, n| {
        let at = |k: usize| base + k * stride;
        let mut r = T::zero();
        for k in (0..n).rev() {
            r = gv[at(k)]
                + if k + 1 < n {
                    xv[at(k + 1)] * r
                } else {
                    T::zero()
                };
            out[at(k)] = r;
        }
        let mut before = T::one();
        for k in 0..n {
            out[at(k)] = out[at(k)] * before;
            before = before * xv[at(k)];
        }
    });
    Tensor::from_vec(out, x.shape())
}

/// `out[p] = src[p with dim = index[p]]` (`index` has `src`'s shape with size 1 at `dim`).
pub fn gather_dim<T: Element>(src: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    let (sv, iv) = (src.to_vec::<T>(), index.to_vec::<i64>());
    let n = src.shape().get(dim).copied().unwrap_or(1);
    let inner: usize = src.shape().get(dim + 1..).map_or(1, |s| s.iter().product());
    let mut out = Vec::with_capacity(iv.len());
    for (p, &i) in iv.iter().enumerate() {
        let (o, j) = (p / inner.max(1), p % inner.max(1));
        let i = usize::try_from(i).ok().filter(|&i| i < n).ok_or_else(|| {
            Error::Index(format!(
                "index {i} is out of bounds for dimension {dim} with size {n}"
            ))
        })?;
        out.push(sv[(o * n + i) * inner + j]);
    }
    Tensor::from_vec(out, index.shape())
}

/// Zeros of `shape` with `src[p]` written at `p with dim = index[p]` (the inverse of
/// `gather_dim`; `src` and `index` have `shape` with size 1 at `dim`).
pub fn scatter_dim<T: Element>(
    src: &Tensor,
    dim: usize,
    index: &Tensor,
    shape: &[usize],
) -> Result<Tensor> {
    let (sv, iv) = (src.to_vec::<T>(), index.to_vec::<i64>());
    let n = shape.get(dim).copied().unwrap_or(1);
    let inner: usize = shape.get(dim + 1..).map_or(1, |s| s.iter().product());
    let mut out = alloc(shape.iter().product(), T::default())?;
    for (p, (&v, &i)) in sv.iter().zip(&iv).enumerate() {
        let (o, j) = (p / inner.max(1), p % inner.max(1));
        let i = usize::try_from(i).ok().filter(|&i| i < n).ok_or_else(|| {
            Error::Index(format!(
                "index {i} is out of bounds for dimension {dim} with size {n}"
            ))
        })?;
        out[(o * n + i) * inner + j] = v;
    }
    Tensor::from_vec(out, shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_sum(t: &Tensor, dims: &[usize]) -> Vec<f64> {
        let shape = t.shape().to_vec();
        let keep = keep_shape(&shape, dims);
        let strides = crate::shape::contiguous_strides(&keep);
        let mut out = vec![0.0; keep.iter().product()];
        let vals = t.to_vec::<f64>();
        let full = crate::shape::contiguous_strides(&shape);
        for (i, v) in vals.iter().enumerate() {
            let mut o = 0;
            for d in 0..shape.len() {
                let idx = (i / full[d]) % shape[d];
                if !dims.contains(&d) {
                    o += idx * strides[d];
                }
            }
            out[o] += v;
        }
        out
    }

    #[test]
    fn sums_match_a_naive_loop_for_every_layout() {
        let shape = [5usize, 6, 7];
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        let a = Tensor::from_vec(v, &shape).unwrap();
        let t = a.alias_with_layout(a.layout().transpose(0, 2));
        for x in [&a, &t] {
            for dims in [
                vec![],
                vec![0],
                vec![1],
                vec![2],
                vec![0, 1],
                vec![0, 2],
                vec![1, 2],
                vec![0, 1, 2],
            ] {
                let got = sum_dims::<f64>(x, &dims).unwrap().to_vec::<f64>();
                assert_eq!(got, naive_sum(x, &dims), "dims {dims:?}");
            }
        }
    }

    #[test]
    fn parallel_paths_agree_with_sequential_ones() {
        // Large enough to go parallel; exact in f64 since the values are small integers.
        for shape in [[3usize, 40000], [40000, 3], [2, 70000], [70000, 1]] {
            let n: usize = shape.iter().product();
            let v: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
            let a = Tensor::from_vec(v, &shape).unwrap();
            for dims in [vec![0], vec![1], vec![0, 1]] {
                let got = sum_dims::<f64>(&a, &dims).unwrap().to_vec::<f64>();
                assert_eq!(got, naive_sum(&a, &dims), "{shape:?} dims {dims:?}");
            }
        }
    }

    #[test]
    fn float32_sum_is_accurate() {
        let n = 1_000_003;
        let v: Vec<f32> = (0..n).map(|i| 0.1 + (i % 3) as f32).collect();
        let exact: f64 = v.iter().map(|&x| x as f64).sum();
        let got = sum_f32(&v);
        // Within a few float32 ulps (PyTorch itself is 2 ulps off here).
        assert!((got - exact).abs() / exact < 5e-7, "{got} vs {exact}");
        // The AVX2 build and the baseline one add in the same order.
        assert_eq!(sum_f32(&v), block_sum(&v, |x| x));
    }

    #[test]
    fn argmax_takes_the_first_max_and_the_first_nan() {
        let a = Tensor::from_vec(vec![1.0f64, 3.0, 3.0, f64::NAN, 2.0, f64::NAN], &[2, 3]).unwrap();
        let r = reduce::<f64, _>(&a, &[1], &ArgExtreme::<false>).unwrap();
        assert_eq!(r[0], (3.0, 1));
        assert!(f64::is_nan(r[1].0) && r[1].1 == 0);
        let all = reduce::<f64, _>(&a, &[0, 1], &ArgExtreme::<true>).unwrap();
        assert_eq!(all[0].1, 3);
    }

    #[test]
    fn vectorised_runs_match_element_by_element_folds() {
        // Few distinct values (many ties), some NaNs, lengths around the lane widths.
        for n in [1usize, 7, 8, 15, 16, 17, 33, 100, 1001] {
            for seed in 0..4u64 {
                let v: Vec<f64> = (0..n as u64)
                    .map(|i| {
                        let h = (i * 2654435761 + seed * 97) % 13;
                        if seed == 3 && h == 5 {
                            f64::NAN
                        } else {
                            (h % 5) as f64 - 2.0
                        }
                    })
                    .collect();
                let by_step = |f: &ArgExtreme<false>| {
                    v.iter()
                        .enumerate()
                        .fold(Fold::<f64>::init(f, 0), |a, (i, &x)| f.step(a, x, i))
                };
                let f = ArgExtreme::<false>;
                let (a, b) = (f.run(f.init(0), &v, 0), by_step(&f));
                assert_eq!(a.1, b.1, "argmax of {v:?}");
                let e = Extreme::<true>;
                let by = v
                    .iter()
                    .fold(Fold::<f64>::init(&e, 0), |a, &x| e.step(a, x, 0));
                let r = e.run(e.init(0), &v, 0);
                assert!(r == by || r.is_nan() && by.is_nan());
                for p in [2.0, 1.0, f64::INFINITY, f64::NEG_INFINITY] {
                    let nf = Norm { p };
                    let by = v
                        .iter()
                        .fold(Fold::<f64>::init(&nf, 0), |a, &x| nf.step(a, x, 0));
                    let r = nf.run(Fold::<f64>::init(&nf, 0), &v, 0);
                    assert!((r - by).abs() <= 1e-12 * by.abs() || r.is_nan() && by.is_nan());
                }
            }
        }
    }

    #[test]
    fn exp64_is_within_two_ulps_of_libm() {
        let ulps = |a: f64, b: f64| (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs();
        let mut x = -746.0;
        while x < 711.0 {
            for dx in [0.0, 1e-9, 0.123_456_789, 0.5] {
                let v = x + dx;
                let (got, want) = (exp64(v), v.exp());
                assert!(
                    got == want || ulps(got, want) <= 2,
                    "exp({v}) = {got}, libm {want}"
                );
            }
            x += 0.37;
        }
        for v in [0.0, -0.0, 1e-300, -1e-300, 709.78, -745.1, 710.0, -746.0] {
            assert!(ulps(exp64(v), v.exp()) <= 2, "exp({v})");
        }
        assert_eq!(exp64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp64(f64::NEG_INFINITY), 0.0);
        assert!(exp64(f64::NAN).is_nan());
    }

    #[test]
    fn scans_and_products_of_others() {
        let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 0.0, 6.0], &[2, 3]).unwrap();
        let c = scan::<f64, false>(&a, 1, false).unwrap().to_vec::<f64>();
        assert_eq!(c, vec![1.0, 3.0, 6.0, 4.0, 4.0, 10.0]);
        let r = scan::<f64, true>(&a, 0, true).unwrap().to_vec::<f64>();
        assert_eq!(r, vec![4.0, 0.0, 18.0, 4.0, 0.0, 6.0]);
        let p = prod_of_others::<f64>(&a, Some(1)).unwrap().to_vec::<f64>();
        assert_eq!(p, vec![6.0, 3.0, 2.0, 0.0, 24.0, 0.0]);
    }
}
