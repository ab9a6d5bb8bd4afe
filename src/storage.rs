//! Shared, aliasable buffers.
//!
//! A `Storage` is a buffer of one dtype that several tensors may alias (`x.data`,
//! `x.detach()`, views). It has interior mutability: in-place ops write through any alias.
//! Like PyTorch, ferrograd does not lock a storage; concurrent writers to one storage are the
//! caller's race. (The version counter lives beside the storage, in `tensor.rs`: like
//! PyTorch, `x.data` shares the buffer but not the counter, while views and `detach()` share
//! both.)
//!
//! Every kernel allocates its output through [`alloc_vec`] / [`alloc_filled`], which reuse
//! large buffers freed by dropped storages (the `cache` module below): a fresh multi-MiB
//! allocation is mmapped and page-faulted on first write, which costs more than the
//! arithmetic of a memory-bound kernel.

use crate::dtype::DType;
use crate::error::{Error, Result};
use std::cell::UnsafeCell;

/// The elements of a buffer: a `Vec` we own, or memory another library owns (a NumPy
/// array, a DLPack producer) that we borrow for as long as `owner` lives. Either way it is a
/// fixed-length slice: nothing can grow or reallocate it, so pointers handed out (DLPack,
/// `.numpy()`) stay valid while the storage lives.
pub struct Data<T> {
    repr: Repr<T>,
}

enum Repr<T> {
    Owned(Vec<T>),
    Foreign {
        ptr: std::ptr::NonNull<T>,
        len: usize,
        // Dropped (releasing the memory to its producer) after the last alias is gone.
        _owner: Box<dyn Send + Sync>,
    },
}

// SAFETY: foreign memory is only reached through `Data`, which the owner keeps alive; access
// follows the same rules as an owned `Vec` inside `Storage` (see its `Sync` impl).
unsafe impl<T: Send> Send for Data<T> {}
unsafe impl<T: Sync> Sync for Data<T> {}

impl<T> Data<T> {
    /// Borrows `len` elements at `ptr`, kept alive by `owner`.
    ///
    /// # Safety
    /// `ptr` must be non-null, aligned for `T`, and valid for reads and writes of `len`
    /// initialised elements (valid values of `T`) for as long as `owner` is alive, and no
    /// one else may free or reallocate that memory meanwhile.
    pub unsafe fn foreign(ptr: *mut T, len: usize, owner: Box<dyn Send + Sync>) -> Data<T> {
        let ptr = std::ptr::NonNull::new(ptr).unwrap_or(std::ptr::NonNull::dangling());
        Data {
            repr: Repr::Foreign {
                ptr,
                len,
                _owner: owner,
            },
        }
    }

    pub fn is_foreign(&self) -> bool {
        matches!(self.repr, Repr::Foreign { .. })
    }

    /// The capacity of an owned `Vec` (0 for foreign memory, which is never cached).
    pub fn owned_capacity(&self) -> usize {
        match &self.repr {
            Repr::Owned(v) => v.capacity(),
            Repr::Foreign { .. } => 0,
        }
    }

    /// The owned `Vec`, or `None` for foreign memory.
    pub fn into_vec(self) -> Option<Vec<T>> {
        match self.repr {
            Repr::Owned(v) => Some(v),
            Repr::Foreign { .. } => None,
        }
    }
}

impl<T> From<Vec<T>> for Data<T> {
    fn from(v: Vec<T>) -> Data<T> {
        Data {
            repr: Repr::Owned(v),
        }
    }
}

impl<T> std::ops::Deref for Data<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match &self.repr {
            Repr::Owned(v) => v,
            // SAFETY: guaranteed by `Data::foreign`'s contract.
            Repr::Foreign { ptr, len, .. } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), *len)
            },
        }
    }
}

impl<T> std::ops::DerefMut for Data<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.repr {
            Repr::Owned(v) => v,
            // SAFETY: guaranteed by `Data::foreign`'s contract.
            Repr::Foreign { ptr, len, .. } => unsafe {
                std::slice::from_raw_parts_mut(ptr.as_ptr(), *len)
            },
        }
    }
}

