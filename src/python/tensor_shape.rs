//! `Tensor` methods for shape and view ops, joining and splitting, and creation functions
//! (`cat`, `stack`, `linspace`, `eye`, random sampling, `new_*`).

use super::convert::{creation_shape, opt_dtype, scalar_of, tensor_from_data, varargs_or_keyword};
use super::errors::type_error;
use super::functions::finish;
use super::tensor::{run, PyTensor};
use crate::dtype::{DType, DEFAULT_FLOAT};
use crate::error::{Error, Result as CoreResult};
use crate::ops::creation::{self, Param};
use crate::ops::shape;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyNotImplementedError, PyUserWarning};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyList, PySequence, PyString, PyTuple};
use std::sync::atomic::{AtomicBool, Ordering};

/// Core errors as Python exceptions, with PyTorch's NotImplementedError where it has one.
fn py_err(e: Error) -> PyErr {
    match e {
        Error::NotImplementedFor { .. } => PyNotImplementedError::new_err(e.to_string()),
        e => e.into(),
    }
}

fn wrap(r: CoreResult<Tensor>) -> PyResult<PyTensor> {
    r.map(PyTensor::new).map_err(py_err)
}

/// A tuple of tensors (what `split`, `chunk` and `unbind` return).
fn tuple_of(py: Python<'_>, ts: Vec<Tensor>) -> PyResult<Py<PyTuple>> {
    let items: Vec<PyTensor> = ts.into_iter().map(PyTensor::new).collect();
    Ok(PyTuple::new(py, items)?.unbind())
}

/// The type name of a Python object, for messages.
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// PyTorch's wording for an argument of the wrong type.
fn wrong_type(obj: &Bound<'_, PyAny>, func: &str, name: &str, pos: usize, what: &str) -> PyErr {
    type_error(format!(
        "{func}(): argument '{name}' (position {pos}) must be {what}, not {}",
        type_name(obj)
    ))
}

/// An int (or anything with `__index__`, such as a NumPy int), never a bool or a float.
fn as_int(obj: &Bound<'_, PyAny>) -> Option<i64> {
    if obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyBool>() {
        return None;
    }
    obj.extract::<i64>().ok()
}

/// An int argument.
fn int_arg(obj: &Bound<'_, PyAny>, func: &str, name: &str, pos: usize) -> PyResult<i64> {
    as_int(obj).ok_or_else(|| wrong_type(obj, func, name, pos, "int"))
}

/// An int argument with a default.
fn opt_int(
    obj: Option<&Bound<'_, PyAny>>,
    default: i64,
    func: &str,
    name: &str,
    pos: usize,
) -> PyResult<i64> {
    obj.map_or(Ok(default), |o| int_arg(o, func, name, pos))
}

fn unpack_error(x: &Bound<'_, PyAny>, func: &str, name: &str, i: usize) -> PyErr {
    type_error(format!(
        "{func}(): argument '{name}' failed to unpack the object at pos {} with error \"type must be tuple of ints,but got {}\"",
        i + 1,
        type_name(x)
    ))
}

/// A list or tuple of ints; a single int too when `int_ok` (`dims`, `shifts`).
fn int_list(
    obj: &Bound<'_, PyAny>,
    func: &str,
    name: &str,
    pos: usize,
    int_ok: bool,
) -> PyResult<Vec<i64>> {
    if let Some(i) = as_int(obj) {
        if int_ok {
            return Ok(vec![i]);
        }
    }
    let seq = match obj.downcast::<PySequence>() {
        Ok(seq) if !obj.is_instance_of::<PyString>() && !obj.is_instance_of::<PyTensor>() => seq,
        _ => return Err(wrong_type(obj, func, name, pos, "tuple of ints")),
    };
    seq.try_iter()?
        .enumerate()
        .map(|(i, x)| {
            let x = x?;
            as_int(&x).ok_or_else(|| unpack_error(&x, func, name, i))
        })
        .collect()
}

/// `*args` ints: `f(0, 1)` or `f((0, 1))`.
fn int_varargs(args: &Bound<'_, PyTuple>, func: &str, name: &str) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        return int_list(&args.get_item(0)?, func, name, 1, true);
    }
    args.iter()
        .enumerate()
        .map(|(i, x)| as_int(&x).ok_or_else(|| unpack_error(&x, func, name, i)))
        .collect()
}

