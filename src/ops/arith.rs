//! Arithmetic (`+ - * / **`, negation) and comparisons, with PyTorch's type promotion.
//! Each forward is followed by the backward rule of the node it records.

use super::{cast_raw, promote_with, scalar_as, track, Backward as Op, Ctx, Grads, Saved};
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::kernels;
use crate::storage::Element;
use crate::tensor::Tensor;
use crate::{float_dispatch, numeric_dispatch};
use smallvec::smallvec;

/// The right-hand side of a binary op: a tensor or a Python number.
#[derive(Clone, Copy)]
pub enum Operand<'a> {
    Tensor(&'a Tensor),
    Scalar(Scalar),
}

impl Operand<'_> {
    fn tensor(&self) -> Option<&Tensor> {
        match self {
            Operand::Tensor(t) => Some(t),
            Operand::Scalar(_) => None,
        }
    }
}

/// Numeric element types with the arithmetic PyTorch gives them (integers wrap).
pub trait Num: Element {
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn pow(self, o: Self) -> Self;
    fn neg(self) -> Self;
}

macro_rules! float_num {
    ($t:ty) => {
        impl Num for $t {
            #[inline]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline]
            fn sub(self, o: Self) -> Self {
                self - o
            }
            #[inline]
            fn mul(self, o: Self) -> Self {
                self * o
            }
            #[inline]
            fn div(self, o: Self) -> Self {
                self / o
            }
            #[inline]
            fn pow(self, o: Self) -> Self {
                self.powf(o)
            }
            #[inline]
            fn neg(self) -> Self {
                -self
            }
        }
    };
}
float_num!(f32);
float_num!(f64);

