//! Linear algebra: `mm`, `bmm`, `mv`, `dot`, `addmm`, `outer`, `matmul` (PyTorch's 1-d / 2-d /
//! batched broadcasting rules, composed from the primitives as `at::matmul` does, so the
//! result's `grad_fn` is PyTorch's) and `einsum` for one and two operands.

use super::arith::{self, Operand};
use super::reduce::type_word;
use super::shape::{expand, permute, reshape, reshape_named, transpose, unsqueeze};
use super::{track, Backward as Op, Ctx, Grads, Saved};
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::kernels::matmul::bmm as bmm_kernel;
use crate::shape::{broadcast_shapes, Dims, Layout};
use crate::tensor::Tensor;
use smallvec::smallvec;

/// The product of 3-D `a` and `b` of the same dtype, no autograd.
fn bmm_raw(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match a.dtype() {
        DType::F32 => bmm_kernel::<f32>(a, b),
        DType::F64 => bmm_kernel::<f64>(a, b),
        DType::I64 => bmm_kernel::<i64>(a, b),
        DType::Bool => Err(Error::Runtime(
            "\"addmm_impl_cpu_\" not implemented for 'Bool'".into(),
        )),
    }
}

/// The contiguous result `r` of `bmm_raw` seen with `shape` (same size), not as a view.
fn fresh_shape(r: Tensor, shape: &[usize]) -> Tensor {
    r.try_into_shape(shape)
        .unwrap_or_else(|r| r.alias_with_layout(Layout::contiguous(shape)))
}

/// A 2-D tensor seen as a batch of one, without copying.
fn as_batch(t: &Tensor) -> Tensor {
    let l = t.layout();
    let mut layout = Layout {
        shape: l.shape.clone(),
        strides: l.strides.clone(),
        offset: l.offset,
    };
    layout.shape.insert(0, 1);
    layout.strides.insert(0, 0);
    t.alias_with_layout(layout)
}

fn same_dtype(a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!(
            "expected m1 and m2 to have the same dtype, but got: {} != {}",
            c_name(a.dtype()),
            c_name(b.dtype())
        )));
    }
    Ok(())
}

fn c_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "bool",
        DType::I64 => "long int",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// `mm(a, b)`: matrix product of 2-D tensors (MmBackward0).
pub fn mm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 2 {
        return Err(Error::Runtime(format!(
            "mm: self must be a matrix, got {}-D tensor",
            a.ndim()
        )));
    }
    if b.ndim() != 2 {
        return Err(Error::Runtime(format!(
            "mm: mat2 must be a matrix, got {}-D tensor",
            b.ndim()
        )));
    }
    if a.shape()[1] != b.shape()[0] {
        return Err(Error::Runtime(format!(
            "mm: mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
            a.shape()[0],
            a.shape()[1],
            b.shape()[0],
            b.shape()[1]
        )));
    }
    same_dtype(a, b)?;
    let out = fresh_shape(
        bmm_raw(&as_batch(a), &as_batch(b))?,
        &[a.shape()[0], b.shape()[1]],
    );
    track(out, &[Some(a), Some(b)], |_| {
        Op::Linalg(Backward::Mm {
            a: b.requires_grad().then(|| Saved::input(a)),
            b: a.requires_grad().then(|| Saved::input(b)),
        })
    })
}

/// `bmm(a, b)`: batched product of 3-D tensors (BmmBackward0).
pub fn bmm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 3 {
        return Err(Error::Runtime("batch1 must be a 3D tensor".into()));
    }
    if b.ndim() != 3 {
        return Err(Error::Runtime("batch2 must be a 3D tensor".into()));
    }
    let (sa, sb) = (a.shape(), b.shape());
    if sb[0] != sa[0] || sb[1] != sa[2] {
        return Err(Error::Runtime(format!(
            "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
            sa[0], sa[2], sb[0], sb[1]
        )));
    }
    same_dtype(a, b)?;
    let out = bmm_raw(a, b)?;
    track(out, &[Some(a), Some(b)], |_| {
        Op::Linalg(Backward::Bmm {
            a: b.requires_grad().then(|| Saved::input(a)),
            b: a.requires_grad().then(|| Saved::input(b)),
        })
    })
}

