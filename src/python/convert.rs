//! Conversions between Python values and core values: dtypes, scalars, operands, sizes, dims
//! and nested-list data.

use super::dtype::PyDType;
use super::errors::type_error;
use super::tensor::PyTensor;
use crate::dtype::{DType, Scalar};
use crate::error::Error;
use crate::ops::Operand;
use crate::shape::Dims;
use crate::storage::Buffer;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PySequence, PyTuple};

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
            Err(_) => Err(PyOverflowError::new_err("Overflow when unpacking long")),
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
        return Ok(Some(PyOperand::Tensor(t.get().tensor.clone())));
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

fn int_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyFloat>() {
        return Err(type_error(format!(
            "{what} must be tuple of ints, but found element of type {} at pos 0",
            obj.get_type().name()?
        )));
    }
    if let Ok(t) = obj.downcast::<PyTensor>() {
        let t = &t.get().tensor;
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

/// `*size` arguments: `f(2, 3)`, `f((2, 3))`, `f([2, 3])` or `f(Size)`.
pub fn size_args(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if !a.is_instance_of::<PyInt>() && !a.is_instance_of::<PyTensor>() {
            if let Ok(seq) = a.downcast::<PySequence>() {
                return seq.try_iter()?.map(|x| int_of(&x?, "size")).collect();
            }
        }
    }
    args.iter().map(|x| int_of(&x, "size")).collect()
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

/// Values gathered from nested Python data, before a dtype is chosen.
enum Values {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
}

impl Values {
    fn push(&mut self, s: Scalar) {
        // Widen the collection when a value of a higher category arrives.
        match (&mut *self, s) {
            (Values::Bool(v), Scalar::Bool(b)) => v.push(b),
            (Values::Int(v), Scalar::Int(i)) => v.push(i),
            (Values::Int(v), Scalar::Bool(b)) => v.push(b as i64),
            (Values::Float(v), s) => v.push(s.to_f64()),
            (Values::Bool(v), Scalar::Int(i)) => {
                let mut w: Vec<i64> = v.iter().map(|&b| b as i64).collect();
                w.push(i);
                *self = Values::Int(w);
            }
            (Values::Bool(v), Scalar::Float(f)) => {
                let mut w: Vec<f64> = v.iter().map(|&b| b as u8 as f64).collect();
                w.push(f);
                *self = Values::Float(w);
            }
            (Values::Int(v), Scalar::Float(f)) => {
                let mut w: Vec<f64> = v.iter().map(|&i| i as f64).collect();
                w.push(f);
                *self = Values::Float(w);
            }
        }
    }
}

/// Builds a tensor from nested lists/tuples of numbers, a number, a tensor or a NumPy array.
pub fn tensor_from_data(data: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = data.downcast::<PyTensor>() {
        let t = &t.get().tensor;
        return Ok(crate::kernels::cast(t, dtype.unwrap_or(t.dtype()))?);
    }
    // NumPy arrays and scalars: go through tolist(), keeping the array's dtype.
    let mut inferred: Option<DType> = None;
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
            owned = data.call_method0("tolist")?;
            &owned
        } else {
            data
        };
    let mut shape: Vec<usize> = Vec::new();
    let mut values = Values::Bool(Vec::new());
    let mut any_value = false;
    collect(data, 0, &mut shape, &mut values, &mut any_value)?;
    let dtype = dtype.or(inferred).unwrap_or(match values {
        Values::Bool(_) if any_value => DType::Bool,
        Values::Int(_) => DType::I64,
        _ => crate::dtype::DEFAULT_FLOAT,
    });
    let buf = match (values, dtype) {
        (Values::Float(v), DType::F32) => Buffer::F32(v.into_iter().map(|x| x as f32).collect()),
        (Values::Float(v), DType::F64) => Buffer::F64(v),
        (Values::Int(v), DType::I64) => Buffer::I64(v),
        (Values::Bool(v), DType::Bool) => Buffer::Bool(v),
        (values, dtype) => {
            let as_f64: Vec<f64> = match &values {
                Values::Bool(v) => v.iter().map(|&b| b as u8 as f64).collect(),
                Values::Int(v) => v.iter().map(|&i| i as f64).collect(),
                Values::Float(v) => v.clone(),
            };
            match (dtype, values) {
                (DType::I64, Values::Bool(v)) => {
                    Buffer::I64(v.into_iter().map(|b| b as i64).collect())
                }
                (DType::I64, _) => Buffer::I64(as_f64.iter().map(|&x| x as i64).collect()),
                (DType::Bool, _) => Buffer::Bool(as_f64.iter().map(|&x| x != 0.0).collect()),
                (DType::F32, _) => Buffer::F32(as_f64.iter().map(|&x| x as f32).collect()),
                (DType::F64, _) => Buffer::F64(as_f64),
            }
        }
    };
    Ok(Tensor::from_buffer(buf, &shape)?)
}

fn collect(
    obj: &Bound<'_, PyAny>,
    depth: usize,
    shape: &mut Vec<usize>,
    values: &mut Values,
    any_value: &mut bool,
) -> PyResult<()> {
    if let Some(s) = scalar_of(obj)? {
        if depth < shape.len() {
            return Err(PyValueError::new_err(format!(
                "expected sequence of length {} at dim {} (got {})",
                shape[depth], depth, "a number"
            )));
        }
        *any_value = true;
        values.push(s);
        return Ok(());
    }
    if let Ok(t) = obj.downcast::<PyTensor>() {
        let t = &t.get().tensor;
        if t.numel() == 1 && t.ndim() == 0 {
            *any_value = true;
            values.push(t.item()?);
            return Ok(());
        }
        let list = PyTensor::to_pylist(obj.py(), t)?;
        return collect(list.bind(obj.py()), depth, shape, values, any_value);
    }
    let is_seq = obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>();
    if !is_seq {
        return Err(type_error(format!(
            "new(): invalid data type '{}'",
            obj.get_type().name()?
        )));
    }
    let seq = obj.downcast::<PySequence>()?;
    let n = seq.len()?;
    if depth == shape.len() {
        if *any_value && depth > 0 {
            return Err(PyValueError::new_err(format!(
                "expected sequence of length {} at dim {} (got {})",
                shape.get(depth).copied().unwrap_or(0),
                depth,
                n
            )));
        }
        shape.push(n);
    } else if shape[depth] != n {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {} (got {})",
            shape[depth], depth, n
        )));
    }
    for item in seq.try_iter()? {
        collect(&item?, depth + 1, shape, values, any_value)?;
    }
    Ok(())
}
