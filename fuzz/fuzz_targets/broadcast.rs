//! Broadcasting: random shapes (huge sizes included) through `broadcast_shapes`,
//! `checked_numel` and, for small shapes, `add` on real tensors. Every call must return
//! Ok or Err (never panic) and agree with the reference rule written out below.
#![no_main]

use ferrograd::ops::arith::{add, Operand};
use ferrograd::shape::{broadcast_shapes, checked_numel};
use ferrograd::Tensor;
use libfuzzer_sys::fuzz_target;

#[path = "bytes.rs"]
mod bytes;
use bytes::Bytes;

impl Bytes<'_> {
    /// A size: mostly small, sometimes enormous.
    fn size(&mut self) -> usize {
        let b = self.byte();
        match b % 16 {
            0..=10 => usize::from(b / 16 % 4),
            11 => usize::MAX,
            12 => 1 << 62,
            13 => i64::MAX as usize,
            14 => 1 << 32,
            _ => self.u64() as usize,
        }
    }
    fn shape(&mut self) -> Vec<usize> {
        let n = usize::from(self.byte() % 7);
        (0..n).map(|_| self.size()).collect()
    }
}

/// The broadcast rule, dim by dim from the right: equal sizes, or one of them is 1.
fn reference(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = (i + a.len()).checked_sub(n).map_or(1, |j| a[j]);
        let db = (i + b.len()).checked_sub(n).map_or(1, |j| b[j]);
        out[i] = match (da, db) {
            _ if da == db => da,
            (1, _) => db,
            (_, 1) => da,
            _ => return None,
        };
    }
    Some(out)
}

/// Flat row-major index of `out_index` in a tensor of `shape` broadcast to `out_shape`.
fn source_index(shape: &[usize], out_shape: &[usize], mut flat: usize) -> usize {
    let lead = out_shape.len() - shape.len();
    let mut idx = 0;
    let mut mul = 1;
    for i in (0..out_shape.len()).rev() {
        let coord = flat % out_shape[i];
        flat /= out_shape[i];
        if i >= lead {
            let d = shape[i - lead];
            idx += if d == 1 { 0 } else { coord } * mul;
            mul *= d;
        }
    }
    idx
}

fn small(shape: &[usize]) -> Option<usize> {
    checked_numel(shape).ok().filter(|&n| n <= 256)
}

fuzz_target!(|data: &[u8]| {
    let mut r = Bytes(data);
    let a = r.shape();
    let b = r.shape();
    let got = broadcast_shapes(&a, &b);
    let want = reference(&a, &b);
    match (&got, &want) {
        (Ok(g), Some(w)) => assert_eq!(g.as_slice(), w.as_slice(), "{a:?} vs {b:?}"),
        (Err(_), None) => {}
        _ => panic!("broadcast_shapes({a:?}, {b:?}) = {got:?}, reference {want:?}"),
    }
    // Symmetric in its arguments.
    assert_eq!(
        broadcast_shapes(&b, &a).ok().map(|d| d.to_vec()),
        want.clone()
    );
    if let Some(w) = &want {
        let _ = checked_numel(w);
    }
    let (Some(na), Some(nb)) = (small(&a), small(&b)) else {
        return;
    };
    let va: Vec<f64> = (0..na).map(|i| i as f64).collect();
    let vb: Vec<f64> = (0..nb).map(|i| 1000.0 * i as f64).collect();
    let ta = Tensor::from_vec(va.clone(), &a).expect("small tensor");
    let tb = Tensor::from_vec(vb.clone(), &b).expect("small tensor");
    let alpha = if r.byte() % 2 == 0 { 1.0 } else { 2.0 };
    let sum = add(&ta, Operand::Tensor(&tb), alpha);
    // A result needs a representable element count and strides as well (two empty inputs
    // can broadcast to `[0, 3, 2**63 - 1, 0]`, whose strides overflow).
    let want = want.filter(|w| checked_numel(w).is_ok());
    match (sum, &want) {
        (Ok(s), Some(w)) => {
            assert_eq!(s.shape(), w.as_slice());
            // A broadcast of two small shapes can still be empty or small: check values.
            let n = s.numel();
            let out = s.to_vec::<f64>();
            assert_eq!(out.len(), n);
            for (k, &v) in out.iter().enumerate() {
                let x = va[source_index(&a, w, k)] + alpha * vb[source_index(&b, w, k)];
                assert_eq!(v, x, "element {k} of {a:?} + {b:?}");
            }
        }
        (Err(_), None) => {}
        (s, _) => panic!(
            "add({a:?}, {b:?}) = {:?}, reference {want:?}",
            s.map(|t| t.dims())
        ),
    }
});
