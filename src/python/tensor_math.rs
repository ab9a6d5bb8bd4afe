//! `Tensor` methods and `ferrograd._C` functions for pointwise math, activations,
//! comparisons and logic: thin wrappers that parse arguments, call one core function
//! (without the GIL for large tensors) and wrap the result.
//!
//! Unary functions are listed once (`unary_functions!`), which gives each its method, its
//! in-place method (`ops::inplace::apply`) and its type-checked functional form.
//! Activations PyTorch keeps out of its top-level namespace (`gelu`, `silu`, `softplus`,
//! `elu`, `leaky_relu`) are `_C` functions, for `nn.functional` to wrap.

use super::convert::{operand_of, PyOperand};
use super::errors::type_error;
use super::tensor::PyTensor;
use crate::error::{Error, Result as CoreResult};
use crate::kernels::RELEASE_GIL_THRESHOLD;
use crate::ops::arith::{self, ClampFn, CmpOp, Operand, RoundingMode};
use crate::ops::pointwise::{self, FloatClass, LogicOp};
use crate::ops::{inplace, unary};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyNotImplementedError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyString};

// ---- plumbing ---------------------------------------------------------------------------

/// A core error as a Python exception; PyTorch's NotImplementedError (a RuntimeError
/// subclass) for the kernels it has no version of.
fn py_err(e: Error) -> PyErr {
    match e {
        Error::NotImplemented(_) | Error::NotImplementedFor { .. } => {
            PyNotImplementedError::new_err(e.to_string())
        }
        e => e.into(),
    }
}

/// Runs `f`, without the GIL when `n` elements make it worth it.
fn call<T: Send>(
    py: Python<'_>,
    n: usize,
    f: impl FnOnce() -> CoreResult<T> + Send,
) -> PyResult<T> {
    let r = if n >= RELEASE_GIL_THRESHOLD {
        py.allow_threads(f)
    } else {
        f()
    };
    r.map_err(py_err)
}

fn new_tensor(
    py: Python<'_>,
    n: usize,
    f: impl FnOnce() -> CoreResult<Tensor> + Send,
) -> PyResult<PyTensor> {
    Ok(PyTensor::new(call(py, n, f)?))
}

/// Writes `f(self_, other)` into `slf` (the one in-place mechanism) and returns `slf`.
fn in_place(
    slf: &Bound<'_, PyTensor>,
    other: Option<&Tensor>,
    f: impl FnOnce(&Tensor) -> CoreResult<Tensor> + Send,
) -> PyResult<Py<PyTensor>> {
    let t = &slf.borrow().tensor;
    call(slf.py(), t.numel(), || {
        inplace::apply_elementwise(t, other, f)
    })?;
    Ok(slf.clone().unbind())
}

fn type_name(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(obj.get_type().name()?.to_string())
}

/// A tensor argument, or PyTorch's "f(): argument 'x' (position n) must be Tensor, not T".
fn tensor_arg(obj: &Bound<'_, PyAny>, f: &str, arg: &str, pos: usize) -> PyResult<Tensor> {
    match obj.downcast::<PyTensor>() {
        Ok(t) => Ok(t.borrow().tensor.clone()),
        Err(_) => Err(type_error(format!(
            "{f}(): argument '{arg}' (position {pos}) must be Tensor, not {}",
            type_name(obj)?
        ))),
    }
}

/// PyTorch's TypeError when no signature of `f` accepts the arguments: `got` are their
/// types; each signature may carry the reason it did not match.
fn no_overload(f: &str, got: &[String], sigs: &[(&str, Option<&str>)]) -> PyErr {
    let mut msg = format!(
        "{f}() received an invalid combination of arguments - got ({}), but expected one of:\n",
        got.join(", ")
    );
    for (sig, why) in sigs {
        msg.push_str(&format!(" * ({sig})\n"));
        if let Some(why) = why {
            msg.push_str(&format!(
                "      didn't match because some of the arguments have invalid types: {why}\n"
            ));
        }
    }
    PyTypeError::new_err(msg)
}

/// A tensor or a number for a method whose signatures are `(Tensor other)` and
/// `(Number other)` (the argument is named `arg`).
fn operand_arg(obj: &Bound<'_, PyAny>, f: &str, arg: &str) -> PyResult<PyOperand> {
    match operand_of(obj)? {
        Some(o) => Ok(o),
        None => {
            let t = type_name(obj)?;
            let why = format!("(!{t}!)");
            Err(no_overload(
                f,
                &[t],
                &[
                    (&format!("Tensor {arg}"), Some(&why)),
                    (&format!("Number {arg}"), Some(&why)),
                ],
            ))
        }
    }
}

