//! Conversions between Python values and core values: dtypes, scalars, operands, sizes, dims
//! and nested-list data.

use super::dtype::PyDType;
use super::errors::type_error;
use super::tensor::PyTensor;
use crate::dtype::{Category, DType, Scalar};
use crate::error::Error;
use crate::ops::Operand;
use crate::shape::{checked_numel, Dims};
use crate::storage::Buffer;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyList, PySequence, PyString, PyTuple};

/// A Python operand of an arithmetic op: a tensor or a number.
pub enum PyOperand {
    Tensor(Tensor),
    Scalar(Scalar),
}

impl PyOperand {
    pub fn as_operand(&self) -> Operand<'_> {
        match self {
            PyOperand::Tensor(t) => Operand::Tensor(t),
            PyOperand::Scalar(s) => Operand::Scalar(*s),
        }
    }
}

/// A Python number as a scalar; `None` if `obj` is not a number. Ints beyond int64 raise
/// OverflowError as in PyTorch.
pub fn scalar_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<Scalar>> {
    if let Ok(b) = obj.downcast::<PyBool>() {
        return Ok(Some(Scalar::Bool(b.is_true())));
    }
    if obj.is_instance_of::<PyInt>() {
        return match obj.extract::<i64>() {
            Ok(i) => Ok(Some(Scalar::Int(i))),
            Err(_) => Err(PyOverflowError::new_err("int too big to convert")),
        };
    }
    if let Ok(f) = obj.downcast::<PyFloat>() {
        return Ok(Some(Scalar::Float(f.value())));
    }
    // numpy scalars and other number-likes
    if obj.hasattr("__float__").unwrap_or(false)
        && !obj.is_instance_of::<PyTensor>()
        && obj.hasattr("dtype").unwrap_or(false)
    {
        if let Ok(f) = obj.extract::<f64>() {
            return Ok(Some(Scalar::Float(f)));
        }
    }
    Ok(None)
}

/// A tensor or number operand; `None` for anything else (binary dunders then return
/// NotImplemented).
pub fn operand_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<PyOperand>> {
    if let Ok(t) = obj.downcast::<PyTensor>() {
        return Ok(Some(PyOperand::Tensor(t.borrow().tensor.clone())));
    }
    Ok(scalar_of(obj)?.map(PyOperand::Scalar))
}

pub fn dtype_of(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    match obj.downcast::<PyDType>() {
        Ok(d) => Ok(d.get().dtype),
        Err(_) => Err(type_error(format!(
            "dtype must be ferrograd.dtype, not {}",
            obj.get_type().name()?
        ))),
    }
}

pub fn opt_dtype(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => dtype_of(o).map(Some),
    }
}

/// An element of a size list (`pos` counts from 1, as PyTorch prints it). An int beyond
/// int64 is PyTorch's TypeError from its argument parser, not an OverflowError.
fn size_int(obj: &Bound<'_, PyAny>, func: &str, name: &str, pos: usize) -> PyResult<i64> {
    if obj.is_instance_of::<PyInt>() && obj.extract::<i64>().is_err() {
        return Err(type_error(format!(
            "{func}(): argument '{name}' failed to unpack the object at pos {pos} with error \"Overflow when unpacking long long\""
        )));
    }
    int_of(obj, "size")
}

fn int_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyFloat>() {
        return Err(type_error(format!(
            "{what} must be tuple of ints, but found element of type {} at pos 0",
            obj.get_type().name()?
        )));
    }
    if let Ok(t) = obj.downcast::<PyTensor>() {
        let t = &t.borrow().tensor;
        if t.numel() == 1 && !t.dtype().is_floating_point() {
            if let Ok(Scalar::Int(i)) = t.item() {
                return Ok(i);
            }
        }
    }
    obj.extract::<i64>().map_err(|e| {
        if obj.is_instance_of::<PyInt>() {
            PyOverflowError::new_err("Overflow when unpacking long")
        } else {
            let _ = e;
            type_error(format!(
                "{what} must be tuple of ints, but found element of type {}",
                obj.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        }
    })
}

/// `*size` arguments: `f(2, 3)`, `f((2, 3))`, `f([2, 3])` or `f(Size)`; `func` and `name`
/// (`view`, `size`) name them in errors as PyTorch does.
pub fn size_args(args: &Bound<'_, PyTuple>, func: &str, name: &str) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if !a.is_instance_of::<PyInt>() && !a.is_instance_of::<PyTensor>() {
            if let Ok(seq) = a.downcast::<PySequence>() {
                return seq
                    .try_iter()?
                    .enumerate()
                    .map(|(i, x)| size_int(&x?, func, name, i + 1))
                    .collect();
            }
        }
    }
    args.iter()
        .enumerate()
        .map(|(i, x)| size_int(&x, func, name, i + 1))
        .collect()
}