/// `tensors` of `cat`/`stack`: a list or tuple of tensors, with PyTorch's type errors.
fn tensor_list(obj: &Bound<'_, PyAny>, func: &str) -> PyResult<Vec<Tensor>> {
    let seq = if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        obj.downcast::<PySequence>()?
    } else {
        return Err(type_error(format!(
            "{func}(): argument 'tensors' (position 1) must be tuple of Tensors, not {}",
            type_name(obj)
        )));
    };
    seq.try_iter()?
        .enumerate()
        .map(|(i, x)| {
            let x = x?;
            match x.downcast::<PyTensor>() {
                Ok(t) => Ok(t.borrow().tensor.clone()),
                Err(_) => Err(type_error(format!(
                    "expected Tensor as element {i} in argument 0, but got {}",
                    type_name(&x)
                ))),
            }
        })
        .collect()
}

/// Emits `message` as a UserWarning the first time `once` is seen unset (PyTorch's
/// `TORCH_WARN_ONCE`).
fn warn_once(py: Python<'_>, once: &AtomicBool, message: &str) -> PyResult<()> {
    if once.swap(true, Ordering::Relaxed) {
        return Ok(());
    }
    PyErr::warn(
        py,
        &py.get_type::<PyUserWarning>(),
        &std::ffi::CString::new(message).unwrap_or_default(),
        1,
    )
}

static T_0D_WARNED: AtomicBool = AtomicBool::new(false);
static MT_0D_WARNED: AtomicBool = AtomicBool::new(false);
static T_ND_WARNED: AtomicBool = AtomicBool::new(false);
static NEW_TENSOR_WARNED: AtomicBool = AtomicBool::new(false);