/// An `int` argument, or PyTorch's "f(): argument 'x' must be int, not T".
fn int_arg(obj: &Bound<'_, PyAny>, f: &str, arg: &str) -> PyResult<i64> {
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        return obj.extract();
    }
    Err(type_error(format!(
        "{f}(): argument '{arg}' must be int, not {}",
        type_name(obj)?
    )))
}

/// A `str` argument, or PyTorch's "f(): argument 'x' must be str, not T".
fn str_arg(obj: &Bound<'_, PyAny>, f: &str, arg: &str) -> PyResult<String> {
    if obj.is_instance_of::<PyString>() {
        return obj.extract();
    }
    Err(type_error(format!(
        "{f}(): argument '{arg}' must be str, not {}",
        type_name(obj)?
    )))
}

fn ret(py: Python<'_>, t: PyTensor) -> PyResult<PyObject> {
    Ok(t.into_pyobject(py)?.into_any().unbind())
}

// ---- unary functions --------------------------------------------------------------------

/// For each `name name_ => core::function` row: the method `name`, the in-place method
/// `name_` and the functional `name(input)` (in module `$functional`, registered by
/// `$register`). Rows under `inplace_only` get only the in-place method and the functional
/// form (their method is bound in `tensor.rs`).
macro_rules! unary_functions {
    (
        mod $functional:ident, fn $register:ident;
        methods { $($name:ident $name_:ident => $f:path;)* }
        inplace_only { $($iname:ident $iname_:ident => $if_:path;)* }
    ) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>) -> PyResult<PyTensor> {
                    let t = &self.tensor;
                    new_tensor(py, t.numel(), || $f(t))
                }

                fn $name_(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
                    in_place(slf, None, |pre| $f(pre))
                }
            )*
            $(
                fn $iname_(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
                    in_place(slf, None, |pre| $if_(pre))
                }
            )*
        }

        mod $functional {
            use super::*;
            $(
                #[pyfunction]
                pub fn $name(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                    let t = tensor_arg(input, stringify!($name), "input", 1)?;
                    new_tensor(py, t.numel(), || $f(&t))
                }
            )*
            $(
                #[pyfunction]
                pub fn $iname(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                    let t = tensor_arg(input, stringify!($iname), "input", 1)?;
                    new_tensor(py, t.numel(), || $if_(&t))
                }
            )*
        }

        fn $register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $(m.add_function(wrap_pyfunction!($functional::$name, m)?)?;)*
            $(m.add_function(wrap_pyfunction!($functional::$iname, m)?)?;)*
            Ok(())
        }
    };
}

// Core functions of this file are named apart from the Python names they are bound to: the
// generated functional modules define functions with the Python names.
fn nan_test(t: &Tensor) -> CoreResult<Tensor> {
    pointwise::is_class(t, FloatClass::Nan)
}
fn inf_test(t: &Tensor) -> CoreResult<Tensor> {
    pointwise::is_class(t, FloatClass::Inf)
}
fn finite_test(t: &Tensor) -> CoreResult<Tensor> {
    pointwise::is_class(t, FloatClass::Finite)
}

unary_functions! {
    mod unary_fns, fn register_unary;
    methods {
        expm1 expm1_ => unary::expm1;
        log1p log1p_ => unary::log1p;
        log2 log2_ => unary::log2;
        log10 log10_ => unary::log10;
        rsqrt rsqrt_ => unary::rsqrt;
        square square_ => unary::square;
        sin sin_ => unary::sin;
        cos cos_ => unary::cos;
        tan tan_ => unary::tan;
        asin asin_ => unary::asin;
        acos acos_ => unary::acos;
        atan atan_ => unary::atan;
        arcsin arcsin_ => unary::asin;
        arccos arccos_ => unary::acos;
        arctan arctan_ => unary::atan;
        sinh sinh_ => unary::sinh;
        cosh cosh_ => unary::cosh;
        tanh tanh_ => unary::tanh;
        sigmoid sigmoid_ => unary::sigmoid;
        relu relu_ => unary::relu;
        erf erf_ => unary::erf;
        floor floor_ => unary::floor;
        ceil ceil_ => unary::ceil;
        trunc trunc_ => unary::trunc;
        fix fix_ => unary::trunc;
        frac frac_ => unary::frac;
        negative negative_ => arith::neg;
        absolute absolute_ => unary::abs;
        sgn sgn_ => unary::sign;
        logical_not logical_not_ => pointwise::logical_not;
        bitwise_not bitwise_not_ => pointwise::bitwise_not;
    }
    inplace_only {
        exp exp_ => unary::exp;
        log log_ => unary::log;
        sqrt sqrt_ => unary::sqrt;
        abs abs_ => unary::abs;
        reciprocal reciprocal_ => unary::reciprocal;
        neg neg_ => arith::neg;
        sign sign_ => unary::sign;
    }
}