/// Varargs sizes or dims that PyTorch also takes as one keyword (`x.view(size=(2, 3))`,
/// `x.permute(dims=(1, 0))`): the keyword's value as a 1-tuple when no varargs were given.
/// `required`: no varargs and no keyword is PyTorch's "missing 1 required positional
/// arguments" TypeError (else an empty tuple, e.g. `zeros()`).
pub fn varargs_or_keyword<'py>(
    args: &Bound<'py, PyTuple>,
    keyword: Option<&Bound<'py, PyAny>>,
    func: &str,
    name: &str,
    required: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    match keyword {
        Some(k) if args.is_empty() => PyTuple::new(args.py(), [k]),
        Some(_) => Err(type_error(format!(
            "{func}() got multiple values for argument '{name}'"
        ))),
        None if required && args.is_empty() => Err(type_error(format!(
            "{func}() missing 1 required positional arguments: \"{name}\""
        ))),
        None => Ok(args.clone()),
    }
}

/// A list of non-negative sizes for creating a tensor (PyTorch's error for negatives).
pub fn creation_shape(sizes: &[i64]) -> PyResult<Dims> {
    if let Some(&bad) = sizes.iter().find(|&&d| d < 0) {
        return Err(Error::Runtime(format!(
            "Trying to create tensor with negative dimension {bad}: [{}]",
            sizes
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    Ok(sizes.iter().map(|&d| d as usize).collect())
}

/// `dim` arguments: an int, a sequence of ints, or None.
pub fn dims_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            if o.is_instance_of::<PyInt>() {
                return Ok(Some(vec![int_of(o, "dim")?]));
            }
            if let Ok(seq) = o.downcast::<PySequence>() {
                return Ok(Some(
                    seq.try_iter()?
                        .map(|x| int_of(&x?, "dim"))
                        .collect::<PyResult<_>>()?,
                ));
            }
            Err(type_error(format!(
                "dim must be int or tuple of ints, not {}",
                o.get_type().name()?
            )))
        }
    }
}

/// Builds a tensor from nested lists/tuples of numbers, a number, a tensor or a NumPy array.
///
/// Three passes, as PyTorch's `tensor_new.cpp`: infer the dtype from every leaf, take the
/// shape from the first element at each depth, then store each leaf, checking every
/// sequence against that shape.
fn type_is_ndarray(data: &Bound<'_, PyAny>) -> bool {
    let ty = data.get_type();
    matches!(ty.name(), Ok(n) if n == "ndarray")
        && matches!(ty.getattr("__module__").and_then(|m| m.extract::<String>()), Ok(m) if m == "numpy")
}

pub fn tensor_from_data(data: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = data.downcast::<PyTensor>() {
        let t = &t.borrow().tensor;
        return Ok(crate::kernels::cast(t, dtype.unwrap_or(t.dtype()))?);
    }
    // NumPy arrays of our dtypes: one copy of their memory, keeping the array's dtype.
    if type_is_ndarray(data) {
        if let Ok(t) = super::interop::borrow_ndarray(data.py(), data, false) {
            return Ok(crate::kernels::cast(&t, dtype.unwrap_or(t.dtype()))?);
        }
    }
    // Other NumPy arrays and scalars: go through tolist(), keeping the array's dtype.
    let mut inferred: Option<DType> = None;
    // An empty array's nested lists lose its trailing dims: take its shape instead.
    let mut empty_array_shape: Option<Vec<usize>> = None;
    let owned;
    let data =
        if data.hasattr("tolist")? && data.hasattr("dtype")? && !data.is_instance_of::<PyList>() {
            let name: String = data.getattr("dtype")?.str()?.extract()?;
            inferred = match name.as_str() {
                "float64" => Some(DType::F64),
                "float32" | "float16" => Some(DType::F32),
                "bool" => Some(DType::Bool),
                n if n.starts_with("int") || n.starts_with("uint") => Some(DType::I64),
                _ => None,
            };
            if data.getattr("size").and_then(|n| n.extract::<usize>()).ok() == Some(0) {
                empty_array_shape = data.getattr("shape").and_then(|s| s.extract()).ok();
            }
            owned = data.call_method0("tolist")?;
            &owned
        } else {
            data
        };
    let dtype = match dtype.or(inferred) {
        Some(d) => d,
        None => match infer_category(data)? {
            Category::Bool => DType::Bool,
            Category::Integral => DType::I64,
            Category::Floating => crate::dtype::DEFAULT_FLOAT,
        },
    };
    let shape = match empty_array_shape {
        Some(s) => s,
        None => data_shape(data)?,
    };
    let mut sink = Sink::new(dtype, checked_numel(&shape)?);
    store(data, 0, &shape, &mut sink)?;
    Ok(Tensor::from_buffer(sink.into_buffer(), &shape)?)
}

/// A list or tuple, or an n-d tensor inside one (read as nested lists).
fn as_sequence<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PySequence>>> {
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return Ok(Some(obj.downcast::<PySequence>()?.clone()));
    }
    if let Ok(t) = obj.downcast::<PyTensor>() {
        let t = &t.borrow().tensor;
        if t.ndim() > 0 {
            let list = PyTensor::to_pylist(obj.py(), t)?.into_bound(obj.py());
            return Ok(Some(list.downcast_into::<PySequence>()?));
        }
    }
    Ok(None)
}

