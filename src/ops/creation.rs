//! Creation with computed or random values: `linspace`, `logspace`, `eye`, `randint`,
//! `randperm`, `normal`, `bernoulli`/`bernoulli_`, `multinomial`.
//!
//! Random values come from the global generator (`crate::random`), locked once per call, so
//! results are reproducible under `manual_seed` (they are not PyTorch's numbers). `normal`
//! and `bernoulli` are recorded with PyTorch's node names and zero grads
//! (`shape::Backward::ZeroGrad`).

use super::reduce::type_word;
use super::shape::{zeroed, Backward as ShapeOp};
use super::{track, track_unsaved, Backward as Op};
use crate::any_dispatch;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels;
use crate::random::{Rng, GENERATOR};
use crate::shape::{broadcast_shapes, checked_numel, Dims};
use crate::storage::Element;
use crate::tensor::Tensor;
use num_traits::Float;
use smallvec::smallvec;

/// `f(i)` for `i in 0..n`, collected into a tensor of `shape` and dtype `T`.
fn generate<T: Element>(shape: &[usize], mut f: impl FnMut(usize) -> T) -> Result<Tensor> {
    let mut v = zeroed::<T>(checked_numel(shape)?)?;
    for (i, x) in v.iter_mut().enumerate() {
        *x = f(i);
    }
    Tensor::from_vec(v, shape)
}

/// `f(i)` (an `f64`) for `i in 0..n`, as a tensor of `shape` and `dtype`.
fn generate_f64(shape: &[usize], dtype: DType, mut f: impl FnMut(usize) -> f64) -> Result<Tensor> {
    any_dispatch!(dtype, T => generate::<T>(shape, |i| T::from_f64(f(i))))
}

fn not_for(op: &'static str, dtype: DType) -> Error {
    Error::NotImplementedFor {
        op,
        type_word: type_word(dtype),
    }
}

fn check_steps(steps: i64) -> Result<usize> {
    if steps < 0 {
        return Err(Error::Runtime(
            "number of steps must be non-negative".into(),
        ));
    }
    Ok(steps as usize)
}

/// The `i`-th of `steps` points from `start` to `end`, computed from whichever end is
/// nearer (PyTorch's symmetric formula, which hits `end` exactly); one point is `start`.
fn spaced<F: Float>(start: F, end: F, step: F, steps: usize, i: usize) -> F {
    let n = |k: usize| F::from(k).unwrap_or_else(F::nan);
    if i < steps / 2 || steps == 1 {
        start + step * n(i)
    } else {
        end - step * n(steps - 1 - i)
    }
}

/// `linspace(start, end, steps)`: evenly spaced values, computed in `dtype` as PyTorch does
/// (integer dtypes step in `f64` and truncate).
pub fn linspace(start: f64, end: f64, steps: i64, dtype: DType) -> Result<Tensor> {
    let steps = check_steps(steps)?;
    let div = steps.saturating_sub(1).max(1);
    match dtype {
        DType::Bool => Err(not_for("linspace_cpu", dtype)),
        DType::F32 => {
            let (s, e) = (start as f32, end as f32);
            generate::<f32>(&[steps], |i| spaced(s, e, (e - s) / div as f32, steps, i))
        }
        DType::F64 => generate::<f64>(&[steps], |i| {
            spaced(start, end, (end - start) / div as f64, steps, i)
        }),
        DType::I64 => {
            let (s, e) = (start as i64 as f64, end as i64 as f64);
            generate::<i64>(&[steps], |i| {
                spaced(s, e, (e - s) / div as f64, steps, i) as i64
            })
        }
    }
}

/// `logspace(start, end, steps, base)`: `base` to the powers `linspace(start, end, steps)`.
pub fn logspace(start: f64, end: f64, steps: i64, base: f64, dtype: DType) -> Result<Tensor> {
    let steps = check_steps(steps)?;
    if dtype == DType::Bool {
        return Err(not_for("logspace_cpu", dtype));
    }
    let (s, e) = if dtype == DType::I64 {
        (start as i64 as f64, end as i64 as f64)
    } else {
        (start, end)
    };
    let step = (e - s) / steps.saturating_sub(1).max(1) as f64;
    generate_f64(&[steps], dtype, |i| base.powf(spaced(s, e, step, steps, i)))
}

/// `eye(n, m)`: ones on the diagonal of an `n` x `m` matrix.
pub fn eye(n: i64, m: Option<i64>, dtype: DType) -> Result<Tensor> {
    let m = m.unwrap_or(n);
    for (name, v) in [("n", n), ("m", m)] {
        if v < 0 {
            return Err(Error::Runtime(format!(
                "{name} must be greater or equal to 0, got {v}"
            )));
        }
    }
    let cols = m as usize;
    generate_f64(&[n as usize, cols], dtype, |i| {
        (i / cols == i % cols) as u8 as f64
    })
}

