//! Shapes, strides and layouts: the pure arithmetic of where an element lives.
//!
//! A `Layout` is shape + strides (in elements) + offset into a storage, and answers every
//! contiguity and view question. Element counts are overflow-checked: a shape whose count
//! does not fit in 64 bits is an error, never a wrap-around.

use crate::error::{Error, Result};
use smallvec::SmallVec;

pub type Dims = SmallVec<[usize; 4]>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub shape: Dims,
    pub strides: Dims,
    pub offset: usize,
}

/// Number of elements of `shape`, or an error if it overflows.
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    // A size is an int64 in PyTorch: one past `i64::MAX` is a negative size cast (found by the
    // cargo-fuzz target `views`: `expand` to `[2**64 - 2, 0, 0, 2]` was accepted, as the 0
    // hid it from the count and the leading dim from the strides).
    if let Some(&d) = shape.iter().find(|&&d| d > i64::MAX as usize) {
        let sizes: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        return Err(Error::Runtime(format!(
            "Trying to create tensor with negative dimension {}: {}",
            d as i64,
            format_i64s(&sizes)
        )));
    }
    // A zero anywhere makes the product 0 but the other factors must still be sane.
    let mut n: usize = 1;
    let mut overflow = false;
    for &d in shape {
        match n.checked_mul(d) {
            Some(v) => n = v,
            None => overflow = true,
        }
    }
    if overflow || n > (isize::MAX as usize) / 8 {
        return Err(Error::Runtime(format!(
            "Storage size calculation overflowed with sizes={}",
            format_shape(shape)
        )));
    }
    // With a 0 the element count is 0, but the contiguous strides (products of the later
    // sizes, a 0 counting as 1) must still fit an int64: PyTorch rejects `[0, 2**62, 4]`.
    let largest_stride = shape
        .iter()
        .skip(1)
        .try_fold(1usize, |a, &d| a.checked_mul(d.max(1)));
    if largest_stride.is_none_or(|s| s > i64::MAX as usize) {
        return Err(Error::Runtime("Stride calculation overflowed".into()));
    }
    Ok(n)
}

/// `[2, 3]`, as PyTorch prints sizes in messages.
pub fn format_shape(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// The error PyTorch's `as_strided` gives for a stride past `i64::MAX` (a negative int64),
/// which a view of an empty tensor may reach through wrapping stride arithmetic.
pub fn check_strides_fit(strides: &[usize]) -> Result<()> {
    if strides.iter().all(|&s| s <= i64::MAX as usize) {
        return Ok(());
    }
    let s: Vec<i64> = strides.iter().map(|&s| s as i64).collect();
    Err(Error::Runtime(format!(
        "as_strided: Negative strides are not supported at the moment, got strides: {}",
        format_i64s(&s)
    )))
}

/// `offset`, or PyTorch's error when wrapping offset arithmetic went past `i64::MAX`.
pub fn check_offset_fits(offset: usize) -> Result<usize> {
    if offset > i64::MAX as usize {
        return Err(Error::Runtime(format!(
            "Tensor: invalid storage offset {}",
            offset as i64
        )));
    }
    Ok(offset)
}

/// Row-major strides for `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(0, shape.len());
    let mut acc = 1usize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.saturating_mul(shape[i].max(1));
    }
    strides
}

/// Normalise a possibly negative dimension index against `ndim` (PyTorch's `maybe_wrap_dim`).
/// A zero-dim tensor accepts dims -1 and 0.
pub fn wrap_dim(dim: i64, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as i64;
    if dim < -n || dim >= n {
        return Err(Error::DimOutOfRange {
            min: -n,
            max: n - 1,
            got: dim,
        });
    }
    Ok(if dim < 0 {
        (dim + n) as usize
    } else {
        dim as usize
    })
}

