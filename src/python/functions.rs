//! Module-level functions of `ferrograd._C`: creation, random numbers and seeding.
//! (Functional forms of tensor methods, `ferrograd.exp(x)` etc., are thin Python aliases in
//! `ferrograd/__init__.py`.)

use super::convert::{creation_shape, opt_dtype, scalar_of, size_args, tensor_from_data};
use super::errors::type_error;
use super::tensor::PyTensor;
use crate::dtype::{DType, Scalar, DEFAULT_FLOAT};
use crate::storage::Buffer;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyNotImplementedError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

pub(super) fn finish(t: Tensor, requires_grad: bool) -> PyResult<PyTensor> {
    if requires_grad {
        if !t.dtype().is_floating_point() {
            // The factories' wording (capitalised), not the setter's.
            return Err(crate::error::Error::Runtime(
                "Only Tensors of floating point and complex dtype can require gradients".into(),
            )
            .into());
        }
        t.set_requires_grad(true)?;
    }
    Ok(PyTensor::new(t))
}

#[pyfunction]
#[pyo3(signature = (data, *, dtype=None, device=None, requires_grad=false))]
pub fn tensor(
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let _ = device;
    let t = tensor_from_data(data, opt_dtype(dtype)?)?;
    finish(t, requires_grad)
}

