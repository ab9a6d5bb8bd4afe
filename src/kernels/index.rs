//! Index kernels: reads and writes of elements picked by integer indices.
//!
//! Advanced indexing (`x[idx]`, `index_select`, `index_put`, `index_add`, ...) is described by
//! a `Plan`: the result is laid out as `[pre dims] ++ [broadcast index dims] ++ [post dims]`,
//! and the element at `(p, a, q)` lives at `base + pre[p] + adv[a] + post[q]` in the indexed
//! tensor's storage. Building the plan checks every index once; reading (`gather`) and
//! writing (`put`) then run plain offset loops, with a slice copy for a contiguous post block.
//! `gather_dim`/`scatter_dim` are `torch.gather`/`torch.scatter`, which index one dimension
//! element by element. Reads go parallel above `PARALLEL_THRESHOLD`; writes stay sequential
//! (indices may repeat, so two threads could hit one element).

use super::{for_each_offset, team, PARALLEL_THRESHOLD};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{broadcast_shapes, format_shape, Dims, Layout};
use crate::storage::Element;
use crate::tensor::Tensor;

/// Elements per parallel work item.
const CHUNK: usize = 1 << 13;

/// Dispatches `$body` with `$T` bound to the element type of any dtype.
macro_rules! any_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::Bool => {
                type $T = bool;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// Elements that accumulating writes (`index_put(accumulate=True)`, `scatter_add`,
/// `index_add`) can add; bools add as logical or, as PyTorch.
pub trait Accumulate: Element {
    fn acc(self, other: Self) -> Self;
}
impl Accumulate for f32 {
    fn acc(self, o: Self) -> Self {
        self + o
    }
}
impl Accumulate for f64 {
    fn acc(self, o: Self) -> Self {
        self + o
    }
}
impl Accumulate for i64 {
    fn acc(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
}
impl Accumulate for bool {
    fn acc(self, o: Self) -> Self {
        self | o
    }
}

/// Resolves an index value against a dimension of `size` (`None`: out of range).
pub type Resolve<'a> = &'a (dyn Fn(i64, usize) -> Option<usize> + Sync);

/// Negative indices count from the end (`x[-1]`).
pub fn wrap_negative(i: i64, size: usize) -> Option<usize> {
    let w = if i < 0 { i + size as i64 } else { i };
    (w >= 0 && (w as usize) < size).then_some(w as usize)
}

/// Only `0 <= i < size` (gather, scatter, index_select, index_add).
pub fn non_negative(i: i64, size: usize) -> Option<usize> {
    (i >= 0 && (i as usize) < size).then_some(i as usize)
}

/// Builds the error for an index `value` found out of range: `(value, k, dim, size)` where
/// `k` is the position of the index tensor among the given ones and `dim` the dimension it
/// indexes.
pub type OutOfRange<'a> = &'a (dyn Fn(i64, usize, usize, usize) -> Error + Sync);

/// The offsets of the elements of a block, relative to the block's start.
enum Block {
    /// `0..len`: a contiguous run (copied as a slice).
    Run(usize),
    Offsets(Vec<usize>),
}

impl Block {
    fn new(shape: &[usize], strides: &[usize]) -> Block {
        let layout = Layout {
            shape: shape.into(),
            strides: strides.into(),
            offset: 0,
        };
        if layout.is_contiguous() {
            return Block::Run(layout.numel());
        }
        let mut v = Vec::with_capacity(layout.numel());
        for_each_offset(&layout, |o| v.push(o));
        Block::Offsets(v)
    }

    fn len(&self) -> usize {
        match self {
            Block::Run(n) => *n,
            Block::Offsets(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> usize {
        match self {
            Block::Run(_) => i,
            Block::Offsets(v) => v[i],
        }
    }
}

/// Where each element of an advanced-indexing result lives (see the module docs).
pub struct Plan {
    /// The result's shape.
    pub shape: Dims,
    base: usize,
    pre: Block,
    adv: Vec<usize>,
    post: Block,
}

impl Plan {
    pub fn numel(&self) -> usize {
        self.pre.len() * self.adv.len() * self.post.len()
    }

    /// Calls `f(i, offset)` for the `i`-th result element, in order.
    fn for_each(&self, mut f: impl FnMut(usize, usize)) {
        let mut i = 0;
        for p in 0..self.pre.len() {
            let p = self.base + self.pre.get(p);
            for &a in &self.adv {
                let start = p + a;
                for q in 0..self.post.len() {
                    f(i, start + self.post.get(q));
                    i += 1;
                }
            }
        }
    }
}

/// The plan of indexing the tensor laid out as `layout` with `indices` (one per leading dim;
/// `None` leaves a dim alone; every `Some` is an int64 tensor). Index tensors broadcast
/// together; when they sit on adjacent dims their block replaces those dims in place, else it
/// moves to the front (NumPy's and PyTorch's rule). Nothing is checked when the result is
/// empty, as PyTorch.
pub fn plan(
    layout: &Layout,
    indices: &[Option<Tensor>],
    resolve: Resolve,
    out_of_range: OutOfRange,
) -> Result<Plan> {
    let nd = layout.ndim();
    let given: Vec<(usize, &Tensor)> = indices
        .iter()
        .enumerate()
        .filter_map(|(d, t)| t.as_ref().map(|t| (d, t)))
        .collect();
    let mut bshape = Dims::new();
    for (_, t) in &given {
        bshape = broadcast_shapes(&bshape, t.shape()).map_err(|_| {
            let shapes: Vec<String> = given.iter().map(|(_, t)| format_shape(t.shape())).collect();
            Error::Index(format!(
                "shape mismatch: indexing tensors could not be broadcast together with shapes {}",
                shapes.join(", ")
            ))
        })?;
    }
    let first = given.first().map_or(0, |g| g.0);
    let adjacent = given.windows(2).all(|w| w[1].0 == w[0].0 + 1);
    let rest = |keep: &dyn Fn(usize) -> bool| -> (Dims, Dims) {
        let dims = (0..nd).filter(|&d| keep(d) && indices.get(d).is_none_or(|t| t.is_none()));
        dims.map(|d| (layout.shape[d], layout.strides[d])).unzip()
    };
    let (pre, post) = if adjacent {
        let last = given.last().map_or(0, |g| g.0);
        (
            rest(&|d| d < first),
            rest(&|d| given.is_empty() || d > last),
        )
    } else {
        ((Dims::new(), Dims::new()), rest(&|_| true))
    };
    let mut shape: Dims = pre.0.clone();
    shape.extend_from_slice(&bshape);
    shape.extend_from_slice(&post.0);
    let nb: usize = bshape.iter().product();
    let empty = shape.contains(&0);
    let mut adv = vec![0usize; if empty { 0 } else { nb }];
    if !empty {
        for (k, &(d, t)) in given.iter().enumerate() {
            let (size, stride) = (layout.shape[d], layout.strides[d]);
            let values =
                super::gather_cast::<i64>(&t.alias_with_layout(t.layout().broadcast_to(&bshape)?));
            // Adds each index's offset; gives the first value out of range, if any.
            let add = |slots: &mut [usize], vs: &[i64]| {
                for (slot, &v) in slots.iter_mut().zip(vs) {
                    match resolve(v, size) {
                        Some(i) => *slot += i * stride,
                        None => return Some(v),
                    }
                }
                None
            };
            let bad = if nb >= PARALLEL_THRESHOLD {
                // The first bad value in index order, as the sequential loop finds it.
                let first = std::sync::Mutex::new(None::<(usize, i64)>);
                team::for_each_chunk_mut(&mut adv, CHUNK, |c, slots| {
                    let vs = &values[c * CHUNK..c * CHUNK + slots.len()];
                    if let Some(v) = add(slots, vs) {
                        let mut first = first.lock().unwrap_or_else(|e| e.into_inner());
                        if first.is_none_or(|(c0, _)| c < c0) {
                            *first = Some((c, v));
                        }
                    }
                });
                first
                    .into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .map(|(_, v)| v)
            } else {
                add(&mut adv, &values)
            };
            if let Some(v) = bad {
                return Err(out_of_range(v, k, d, size));
            }
        }
    }
    Ok(Plan {
        shape,
        base: layout.offset,
        pre: Block::new(&pre.0, &pre.1),
        adv,
        post: Block::new(&post.0, &post.1),
    })
}

/// The elements `plan` picks out of `src` (which has the layout the plan was made for), as a
/// new contiguous tensor of `plan.shape`.
pub fn gather(src: &Tensor, plan: &Plan) -> Result<Tensor> {
    any_dtype!(src.dtype(), T => {
        let data = T::slice(src.buffer()).ok_or_else(|| dtype_error(src.dtype()))?;
        Tensor::from_vec(gather_typed(data, plan), &plan.shape)
    })
}

fn gather_typed<T: Element>(data: &[T], plan: &Plan) -> Vec<T> {
    let n = plan.numel();
    let inner = plan.post.len();
    if n == 0 {
        return Vec::new();
    }
    let nadv = plan.adv.len();
    // Fills the result rows (one per pre x index position) from row `first` on.
    let fill_rows = |out: &mut [T], first: usize| {
        let (mut p, mut a) = (first / nadv, first % nadv);
        let mut base = plan.base + plan.pre.get(p);
        for row in out.chunks_mut(inner) {
            if a == nadv {
                (p, a) = (p + 1, 0);
                base = plan.base + plan.pre.get(p);
            }
            let start = base + plan.adv[a];
            a += 1;
            match &plan.post {
                Block::Run(1) => row[0] = data[start],
                Block::Run(len) => row.copy_from_slice(&data[start..start + len]),
                Block::Offsets(offs) => {
                    for (o, &q) in row.iter_mut().zip(offs) {
                        *o = data[start + q];
                    }
                }
            }
        }
    };
    let mut out = vec![T::default(); n];
    if n >= PARALLEL_THRESHOLD {
        let rows = (CHUNK / inner).max(1);
        team::for_each_chunk_mut(&mut out, rows * inner, |c, chunk| {
            fill_rows(chunk, c * rows)
        });
    } else {
        fill_rows(&mut out, 0);
    }
    out
}

/// Writes `values` (broadcastable to `plan.shape`, any dtype: converted) into the elements
/// `plan` picks out of `dst`, adding to them when `accumulate`. `dst` must own its storage
/// exclusively (a fresh result) and `values` must not share it.
pub fn put(dst: &Tensor, plan: &Plan, values: &Tensor, accumulate: bool) -> Result<()> {
    let one = values.numel() == 1;
    let values = values.alias_with_layout(values.layout().broadcast_to(&plan.shape)?);
    // SAFETY: `dst` is a fresh tensor no one else reads or writes during this call, and
    // `values` lives in another storage (see the contract above).
    let buf = unsafe { dst.storage().buffer_mut() };
    any_dtype!(dst.dtype(), T => {
        let data = T::slice_mut(buf).ok_or_else(|| dtype_error(dst.dtype()))?;
        put_typed::<T>(data, plan, &values, one, accumulate);
        Ok(())
    })
}

fn put_typed<T: Accumulate>(
    data: &mut [T],
    plan: &Plan,
    values: &Tensor,
    one: bool,
    accumulate: bool,
) {
    if plan.numel() == 0 {
        return;
    }
    let write = |slot: &mut T, v: T| *slot = if accumulate { slot.acc(v) } else { v };
    if one {
        let v = first::<T>(values);
        plan.for_each(|_, o| write(&mut data[o], v));
    } else {
        let vs = super::gather_cast::<T>(values);
        plan.for_each(|i, o| write(&mut data[o], vs[i]));
    }
}

/// The first element of a non-empty tensor, as `T`.
fn first<T: Element>(t: &Tensor) -> T {
    let l = t.layout();
    let one = Layout {
        shape: Dims::new(),
        strides: Dims::new(),
        offset: l.offset,
    };
    super::gather_cast::<T>(&t.alias_with_layout(one))[0]
}

fn dtype_error(d: DType) -> Error {
    Error::Runtime(format!("index kernel: unexpected storage for dtype {d}"))
}

// ---- one dimension, element by element: gather / scatter --------------------------------

/// Calls `f(offsets)` for every position of `shape`, where `offsets[k]` walks `strides[k]`
/// from `start[k]`; stops early when `f` returns false.
fn walk<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    start: [usize; N],
    mut f: impl FnMut([usize; N]) -> bool,
) {
    if shape.contains(&0) {
        return;
    }
    let nd = shape.len();
    let mut index = vec![0usize; nd];
    let mut off = start;
    loop {
        if !f(off) {
            return;
        }
        let mut d = nd;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            for k in 0..N {
                off[k] += strides[k][d];
            }
            if index[d] < shape[d] {
                break;
            }
            for k in 0..N {
                off[k] -= strides[k][d] * shape[d];
            }
            index[d] = 0;
        }
    }
}

/// Shape and strides with a zero-dim layout read as one element of one dim (PyTorch's
/// `ensure_nonempty_dim` for gather/scatter).
fn nonempty(l: &Layout) -> (Dims, Dims) {
    if l.ndim() == 0 {
        (Dims::from_slice(&[1]), Dims::from_slice(&[1]))
    } else {
        (l.shape.clone(), l.strides.clone())
    }
}

/// The error for an index `i` out of `0..size` along `dim` (gather and scatter).
fn dim_out_of_range(i: i64, dim: usize, size: usize) -> Error {
    Error::Runtime(format!(
        "index {i} is out of bounds for dimension {dim} with size {size}"
    ))
}

/// `out[p] = src[p with p[dim] = index[p]]` over the positions `p` of `index` (int64, same
/// number of dims as `src`, sizes already checked). The result has `index`'s shape.
pub fn gather_dim(src: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    let (shape, is) = nonempty(index.layout());
    let (sshape, mut ss) = nonempty(src.layout());
    let (size, stride) = (sshape[dim], ss[dim]);
    ss[dim] = 0;
    let idx = i64::slice(index.buffer()).ok_or_else(|| dtype_error(index.dtype()))?;
    any_dtype!(src.dtype(), T => {
        let data = T::slice(src.buffer()).ok_or_else(|| dtype_error(src.dtype()))?;
        let mut out: Vec<T> = Vec::with_capacity(index.numel());
        let mut bad = None;
        walk(&shape, [&is, &ss], [index.layout().offset, src.layout().offset], |[oi, os]| {
            match non_negative(idx[oi], size) {
                Some(i) => {
                    out.push(data[os + i * stride]);
                    true
                }
                None => {
                    bad = Some(idx[oi]);
                    false
                }
            }
        });
        if let Some(i) = bad {
            return Err(dim_out_of_range(i, dim, size));
        }
        Tensor::from_vec(out, index.shape())
    })
}

/// What `scatter_dim` writes: `src[p]` (a tensor with `dst`'s dtype) or one value.
pub enum Source<'a> {
    Tensor(&'a Tensor),
    Value(&'a Tensor),
}

/// `dst[p with p[dim] = index[p]] = src[p]` (or `+=` when `accumulate`) over the positions
/// `p` of `index`. `dst` must be a fresh tensor (see `put`); sizes are already checked.
/// Indices are all checked before anything is written.
pub fn scatter_dim(
    dst: &Tensor,
    dim: usize,
    index: &Tensor,
    src: Source,
    accumulate: bool,
) -> Result<()> {
    let (shape, is) = nonempty(index.layout());
    let (dshape, mut ds) = nonempty(dst.layout());
    let (size, stride) = (dshape[dim], ds[dim]);
    ds[dim] = 0;
    let idx = i64::slice(index.buffer()).ok_or_else(|| dtype_error(index.dtype()))?;
    let mut bad = None;
    walk(&shape, [&is], [index.layout().offset], |[oi]| {
        if non_negative(idx[oi], size).is_none() {
            bad = Some(idx[oi]);
        }
        bad.is_none()
    });
    if let Some(i) = bad {
        return Err(dim_out_of_range(i, dim, size));
    }
    // SAFETY: `dst` is fresh and owned by the caller; `src` lives in another storage.
    let buf = unsafe { dst.storage().buffer_mut() };
    any_dtype!(dst.dtype(), T => {
        let out = T::slice_mut(buf).ok_or_else(|| dtype_error(dst.dtype()))?;
        let write = |slot: &mut T, v: T| *slot = if accumulate { slot.acc(v) } else { v };
        let at = |oi: usize, od: usize| od + idx[oi] as usize * stride;
        match src {
            Source::Value(v) => {
                let v = first::<T>(v);
                walk(&shape, [&is, &ds], [index.layout().offset, dst.layout().offset], |[oi, od]| {
                    write(&mut out[at(oi, od)], v);
                    true
                });
            }
            Source::Tensor(s) => {
                let (_, ss) = nonempty(s.layout());
                let sdata = T::slice(s.buffer()).ok_or_else(|| dtype_error(s.dtype()))?;
                let starts = [index.layout().offset, dst.layout().offset, s.layout().offset];
                walk(&shape, [&is, &ds, &ss], starts, |[oi, od, os]| {
                    write(&mut out[at(oi, od)], sdata[os]);
                    true
                });
            }
        }
        Ok(())
    })
}

// ---- masks --------------------------------------------------------------------------------

/// The coordinates of the true elements of a bool `mask`, one int64 tensor per dim (each of
/// length "number of trues"), in row-major order: what `mask.nonzero(as_tuple=True)` gives.
pub fn nonzero(mask: &Tensor) -> Result<Vec<Tensor>> {
    if mask.dtype() != DType::Bool {
        return Err(dtype_error(mask.dtype()));
    }
    let shape = mask.shape();
    let pos: Vec<usize> = super::gather_cast::<bool>(mask)
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| b.then_some(i))
        .collect();
    let strides = crate::shape::contiguous_strides(shape);
    let n = pos.len();
    (0..shape.len())
        .map(|d| {
            let c: Vec<i64> = pos
                .iter()
                .map(|&p| ((p / strides[d]) % shape[d]) as i64)
                .collect();
            Tensor::from_vec(c, &[n])
        })
        .collect()
}

/// `where(mask, value, x)` with `x` and `mask` broadcast to `shape`; `value` is a one-element
/// tensor of `x`'s dtype.
pub fn masked_fill(x: &Tensor, mask: &Tensor, value: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let (lx, lm) = (
        x.layout().broadcast_to(shape)?,
        mask.layout().broadcast_to(shape)?,
    );
    let m = bool::slice(mask.buffer()).ok_or_else(|| dtype_error(mask.dtype()))?;
    any_dtype!(x.dtype(), T => {
        let data = T::slice(x.buffer()).ok_or_else(|| dtype_error(x.dtype()))?;
        let v = first::<T>(value);
        let mut out: Vec<T> = Vec::with_capacity(lx.numel());
        super::for_each_offset2(&lx, &lm, |ox, om| out.push(if m[om] { v } else { data[ox] }));
        Tensor::from_vec(out, shape)
    })
}

/// The elements of `x` (broadcast to `shape`) where `mask` (broadcast too) is true, as a
/// 1-d tensor.
pub fn masked_select(x: &Tensor, mask: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let (lx, lm) = (
        x.layout().broadcast_to(shape)?,
        mask.layout().broadcast_to(shape)?,
    );
    let m = bool::slice(mask.buffer()).ok_or_else(|| dtype_error(mask.dtype()))?;
    any_dtype!(x.dtype(), T => {
        let data = T::slice(x.buffer()).ok_or_else(|| dtype_error(x.dtype()))?;
        let mut out: Vec<T> = Vec::new();
        super::for_each_offset2(&lx, &lm, |ox, om| {
            if m[om] {
                out.push(data[ox]);
            }
        });
        let n = out.len();
        Tensor::from_vec(out, &[n])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<i64>, shape: &[usize]) -> Tensor {
        Tensor::from_vec(v, shape).unwrap()
    }

    fn oob(v: i64, k: usize, _d: usize, size: usize) -> Error {
        Error::Index(format!(
            "index {v} is out of bounds for dimension {k} with size {size}"
        ))
    }

    #[test]
    fn adjacent_indices_stay_in_place_and_others_move_front() {
        let x =
            Tensor::from_vec((0..24).map(|i| i as f64).collect::<Vec<_>>(), &[2, 3, 4]).unwrap();
        let i = t(vec![0, 2], &[2]);
        let p = plan(x.layout(), &[None, Some(i.clone())], &wrap_negative, &oob).unwrap();
        assert_eq!(p.shape.as_slice(), &[2, 2, 4]);
        let out = gather(&x, &p).unwrap().to_vec::<f64>();
        assert_eq!(&out[..8], &[0.0, 1.0, 2.0, 3.0, 8.0, 9.0, 10.0, 11.0]);
        let j = t(vec![1, -1], &[2]);
        let p = plan(
            x.layout(),
            &[Some(t(vec![1, 0], &[2])), None, Some(j)],
            &wrap_negative,
            &oob,
        )
        .unwrap();
        assert_eq!(p.shape.as_slice(), &[2, 3]);
        let out = gather(&x, &p).unwrap().to_vec::<f64>();
        assert_eq!(out, vec![13.0, 17.0, 21.0, 3.0, 7.0, 11.0]);
    }

    #[test]
    fn out_of_range_and_broadcast_errors() {
        let x = Tensor::zeros(&[3], DType::F32).unwrap();
        let e = plan(x.layout(), &[Some(t(vec![3], &[1]))], &wrap_negative, &oob)
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "index 3 is out of bounds for dimension 0 with size 3"
        );
        let y = Tensor::zeros(&[3, 3], DType::F32).unwrap();
        let e = plan(
            y.layout(),
            &[Some(t(vec![0, 1], &[2])), Some(t(vec![0, 1, 2], &[3]))],
            &wrap_negative,
            &oob,
        )
        .err()
        .unwrap();
        assert!(e.to_string().ends_with("with shapes [2], [3]"));
    }

    #[test]
    fn put_accumulates_repeated_indices_and_parallel_gather_agrees() {
        let dst = Tensor::zeros(&[3], DType::F64).unwrap();
        let p = plan(
            dst.layout(),
            &[Some(t(vec![0, 0, 2], &[3]))],
            &wrap_negative,
            &oob,
        )
        .unwrap();
        let v = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
        put(&dst, &p, &v, true).unwrap();
        assert_eq!(dst.to_vec::<f64>(), vec![3.0, 0.0, 3.0]);
        let n = PARALLEL_THRESHOLD + 5;
        let x = Tensor::from_vec((0..n as i64).collect::<Vec<_>>(), &[n, 1]).unwrap();
        let rev = t((0..n as i64).rev().collect(), &[n]);
        let p = plan(x.layout(), &[Some(rev)], &wrap_negative, &oob).unwrap();
        let out = gather(&x, &p).unwrap().to_vec::<i64>();
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, &v)| v == (n - 1 - i) as i64));
    }

    #[test]
    fn gather_scatter_and_nonzero() {
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let i = t(vec![1, 0, 0, 0], &[2, 2]);
        assert_eq!(
            gather_dim(&x, 0, &i).unwrap().to_vec::<f32>(),
            vec![3.0, 2.0, 1.0, 2.0]
        );
        let dst = Tensor::zeros(&[2, 2], DType::F32).unwrap();
        scatter_dim(&dst, 0, &i, Source::Tensor(&x), true).unwrap();
        assert_eq!(dst.to_vec::<f32>(), vec![3.0, 6.0, 1.0, 0.0]);
        let bad = t(vec![2], &[1, 1]);
        assert!(gather_dim(&x, 0, &bad).is_err());
        let m = Tensor::from_vec(vec![true, false, false, true], &[2, 2]).unwrap();
        let nz = nonzero(&m).unwrap();
        assert_eq!(nz[0].to_vec::<i64>(), vec![0, 1]);
        assert_eq!(nz[1].to_vec::<i64>(), vec![0, 1]);
    }
}
