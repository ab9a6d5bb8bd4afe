//! Elementwise kernels: `unary` (map), `binary` (broadcasting zip) and `cast`.
//! Outputs are always new contiguous tensors.

use super::{for_each_offset, for_each_offset2, pool, PARALLEL_THRESHOLD};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::broadcast_shapes;
use crate::storage::{Buffer, Element};
use crate::tensor::Tensor;
use rayon::prelude::*;

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

/// `out[i] = f(t[i])`. `t` must have dtype `T`.
pub fn unary<T: Element, U: Element>(t: &Tensor, f: impl Fn(T) -> U + Sync) -> Result<Tensor> {
    let n = t.numel();
    let mut out: Vec<U> = Vec::new();
    out.try_reserve_exact(n).map_err(|_| alloc_error::<U>(n))?;
    if let Some(src) = t.contiguous_slice::<T>() {
        if n >= PARALLEL_THRESHOLD {
            out.resize(n, U::default());
            pool().install(|| {
                out.par_chunks_mut(CHUNK)
                    .zip(src.par_chunks(CHUNK))
                    .for_each(|(o, s)| {
                        for (o, &x) in o.iter_mut().zip(s) {
                            *o = f(x);
                        }
                    })
            });
        } else {
            out.extend(src.iter().map(|&x| f(x)));
        }
    } else {
        let src = typed::<T>(t)?;
        for_each_offset(t.layout(), |o| out.push(f(src[o])));
    }
    Tensor::from_vec(out, t.shape())
}

/// `out[i] = f(a[i], b[i])` with broadcasting. `a` and `b` must both have dtype `T`.
pub fn binary<T: Element, U: Element>(
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(T, T) -> U + Sync,
) -> Result<Tensor> {
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let n: usize = crate::shape::checked_numel(&shape)?;
    let mut out: Vec<U> = Vec::new();
    out.try_reserve_exact(n).map_err(|_| alloc_error::<U>(n))?;
    let same = a.shape() == b.shape();
    match (same, a.contiguous_slice::<T>(), b.contiguous_slice::<T>()) {
        (true, Some(x), Some(y)) => {
            if n >= PARALLEL_THRESHOLD {
                out.resize(n, U::default());
                pool().install(|| {
                    out.par_chunks_mut(CHUNK)
                        .zip(x.par_chunks(CHUNK).zip(y.par_chunks(CHUNK)))
                        .for_each(|(o, (xs, ys))| {
                            for ((o, &p), &q) in o.iter_mut().zip(xs).zip(ys) {
                                *o = f(p, q);
                            }
                        })
                });
            } else {
                out.extend(x.iter().zip(y).map(|(&p, &q)| f(p, q)));
            }
        }
        _ => {
            let (xa, xb) = (typed::<T>(a)?, typed::<T>(b)?);
            // A one-element operand is the common "tensor op scalar-tensor" case.
            if b.numel() == 1 && a.shape() == shape.as_slice() {
                let q = xb[b.layout().offset];
                if let Some(x) = a.contiguous_slice::<T>() {
                    out.extend(x.iter().map(|&p| f(p, q)));
                } else {
                    for_each_offset(a.layout(), |o| out.push(f(xa[o], q)));
                }
            } else {
                let la = a.layout().broadcast_to(&shape)?;
                let lb = b.layout().broadcast_to(&shape)?;
                for_each_offset2(&la, &lb, |oa, ob| out.push(f(xa[oa], xb[ob])));
            }
        }
    }
    Tensor::from_vec(out, &shape)
}

/// A contiguous copy of `t` converted to `dtype` (`t` itself when nothing changes).
pub fn cast(t: &Tensor, dtype: DType) -> Result<Tensor> {
    let n = t.numel();
    let buf = match dtype {
        DType::Bool => Buffer::Bool(super::gather_cast::<bool>(t)),
        DType::I64 => Buffer::I64(super::gather_cast::<i64>(t)),
        DType::F32 => Buffer::F32(super::gather_cast::<f32>(t)),
        DType::F64 => Buffer::F64(super::gather_cast::<f64>(t)),
    };
    debug_assert_eq!(buf.len(), n);
    Tensor::from_buffer(buf, t.shape())
}

fn alloc_error<T>(n: usize) -> Error {
    Error::Runtime(format!(
        "[enforce fail at alloc_cpu.cpp] . DefaultCPUAllocator: can't allocate memory: you tried to allocate {} bytes.",
        n.saturating_mul(std::mem::size_of::<T>())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn mismatched_shapes_are_an_error() {
        let a = Tensor::zeros(&[2, 3], DType::F32).unwrap();
        let b = Tensor::zeros(&[2, 4], DType::F32).unwrap();
        assert!(binary::<f32, f32>(&a, &b, |x, y| x + y).is_err());
    }
}