fn filled(
    func: &str,
    size: &Bound<'_, PyTuple>,
    value: f64,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let shape = creation_shape(&size_args(size, func, "size")?)?;
    let dtype = opt_dtype(dtype)?.unwrap_or(DEFAULT_FLOAT);
    finish(Tensor::full(&shape, value, dtype)?, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
pub fn ones(
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let _ = device;
    let size = &super::convert::varargs_or_keyword(args, size, "ones", "size", false)?;
    filled("ones", size, 1.0, dtype, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
pub fn zeros(
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let _ = device;
    let size = &super::convert::varargs_or_keyword(args, size, "zeros", "size", false)?;
    if size_args(size, "zeros", "size")?.iter().any(|&d| d < 0) {
        // zeros() checks its sizes itself, with its own wording.
        return Err(crate::error::Error::Runtime(
            "zeros: Dimension size must be non-negative.".into(),
        )
        .into());
    }
    filled("zeros", size, 0.0, dtype, requires_grad)
}

/// `empty` returns zero-filled memory (uninitialised memory is never handed to Python).
#[pyfunction]
#[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
pub fn empty(
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let _ = device;
    let size = &super::convert::varargs_or_keyword(args, size, "empty", "size", false)?;
    filled("empty", size, 0.0, dtype, requires_grad)
}

fn fill_dtype(value: Scalar) -> DType {
    match value {
        Scalar::Bool(_) => DType::Bool,
        Scalar::Int(_) => DType::I64,
        Scalar::Float(_) => DEFAULT_FLOAT,
    }
}

fn fill_value(obj: &Bound<'_, PyAny>) -> PyResult<Scalar> {
    scalar_of(obj)?.ok_or_else(|| {
        type_error(format!(
            "full(): argument 'fill_value' (position 2) must be Number, not {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

#[pyfunction]
#[pyo3(signature = (size, fill_value, *, dtype=None, device=None, requires_grad=false))]
pub fn full(
    size: &Bound<'_, PyAny>,
    fill_value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let _ = device;
    let value = self::fill_value(fill_value)?;
    let size = PyTuple::new(size.py(), [size])?;
    let shape = creation_shape(&size_args(&size, "full", "size")?)?;
    let dtype = opt_dtype(dtype)?.unwrap_or(fill_dtype(value));
    finish(Tensor::full(&shape, value.to_f64(), dtype)?, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (start, end=None, step=None, *, dtype=None, device=None, requires_grad=false))]
pub fn arange(
    start: &Bound<'_, PyAny>,
    end: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let _ = device;
    let num = |o: &Bound<'_, PyAny>| -> PyResult<Scalar> {
        scalar_of(o)?.ok_or_else(|| type_error("arange(): argument 'end' must be Number"))
    };
    let (s, e) = match end {
        Some(e) if !e.is_none() => (num(start)?, num(e)?),
        _ => (Scalar::Int(0), num(start)?),
    };
    let st = match step {
        Some(st) if !st.is_none() => num(st)?,
        _ => Scalar::Int(1),
    };
    let all_int = [s, e, st].iter().all(|x| !matches!(x, Scalar::Float(_)));
    let dtype = opt_dtype(dtype)?.unwrap_or(if all_int { DType::I64 } else { DEFAULT_FLOAT });
    let (s, e, st) = (s.to_f64(), e.to_f64(), st.to_f64());
    if st == 0.0 {
        return Err(crate::error::Error::Runtime("step must be nonzero".into()).into());
    }
    if !(s.is_finite() && e.is_finite()) {
        return Err(crate::error::Error::Runtime(format!("unsupported range: {s} -> {e}")).into());
    }
    if (st > 0.0 && e < s) || (st < 0.0 && e > s) {
        return Err(crate::error::Error::Runtime(
            "upper bound and lower bound inconsistent with step sign".into(),
        )
        .into());
    }
    let n = ((e - s) / st).ceil().max(0.0);
    if n > (1u64 << 40) as f64 {
        return Err(
            crate::error::Error::Runtime(format!("arange: {n} elements is too many")).into(),
        );
    }
    let n = n as usize;
    check_alloc(n, dtype.size_of())?;
    let buf = match dtype {
        DType::I64 => Buffer::I64((0..n).map(|i| (s + i as f64 * st) as i64).collect()),
        DType::F32 => Buffer::F32((0..n).map(|i| (s + i as f64 * st) as f32).collect()),
        DType::F64 => Buffer::F64((0..n).map(|i| s + i as f64 * st).collect()),
        DType::Bool => Buffer::Bool((0..n).map(|i| s + i as f64 * st != 0.0).collect()),
    };
    finish(Tensor::from_buffer(buf, &[n])?, requires_grad)
}

/// Refuses up front a buffer that cannot be allocated: the generators below collect into
/// `Vec`s, whose allocation failure would abort the interpreter instead of raising.
fn check_alloc(n: usize, elem_size: usize) -> PyResult<()> {
    let bytes = n.saturating_mul(elem_size);
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).map_err(|_| {
        crate::error::Error::Runtime(format!(
            "[enforce fail at alloc_cpu.cpp] . DefaultCPUAllocator: can't allocate memory: you tried to allocate {bytes} bytes."
        ))
    })?;
    Ok(())
}

fn random(
    size: &[usize],
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    normal: bool,
    name: &str,
) -> PyResult<PyTensor> {
    let dtype = opt_dtype(dtype)?.unwrap_or(DEFAULT_FLOAT);
    if !dtype.is_floating_point() {
        let word = crate::ops::reduce::type_word(dtype);
        return Err(PyNotImplementedError::new_err(format!(
            "\"{}\" not implemented for '{word}'",
            if normal {
                "normal_kernel_cpu"
            } else {
                "check_uniform_bounds"
            }
        )));
    }
    let _ = name;
    let n = crate::shape::checked_numel(size)?;
    check_alloc(n, DType::F64.size_of())?;
    let v = if normal {
        crate::random::normal_vec(n)
    } else {
        crate::random::uniform_vec(n)
    };
    let buf = match dtype {
        DType::F32 => Buffer::F32(v.into_iter().map(|x| x as f32).collect()),
        _ => Buffer::F64(v.into()),
    };
    finish(Tensor::from_buffer(buf, size)?, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false, generator=None))]
pub fn rand(
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (device, generator);
    let size = &super::convert::varargs_or_keyword(args, size, "rand", "size", false)?;
    random(
        &creation_shape(&size_args(size, "rand", "size")?)?,
        dtype,
        requires_grad,
        false,
        "rand",
    )
}

#[pyfunction]
#[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false, generator=None))]
pub fn randn(
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (device, generator);
    let size = &super::convert::varargs_or_keyword(args, size, "randn", "size", false)?;
    random(
        &creation_shape(&size_args(size, "randn", "size")?)?,
        dtype,
        requires_grad,
        true,
        "randn",
    )
}

/// `*_like(input, dtype=None, requires_grad=False)`: `kind` is ones/zeros/empty/rand/randn.
#[pyfunction]
#[pyo3(signature = (kind, input, fill_value=None, dtype=None, requires_grad=false))]
pub fn _like(
    kind: &str,
    input: PyRef<'_, PyTensor>,
    fill_value: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let shape = input.tensor.dims();
    let dt = opt_dtype(dtype)?.unwrap_or(input.tensor.dtype());
    match kind {
        "ones" => finish(Tensor::ones(&shape, dt)?, requires_grad),
        "zeros" | "empty" => finish(Tensor::zeros(&shape, dt)?, requires_grad),
        "full" => {
            let v = match fill_value {
                Some(f) => self::fill_value(f)?,
                None => {
                    return Err(type_error(
                        "full_like() missing required argument 'fill_value'",
                    ))
                }
            };
            finish(Tensor::full(&shape, v.to_f64(), dt)?, requires_grad)
        }
        "rand" | "randn" => {
            let d = super::dtype::dtype_object(input.py(), dt)?;
            random(
                &shape,
                Some(d.bind(input.py()).as_any()),
                requires_grad,
                kind == "randn",
                kind,
            )
        }
        other => Err(type_error(format!("unknown kind {other}"))),
    }
}

#[pyfunction]
pub fn manual_seed(seed: &Bound<'_, PyAny>) -> PyResult<()> {
    // `int(seed)` first, as PyTorch does (so 1.5 seeds 1 and "a" raises int's ValueError).
    let s: i128 = seed
        .py()
        .get_type::<pyo3::types::PyInt>()
        .call1((seed,))?
        .extract()
        .map_err(|_| PyValueError::new_err("Overflow when unpacking long long"))?;
    // PyTorch accepts [-0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff].
    if s < i64::MIN as i128 || s > u64::MAX as i128 {
        return Err(PyValueError::new_err("Overflow when unpacking long long"));
    }
    crate::random::manual_seed(s as u64);
    Ok(())
}

#[pyfunction]
pub fn initial_seed() -> u64 {
    crate::random::initial_seed()
}

#[pyfunction]
pub fn get_num_threads() -> usize {
    crate::kernels::num_threads()
}

/// `torch.set_num_threads`: the threads parallel kernels use from now on.
#[pyfunction]
pub fn set_num_threads(n: &Bound<'_, PyAny>) -> PyResult<()> {
    use pyo3::exceptions::PyRuntimeError;
    use pyo3::types::{PyBool, PyInt};
    if !n.is_instance_of::<PyInt>() || n.is_instance_of::<PyBool>() {
        let got = n.get_type().name()?.to_string();
        return Err(PyRuntimeError::new_err(format!(
            "set_num_threads expects an int, but got {got}"
        )));
    }
    match n.extract::<i64>() {
        Ok(v) if v > 0 => {
            crate::kernels::team::set_threads(usize::try_from(v).unwrap_or(usize::MAX));
            Ok(())
        }
        _ => Err(PyRuntimeError::new_err(
            "set_num_threads expects a positive integer",
        )),
    }
}