/// `isnan`, `isinf`, `isfinite`: methods and functions, no in-place form.
macro_rules! predicates {
    ($($name:ident => $f:path;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>) -> PyResult<PyTensor> {
                    let t = &self.tensor;
                    new_tensor(py, t.numel(), || $f(t))
                }
            )*
        }

        mod predicate_fns {
            use super::*;
            $(
                #[pyfunction]
                pub fn $name(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                    let t = tensor_arg(input, stringify!($name), "input", 1)?;
                    new_tensor(py, t.numel(), || $f(&t))
                }
            )*
        }

        fn register_predicates(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $(m.add_function(wrap_pyfunction!(predicate_fns::$name, m)?)?;)*
            Ok(())
        }
    };
}

predicates! {
    isnan => nan_test;
    isinf => inf_test;
    isfinite => finite_test;
}

// ---- binary ops whose other operand must be a tensor ------------------------------------

type TensorFn = fn(&Tensor, &Tensor) -> CoreResult<Tensor>;

fn logical_and_op(a: &Tensor, b: &Tensor) -> CoreResult<Tensor> {
    pointwise::logical(a, b, LogicOp::And)
}
fn logical_or_op(a: &Tensor, b: &Tensor) -> CoreResult<Tensor> {
    pointwise::logical(a, b, LogicOp::Or)
}
fn logical_xor_op(a: &Tensor, b: &Tensor) -> CoreResult<Tensor> {
    pointwise::logical(a, b, LogicOp::Xor)
}

/// `f(self, other)` for a method `name` whose `other` must be a tensor.
fn tensor_method(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    name: &str,
    f: TensorFn,
) -> PyResult<PyTensor> {
    let b = tensor_arg(other, name, "other", 1)?;
    new_tensor(py, a.numel() + b.numel(), || f(a, &b))
}

fn tensor_method_(
    slf: &Bound<'_, PyTensor>,
    other: &Bound<'_, PyAny>,
    name: &str,
    f: TensorFn,
) -> PyResult<Py<PyTensor>> {
    let b = tensor_arg(other, name, "other", 1)?;
    in_place(slf, Some(&b), |pre| f(pre, &b))
}

/// The functional form `name(input, other)`.
fn tensor_function(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    other: &Bound<'_, PyAny>,
    name: &str,
    f: TensorFn,
) -> PyResult<PyTensor> {
    let a = tensor_arg(input, name, "input", 1)?;
    let b = tensor_arg(other, name, "other", 2)?;
    new_tensor(py, a.numel() + b.numel(), || f(&a, &b))
}

/// Methods (and in-place methods, where listed) and functions of tensor-only binary ops.
macro_rules! tensor_binary {
    (
        methods { $($name:ident => $f:path;)* }
        inplace { $($iname:ident $iname_:ident => $if_:path;)* }
    ) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                    tensor_method(py, &self.tensor, other, stringify!($name), $f)
                }
            )*
            $(
                fn $iname(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                    tensor_method(py, &self.tensor, other, stringify!($iname), $if_)
                }

                fn $iname_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
                    tensor_method_(slf, other, stringify!($iname_), $if_)
                }
            )*
        }

        mod tensor_binary_fns {
            use super::*;
            $(
                #[pyfunction]
                pub fn $name(py: Python<'_>, input: &Bound<'_, PyAny>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                    tensor_function(py, input, other, stringify!($name), $f)
                }
            )*
            $(
                #[pyfunction]
                pub fn $iname(py: Python<'_>, input: &Bound<'_, PyAny>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                    tensor_function(py, input, other, stringify!($iname), $if_)
                }
            )*
        }

        fn register_tensor_binary(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $(m.add_function(wrap_pyfunction!(tensor_binary_fns::$name, m)?)?;)*
            $(m.add_function(wrap_pyfunction!(tensor_binary_fns::$iname, m)?)?;)*
            Ok(())
        }
    };
}

tensor_binary! {
    methods {
        maximum => arith::maximum;
        minimum => arith::minimum;
    }
    inplace {
        atan2 atan2_ => arith::atan2;
        arctan2 arctan2_ => arith::atan2;
        logical_and logical_and_ => logical_and_op;
        logical_or logical_or_ => logical_or_op;
        logical_xor logical_xor_ => logical_xor_op;
    }
}

// ---- binary ops with a tensor or number operand -----------------------------------------

type OperandFn = fn(&Tensor, Operand) -> CoreResult<Tensor>;

