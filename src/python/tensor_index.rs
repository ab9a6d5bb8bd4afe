//! `Tensor` methods for indexing (`__getitem__`/`__setitem__`) and gather/scatter-style ops.
//!
//! Index parsing follows PyTorch's `python_variable_indexing.cpp`: a tuple is a list of
//! items; a short non-tuple sequence holding a slice, `None`, `...`, a tensor or another
//! sequence is read as a tuple too (NumPy's old rule, with PyTorch's deprecation warning);
//! anything else is one item. Lists and NumPy arrays inside an index become int64 (or bool)
//! tensors.

use super::convert::{scalar_of, tensor_from_data};
use super::errors::type_error;
use super::tensor::{run, PyTensor};
use crate::dtype::DType;
use crate::kernels;
use crate::ops::index::{self, Item, SetValue, Value};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyIndexError, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyEllipsis, PyInt, PyList, PyNone, PySequence, PySlice, PyTuple};

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// An int argument: PyTorch's message for anything else.
fn int_arg(obj: &Bound<'_, PyAny>, func: &str, name: &str, pos: usize) -> PyResult<i64> {
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        return obj.extract::<i64>();
    }
    Err(type_error(format!(
        "{func}(): argument '{name}' (position {pos}) must be int, not {}",
        type_name(obj)
    )))
}

/// A tensor argument: PyTorch's message for anything else.
fn tensor_arg(obj: &Bound<'_, PyAny>, func: &str, name: &str, pos: usize) -> PyResult<Tensor> {
    match obj.downcast::<PyTensor>() {
        Ok(t) => Ok(t.borrow().tensor.clone()),
        Err(_) => Err(type_error(format!(
            "{func}(): argument '{name}' (position {pos}) must be Tensor, not {}",
            type_name(obj)
        ))),
    }
}

/// A value that may be a tensor or a Python number (`masked_fill`, `index_fill`, `scatter`).
fn value_arg(obj: &Bound<'_, PyAny>, func: &str) -> PyResult<Value> {
    if let Ok(t) = obj.downcast::<PyTensor>() {
        return Ok(Value::Tensor(t.borrow().tensor.clone()));
    }
    match scalar_of(obj)? {
        Some(s) => Ok(Value::Scalar(s)),
        None => Err(type_error(format!(
            "{func}() received an invalid combination of arguments - got an argument of type {}, expected a Tensor or a Number",
            type_name(obj)
        ))),
    }
}

/// A Python slice bound: `None`, or an integer (anything with `__index__`), clamped to
/// int64 as Python clamps slice bounds.
fn slice_bound(obj: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    if obj.is_none() {
        return Ok(None);
    }
    match obj.extract::<i64>() {
        Ok(i) => Ok(Some(i)),
        Err(_) => {
            let index = obj.call_method0("__index__").map_err(|_| {
                type_error("slice indices must be integers or None or have an __index__ method")
            })?;
            let positive = index.gt(0)?;
            Ok(Some(if positive { i64::MAX } else { i64::MIN }))
        }
    }
}

