//! Views: random chains of reshape/view/transpose/permute/expand/narrow/squeeze/... with
//! random (often absurd) arguments on a small tensor. Each step returns Ok or Err, never
//! panics; every Ok view has an overflow-free element count and reaches only offsets
//! inside its storage, and its elements are elements of the base.
#![no_main]

use ferrograd::ops::shape as s;
use ferrograd::shape::{checked_numel, infer_shape};
use ferrograd::Tensor;
use libfuzzer_sys::fuzz_target;

#[path = "bytes.rs"]
mod bytes;
use bytes::Bytes;

impl Bytes<'_> {
    /// An int argument: mostly small (negative included), sometimes extreme.
    fn int(&mut self) -> i64 {
        let b = self.byte();
        match b % 16 {
            0..=10 => i64::from(b / 16 % 8) - 3,
            11 => i64::MAX,
            12 => i64::MIN,
            13 => 1 << 62,
            14 => -(1 << 40),
            _ => self.u64() as i64,
        }
    }
    fn ints(&mut self) -> Vec<i64> {
        let n = usize::from(self.byte() % 6);
        (0..n).map(|_| self.int()).collect()
    }
}

const SMALL: usize = 4096;

/// Everything a view must satisfy.
fn check(t: &Tensor, base: usize) {
    let l = t.layout();
    assert_eq!(l.shape.len(), l.strides.len());
    // Sizes are int64s; a non-empty view's count and strides fit. An empty one may have
    // sizes whose product overflows (as in PyTorch: `empty(0).view(0, 4, 2**62)`).
    assert!(l.shape.iter().all(|&d| d <= i64::MAX as usize), "{l:?}");
    // Strides and the offset are int64s too: arithmetic on an empty view's huge strides
    // wraps as in PyTorch, and a result past i64::MAX (negative) must have been refused.
    assert!(l.strides.iter().all(|&s| s <= i64::MAX as usize), "{l:?}");
    assert!(l.offset <= i64::MAX as usize, "{l:?}");
    let n = if l.shape.contains(&0) {
        0
    } else {
        checked_numel(&l.shape)
            .unwrap_or_else(|e| panic!("a view with an overflowing count {:?}: {e}", l.shape))
    };
    assert_eq!(n, t.numel());
    if n > 0 {
        let last = l
            .shape
            .iter()
            .zip(&l.strides)
            .try_fold(l.offset, |acc, (&d, &st)| {
                acc.checked_add((d - 1).checked_mul(st)?)
            });
        let len = t.storage().buffer().len();
        assert!(
            matches!(last, Some(x) if x < len),
            "layout {l:?} reaches {last:?} in a storage of {len}"
        );
    }
    if n <= SMALL {
        let v = t.to_vec::<f64>();
        assert_eq!(v.len(), n);
        assert!(v
            .iter()
            .all(|&x| x >= 0.0 && (x as usize) < base && x.fract() == 0.0));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Bytes(data);
    let ndim = usize::from(r.byte() % 5);
    let shape: Vec<usize> = (0..ndim).map(|_| usize::from(r.byte() % 5)).collect();
    let n: usize = shape.iter().product();
    let base = Tensor::from_vec((0..n).map(|i| i as f64).collect::<Vec<_>>(), &shape)
        .expect("small tensor");
    let mut t = base;
    for _ in 0..8 {
        if r.0.is_empty() {
            break;
        }
        let small = t.numel() <= SMALL;
        let op = r.byte() % 18;
        let next = match op {
            0 => s::view(&t, &r.ints()),
            1 if small => {
                let shape = r.ints();
                let before = t.to_vec::<f64>();
                let out = s::reshape_i64(&t, &shape);
                if let Ok(o) = &out {
                    assert_eq!(o.to_vec::<f64>(), before, "reshape keeps row-major order");
                }
                out
            }
            2 => {
                let req = r.ints();
                if let Ok(sh) = infer_shape(&req, t.numel()) {
                    let count = if sh.contains(&0) {
                        Some(0)
                    } else {
                        checked_numel(&sh).ok()
                    };
                    assert_eq!(count, Some(t.numel()), "{req:?}");
                }
                continue;
            }
            3 => s::transpose(&t, r.int(), r.int()),
            4 => s::permute(&t, &r.ints()),
            5 => s::expand_i64(&t, &r.ints()),
            6 => {
                let sizes: Vec<usize> = r.ints().iter().map(|&d| d as usize).collect();
                s::expand(&t, &sizes)
            }
            7 => s::narrow(&t, r.int(), r.int(), r.int()),
            8 => {
                let dims = r.ints();
                s::squeeze(&t, (r.byte() % 2 == 0).then_some(&dims[..]))
            }
            9 => s::unsqueeze(&t, r.int()),
            10 => s::flatten(&t, r.int(), r.int()),
            11 => s::unflatten(&t, r.int(), &r.ints()),
            12 => s::movedim(&t, &r.ints(), &r.ints()),
            13 => s::diagonal(&t, r.int(), r.int(), r.int()),
            14 => s::t(&t),
            15 if small => s::contiguous(&t),
            16 if t.shape().iter().all(|&d| d <= SMALL) => {
                let parts = match r.byte() % 3 {
                    0 => s::split(&t, r.int(), r.int()),
                    1 => {
                        let (chunks, dim) = (r.int(), r.int());
                        // An empty dim gives `chunks` empty pieces, as in PyTorch: a huge count
                        // is a (handled) allocation failure, which ASan would report as a crash
                        // before `try_reserve` sees it; not a view bug.
                        if chunks > SMALL as i64 && t.shape().contains(&0) {
                            continue;
                        }
                        s::chunk(&t, chunks, dim)
                    }
                    _ => s::unbind(&t, r.int()),
                };
                match parts {
                    Ok(ps) => {
                        ps.iter().for_each(|p| check(p, n));
                        match ps.into_iter().next() {
                            Some(p) => Ok(p),
                            None => continue,
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            _ => continue,
        };
        if let Ok(v) = next {
            check(&v, n);
            t = v;
        }
    }
});
