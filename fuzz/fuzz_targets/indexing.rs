//! Index arithmetic: index_select / gather / scatter / scatter_add / index_add /
//! index_fill / take / index / index_put with random indices (often negative or out of
//! range), random dims and shapes, on contiguous and transposed inputs. Each call returns
//! Ok or Err, never panics; what it reads comes from the input.
#![no_main]

use ferrograd::ops::index::{self as ix, Value};
use ferrograd::ops::shape as s;
use ferrograd::{DType, Scalar, Tensor};
use libfuzzer_sys::fuzz_target;

#[path = "bytes.rs"]
mod bytes;
use bytes::Bytes;

impl Bytes<'_> {
    /// An index or dim: mostly small (negative included), sometimes extreme.
    fn int(&mut self) -> i64 {
        let b = self.byte();
        match b % 16 {
            0..=11 => i64::from(b / 16 % 10) - 5,
            12 => i64::MAX,
            13 => i64::MIN,
            14 => -(1 << 40),
            _ => self.u64() as i64,
        }
    }
    fn shape(&mut self, max_ndim: u8) -> Vec<usize> {
        let n = usize::from(self.byte() % (max_ndim + 1));
        (0..n).map(|_| usize::from(self.byte() % 5)).collect()
    }
    /// An index tensor: int64 mostly, sometimes another dtype for the error paths.
    fn index(&mut self, max_ndim: u8) -> Tensor {
        let shape = self.shape(max_ndim);
        let n: usize = shape.iter().product();
        let vals: Vec<i64> = (0..n).map(|_| self.int()).collect();
        let t = Tensor::from_vec(vals, &shape).expect("small index");
        match self.byte() % 8 {
            0 => ferrograd::ops::shape::to_dtype(&t, DType::F32).expect("cast"),
            1 => ferrograd::ops::shape::to_dtype(&t, DType::Bool).expect("cast"),
            _ => t,
        }
    }
}

/// Every element of an Ok result read from `x` is one of x's values `0..n`.
fn from_input(t: &Tensor, n: usize) {
    let v = t.to_vec::<f64>();
    assert_eq!(v.len(), t.numel());
    assert!(v.iter().all(|&x| x >= 0.0 && (x as usize) < n), "{v:?}");
}

fuzz_target!(|data: &[u8]| {
    let mut r = Bytes(data);
    let shape = r.shape(4);
    let n: usize = shape.iter().product();
    let mut x = Tensor::from_vec((0..n).map(|i| i as f64).collect::<Vec<_>>(), &shape)
        .expect("small tensor");
    if r.byte() % 3 == 0 && x.ndim() >= 2 {
        x = s::transpose(&x, 0, -1).expect("transpose");
    }
    for _ in 0..4 {
        if r.0.is_empty() {
            break;
        }
        let dim = r.int();
        match r.byte() % 10 {
            0 => {
                let index = r.index(2);
                if let Ok(out) = ix::index_select(&x, dim, &index) {
                    from_input(&out, n);
                    let d = ferrograd::shape::wrap_dim(dim, x.ndim()).expect("dim was valid");
                    let mut want = x.dims().to_vec();
                    if !want.is_empty() {
                        want[d] = index.numel();
                    }
                    assert_eq!(out.shape(), &want[..]);
                }
            }
            1 => {
                let index = r.index(4);
                if let Ok(out) = ix::gather(&x, dim, &index) {
                    from_input(&out, n);
                    assert_eq!(out.shape(), index.shape());
                }
            }
            2 | 3 => {
                let index = r.index(4);
                let acc = r.byte() % 2 == 0;
                let src = if r.byte() % 2 == 0 {
                    Value::Scalar(Scalar::Float(-1.0))
                } else {
                    let sh = r.shape(4);
                    let m: usize = sh.iter().product();
                    Value::Tensor(Tensor::from_vec(vec![-1.0f64; m], &sh).expect("src"))
                };
                if let Ok(out) = ix::scatter(&x, dim, &index, src, acc) {
                    assert_eq!(out.shape(), x.shape());
                }
            }
            4 => {
                let index = r.index(2);
                let sh = r.shape(4);
                let m: usize = sh.iter().product();
                let src = Tensor::from_vec(vec![1.0f64; m], &sh).expect("src");
                if let Ok(out) = ix::index_add(&x, dim, &index, &src, 2.0) {
                    assert_eq!(out.shape(), x.shape());
                }
            }
            5 => {
                let index = r.index(2);
                if let Ok(out) = ix::index_fill(&x, dim, &index, Value::Scalar(Scalar::Int(7))) {
                    assert_eq!(out.shape(), x.shape());
                }
            }
            6 => {
                let index = r.index(3);
                if let Ok(out) = ix::take(&x, &index) {
                    from_input(&out, n);
                    assert_eq!(out.shape(), index.shape());
                }
            }
            7 => {
                let k = usize::from(r.byte() % 4);
                let idx: Vec<Option<Tensor>> = (0..k)
                    .map(|_| (r.byte() % 4 != 0).then(|| r.index(2)))
                    .collect();
                if let Ok(out) = ix::index(&x, &idx) {
                    from_input(&out, n);
                }
            }
            8 => {
                let k = usize::from(r.byte() % 4);
                let idx: Vec<Tensor> = (0..k).map(|_| r.index(2)).collect();
                let sh = r.shape(2);
                let m: usize = sh.iter().product();
                let vals = Tensor::from_vec(vec![-1.0f64; m], &sh).expect("values");
                let y = s::clone(&x).expect("copy");
                let _ = ix::index_put_(&y, &idx, &vals, r.byte() % 2 == 0);
            }
            _ => {
                let sh = r.shape(4);
                let m: usize = sh.iter().product();
                let src = Tensor::from_vec(vec![1.0f64; m], &sh).expect("src");
                let index = r.index(2);
                let y = s::clone(&x).expect("copy");
                let _ = ix::index_add_(&y, dim, &index, &src, 1.0);
            }
        }
    }
});
