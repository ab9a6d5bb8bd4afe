//! `ferrograd.dtype` objects: one singleton per dtype, printed as `ferrograd.float32`.

use crate::dtype::DType;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;

#[pyclass(name = "dtype", module = "ferrograd", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub struct PyDType {
    pub dtype: DType,
}

#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("ferrograd.{}", self.dtype.name())
    }

    #[getter]
    fn is_floating_point(&self) -> bool {
        self.dtype.is_floating_point()
    }

    #[getter]
    fn is_complex(&self) -> bool {
        false
    }

    #[getter]
    fn is_signed(&self) -> bool {
        self.dtype != DType::Bool
    }

    #[getter]
    fn itemsize(&self) -> usize {
        self.dtype.size_of()
    }

    fn __reduce__(&self) -> String {
        self.dtype.name().to_string()
    }
}

static SINGLETONS: GILOnceCell<[Py<PyDType>; 4]> = GILOnceCell::new();

fn singletons(py: Python<'_>) -> PyResult<&[Py<PyDType>; 4]> {
    SINGLETONS.get_or_try_init(py, || {
        Ok([
            Py::new(py, PyDType { dtype: DType::Bool })?,
            Py::new(py, PyDType { dtype: DType::I64 })?,
            Py::new(py, PyDType { dtype: DType::F32 })?,
            Py::new(py, PyDType { dtype: DType::F64 })?,
        ])
    })
}

/// The singleton object for `dtype`.
pub fn dtype_object(py: Python<'_>, dtype: DType) -> PyResult<Py<PyDType>> {
    let s = singletons(py)?;
    let i = match dtype {
        DType::Bool => 0,
        DType::I64 => 1,
        DType::F32 => 2,
        DType::F64 => 3,
    };
    Ok(s[i].clone_ref(py))
}