/// `randint(low, high, size)`: integers drawn uniformly from `[low, high)`.
pub fn randint(low: i64, high: i64, shape: &[usize], dtype: DType) -> Result<Tensor> {
    if low >= high {
        return Err(Error::Runtime(format!(
            "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )));
    }
    if dtype == DType::Bool {
        if low < 0 {
            return Err(Error::Runtime("from is out of bounds for bool".into()));
        }
        if high - 1 > 1 {
            return Err(Error::Runtime("to - 1 is out of bounds for bool".into()));
        }
    }
    let range = high.wrapping_sub(low) as u64;
    let mut g = GENERATOR.lock();
    generate_f64(shape, dtype, |_| {
        low.wrapping_add((g.next_u64() % range) as i64) as f64
    })
}

/// `randperm(n)`: a random permutation of `0..n` (Fisher-Yates).
pub fn randperm(n: i64, dtype: DType) -> Result<Tensor> {
    if n < 0 {
        return Err(Error::Runtime(format!(
            "Trying to create tensor with negative dimension {n}: [{n}]"
        )));
    }
    if dtype == DType::Bool {
        return Err(not_for("randperm", dtype));
    }
    let n = n as usize;
    let mut perm = generate::<i64>(&[n], |i| i as i64)?.to_vec::<i64>();
    let mut g = GENERATOR.lock();
    for i in (1..n).rev() {
        let j = (g.next_u64() % (i as u64 + 1)) as usize;
        perm.swap(i, j);
    }
    drop(g);
    generate_f64(&[n], dtype, |i| perm[i] as f64)
}

/// A `mean` or `std` argument of `normal`: a tensor or a number.
#[derive(Clone, Copy)]
pub enum Param<'a> {
    Tensor(&'a Tensor),
    Float(f64),
}

fn check_std(std: f64) -> Result<()> {
    if std >= 0.0 {
        return Ok(());
    }
    let shown = if std.is_nan() {
        "nan".to_string()
    } else {
        std.to_string()
    };
    Err(Error::Runtime(format!(
        "normal expects std >= 0.0, but found std {shown}"
    )))
}

fn check_floating(op: &'static str, dtype: DType) -> Result<()> {
    if dtype.is_floating_point() {
        Ok(())
    } else {
        Err(not_for(op, dtype))
    }
}

/// `normal(mean, std, size)` with two numbers: samples of shape `shape`.
pub fn normal_sized(mean: f64, std: f64, shape: &[usize], dtype: DType) -> Result<Tensor> {
    check_std(std)?;
    check_floating("normal_kernel_cpu", dtype)?;
    let mut g = GENERATOR.lock();
    generate_f64(shape, dtype, |_| mean + std * g.normal())
}

/// `normal(mean, std)` with at least one tensor: one sample per entry of their broadcast
/// shape, in the dtype of `mean` (else of `std`). NormalBackward1/2/3 give zero grads.
pub fn normal(mean: Param<'_>, std: Param<'_>) -> Result<Tensor> {
    let (mt, st) = match (mean, std) {
        (Param::Tensor(m), Param::Tensor(s)) => (Some(m), Some(s)),
        (Param::Tensor(m), Param::Float(_)) => (Some(m), None),
        (Param::Float(_), Param::Tensor(s)) => (None, Some(s)),
        (Param::Float(m), Param::Float(s)) => return normal_sized(m, s, &[], DType::F32),
    };
    let dtype = mt.or(st).map_or(DType::F32, Tensor::dtype);
    check_floating("normal_kernel_cpu", dtype)?;
    match (std, st) {
        (Param::Float(s), _) => check_std(s)?,
        (_, Some(s))
            if kernels::gather_cast::<f64>(s)
                .iter()
                .any(|&x| x.is_nan() || x < 0.0) =>
        {
            return Err(Error::Runtime(
                "normal expects all elements of std >= 0.0".into(),
            ));
        }
        _ => {}
    }
    let shape = broadcast_shapes(
        mt.map_or(&[][..], Tensor::shape),
        st.map_or(&[][..], Tensor::shape),
    )?;
    let values = |p: Param<'_>| -> Result<Vec<f64>> {
        Ok(match p {
            Param::Tensor(t) => kernels::try_gather_cast::<f64>(
                &t.alias_with_layout(t.layout().broadcast_to(&shape)?),
            )?,
            Param::Float(x) => vec![x],
        })
    };
    let (m, s) = (values(mean)?, values(std)?);
    let at = |v: &[f64], i: usize| v[if v.len() == 1 { 0 } else { i }];
    let mut g = GENERATOR.lock();
    let out = generate_f64(&shape, dtype, |i| at(&m, i) + at(&s, i) * g.normal())?;
    drop(g);
    let (name, inputs): (&'static str, [Option<&Tensor>; 2]) = match (mt, st) {
        (Some(m), Some(s)) => ("NormalBackward3", [Some(m), Some(s)]),
        (Some(m), None) => ("NormalBackward1", [Some(m), None]),
        _ => ("NormalBackward2", [st, None]),
    };
    let inputs: Vec<Option<&Tensor>> = inputs.into_iter().flatten().map(Some).collect();
    Ok(zero_grad(out, &inputs, name))
}

/// Records `out` with a rule giving each input a zero grad (random ops).
fn zero_grad(out: Tensor, inputs: &[Option<&Tensor>], name: &'static str) -> Tensor {
    track_unsaved(out, inputs, |_| {
        Op::shape(ShapeOp::ZeroGrad {
            name,
            shapes: inputs.iter().flatten().map(|t| t.dims()).collect(),
        })
    })
}

const BAD_PROBABILITY: &str = "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message be improved?  If so, please report an enhancement request to PyTorch.)";

fn check_p(p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::Runtime(format!(
            "bernoulli_ expects p to be in [0, 1], but got p={p}"
        )))
    }
}