impl<T> FromIterator<T> for Data<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Data<T> {
        Data::from(iter.into_iter().collect::<Vec<T>>())
    }
}

/// A clone is always an owned copy.
impl<T: Clone> Clone for Data<T> {
    fn clone(&self) -> Data<T> {
        Data::from(self.to_vec())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Data<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

#[derive(Debug, Clone)]
pub enum Buffer {
    Bool(Data<bool>),
    I64(Data<i64>),
    F32(Data<f32>),
    F64(Data<f64>),
}

impl Buffer {
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::Bool(_) => DType::Bool,
            Buffer::I64(_) => DType::I64,
            Buffer::F32(_) => DType::F32,
            Buffer::F64(_) => DType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Buffer::Bool(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A zero-filled buffer; allocation failure is an error, not an abort.
    pub fn zeros(dtype: DType, n: usize) -> Result<Buffer> {
        Ok(match dtype {
            DType::Bool => Buffer::Bool(alloc_filled(n, false)?.into()),
            DType::I64 => Buffer::I64(alloc_filled(n, 0)?.into()),
            DType::F32 => Buffer::F32(alloc_filled(n, 0.0)?.into()),
            DType::F64 => Buffer::F64(alloc_filled(n, 0.0)?.into()),
        })
    }

    /// Bytes of memory this buffer owns (0 for borrowed foreign memory).
    fn capacity_bytes(&self) -> usize {
        match self {
            Buffer::Bool(v) => v.owned_capacity(),
            Buffer::I64(v) => v.owned_capacity() * 8,
            Buffer::F32(v) => v.owned_capacity() * 4,
            Buffer::F64(v) => v.owned_capacity() * 8,
        }
    }
}

/// An empty `Vec` with room for `n` elements, taken from the cache of freed buffers when one
/// fits; allocation failure is PyTorch's allocator error, not an abort.
pub fn alloc_vec<T: Element>(n: usize) -> Result<Vec<T>> {
    if let Some(v) = cache::take::<T>(n) {
        return Ok(v);
    }
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        Error::Runtime(format!(
            "[enforce fail at alloc_cpu.cpp] . DefaultCPUAllocator: can't allocate memory: you tried to allocate {} bytes.",
            n.saturating_mul(std::mem::size_of::<T>())
        ))
    })?;
    Ok(v)
}

/// A `Vec` of `n` copies of `value` (see [`alloc_vec`]).
pub fn alloc_filled<T: Element>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = alloc_vec(n)?;
    v.resize(n, value);
    Ok(v)
}

/// Drops every cached buffer (returns the bytes released).
pub fn empty_cache() -> usize {
    cache::clear()
}

/// A small pool of large freed buffers, reused by later allocations of about the same size.
///
/// Only buffers of at least `MIN_BYTES` are kept (smaller ones are served well by malloc's
/// own free lists), at most `MAX_ENTRIES` of them and `MAX_BYTES` in all, oldest evicted
/// first; so the cache never grows without bound. A buffer is reused for a request of `n`
/// elements when its capacity is between `n` and `n + n/8`.
mod cache {
    use super::{Buffer, Element};
    use parking_lot::Mutex;

    pub(super) const MIN_BYTES: usize = 1 << 20;
    const MAX_BYTES: usize = 1 << 30;
    const MAX_ENTRIES: usize = 32;

    struct Cache {
        buffers: Vec<Buffer>,
        bytes: usize,
    }

    static CACHE: Mutex<Cache> = Mutex::new(Cache {
        buffers: Vec::new(),
        bytes: 0,
    });

    pub(super) fn take<T: Element>(n: usize) -> Option<Vec<T>> {
        if n.saturating_mul(std::mem::size_of::<T>()) < MIN_BYTES {
            return None;
        }
        let mut cache = CACHE.lock();
        let fits = |b: &Buffer| {
            b.dtype() == T::DTYPE && {
                let cap = b.capacity_bytes() / std::mem::size_of::<T>().max(1);
                cap >= n && cap - n <= n / 8
            }
        };
        // Newest first: the most recently freed buffer is the likeliest to be in cache.
        let i = cache.buffers.iter().rposition(fits)?;
        let buf = cache.buffers.remove(i);
        cache.bytes -= buf.capacity_bytes();
        drop(cache);
        let mut v = T::take_vec(buf)?;
        v.clear();
        Some(v)
    }