fn bitwise_and_op(a: &Tensor, b: Operand) -> CoreResult<Tensor> {
    pointwise::bitwise(a, b, LogicOp::And)
}
fn bitwise_or_op(a: &Tensor, b: Operand) -> CoreResult<Tensor> {
    pointwise::bitwise(a, b, LogicOp::Or)
}
fn bitwise_xor_op(a: &Tensor, b: Operand) -> CoreResult<Tensor> {
    pointwise::bitwise(a, b, LogicOp::Xor)
}

fn operand_method(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    name: &str,
    f: OperandFn,
) -> PyResult<PyTensor> {
    let b = operand_arg(other, name, "other")?;
    new_tensor(py, a.numel(), || f(a, b.as_operand()))
}

fn operand_method_(
    slf: &Bound<'_, PyTensor>,
    other: &Bound<'_, PyAny>,
    name: &str,
    f: OperandFn,
) -> PyResult<Py<PyTensor>> {
    let b = operand_arg(other, name, "other")?;
    let o = b.as_operand();
    in_place(slf, o.tensor(), |pre| f(pre, o))
}

/// A binary dunder: `NotImplemented` for operands that are not tensors or numbers.
fn dunder(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    f: OperandFn,
) -> PyResult<PyObject> {
    let Some(b) = operand_of(other)? else {
        return Ok(py.NotImplemented());
    };
    ret(py, new_tensor(py, a.numel(), || f(a, b.as_operand()))?)
}

/// A reflected dunder with a number on the left (`2 // x`); `f(a, s)` computes `s op a`.
fn rdunder(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    f: fn(&Tensor, crate::dtype::Scalar) -> CoreResult<Tensor>,
) -> PyResult<PyObject> {
    match operand_of(other)? {
        Some(PyOperand::Scalar(s)) => ret(py, new_tensor(py, a.numel(), || f(a, s))?),
        _ => Ok(py.NotImplemented()),
    }
}

/// An augmented assignment (`x //= y`): in place, `NotImplemented`-free (PyTorch raises).
fn iop(t: &Tensor, other: &Bound<'_, PyAny>, name: &str, f: OperandFn) -> PyResult<()> {
    let b = operand_arg(other, name, "other")?;
    let o = b.as_operand();
    inplace::apply_elementwise(t, o.tensor(), |pre| f(pre, o)).map_err(py_err)
}

macro_rules! operand_binary {
    ($($name:ident $name_:ident => $f:path;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                    operand_method(py, &self.tensor, other, stringify!($name), $f)
                }

                fn $name_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
                    operand_method_(slf, other, stringify!($name_), $f)
                }
            )*
        }
    };
}

operand_binary! {
    floor_divide floor_divide_ => arith::floor_divide;
    remainder remainder_ => arith::remainder;
    bitwise_and bitwise_and_ => bitwise_and_op;
    bitwise_or bitwise_or_ => bitwise_or_op;
    bitwise_xor bitwise_xor_ => bitwise_xor_op;
}

fn pow_op(a: &Tensor, b: Operand) -> CoreResult<Tensor> {
    arith::pow(a, b)
}

/// In-place comparisons (the result, 0 or 1, is written in `self`'s dtype) and PyTorch's
/// comparison aliases.
macro_rules! comparisons {
    ($($name_:ident => $op:expr;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
                    let b = operand_arg(other, stringify!($name_), "other")?;
                    let o = b.as_operand();
                    in_place(slf, o.tensor(), |pre| arith::compare(pre, o, $op))
                }
            )*
        }
    };
}

comparisons! {
    eq_ => CmpOp::Eq;
    ne_ => CmpOp::Ne;
    lt_ => CmpOp::Lt;
    le_ => CmpOp::Le;
    gt_ => CmpOp::Gt;
    ge_ => CmpOp::Ge;
    not_equal_ => CmpOp::Ne;
    less_ => CmpOp::Lt;
    less_equal_ => CmpOp::Le;
    greater_ => CmpOp::Gt;
    greater_equal_ => CmpOp::Ge;
}

/// Out-of-place comparison aliases (`greater` is `gt`, ...).
macro_rules! comparison_aliases {
    ($($name:ident => $op:expr;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
                    let b = operand_arg(other, stringify!($name), "other")?;
                    let t = &self.tensor;
                    new_tensor(py, t.numel(), || arith::compare(t, b.as_operand(), $op))
                }
            )*
        }
    };
}

comparison_aliases! {
    not_equal => CmpOp::Ne;
    less => CmpOp::Lt;
    less_equal => CmpOp::Le;
    greater => CmpOp::Gt;
    greater_equal => CmpOp::Ge;
}