/// The dtype of a `new_*` result: `dtype` if given, else `t`'s.
fn new_dtype(t: &Tensor, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<DType> {
    Ok(opt_dtype(dtype)?.unwrap_or(t.dtype()))
}

#[pymethods]
impl PyTensor {
    /// Which output of its `grad_fn` this tensor is (`split` and friends have several).
    #[getter]
    fn output_nr(&self) -> u32 {
        self.tensor.output_nr()
    }

    // ---- reshaping views --------------------------------------------------------------

    #[pyo3(signature = (start_dim=None, end_dim=None))]
    fn flatten(
        slf: &Bound<'_, Self>,
        start_dim: Option<&Bound<'_, PyAny>>,
        end_dim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let s = opt_int(start_dim, 0, "flatten", "start_dim", 1)?;
        let e = opt_int(end_dim, -1, "flatten", "end_dim", 2)?;
        let t = &slf.borrow().tensor;
        let out = shape::flatten(t, s, e)?;
        if out.ptr_eq(t) {
            return Ok(slf.clone().into_any().unbind());
        }
        Ok(PyTensor::new(out)
            .into_pyobject(slf.py())?
            .into_any()
            .unbind())
    }

    fn unflatten(&self, dim: &Bound<'_, PyAny>, sizes: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let dim = int_arg(dim, "unflatten", "dim", 1)?;
        let sizes = int_list(sizes, "unflatten", "sizes", 2, false)?;
        wrap(shape::unflatten(&self.tensor, dim, &sizes))
    }

    /// `.T`: all dims reversed (deprecated by PyTorch for other than 2 dims: it warns once).
    #[getter(T)]
    fn numpy_t(&self, py: Python<'_>) -> PyResult<PyTensor> {
        match self.tensor.ndim() {
            0 => warn_once(
                py,
                &T_0D_WARNED,
                "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases.",
            )?,
            n if n > 2 => warn_once(
                py,
                &T_ND_WARNED,
                "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated and it will throw an error in a future release. Consider `x.mT` to transpose batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
            )?,
            _ => {}
        }
        wrap(shape::numpy_t(&self.tensor))
    }

    #[getter(mT)]
    fn matrix_t(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let t = &slf.borrow().tensor;
        if t.ndim() == 0 {
            warn_once(
                py,
                &MT_0D_WARNED,
                "Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases.",
            )?;
            return Ok(slf.clone().into_any().unbind());
        }
        Ok(wrap(shape::matrix_t(t))?
            .into_pyobject(py)?
            .into_any()
            .unbind())
    }

    fn movedim(
        &self,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let s = int_list(source, "movedim", "source", 1, true)?;
        let d = int_list(destination, "movedim", "destination", 2, true)?;
        wrap(shape::movedim(&self.tensor, &s, &d))
    }

    fn moveaxis(
        &self,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        self.movedim(source, destination)
    }

    fn swapaxes(&self, axis0: &Bound<'_, PyAny>, axis1: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let a = int_arg(axis0, "swapaxes", "axis0", 1)?;
        let b = int_arg(axis1, "swapaxes", "axis1", 2)?;
        wrap(shape::transpose(&self.tensor, a, b))
    }

    fn swapdims(&self, dim0: &Bound<'_, PyAny>, dim1: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let a = int_arg(dim0, "swapdims", "dim0", 1)?;
        let b = int_arg(dim1, "swapdims", "dim1", 2)?;
        wrap(shape::transpose(&self.tensor, a, b))
    }

    fn swapaxes_(
        slf: &Bound<'_, Self>,
        axis0: &Bound<'_, PyAny>,
        axis1: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Self>> {
        let a = int_arg(axis0, "swapaxes_", "axis0", 1)?;
        let b = int_arg(axis1, "swapaxes_", "axis1", 2)?;
        PyTensor::reseat(slf, |t| shape::transpose_(t, a, b))
    }

    fn swapdims_(
        slf: &Bound<'_, Self>,
        dim0: &Bound<'_, PyAny>,
        dim1: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Self>> {
        let a = int_arg(dim0, "swapdims_", "dim0", 1)?;
        let b = int_arg(dim1, "swapdims_", "dim1", 2)?;
        PyTensor::reseat(slf, |t| shape::transpose_(t, a, b))
    }

    #[pyo3(signature = (offset=None, dim1=None, dim2=None))]
    fn diagonal(
        &self,
        offset: Option<&Bound<'_, PyAny>>,
        dim1: Option<&Bound<'_, PyAny>>,
        dim2: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let offset = opt_int(offset, 0, "diagonal", "offset", 1)?;
        let d1 = opt_int(dim1, 0, "diagonal", "dim1", 2)?;
        let d2 = opt_int(dim2, 1, "diagonal", "dim2", 3)?;
        wrap(shape::diagonal(&self.tensor, offset, d1, d2))
    }

    fn narrow(
        &self,
        dim: &Bound<'_, PyAny>,
        start: &Bound<'_, PyAny>,
        length: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let dim = int_arg(dim, "narrow", "dim", 1)?;
        let start = int_arg(start, "narrow", "start", 2)?;
        let length = int_arg(length, "narrow", "length", 3)?;
        wrap(shape::narrow(&self.tensor, dim, start, length))
    }

    // ---- splitting ----------------------------------------------------------------------

    /// `split(int)` (SplitBackward0) or `split(list of sizes)` (SplitWithSizesBackward0).
    #[pyo3(signature = (split_size, dim=None))]
    fn split(
        &self,
        py: Python<'_>,
        split_size: &Bound<'_, PyAny>,
        dim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTuple>> {
        let dim = opt_int(dim, 0, "split", "dim", 2)?;
        let t = &self.tensor;
        let pieces = match as_int(split_size) {
            Some(size) => shape::split(t, size, dim)?,
            None => {
                let sizes = int_list(split_size, "split_with_sizes", "split_sizes", 2, false)?;
                shape::split_with_sizes(t, &sizes, dim)?
            }
        };
        tuple_of(py, pieces)
    }

    #[pyo3(signature = (chunks, dim=None))]
    fn chunk(
        &self,
        py: Python<'_>,
        chunks: &Bound<'_, PyAny>,
        dim: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyTuple>> {
        let chunks = int_arg(chunks, "chunk", "chunks", 1)?;
        let dim = opt_int(dim, 0, "chunk", "dim", 2)?;
        tuple_of(py, shape::chunk(&self.tensor, chunks, dim)?)
    }

    #[pyo3(signature = (dim=None))]
    fn unbind(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyTuple>> {
        let dim = opt_int(dim, 0, "unbind", "dim", 1)?;
        tuple_of(py, shape::unbind(&self.tensor, dim)?)
    }

    // ---- copies that reorder ------------------------------------------------------------

    #[pyo3(signature = (*args, repeats=None))]
    fn repeat(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        repeats: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let repeats = varargs_or_keyword(args, repeats, "repeat", "repeats", true)?;
        let r = int_varargs(&repeats, "repeat", "repeats")?;
        let t = &self.tensor;
        let n = r
            .iter()
            .fold(t.numel(), |a, &x| a.saturating_mul(x.max(0) as usize));
        Ok(PyTensor::new(run(py, n, || shape::repeat(t, &r))?))
    }

    #[pyo3(signature = (*args, dims=None))]
    fn flip(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = varargs_or_keyword(args, dims, "flip", "dims", true)?;
        let d = int_varargs(&dims, "flip", "dims")?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || shape::flip(t, &d))?))
    }

    #[pyo3(signature = (shifts, dims=None))]
    fn roll(
        &self,
        py: Python<'_>,
        shifts: &Bound<'_, PyAny>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let s = int_list(shifts, "roll", "shifts", 1, true)?;
        let d = match dims {
            Some(d) if !d.is_none() => int_list(d, "roll", "dims", 2, true)?,
            _ => Vec::new(),
        };
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            shape::roll(t, &s, &d)
        })?))
    }

    #[pyo3(signature = (diagonal=None))]
    fn tril(&self, py: Python<'_>, diagonal: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let diagonal = opt_int(diagonal, 0, "tril", "diagonal", 1)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            shape::tril(t, diagonal)
        })?))
    }

    #[pyo3(signature = (diagonal=None))]
    fn triu(&self, py: Python<'_>, diagonal: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let diagonal = opt_int(diagonal, 0, "triu", "diagonal", 1)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            shape::triu(t, diagonal)
        })?))
    }

    #[pyo3(signature = (diagonal=None))]
    fn tril_(slf: &Bound<'_, Self>, diagonal: Option<&Bound<'_, PyAny>>) -> PyResult<Py<Self>> {
        let diagonal = opt_int(diagonal, 0, "tril_", "diagonal", 1)?;
        shape::tril_(&slf.borrow().tensor, diagonal)?;
        Ok(slf.clone().unbind())
    }

    #[pyo3(signature = (diagonal=None))]
    fn triu_(slf: &Bound<'_, Self>, diagonal: Option<&Bound<'_, PyAny>>) -> PyResult<Py<Self>> {
        let diagonal = opt_int(diagonal, 0, "triu_", "diagonal", 1)?;
        shape::triu_(&slf.borrow().tensor, diagonal)?;
        Ok(slf.clone().unbind())
    }

    // ---- new tensors like this one ------------------------------------------------------

    #[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
    fn new_zeros(
        &self,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = device;
        let size = varargs_or_keyword(args, size, "new_zeros", "size", false)?;
        self.new_filled("new_zeros", &size, 0.0, dtype, requires_grad)
    }

    #[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
    fn new_ones(
        &self,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = device;
        let size = varargs_or_keyword(args, size, "new_ones", "size", false)?;
        self.new_filled("new_ones", &size, 1.0, dtype, requires_grad)
    }

    /// Zero-filled, like `empty` (uninitialised memory is never handed to Python).
    #[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
    fn new_empty(
        &self,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = device;
        let size = varargs_or_keyword(args, size, "new_empty", "size", false)?;
        self.new_filled("new_empty", &size, 0.0, dtype, requires_grad)
    }

    #[pyo3(signature = (size, fill_value, *, dtype=None, device=None, requires_grad=false))]
    fn new_full(
        &self,
        size: &Bound<'_, PyAny>,
        fill_value: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = device;
        let size = int_list(size, "new_full", "size", 1, false)?;
        let value = scalar_of(fill_value)?.ok_or_else(|| {
            type_error(format!(
                "new_full(): argument 'fill_value' (position 2) must be Number, not {}",
                type_name(fill_value)
            ))
        })?;
        let shape = creation_shape(&size)?;
        let dtype = new_dtype(&self.tensor, dtype)?;
        finish(Tensor::full(&shape, value.to_f64(), dtype)?, requires_grad)
    }

    #[pyo3(signature = (data, dtype=None, device=None, requires_grad=false))]
    fn new_tensor(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = device;
        if data.is_instance_of::<PyTensor>() {
            warn_once(py, &NEW_TENSOR_WARNED, "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or sourceTensor.detach().clone().requires_grad_(True), rather than tensor.new_tensor(sourceTensor).")?;
        }
        let dtype = new_dtype(&self.tensor, dtype)?;
        finish(tensor_from_data(data, Some(dtype))?, requires_grad)
    }

    // ---- random sampling ----------------------------------------------------------------

    #[pyo3(signature = (p=None, *, generator=None))]
    fn bernoulli(
        &self,
        p: Option<f64>,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let _ = generator;
        wrap(creation::bernoulli(&self.tensor, p))
    }

    #[pyo3(signature = (p=None, *, generator=None))]
    fn bernoulli_(
        slf: &Bound<'_, Self>,
        p: Option<&Bound<'_, PyAny>>,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Self>> {
        let _ = generator;
        let pt;
        let p = match p {
            None => Param::Float(0.5),
            Some(p) => match p.downcast::<PyTensor>() {
                Ok(t) => {
                    pt = t.borrow().tensor.clone();
                    Param::Tensor(&pt)
                }
                Err(_) => Param::Float(p.extract::<f64>().map_err(|_| {
                    type_error(format!(
                        "bernoulli_(): argument 'p' (position 1) must be float, not {}",
                        type_name(p)
                    ))
                })?),
            },
        };
        creation::bernoulli_(&slf.borrow().tensor, p).map_err(py_err)?;
        Ok(slf.clone().unbind())
    }

    #[pyo3(signature = (num_samples, replacement=None, *, generator=None))]
    fn multinomial(
        &self,
        num_samples: &Bound<'_, PyAny>,
        replacement: Option<&Bound<'_, PyAny>>,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let _ = generator;
        let num_samples = int_arg(num_samples, "multinomial", "num_samples", 1)?;
        let replacement = match replacement {
            None => false,
            Some(r) => r
                .downcast::<PyBool>()
                .map_err(|_| wrong_type(r, "multinomial", "replacement", 2, "bool"))?
                .is_true(),
        };
        wrap(creation::multinomial(
            &self.tensor,
            num_samples,
            replacement,
        ))
    }
}