/// `mv(m, v)`: matrix-vector product (MvBackward0).
pub fn mv(m: &Tensor, v: &Tensor) -> Result<Tensor> {
    if m.ndim() != 2 || v.ndim() != 1 {
        return Err(Error::Runtime(format!(
            "vector + matrix @ vector expected, got {}, {}, {}",
            1,
            m.ndim(),
            v.ndim()
        )));
    }
    if m.shape()[1] != v.shape()[0] {
        return Err(Error::Runtime(format!(
            "size mismatch, got input ({}), mat ({}x{}), vec ({})",
            m.shape()[0],
            m.shape()[0],
            m.shape()[1],
            v.shape()[0]
        )));
    }
    if m.dtype() != v.dtype() {
        return Err(Error::Runtime(format!(
            "addmv input tensors must have the same dtype, but got {}, {}, and {}",
            type_word(m.dtype()),
            type_word(m.dtype()),
            type_word(v.dtype())
        )));
    }
    let col = v.alias_with_layout(Layout {
        shape: smallvec![1, v.shape()[0], 1],
        strides: smallvec![0, v.layout().strides[0], 1],
        offset: v.layout().offset,
    });
    let out = fresh_shape(bmm_raw(&as_batch(m), &col)?, &[m.shape()[0]]);
    track(out, &[Some(m), Some(v)], |_| {
        Op::Linalg(Backward::Mv {
            m: v.requires_grad().then(|| Saved::input(m)),
            v: m.requires_grad().then(|| Saved::input(v)),
        })
    })
}

/// `dot(a, b)`: inner product of two 1-D tensors (DotBackward0).
pub fn dot(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 1 || b.ndim() != 1 {
        return Err(Error::Runtime(format!(
            "1D tensors expected, but got {}D and {}D tensors",
            a.ndim(),
            b.ndim()
        )));
    }
    if a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!(
            "dot : expected both vectors to have same dtype, but found {} and {}",
            type_word(a.dtype()),
            type_word(b.dtype())
        )));
    }
    if a.shape()[0] != b.shape()[0] {
        return Err(Error::Runtime(format!(
            "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
            a.shape()[0],
            b.shape()[0],
            a.shape()[0],
            b.shape()[0]
        )));
    }
    let row = |t: &Tensor| {
        t.alias_with_layout(Layout {
            shape: smallvec![1, 1, t.shape()[0]],
            strides: smallvec![0, 0, t.layout().strides[0]],
            offset: t.layout().offset,
        })
    };
    let col = |t: &Tensor| {
        t.alias_with_layout(Layout {
            shape: smallvec![1, t.shape()[0], 1],
            strides: smallvec![0, t.layout().strides[0], 1],
            offset: t.layout().offset,
        })
    };
    let out = fresh_shape(bmm_raw(&row(a), &col(b))?, &[]);
    track(out, &[Some(a), Some(b)], |_| {
        Op::Linalg(Backward::Dot {
            a: b.requires_grad().then(|| Saved::input(a)),
            b: a.requires_grad().then(|| Saved::input(b)),
        })
    })
}

/// `addmm(input, m1, m2, beta, alpha)`: `beta * input + alpha * (m1 @ m2)` (AddmmBackward0).
pub fn addmm(input: &Tensor, m1: &Tensor, m2: &Tensor, beta: f64, alpha: f64) -> Result<Tensor> {
    let product = {
        let _off = crate::autograd::GradModeGuard::new(false);
        mm(m1, m2)?
    };
    let out_shape = [m1.shape()[0], m2.shape()[1]];
    let bcast = broadcast_shapes(input.shape(), &out_shape)?;
    if bcast.as_slice() != out_shape {
        return Err(Error::Runtime(format!(
            "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension 1.  Target sizes: [{}, {}].  Tensor sizes: {}",
            out_shape[1], input.shape().last().copied().unwrap_or(1), out_shape[0], out_shape[1],
            crate::shape::format_shape(input.shape())
        )));
    }
    let out = {
        let _off = crate::autograd::GradModeGuard::new(false);
        let p = if alpha == 1.0 {
            product
        } else {
            arith::mul(&product, Operand::Scalar(Scalar::Float(alpha)))?
        };
        let i = if beta == 1.0 {
            input.clone()
        } else {
            arith::mul(input, Operand::Scalar(Scalar::Float(beta)))?
        };
        if beta == 0.0 {
            p
        } else {
            arith::add(&p, Operand::Tensor(&i), 1.0)?
        }
    };
    track(out, &[Some(input), Some(m1), Some(m2)], |_| {
        Op::Linalg(Backward::Addmm {
            m1: m2.requires_grad().then(|| Saved::input(m1)),
            m2: m1.requires_grad().then(|| Saved::input(m2)),
            beta,
            alpha,
        })
    })
}