/// The rounding mode of `div` from its keyword arguments: absent (plain true division),
/// `None` (true division, recorded as PyTorch's rounding-mode node), `'trunc'` or `'floor'`.
/// Read from `**kwargs` because an explicit `None` differs from no argument.
fn rounding_mode(
    kwargs: Option<&Bound<'_, PyDict>>,
    other: &Bound<'_, PyAny>,
    f: &str,
) -> PyResult<Option<RoundingMode>> {
    let Some(kwargs) = kwargs else {
        return Ok(None);
    };
    let mut mode = None;
    for (k, v) in kwargs.iter() {
        let key: String = k.extract()?;
        if key != "rounding_mode" {
            return Err(type_error(format!(
                "{f}() got an unexpected keyword argument '{key}'"
            )));
        }
        mode = Some(v);
    }
    let Some(m) = mode else { return Ok(None) };
    if m.is_none() {
        return Ok(Some(RoundingMode::True));
    }
    if !m.is_instance_of::<PyString>() {
        return Err(no_overload(
            "div",
            &[
                type_name(other)?,
                format!("rounding_mode={}", type_name(&m)?),
            ],
            &[
                ("Tensor other", None),
                ("Tensor other, *, str rounding_mode", None),
                ("Number other, *, str rounding_mode", None),
            ],
        ));
    }
    let s: String = m.extract()?;
    Ok(Some(RoundingMode::parse(Some(&s)).map_err(py_err)?))
}

fn divide_op(a: &Tensor, b: Operand, mode: Option<RoundingMode>) -> CoreResult<Tensor> {
    match mode {
        None => arith::div(a, b),
        Some(m) => arith::div_mode(a, b, m),
    }
}

fn div_other(other: &Bound<'_, PyAny>, name: &str) -> PyResult<PyOperand> {
    match operand_of(other)? {
        Some(o) => Ok(o),
        None => Err(type_error(format!(
            "{name}(): argument 'other' (position 1) must be Tensor, not {}",
            type_name(other)?
        ))),
    }
}