impl PyTensor {
    fn new_filled(
        &self,
        func: &str,
        size: &Bound<'_, PyTuple>,
        value: f64,
        dtype: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        if size.is_empty() {
            return Err(type_error(format!(
                "{func}() missing 1 required positional arguments: \"size\""
            )));
        }
        let shape = creation_shape(&int_varargs(size, func, "size")?)?;
        let dtype = new_dtype(&self.tensor, dtype)?;
        finish(Tensor::full(&shape, value, dtype)?, requires_grad)
    }
}

// ---- module functions -------------------------------------------------------------------

/// `cat(tensors, dim=0)` (also `concat`; `concatenate` takes `axis` as well).
#[pyfunction]
#[pyo3(signature = (tensors, dim=None, *, axis=None, out=None))]
fn cat(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: Option<&Bound<'_, PyAny>>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    if out.is_some_and(|o| !o.is_none()) {
        return Err(type_error("cat(): out= is not supported"));
    }
    let ts = tensor_list(tensors, "cat")?;
    let dim = match axis {
        Some(a) => int_arg(a, "cat", "axis", 2)?,
        None => opt_int(dim, 0, "cat", "dim", 2)?,
    };
    let n = ts.iter().map(Tensor::numel).sum();
    Ok(PyTensor::new(run(py, n, || shape::cat(&ts, dim))?))
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=None, *, out=None))]
fn stack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    if out.is_some_and(|o| !o.is_none()) {
        return Err(type_error("stack(): out= is not supported"));
    }
    let ts = tensor_list(tensors, "stack")?;
    let dim = opt_int(dim, 0, "stack", "dim", 2)?;
    let n = ts.iter().map(Tensor::numel).sum();
    Ok(PyTensor::new(run(py, n, || shape::stack(&ts, dim))?))
}

