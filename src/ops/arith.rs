//! Arithmetic (`+ - * / // % **`, `maximum`/`minimum`, `atan2`), selection (`clamp`,
//! `where`) and comparisons, with PyTorch's type promotion. Each forward is followed by the
//! backward rule of the node it records (the rules are at the end of the file).
//!
//! Kernels are compiled per op: `with_bin_fn!` turns a `BinOp` into the op's function item
//! (`<T as Num>::add`, a zero-sized type), so `kernels::binary`/`unary` get a closure they
//! can inline and vectorise rather than a function pointer they would call per element.

use super::reduce::type_word;
use super::{
    cast_raw, promo, promote_with, scalar_as, track, track_unsaved, Backward as Op, Ctx, Grads,
    Saved,
};
use crate::dtype::{result_type, DType, Operand as PromoOperand, Scalar, DEFAULT_FLOAT};
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

impl<'a> Operand<'a> {
    pub fn tensor(&self) -> Option<&'a Tensor> {
        match self {
            Operand::Tensor(t) => Some(t),
            Operand::Scalar(_) => None,
        }
    }

    /// How the operand takes part in type promotion.
    pub fn promo(&self) -> PromoOperand {
        match self {
            Operand::Tensor(t) => promo(t),
            Operand::Scalar(s) => PromoOperand::Scalar(s.category()),
        }
    }

    /// The operand as a tensor of `dtype` (a Python number becomes a zero-dim tensor).
    /// The operand as a tensor of `dtype` (a scalar as a 0-dim tensor).
    pub fn to_tensor(self, dtype: DType) -> Result<Tensor> {
        match self {
            Operand::Tensor(t) => cast_raw(t, dtype),
            Operand::Scalar(s) => numeric_or_bool_scalar(s, dtype),
        }
    }
}

fn numeric_or_bool_scalar(s: Scalar, dtype: DType) -> Result<Tensor> {
    match dtype {
        DType::Bool => Tensor::from_vec(vec![s.to_f64() != 0.0], &[]),
        DType::I64 => Tensor::from_vec(vec![scalar_as::<i64>(s)], &[]),
        DType::F32 => Tensor::from_vec(vec![scalar_as::<f32>(s)], &[]),
        DType::F64 => Tensor::from_vec(vec![scalar_as::<f64>(s)], &[]),
    }
}

/// Numeric element types with the arithmetic PyTorch gives them (integers wrap; integer
/// division by zero is refused before a kernel runs).
pub trait Num: Element {
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn pow(self, o: Self) -> Self;
    fn neg(self) -> Self;
    /// Python's `%`: the result has the divisor's sign.
    fn rem(self, o: Self) -> Self;
    /// Python's `//`.
    fn floor_div(self, o: Self) -> Self;
    fn trunc_div(self, o: Self) -> Self;
    /// The larger value; NaN if either is NaN.
    fn max_nan(self, o: Self) -> Self;
    /// The smaller value; NaN if either is NaN.
    fn min_nan(self, o: Self) -> Self;
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
            #[inline]
            fn rem(self, o: Self) -> Self {
                let r = self % o;
                if r != 0.0 && (r < 0.0) != (o < 0.0) {
                    r + o
                } else {
                    r
                }
            }
            #[inline]
            fn floor_div(self, o: Self) -> Self {
                if o == 0.0 {
                    return self / o;
                }
                // Python's algorithm: exact quotient of the multiple below, then the floor,
                // corrected where the division rounded up past an integer.
                let m = self % o;
                let mut q = (self - m) / o;
                if m != 0.0 && (o < 0.0) != (m < 0.0) {
                    q -= 1.0;
                }
                if q == 0.0 {
                    return (0.0 as $t).copysign(self / o);
                }
                let f = q.floor();
                if q - f > 0.5 {
                    f + 1.0
                } else {
                    f
                }
            }
            #[inline]
            fn trunc_div(self, o: Self) -> Self {
                (self / o).trunc()
            }
            #[inline]
            fn max_nan(self, o: Self) -> Self {
                // Ties keep `self` (so maximum(-0.0, 0.0) is -0.0, as PyTorch's).
                if o.is_nan() || self < o {
                    o
                } else {
                    self
                }
            }
            #[inline]
            fn min_nan(self, o: Self) -> Self {
                if o.is_nan() || o < self {
                    o
                } else {
                    self
                }
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
    #[inline]
    fn rem(self, o: Self) -> Self {
        if o == 0 {
            return 0;
        }
        let r = self.wrapping_rem(o);
        if r != 0 && (r < 0) != (o < 0) {
            r + o
        } else {
            r
        }
    }
    #[inline]
    fn floor_div(self, o: Self) -> Self {
        if o == 0 {
            return 0;
        }
        let q = self.wrapping_div(o);
        if self.wrapping_rem(o) != 0 && (self < 0) != (o < 0) {
            q - 1
        } else {
            q
        }
    }
    #[inline]
    fn trunc_div(self, o: Self) -> Self {
        self.div(o)
    }
    #[inline]
    fn max_nan(self, o: Self) -> Self {
        self.max(o)
    }
    #[inline]
    fn min_nan(self, o: Self) -> Self {
        self.min(o)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    /// True division (integers are promoted to the default float dtype first).
    Div,
    Pow,
    Rem,
    FloorDiv,
    TruncDiv,
    Max,
    Min,
}

impl BinOp {
    /// Integer division by zero raises instead of producing a value.
    fn divides_integers(self) -> bool {
        matches!(self, BinOp::Rem | BinOp::FloorDiv | BinOp::TruncDiv)
    }

    /// The kernel name in PyTorch's "not implemented for 'Bool'" error.
    fn bool_kernel_name(self) -> Option<&'static str> {
        match self {
            BinOp::Rem => Some("remainder_cpu"),
            BinOp::FloorDiv => Some("div_floor_cpu"),
            BinOp::TruncDiv => Some("div_trunc_cpu"),
            _ => None,
        }
    }
}

/// Binds `$f` to the function item of `$op` for element type `$T` and evaluates `$body`
/// once per op, so each op gets its own monomorphised kernel.
macro_rules! with_bin_fn {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            BinOp::Add => {
                let $f = <$T as Num>::add;
                $body
            }
            BinOp::Sub => {
                let $f = <$T as Num>::sub;
                $body
            }
            BinOp::Mul => {
                let $f = <$T as Num>::mul;
                $body
            }
            BinOp::Div => {
                let $f = <$T as Num>::div;
                $body
            }
            BinOp::Pow => {
                let $f = <$T as Num>::pow;
                $body
            }
            BinOp::Rem => {
                let $f = <$T as Num>::rem;
                $body
            }
            BinOp::FloorDiv => {
                let $f = <$T as Num>::floor_div;
                $body
            }
            BinOp::TruncDiv => {
                let $f = <$T as Num>::trunc_div;
                $body
            }
            BinOp::Max => {
                let $f = <$T as Num>::max_nan;
                $body
            }
            BinOp::Min => {
                let $f = <$T as Num>::min_nan;
                $body
            }
        }
    };
}

