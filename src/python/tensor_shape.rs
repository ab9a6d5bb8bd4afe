//! `Tensor` methods for shape and view ops, joining and splitting, and creation functions
//! (`cat`, `stack`, `linspace`, `eye`, random sampling, `new_*`).

use super::convert::{creation_shape, opt_dtype, scalar_of, size_args, tensor_from_data};
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
use pyo3::types::{PyFloat, PyInt, PyList, PySequence, PyTuple};
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

/// An int argument (`int` or anything with `__index__`, not bool or float).
fn int_arg(obj: &Bound<'_, PyAny>, func: &str, name: &str, pos: usize) -> PyResult<i64> {
    if obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<pyo3::types::PyBool>() {
        return Err(type_error(format!(
            "{func}(): argument '{name}' (position {pos}) must be int, not {}",
            type_name(obj)
        )));
    }
    obj.extract::<i64>().map_err(|_| {
        type_error(format!(
            "{func}(): argument '{name}' (position {pos}) must be int, not {}",
            type_name(obj)
        ))
    })
}

/// An int or a sequence of ints (`dims`, `shifts`, `source`): `(values, was_a_sequence)`.
fn ints_arg(obj: &Bound<'_, PyAny>, func: &str, name: &str, pos: usize) -> PyResult<Vec<i64>> {
    if !obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyTensor>() {
        if let Ok(seq) = obj.downcast::<PySequence>() {
            return seq
                .try_iter()?
                .map(|x| int_arg(&x?, func, name, pos))
                .collect::<PyResult<_>>()
                .map_err(|_| {
                    type_error(format!(
                        "{func}(): argument '{name}' (position {pos}) must be tuple of ints, not {}",
                        type_name(obj)
                    ))
                });
        }
    }
    Ok(vec![int_arg(obj, func, name, pos)?])
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
                Ok(t) => Ok(t.get().tensor.clone()),
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
static T_ND_WARNED: AtomicBool = AtomicBool::new(false);
static NEW_TENSOR_WARNED: AtomicBool = AtomicBool::new(false);

/// The dtype of a `new_*` result: `dtype` if given, else `t`'s.
fn new_dtype(t: &Tensor, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<DType> {
    Ok(opt_dtype(dtype)?.unwrap_or(t.dtype()))
}

#[pymethods]
impl PyTensor {
    // ---- reshaping views --------------------------------------------------------------

    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(slf: &Bound<'_, Self>, start_dim: i64, end_dim: i64) -> PyResult<Py<PyAny>> {
        let t = &slf.get().tensor;
        let out = shape::flatten(t, start_dim, end_dim)?;
        if out.ptr_eq(t) {
            return Ok(slf.clone().into_any().unbind());
        }
        Ok(PyTensor::new(out)
            .into_pyobject(slf.py())?
            .into_any()
            .unbind())
    }

    fn unflatten(&self, dim: i64, sizes: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let sizes = ints_arg(sizes, "unflatten", "sizes", 2)?;
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
    fn matrix_t(&self) -> PyResult<PyTensor> {
        wrap(shape::matrix_t(&self.tensor))
    }

    fn movedim(
        &self,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let s = ints_arg(source, "movedim", "source", 1)?;
        let d = ints_arg(destination, "movedim", "destination", 2)?;
        wrap(shape::movedim(&self.tensor, &s, &d))
    }

    fn moveaxis(
        &self,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        self.movedim(source, destination)
    }

    fn swapaxes(&self, axis0: i64, axis1: i64) -> PyResult<PyTensor> {
        wrap(shape::transpose(&self.tensor, axis0, axis1))
    }

    fn swapdims(&self, dim0: i64, dim1: i64) -> PyResult<PyTensor> {
        wrap(shape::transpose(&self.tensor, dim0, dim1))
    }

    #[pyo3(signature = (offset=0, dim1=0, dim2=1))]
    fn diagonal(&self, offset: i64, dim1: i64, dim2: i64) -> PyResult<PyTensor> {
        wrap(shape::diagonal(&self.tensor, offset, dim1, dim2))
    }

    fn narrow(&self, dim: i64, start: &Bound<'_, PyAny>, length: i64) -> PyResult<PyTensor> {
        let start = int_arg(start, "narrow", "start", 2)?;
        wrap(shape::narrow(&self.tensor, dim, start, length))
    }

    // ---- splitting ----------------------------------------------------------------------

    #[pyo3(signature = (split_size, dim=0))]
    fn split(
        &self,
        py: Python<'_>,
        split_size: &Bound<'_, PyAny>,
        dim: i64,
    ) -> PyResult<Py<PyTuple>> {
        let t = &self.tensor;
        let pieces =
            if split_size.is_instance_of::<PyList>() || split_size.is_instance_of::<PyTuple>() {
                let sizes = ints_arg(split_size, "split", "split_size", 1)?;
                shape::split_with_sizes(t, &sizes, dim)?
            } else {
                shape::split(t, int_arg(split_size, "split", "split_size", 1)?, dim)?
            };
        tuple_of(py, pieces)
    }

    #[pyo3(signature = (chunks, dim=0))]
    fn chunk(&self, py: Python<'_>, chunks: i64, dim: i64) -> PyResult<Py<PyTuple>> {
        tuple_of(py, shape::chunk(&self.tensor, chunks, dim)?)
    }

    #[pyo3(signature = (dim=0))]
    fn unbind(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyTuple>> {
        tuple_of(py, shape::unbind(&self.tensor, dim)?)
    }

    // ---- copies that reorder ------------------------------------------------------------

    #[pyo3(signature = (*repeats))]
    fn repeat(&self, py: Python<'_>, repeats: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        if repeats.is_empty() {
            return Err(type_error(
                "repeat() missing 1 required positional arguments: \"repeats\"",
            ));
        }
        let r = size_args(repeats)?;
        let t = &self.tensor;
        let n = r
            .iter()
            .fold(t.numel(), |a, &x| a.saturating_mul(x.max(0) as usize));
        Ok(PyTensor::new(run(py, n, || shape::repeat(t, &r))?))
    }

    #[pyo3(signature = (*dims))]
    fn flip(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        if dims.is_empty() {
            return Err(type_error(
                "flip() missing 1 required positional arguments: \"dims\"",
            ));
        }
        let d = size_args(dims)?;
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
        let s = ints_arg(shifts, "roll", "shifts", 1)?;
        let d = match dims {
            Some(d) if !d.is_none() => ints_arg(d, "roll", "dims", 2)?,
            _ => Vec::new(),
        };
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            shape::roll(t, &s, &d)
        })?))
    }

    #[pyo3(signature = (diagonal=0))]
    fn tril(&self, py: Python<'_>, diagonal: i64) -> PyResult<PyTensor> {
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            shape::tril(t, diagonal)
        })?))
    }

    #[pyo3(signature = (diagonal=0))]
    fn triu(&self, py: Python<'_>, diagonal: i64) -> PyResult<PyTensor> {
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            shape::triu(t, diagonal)
        })?))
    }

    #[pyo3(signature = (diagonal=0))]
    fn tril_(slf: &Bound<'_, Self>, diagonal: i64) -> PyResult<Py<Self>> {
        shape::tril_(&slf.get().tensor, diagonal)?;
        Ok(slf.clone().unbind())
    }

    #[pyo3(signature = (diagonal=0))]
    fn triu_(slf: &Bound<'_, Self>, diagonal: i64) -> PyResult<Py<Self>> {
        shape::triu_(&slf.get().tensor, diagonal)?;
        Ok(slf.clone().unbind())
    }

    // ---- new tensors like this one ------------------------------------------------------

    #[pyo3(signature = (*size, dtype=None, device=None, requires_grad=false))]
    fn new_zeros(
        &self,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = device;
        self.new_filled("new_zeros", size, 0.0, dtype, requires_grad)
    }

    #[pyo3(signature = (*size, dtype=None, device=None, requires_grad=false))]
    fn new_ones(
        &self,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = device;
        self.new_filled("new_ones", size, 1.0, dtype, requires_grad)
    }

    /// Zero-filled, like `empty` (uninitialised memory is never handed to Python).
    #[pyo3(signature = (*size, dtype=None, device=None, requires_grad=false))]
    fn new_empty(
        &self,
        size: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = device;
        self.new_filled("new_empty", size, 0.0, dtype, requires_grad)
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
        if size.is_instance_of::<PyInt>() || size.downcast::<PySequence>().is_err() {
            return Err(type_error(format!(
                "new_full(): argument 'size' (position 1) must be tuple of ints, not {}",
                type_name(size)
            )));
        }
        let value = scalar_of(fill_value)?.ok_or_else(|| {
            type_error(format!(
                "new_full(): argument 'fill_value' (position 2) must be Number, not {}",
                type_name(fill_value)
            ))
        })?;
        let shape = creation_shape(&size_args(&PyTuple::new(size.py(), [size])?)?)?;
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
                    pt = t.get().tensor.clone();
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
        creation::bernoulli_(&slf.get().tensor, p).map_err(py_err)?;
        Ok(slf.clone().unbind())
    }

    #[pyo3(signature = (num_samples, replacement=false, *, generator=None))]
    fn multinomial(
        &self,
        num_samples: i64,
        replacement: bool,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let _ = generator;
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
        let shape = creation_shape(&size_args(size)?)?;
        let dtype = new_dtype(&self.tensor, dtype)?;
        finish(Tensor::full(&shape, value, dtype)?, requires_grad)
    }
}