/// PyTorch's `infer_scalar_type`: the widest category among the leaves (an empty sequence
/// counts as the default float); strings and non-numbers are errors.
fn infer_category(obj: &Bound<'_, PyAny>) -> PyResult<Category> {
    if obj.is_instance_of::<PyBool>() {
        return Ok(Category::Bool);
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(Category::Integral);
    }
    if let Ok(t) = obj.downcast::<PyTensor>() {
        return Ok(t.borrow().tensor.dtype().category());
    }
    if let Some(seq) = as_sequence(obj)? {
        let mut widest: Option<Category> = None;
        for item in seq.try_iter()? {
            let c = infer_category(&item?)?;
            widest = Some(widest.map_or(c, |w| w.max(c)));
        }
        return Ok(widest.unwrap_or(Category::Floating));
    }
    if let Some(s) = scalar_of(obj)? {
        return Ok(s.category());
    }
    let name = obj.get_type().name()?;
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(type_error(format!("new(): invalid data type '{name}'")));
    }
    Err(Error::Runtime(format!("Could not infer dtype of {name}")).into())
}

/// The shape, read from the first element at each depth (PyTorch's `compute_sizes`).
fn data_shape(obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let mut shape = Vec::new();
    let mut cur = obj.clone();
    while let Some(seq) = as_sequence(&cur)? {
        let n = seq.len()?;
        shape.push(n);
        if n == 0 {
            break;
        }
        cur = seq.get_item(0)?;
    }
    Ok(shape)
}

/// Element storage for the chosen dtype.
enum Sink {
    Bool(Vec<bool>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Sink {
    fn new(dtype: DType, n: usize) -> Sink {
        match dtype {
            DType::Bool => Sink::Bool(Vec::with_capacity(n)),
            DType::I64 => Sink::I64(Vec::with_capacity(n)),
            DType::F32 => Sink::F32(Vec::with_capacity(n)),
            DType::F64 => Sink::F64(Vec::with_capacity(n)),
        }
    }

    /// Converts one leaf to this dtype, with the error PyTorch's unpacking gives.
    fn push(&mut self, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let type_name = || -> PyResult<String> { Ok(obj.get_type().name()?.to_string()) };
        let s = if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
            match obj.extract::<i64>() {
                Ok(i) => Scalar::Int(i),
                Err(_) => match self {
                    // An int beyond int64 only fits a float or bool tensor.
                    Sink::I64(_) => {
                        return Err(PyValueError::new_err("Overflow when unpacking long long"))
                    }
                    _ => Scalar::Float(obj.extract::<f64>()?),
                },
            }
        } else if let Ok(t) = obj.downcast::<PyTensor>() {
            t.borrow().tensor.item()?
        } else {
            match scalar_of(obj)? {
                Some(s) => s,
                None => {
                    return Err(type_error(match self {
                        Sink::F32(_) | Sink::F64(_) => {
                            format!("must be real number, not {}", type_name()?)
                        }
                        _ => format!(
                            "'{}' object cannot be interpreted as an integer",
                            type_name()?
                        ),
                    }))
                }
            }
        };
        match self {
            Sink::Bool(v) => v.push(s.to_f64() != 0.0),
            Sink::I64(v) => v.push(match s {
                Scalar::Int(i) => i,
                s => s.to_f64() as i64,
            }),
            Sink::F32(v) => v.push(s.to_f64() as f32),
            Sink::F64(v) => v.push(s.to_f64()),
        }
        Ok(())
    }

    fn into_buffer(self) -> Buffer {
        match self {
            Sink::Bool(v) => Buffer::Bool(v.into()),
            Sink::I64(v) => Buffer::I64(v.into()),
            Sink::F32(v) => Buffer::F32(v.into()),
            Sink::F64(v) => Buffer::F64(v.into()),
        }
    }
}

/// Stores the leaves of `obj` (at `depth`) into `sink`, checking every sequence's length.
fn store(obj: &Bound<'_, PyAny>, depth: usize, shape: &[usize], sink: &mut Sink) -> PyResult<()> {
    if depth == shape.len() {
        return sink.push(obj);
    }
    let Some(seq) = as_sequence(obj)? else {
        return Err(type_error("not a sequence"));
    };
    let n = seq.len()?;
    if n != shape[depth] {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {} (got {})",
            shape[depth], depth, n
        )));
    }
    for item in seq.try_iter()? {
        store(&item?, depth + 1, shape, sink)?;
    }
    Ok(())
}
