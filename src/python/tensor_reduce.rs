//! `Tensor` methods for reductions, scans and softmax (`sum`, `mean` and `norm` live in
//! `tensor.rs`). Arguments are checked the way PyTorch's parser checks them, with its
//! messages; the work runs in `ops::reduce` without the GIL for large tensors.

use super::convert::opt_dtype;
use super::errors::{runtime_error, type_error};
use super::tensor::{run, PyTensor};
use crate::dtype::DType;
use crate::ops::{inplace, reduce};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyNotImplementedError, PyUserWarning};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBool, PyFloat, PyInt, PySequence, PyString};
use pyo3::IntoPyObjectExt;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    if obj.is_instance_of::<PyTensor>() {
        return "Tensor".into();
    }
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// An `int` argument (not a bool; a one-element integer tensor counts, as in PyTorch).
fn int_of(obj: &Bound<'_, PyAny>) -> Option<i64> {
    if obj.is_instance_of::<PyBool>() {
        return None;
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().ok();
    }
    if let Ok(t) = obj.downcast::<PyTensor>() {
        let t = &t.borrow().tensor;
        if t.numel() == 1 && t.ndim() == 0 && t.dtype() == DType::I64 {
            return t.item().ok().map(|s| s.to_f64() as i64);
        }
    }
    None
}

/// A required `int dim` argument.
fn dim_int(obj: &Bound<'_, PyAny>, fname: &str) -> PyResult<i64> {
    int_of(obj).ok_or_else(|| {
        type_error(format!(
            "{fname}(): argument 'dim' (position 1) must be int, not {}",
            type_name(obj)
        ))
    })
}

/// A `tuple of ints dim` argument (an int, a sequence of ints, or None for all dims);
/// `None` when it is neither.
fn dims_of(obj: Option<&Bound<'_, PyAny>>) -> Option<Vec<i64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Some(Vec::new());
    };
    if let Some(d) = int_of(obj) {
        return Some(vec![d]);
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyTensor>() {
        return None;
    }
    let seq = obj.downcast::<PySequence>().ok()?;
    seq.try_iter()
        .ok()?
        .map(|x| x.ok().and_then(|x| int_of(&x)))
        .collect()
}

/// `dims_of` with PyTorch's error for a wrong type.
fn dims_tuple(obj: Option<&Bound<'_, PyAny>>, fname: &str) -> PyResult<Vec<i64>> {
    dims_of(obj).ok_or_else(|| {
        type_error(format!(
            "{fname}(): argument 'dim' (position 1) must be tuple of ints, not {}",
            obj.map(type_name).unwrap_or_default()
        ))
    })
}

/// A `bool keepdim` argument (default false).
fn flag(obj: Option<&Bound<'_, PyAny>>, fname: &str, name: &str) -> PyResult<bool> {
    match obj {
        None => Ok(false),
        Some(o) => match o.downcast::<PyBool>() {
            Ok(b) => Ok(b.is_true()),
            Err(_) => Err(type_error(format!(
                "{fname}(): argument '{name}' must be bool, not {}",
                type_name(o)
            ))),
        },
    }
}

/// PyTorch's message when no overload of `fname` accepts the arguments.
fn no_overload(fname: &str, got: &str, overloads: &[&str]) -> PyErr {
    let mut msg = format!(
        "{fname}() received an invalid combination of arguments - got ({got}), but expected one of:\n"
    );
    for o in overloads {
        msg.push_str(&format!(" * {o}\n"));
    }
    type_error(msg)
}

const EXTREME_OVERLOADS: [&str; 3] = ["()", "(Tensor other)", "(int dim, bool keepdim = False)"];
const PROD_OVERLOADS: [&str; 2] = [
    "(*, torch.dtype dtype = None)",
    "(int dim, bool keepdim = False, *, torch.dtype dtype = None)",
];
const VAR_OVERLOADS: [&str; 3] = [
    "(tuple of ints dim, bool unbiased = True, bool keepdim = False)",
    "(tuple of ints dim = None, *, Number correction = None, bool keepdim = False)",
    "(bool unbiased = True)",
];
const TRUTH_OVERLOADS: [&str; 3] = [
    "()",
    "(tuple of ints dim = None, bool keepdim = False)",
    "(int dim, bool keepdim = False)",
];

static RETURN_TYPES: GILOnceCell<(PyObject, PyObject)> = GILOnceCell::new();

