//! Kernels: loops over storage + layout, with no autograd in sight.
//!
//! Every kernel accepts any layout (strided, broadcast with stride 0, offset views);
//! contiguous inputs take a slice fast path. Work above `PARALLEL_THRESHOLD` elements is
//! split across the thread team (`team`: the calling thread plus spinning workers); below it,
//! kernels run sequentially on the calling thread with no hand-off, which is what keeps
//! small-tensor ops cheap.

pub mod conv;
pub mod elementwise;
pub mod index;
pub mod matmul;
pub mod reduce;
pub mod team;
pub mod vmath;

pub use elementwise::{binary, cast, unary};
pub use reduce::sum_dims;

use crate::dtype::DType;
use crate::shape::Layout;
use crate::storage::{Buffer, Element};
use crate::tensor::Tensor;

/// Below this many elements a kernel never leaves the calling thread.
pub const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Above this many elements the Python bindings release the GIL around a kernel.
pub const RELEASE_GIL_THRESHOLD: usize = 1 << 16;

/// Threads a parallel kernel uses (see `team`): `FERROGRAD_NUM_THREADS`, or all cores.
pub fn num_threads() -> usize {
    team::threads()
}

/// Calls `f(offset)` for every element of `layout`, in row-major logical order.
#[inline]
pub fn for_each_offset(layout: &Layout, mut f: impl FnMut(usize)) {
    let n = layout.numel();
    if n == 0 {
        return;
    }
    if layout.is_contiguous() {
        for o in layout.offset..layout.offset + n {
            f(o);
        }
        return;
    }
    let nd = layout.ndim();
    let inner = layout.shape[nd - 1];
    let inner_stride = layout.strides[nd - 1];
    let mut index = vec![0usize; nd];
    let mut base = layout.offset;
    loop {
        let mut o = base;
        for _ in 0..inner {
            f(o);
            o += inner_stride;
        }
        // advance the outer index
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            base += layout.strides[d];
            if index[d] < layout.shape[d] {
                break;
            }
            base -= layout.strides[d] * layout.shape[d];
            index[d] = 0;
        }
    }
}

/// Calls `f(offset_a, offset_b)` for every position of `shape`, where `a` and `b` are layouts
/// of that same shape (already broadcast).
#[inline]
pub fn for_each_offset2(a: &Layout, b: &Layout, mut f: impl FnMut(usize, usize)) {
    let shape = &a.shape;
    let n: usize = shape.iter().product();
    if n == 0 {
        return;
    }
    let nd = shape.len();
    if nd == 0 {
        f(a.offset, b.offset);
        return;
    }
    let inner = shape[nd - 1];
    let (sa, sb) = (a.strides[nd - 1], b.strides[nd - 1]);
    let mut index = vec![0usize; nd];
    let (mut base_a, mut base_b) = (a.offset, b.offset);
    loop {
        let (mut oa, mut ob) = (base_a, base_b);
        for _ in 0..inner {
            f(oa, ob);
            oa += sa;
            ob += sb;
        }
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            base_a += a.strides[d];
            base_b += b.strides[d];
            if index[d] < shape[d] {
                break;
            }
            base_a -= a.strides[d] * shape[d];
            base_b -= b.strides[d] * shape[d];
            index[d] = 0;
        }
    }
}

/// The elements of `t` in logical order, converted to `T`.
pub fn gather_cast<T: Element>(t: &Tensor) -> Vec<T> {
    fn go<S: Element, T: Element>(src: &[S], layout: &Layout, conv: impl Fn(S) -> T) -> Vec<T> {
        let mut out = Vec::with_capacity(layout.numel());
        if layout.numel() == 0 {
            // An empty view may sit at an offset past its storage's end (PyTorch allows it).
            return out;
        }
        if layout.is_contiguous() {
            let s = &src[layout.offset..layout.offset + layout.numel()];
            out.extend(s.iter().map(|&x| conv(x)));
        } else {
            for_each_offset(layout, |o| out.push(conv(src[o])));
        }
        out
    }
    let l = t.layout();
    match t.buffer() {
        Buffer::Bool(v) => go(v, l, |x| T::from_bool(x)),
        Buffer::I64(v) => go(v, l, |x| T::from_i64(x)),
        Buffer::F32(v) => go(v, l, |x| T::from_f64(x as f64)),
        Buffer::F64(v) => go(v, l, |x| T::from_f64(x)),
    }
}

