//! The PyO3 layer: `ferrograd._C`. Thin wrappers only — argument parsing (`convert`), error
//! mapping (`errors`), the `Tensor` class (`tensor`), `grad_fn` nodes and the autograd entry
//! points (`autograd`), creation functions (`functions`) and dtype objects (`dtype`).

mod autograd;
mod convert;
mod dtype;
mod errors;
mod functions;
mod hooks;
mod interop;
mod nn;
mod tensor;
mod tensor_index;
mod tensor_linalg;
mod tensor_math;
mod tensor_reduce;
mod tensor_shape;

use crate::dtype::DType;
use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_C")]
fn ferrograd_c(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<autograd::PyNode>()?;
    m.add_class::<dtype::PyDType>()?;
    for (name, d) in [
        ("float32", DType::F32),
        ("float64", DType::F64),
        ("int64", DType::I64),
        ("bool", DType::Bool),
    ] {
        m.add(name, dtype::dtype_object(py, d)?)?;
    }
    m.add_function(wrap_pyfunction!(functions::tensor, m)?)?;
    m.add_function(wrap_pyfunction!(interop::from_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(interop::_from_dlpack_capsule, m)?)?;
    m.add_function(wrap_pyfunction!(functions::ones, m)?)?;
    m.add_function(wrap_pyfunction!(functions::zeros, m)?)?;
    m.add_function(wrap_pyfunction!(functions::empty, m)?)?;
    m.add_function(wrap_pyfunction!(functions::full, m)?)?;
    m.add_function(wrap_pyfunction!(functions::arange, m)?)?;
    m.add_function(wrap_pyfunction!(functions::rand, m)?)?;
    m.add_function(wrap_pyfunction!(functions::randn, m)?)?;
    m.add_function(wrap_pyfunction!(functions::_like, m)?)?;
    m.add_function(wrap_pyfunction!(functions::manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(functions::initial_seed, m)?)?;
    m.add_function(wrap_pyfunction!(functions::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(functions::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(tensor_linalg::einsum, m)?)?;
    m.add("MATMUL_KERNEL", crate::kernels::matmul::MATMUL_KERNEL)?;
    m.add_function(wrap_pyfunction!(autograd::_run_backward, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_run_grad, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_live_nodes, m)?)?;
    hooks::register(m)?;
    tensor_math::register(m)?;
    tensor_reduce::register(m)?;
    tensor_shape::register(m)?;
    tensor_index::register(m)?;
    nn::register(m)?;
    Ok(())
}