/// A number argument (`start`, `end`, ...), also given as a one-element tensor.
fn number(obj: &Bound<'_, PyAny>, func: &str, name: &str) -> PyResult<f64> {
    if let Ok(t) = obj.downcast::<PyTensor>() {
        return Ok(t.borrow().tensor.item()?.to_f64());
    }
    match scalar_of(obj)? {
        Some(s) => Ok(s.to_f64()),
        None => Err(type_error(format!(
            "{func}(): argument '{name}' must be Number, not {}",
            type_name(obj)
        ))),
    }
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, *, dtype=None, device=None, requires_grad=false, out=None))]
#[allow(clippy::too_many_arguments)]
fn linspace(
    py: Python<'_>,
    start: &Bound<'_, PyAny>,
    end: &Bound<'_, PyAny>,
    steps: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (device, out);
    let (s, e) = (
        number(start, "linspace", "start")?,
        number(end, "linspace", "end")?,
    );
    let steps = int_arg(steps, "linspace", "steps", 3)?;
    let dtype = opt_dtype(dtype)?.unwrap_or(DEFAULT_FLOAT);
    let t = run(py, steps.max(0) as usize, || {
        Ok(creation::linspace(s, e, steps, dtype))
    })?;
    finish(t.map_err(py_err)?, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=false, out=None))]
