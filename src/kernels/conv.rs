//! Sliding windows for convolution and pooling: `im2col` gathers, for every (batch, channel)
//! plane, the value under each kernel tap at each output position; `col2im` scatter-adds
//! such columns back onto the planes (its adjoint, the backward of `im2col`).
//!
//! A `Window` describes the geometry over 1 to 3 spatial dims. Its `offsets` table maps each
//! (tap, output position) pair to a flat offset inside a plane, or `None` where the tap falls
//! into the padding; both kernels are one pass over that table per plane, spread over the
//! pool by planes above `PARALLEL_THRESHOLD` elements.

use super::{team, PARALLEL_THRESHOLD};
use crate::error::{Error, Result};
use crate::shape::checked_numel;
use crate::storage::Element;
use crate::tensor::Tensor;

/// The geometry of a window op over `spatial` dims (kernel, stride, padding, dilation and
/// the output size, one entry per spatial dim).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub spatial: Vec<usize>,
    pub kernel: Vec<usize>,
    pub stride: Vec<usize>,
    pub padding: Vec<usize>,
    pub dilation: Vec<usize>,
    pub out: Vec<usize>,
}

impl Window {
    /// Checks the geometry: 1 to 3 dims, the same number everywhere, kernel, stride and
    /// dilation at least 1. Output positions whose taps leave the padded input read padding.
    pub fn new(
        spatial: &[usize],
        kernel: &[usize],
        stride: &[usize],
        padding: &[usize],
        dilation: &[usize],
        out: &[usize],
    ) -> Result<Window> {
        let n = spatial.len();
        if !(1..=3).contains(&n)
            || [
                kernel.len(),
                stride.len(),
                padding.len(),
                dilation.len(),
                out.len(),
            ]
            .iter()
            .any(|&l| l != n)
        {
            return Err(Error::Runtime(format!(
                "window geometry must have one entry per spatial dim (1 to 3), got spatial={spatial:?}, kernel={kernel:?}, stride={stride:?}, padding={padding:?}, dilation={dilation:?}, out={out:?}"
            )));
        }
        if kernel.iter().chain(stride).chain(dilation).any(|&v| v == 0) {
            return Err(Error::Runtime(
                "kernel size, stride and dilation must be greater than zero".into(),
            ));
        }
        checked_numel(kernel)?;
        checked_numel(out)?;
        Ok(Window {
            spatial: spatial.to_vec(),
            kernel: kernel.to_vec(),
            stride: stride.to_vec(),
            padding: padding.to_vec(),
            dilation: dilation.to_vec(),
            out: out.to_vec(),
        })
    }

    pub fn taps(&self) -> usize {
        self.kernel.iter().product()
    }

    pub fn positions(&self) -> usize {
        self.out.iter().product()
    }

    pub fn plane(&self) -> usize {
        self.spatial.iter().product()
    }

    /// For tap `k` (row-major over the kernel) and output position `l` (row-major over the
    /// output), entry `k * positions + l`: the offset read inside a plane, or `None` for
    /// padding.
    pub fn offsets(&self) -> Vec<Option<usize>> {
        let (taps, positions) = (self.taps(), self.positions());
        let n = self.spatial.len();
        let mut table = Vec::with_capacity(taps * positions);
        let mut tap = vec![0usize; n];
        for _ in 0..taps {
            let mut pos = vec![0usize; n];
            for _ in 0..positions {
                let mut flat = 0usize;
                let mut inside = true;
                for d in 0..n {
                    let c = (pos[d] * self.stride[d] + tap[d] * self.dilation[d]) as isize
                        - self.padding[d] as isize;
                    if c < 0 || c as usize >= self.spatial[d] {
                        inside = false;
                        break;
                    }
                    flat = flat * self.spatial[d] + c as usize;
                }
                table.push(inside.then_some(flat));
                advance(&mut pos, &self.out);
            }
            advance(&mut tap, &self.kernel);
        }
        table
    }
}

/// The next row-major multi-index within `shape` (wrapping to zeros after the last).
fn advance(index: &mut [usize], shape: &[usize]) {
    for d in (0..index.len()).rev() {
        index[d] += 1;
        if index[d] < shape[d] {
            return;
        }
        index[d] = 0;
    }
}

fn planes_of(x: &Tensor, per_plane: usize) -> usize {
    x.numel().checked_div(per_plane).unwrap_or(0)
}