/// A clamp bound: absent/None, a number or a tensor.
fn bound_of(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Option<PyOperand>>> {
    match obj {
        None => Ok(Some(None)),
        Some(o) if o.is_none() => Ok(Some(None)),
        Some(o) => Ok(operand_of(o)?.map(Some)),
    }
}

/// Parses `clamp`'s bounds: both numbers (or None) or both tensors (or None).
fn clamp_bounds(
    f: &str,
    lo: Option<&Bound<'_, PyAny>>,
    hi: Option<&Bound<'_, PyAny>>,
    with_input: bool,
) -> PyResult<(Option<PyOperand>, Option<PyOperand>)> {
    let (l, h) = (bound_of(lo)?, bound_of(hi)?);
    let is_tensor = |b: &Option<PyOperand>| matches!(b, Some(PyOperand::Tensor(_)));
    let is_number = |b: &Option<PyOperand>| matches!(b, Some(PyOperand::Scalar(_)));
    match (l, h) {
        (Some(l), Some(h))
            if !(is_tensor(&l) && is_number(&h) || is_number(&l) && is_tensor(&h)) =>
        {
            Ok((l, h))
        }
        _ => {
            let mut got: Vec<String> = if with_input {
                vec!["Tensor".into()]
            } else {
                vec![]
            };
            for b in [lo, hi].into_iter().flatten() {
                got.push(type_name(b)?);
            }
            let (t, n) = if with_input {
                (
                    "Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None",
                    "Tensor input, Number min = None, Number max = None, *, Tensor out = None",
                )
            } else {
                (
                    "Tensor min = None, Tensor max = None",
                    "Number min = None, Number max = None",
                )
            };
            Err(no_overload(f, &got, &[(t, None), (n, None)]))
        }
    }
}

/// `clamp_min(min)` / `clamp_max(max)`: one required bound, a number or a tensor.
fn one_bound(obj: &Bound<'_, PyAny>, f: &str, arg: &str) -> PyResult<PyOperand> {
    if obj.is_none() {
        let t = type_name(obj)?;
        let why = format!("(!{t}!)");
        return Err(no_overload(
            f,
            &[t],
            &[
                (&format!("Tensor {arg}"), Some(&why)),
                (&format!("Number {arg}"), Some(&why)),
            ],
        ));
    }
    operand_arg(obj, f, arg)
}

fn clamp_op(
    x: &Tensor,
    lo: &Option<PyOperand>,
    hi: &Option<PyOperand>,
    f: ClampFn,
) -> CoreResult<Tensor> {
    arith::clamp(
        x,
        lo.as_ref().map(PyOperand::as_operand),
        hi.as_ref().map(PyOperand::as_operand),
        f,
    )
}

fn bound_tensors<'a>(lo: &'a Option<PyOperand>, hi: &'a Option<PyOperand>) -> Option<&'a Tensor> {
    // The in-place mechanism needs to know whether another input takes part in autograd
    // (so one that requires grad comes first), and checks a tensor bound for overlap.
    let tensors = || {
        [lo, hi].into_iter().flatten().filter_map(|b| match b {
            PyOperand::Tensor(t) => Some(t),
            _ => None,
        })
    };
    tensors()
        .find(|t| t.requires_grad())
        .or_else(|| tensors().next())
}

#[pymethods]
impl PyTensor {
    #[pyo3(signature = (*, decimals=None))]
    fn round(&self, py: Python<'_>, decimals: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let d = decimals
            .map(|d| int_arg(d, "round", "decimals"))
            .transpose()?
            .unwrap_or(0);
        let t = &self.tensor;
        new_tensor(py, t.numel(), || unary::round(t, d))
    }

    #[pyo3(signature = (*, decimals=None))]
    fn round_(slf: &Bound<'_, Self>, decimals: Option<&Bound<'_, PyAny>>) -> PyResult<Py<Self>> {
        let d = decimals
            .map(|d| int_arg(d, "round_", "decimals"))
            .transpose()?
            .unwrap_or(0);
        in_place(slf, None, |pre| unary::round(pre, d))
    }

    /// `div(other, *, rounding_mode=None)` (PyTorch's `div` is this method).
    #[pyo3(signature = (other, **kwargs))]
    fn divide(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyTensor> {
        let mode = rounding_mode(kwargs, other, "div")?;
        let b = div_other(other, "div")?;
        let t = &self.tensor;
        new_tensor(py, t.numel(), || divide_op(t, b.as_operand(), mode))
    }

    #[pyo3(signature = (other, **kwargs))]
    fn divide_(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<Self>> {
        let mode = rounding_mode(kwargs, other, "div_")?;
        let b = div_other(other, "div_")?;
        let o = b.as_operand();
        in_place(slf, o.tensor(), |pre| divide_op(pre, o, mode))
    }

    fn true_divide_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let b = div_other(other, "true_divide_")?;
        let o = b.as_operand();
        in_place(slf, o.tensor(), |pre| arith::div(pre, o))
    }

    fn pow_(slf: &Bound<'_, Self>, exponent: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        operand_method_(slf, exponent, "pow_", pow_op)
    }

    #[pyo3(signature = (min=None, max=None))]
    fn clamp(
        &self,
        py: Python<'_>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let (lo, hi) = clamp_bounds("clamp", min, max, false)?;
        let t = &self.tensor;
        new_tensor(py, t.numel(), || clamp_op(t, &lo, &hi, ClampFn::Clamp))
    }

    #[pyo3(signature = (min=None, max=None))]
    fn clamp_(
        slf: &Bound<'_, Self>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Self>> {
        let (lo, hi) = clamp_bounds("clamp_", min, max, false)?;
        in_place(slf, bound_tensors(&lo, &hi), |pre| {
            clamp_op(pre, &lo, &hi, ClampFn::Clamp)
        })
    }

    #[pyo3(signature = (min=None, max=None))]
    fn clip(
        &self,
        py: Python<'_>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let (lo, hi) = clamp_bounds("clip", min, max, false)?;
        let t = &self.tensor;
        new_tensor(py, t.numel(), || clamp_op(t, &lo, &hi, ClampFn::Clamp))
    }

    #[pyo3(signature = (min=None, max=None))]
    fn clip_(
        slf: &Bound<'_, Self>,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Self>> {
        let (lo, hi) = clamp_bounds("clip_", min, max, false)?;
        in_place(slf, bound_tensors(&lo, &hi), |pre| {
            clamp_op(pre, &lo, &hi, ClampFn::Clamp)
        })
    }

    fn clamp_min(&self, py: Python<'_>, min: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let lo = Some(one_bound(min, "clamp_min", "min")?);
        let t = &self.tensor;
        new_tensor(py, t.numel(), || clamp_op(t, &lo, &None, ClampFn::ClampMin))
    }

    fn clamp_min_(slf: &Bound<'_, Self>, min: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let lo = Some(one_bound(min, "clamp_min_", "min")?);
        in_place(slf, bound_tensors(&lo, &None), |pre| {
            clamp_op(pre, &lo, &None, ClampFn::ClampMin)
        })
    }

    fn clamp_max(&self, py: Python<'_>, max: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let hi = Some(one_bound(max, "clamp_max", "max")?);
        let t = &self.tensor;
        new_tensor(py, t.numel(), || clamp_op(t, &None, &hi, ClampFn::ClampMax))
    }

    fn clamp_max_(slf: &Bound<'_, Self>, max: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let hi = Some(one_bound(max, "clamp_max_", "max")?);
        in_place(slf, bound_tensors(&None, &hi), |pre| {
            clamp_op(pre, &None, &hi, ClampFn::ClampMax)
        })
    }

    /// `self.where(condition, other)` is `where(condition, self, other)`.
    #[pyo3(name = "where")]
    fn where_method(
        slf: &Bound<'_, Self>,
        condition: &Bound<'_, PyAny>,
        other: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let bad = |c: &Bound<'_, PyAny>, o: &Bound<'_, PyAny>| -> PyResult<PyErr> {
            let (ct, ot) = (type_name(c)?, type_name(o)?);
            let why = format!("({}, {})", mark(&ct, "Tensor"), mark(&ot, "Tensor"));
            let why_n = format!("({}, !{ot}!)", mark(&ct, "Tensor"));
            Ok(no_overload(
                "where",
                &[ct.clone(), ot.clone()],
                &[
                    ("Tensor condition, Tensor other", Some(&why)),
                    ("Tensor condition, Number other", Some(&why_n)),
                ],
            ))
        };
        let (Ok(cond), Some(y)) = (condition.downcast::<PyTensor>(), operand_of(other)?) else {
            return Err(bad(condition, other)?);
        };
        let cond = cond.borrow().tensor.clone();
        let x = &slf.borrow().tensor;
        new_tensor(slf.py(), x.numel(), || {
            arith::where_(&cond, Operand::Tensor(x), y.as_operand())
        })
    }

    // ---- Python operators ---------------------------------------------------------------

    fn __floordiv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, arith::floor_divide)
    }
    fn __rfloordiv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        rdunder(py, &self.tensor, other, arith::rfloor_divide_scalar)
    }
    fn __ifloordiv__(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        iop(&self.tensor, other, "floor_divide_", arith::floor_divide)
    }
    fn __mod__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, arith::remainder)
    }
    fn __rmod__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        rdunder(py, &self.tensor, other, arith::rremainder_scalar)
    }
    fn __imod__(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        iop(&self.tensor, other, "remainder_", arith::remainder)
    }
    fn __ipow__(
        &self,
        other: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        iop(&self.tensor, other, "pow_", pow_op)
    }
    fn __and__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, bitwise_and_op)
    }
    fn __rand__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, bitwise_and_op)
    }
    fn __iand__(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        iop(&self.tensor, other, "bitwise_and_", bitwise_and_op)
    }
    fn __or__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, bitwise_or_op)
    }
    fn __ror__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, bitwise_or_op)
    }
    fn __ior__(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        iop(&self.tensor, other, "bitwise_or_", bitwise_or_op)
    }
    fn __xor__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, bitwise_xor_op)
    }
    fn __rxor__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, bitwise_xor_op)
    }
    fn __ixor__(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        iop(&self.tensor, other, "bitwise_xor_", bitwise_xor_op)
    }
    fn __invert__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = &self.tensor;
        if t.dtype().is_floating_point() {
            return Err(type_error(
                "~ (operator.invert) is only implemented on integer and Boolean-type tensors",
            ));
        }
        new_tensor(py, t.numel(), || pointwise::bitwise_not(t))
    }
}

