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
                let (a, b) = (&o.borrow().tensor, &self.tensor);
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

    #[pyo3(signature = (*args, dims=None))]
    fn permute(
        &self,
        args: &Bound<'_, PyTuple>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let args = super::convert::varargs_or_keyword(args, dims, "permute", "dims", true)?;
        Ok(PyTensor::new(shape::permute(
            &self.tensor,
            &size_args(&args, "permute", "dims")?,
        )?))
    }

    fn unsqueeze(&self, dim: i64) -> PyResult<PyTensor> {
        Ok(PyTensor::new(shape::unsqueeze(&self.tensor, dim)?))
    }

    fn unsqueeze_(slf: &Bound<'_, Self>, dim: i64) -> PyResult<Py<Self>> {
        PyTensor::reseat(slf, |t| shape::unsqueeze_(t, dim))
    }

    /// `squeeze_(dim=None)`: the overloads of `squeeze`, in place (SqueezeBackward3/4/5).
    #[pyo3(signature = (dim=None))]
    fn squeeze_(slf: &Bound<'_, Self>, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Py<Self>> {
        let dims = super::convert::dims_arg(dim)?;
        let seq = dim.is_some_and(|d| !d.is_none() && !d.is_instance_of::<pyo3::types::PyInt>());
        PyTensor::reseat(slf, |t| shape::squeeze_(t, dims.as_deref(), seq))
    }

    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, dim: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let dims = super::convert::dims_arg(dim)?;
        // A sequence of dims, even of one, is PyTorch's dims overload (SqueezeBackward2).
        let seq = dim.is_some_and(|d| !d.is_none() && !d.is_instance_of::<pyo3::types::PyInt>());
        Ok(PyTensor::new(shape::squeeze_as(
            &self.tensor,
            dims.as_deref(),
            seq,
        )?))
    }

    /// `x.addmm_(mat1, mat2, *, beta=1, alpha=1)`: `addmm` written into `x`.
    #[pyo3(signature = (mat1, mat2, *, beta=1.0, alpha=1.0))]
    fn addmm_(
        slf: &Bound<'_, Self>,
        mat1: PyRef<'_, PyTensor>,
        mat2: PyRef<'_, PyTensor>,
        beta: f64,
        alpha: f64,
    ) -> PyResult<Py<Self>> {
        let (i, a, b) = (&slf.borrow().tensor, &mat1.tensor, &mat2.tensor);
        // Either factor requiring grad makes the write tracked.
        let other = if a.requires_grad() { a } else { b };
        run(slf.py(), a.numel() + b.numel(), || {
            crate::ops::inplace::apply(i, Some(other), |pre| linalg::addmm(pre, a, b, beta, alpha))
        })?;
        Ok(slf.clone().unbind())
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
        ts.push(o.downcast::<PyTensor>()?.borrow().tensor.clone());
    }
    Ok(PyTensor::new(linalg::einsum(equation, &ts)?))
}