/// `a f b` (or `b f a` when `reversed`) over tensors of dtype `T`, `b` cast to it.
#[inline]
fn apply_bin<T: Num>(
    a: &Tensor,
    b: Operand,
    reversed: bool,
    f: impl Fn(T, T) -> T + Sync + Copy,
) -> Result<Tensor> {
    match b {
        Operand::Tensor(bt) => {
            let bc = cast_raw(bt, T::DTYPE)?;
            if reversed {
                kernels::binary::<T, T>(&bc, a, f)
            } else {
                kernels::binary::<T, T>(a, &bc, f)
            }
        }
        Operand::Scalar(s) => {
            let s: T = scalar_as(s);
            if reversed {
                kernels::unary::<T, T>(a, move |x| f(s, x))
            } else {
                kernels::unary::<T, T>(a, move |x| f(x, s))
            }
        }
    }
}

/// `a op b` (or `b op a` when `reversed`) with promotion; no autograd.
pub fn binary_raw(a: &Tensor, b: Operand, op: BinOp, reversed: bool) -> Result<Tensor> {
    let mut out_dtype = promote_with(a, &b);
    if op == BinOp::Div && !out_dtype.is_floating_point() {
        out_dtype = DEFAULT_FLOAT;
    }
    if op == BinOp::Sub {
        check_sub_operands(a, &b)?;
    }
    if out_dtype == DType::Bool {
        if let Some(name) = op.bool_kernel_name() {
            return Err(Error::NotImplementedFor {
                op: name,
                type_word: "Bool",
            });
        }
        let r = binary_raw(
            &cast_raw(a, DType::I64)?,
            promote_operand_i64(b)?.as_operand(),
            op,
            reversed,
        )?;
        return cast_raw(&r, DType::Bool);
    }
    if op.divides_integers() && out_dtype == DType::I64 {
        let divisor = if reversed { Operand::Tensor(a) } else { b };
        check_nonzero_divisor(divisor)?;
    }
    let ac = cast_raw(a, out_dtype)?;
    numeric_dispatch!(out_dtype, T => with_bin_fn!(op, T, f => apply_bin::<T>(&ac, b, reversed, f)))
}

/// `dst op= alpha * b` computed straight into `dst`'s storage, for `add_`/`sub_`/`mul_`/
/// `div_` when nothing records: `true` when done, `false` (nothing written) when the
/// out-of-place path is needed (a non-contiguous `dst`, a result dtype other than `dst`'s,
/// a tensor `b` that is broadcast, strided, of another dtype or shares `dst`'s storage).
/// The arithmetic is `binary_raw`'s, element for element, so results are identical.
pub fn binary_assign(dst: &Tensor, b: Operand, op: BinOp, alpha: f64) -> Result<bool> {
    if op == BinOp::Sub {
        check_sub_operands(dst, &b)?;
    }
    let out_dtype = promote_with(dst, &b);
    let fits = |t: &Tensor| {
        t.dtype() == out_dtype
            && t.shape() == dst.shape()
            && t.is_contiguous()
            && !t.same_storage(dst)
    };
    if out_dtype != dst.dtype()
        || !matches!(out_dtype, DType::F32 | DType::F64 | DType::I64)
        || !matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div)
        || out_dtype == DType::I64 && op == BinOp::Div
        || !dst.is_contiguous()
        || b.tensor().is_some_and(|t| !fits(t))
    {
        return Ok(false);
    }
    let scaled = if alpha == 1.0 {
        None
    } else {
        Some(scale_operand(dst, b, alpha)?)
    };
    let b = scaled.as_ref().map_or(b, |s| s.as_operand());
    numeric_dispatch!(out_dtype, T => with_bin_fn!(op, T, f => {
        use crate::kernels::elementwise::{assign, Rhs};
        let rhs = match b {
            Operand::Scalar(s) => Rhs::Scalar(scalar_as::<T>(s)),
            Operand::Tensor(t) => {
                let Some(all) = <T as crate::storage::Element>::slice(t.buffer()) else {
                    return Ok(false);
                };
                let l = t.layout();
                Rhs::Slice(&all[l.offset..l.offset + l.numel()])
            }
        };
        // SAFETY: `b` lives in another storage (checked above), and nothing else borrows
        // `dst`'s buffer during the update.
        Ok(unsafe { assign::<T>(dst, rhs, f) })
    }))
}