/// `T` as PyTorch marks a mismatching argument type (`!T!`) against the expected one.
fn mark(got: &str, want: &str) -> String {
    if got == want {
        got.to_string()
    } else {
        format!("!{got}!")
    }
}

// ---- module-level functions -------------------------------------------------------------

/// `where(condition, input, other)`: either branch may be a number. With the condition
/// alone it is `condition.nonzero(as_tuple=True)`.
#[pyfunction]
#[pyo3(name = "where", signature = (condition, input=None, other=None))]
fn where_function(
    py: Python<'_>,
    condition: &Bound<'_, PyAny>,
    input: Option<&Bound<'_, PyAny>>,
    other: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyObject> {
    let (x, y) = match (input, other) {
        (None, None) => {
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("as_tuple", true)?;
            return Ok(condition
                .call_method("nonzero", (), Some(&kwargs))?
                .unbind());
        }
        (Some(x), Some(y)) => (x, y),
        _ => {
            return Err(type_error(
                "where() missing required argument 'other' (pos 3)",
            ))
        }
    };
    let (xo, yo) = (operand_of(x)?, operand_of(y)?);
    let (Ok(cond), Some(xo), Some(yo)) = (condition.downcast::<PyTensor>(), xo, yo) else {
        let got = [type_name(condition)?, type_name(x)?, type_name(y)?];
        return Err(no_overload(
            "where",
            &got,
            &[
                ("Tensor condition", None),
                (
                    "Tensor condition, Tensor input, Tensor other, *, Tensor out = None",
                    None,
                ),
                ("Tensor condition, Number self, Tensor other", None),
                ("Tensor condition, Tensor input, Number other", None),
                ("Tensor condition, Number self, Number other", None),
            ],
        ));
    };
    let cond = cond.borrow().tensor.clone();
    let out = new_tensor(py, cond.numel(), || {
        arith::where_(&cond, xo.as_operand(), yo.as_operand())
    })?;
    ret(py, out)
}

/// `clamp(input, min=None, max=None)` (also `clip`).
#[pyfunction]
#[pyo3(signature = (input, min=None, max=None))]
fn clamp(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    min: Option<&Bound<'_, PyAny>>,
    max: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let t = tensor_arg(input, "clamp", "input", 1)?;
    let (lo, hi) = clamp_bounds("clamp", min, max, true)?;
    new_tensor(py, t.numel(), || clamp_op(&t, &lo, &hi, ClampFn::Clamp))
}

fn float_input(input: &Bound<'_, PyAny>, f: &str) -> PyResult<Tensor> {
    tensor_arg(input, f, "input", 1)
}

/// `gelu(input, approximate)`: `approximate` is required here (an optional argument could
/// not tell `None`, which PyTorch refuses, from no argument); `ferrograd._math.gelu` and
/// `nn.functional.gelu` give it its default, `'none'`.
#[pyfunction]
fn gelu(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    approximate: &Bound<'_, PyAny>,
) -> PyResult<PyTensor> {
    let t = float_input(input, "gelu")?;
    let a = str_arg(approximate, "gelu", "approximate")?;
    new_tensor(py, t.numel(), || unary::gelu(&t, &a))
}

#[pyfunction]
fn silu(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let t = float_input(input, "silu")?;
    new_tensor(py, t.numel(), || unary::silu(&t))
}

#[pyfunction]
fn silu_(input: &Bound<'_, PyTensor>) -> PyResult<Py<PyTensor>> {
    in_place(input, None, unary::silu)
}

#[pyfunction]
#[pyo3(signature = (input, beta=1.0, threshold=20.0))]
fn softplus(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    beta: f64,
    threshold: f64,
) -> PyResult<PyTensor> {
    let t = float_input(input, "softplus")?;
    new_tensor(py, t.numel(), || unary::softplus(&t, beta, threshold))
}

#[pyfunction]
#[pyo3(signature = (input, alpha=1.0))]
fn elu(py: Python<'_>, input: &Bound<'_, PyAny>, alpha: f64) -> PyResult<PyTensor> {
    let t = float_input(input, "elu")?;
    new_tensor(py, t.numel(), || unary::elu(&t, alpha))
}

#[pyfunction]
#[pyo3(signature = (input, alpha=1.0))]
fn elu_(input: &Bound<'_, PyTensor>, alpha: f64) -> PyResult<Py<PyTensor>> {
    let t = &input.borrow().tensor;
    call(input.py(), t.numel(), || unary::elu_(t, alpha))?;
    Ok(input.clone().unbind())
}

#[pyfunction]
#[pyo3(signature = (input, negative_slope=0.01))]
fn leaky_relu(py: Python<'_>, input: &Bound<'_, PyAny>, negative_slope: f64) -> PyResult<PyTensor> {
    let t = float_input(input, "leaky_relu")?;
    new_tensor(py, t.numel(), || unary::leaky_relu(&t, negative_slope))
}

#[pyfunction]
#[pyo3(signature = (input, negative_slope=0.01))]
fn leaky_relu_(input: &Bound<'_, PyTensor>, negative_slope: f64) -> PyResult<Py<PyTensor>> {
    let t = &input.borrow().tensor;
    call(input.py(), t.numel(), || {
        unary::leaky_relu_(t, negative_slope)
    })?;
    Ok(input.clone().unbind())
}

/// Registers this family's module-level functions on `ferrograd._C`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    register_unary(m)?;
    register_predicates(m)?;
    register_tensor_binary(m)?;
    m.add_function(wrap_pyfunction!(where_function, m)?)?;
    m.add_function(wrap_pyfunction!(clamp, m)?)?;
    m.add_function(wrap_pyfunction!(gelu, m)?)?;
    m.add_function(wrap_pyfunction!(silu, m)?)?;
    m.add_function(wrap_pyfunction!(silu_, m)?)?;
    m.add_function(wrap_pyfunction!(softplus, m)?)?;
    m.add_function(wrap_pyfunction!(elu, m)?)?;
    m.add_function(wrap_pyfunction!(elu_, m)?)?;
    m.add_function(wrap_pyfunction!(leaky_relu, m)?)?;
    m.add_function(wrap_pyfunction!(leaky_relu_, m)?)?;
    Ok(())
}