/// `outer(a, b)`: `a[:, None] * b[None, :]` (MulBackward0, as PyTorch).
pub fn outer(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 1 || b.ndim() != 1 {
        return Err(Error::Runtime(format!(
            "outer: Expected 1-D argument self, but got {}-D",
            if a.ndim() != 1 { a.ndim() } else { b.ndim() }
        )));
    }
    arith::mul(&unsqueeze(a, 1)?, Operand::Tensor(b))
}

/// `matmul(a, b)` with PyTorch's rules for 1-d, 2-d and batched operands.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (da, db) = (a.ndim(), b.ndim());
    if da == 0 || db == 0 {
        return Err(Error::Runtime(format!(
            "both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
        )));
    }
    match (da, db) {
        (1, 1) => dot(a, b),
        (2, 1) => mv(a, b),
        (1, 2) => {
            let r = mm(&unsqueeze(a, 0)?, b)?;
            reshape_named(&r, &[b.shape()[1]], "SqueezeBackward4")
        }
        (2, 2) => mm(a, b),
        _ if da >= 3 && db <= 2 => {
            // Fold a's batch dims into its rows: one mm (or mv), then view the result back.
            let k = a.shape()[da - 1];
            let rows: usize = a.shape()[..da - 1].iter().product();
            let folded = reshape(a, &[rows, k])?;
            let mut out_shape: Dims = a.shape()[..da - 1].into();
            let r = if db == 2 {
                out_shape.push(b.shape()[1]);
                mm(&folded, b)?
            } else {
                mv(&folded, b)?
            };
            reshape_named(&r, &out_shape, "UnsafeViewBackward0")
        }
        _ => {
            // Broadcast the batch dims, then one bmm.
            let a2 = if da == 1 { unsqueeze(a, 0)? } else { a.clone() };
            let b2 = if db == 1 { unsqueeze(b, 1)? } else { b.clone() };
            let (na, nb) = (a2.ndim(), b2.ndim());
            let (m, k) = (a2.shape()[na - 2], a2.shape()[na - 1]);
            let (k2, n) = (b2.shape()[nb - 2], b2.shape()[nb - 1]);
            let batch = broadcast_shapes(&a2.shape()[..na - 2], &b2.shape()[..nb - 2])?;
            if k != k2 {
                return Err(Error::Runtime(format!(
                    "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
                    batch.iter().product::<usize>(), k, batch.iter().product::<usize>(), k2
                )));
            }
            let nbatch: usize = batch.iter().product();
            let mut ea: Dims = batch.clone();
            ea.extend([m, k]);
            let mut eb: Dims = batch.clone();
            eb.extend([k, n]);
            let a3 = reshape(&expand(&a2, &ea)?, &[nbatch, m, k])?;
            let b3 = reshape(&expand(&b2, &eb)?, &[nbatch, k, n])?;
            let r = bmm(&a3, &b3)?;
            let mut out_shape: Dims = batch;
            if da > 1 {
                out_shape.push(m);
            }
            if db > 1 {
                out_shape.push(n);
            }
            reshape_named(&r, &out_shape, "UnsafeViewBackward0")
        }
    }
}