/// 0/1 draws, entry `i` being 1 with probability `p(i)`.
fn draws(shape: &[usize], dtype: DType, p: impl Fn(usize) -> f64) -> Result<Tensor> {
    let mut g = GENERATOR.lock();
    generate_f64(shape, dtype, |i| (g.uniform() < p(i)) as u8 as f64)
}

/// The probabilities in `t` (floating, each in [0, 1]) read in the layout of `shape`.
fn probabilities(t: &Tensor, op: &'static str, shape: &[usize]) -> Result<Vec<f64>> {
    check_floating(op, t.dtype())?;
    let v = kernels::try_gather_cast::<f64>(&t.alias_with_layout(t.layout().broadcast_to(shape)?))?;
    if v.iter().any(|x| !(0.0..=1.0).contains(x)) {
        return Err(Error::Runtime(BAD_PROBABILITY.into()));
    }
    Ok(v)
}

/// `bernoulli(input)`: 0/1 draws with the probabilities in `input` (BernoulliBackward0);
/// `bernoulli(input, p)`: draws with probability `p`, in `input`'s shape and dtype (PyTorch
/// records it as a node named NotImplemented, which cannot be differentiated).
pub fn bernoulli(t: &Tensor, p: Option<f64>) -> Result<Tensor> {
    match p {
        None => {
            let probs = probabilities(t, "bernoulli_tensor_cpu_p_", t.shape())?;
            let out = draws(t.shape(), t.dtype(), |i| probs[i])?;
            Ok(zero_grad(out, &[Some(t)], "BernoulliBackward0"))
        }
        Some(p) => {
            check_p(p)?;
            let out = draws(t.shape(), t.dtype(), |_| p)?;
            track(out, &[Some(t)], |_| {
                Op::shape(ShapeOp::NotImplemented {
                    op: "aten::bernoulli",
                })
            })
        }
    }
}

/// `bernoulli_(p)` in place, `p` a number (BernoulliBackward2) or a tensor broadcast to
/// `t` (BernoulliBackward1).
pub fn bernoulli_(t: &Tensor, p: Param<'_>) -> Result<()> {
    match p {
        Param::Float(p) => {
            check_p(p)?;
            super::inplace::apply(t, None, |pre| {
                let out = draws(pre.shape(), pre.dtype(), |_| p)?;
                Ok(zero_grad(out, &[Some(pre)], "BernoulliBackward2"))
            })
        }
        Param::Tensor(pt) => {
            let probs = probabilities(pt, "bernoulli_tensor_cpu_p_", t.shape())?;
            super::inplace::apply(t, Some(pt), |pre| {
                let out = draws(pre.shape(), pre.dtype(), |i| probs[i])?;
                Ok(zero_grad(out, &[Some(pre), Some(pt)], "BernoulliBackward1"))
            })
        }
    }
}