/// PyTorch raises on integer division by zero (`//`, `%`, `div(rounding_mode=...)`).
fn check_nonzero_divisor(b: Operand) -> Result<()> {
    let has_zero = match b {
        Operand::Scalar(s) => s.to_f64() == 0.0,
        Operand::Tensor(t) => t.to_vec::<i64>().contains(&0),
    };
    if has_zero {
        return Err(Error::Runtime("ZeroDivisionError".into()));
    }
    Ok(())
}

/// PyTorch refuses `-` when either operand (a tensor or a Python scalar) is bool
/// (NotImplementedError).
fn check_sub_operands(a: &Tensor, b: &Operand) -> Result<()> {
    let b_bool = match b {
        Operand::Tensor(t) => t.dtype() == DType::Bool,
        Operand::Scalar(s) => matches!(s, Scalar::Bool(_)),
    };
    match (a.dtype() == DType::Bool, b_bool) {
        (true, true) => Err(Error::NotImplemented("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.".into())),
        (false, false) => Ok(()),
        _ => Err(Error::NotImplemented("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into())),
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

fn scalar_t(x: f64) -> Operand<'static> {
    Operand::Scalar(Scalar::Float(x))
}

// ---- + - * / ** ------------------------------------------------------------------------

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
    track(out, &[Some(a), b.tensor()], |_| {
        Op::Arith(Backward::Add { alpha })
    })
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
    track(out, &[Some(a), b.tensor()], |_| {
        Op::Arith(Backward::Sub { alpha })
    })
}

/// `s - a` (Python's `2 - x`).
pub fn rsub_scalar(a: &Tensor, s: Scalar) -> Result<Tensor> {
    let out = binary_raw(a, Operand::Scalar(s), BinOp::Sub, true)?;
    track(out, &[Some(a)], |_| Op::Arith(Backward::Rsub))
}

pub fn mul(a: &Tensor, b: Operand) -> Result<Tensor> {
    let out = binary_raw(a, b, BinOp::Mul, false)?;
    Ok(match b {
        Operand::Tensor(bt) => track(out, &[Some(a), Some(bt)], |_| {
            Op::Arith(Backward::Mul {
                a: bt.requires_grad().then(|| Saved::input(a)),
                b: a.requires_grad().then(|| Saved::input(bt)),
            })
        })?,
        Operand::Scalar(s) => track(out, &[Some(a), None], |_| {
            Op::Arith(Backward::MulScalar { s: scalar_f64(s) })
        })?,
    })
}

/// The divisor a division rule needs.
#[derive(Clone)]
pub enum Divisor {
    Tensor(Saved),
    Scalar(f64),
}

fn divisor_of(b: Operand) -> Divisor {
    match b {
        Operand::Tensor(t) => Divisor::Tensor(Saved::input(t)),
        Operand::Scalar(s) => Divisor::Scalar(scalar_f64(s)),
    }
}

pub fn div(a: &Tensor, b: Operand) -> Result<Tensor> {
    let out = binary_raw(a, b, BinOp::Div, false)?;
    Ok(match b {
        Operand::Tensor(bt) => track(out, &[Some(a), Some(bt)], |_| {
            Op::Arith(Backward::Div {
                a: bt.requires_grad().then(|| Saved::input(a)),
                b: Saved::input(bt),
            })
        })?,
        Operand::Scalar(s) => track(out, &[Some(a), None], |_| {
            Op::Arith(Backward::DivScalar { s: scalar_f64(s) })
        })?,
    })
}

/// `div`'s `rounding_mode`. `True` is an explicit `rounding_mode=None`, which PyTorch
/// records under its own node name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RoundingMode {
    True,
    Trunc,
    Floor,
}

impl RoundingMode {
    /// `None`, `"trunc"` or `"floor"`, with PyTorch's error for anything else.
    pub fn parse(mode: Option<&str>) -> Result<RoundingMode> {
        match mode {
            None => Ok(RoundingMode::True),
            Some("trunc") => Ok(RoundingMode::Trunc),
            Some("floor") => Ok(RoundingMode::Floor),
            Some(other) => Err(Error::Runtime(format!(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{other}'"
            ))),
        }
    }
}

/// `a / b` rounded as `mode` says; integer inputs stay integers unless the mode is true
/// division. Rounded quotients are piecewise constant: their grads are zero.
pub fn div_mode(a: &Tensor, b: Operand, mode: RoundingMode) -> Result<Tensor> {
    let op = match mode {
        RoundingMode::True => BinOp::Div,
        RoundingMode::Trunc => BinOp::TruncDiv,
        RoundingMode::Floor => BinOp::FloorDiv,
    };
    let out = binary_raw(a, b, op, false)?;
    track(out, &[Some(a), b.tensor()], |_| {
        Op::Arith(Backward::DivMode {
            a: (mode == RoundingMode::True && b.tensor().is_some_and(|t| t.requires_grad()))
                .then(|| Saved::input(a)),
            b: divisor_of(b),
            mode,
        })
    })
}

/// `a // b` (`floor_divide`): PyTorch computes it but has no derivative for it.
pub fn floor_divide(a: &Tensor, b: Operand) -> Result<Tensor> {
    let out = binary_raw(a, b, BinOp::FloorDiv, false)?;
    Ok(not_implemented(out, &[Some(a), b.tensor()], "floor_divide"))
}

/// `s // a` (Python's `2 // x`).
pub fn rfloor_divide_scalar(a: &Tensor, s: Scalar) -> Result<Tensor> {
    let out = binary_raw(a, Operand::Scalar(s), BinOp::FloorDiv, true)?;
    Ok(not_implemented(out, &[Some(a)], "floor_divide"))
}

/// Records `out` under PyTorch's placeholder node for ops without a derivative: backward
/// through it raises.
fn not_implemented(out: Tensor, inputs: &[Option<&Tensor>], op: &'static str) -> Tensor {
    track_unsaved(out, inputs, |_| Op::Arith(Backward::NotImplemented { op }))
}

/// `a % b` with the divisor's sign (Python's `%`, `torch.remainder`).
pub fn remainder(a: &Tensor, b: Operand) -> Result<Tensor> {
    let out = binary_raw(a, b, BinOp::Rem, false)?;
    Ok(match b {
        Operand::Tensor(bt) => track(out, &[Some(a), Some(bt)], |_| {
            Op::Arith(Backward::Remainder {
                a: Saved::input(a),
                b: Saved::input(bt),
            })
        })?,
        Operand::Scalar(_) => track(out, &[Some(a)], |_| Op::Arith(Backward::RemainderScalar))?,
    })
}

/// `s % a` (Python's `2 % x`): no derivative in PyTorch.
pub fn rremainder_scalar(a: &Tensor, s: Scalar) -> Result<Tensor> {
    let out = binary_raw(a, Operand::Scalar(s), BinOp::Rem, true)?;
    Ok(not_implemented(out, &[Some(a)], "remainder"))
}

/// `s / a` (Python's `2 / x`): PyTorch computes `a.reciprocal() * s`.
pub fn rdiv_scalar(a: &Tensor, s: Scalar) -> Result<Tensor> {
    let recip = super::unary::reciprocal(a)?;
    mul(&recip, Operand::Scalar(s))
}

pub fn neg(a: &Tensor) -> Result<Tensor> {
    if a.dtype() == DType::Bool {
        return Err(Error::NotImplemented("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into()));
    }
    let out = numeric_dispatch!(a.dtype(), T => kernels::unary::<T, T>(a, T::neg))?;
    track(out, &[Some(a)], |_| Op::Arith(Backward::Neg))
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
    let out = match b {
        // `x ** 2` is `x * x`, as PyTorch computes it (one rounding, no libm call).
        Operand::Scalar(e) if e.to_f64() == 2.0 && a.dtype().is_floating_point() => {
            float_dispatch!(a.dtype(), T => kernels::unary::<T, T>(a, |x| x * x))?
        }
        _ => binary_raw(a, b, BinOp::Pow, false)?,
    };
    Ok(match b {
        Operand::Tensor(bt) => track(out, &[Some(a), Some(bt)], |out| {
            Op::Arith(Backward::PowTensor {
                base: Saved::input(a),
                exp: Saved::input(bt),
                result: Saved::output(out),
            })
        })?,
        Operand::Scalar(s) => track(out, &[Some(a)], |_| {
            Op::Arith(Backward::PowScalar {
                base: Saved::input(a),
                exp: scalar_f64(s),
            })
        })?,
    })
}

/// `s ** a` (Python's `2 ** x`).
pub fn rpow_scalar(a: &Tensor, s: Scalar) -> Result<Tensor> {
    let out = binary_raw(a, Operand::Scalar(s), BinOp::Pow, true)?;
    track(out, &[Some(a)], |out| {
        Op::Arith(Backward::RPowScalar {
            base: scalar_f64(s),
            result: Saved::output(out),
        })
    })
}

// ---- maximum, minimum, atan2 ------------------------------------------------------------

/// The elementwise larger value, NaN where either is NaN; ties split the grad in half.
pub fn maximum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    min_max(a, b, true)
}

/// The elementwise smaller value, NaN where either is NaN; ties split the grad in half.
pub fn minimum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    min_max(a, b, false)
}

fn min_max(a: &Tensor, b: &Tensor, is_max: bool) -> Result<Tensor> {
    let op = if is_max { BinOp::Max } else { BinOp::Min };
    let out = binary_raw(a, Operand::Tensor(b), op, false)?;
    track(out, &[Some(a), Some(b)], |_| {
        Op::Arith(Backward::MinMax {
            a: Saved::input(a),
            b: Saved::input(b),
            is_max,
        })
    })
}

/// `atan2(a, b)`, the angle of the point `(b, a)`; integers are promoted to float.
pub fn atan2(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let mut dtype = result_type(&[promo(a), promo(b)]);
    if !dtype.is_floating_point() {
        dtype = DEFAULT_FLOAT;
    }
    let (ac, bc) = (cast_raw(a, dtype)?, cast_raw(b, dtype)?);
    let out = float_dispatch!(dtype, T => kernels::binary::<T, T>(&ac, &bc, T::atan2))?;
    track(out, &[Some(a), Some(b)], |_| {
        Op::Arith(Backward::Atan2 {
            a: Saved::input(a),
            b: Saved::input(b),
        })
    })
}

// ---- clamp and where --------------------------------------------------------------------

/// Which function a clamp came from: PyTorch names its nodes after it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClampFn {
    Clamp,
    ClampMin,
    ClampMax,
}