/// `einsum(equation, *operands)` for one or two operands without ellipsis or repeated
/// indices within an operand: sums, transposes, products, contractions and batched products.
pub fn einsum(equation: &str, operands: &[Tensor]) -> Result<Tensor> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, out) = match eq.split_once("->") {
        Some((l, o)) => (l.to_string(), Some(o.to_string())),
        None => (eq.clone(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != operands.len() {
        return Err(Error::Runtime(
            "einsum(): more operands were provided than specified in the equation".into(),
        ));
    }
    if operands.is_empty() || operands.len() > 2 || eq.contains('.') {
        return Err(Error::Runtime(
            "einsum(): only one or two operands without ellipsis are supported".into(),
        ));
    }
    for (t, x) in terms.iter().zip(operands) {
        if t.chars().count() != x.ndim() {
            return Err(Error::Runtime(format!(
                "einsum(): the number of subscripts in the equation ({}) does not match the number of dimensions ({}) for operand 0 and no ellipsis was given",
                t.chars().count(),
                x.ndim()
            )));
        }
        let mut seen = String::new();
        for c in t.chars() {
            if !c.is_ascii_alphabetic() {
                return Err(Error::Runtime("einsum(): invalid subscript given at index 0 in the equation string, subscripts must be in [a-zA-Z]".into()));
            }
            if seen.contains(c) {
                return Err(Error::Runtime("einsum(): repeated subscripts within one operand (diagonals) are not supported".into()));
            }
            seen.push(c);
        }
    }
    let out: String = match out {
        Some(o) => o,
        None => {
            // Implicit output: the letters that appear exactly once, sorted.
            let all: String = terms.concat();
            let mut v: Vec<char> = all
                .chars()
                .filter(|&c| all.matches(c).count() == 1)
                .collect();
            v.sort_unstable();
            v.into_iter().collect()
        }
    };
    let size_of = |c: char| -> Option<usize> {
        terms
            .iter()
            .zip(operands)
            .find_map(|(t, x)| t.find(c).map(|i| x.shape()[i]))
    };
    // Sum away letters that appear in only one operand and not in the output.
    let mut xs: Vec<Tensor> = Vec::new();
    let mut ts: Vec<String> = Vec::new();
    for (i, (t, x)) in terms.iter().zip(operands).enumerate() {
        let others: String = terms
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, s)| *s)
            .collect();
        let drop: Vec<i64> = t
            .chars()
            .enumerate()
            .filter(|(_, c)| !out.contains(*c) && !others.contains(*c))
            .map(|(k, _)| k as i64)
            .collect();
        if drop.is_empty() {
            xs.push(x.clone());
            ts.push(t.to_string());
        } else {
            xs.push(super::reduce::sum(x, Some(&drop), false, None)?);
            ts.push(
                t.chars()
                    .filter(|c| out.contains(*c) || others.contains(*c))
                    .collect(),
            );
        }
    }
    if xs.len() == 1 {
        let perm: Vec<i64> = out.chars().map(|c| ts[0].find(c).map(|i| i as i64).ok_or_else(|| Error::Runtime(format!("einsum(): output subscript {c} does not appear in the equation for any input operand")))).collect::<Result<_>>()?;
        return if perm.iter().enumerate().all(|(i, &p)| i as i64 == p) {
            Ok(xs[0].clone())
        } else {
            permute(&xs[0], &perm)
        };
    }
    let (ta, tb) = (&ts[0], &ts[1]);
    for c in ta.chars() {
        if let Some(j) = tb.find(c) {
            let (sa, sb) = (xs[0].shape()[ta.find(c).unwrap_or(0)], xs[1].shape()[j]);
            if sa != sb {
                return Err(Error::Runtime(format!(
                    "einsum(): operands do not broadcast with remapped shapes (original->remapped): [{sa}] and [{sb}]"
                )));
            }
        }
    }
    let batch: String = out
        .chars()
        .filter(|&c| ta.contains(c) && tb.contains(c))
        .collect();
    let left: String = out
        .chars()
        .filter(|&c| ta.contains(c) && !tb.contains(c))
        .collect();
    let right: String = out
        .chars()
        .filter(|&c| tb.contains(c) && !ta.contains(c))
        .collect();
    let contract: String = ta
        .chars()
        .filter(|&c| tb.contains(c) && !out.contains(c))
        .collect();
    for c in out.chars() {
        if !ta.contains(c) && !tb.contains(c) {
            return Err(Error::Runtime(format!("einsum(): output subscript {c} does not appear in the equation for any input operand")));
        }
    }
    let order = |t: &str, parts: &[&str]| -> Vec<i64> {
        parts
            .concat()
            .chars()
            .filter_map(|c| t.find(c).map(|i| i as i64))
            .collect()
    };
    let pa = order(ta, &[&batch, &left, &contract]);
    let pb = order(tb, &[&batch, &contract, &right]);
    let prod = |s: &str| -> usize { s.chars().map(|c| size_of(c).unwrap_or(1)).product() };
    let (nb, nl, nk, nr) = (prod(&batch), prod(&left), prod(&contract), prod(&right));
    let a3 = reshape(&permute_if_needed(&xs[0], &pa)?, &[nb, nl, nk])?;
    let b3 = reshape(&permute_if_needed(&xs[1], &pb)?, &[nb, nk, nr])?;
    let r = bmm(&a3, &b3)?;
    let natural: String = [batch.as_str(), left.as_str(), right.as_str()].concat();
    let natural_shape: Dims = natural.chars().map(|c| size_of(c).unwrap_or(1)).collect();
    let r = reshape(&r, &natural_shape)?;
    let perm: Vec<i64> = out
        .chars()
        .map(|c| natural.find(c).unwrap_or(0) as i64)
        .collect();
    permute_if_needed(&r, &perm)
}