/// The broadcast shape of two shapes, with PyTorch's error for a mismatch.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, n);
    // From the last dim backwards, as PyTorch: with several mismatches its error names the last.
    for i in (0..n).rev() {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::BroadcastMismatch {
                a: da,
                b: db,
                dim: i,
            });
        };
    }
    Ok(out)
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            // `from_slice` copies; `into` would clone element by element.
            shape: SmallVec::from_slice(shape),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        // A 0 anywhere makes the count 0, even when the other sizes multiply past usize (an
        // empty view may have such sizes, as in PyTorch: `empty(0).view(0, 4, 2**62)`;
        // found by the cargo-fuzz target `views`).
        if self.shape.contains(&0) {
            0
        } else {
            self.shape.iter().product()
        }
    }

    /// True when elements are laid out row-major without gaps (size-1 dims may have any
    /// stride). Every empty layout is contiguous, as in PyTorch.
    /// Every element at its own memory location with no gaps, in some order of the dims
    /// (PyTorch's `is_non_overlapping_and_dense`: a permuted contiguous layout). Dims of
    /// fewer than 2 elements take no part (so an empty layout is judged by its other dims;
    /// callers that care about empty tensors decide those first).
    pub fn is_non_overlapping_and_dense(&self) -> bool {
        let mut dims: SmallVec<[usize; 8]> = (0..self.shape.len())
            .filter(|&d| self.shape[d] >= 2)
            .collect();
        dims.sort_by_key(|&d| self.strides[d]);
        let mut expected = 1usize;
        for d in dims {
            if self.strides[d] != expected {
                return false;
            }
            expected = expected.saturating_mul(self.shape[d]);
        }
        true
    }

    pub fn is_contiguous(&self) -> bool {
        if self.shape.contains(&0) {
            return true;
        }
        let mut expected = 1usize;
        for i in (0..self.shape.len()).rev() {
            let d = self.shape[i];
            if d != 1 {
                if self.strides[i] != expected {
                    return false;
                }
                expected *= d;
            }
        }
        true
    }

    /// A layout reading this one broadcast to `shape` (stride 0 on expanded dims). A new
    /// leading dim of size 1 gets the stride PyTorch's `expand` gives it (size * stride of the
    /// dim after it), so views report PyTorch's strides.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let n = shape.len();
        if self.ndim() > n {
            return Err(Error::Runtime(format!(
                "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension 0.  Target sizes: {}.  Tensor sizes: {}",
                shape.first().copied().unwrap_or(0),
                self.shape.first().copied().unwrap_or(0),
                format_shape(shape),
                format_shape(&self.shape)
            )));
        }
        let lead = n - self.ndim();
        let mut strides: Dims = SmallVec::from_elem(0, n);
        for i in (0..n).rev() {
            if i < lead {
                if shape[i] == 1 {
                    // Wrapping, as PyTorch's int64 product (only an empty view can
                    // overflow here; `expand` refuses the result past i64::MAX).
                    strides[i] = shape
                        .get(i + 1)
                        .map_or(1, |&s| s.wrapping_mul(strides[i + 1]));
                }
                continue;
            }
            let d = self.shape[i - lead];
            if d == shape[i] {
                strides[i] = self.strides[i - lead];
            } else if d == 1 {
                strides[i] = 0;
            } else {
                return Err(Error::Runtime(format!(
                    "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension {}.  Target sizes: {}.  Tensor sizes: {}",
                    shape[i],
                    d,
                    i,
                    format_shape(shape),
                    format_shape(&self.shape)
                )));
            }
        }
        Ok(Layout {
            shape: shape.into(),
            strides,
            offset: self.offset,
        })
    }

    /// The strides a view of shape `new_shape` would have, if one exists without copying
    /// (PyTorch's `computeStride`).
    pub fn view_strides(&self, new_shape: &[usize]) -> Option<Dims> {
        let old_numel = self.numel();
        // A view must hold exactly the elements it aliases (callers check this with
        // PyTorch's message; a mismatch here must never become an out-of-bounds layout).
        let new_numel = if new_shape.contains(&0) {
            Some(0)
        } else {
            new_shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
        };
        if new_numel != Some(old_numel) {
            return None;
        }
        if old_numel == 0 {
            // PyTorch's `computeStride` for an empty view: row-major strides (a 0 counting as
            // 1) in wrapping int64 arithmetic; callers refuse a result past i64::MAX with
            // `check_view_strides`.
            let mut strides: Dims = SmallVec::from_elem(1, new_shape.len());
            for i in (0..new_shape.len().saturating_sub(1)).rev() {
                strides[i] = new_shape[i + 1].max(1).wrapping_mul(strides[i + 1]);
            }
            return Some(strides);
        }
        let mut new_strides: Dims = SmallVec::from_elem(0, new_shape.len());
        if self.shape.is_empty() {
            // zero-dim: every new dim is 1
            for s in new_strides.iter_mut() {
                *s = 1;
            }
            return Some(new_strides);
        }
        let mut view_d = new_shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last()?;
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        let ndim = self.shape.len();
        for tensor_d in (0..ndim).rev() {
            tensor_numel *= self.shape[tensor_d];
            let boundary = tensor_d == 0
                || (self.shape[tensor_d - 1] != 1
                    && self.strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
            if boundary {
                while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1)
                {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= new_shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(new_strides)
    }

    /// Dims swapped (`transpose`).
    pub fn transpose(&self, a: usize, b: usize) -> Layout {
        let mut l = self.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        l
    }
}

/// PyTorch's error for a view whose (wrapped) row-major strides went past `i64::MAX`:
/// `empty(0).view(0, 2**62, 2)` is refused, `empty(0).view(0, 2**62, 4)` is not.
pub fn check_view_strides(strides: &[usize]) -> Result<()> {
    if strides.iter().any(|&s| s > i64::MAX as usize) {
        return Err(Error::Runtime("Stride calculation overflowed".into()));
    }
    Ok(())
}

/// A list of ints as PyTorch prints it in messages (`[-1, 3]`).
pub fn format_i64s(requested: &[i64]) -> String {
    let parts: Vec<String> = requested.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Resolve a requested shape that may contain one `-1` against `numel`.
pub fn infer_shape(requested: &[i64], numel: usize) -> Result<Dims> {
    let invalid = || Error::InvalidShape {
        shape: format_i64s(requested),
        numel,
    };
    let mut infer_at = None;
    let mut known = 1usize;
    let mut out: Dims = SmallVec::with_capacity(requested.len());
    for (i, &d) in requested.iter().enumerate() {
        if d == -1 {
            if infer_at.is_some() {
                return Err(Error::Runtime("only one dimension can be inferred".into()));
            }
            infer_at = Some(i);
            out.push(1);
        } else if d < 0 {
            return Err(Error::Runtime(format!(
                "invalid shape dimension {d} at index {i} of shape {}",
                format_i64s(requested)
            )));
        } else {
            known = known.checked_mul(d as usize).ok_or_else(invalid)?;
            out.push(d as usize);
        }
    }
    match infer_at {
        Some(i) => {
            if known == 0 && numel == 0 {
                return Err(Error::Runtime(format!(
                    "cannot reshape tensor of 0 elements into shape {} because the unspecified dimension size -1 can be any value and is ambiguous",
                    format_i64s(requested)
                )));
            }
            if known == 0 || !numel.is_multiple_of(known) {
                return Err(invalid());
            }
            out[i] = numel / known;
        }
        None => {
            if known != numel {
                return Err(invalid());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_overlapping_and_dense_layouts() {
        let c = Layout::contiguous(&[2, 3, 4]);
        assert!(c.is_non_overlapping_and_dense());
        assert!(c.transpose(0, 2).is_non_overlapping_and_dense());
        let strided = |shape: &[usize], strides: &[usize]| Layout {
            shape: shape.into(),
            strides: strides.into(),
            offset: 0,
        };
        assert!(!strided(&[3], &[2]).is_non_overlapping_and_dense()); // x[::2]
        assert!(!strided(&[2, 3], &[0, 1]).is_non_overlapping_and_dense()); // expanded
        assert!(!strided(&[2, 2], &[3, 1]).is_non_overlapping_and_dense()); // a column slice
        assert!(strided(&[1, 3, 1], &[7, 1, 9]).is_non_overlapping_and_dense());
    }

    #[test]
    fn sizes_past_int64_and_empty_counts_do_not_overflow() {
        // Found by the cargo-fuzz target `views`.
        let e = checked_numel(&[usize::MAX - 1, 0, 0, 2]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Trying to create tensor with negative dimension -2: [-2, 0, 0, 2]"
        );
        assert!(checked_numel(&[0, 1 << 63]).is_err());
        assert_eq!(checked_numel(&[1 << 62, 0]).unwrap(), 0);
        let l = Layout {
            shape: [1usize << 62, 1 << 62, 0].as_slice().into(),
            strides: [0usize, 0, 1].as_slice().into(),
            offset: 0,
        };
        assert_eq!(l.numel(), 0);
    }

    #[test]
    fn broadcast_mismatch_message_matches_pytorch() {
        let e = broadcast_shapes(&[2, 3], &[2, 4]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"
        );
        assert_eq!(broadcast_shapes(&[3, 1], &[4]).unwrap().as_slice(), &[3, 4]);
        assert_eq!(broadcast_shapes(&[], &[2, 2]).unwrap().as_slice(), &[2, 2]);
    }

    #[test]
    fn numel_overflow_is_an_error() {
        assert!(checked_numel(&[1 << 40, 1 << 40]).is_err());
        assert!(checked_numel(&[0, 1 << 62, 4]).is_err());
        assert_eq!(checked_numel(&[0, 5]).unwrap(), 0);
        assert_eq!(checked_numel(&[]).unwrap(), 1);
    }

    #[test]
    fn view_of_transposed_is_refused_and_of_contiguous_allowed() {
        let l = Layout::contiguous(&[2, 3]);
        assert_eq!(l.view_strides(&[3, 2]).unwrap().as_slice(), &[2, 1]);
        let t = l.transpose(0, 1);
        assert!(!t.is_contiguous());
        assert!(t.view_strides(&[6]).is_none());
        assert!(t.view_strides(&[3, 2, 1]).is_some());
    }

    #[test]
    fn every_empty_layout_is_contiguous() {
        let l = Layout {
            shape: [0, 2].as_slice().into(),
            strides: [1, 5].as_slice().into(),
            offset: 0,
        };
        assert!(l.is_contiguous());
        assert!(!Layout::contiguous(&[2, 3]).transpose(0, 1).is_contiguous());
    }

    #[test]
    fn broadcast_gives_new_leading_size_one_dims_pytorch_strides() {
        let l = Layout::contiguous(&[3]);
        assert_eq!(l.broadcast_to(&[1, 3]).unwrap().strides.as_slice(), &[3, 1]);
        assert_eq!(
            l.broadcast_to(&[1, 1, 3]).unwrap().strides.as_slice(),
            &[3, 3, 1]
        );
        assert_eq!(
            l.broadcast_to(&[2, 1, 3]).unwrap().strides.as_slice(),
            &[0, 3, 1]
        );
        let e = l.broadcast_to(&[2, 4]).unwrap_err().to_string();
        assert!(e.starts_with("The expanded size of the tensor (4) must match the existing size (3) at non-singleton dimension 1."));
    }

    #[test]
    fn infer_shape_handles_minus_one() {
        assert_eq!(infer_shape(&[-1, 2], 6).unwrap().as_slice(), &[3, 2]);
        assert_eq!(
            infer_shape(&[3, 5], 4).unwrap_err().to_string(),
            "shape '[3, 5]' is invalid for input of size 4"
        );
        assert_eq!(
            infer_shape(&[2, -2], 4).unwrap_err().to_string(),
            "invalid shape dimension -2 at index 1 of shape [2, -2]"
        );
        assert!(infer_shape(&[-1, 0], 0)
            .unwrap_err()
            .to_string()
            .starts_with("cannot reshape tensor of 0 elements into shape [-1, 0]"));
        assert_eq!(
            infer_shape(&[-1, 0], 6).unwrap_err().to_string(),
            "shape '[-1, 0]' is invalid for input of size 6"
        );
    }

    #[test]
    fn wrap_dim_range() {
        assert_eq!(wrap_dim(-1, 2).unwrap(), 1);
        assert_eq!(
            wrap_dim(2, 2).unwrap_err().to_string(),
            "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
        );
        assert_eq!(wrap_dim(0, 0).unwrap(), 0);
    }
}