/// `min(max(x, lo), hi)` with either bound absent; NaN in `x` or in a bound gives NaN.
/// Bounds are Python numbers or tensors (broadcast against `x`).
pub fn clamp(x: &Tensor, lo: Option<Operand>, hi: Option<Operand>, f: ClampFn) -> Result<Tensor> {
    if lo.is_none() && hi.is_none() {
        return Err(Error::Runtime(
            "torch.clamp: At least one of 'min' or 'max' must not be None".into(),
        ));
    }
    let mut promos = vec![promo(x)];
    promos.extend(lo.iter().chain(hi.iter()).map(|b| b.promo()));
    let dtype = result_type(&promos);
    if dtype == DType::Bool {
        // Bools clamp as integers and come back as bools.
        let xi = cast_raw(x, DType::I64)?;
        return cast_raw(&clamp_raw(&xi, lo, hi, DType::I64)?, DType::Bool);
    }
    let out = clamp_raw(x, lo, hi, dtype)?;
    let tensors =
        lo.is_some_and(|b| b.tensor().is_some()) || hi.is_some_and(|b| b.tensor().is_some());
    if !tensors {
        let bound = |b: Option<Operand>| {
            b.map(|b| match b {
                Operand::Scalar(s) => s.to_f64(),
                Operand::Tensor(_) => f64::NAN,
            })
        };
        let (lo, hi) = (bound(lo), bound(hi));
        return track(out, &[Some(x)], |_| {
            Op::Arith(Backward::ClampScalar {
                input: Saved::input(x),
                lo,
                hi,
                f,
            })
        });
    }
    let (lo_t, hi_t) = (
        lo.map(|b| b.to_tensor(dtype)).transpose()?,
        hi.map(|b| b.to_tensor(dtype)).transpose()?,
    );
    // A Python-number bound beside a tensor bound takes no grad.
    let lo_in = lo.and_then(|b| b.tensor());
    let hi_in = hi.and_then(|b| b.tensor());
    track(out, &[Some(x), lo_in, hi_in], |_| {
        Op::Arith(Backward::ClampTensor {
            input: Saved::input(x),
            lo: lo_t.as_ref().map(Saved::input),
            hi: hi_t.as_ref().map(Saved::input),
            f,
        })
    })
}