/// One item of an index.
fn item_of(obj: &Bound<'_, PyAny>) -> PyResult<Item> {
    if let Ok(b) = obj.downcast::<PyBool>() {
        return Ok(Item::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj
            .extract::<i64>()
            .map(Item::Int)
            .map_err(|_| PyValueError::new_err("Overflow when unpacking long long"));
    }
    if let Ok(s) = obj.downcast::<PySlice>() {
        let step = slice_bound(&s.getattr("step")?)?.unwrap_or(1);
        if step == 0 {
            return Err(PyValueError::new_err("slice step cannot be zero"));
        }
        return Ok(Item::Slice {
            start: slice_bound(&s.getattr("start")?)?,
            stop: slice_bound(&s.getattr("stop")?)?,
            step,
        });
    }
    if obj.is_instance_of::<PyEllipsis>() {
        return Ok(Item::Ellipsis);
    }
    if obj.is_instance_of::<PyNone>() {
        return Ok(Item::NewAxis);
    }
    if let Ok(t) = obj.downcast::<PyTensor>() {
        return Ok(Item::Tensor {
            t: t.borrow().tensor.clone(),
            from_sequence: false,
        });
    }
    if is_sequence(obj) {
        let t = tensor_from_data(obj, None)?;
        let t = if t.dtype() == DType::Bool {
            t
        } else {
            kernels::cast(&t, DType::I64)?
        };
        return Ok(Item::Tensor {
            t,
            from_sequence: true,
        });
    }
    match obj.call_method0("__index__").and_then(|i| i.extract::<i64>()) {
        Ok(i) => Ok(Item::Int(i)),
        Err(_) => Err(PyIndexError::new_err(format!(
            "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices (got {})",
            type_name(obj)
        ))),
    }
}

fn is_ndarray(obj: &Bound<'_, PyAny>) -> bool {
    type_name(obj) == "ndarray"
}

/// Python's sequence protocol as PyTorch checks it (NumPy arrays included).
fn is_sequence(obj: &Bound<'_, PyAny>) -> bool {
    obj.downcast::<PySequence>().is_ok() || is_ndarray(obj)
}

/// The deprecation warning PyTorch gives for a non-tuple sequence read as a tuple (after
/// the op, as PyTorch: an error in the op wins over it).
fn warn_sequence_index(py: Python<'_>) -> PyResult<()> {
    let msg = c"Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be interpreted as tensor index, x[torch.tensor(seq)], which will result either in an error or a different result";
    PyErr::warn(py, &py.get_type::<PyUserWarning>(), msg, 1)
}

/// PyTorch's `treatSequenceAsTuple`.
fn sequence_as_tuple<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PySequence>>> {
    if obj.is_instance_of::<PyTensor>() || is_ndarray(obj) {
        return Ok(None);
    }
    let Ok(seq) = obj.downcast::<PySequence>() else {
        return Ok(None);
    };
    let Ok(n) = seq.len() else {
        return Ok(None);
    };
    if n >= 32 {
        return Ok(None);
    }
    for i in 0..n {
        let Ok(x) = seq.get_item(i) else {
            return Ok(None);
        };
        if x.is_instance_of::<PyTensor>()
            || is_sequence(&x)
            || x.is_instance_of::<PySlice>()
            || x.is_instance_of::<PyEllipsis>()
            || x.is_none()
        {
            return Ok(Some(seq.clone()));
        }
    }
    Ok(None)
}

/// How an index object was read.
#[derive(PartialEq, Eq)]
enum Form {
    Tuple,
    /// A non-tuple sequence read as a tuple (warned about).
    Sequence,
    /// One item.
    Single,
}

/// The items of an index and the form it had.
fn index_items(index: &Bound<'_, PyAny>) -> PyResult<(Vec<Item>, Form)> {
    if let Ok(t) = index.downcast::<PyTuple>() {
        let items = t.iter().map(|x| item_of(&x)).collect::<PyResult<_>>()?;
        return Ok((items, Form::Tuple));
    }
    if let Some(seq) = sequence_as_tuple(index)? {
        let items = seq
            .try_iter()?
            .map(|x| item_of(&x?))
            .collect::<PyResult<_>>()?;
        return Ok((items, Form::Sequence));
    }
    Ok((vec![item_of(index)?], Form::Single))
}

/// The index tensors of `index_put`: a tuple or list of tensors.
fn index_tensors(indices: &Bound<'_, PyAny>, func: &str) -> PyResult<Vec<Tensor>> {
    let items: Vec<Bound<'_, PyAny>> =
        if indices.is_instance_of::<PyTuple>() || indices.is_instance_of::<PyList>() {
            indices.try_iter()?.collect::<PyResult<_>>()?
        } else {
            return Err(type_error(format!(
                "{func}(): argument 'indices' (position 1) must be tuple of Tensors, not {}",
                type_name(indices)
            )));
        };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| match x.downcast::<PyTensor>() {
            Ok(t) => Ok(t.borrow().tensor.clone()),
            Err(_) => Err(type_error(format!(
                "expected Tensor as element {i} in argument 0, but got {}",
                type_name(x)
            ))),
        })
        .collect()
}

fn scatter_src(
    src: Option<&Bound<'_, PyAny>>,
    value: Option<&Bound<'_, PyAny>>,
    reduce: Option<&Bound<'_, PyAny>>,
    func: &str,
) -> PyResult<Value> {
    if reduce.is_some_and(|r| !r.is_none()) {
        return Err(type_error(format!(
            "{func}(): the reduce argument is not supported by ferrograd"
        )));
    }
    match (src, value) {
        (Some(s), None) => value_arg(s, func),
        (None, Some(v)) => match scalar_of(v)? {
            Some(s) => Ok(Value::Scalar(s)),
            None => Err(type_error(format!(
                "{func}(): argument 'value' must be Number, not {}",
                type_name(v)
            ))),
        },
        _ => Err(type_error(format!(
            "{func}() missing 1 required positional argument: \"src\" or \"value\""
        ))),
    }
}