#[allow(clippy::too_many_arguments)]
fn logspace(
    py: Python<'_>,
    start: &Bound<'_, PyAny>,
    end: &Bound<'_, PyAny>,
    steps: &Bound<'_, PyAny>,
    base: f64,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (device, out);
    let (s, e) = (
        number(start, "logspace", "start")?,
        number(end, "logspace", "end")?,
    );
    let steps = int_arg(steps, "logspace", "steps", 3)?;
    let dtype = opt_dtype(dtype)?.unwrap_or(DEFAULT_FLOAT);
    let t = run(py, steps.max(0) as usize, || {
        Ok(creation::logspace(s, e, steps, base, dtype))
    })?;
    finish(t.map_err(py_err)?, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (n, m=None, *, dtype=None, device=None, requires_grad=false, out=None))]
#[allow(clippy::too_many_arguments)]
fn eye(
    n: &Bound<'_, PyAny>,
    m: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (device, out);
    let n = int_arg(n, "eye", "n", 1)?;
    let m = m.map(|m| int_arg(m, "eye", "m", 2)).transpose()?;
    let dtype = opt_dtype(dtype)?.unwrap_or(DEFAULT_FLOAT);
    finish(creation::eye(n, m, dtype).map_err(py_err)?, requires_grad)
}

/// A `size` argument that must be a sequence of ints (`randint`, `normal`).
fn size_seq(obj: &Bound<'_, PyAny>, func: &str, pos: usize) -> PyResult<crate::shape::Dims> {
    creation_shape(&int_list(obj, func, "size", pos, false)?)
}

/// `randint(high, size)` / `randint(low, high, size)`; `size` may be a keyword.
#[pyfunction]
#[pyo3(signature = (*args, low=None, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=false, out=None))]
#[allow(clippy::too_many_arguments)]
fn randint(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    low: Option<&Bound<'_, PyAny>>,
    high: Option<&Bound<'_, PyAny>>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (generator, device, out);
    let mut items: Vec<Bound<'_, PyAny>> = args.iter().collect();
    for k in [low, high].into_iter().flatten() {
        items.push(k.clone());
    }
    if let Some(s) = size {
        items.push(s.clone());
    }
    let got = || items.iter().map(type_name).collect::<Vec<_>>().join(", ");
    let (low, high, size) = match items.as_slice() {
        [high, size] => (0, int_arg(high, "randint", "high", 1)?, size_seq(size, "randint", 2)?),
        [low, high, size] => (
            int_arg(low, "randint", "low", 1)?,
            int_arg(high, "randint", "high", 2)?,
            size_seq(size, "randint", 3)?,
        ),
        _ => {
            return Err(type_error(format!(
                "randint() received an invalid combination of arguments - got ({}), but expected one of:\n * (int high, tuple of ints size, *, torch.Generator generator, Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool requires_grad = False)\n * (int low, int high, tuple of ints size, *, torch.Generator generator, Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool requires_grad = False)\n",
                got()
            )))
        }
    };
    let dtype = opt_dtype(dtype)?.unwrap_or(DType::I64);
    let n = crate::shape::checked_numel(&size)?;
    let t = run(py, n, || Ok(creation::randint(low, high, &size, dtype)))?;
    finish(t.map_err(py_err)?, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (n, *, generator=None, dtype=None, device=None, requires_grad=false, out=None))]