fn clamp_raw(x: &Tensor, lo: Option<Operand>, hi: Option<Operand>, dtype: DType) -> Result<Tensor> {
    let xc = cast_raw(x, dtype)?;
    numeric_dispatch!(dtype, T => {
        match (lo, hi) {
            (Some(Operand::Scalar(l)), Some(Operand::Scalar(h))) => {
                let (l, h): (T, T) = (scalar_as(l), scalar_as(h));
                kernels::unary::<T, T>(&xc, move |v| v.max_nan(l).min_nan(h))
            }
            (Some(Operand::Scalar(l)), None) => {
                let l: T = scalar_as(l);
                kernels::unary::<T, T>(&xc, move |v| v.max_nan(l))
            }
            (None, Some(Operand::Scalar(h))) => {
                let h: T = scalar_as(h);
                kernels::unary::<T, T>(&xc, move |v| v.min_nan(h))
            }
            (Some(l), Some(h)) => kernels::elementwise::ternary::<T, T, T, T>(
                &xc,
                &l.to_tensor(dtype)?,
                &h.to_tensor(dtype)?,
                |v, l, h| v.max_nan(l).min_nan(h),
            ),
            (Some(l), None) => kernels::binary::<T, T>(&xc, &l.to_tensor(dtype)?, T::max_nan),
            (None, Some(h)) => kernels::binary::<T, T>(&xc, &h.to_tensor(dtype)?, T::min_nan),
            (None, None) => Ok(xc.detach()),
        }
    })
}

/// `where(cond, x, y)`: `x` where `cond` is true, else `y`; either may be a Python number.
/// The grad of the branch not taken is exactly zero (never NaN, whatever the other branch
/// holds), as PyTorch's.
pub fn where_(cond: &Tensor, x: Operand, y: Operand) -> Result<Tensor> {
    if cond.dtype() != DType::Bool {
        return Err(Error::Runtime(format!(
            "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
            type_word(cond.dtype())
        )));
    }
    let dtype = result_type(&[x.promo(), y.promo()]);
    let out = select_raw(cond, x, y, dtype)?;
    track(out, &[x.tensor(), y.tensor()], |_| {
        Op::Arith(Backward::Where {
            cond: cond.detach(),
        })
    })
}

/// `where` without autograd, in `dtype`.
fn select_raw(cond: &Tensor, x: Operand, y: Operand, dtype: DType) -> Result<Tensor> {
    let (xt, yt) = (x.to_tensor(dtype)?, y.to_tensor(dtype)?);
    macro_rules! go {
        ($T:ty) => {
            kernels::elementwise::ternary::<bool, $T, $T, $T>(
                cond,
                &xt,
                &yt,
                |c, a, b| if c { a } else { b },
            )
        };
    }
    match dtype {
        DType::Bool => go!(bool),
        DType::I64 => go!(i64),
        DType::F32 => go!(f32),
        DType::F64 => go!(f64),
    }
}