/// Runs `f(plane_index, out_chunk)` over `out` split into chunks of `chunk` elements, on the
/// pool when the work is large.
fn for_planes<T: Send>(
    out: &mut [T],
    chunk: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    if chunk == 0 {
        return;
    }
    if work >= PARALLEL_THRESHOLD {
        team::for_each_chunk_mut(out, chunk, f);
    } else {
        for (i, c) in out.chunks_mut(chunk).enumerate() {
            f(i, c);
        }
    }
}

fn contiguous<T: Element>(t: &Tensor) -> Result<&[T]> {
    t.contiguous_slice::<T>().ok_or_else(|| {
        Error::Runtime(format!(
            "window kernel expects a contiguous {} tensor, got {}",
            T::DTYPE,
            t.dtype()
        ))
    })
}

/// `x` (planes × prod(spatial), contiguous) to columns (planes × taps × positions): the value
/// under each tap at each output position, `fill` in the padding.
pub fn im2col<T: Element>(x: &Tensor, w: &Window, fill: T) -> Result<Vec<T>> {
    let src = contiguous::<T>(x)?;
    let plane = w.plane();
    let planes = planes_of(x, plane);
    let cols = w.taps() * w.positions();
    let total = checked_numel(&[planes, cols])?;
    let table = w.offsets();
    let mut out = vec![fill; total];
    for_planes(&mut out, cols, total, |p, dst| {
        let base = &src[p * plane..(p + 1) * plane];
        for (d, off) in dst.iter_mut().zip(&table) {
            if let Some(o) = off {
                *d = base[*o];
            }
        }
    });
    Ok(out)
}

/// The adjoint of `im2col`: columns (planes × taps × positions, contiguous) summed back onto
/// planes (planes × prod(spatial)); padding taps are dropped.
pub fn col2im<T: Element + std::ops::AddAssign>(cols: &Tensor, w: &Window) -> Result<Vec<T>> {
    let src = contiguous::<T>(cols)?;
    let per = w.taps() * w.positions();
    let planes = planes_of(cols, per);
    let plane = w.plane();
    let total = checked_numel(&[planes, plane])?;
    let table = w.offsets();
    let mut out = vec![T::default(); total];
    for_planes(&mut out, plane, cols.numel(), |p, dst| {
        let col = &src[p * per..(p + 1) * per];
        for (v, off) in col.iter().zip(&table) {
            if let Some(o) = off {
                dst[*o] += *v;
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn im2col_of_a_padded_3x3_plane() {
        let x = Tensor::from_vec((1..=9).map(|v| v as f64).collect(), &[1, 1, 3, 3]).unwrap();
        // 2x2 kernel, stride 2, padding 1 -> 2x2 outputs
        let w = Window::new(&[3, 3], &[2, 2], &[2, 2], &[1, 1], &[1, 1], &[2, 2]).unwrap();
        let cols = im2col::<f64>(&x, &w, 0.0).unwrap();
        // tap (0,0) reads (-1,-1), (-1,1), (1,-1), (1,1)
        assert_eq!(&cols[0..4], &[0.0, 0.0, 0.0, 5.0]);
        // tap (1,1) reads (0,0), (0,2), (2,0), (2,2)
        assert_eq!(&cols[12..16], &[1.0, 3.0, 7.0, 9.0]);
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> == <x, col2im(c)> for a dilated, strided 1-d window
        let x: Vec<f64> = (0..14).map(|v| (v as f64 * 0.37).sin()).collect();
        let xt = Tensor::from_vec(x.clone(), &[2, 1, 7]).unwrap();
        let w = Window::new(&[7], &[3], &[2], &[2], &[2], &[4]).unwrap();
        let cols = im2col::<f64>(&xt, &w, 0.0).unwrap();
        let c: Vec<f64> = (0..cols.len()).map(|v| (v as f64 * 0.11).cos()).collect();
        let ct = Tensor::from_vec(c.clone(), &[2, 1, 3, 4]).unwrap();
        let back = col2im::<f64>(&ct, &w).unwrap();
        let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-12, "{lhs} {rhs}");
    }

    #[test]
    fn bad_geometry_is_an_error() {
        assert!(Window::new(&[3, 3], &[2], &[1, 1], &[0, 0], &[1, 1], &[2, 2]).is_err());
        assert!(Window::new(&[3], &[0], &[1], &[0], &[1], &[2]).is_err());
    }
}