/// `ferrograd.return_types.max` / `.min` holding `(values, indices)`.
fn values_indices(
    py: Python<'_>,
    min: bool,
    values: Tensor,
    indices: Tensor,
) -> PyResult<PyObject> {
    let (max_t, min_t) = RETURN_TYPES.get_or_try_init(py, || -> PyResult<_> {
        let m = py.import("ferrograd.return_types")?;
        Ok((m.getattr("max")?.unbind(), m.getattr("min")?.unbind()))
    })?;
    let ty = if min { min_t } else { max_t };
    Ok(ty
        .bind(py)
        .call1((PyTensor::new(values), PyTensor::new(indices)))?
        .unbind())
}

fn tensor_object(py: Python<'_>, t: Tensor) -> PyResult<PyObject> {
    PyTensor::new(t).into_py_any(py)
}

/// Emits PyTorch's warning when `var`/`std` divide by a non-positive count.
fn warn_dof(
    py: Python<'_>,
    fname: &str,
    t: &Tensor,
    dims: &[i64],
    correction: f64,
) -> PyResult<()> {
    let dims = (!dims.is_empty()).then_some(dims);
    if reduce::reduction_count(t, dims)? as f64 - correction <= 0.0 {
        let msg = std::ffi::CString::new(format!("{fname}(): degrees of freedom is <= 0. Correction should be strictly less than the reduction factor (input numel divided by output numel)."))?;
        PyErr::warn(py, &py.get_type::<PyUserWarning>(), &msg, 1)?;
    }
    Ok(())
}

impl PyTensor {
    /// `max` / `min`: over everything, along a dim (values and indices) or, with a tensor,
    /// elementwise through `ferrograd.maximum` / `minimum`.
    fn extreme(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
        min: bool,
    ) -> PyResult<PyObject> {
        let fname = if min { "min" } else { "max" };
        let t = &self.tensor;
        let Some(dim) = dim.filter(|d| !d.is_none()) else {
            if let Some(k) = keepdim {
                return Err(no_overload(
                    fname,
                    &format!("keepdim={}, ", type_name(k)),
                    &EXTREME_OVERLOADS,
                ));
            }
            let out = run(py, t.numel(), || reduce::extreme_all(t, min))?;
            return tensor_object(py, out);
        };
        if let Some(d) = int_of(dim) {
            let keep = flag(keepdim, fname, "keepdim")?;
            let (v, i) = run(py, t.numel(), || reduce::extreme_dim(t, d, keep, min))?;
            return values_indices(py, min, v, i);
        }
        if dim.is_instance_of::<PyTensor>() {
            if keepdim.is_some() {
                return Err(type_error(format!(
                    "{fname}(): argument 'dim' (position 1) must be int, not Tensor"
                )));
            }
            let elementwise = if min { "minimum" } else { "maximum" };
            let f = py.import("ferrograd")?.getattr(elementwise).map_err(|_| {
                PyNotImplementedError::new_err(format!(
                    "{fname}(input, other) needs ferrograd.{elementwise}, which is not available"
                ))
            })?;
            return Ok(f.call1((self.clone_ref(), dim))?.unbind());
        }
        Err(no_overload(fname, &type_name(dim), &EXTREME_OVERLOADS))
    }

    fn clone_ref(&self) -> PyTensor {
        PyTensor::new(self.tensor.clone())
    }

    /// `var` / `std` with PyTorch's three overloads (`dim, unbiased, keepdim`,
    /// `dim, *, correction, keepdim` and `unbiased`).
    fn variance(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
        correction: Option<&Bound<'_, PyAny>>,
        sqrt: bool,
    ) -> PyResult<PyTensor> {
        let fname = if sqrt { "std" } else { "var" };
        let (dim, unbiased) = match dim {
            Some(d) if d.is_instance_of::<PyBool>() && unbiased.is_none() => (None, Some(d)),
            d => (d, unbiased),
        };
        let dims = match dims_of(dim) {
            Some(d) => d,
            None => {
                let got = dim.map(type_name).unwrap_or_default();
                return Err(no_overload(fname, &got, &VAR_OVERLOADS));
            }
        };
        let correction = match (
            unbiased.filter(|u| !u.is_none()),
            correction.filter(|c| !c.is_none()),
        ) {
            (Some(u), Some(c)) => {
                return Err(no_overload(
                    fname,
                    &format!("correction={}, unbiased={}", type_name(c), type_name(u)),
                    &VAR_OVERLOADS,
                ))
            }
            (Some(u), None) => {
                if flag(Some(u), fname, "unbiased")? {
                    1.0
                } else {
                    0.0
                }
            }
            (None, Some(c)) => {
                if c.is_instance_of::<PyBool>()
                    || !(c.is_instance_of::<PyInt>() || c.is_instance_of::<PyFloat>())
                {
                    return Err(type_error(format!(
                        "{fname}(): argument 'correction' must be Number, not {}",
                        type_name(c)
                    )));
                }
                c.extract::<f64>()?
            }
            (None, None) => 1.0,
        };
        let keep = flag(keepdim, fname, "keepdim")?;
        let t = &self.tensor;
        if !t.dtype().is_floating_point() {
            return Err(PyNotImplementedError::new_err(
                "std and var only support floating point and complex dtypes",
            ));
        }
        warn_dof(py, fname, t, &dims, correction)?;
        let dims = (dim.is_some_and(|d| !d.is_none())).then_some(dims);
        Ok(PyTensor::new(run(py, t.numel(), || {
            reduce::var(t, dims.as_deref(), correction, keep, sqrt)
        })?))
    }