fn this(slf: &Bound<'_, PyTensor>) -> Py<PyTensor> {
    slf.clone().unbind()
}

#[pymethods]
impl PyTensor {
    /// Iterating a tensor walks its first dim (`unbind(0)`, as PyTorch).
    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let t = &slf.borrow().tensor;
        if t.ndim() == 0 {
            return Err(type_error("iteration over a 0-d tensor"));
        }
        let rows = crate::ops::shape::unbind(t, 0)?;
        PyList::new(slf.py(), rows.into_iter().map(PyTensor::new))?
            .into_any()
            .try_iter()
            .map(|it| it.into_any())
    }

    fn __getitem__(&self, py: Python<'_>, index: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let (items, form) = index_items(index)?;
        let t = &self.tensor;
        let single = form == Form::Single;
        let out = run(py, t.numel(), || index::getitem(t, &items, single))?;
        if form == Form::Sequence {
            warn_sequence_index(py)?;
        }
        Ok(PyTensor::new(out))
    }

    fn __setitem__(
        &self,
        py: Python<'_>,
        index: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (items, form) = index_items(index)?;
        let t = &self.tensor;
        let value = if let Ok(v) = value.downcast::<PyTensor>() {
            SetValue::Tensor(v.borrow().tensor.clone())
        } else if let Some(s) = scalar_of(value)? {
            SetValue::Scalar(s)
        } else {
            return Err(type_error(format!(
                "can't assign a {} to a {}",
                type_name(value),
                t.dtype().legacy_type_name()
            )));
        };
        let single = form == Form::Single;
        run(py, t.numel(), || index::setitem(t, &items, single, value))?;
        if form == Form::Sequence {
            warn_sequence_index(py)?;
        }
        Ok(())
    }

    fn index_select(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let d = int_arg(dim, "index_select", "dim", 1)?;
        let i = tensor_arg(index, "index_select", "index", 2)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            index::index_select(t, d, &i)
        })?))
    }

    #[pyo3(signature = (dim, index, *, sparse_grad=false))]
    fn gather(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        sparse_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = sparse_grad;
        let d = int_arg(dim, "gather", "dim", 1)?;
        let i = tensor_arg(index, "gather", "index", 2)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, i.numel(), || {
            index::gather(t, d, &i)
        })?))
    }

    #[pyo3(signature = (dim, index, src=None, *, value=None, reduce=None))]
    fn scatter(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        src: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
        reduce: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let d = int_arg(dim, "scatter", "dim", 1)?;
        let i = tensor_arg(index, "scatter", "index", 2)?;
        let src = scatter_src(src, value, reduce, "scatter")?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            index::scatter(t, d, &i, src, false)
        })?))
    }

    #[pyo3(signature = (dim, index, src=None, *, value=None, reduce=None))]
    fn scatter_(
        slf: &Bound<'_, Self>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        src: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
        reduce: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Self>> {
        let d = int_arg(dim, "scatter_", "dim", 1)?;
        let i = tensor_arg(index, "scatter_", "index", 2)?;
        let src = scatter_src(src, value, reduce, "scatter_")?;
        let t = &slf.borrow().tensor;
        run(slf.py(), t.numel(), || {
            index::scatter_(t, d, &i, src, false)
        })?;
        Ok(this(slf))
    }

    fn scatter_add(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let d = int_arg(dim, "scatter_add", "dim", 1)?;
        let i = tensor_arg(index, "scatter_add", "index", 2)?;
        let s = tensor_arg(src, "scatter_add", "src", 3)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            index::scatter(t, d, &i, Value::Tensor(s), true)
        })?))
    }

    fn scatter_add_(
        slf: &Bound<'_, Self>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Self>> {
        let d = int_arg(dim, "scatter_add_", "dim", 1)?;
        let i = tensor_arg(index, "scatter_add_", "index", 2)?;
        let s = tensor_arg(src, "scatter_add_", "src", 3)?;
        let t = &slf.borrow().tensor;
        run(slf.py(), t.numel(), || {
            index::scatter_(t, d, &i, Value::Tensor(s), true)
        })?;
        Ok(this(slf))
    }

    fn masked_fill(
        &self,
        py: Python<'_>,
        mask: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let m = tensor_arg(mask, "masked_fill", "mask", 1)?;
        let v = value_arg(value, "masked_fill")?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            index::masked_fill(t, &m, v)
        })?))
    }

    fn masked_fill_(
        slf: &Bound<'_, Self>,
        mask: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Self>> {
        let m = tensor_arg(mask, "masked_fill_", "mask", 1)?;
        let v = value_arg(value, "masked_fill_")?;
        let t = &slf.borrow().tensor;
        run(slf.py(), t.numel(), || index::masked_fill_(t, &m, v))?;
        Ok(this(slf))
    }

    fn masked_select(&self, py: Python<'_>, mask: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let m = tensor_arg(mask, "masked_select", "mask", 1)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            index::masked_select(t, &m)
        })?))
    }

    #[pyo3(signature = (dim, index, source, *, alpha=None))]
    fn index_add(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        source: &Bound<'_, PyAny>,
        alpha: Option<f64>,
    ) -> PyResult<PyTensor> {
        let d = int_arg(dim, "index_add", "dim", 1)?;
        let i = tensor_arg(index, "index_add", "index", 2)?;
        let s = tensor_arg(source, "index_add", "source", 3)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            index::index_add(t, d, &i, &s, alpha.unwrap_or(1.0))
        })?))
    }

    #[pyo3(signature = (dim, index, source, *, alpha=None))]
    fn index_add_(
        slf: &Bound<'_, Self>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        source: &Bound<'_, PyAny>,
        alpha: Option<f64>,
    ) -> PyResult<Py<Self>> {
        let d = int_arg(dim, "index_add_", "dim", 1)?;
        let i = tensor_arg(index, "index_add_", "index", 2)?;
        let s = tensor_arg(source, "index_add_", "source", 3)?;
        let t = &slf.borrow().tensor;
        run(slf.py(), t.numel(), || {
            index::index_add_(t, d, &i, &s, alpha.unwrap_or(1.0))
        })?;
        Ok(this(slf))
    }

    fn index_fill(
        &self,
        py: Python<'_>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let d = int_arg(dim, "index_fill", "dim", 1)?;
        let i = tensor_arg(index, "index_fill", "index", 2)?;
        let v = value_arg(value, "index_fill")?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            index::index_fill(t, d, &i, v)
        })?))
    }

    fn index_fill_(
        slf: &Bound<'_, Self>,
        dim: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Self>> {
        let d = int_arg(dim, "index_fill_", "dim", 1)?;
        let i = tensor_arg(index, "index_fill_", "index", 2)?;
        let v = value_arg(value, "index_fill_")?;
        let t = &slf.borrow().tensor;
        run(slf.py(), t.numel(), || index::index_fill_(t, d, &i, v))?;
        Ok(this(slf))
    }

    fn take(&self, py: Python<'_>, index: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let i = tensor_arg(index, "take", "index", 1)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, i.numel(), || index::take(t, &i))?))
    }

    #[pyo3(signature = (indices, values, accumulate=false))]
    fn index_put(
        &self,
        py: Python<'_>,
        indices: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        accumulate: bool,
    ) -> PyResult<PyTensor> {
        let idx = index_tensors(indices, "index_put")?;
        let v = tensor_arg(values, "index_put", "values", 2)?;
        let t = &self.tensor;
        Ok(PyTensor::new(run(py, t.numel(), || {
            index::index_put(t, &idx, &v, accumulate)
        })?))
    }

    #[pyo3(signature = (indices, values, accumulate=false))]
    fn index_put_(
        slf: &Bound<'_, Self>,
        indices: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        accumulate: bool,
    ) -> PyResult<Py<Self>> {
        let idx = index_tensors(indices, "index_put_")?;
        let v = tensor_arg(values, "index_put_", "values", 2)?;
        let t = &slf.borrow().tensor;
        run(slf.py(), t.numel(), || {
            index::index_put_(t, &idx, &v, accumulate)
        })?;
        Ok(this(slf))
    }

    #[pyo3(signature = (src, non_blocking=false))]
    fn copy_(
        slf: &Bound<'_, Self>,
        src: &Bound<'_, PyAny>,
        non_blocking: bool,
    ) -> PyResult<Py<Self>> {
        let _ = non_blocking;
        let t = &slf.borrow().tensor;
        // A Python number is copied as a 0-dim tensor (PyTorch accepts it too).
        let number = if src.is_instance_of::<PyTensor>() {
            None
        } else {
            scalar_of(src).ok().flatten()
        };
        let s = match number {
            Some(v) => crate::ops::arith::Operand::Scalar(v).to_tensor(t.dtype())?,
            None => tensor_arg(src, "copy_", "other", 1)?,
        };
        run(slf.py(), t.numel(), || index::copy_(t, &s))?;
        Ok(this(slf))
    }
}

/// Registers this family's module-level functions on `ferrograd._C`.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
