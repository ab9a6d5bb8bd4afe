//! Bindings for `ferrograd.nn` / `ferrograd.optim`: `Tensor._make_subclass` (how
//! `nn.Parameter` wraps a tensor without copying it), the in-place random fills of `nn.init`
//! (`uniform_`, `normal_`), and the private `_C` functions `nn.functional` and the optimisers
//! call: `_im2col`, `_cross_entropy`, `_optim_step`.

use super::errors::type_error;
use super::tensor::{run, PyTensor};
use crate::error::Error;
use crate::kernels::conv::Window;
use crate::ops::nn::{self, Reduction, Step};
use crate::tensor::Tensor;
use pyo3::exceptions::PyNotImplementedError;
use pyo3::prelude::*;
use pyo3::pyclass_init::PyClassInitializer;
use pyo3::types::PyType;

/// A core error as a Python exception; NotImplementedError for a kernel without a version
/// for the dtype, as PyTorch.
fn py_err(e: Error) -> PyErr {
    match e {
        Error::NotImplementedFor { .. } | Error::NotImplemented(_) => {
            PyNotImplementedError::new_err(e.to_string())
        }
        e => e.into(),
    }
}

#[pymethods]
impl PyTensor {
    /// `Tensor._make_subclass(cls, data, require_grad=False)`: an instance of the Tensor
    /// subclass `cls` that shares `data`'s storage (detached from its history).
    #[staticmethod]
    #[pyo3(signature = (cls, data, require_grad=false))]
    fn _make_subclass(
        cls: &Bound<'_, PyType>,
        data: PyRef<'_, PyTensor>,
        require_grad: bool,
    ) -> PyResult<PyObject> {
        let py = cls.py();
        if !cls.is_subclass_of::<PyTensor>()? {
            return Err(type_error(format!(
                "cls must be a type (got {})",
                cls.name()?
            )));
        }
        let t = data.tensor.detach();
        t.set_requires_grad(require_grad)?;
        let init = PyClassInitializer::from(PyTensor::new(t));
        // SAFETY: `cls` was checked to be a subtype of Tensor, whose layout the initializer
        // fills; the returned pointer is a new (owned) reference.
        unsafe {
            let ptr = pyo3::impl_::pymethods::tp_new_impl(py, init, cls.as_type_ptr())?;
            Ok(Bound::from_owned_ptr(py, ptr).unbind())
        }
    }

    #[pyo3(name = "uniform_", signature = (from=0.0, to=1.0, *, generator=None))]
    fn uniform_inplace<'py>(
        slf: &Bound<'py, Self>,
        from: f64,
        to: f64,
        generator: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let _ = generator;
        nn::uniform_(&slf.borrow().tensor, from, to).map_err(py_err)?;
        Ok(slf.clone())
    }

    #[pyo3(name = "normal_", signature = (mean=0.0, std=1.0, *, generator=None))]
    fn normal_inplace<'py>(
        slf: &Bound<'py, Self>,
        mean: f64,
        std: f64,
        generator: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let _ = generator;
        nn::normal_(&slf.borrow().tensor, mean, std).map_err(py_err)?;
        Ok(slf.clone())
    }
}

/// `_im2col(input, kernel, stride, padding, dilation, out, fill)`: the windows of `input`
/// (N, C, *spatial) as (N, C, taps, positions), `fill` in the padding.
#[pyfunction]
#[pyo3(signature = (input, kernel, stride, padding, dilation, out, fill=0.0))]
fn _im2col(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    kernel: Vec<usize>,
    stride: Vec<usize>,
    padding: Vec<usize>,
    dilation: Vec<usize>,
    out: Vec<usize>,
    fill: f64,
) -> PyResult<PyTensor> {
    let x = &input.tensor;
    let spatial = x.shape().get(2..).unwrap_or(&[]).to_vec();
    let window = Window::new(&spatial, &kernel, &stride, &padding, &dilation, &out)?;
    let work = x.shape().iter().take(2).product::<usize>() * window.taps() * window.positions();
    Ok(PyTensor::new(run(py, work, || {
        nn::im2col(x, &window, fill)
    })?))
}

/// `_cross_entropy(input, target, ignore_index, reduction, label_smoothing)` for 2-d logits
/// and class indices (the checks of `F.cross_entropy` ran before).
#[pyfunction]
fn _cross_entropy(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    target: PyRef<'_, PyTensor>,
    ignore_index: i64,
    reduction: &str,
    label_smoothing: f64,
) -> PyResult<PyTensor> {
    let (x, t) = (&input.tensor, &target.tensor);
    let reduction = Reduction::parse(reduction)?;
    Ok(PyTensor::new(run(py, x.numel(), || {
        nn::cross_entropy(x, t, ignore_index, reduction, label_smoothing)
    })?))
}

/// `_optim_step(kind, param, grad, buffers, hyper)`: one update of `param` in place (see
/// `ops::nn::Step` for each kind's buffers and hyper-parameters).
#[pyfunction]
fn _optim_step(
    py: Python<'_>,
    kind: &str,
    param: PyRef<'_, PyTensor>,
    grad: PyRef<'_, PyTensor>,
    buffers: Vec<Option<PyRef<'_, PyTensor>>>,
    hyper: Vec<f64>,
) -> PyResult<()> {
    let step = Step::parse(kind, &hyper)?;
    let bufs: Vec<Option<Tensor>> = buffers
        .iter()
        .map(|b| b.as_ref().map(|b| b.tensor.clone()))
        .collect();
    let (p, g) = (&param.tensor, &grad.tensor);
    run(py, p.numel(), || nn::optim_step(step, p, g, &bufs))
}

/// Registers this file's module-level functions on `ferrograd._C`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_im2col, m)?)?;
    m.add_function(wrap_pyfunction!(_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(_optim_step, m)?)?;
    Ok(())
}