// ---- module functions -------------------------------------------------------------------

/// `cat(tensors, dim=0)` (also `concat`; `concatenate` takes `axis` as well).
#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, axis=None, out=None))]
fn cat(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    axis: Option<i64>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    if out.is_some_and(|o| !o.is_none()) {
        return Err(type_error("cat(): out= is not supported"));
    }
    let ts = tensor_list(tensors, "cat")?;
    let dim = axis.unwrap_or(dim);
    let n = ts.iter().map(Tensor::numel).sum();
    Ok(PyTensor::new(run(py, n, || shape::cat(&ts, dim))?))
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
fn stack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    if out.is_some_and(|o| !o.is_none()) {
        return Err(type_error("stack(): out= is not supported"));
    }
    let ts = tensor_list(tensors, "stack")?;
    let n = ts.iter().map(Tensor::numel).sum();
    Ok(PyTensor::new(run(py, n, || shape::stack(&ts, dim))?))
}

/// A number argument (`start`, `end`, ...), also given as a one-element tensor.
fn number(obj: &Bound<'_, PyAny>, func: &str, name: &str) -> PyResult<f64> {
    if let Ok(t) = obj.downcast::<PyTensor>() {
        return Ok(t.get().tensor.item()?.to_f64());
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
    steps: i64,
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
    steps: i64,
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
    n: i64,
    m: Option<i64>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (device, out);
    let dtype = opt_dtype(dtype)?.unwrap_or(DEFAULT_FLOAT);
    finish(creation::eye(n, m, dtype).map_err(py_err)?, requires_grad)
}

/// A `size` argument that must be a sequence of ints (`randint`, `normal`).
fn size_seq(obj: &Bound<'_, PyAny>, func: &str, pos: usize) -> PyResult<crate::shape::Dims> {
    if obj.is_instance_of::<PyInt>() || obj.downcast::<PySequence>().is_err() {
        return Err(type_error(format!(
            "{func}(): argument 'size' (position {pos}) must be tuple of ints, not {}",
            type_name(obj)
        )));
    }
    creation_shape(&size_args(&PyTuple::new(obj.py(), [obj])?)?)
}

/// `randint(high, size)` / `randint(low, high, size)`; `size` may be a keyword.
#[pyfunction]
#[pyo3(signature = (*args, size=None, generator=None, dtype=None, device=None, requires_grad=false, out=None))]
#[allow(clippy::too_many_arguments)]
fn randint(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (generator, device, out);
    let mut items: Vec<Bound<'_, PyAny>> = args.iter().collect();
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
    n: i64,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (generator, device, out);
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
        *keep = Some(t.get().tensor.clone());
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
