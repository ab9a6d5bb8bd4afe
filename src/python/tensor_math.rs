//! `Tensor` methods for pointwise math, activations, comparisons and logic.

use super::tensor::PyTensor;
use pyo3::prelude::*;

#[pymethods]
impl PyTensor {}

/// Registers this family's module-level functions on `ferrograd._C`.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