impl Num for i64 {
    #[inline]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline]
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline]
    fn mul(self, o: Self) -> Self {
        self.wrapping_mul(o)
    }
    #[inline]
    fn div(self, o: Self) -> Self {
        if o == 0 {
            0
        } else {
            self.wrapping_div(o)
        }
    }
    #[inline]
    fn pow(self, o: Self) -> Self {
        if o < 0 {
            match self {
                1 => 1,
                -1 => {
                    if o % 2 == 0 {
                        1
                    } else {
                        -1
                    }
                }
                _ => 0,
            }
        } else {
            self.wrapping_pow(o.min(u32::MAX as i64) as u32)
        }
    }
    #[inline]
    fn neg(self) -> Self {
        self.wrapping_neg()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

fn bin_kernel<T: Num>(op: BinOp) -> fn(T, T) -> T {
    match op {
        BinOp::Add => T::add,
        BinOp::Sub => T::sub,
        BinOp::Mul => T::mul,
        BinOp::Div => T::div,
        BinOp::Pow => T::pow,
    }
}

/// `a op b` (or `b op a` when `reversed`) with promotion; no autograd.
pub fn binary_raw(a: &Tensor, b: Operand, op: BinOp, reversed: bool) -> Result<Tensor> {
    let mut out_dtype = promote_with(a, &b);
    if op == BinOp::Div && !out_dtype.is_floating_point() {
        out_dtype = crate::dtype::DEFAULT_FLOAT;
    }
    if op == BinOp::Sub {
        check_sub_operands(a, &b)?;
    }
    if out_dtype == DType::Bool {
        let r = binary_raw(
            &cast_raw(a, DType::I64)?,
            promote_operand_i64(b)?.as_operand(),
            op,
            reversed,
        )?;
        return cast_raw(&r, DType::Bool);
    }
    let ac = cast_raw(a, out_dtype)?;
    numeric_dispatch!(out_dtype, T => {
        let f = bin_kernel::<T>(op);
        match b {
            Operand::Tensor(bt) => {
                let bc = cast_raw(bt, out_dtype)?;
                if reversed { kernels::binary::<T, T>(&bc, &ac, f) } else { kernels::binary::<T, T>(&ac, &bc, f) }
            }
            Operand::Scalar(s) => {
                let s: T = scalar_as(s);
                if reversed { kernels::unary::<T, T>(&ac, move |x| f(s, x)) } else { kernels::unary::<T, T>(&ac, move |x| f(x, s)) }
            }
        }
    })
}

/// PyTorch refuses `-` when either operand (a tensor or a Python scalar) is bool.
fn check_sub_operands(a: &Tensor, b: &Operand) -> Result<()> {
    let b_bool = match b {
        Operand::Tensor(t) => t.dtype() == DType::Bool,
        Operand::Scalar(s) => matches!(s, Scalar::Bool(_)),
    };
    match (a.dtype() == DType::Bool, b_bool) {
        (true, true) => Err(Error::Runtime("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.".into())),
        (false, false) => Ok(()),
        _ => Err(Error::Runtime("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into())),
    }
}

enum OwnedOperand {
    Tensor(Tensor),
    Scalar(Scalar),
}
impl OwnedOperand {
    fn as_operand(&self) -> Operand<'_> {
        match self {
            OwnedOperand::Tensor(t) => Operand::Tensor(t),
            OwnedOperand::Scalar(s) => Operand::Scalar(*s),
        }
    }
}
fn promote_operand_i64(b: Operand) -> Result<OwnedOperand> {
    Ok(match b {
        Operand::Tensor(t) => OwnedOperand::Tensor(cast_raw(t, DType::I64)?),
        Operand::Scalar(s) => OwnedOperand::Scalar(Scalar::Int(s.to_f64() as i64)),
    })
}

fn scalar_f64(s: Scalar) -> f64 {
    s.to_f64()
}

// ---- forwards ---------------------------------------------------------------------------

/// `alpha * b` for `a + alpha * b` / `a - alpha * b`, computed in the result dtype of `a op b`
/// (as PyTorch: a float32 `b` added to a float64 `a` is scaled in float64, integer operands
/// stay integers).
fn scale_operand(a: &Tensor, b: Operand, alpha: f64) -> Result<OwnedOperand> {
    let dtype = promote_with(a, &b);
    let integral = !dtype.is_floating_point();
    if integral && alpha.fract() != 0.0 {
        return Err(Error::Runtime(
            "For integral input tensors, argument alpha must not be a floating point number."
                .into(),
        ));
    }
    let alpha_s = if integral {
        Scalar::Int(alpha as i64)
    } else {
        Scalar::Float(alpha)
    };
    Ok(match b {
        Operand::Tensor(t) => OwnedOperand::Tensor(binary_raw(
            &cast_raw(t, dtype)?,
            Operand::Scalar(alpha_s),
            BinOp::Mul,
            false,
        )?),
        Operand::Scalar(s) => OwnedOperand::Scalar(match (s, alpha_s) {
            (Scalar::Float(x), _) => Scalar::Float(x * alpha),
            (Scalar::Int(i), Scalar::Int(k)) => Scalar::Int(i.wrapping_mul(k)),
            (Scalar::Bool(v), Scalar::Int(k)) => Scalar::Int(v as i64 * k),
            (s, _) => Scalar::Float(s.to_f64() * alpha),
        }),
    })
}

/// `a + alpha * b`.
pub fn add(a: &Tensor, b: Operand, alpha: f64) -> Result<Tensor> {
    let out = if alpha == 1.0 {
        binary_raw(a, b, BinOp::Add, false)?
    } else {
        let scaled = scale_operand(a, b, alpha)?;
        binary_raw(a, scaled.as_operand(), BinOp::Add, false)?
    };
    Ok(track(out, &[Some(a), b.tensor()], |_| {
        Op::Arith(Backward::Add { alpha })
    }))
}

/// `a - alpha * b`.
pub fn sub(a: &Tensor, b: Operand, alpha: f64) -> Result<Tensor> {
    check_sub_operands(a, &b)?;
    let out = if alpha == 1.0 {
        binary_raw(a, b, BinOp::Sub, false)?
    } else {
        let scaled = scale_operand(a, b, alpha)?;
        binary_raw(a, scaled.as_operand(), BinOp::Sub, false)?
    };
    Ok(track(out, &[Some(a), b.tensor()], |_| {
        Op::Arith(Backward::Sub { alpha })
    }))
}

/// `s - a` (Python's `2 - x`).
pub fn rsub_scalar(a: &Tensor, s: Scalar) -> Result<Tensor> {
    let out = binary_raw(a, Operand::Scalar(s), BinOp::Sub, true)?;
    Ok(track(out, &[Some(a)], |_| Op::Arith(Backward::Rsub)))
}

pub fn mul(a: &Tensor, b: Operand) -> Result<Tensor> {
    let out = binary_raw(a, b, BinOp::Mul, false)?;
    Ok(match b {
        Operand::Tensor(bt) => track(out, &[Some(a), Some(bt)], |_| {
            Op::Arith(Backward::Mul {
                a: bt.requires_grad().then(|| Saved::input(a)),
                b: a.requires_grad().then(|| Saved::input(bt)),
            })
        }),
        Operand::Scalar(s) => track(out, &[Some(a), None], |_| {
            Op::Arith(Backward::MulScalar { s: scalar_f64(s) })
        }),
    })
}

pub fn div(a: &Tensor, b: Operand) -> Result<Tensor> {
    let out = binary_raw(a, b, BinOp::Div, false)?;
    Ok(match b {
        Operand::Tensor(bt) => track(out, &[Some(a), Some(bt)], |_| {
            Op::Arith(Backward::Div {
                a: bt.requires_grad().then(|| Saved::input(a)),
                b: Saved::input(bt),
            })
        }),
        Operand::Scalar(s) => track(out, &[Some(a), None], |_| {
            Op::Arith(Backward::DivScalar { s: scalar_f64(s) })
        }),
    })
}

/// `s / a` (Python's `2 / x`): PyTorch computes `a.reciprocal() * s`.
pub fn rdiv_scalar(a: &Tensor, s: Scalar) -> Result<Tensor> {
    let recip = super::unary::reciprocal(a)?;
    mul(&recip, Operand::Scalar(s))
}

pub fn neg(a: &Tensor) -> Result<Tensor> {
    if a.dtype() == DType::Bool {
        return Err(Error::Runtime("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into()));
    }
    let out = numeric_dispatch!(a.dtype(), T => kernels::unary::<T, T>(a, T::neg))?;
    Ok(track(out, &[Some(a)], |_| Op::Arith(Backward::Neg)))
}

/// `a ** b` for a tensor or scalar exponent.
pub fn pow(a: &Tensor, b: Operand) -> Result<Tensor> {
    if let Operand::Scalar(Scalar::Int(e)) = b {
        if e < 0 && !a.dtype().is_floating_point() {
            return Err(Error::Runtime(
                "Integers to negative integer powers are not allowed.".into(),
            ));
        }
    }
    let out = binary_raw(a, b, BinOp::Pow, false)?;
    Ok(match b {
        Operand::Tensor(bt) => track(out, &[Some(a), Some(bt)], |out| {
            Op::Arith(Backward::PowTensor {
                base: Saved::input(a),
                exp: Saved::input(bt),
                result: Saved::output(out),
            })
        }),
        Operand::Scalar(s) => track(out, &[Some(a)], |_| {
            Op::Arith(Backward::PowScalar {
                base: Saved::input(a),
                exp: scalar_f64(s),
            })
        }),
    })
}

/// `s ** a` (Python's `2 ** x`).
pub fn rpow_scalar(a: &Tensor, s: Scalar) -> Result<Tensor> {
    let out = binary_raw(a, Operand::Scalar(s), BinOp::Pow, true)?;
    Ok(track(out, &[Some(a)], |out| {
        Op::Arith(Backward::RPowScalar {
            base: scalar_f64(s),
            result: Saved::output(out),
        })
    }))
}

// ---- comparisons (not differentiable) --------------------------------------------------

#[derive(Clone, Copy, Debug)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

fn cmp_kernel<T: Element>(op: CmpOp) -> fn(T, T) -> bool {
    match op {
        CmpOp::Eq => |x, y| x == y,
        CmpOp::Ne => |x, y| x != y,
        CmpOp::Lt => |x, y| x < y,
        CmpOp::Le => |x, y| x <= y,
        CmpOp::Gt => |x, y| x > y,
        CmpOp::Ge => |x, y| x >= y,
    }
}

pub fn compare(a: &Tensor, b: Operand, op: CmpOp) -> Result<Tensor> {
    let dtype = promote_with(a, &b);
    let ac = cast_raw(a, dtype)?;
    macro_rules! go {
        ($T:ty) => {{
            let f = cmp_kernel::<$T>(op);
            match b {
                Operand::Tensor(bt) => kernels::binary::<$T, bool>(&ac, &cast_raw(bt, dtype)?, f),
                Operand::Scalar(s) => {
                    let s: $T = scalar_as(s);
                    kernels::unary::<$T, bool>(&ac, move |x| f(x, s))
                }
            }
        }};
    }
    match dtype {
        DType::Bool => go!(bool),
        DType::I64 => go!(i64),
        DType::F32 => go!(f32),
        DType::F64 => go!(f64),
    }
}

// ---- backward rules ---------------------------------------------------------------------

#[derive(Clone)]
pub enum Backward {
    Add {
        alpha: f64,
    },
    Sub {
        alpha: f64,
    },
    Rsub,
    Mul {
        a: Option<Saved>,
        b: Option<Saved>,
    },
    MulScalar {
        s: f64,
    },
    Div {
        a: Option<Saved>,
        b: Saved,
    },
    DivScalar {
        s: f64,
    },
    Neg,
    PowScalar {
        base: Saved,
        exp: f64,
    },
    PowTensor {
        base: Saved,
        exp: Saved,
        result: Saved,
    },
    RPowScalar {
        base: f64,
        result: Saved,
    },
    /// `zero_()` / `fill_()`: the old values do not matter.
    Overwrite {
        name: &'static str,
    },
}

fn scalar_t(x: f64) -> Operand<'static> {
    Operand::Scalar(Scalar::Float(x))
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::Add { .. } => "AddBackward0",
            Backward::Sub { .. } => "SubBackward0",
            Backward::Rsub => "RsubBackward1",
            Backward::Mul { .. } | Backward::MulScalar { .. } => "MulBackward0",
            Backward::Div { .. } | Backward::DivScalar { .. } => "DivBackward0",
            Backward::Neg => "NegBackward0",
            Backward::PowScalar { .. } => "PowBackward0",
            Backward::PowTensor { .. } => "PowBackward1",
            Backward::RPowScalar { .. } => "PowBackward2",
            Backward::Overwrite { name } => name,
        }
    }

    pub fn has_saved(&self) -> bool {
        matches!(
            self,
            Backward::Mul { .. }
                | Backward::Div { .. }
                | Backward::PowScalar { .. }
                | Backward::PowTensor { .. }
                | Backward::RPowScalar { .. }
        )
    }

    pub fn apply(&self, g: &Tensor, ctx: &Ctx) -> Result<Grads> {
        Ok(match self {
            Backward::Add { alpha } => {
                let gb = if *alpha == 1.0 {
                    g.clone()
                } else {
                    mul(g, scalar_t(*alpha))?
                };
                smallvec![Some(g.clone()), Some(gb)]
            }
            Backward::Sub { alpha } => {
                let gb = if *alpha == 1.0 {
                    neg(g)?
                } else {
                    mul(g, scalar_t(-*alpha))?
                };
                smallvec![Some(g.clone()), Some(gb)]
            }
            Backward::Rsub => smallvec![Some(neg(g)?)],
            Backward::Mul { a, b } => {
                let ga = b
                    .as_ref()
                    .map(|b| mul(g, Operand::Tensor(&b.unpack(ctx)?)))
                    .transpose()?;
                let gb = a
                    .as_ref()
                    .map(|a| mul(g, Operand::Tensor(&a.unpack(ctx)?)))
                    .transpose()?;
                smallvec![ga, gb]
            }
            Backward::MulScalar { s } => smallvec![Some(mul(g, scalar_t(*s))?), None],
            Backward::Div { a, b } => {
                let b = b.unpack(ctx)?;
                let ga = div(g, Operand::Tensor(&b))?;
                let gb = match a {
                    // d(a/b)/db = -a / b^2 = -(g/b) * (a/b)
                    Some(a) => {
                        let a = a.unpack(ctx)?;
                        let q = div(&a, Operand::Tensor(&b))?;
                        Some(neg(&mul(&ga, Operand::Tensor(&q))?)?)
                    }
                    None => None,
                };
                smallvec![Some(ga), gb]
            }
            Backward::DivScalar { s } => smallvec![Some(div(g, scalar_t(*s))?), None],
            Backward::Neg => smallvec![Some(neg(g)?)],
            Backward::PowScalar { base, exp } => {
                let base = base.unpack(ctx)?;
                if *exp == 0.0 {
                    smallvec![Some(mul(g, scalar_t(0.0))?)]
                } else {
                    let d = mul(&pow(&base, scalar_t(exp - 1.0))?, scalar_t(*exp))?;
                    smallvec![Some(mul(g, Operand::Tensor(&d))?)]
                }
            }
            Backward::PowTensor { base, exp, result } => {
                let (b, e, r) = (base.unpack(ctx)?, exp.unpack(ctx)?, result.unpack(ctx)?);
                // Both grads are computed in the result dtype, as PyTorch: an integer base, or
                // a float32 base with a float64 exponent, is promoted first.
                let bf = super::shape::to_dtype(&b, r.dtype())?;
                // d/db b^e = e b^(e-1), taken as 0 where e == 0 (so 0^0 gives 0, not NaN).
                let em1 = sub(&e, scalar_t(1.0), 1.0)?;
                let d = mul(&e, Operand::Tensor(&pow(&bf, Operand::Tensor(&em1))?))?;
                let keep = pow_mask(&bf, &e, |_, y| y != 0.0)?;
                let d = nan_to_zero_where_masked(&mul(&d, Operand::Tensor(&keep))?, &keep)?;
                let gb = mul(g, Operand::Tensor(&d))?;
                // d/de b^e = b^e ln b, taken as 0 where b == 0 and e >= 0 (as PyTorch).
                let mask = pow_mask(&bf, &e, |x, y| !(x == 0.0 && y >= 0.0))?;
                let ln = super::unary::log(&bf)?;
                let de = mul(&mul(&r, Operand::Tensor(&ln))?, Operand::Tensor(&mask))?;
                let de = nan_to_zero_where_masked(&de, &mask)?;
                smallvec![Some(gb), Some(mul(g, Operand::Tensor(&de))?)]
            }
            Backward::RPowScalar { base, result } => {
                let r = result.unpack(ctx)?;
                if *base == 0.0 {
                    // r ln 0 is -inf where the exponent is < 0 (r = inf) and taken as 0 where
                    // it is >= 0 (r = 1 or 0), as PyTorch.
                    let d = float_dispatch!(r.dtype(), T => kernels::unary::<T, T>(&r.detach(), |x| {
                        let v = x.to_f64();
                        T::from_f64(if v == 0.0 || v == 1.0 { 0.0 } else { v * f64::NEG_INFINITY })
                    }))?;
                    smallvec![Some(mul(g, Operand::Tensor(&d))?)]
                } else {
                    smallvec![Some(mul(
                        g,
                        Operand::Tensor(&mul(&r, scalar_t(base.ln()))?)
                    )?)]
                }
            }
            Backward::Overwrite { .. } => smallvec![Some(mul(g, scalar_t(0.0))?)],
        })
    }
}

/// 1 where `keep(base, exp)` holds, else 0 (no history), in `base`'s (floating) dtype.
fn pow_mask(b: &Tensor, e: &Tensor, keep: fn(f64, f64) -> bool) -> Result<Tensor> {
    let dtype = b.dtype();
    let (bd, ed) = (b.detach(), cast_raw(&e.detach(), dtype)?);
    float_dispatch!(dtype, T => kernels::binary::<T, T>(&bd, &ed, move |x, y| {
        T::from_f64(if keep(x.to_f64(), y.to_f64()) { 1.0 } else { 0.0 })
    }))
}

/// Where `mask` is 0 the product `0 * (-inf)` gave NaN; PyTorch gives 0 there.
fn nan_to_zero_where_masked(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let has_nan =
        float_dispatch!(x.dtype(), T => x.to_vec::<T>().iter().any(|v| v.to_f64().is_nan()));
    if !has_nan {
        return Ok(x.clone());
    }
    let keep = cast_raw(mask, x.dtype())?;
    let cleaned = float_dispatch!(x.dtype(), T => kernels::binary::<T, T>(&x.detach(), &keep, |v, k| {
        if k == T::from_f64(0.0) { T::from_f64(0.0) } else { v }
    }))?;
    Ok(x.with_same_history(cleaned))
}