/// `multinomial(input, num_samples, replacement)`: indices drawn from the categories of
/// each row of `input` (1-d or 2-d, non-negative weights), as int64.
pub fn multinomial(t: &Tensor, num_samples: i64, replacement: bool) -> Result<Tensor> {
    if !t.dtype().is_floating_point() {
        return Err(Error::Runtime(format!(
            "multinomial only supports floating-point dtypes for input, got: {}",
            type_word(t.dtype())
        )));
    }
    if t.ndim() != 1 && t.ndim() != 2 {
        return Err(Error::Runtime("prob_dist must be 1 or 2 dim".into()));
    }
    if num_samples <= 0 {
        return Err(Error::Runtime("cannot sample n_sample <= 0 samples".into()));
    }
    let k = t.shape()[t.ndim() - 1];
    let n = num_samples as usize;
    if !replacement && n > k {
        return Err(Error::Runtime(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement".into(),
        ));
    }
    let weights = kernels::gather_cast::<f64>(t);
    if weights.iter().any(|&w| !w.is_finite() || w < 0.0) {
        return Err(Error::Runtime(
            "probability tensor contains either `inf`, `nan` or element < 0".into(),
        ));
    }
    if k > 0 && weights.chunks(k).any(|row| row.iter().sum::<f64>() <= 0.0) {
        return Err(Error::Runtime(
            "invalid multinomial distribution (sum of probabilities <= 0)".into(),
        ));
    }
    let rows = if t.ndim() == 2 { t.shape()[0] } else { 1 };
    let shape: Dims = if t.ndim() == 2 {
        smallvec![rows, n]
    } else {
        smallvec![n]
    };
    let mut g = GENERATOR.lock();
    let mut out: Vec<i64> = Vec::new();
    out.try_reserve_exact(rows.saturating_mul(n))
        .map_err(|_| Error::Runtime("multinomial: cannot allocate the result".into()))?;
    for row in weights.chunks(k.max(1)).take(rows) {
        let mut w = row.to_vec();
        for _ in 0..n {
            let pick = pick_category(&w, &mut g);
            out.push(pick as i64);
            if !replacement {
                w[pick] = -1.0;
            }
        }
    }
    Tensor::from_vec(out, &shape)
}

/// One index drawn with probability proportional to `w` (entries < 0 are taken already);
/// with no weight left, the first untaken index.
fn pick_category(w: &[f64], g: &mut Rng) -> usize {
    let total: f64 = w.iter().filter(|&&x| x > 0.0).sum();
    if total > 0.0 {
        let mut u = g.uniform() * total;
        let mut last = 0;
        for (i, &x) in w.iter().enumerate().filter(|(_, &x)| x > 0.0) {
            if u < x {
                return i;
            }
            u -= x;
            last = i;
        }
        return last;
    }
    w.iter().position(|&x| x >= 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_pytorch_formula() {
        let t = linspace(0.0, 10.0, 4, DType::I64).unwrap();
        assert_eq!(t.to_vec::<i64>(), vec![0, 3, 6, 10]);
        assert_eq!(
            linspace(3.0, 5.0, 1, DType::F32).unwrap().to_vec::<f32>(),
            vec![3.0]
        );
        assert_eq!(linspace(0.0, 1.0, 0, DType::F64).unwrap().numel(), 0);
        assert!(linspace(0.0, 1.0, -1, DType::F32).is_err());
        assert!(linspace(0.0, 1.0, 2, DType::Bool).is_err());
        let l = logspace(0.0, 2.0, 3, 10.0, DType::F64)
            .unwrap()
            .to_vec::<f64>();
        assert_eq!(l, vec![1.0, 10.0, 100.0]);
    }

    #[test]
    fn eye_and_permutations() {
        assert_eq!(
            eye(2, Some(3), DType::I64).unwrap().to_vec::<i64>(),
            vec![1, 0, 0, 0, 1, 0]
        );
        assert!(eye(-1, None, DType::F32).is_err());
        let mut p = randperm(20, DType::I64).unwrap().to_vec::<i64>();
        p.sort();
        assert_eq!(p, (0..20).collect::<Vec<_>>());
        let r = randint(-3, 2, &[100], DType::I64).unwrap().to_vec::<i64>();
        assert!(r.iter().all(|x| (-3..2).contains(x)));
        assert!(randint(i64::MIN, i64::MAX, &[10], DType::I64).is_ok());
        assert!(randint(2, 2, &[1], DType::I64).is_err());
    }

    #[test]
    fn multinomial_without_replacement_takes_each_category_once() {
        let w = Tensor::from_vec(vec![1.0f64, 0.0, 2.0, 5.0], &[4]).unwrap();
        let mut s = multinomial(&w, 4, false).unwrap().to_vec::<i64>();
        assert_eq!(s[3], 1, "the zero-weight category comes last");
        s.sort();
        assert_eq!(s, vec![0, 1, 2, 3]);
        assert!(multinomial(&w, 5, false).is_err());
        assert_eq!(multinomial(&w, 7, true).unwrap().numel(), 7);
    }
}