#[allow(clippy::too_many_arguments)]
fn randperm(
    py: Python<'_>,
    n: &Bound<'_, PyAny>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (generator, device, out);
    let n = int_arg(n, "randperm", "n", 1)?;
    let dtype = opt_dtype(dtype)?.unwrap_or(DType::I64);
    let t = run(py, n.max(0) as usize, || Ok(creation::randperm(n, dtype)))?;
    finish(t.map_err(py_err)?, requires_grad)
}

/// A `mean`/`std` of `normal`: a tensor or a number (`None` for anything else).
fn param_of<'a>(
    obj: &'a Bound<'_, PyAny>,
    keep: &'a mut Option<Tensor>,
) -> PyResult<Option<Param<'a>>> {
    if let Ok(t) = obj.downcast::<PyTensor>() {
        *keep = Some(t.borrow().tensor.clone());
        return Ok(keep.as_ref().map(Param::Tensor));
    }
    Ok(scalar_of(obj)?.map(|s| Param::Float(s.to_f64())))
}

/// `normal(mean, std)` with a tensor among them, or `normal(mean, std, size)` with numbers.
#[pyfunction]
#[pyo3(signature = (mean, std=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=false, out=None))]
#[allow(clippy::too_many_arguments)]
fn normal(
    py: Python<'_>,
    mean: &Bound<'_, PyAny>,
    std: Option<&Bound<'_, PyAny>>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (generator, device, out);
    let one = PyFloat::new(py, 1.0).into_any();
    let std_obj = std.filter(|s| !s.is_none()).unwrap_or(&one);
    let (mut km, mut ks) = (None, None);
    let (m, s) = (param_of(mean, &mut km)?, param_of(std_obj, &mut ks)?);
    let invalid = || {
        type_error(format!(
            "normal() received an invalid combination of arguments - got ({}, {}), but expected one of:\n * (Tensor mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n * (Tensor mean, float std = 1, *, torch.Generator generator = None, Tensor out = None)\n * (float mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n * (float mean, float std, tuple of ints size, *, torch.Generator generator = None, Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, bool pin_memory = False, bool requires_grad = False)\n",
            type_name(mean),
            type_name(std_obj)
        ))
    };
    let size = size.filter(|s| !s.is_none());
    match (m, s, size) {
        (Some(Param::Float(m)), Some(Param::Float(s)), Some(size)) => {
            let shape = size_seq(size, "normal", 3)?;
            let dtype = opt_dtype(dtype)?.unwrap_or(DEFAULT_FLOAT);
            let n = crate::shape::checked_numel(&shape)?;
            let t = run(py, n, || Ok(creation::normal_sized(m, s, &shape, dtype)))?;
            finish(t.map_err(py_err)?, requires_grad)
        }
        (Some(m), Some(s), None) if !matches!((m, s), (Param::Float(_), Param::Float(_))) => {
            wrap(creation::normal(m, s))
        }
        _ => Err(invalid()),
    }
}

#[pyfunction]
#[pyo3(signature = (input, p=None, *, generator=None, out=None))]
fn bernoulli(
    input: PyRef<'_, PyTensor>,
    p: Option<f64>,
    generator: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (generator, out);
    wrap(creation::bernoulli(&input.tensor, p))
}

/// Registers this family's module-level functions on `ferrograd._C`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cat, m)?)?;
    m.add_function(wrap_pyfunction!(stack, m)?)?;
    m.add_function(wrap_pyfunction!(linspace, m)?)?;
    m.add_function(wrap_pyfunction!(logspace, m)?)?;
    m.add_function(wrap_pyfunction!(eye, m)?)?;
    m.add_function(wrap_pyfunction!(randint, m)?)?;
    m.add_function(wrap_pyfunction!(randperm, m)?)?;
    m.add_function(wrap_pyfunction!(normal, m)?)?;
    m.add_function(wrap_pyfunction!(bernoulli, m)?)?;
    Ok(())
}
