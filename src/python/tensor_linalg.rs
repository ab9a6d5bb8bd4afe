//! `Tensor` methods for linear algebra and dim-reordering views (a second `#[pymethods]`
//! block, so binding files follow the core's op families).

use super::convert::size_args;
use super::tensor::{run, PyTensor};
use crate::ops::{linalg, shape};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

#[pymethods]
impl PyTensor {
    fn matmul(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let (a, b) = (&self.tensor, &other.tensor);
        Ok(PyTensor::new(run(py, a.numel() + b.numel(), || {
            linalg::matmul(a, b)
        })?))
    }

    fn __matmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        match other.downcast::<PyTensor>() {
            Ok(o) => Ok(self
                .matmul(py, o.borrow())?
                .into_pyobject(py)?
                .into_any()
                .unbind()),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __rmatmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        match other.downcast::<PyTensor>() {
            Ok(o) => {
                let (a, b) = (&o.get().tensor, &self.tensor);
                let out = run(py, a.numel() + b.numel(), || linalg::matmul(a, b))?;
                Ok(PyTensor::new(out).into_pyobject(py)?.into_any().unbind())
            }
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn mm(&self, py: Python<'_>, mat2: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let (a, b) = (&self.tensor, &mat2.tensor);
        Ok(PyTensor::new(run(py, a.numel() + b.numel(), || {
            linalg::mm(a, b)
        })?))
    }

    fn bmm(&self, py: Python<'_>, mat2: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let (a, b) = (&self.tensor, &mat2.tensor);
        Ok(PyTensor::new(run(py, a.numel() + b.numel(), || {
            linalg::bmm(a, b)
        })?))
    }

    fn mv(&self, vec: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        Ok(PyTensor::new(linalg::mv(&self.tensor, &vec.tensor)?))
    }

    fn dot(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        Ok(PyTensor::new(linalg::dot(&self.tensor, &other.tensor)?))
    }

    fn outer(&self, vec2: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        Ok(PyTensor::new(linalg::outer(&self.tensor, &vec2.tensor)?))
    }

    #[pyo3(signature = (mat1, mat2, *, beta=1.0, alpha=1.0))]
    fn addmm(
        &self,
        py: Python<'_>,
        mat1: PyRef<'_, PyTensor>,
        mat2: PyRef<'_, PyTensor>,
        beta: f64,
        alpha: f64,
    ) -> PyResult<PyTensor> {
        let (i, a, b) = (&self.tensor, &mat1.tensor, &mat2.tensor);
        Ok(PyTensor::new(run(py, a.numel() + b.numel(), || {
            linalg::addmm(i, a, b, beta, alpha)
        })?))
    }

    #[pyo3(signature = (*dims))]
    fn permute(&self, dims: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        Ok(PyTensor::new(shape::permute(
            &self.tensor,
            &size_args(dims)?,
        )?))
    }

    fn unsqueeze(&self, dim: i64) -> PyResult<PyTensor> {
        Ok(PyTensor::new(shape::unsqueeze(&self.tensor, dim)?))
    }

    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, dim: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let dims = super::convert::dims_arg(dim)?;
        Ok(PyTensor::new(shape::squeeze(
            &self.tensor,
            dims.as_deref(),
        )?))
    }
}

/// `einsum(equation, *operands)` (operands may also be given as one list).
#[pyfunction]
#[pyo3(signature = (equation, *operands))]
pub fn einsum(equation: &str, operands: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
    let mut ts = Vec::new();
    let items: Vec<Bound<'_, PyAny>> =
        if operands.len() == 1 && !operands.get_item(0)?.is_instance_of::<PyTensor>() {
            operands.get_item(0)?.try_iter()?.collect::<PyResult<_>>()?
        } else {
            operands.iter().collect()
        };
    for o in items {
        ts.push(o.downcast::<PyTensor>()?.get().tensor.clone());
    }
    Ok(PyTensor::new(linalg::einsum(equation, &ts)?))
}