    pub(super) fn give(buf: Buffer) {
        let bytes = buf.capacity_bytes();
        if !(MIN_BYTES..=MAX_BYTES).contains(&bytes) {
            return;
        }
        let mut evicted = Vec::new();
        {
            let mut cache = CACHE.lock();
            while cache.buffers.len() >= MAX_ENTRIES || cache.bytes + bytes > MAX_BYTES {
                let old = cache.buffers.remove(0);
                cache.bytes -= old.capacity_bytes();
                evicted.push(old);
            }
            cache.bytes += bytes;
            cache.buffers.push(buf);
        }
        // Freed outside the lock (munmap can be slow).
        drop(evicted);
    }

    pub(super) fn clear() -> usize {
        let buffers = {
            let mut cache = CACHE.lock();
            cache.bytes = 0;
            std::mem::take(&mut cache.buffers)
        };
        buffers.iter().map(Buffer::capacity_bytes).sum()
    }
}

/// Element types a buffer can hold. `cast` conversions follow C/PyTorch semantics.
pub trait Element: Copy + Send + Sync + PartialOrd + Default + std::fmt::Debug + 'static {
    const DTYPE: DType;
    fn slice(buf: &Buffer) -> Option<&[Self]>;
    fn slice_mut(buf: &mut Buffer) -> Option<&mut [Self]>;
    fn into_buffer(v: Vec<Self>) -> Buffer;
    /// The `Vec` inside a buffer of this element type.
    fn take_vec(buf: Buffer) -> Option<Vec<Self>>;
    fn to_f64(self) -> f64;
    fn from_f64(x: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(x: i64) -> Self;
    fn to_bool(self) -> bool;
    fn from_bool(b: bool) -> Self;
}

macro_rules! element {
    ($t:ty, $variant:ident, $dtype:expr,
     to_f64: $tof:expr, from_f64: $fromf:expr, to_i64: $toi:expr, from_i64: $fromi:expr,
     to_bool: $tob:expr, from_bool: $fromb:expr) => {
        impl Element for $t {
            const DTYPE: DType = $dtype;
            #[inline]
            fn slice(buf: &Buffer) -> Option<&[Self]> {
                match buf {
                    Buffer::$variant(v) => Some(v),
                    _ => None,
                }
            }
            #[inline]
            fn slice_mut(buf: &mut Buffer) -> Option<&mut [Self]> {
                match buf {
                    Buffer::$variant(v) => Some(v),
                    _ => None,
                }
            }
            #[inline]
            fn into_buffer(v: Vec<Self>) -> Buffer {
                Buffer::$variant(v.into())
            }
            #[inline]
            fn take_vec(buf: Buffer) -> Option<Vec<Self>> {
                match buf {
                    Buffer::$variant(v) => v.into_vec(),
                    _ => None,
                }
            }
            #[inline]
            fn to_f64(self) -> f64 {
                let f: fn($t) -> f64 = $tof;
                f(self)
            }
            #[inline]
            fn from_f64(x: f64) -> Self {
                let f: fn(f64) -> $t = $fromf;
                f(x)
            }
            #[inline]
            fn to_i64(self) -> i64 {
                let f: fn($t) -> i64 = $toi;
                f(self)
            }
            #[inline]
            fn from_i64(x: i64) -> Self {
                let f: fn(i64) -> $t = $fromi;
                f(x)
            }
            #[inline]
            fn to_bool(self) -> bool {
                let f: fn($t) -> bool = $tob;
                f(self)
            }
            #[inline]
            fn from_bool(b: bool) -> Self {
                let f: fn(bool) -> $t = $fromb;
                f(b)
            }
        }
    };
}