/// [`gather_cast`] for tensors from user code, whose element count (an expanded view can
/// have 2**62 elements on a one-element storage) may exceed any allocation: the failure is
/// PyTorch's allocator error instead of an abort of the process.
pub fn try_gather_cast<T: Element>(t: &Tensor) -> crate::error::Result<Vec<T>> {
    check_alloc::<T>(t.numel())?;
    Ok(gather_cast::<T>(t))
}

/// Fails with PyTorch's allocator error when `n` elements of `T` cannot be allocated; else
/// `Ok` (the probe is freed: the caller allocates for real, which now succeeds unless memory
/// runs out in between).
pub fn check_alloc<T>(n: usize) -> crate::error::Result<()> {
    // Small buffers cannot fail in a way worth probing for.
    if n.saturating_mul(std::mem::size_of::<T>()) < (1 << 26) {
        return Ok(());
    }
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        crate::error::Error::Runtime(format!(
            "[enforce fail at alloc_cpu.cpp] . DefaultCPUAllocator: can't allocate memory: you tried to allocate {} bytes.",
            n.saturating_mul(std::mem::size_of::<T>())
        ))
    })
}

/// Fills a whole buffer with `value` (cast to its dtype).
pub fn fill(buf: &mut Buffer, value: f64) {
    match buf {
        Buffer::Bool(v) => v.fill(value != 0.0),
        Buffer::I64(v) => v.fill(value as i64),
        Buffer::F32(v) => v.fill(value as f32),
        Buffer::F64(v) => v.fill(value),
    }
}

/// Writes the elements of `src` (same shape, any dtype) into the storage of `dst` through
/// `dst`'s layout. `src` must not share storage with `dst` (callers make a temporary first).
pub fn copy_into(dst: &Tensor, src: &Tensor) {
    fn go<T: Element>(dst_buf: &mut [T], layout: &Layout, values: Vec<T>) {
        if values.is_empty() {
            return; // an empty destination may sit past its storage's end
        }
        if layout.is_contiguous() {
            dst_buf[layout.offset..layout.offset + values.len()].copy_from_slice(&values);
        } else {
            let mut it = values.into_iter();
            for_each_offset(layout, |o| {
                if let Some(v) = it.next() {
                    dst_buf[o] = v;
                }
            });
        }
    }
    /// Both contiguous and of one dtype: a plain copy (`elementwise::assign`, across the team
    /// when it is large).
    fn direct<T: Element>(dst: &Tensor, src: &Tensor) -> bool {
        let Some(s) = src.contiguous_slice::<T>().filter(|s| !s.is_empty()) else {
            return false;
        };
        // SAFETY: `src` is a different storage, and nothing else borrows `dst`'s buffer.
        unsafe { elementwise::assign::<T>(dst, elementwise::Rhs::Slice(s), |_, y| y) }
    }
    let done = match dst.dtype() {
        DType::Bool => direct::<bool>(dst, src),
        DType::I64 => direct::<i64>(dst, src),
        DType::F32 => direct::<f32>(dst, src),
        DType::F64 => direct::<f64>(dst, src),
    };
    if done {
        return;
    }
    let layout = dst.layout();
    // SAFETY: `src` is a different storage, and no other borrow of `dst`'s buffer is alive
    // for the duration of this write.
    let buf = unsafe { dst.storage().buffer_mut() };
    match buf {
        Buffer::Bool(v) => go(v, layout, gather_cast::<bool>(src)),
        Buffer::I64(v) => go(v, layout, gather_cast::<i64>(src)),
        Buffer::F32(v) => go(v, layout, gather_cast::<f32>(src)),
        Buffer::F64(v) => go(v, layout, gather_cast::<f64>(src)),
    }
}
