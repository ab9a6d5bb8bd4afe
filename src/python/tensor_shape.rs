//! `Tensor` methods for shape and view ops, joining and splitting, and creation functions.

use super::tensor::PyTensor;
use pyo3::prelude::*;

#[pymethods]
impl PyTensor {}

/// Registers this family's module-level functions on `ferrograd._C`.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