/// `where(mask, g, 0)` for backward rules: the grad where `mask` holds, exact zeros elsewhere.
pub fn grad_where(mask: &Tensor, g: &Tensor) -> Result<Tensor> {
    where_(
        mask,
        Operand::Tensor(g),
        Operand::Scalar(Scalar::Float(0.0)),
    )
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

/// Binds `$f` to a comparison closure of `$op` for `$T` (one kernel per comparison).
macro_rules! with_cmp_fn {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            CmpOp::Eq => {
                let $f = |x: $T, y: $T| x == y;
                $body
            }
            CmpOp::Ne => {
                let $f = |x: $T, y: $T| x != y;
                $body
            }
            CmpOp::Lt => {
                let $f = |x: $T, y: $T| x < y;
                $body
            }
            CmpOp::Le => {
                let $f = |x: $T, y: $T| x <= y;
                $body
            }
            CmpOp::Gt => {
                let $f = |x: $T, y: $T| x > y;
                $body
            }
            CmpOp::Ge => {
                let $f = |x: $T, y: $T| x >= y;
                $body
            }
        }
    };
}

#[inline]
fn apply_cmp<T: Element>(
    a: &Tensor,
    b: Operand,
    f: impl Fn(T, T) -> bool + Sync + Copy,
) -> Result<Tensor> {
    match b {
        Operand::Tensor(bt) => kernels::binary::<T, bool>(a, &cast_raw(bt, T::DTYPE)?, f),
        Operand::Scalar(s) => {
            let s: T = scalar_as(s);
            kernels::unary::<T, bool>(a, move |x| f(x, s))
        }
    }
}