    fn truth(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
        any: bool,
    ) -> PyResult<PyTensor> {
        let fname = if any { "any" } else { "all" };
        let dims = dims_of(dim).ok_or_else(|| {
            no_overload(
                fname,
                &dim.map(type_name).unwrap_or_default(),
                &TRUTH_OVERLOADS,
            )
        })?;
        let keep = flag(keepdim, fname, "keepdim")?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            reduce::all(t, Some(&dims), keep, any)
        })?))
    }

    fn softmax_like(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        log: bool,
    ) -> PyResult<PyTensor> {
        let fname = if log { "log_softmax" } else { "softmax" };
        let d = dim_int(dim, fname)?;
        let dtype = opt_dtype(dtype)?;
        let t = &self.tensor;
        let x_dtype = dtype.unwrap_or(t.dtype());
        if !x_dtype.is_floating_point() {
            let last = crate::shape::wrap_dim(d, t.ndim())? + 1 >= t.ndim();
            return Err(PyNotImplementedError::new_err(format!(
                "\"{fname}{}_kernel_impl\" not implemented for '{}'",
                if last { "_lastdim" } else { "" },
                reduce::type_word(x_dtype)
            )));
        }
        Ok(PyTensor::new(run(py, t.numel(), || {
            reduce::softmax(t, d, dtype, log)
        })?))
    }

    fn scan(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        prod: bool,
    ) -> PyResult<Tensor> {
        let fname = if prod { "cumprod" } else { "cumsum" };
        let d = dim_int(dim, fname)?;
        let dtype = opt_dtype(dtype)?;
        if dtype == Some(DType::Bool) {
            return Err(PyNotImplementedError::new_err(format!(
                "\"{fname}_out_cpu\" not implemented for 'Bool'"
            )));
        }
        let t = &self.tensor;
        run(py, t.numel(), || {
            if prod {
                reduce::cumprod(t, d, dtype)
            } else {
                reduce::cumsum(t, d, dtype)
            }
        })
    }

    fn scan_(
        slf: &Bound<'_, Self>,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        prod: bool,
    ) -> PyResult<Py<Self>> {
        let fname = if prod { "cumprod_" } else { "cumsum_" };
        let d = dim_int(dim, fname)?;
        let dtype = opt_dtype(dtype)?;
        let own = slf.borrow().tensor.dtype();
        if let Some(d) = dtype.filter(|&d| d != own) {
            let c_name = |d: DType| match d {
                DType::Bool => "bool",
                DType::I64 => "long int",
                DType::F32 => "float",
                DType::F64 => "double",
            };
            return Err(runtime_error(format!(
                "Bad in-place call: input tensor dtype {} and output tensor dtype {} should match",
                c_name(own),
                c_name(d)
            )));
        }
        inplace::apply(&slf.borrow().tensor, None, |pre| {
            if prod {
                reduce::cumprod(pre, d, dtype)
            } else {
                reduce::cumsum(pre, d, dtype)
            }
        })?;
        Ok(slf.clone().unbind())
    }
}