fn permute_if_needed(t: &Tensor, perm: &[i64]) -> Result<Tensor> {
    if perm.iter().enumerate().all(|(i, &p)| i as i64 == p) {
        Ok(t.clone())
    } else {
        permute(t, perm)
    }
}

#[derive(Clone)]
pub enum Backward {
    Mm {
        a: Option<Saved>,
        b: Option<Saved>,
    },
    Bmm {
        a: Option<Saved>,
        b: Option<Saved>,
    },
    Mv {
        m: Option<Saved>,
        v: Option<Saved>,
    },
    Dot {
        a: Option<Saved>,
        b: Option<Saved>,
    },
    Addmm {
        m1: Option<Saved>,
        m2: Option<Saved>,
        beta: f64,
        alpha: f64,
    },
}

fn scaled(t: Tensor, s: f64) -> Result<Tensor> {
    if s == 1.0 {
        Ok(t)
    } else {
        arith::mul(&t, Operand::Scalar(Scalar::Float(s)))
    }
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::Mm { .. } => "MmBackward0",
            Backward::Bmm { .. } => "BmmBackward0",
            Backward::Mv { .. } => "MvBackward0",
            Backward::Dot { .. } => "DotBackward0",
            Backward::Addmm { .. } => "AddmmBackward0",
        }
    }

    pub fn apply(&self, g: &Tensor, ctx: &Ctx) -> Result<Grads> {
        Ok(match self {
            Backward::Mm { a, b } => {
                // d(a@b)/da = g @ b^T, d/db = a^T @ g
                let ga = b
                    .as_ref()
                    .map(|b| mm(g, &transpose(&b.unpack(ctx)?, 0, 1)?))
                    .transpose()?;
                let gb = a
                    .as_ref()
                    .map(|a| mm(&transpose(&a.unpack(ctx)?, 0, 1)?, g))
                    .transpose()?;
                smallvec![ga, gb]
            }
            Backward::Bmm { a, b } => {
                let ga = b
                    .as_ref()
                    .map(|b| bmm(g, &transpose(&b.unpack(ctx)?, 1, 2)?))
                    .transpose()?;
                let gb = a
                    .as_ref()
                    .map(|a| bmm(&transpose(&a.unpack(ctx)?, 1, 2)?, g))
                    .transpose()?;
                smallvec![ga, gb]
            }
            Backward::Mv { m, v } => {
                let gm = v.as_ref().map(|v| outer(g, &v.unpack(ctx)?)).transpose()?;
                let gv = m
                    .as_ref()
                    .map(|m| mv(&transpose(&m.unpack(ctx)?, 0, 1)?, g))
                    .transpose()?;
                smallvec![gm, gv]
            }
            Backward::Dot { a, b } => {
                let ga = b
                    .as_ref()
                    .map(|b| arith::mul(&b.unpack(ctx)?, Operand::Tensor(g)))
                    .transpose()?;
                let gb = a
                    .as_ref()
                    .map(|a| arith::mul(&a.unpack(ctx)?, Operand::Tensor(g)))
                    .transpose()?;
                smallvec![ga, gb]
            }
            Backward::Addmm {
                m1,
                m2,
                beta,
                alpha,
            } => {
                let gi = if *beta == 0.0 {
                    None
                } else {
                    Some(scaled(g.clone(), *beta)?)
                };
                let g1 = m2
                    .as_ref()
                    .map(|m2| scaled(mm(g, &transpose(&m2.unpack(ctx)?, 0, 1)?)?, *alpha))
                    .transpose()?;
                let g2 = m1
                    .as_ref()
                    .map(|m1| scaled(mm(&transpose(&m1.unpack(ctx)?, 0, 1)?, g)?, *alpha))
                    .transpose()?;
                smallvec![gi, g1, g2]
            }
        })
    }
}