pub fn compare(a: &Tensor, b: Operand, op: CmpOp) -> Result<Tensor> {
    let dtype = promote_with(a, &b);
    let ac = cast_raw(a, dtype)?;
    match dtype {
        DType::Bool => with_cmp_fn!(op, bool, f => apply_cmp::<bool>(&ac, b, f)),
        DType::I64 => with_cmp_fn!(op, i64, f => apply_cmp::<i64>(&ac, b, f)),
        DType::F32 => with_cmp_fn!(op, f32, f => apply_cmp::<f32>(&ac, b, f)),
        DType::F64 => with_cmp_fn!(op, f64, f => apply_cmp::<f64>(&ac, b, f)),
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
    /// `div(..., rounding_mode=...)`; `a` only for true division with a tensor divisor that
    /// requires grad.
    DivMode {
        a: Option<Saved>,
        b: Divisor,
        mode: RoundingMode,
    },
    Remainder {
        a: Saved,
        b: Saved,
    },
    RemainderScalar,
    MinMax {
        a: Saved,
        b: Saved,
        is_max: bool,
    },
    Atan2 {
        a: Saved,
        b: Saved,
    },
    ClampScalar {
        input: Saved,
        lo: Option<f64>,
        hi: Option<f64>,
        f: ClampFn,
    },
    ClampTensor {
        input: Saved,
        lo: Option<Saved>,
        hi: Option<Saved>,
        f: ClampFn,
    },
    /// Only the (bool, never modified in place by autograd's concern) condition is kept.
    Where {
        cond: Tensor,
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
    /// An op PyTorch computes without a derivative: backward raises.
    NotImplemented {
        op: &'static str,
    },
    /// `zero_()` / `fill_()`: the old values do not matter.
    Overwrite {
        name: &'static str,
    },
    /// `fill_(value)` with a 0-dim tensor: every element's grad reaches `value`.
    Fill,
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::Add { .. } => "AddBackward0",
            Backward::Sub { .. } => "SubBackward0",
            Backward::Rsub => "RsubBackward1",
            Backward::Mul { .. } | Backward::MulScalar { .. } => "MulBackward0",
            Backward::Div { .. } | Backward::DivScalar { .. } => "DivBackward0",
            Backward::DivMode { .. } => "DivBackward2",
            Backward::Remainder { .. } => "RemainderBackward1",
            Backward::RemainderScalar => "RemainderBackward0",
            Backward::MinMax { is_max: true, .. } => "MaximumBackward0",
            Backward::MinMax { is_max: false, .. } => "MinimumBackward0",
            Backward::Atan2 { .. } => "Atan2Backward0",
            Backward::ClampScalar { f, .. } => match f {
                ClampFn::Clamp => "ClampBackward1",
                ClampFn::ClampMin => "ClampMinBackward0",
                ClampFn::ClampMax => "ClampMaxBackward0",
            },
            Backward::ClampTensor { f, .. } => match f {
                ClampFn::Clamp => "ClampBackward0",
                ClampFn::ClampMin => "ClampMinBackward1",
                ClampFn::ClampMax => "ClampMaxBackward1",
            },
            Backward::Where { .. } => "WhereBackward0",
            Backward::Neg => "NegBackward0",
            Backward::PowScalar { .. } => "PowBackward0",
            Backward::PowTensor { .. } => "PowBackward1",
            Backward::RPowScalar { .. } => "PowBackward2",
            Backward::NotImplemented { .. } => "torch::autograd::NotImplemented",
            Backward::Overwrite { name } => name,
            Backward::Fill => "FillBackward3",
        }
    }

    pub fn has_saved(&self) -> bool {
        matches!(
            self,
            Backward::Mul { .. }
                | Backward::Div { .. }
                | Backward::DivMode { .. }
                | Backward::Remainder { .. }
                | Backward::MinMax { .. }
                | Backward::Atan2 { .. }
                | Backward::ClampScalar { .. }
                | Backward::ClampTensor { .. }
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
                let (ga, gb) = div_grads(g, a.as_ref(), &b.unpack(ctx)?, ctx)?;
                smallvec![Some(ga), gb]
            }
            Backward::DivScalar { s } => smallvec![Some(div(g, scalar_t(*s))?), None],
            Backward::DivMode { a, b, mode } => match (mode, b) {
                (RoundingMode::True, Divisor::Tensor(b)) => {
                    let (ga, gb) = div_grads(g, a.as_ref(), &b.unpack(ctx)?, ctx)?;
                    smallvec![Some(ga), gb]
                }
                (RoundingMode::True, Divisor::Scalar(s)) => {
                    smallvec![Some(div(g, scalar_t(*s))?), None]
                }
                _ => smallvec![Some(zeros_like(g)?), Some(zeros_like(g)?)],
            },
            Backward::Remainder { a, b } => {
                // a % b = a - b * floor(a / b)
                let (a, b) = (a.unpack(ctx)?, b.unpack(ctx)?);
                let q = div_mode(&a, Operand::Tensor(&b), RoundingMode::Floor)?;
                smallvec![Some(g.clone()), Some(neg(&mul(g, Operand::Tensor(&q))?)?)]
            }
            Backward::RemainderScalar => smallvec![Some(g.clone())],
            Backward::MinMax { a, b, is_max } => {
                let (a, b) = (a.unpack(ctx)?.detach(), b.unpack(ctx)?.detach());
                let (wa, wb) =
                    float_dispatch!(g.dtype(), T => min_max_weights::<T>(&a, &b, *is_max))?;
                smallvec![Some(weighted(g, &wa)?), Some(weighted(g, &wb)?)]
            }
            Backward::Atan2 { a, b } => {
                // d/da atan2(a, b) = b / (a² + b²), d/db = -a / (a² + b²); zero at the origin.
                let (a, b) = (a.unpack(ctx)?, b.unpack(ctx)?);
                let den = add(
                    &mul(&a, Operand::Tensor(&a))?,
                    Operand::Tensor(&mul(&b, Operand::Tensor(&b))?),
                    1.0,
                )?;
                let nonzero = compare(&den.detach(), scalar_t(0.0), CmpOp::Ne)?;
                let recip = grad_where(&nonzero, &super::unary::reciprocal(&den)?)?;
                let gr = mul(g, Operand::Tensor(&recip))?;
                smallvec![
                    Some(mul(&gr, Operand::Tensor(&b))?),
                    Some(neg(&mul(&gr, Operand::Tensor(&a))?)?)
                ]
            }
            Backward::ClampScalar { input, lo, hi, .. } => {
                // Strictly inside the bounds only: at a bound, or NaN, the grad is zero.
                let x = input.unpack(ctx)?.detach();
                let (lo, hi) = (lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY));
                let inside = numeric_dispatch!(x.dtype(), T => kernels::unary::<T, bool>(&x, move |v| {
                    let v = v.to_f64();
                    v > lo && v < hi
                }))?;
                smallvec![Some(grad_where(&inside, g)?)]
            }
            Backward::ClampTensor { input, lo, hi, .. } => {
                let x = cast_raw(&input.unpack(ctx)?.detach(), g.dtype())?;
                let lo = lo.as_ref().map(|s| s.unpack(ctx)).transpose()?;
                let hi = hi.as_ref().map(|s| s.unpack(ctx)).transpose()?;
                let (wx, wlo, whi) = float_dispatch!(g.dtype(), T => clamp_weights::<T>(&x, lo.as_ref(), hi.as_ref()))?;
                smallvec![
                    Some(weighted(g, &wx)?),
                    wlo.map(|w| weighted(g, &w)).transpose()?,
                    whi.map(|w| weighted(g, &w)).transpose()?
                ]
            }
            Backward::Where { cond } => {
                let zero = Operand::Scalar(Scalar::Float(0.0));
                smallvec![
                    Some(where_(cond, Operand::Tensor(g), zero)?),
                    Some(where_(cond, zero, Operand::Tensor(g))?)
                ]
            }
            Backward::Neg => smallvec![Some(neg(g)?)],
            Backward::PowScalar { base, exp } => {
                let base = base.unpack(ctx)?;
                if *exp == 0.0 {
                    smallvec![Some(mul(g, scalar_t(0.0))?)]
                } else if *exp == 2.0 {
                    // `base ** 1` is `base`: skip computing it.
                    let d = mul(&base, scalar_t(2.0))?;
                    smallvec![Some(mul(g, Operand::Tensor(&d))?)]
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
            Backward::NotImplemented { op } => {
                return Err(Error::Runtime(format!(
                    "derivative for aten::{op} is not implemented"
                )))
            }
            Backward::Overwrite { .. } => smallvec![Some(mul(g, scalar_t(0.0))?)],
            Backward::Fill => smallvec![
                Some(mul(g, scalar_t(0.0))?),
                Some(super::reduce::sum(g, None, false, None)?)
            ],
        })
    }
}

/// Grads of `a / b`: `g / b` and, when `a` was saved, `-(g / b) * (a / b)`.
fn div_grads(
    g: &Tensor,
    a: Option<&Saved>,
    b: &Tensor,
    ctx: &Ctx,
) -> Result<(Tensor, Option<Tensor>)> {
    let ga = div(g, Operand::Tensor(b))?;
    let gb = match a {
        Some(a) => {
            let q = div(&a.unpack(ctx)?, Operand::Tensor(b))?;
            Some(neg(&mul(&ga, Operand::Tensor(&q))?)?)
        }
        None => None,
    };
    Ok((ga, gb))
}