#[pymethods]
impl PyTensor {
    /// `max()`, `max(dim, keepdim=False)` (values, indices) or `max(other)`.
    #[pyo3(signature = (dim=None, keepdim=None))]
    fn max(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyObject> {
        self.extreme(py, dim, keepdim, false)
    }

    /// `min()`, `min(dim, keepdim=False)` (values, indices) or `min(other)`.
    #[pyo3(signature = (dim=None, keepdim=None))]
    fn min(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyObject> {
        self.extreme(py, dim, keepdim, true)
    }

    #[pyo3(signature = (dim=None, keepdim=None))]
    fn amax(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = dims_tuple(dim, "amax")?;
        let keep = flag(keepdim, "amax", "keepdim")?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            reduce::amax(t, &dims, keep, false)
        })?))
    }

    #[pyo3(signature = (dim=None, keepdim=None))]
    fn amin(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = dims_tuple(dim, "amin")?;
        let keep = flag(keepdim, "amin", "keepdim")?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            reduce::amax(t, &dims, keep, true)
        })?))
    }

    #[pyo3(signature = (dim=None, keepdim=None))]
    fn argmax(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.arg_extreme(py, dim, keepdim, false)
    }

    #[pyo3(signature = (dim=None, keepdim=None))]
    fn argmin(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.arg_extreme(py, dim, keepdim, true)
    }

    #[pyo3(signature = (dim=None, keepdim=None, *, dtype=None))]
    fn prod(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dim = match dim.filter(|d| !d.is_none()) {
            None => None,
            Some(d) => {
                Some(int_of(d).ok_or_else(|| no_overload("prod", &type_name(d), &PROD_OVERLOADS))?)
            }
        };
        let keep = flag(keepdim, "prod", "keepdim")?;
        let dtype = opt_dtype(dtype)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            reduce::prod(t, dim, keep, dtype)
        })?))
    }

    /// `var(dim=None, unbiased=True, keepdim=False, *, correction=1)`.
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=None, *, correction=None))]
    fn var(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
        correction: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.variance(py, dim, unbiased, keepdim, correction, false)
    }

    /// `std(dim=None, unbiased=True, keepdim=False, *, correction=1)`.
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=None, *, correction=None))]
    fn std(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
        correction: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.variance(py, dim, unbiased, keepdim, correction, true)
    }

    #[pyo3(signature = (dim, keepdim=None))]
    fn logsumexp(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        keepdim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = if dim.is_none() {
            return Err(type_error(
                "logsumexp(): argument 'dim' must be tuple of ints, not NoneType",
            ));
        } else {
            dims_tuple(Some(dim), "logsumexp")?
        };
        let keep = flag(keepdim, "logsumexp", "keepdim")?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            reduce::logsumexp(t, &dims, keep)
        })?))
    }

    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumsum(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        Ok(PyTensor::new(self.scan(py, dim, dtype, false)?))
    }

    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumprod(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        Ok(PyTensor::new(self.scan(py, dim, dtype, true)?))
    }

    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumsum_(
        slf: &Bound<'_, Self>,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Self>> {
        Self::scan_(slf, dim, dtype, false)
    }

    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumprod_(
        slf: &Bound<'_, Self>,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Self>> {
        Self::scan_(slf, dim, dtype, true)
    }

    #[pyo3(signature = (dim, dtype=None))]
    fn softmax(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.softmax_like(py, dim, dtype, false)
    }

    #[pyo3(signature = (dim, dtype=None))]
    fn log_softmax(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.softmax_like(py, dim, dtype, true)
    }

    #[pyo3(signature = (dim=None, keepdim=None))]
    fn all(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.truth(py, dim, keepdim, false)
    }

    #[pyo3(signature = (dim=None, keepdim=None))]
    fn any(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.truth(py, dim, keepdim, true)
    }
}

impl PyTensor {
    fn arg_extreme(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: Option<&Bound<'_, PyAny>>,
        min: bool,
    ) -> PyResult<PyTensor> {
        let fname = if min { "argmin" } else { "argmax" };
        let dim = match dim.filter(|d| !d.is_none()) {
            None => None,
            Some(d) => Some(dim_int(d, fname)?),
        };
        let keep = flag(keepdim, fname, "keepdim")?;
        let t = &self.tensor;
        if t.dtype() == DType::Bool {
            return Err(PyNotImplementedError::new_err(format!(
                "{fname}(): does not support bool input"
            )));
        }
        Ok(PyTensor::new(run(py, t.numel(), || {
            reduce::argmax(t, dim, keep, min)
        })?))
    }
}

/// Registers this family's module-level functions on `ferrograd._C` (none: the functional
/// forms are Python, in `ferrograd/_reduce.py`).
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