element!(f32, F32, DType::F32, to_f64: |x| x as f64, from_f64: |x| x as f32,
    to_i64: |x| x as i64, from_i64: |x| x as f32, to_bool: |x| x != 0.0, from_bool: |b| b as u8 as f32);
element!(f64, F64, DType::F64, to_f64: |x| x, from_f64: |x| x,
    to_i64: |x| x as i64, from_i64: |x| x as f64, to_bool: |x| x != 0.0, from_bool: |b| b as u8 as f64);
element!(i64, I64, DType::I64, to_f64: |x| x as f64, from_f64: |x| x as i64,
    to_i64: |x| x, from_i64: |x| x, to_bool: |x| x != 0, from_bool: |b| b as i64);
element!(bool, Bool, DType::Bool, to_f64: |x| x as u8 as f64, from_f64: |x| x != 0.0,
    to_i64: |x| x as i64, from_i64: |x| x != 0, to_bool: |x| x, from_bool: |b| b);

pub struct Storage {
    buf: UnsafeCell<Buffer>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        let buf = self.buf.get_mut();
        if buf.capacity_bytes() >= cache::MIN_BYTES {
            cache::give(std::mem::replace(buf, Buffer::Bool(Vec::new().into())));
        }
    }
}

// SAFETY: the buffer is only mutated by in-place ops, which (as in PyTorch) the user must
// not race with other accesses to the same storage. All other access is read-only.
unsafe impl Sync for Storage {}
unsafe impl Send for Storage {}

impl Storage {
    pub fn new(buf: Buffer) -> Storage {
        Storage {
            buf: UnsafeCell::new(buf),
        }
    }

    pub fn dtype(&self) -> DType {
        self.buffer().dtype()
    }

    /// The address of element 0 (what `data_ptr()` and DLPack report).
    pub fn as_ptr(&self) -> *const u8 {
        match self.buffer() {
            Buffer::Bool(v) => v.as_ptr() as *const u8,
            Buffer::I64(v) => v.as_ptr() as *const u8,
            Buffer::F32(v) => v.as_ptr() as *const u8,
            Buffer::F64(v) => v.as_ptr() as *const u8,
        }
    }

    #[inline]
    pub fn buffer(&self) -> &Buffer {
        // SAFETY: see the `Sync` impl: writes happen only through `buffer_mut` in in-place
        // ops, which never hold a shared borrow of the same storage across the write.
        unsafe { &*self.buf.get() }
    }

    /// Mutable access for in-place kernels.
    ///
    /// # Safety
    /// The caller must not hold any other reference into this storage's buffer while the
    /// returned borrow is alive (in-place kernels compute into a temporary first when the
    /// source aliases the destination).
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub unsafe fn buffer_mut(&self) -> &mut Buffer {
        // SAFETY: guaranteed by the caller.
        unsafe { &mut *self.buf.get() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_allocation_is_an_error() {
        assert!(Buffer::zeros(DType::F64, usize::MAX / 16).is_err());
    }

    #[test]
    fn large_freed_buffers_are_reused() {
        let n = 1 << 20;
        let v: Vec<f32> = alloc_filled(n, 1.0).unwrap();
        let ptr = v.as_ptr();
        drop(Storage::new(Buffer::F32(v.into())));
        // Another test may take it first (tests run in parallel); then a fresh one comes.
        let w: Vec<f32> = alloc_filled(n, 2.0).unwrap();
        assert_eq!(w.len(), n);
        assert!(w.iter().all(|&x| x == 2.0));
        let _ = ptr;
        // A different dtype or a much smaller request never takes it.
        drop(Storage::new(Buffer::F32(w.into())));
        let small: Vec<f32> = alloc_vec(n / 2).unwrap();
        assert!(small.capacity() < n);
        let other: Vec<f64> = alloc_vec(n).unwrap();
        assert_eq!(other.len(), 0);
        empty_cache();
    }

    #[test]
    fn element_casts() {
        assert_eq!(<i64 as Element>::from_f64(-2.7), -2);
        assert!(<bool as Element>::from_f64(0.5));
        assert_eq!(<f32 as Element>::from_bool(true), 1.0);
    }
}