/// Zeros shaped like `g`, with no history (the grad of a piecewise-constant op).
pub fn zeros_like(g: &Tensor) -> Result<Tensor> {
    Tensor::zeros(g.shape(), g.dtype())
}

/// `where(w != 0, g * w, 0)`: `g` scaled by constant weights (0, 1/2 or 1), exactly zero
/// where the weight is.
fn weighted(g: &Tensor, w: &Tensor) -> Result<Tensor> {
    let nonzero = compare(w, scalar_t(0.0), CmpOp::Ne)?;
    grad_where(&nonzero, &mul(g, Operand::Tensor(w))?)
}

/// The share of the grad of `maximum(a, b)` (or `minimum`) that goes to each input: 1 to
/// the one selected, 1/2 each on a tie, and all of it to both where either is NaN.
fn min_max_weights<T: Num>(a: &Tensor, b: &Tensor, is_max: bool) -> Result<(Tensor, Tensor)> {
    let (a, b) = (cast_raw(a, T::DTYPE)?, cast_raw(b, T::DTYPE)?);
    let share = move |x: T, y: T| {
        let (one, half, zero) = (T::from_f64(1.0), T::from_f64(0.5), T::from_f64(0.0));
        let loses = if is_max { x < y } else { x > y };
        if x == y {
            half
        } else if loses {
            zero
        } else {
            one
        }
    };
    Ok((
        kernels::binary::<T, T>(&a, &b, share)?,
        kernels::binary::<T, T>(&b, &a, share)?,
    ))
}

/// The shares of the grad of `clamp(x, lo, hi)` for `x`, `lo` and `hi` (tensor bounds).
///
/// With one bound this is `maximum`/`minimum`'s split. With both, as PyTorch: `x` gets the
/// grad unless it lies below `lo` or above `hi` (so also where it is NaN), halved on a tie
/// with a bound when `lo < hi`; `lo` gets it where `x < lo <= hi` (half on a tie); `hi`
/// where `x > hi >= lo`, or wherever `lo > hi` (the result is then `hi`).
fn clamp_weights<T: Num>(
    x: &Tensor,
    lo: Option<&Tensor>,
    hi: Option<&Tensor>,
) -> Result<(Tensor, Option<Tensor>, Option<Tensor>)> {
    let (lo, hi) = match (lo, hi) {
        (Some(l), None) => {
            let (wx, wl) = min_max_weights::<T>(x, &l.detach(), true)?;
            return Ok((wx, Some(wl), None));
        }
        (None, Some(h)) => {
            let (wx, wh) = min_max_weights::<T>(x, &h.detach(), false)?;
            return Ok((wx, None, Some(wh)));
        }
        (Some(l), Some(h)) => (
            cast_raw(&l.detach(), T::DTYPE)?,
            cast_raw(&h.detach(), T::DTYPE)?,
        ),
        (None, None) => return Ok((Tensor::ones(x.shape(), T::DTYPE)?, None, None)),
    };
    let w = |b: bool| T::from_f64(if b { 1.0 } else { 0.0 });
    let half = |b: bool| T::from_f64(if b { 0.5 } else { 0.0 });
    let wx = kernels::elementwise::ternary::<T, T, T, T>(x, &lo, &hi, move |v, l, h| {
        if v < l || v > h {
            w(false)
        } else if (v == l || v == h) && l < h {
            half(true)
        } else {
            w(true)
        }
    })?;
    let wl = kernels::elementwise::ternary::<T, T, T, T>(x, &lo, &hi, move |v, l, h| {
        if v < l && l <= h {
            w(true)
        } else {
            half(v == l && l < h)
        }
    })?;
    let wh = kernels::elementwise::ternary::<T, T, T, T>(x, &lo, &hi, move |v, l, h| {
        if (v > h && l <= h) || l > h {
            w(true)
        } else {
            half(v == h && l < h)
        }
    })?;
    Ok((wx, Some(wl), Some(wh)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_style_division_and_remainder() {
        for (a, b) in [(7.0f64, 2.0), (-7.0, 2.0), (7.0, -2.0), (-7.0, -2.0)] {
            let (q, r) = (a.floor_div(b), a.rem(b));
            assert_eq!(q, (a / b).floor(), "{a} // {b}");
            assert!((q * b + r - a).abs() < 1e-12, "{a} % {b}");
        }
        // 0.5 // 0.1 is 4 in Python (0.1 is slightly above 1/10), though 0.5 / 0.1 rounds to 5.
        assert_eq!(0.5f64.floor_div(0.1), 4.0);
        assert_eq!((-0.0f64).floor_div(3.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(7i64.floor_div(-2), -4);
        assert_eq!((-7i64).rem(2), 1);
        assert_eq!(i64::MIN.floor_div(-1), i64::MIN);
        assert_eq!(i64::MIN.rem(-1), 0);
        assert!(f64::NAN.max_nan(1.0).is_nan() && 1.0f64.max_nan(f64::NAN).is_nan());
    }

    #[test]
    fn integer_division_by_zero_is_an_error() {
        let a = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        let z = Tensor::from_vec(vec![1i64, 0], &[2]).unwrap();
        assert!(floor_divide(&a, Operand::Tensor(&z)).is_err());
        assert!(remainder(&a, Operand::Scalar(Scalar::Int(0))).is_err());
        let f = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
        assert!(floor_divide(&f, Operand::Scalar(Scalar::Int(0))).is_ok());
    }
}
