//! `ferrograd.Tensor`: thin methods over the core. Each one parses its arguments, calls one
//! core function (releasing the GIL when the tensor is large) and wraps the result.

use super::autograd::node_object;
use super::convert::{dims_arg, dtype_of, operand_of, opt_dtype, size_args, PyOperand};
use super::dtype::{dtype_object, PyDType};
use super::errors::{runtime_error, type_error};
use crate::dtype::{DType, Scalar};
use crate::error::Result as CoreResult;
use crate::kernels::RELEASE_GIL_THRESHOLD;
use crate::ops::arith::{self, CmpOp, Operand};
use crate::ops::{inplace, reduce, shape, unary};
use crate::tensor::Tensor;
use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyIndexError, PyNotImplementedError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

/// The Python `Tensor`: one handle to a core tensor.
///
/// Not `frozen`: the in-place view ops (`t_`, `squeeze_`, ...) put a new handle (same
/// storage, version counter and autograd identity, another layout) in place of `tensor`,
/// because a core tensor's layout is fixed (read by every op without a lock). Reads borrow
/// through PyO3's borrow flag; the only mutable borrow is `reseat`'s swap, which holds the
/// GIL throughout, so a shared borrow (`Bound::borrow`) never meets it.
#[pyclass(name = "Tensor", module = "ferrograd", subclass, weakref)]
pub struct PyTensor {
    pub tensor: Tensor,
}

impl PyTensor {
    pub fn new(tensor: Tensor) -> PyTensor {
        PyTensor { tensor }
    }

    /// An in-place view op: `f` gives the new handle, which replaces this wrapper's tensor;
    /// returns `slf` itself (`x.t_() is x`). While another thread computes with this tensor
    /// (having released the GIL) the swap is refused (PyO3's "Already borrowed").
    pub fn reseat(
        slf: &Bound<'_, PyTensor>,
        f: impl FnOnce(&Tensor) -> CoreResult<Tensor>,
    ) -> PyResult<Py<PyTensor>> {
        let new = f(&slf.borrow().tensor)?;
        let old = std::mem::replace(&mut slf.try_borrow_mut()?.tensor, new);
        // Dropped after the borrow ends: releasing it may run Python code (hooks).
        drop(old);
        Ok(slf.clone().unbind())
    }

    /// Nested Python lists of the values (a Python number for a zero-dim tensor).
    pub fn to_pylist(py: Python<'_>, t: &Tensor) -> PyResult<PyObject> {
        fn build<T: Copy + for<'a> IntoPyObject<'a>>(
            py: Python<'_>,
            v: &[T],
            shape: &[usize],
        ) -> PyResult<PyObject> {
            if shape.is_empty() {
                return v[0].into_py_any(py);
            }
            if shape.len() == 1 {
                return Ok(PyList::new(py, v.iter().copied())?.into_any().unbind());
            }
            let step: usize = shape[1..].iter().product();
            let items: Vec<PyObject> = (0..shape[0])
                .map(|i| build(py, &v[i * step..(i + 1) * step], &shape[1..]))
                .collect::<PyResult<_>>()?;
            Ok(PyList::new(py, items)?.into_any().unbind())
        }
        let shape = t.shape();
        // An expanded view may have far more elements than memory can hold.
        crate::kernels::check_alloc::<f64>(t.numel())?;
        match t.dtype() {
            DType::Bool => build(py, &t.to_vec::<bool>(), shape),
            DType::I64 => build(py, &t.to_vec::<i64>(), shape),
            DType::F32 | DType::F64 => build(py, &t.to_vec::<f64>(), shape),
        }
    }
}

/// Runs `f`, without the GIL when `n` elements make it worth it.
#[inline]
pub fn run<T: Send>(
    py: Python<'_>,
    n: usize,
    f: impl FnOnce() -> CoreResult<T> + Send,
) -> PyResult<T> {
    if n >= RELEASE_GIL_THRESHOLD {
        Ok(py.allow_threads(f)?)
    } else {
        Ok(f()?)
    }
}

pub fn tensors_of(list: &Bound<'_, PyList>) -> PyResult<Vec<Tensor>> {
    list.iter()
        .map(|x| match x.downcast::<PyTensor>() {
            Ok(t) => Ok(t.borrow().tensor.clone()),
            Err(_) => Err(type_error(format!(
                "expected Tensor as element 0 in argument 0, but got {}",
                x.get_type().name()?
            ))),
        })
        .collect()
}

fn operand_or_type_error(name: &str, other: &Bound<'_, PyAny>) -> PyResult<PyOperand> {
    match operand_of(other)? {
        Some(o) => Ok(o),
        None => Err(type_error(format!(
            "{name}(): argument 'other' (position 1) must be Tensor, not {}",
            other.get_type().name()?
        ))),
    }
}

static SIZE_TYPE: GILOnceCell<PyObject> = GILOnceCell::new();

fn size_object<'py>(py: Python<'py>, dims: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let ty = SIZE_TYPE.get_or_try_init(py, || -> PyResult<PyObject> {
        Ok(py.import("ferrograd._size")?.getattr("Size")?.unbind())
    })?;
    ty.bind(py).call1((PyTuple::new(py, dims)?,))
}

static TENSOR_STR: GILOnceCell<PyObject> = GILOnceCell::new();

type BinFn = fn(&Tensor, Operand) -> CoreResult<Tensor>;

fn add1(a: &Tensor, b: Operand) -> CoreResult<Tensor> {
    arith::add(a, b, 1.0)
}
fn sub1(a: &Tensor, b: Operand) -> CoreResult<Tensor> {
    arith::sub(a, b, 1.0)
}

/// A binary dunder: `NotImplemented` for operands that are not tensors or numbers.
fn dunder(py: Python<'_>, a: &Tensor, other: &Bound<'_, PyAny>, f: BinFn) -> PyResult<PyObject> {
    let Some(b) = operand_of(other)? else {
        return Ok(py.NotImplemented());
    };
    let n = a.numel();
    let out = run(py, n, || f(a, b.as_operand()))?;
    Ok(PyTensor::new(out).into_pyobject(py)?.into_any().unbind())
}

/// A reflected dunder (`2 - x`): the scalar is on the left.
fn rdunder(
    py: Python<'_>,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    f: fn(&Tensor, Scalar) -> CoreResult<Tensor>,
) -> PyResult<PyObject> {
    match operand_of(other)? {
        Some(PyOperand::Scalar(s)) => {
            let out = run(py, a.numel(), || f(a, s))?;
            Ok(PyTensor::new(out).into_pyobject(py)?.into_any().unbind())
        }
        _ => Ok(py.NotImplemented()),
    }
}

fn wrap(t: Tensor) -> PyTensor {
    PyTensor::new(t)
}

#[pymethods]
impl PyTensor {
    /// `ferrograd.Tensor(data)` or `ferrograd.Tensor(*sizes)`: a float32 tensor.
    #[new]
    #[pyo3(signature = (*args))]
    fn py_new(args: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        if args.len() == 1 {
            let a = args.get_item(0)?;
            if a.is_instance_of::<PyList>()
                || a.is_instance_of::<PyTuple>()
                || a.hasattr("tolist")?
            {
                return Ok(wrap(super::convert::tensor_from_data(
                    &a,
                    Some(DType::F32),
                )?));
            }
        }
        let sizes = super::convert::creation_shape(&size_args(args, "new", "size")?)?;
        Ok(wrap(Tensor::zeros(&sizes, DType::F32)?))
    }

    // ---- attributes ---------------------------------------------------------------------

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        size_object(py, self.tensor.shape())
    }

    #[pyo3(signature = (dim=None))]
    fn size<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => size_object(py, self.tensor.shape()),
            Some(d) => {
                let d = dim_of_sizes(d, self.tensor.ndim())?;
                let n = self.tensor.shape()[d];
                Ok(n.into_pyobject(py)?.into_any())
            }
        }
    }

    #[getter]
    fn dtype(&self, py: Python<'_>) -> PyResult<Py<PyDType>> {
        dtype_object(py, self.tensor.dtype())
    }

    #[getter]
    fn ndim(&self) -> usize {
        self.tensor.ndim()
    }

    fn dim(&self) -> usize {
        self.tensor.ndim()
    }

    fn ndimension(&self) -> usize {
        self.tensor.ndim()
    }

    fn numel(&self) -> usize {
        self.tensor.numel()
    }

    fn nelement(&self) -> usize {
        self.tensor.numel()
    }

    fn element_size(&self) -> usize {
        self.tensor.dtype().size_of()
    }

    fn is_floating_point(&self) -> bool {
        self.tensor.dtype().is_floating_point()
    }

    fn is_contiguous(&self) -> bool {
        self.tensor.is_contiguous()
    }

    #[pyo3(signature = (dim=None))]
    fn stride<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        let strides = &self.tensor.layout().strides;
        match dim {
            None => Ok(PyTuple::new(py, strides.iter())?.into_any()),
            Some(d) => {
                let d = dim_of_sizes(d, self.tensor.ndim())?;
                Ok(strides[d].into_pyobject(py)?.into_any())
            }
        }
    }

    fn storage_offset(&self) -> usize {
        self.tensor.layout().offset
    }

    fn data_ptr(&self) -> usize {
        let base = self.tensor.storage().as_ptr() as usize;
        base + self.tensor.layout().offset * self.tensor.dtype().size_of()
    }

    /// The version counter (bumped by every in-place write).
    #[getter]
    fn _version(&self) -> u64 {
        self.tensor.version()
    }

    // ---- autograd -----------------------------------------------------------------------

    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.tensor.requires_grad()
    }

    #[setter]
    fn set_requires_grad(&self, flag: bool) -> PyResult<()> {
        Ok(self.tensor.set_requires_grad(flag)?)
    }

    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(slf: &Bound<'_, Self>, requires_grad: bool) -> PyResult<Py<Self>> {
        let t = &slf.borrow().tensor;
        if requires_grad && !t.dtype().is_floating_point() {
            // PyTorch words this one differently from the setter and the factories.
            return Err(runtime_error(
                "only Tensors of floating point dtype can require gradients",
            ));
        }
        t.set_requires_grad(requires_grad)?;
        Ok(slf.clone().unbind())
    }

    #[getter]
    fn is_leaf(&self) -> PyResult<bool> {
        self.tensor.check_view_history()?;
        Ok(self.tensor.is_leaf())
    }

    #[getter]
    fn grad_fn(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.tensor.check_view_history()?;
        self.tensor
            .grad_fn()
            .map(|node| node_object(py, node))
            .transpose()
    }

    #[getter]
    fn get_grad(&self) -> Option<PyTensor> {
        self.tensor.grad().map(wrap)
    }

    #[setter]
    fn set_grad(&self, grad: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let grad = match grad {
            None => None,
            Some(g) if g.is_none() => None,
            Some(g) => match g.downcast::<PyTensor>() {
                Ok(t) => Some(t.borrow().tensor.clone()),
                Err(_) => {
                    return Err(type_error(format!(
                        "assigned grad expected to be a Tensor or None but got grad of type {}",
                        g.get_type().name()?
                    )))
                }
            },
        };
        Ok(self.tensor.set_grad(grad)?)
    }

    #[getter]
    fn get_data(&self) -> PyTensor {
        wrap(self.tensor.data())
    }

    #[setter]
    fn set_data(&self, data: PyRef<'_, PyTensor>) -> PyResult<()> {
        // `w.data -= lr * g` reads `.data`, updates it in place and assigns it back: the
        // assigned tensor already is this tensor's storage and layout, so nothing is left to do.
        let d = &data.tensor;
        if d.same_storage(&self.tensor) && d.layout() == self.tensor.layout() {
            return Ok(());
        }
        Err(runtime_error(
            "assigning another tensor to .data is not supported yet; use copy_() under no_grad()",
        ))
    }

    fn detach(&self) -> PyTensor {
        wrap(self.tensor.detach())
    }

    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        &self,
        py: Python<'_>,
        gradient: Option<PyRef<'_, PyTensor>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let roots = [self.tensor.clone()];
        let grads = [gradient.map(|g| g.tensor.clone())];
        if let Some(inputs) = inputs.filter(|i| !i.is_none()) {
            let inputs: Vec<Tensor> = match inputs.downcast::<PyTensor>() {
                Ok(t) => vec![t.borrow().tensor.clone()],
                Err(_) => inputs
                    .try_iter()?
                    .map(|x| Ok(x?.downcast::<PyTensor>()?.borrow().tensor.clone()))
                    .collect::<PyResult<_>>()?,
            };
            if inputs.is_empty() {
                return Err(runtime_error(
                    "'inputs' argument to backward() cannot be empty.",
                ));
            }
            crate::autograd::backward_into(&roots, &grads, retain_graph, create_graph, &inputs)?;
            return Ok(());
        }
        let run_it = || crate::autograd::backward(&roots, &grads, retain_graph, create_graph);
        if self.tensor.numel() >= RELEASE_GIL_THRESHOLD && !create_graph {
            py.allow_threads(run_it)?;
        } else {
            run_it()?;
        }
        Ok(())
    }

    // ---- conversion ---------------------------------------------------------------------

    fn item(&self, py: Python<'_>) -> PyResult<PyObject> {
        Ok(match self.tensor.item()? {
            Scalar::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
            Scalar::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
            Scalar::Float(f) => PyFloat::new(py, f).into_any().unbind(),
        })
    }

    fn tolist(&self, py: Python<'_>) -> PyResult<PyObject> {
        PyTensor::to_pylist(py, &self.tensor)
    }

    /// Nested lists keeping the first and last `edgeitems` entries of every dimension longer
    /// than `2 * edgeitems` (what printing a summarised tensor needs).
    fn _summarized_list(&self, py: Python<'_>, edgeitems: usize) -> PyResult<PyObject> {
        let mut t = self.tensor.clone();
        for d in 0..t.ndim() {
            let n = t.shape()[d];
            if n > 2 * edgeitems {
                let keep: Vec<i64> = (0..edgeitems)
                    .chain(n - edgeitems..n)
                    .map(|i| i as i64)
                    .collect();
                t = select_indices(&t, d, &keep)?;
            }
        }
        PyTensor::to_pylist(py, &t)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn to(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<PyTensor> {
        let mut dtype = None;
        for a in args.iter() {
            if a.downcast::<PyDType>().is_ok() {
                dtype = Some(dtype_of(&a)?);
            } else if let Ok(t) = a.downcast::<PyTensor>() {
                dtype = Some(t.borrow().tensor.dtype());
            } else if a.is_instance_of::<PyString>() {
                let s: String = a.extract()?;
                if s != "cpu" {
                    return Err(runtime_error(format!(
                        "ferrograd only supports the 'cpu' device, got '{s}'"
                    )));
                }
            }
        }
        if let Some(kw) = kwargs {
            if let Some(d) = kw.get_item("dtype")? {
                dtype = opt_dtype(Some(&d))?;
            }
        }
        match dtype {
            Some(d) => Ok(wrap(shape::to_dtype(&self.tensor, d)?)),
            None => Ok(wrap(self.tensor.clone())),
        }
    }

    fn float(&self) -> PyResult<PyTensor> {
        Ok(wrap(shape::to_dtype(&self.tensor, DType::F32)?))
    }

    fn double(&self) -> PyResult<PyTensor> {
        Ok(wrap(shape::to_dtype(&self.tensor, DType::F64)?))
    }

    fn long(&self) -> PyResult<PyTensor> {
        Ok(wrap(shape::to_dtype(&self.tensor, DType::I64)?))
    }

    fn bool(&self) -> PyResult<PyTensor> {
        Ok(wrap(shape::to_dtype(&self.tensor, DType::Bool)?))
    }

    fn type_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        Ok(wrap(shape::to_dtype(&self.tensor, other.tensor.dtype())?))
    }

    /// `clone(*, memory_format=ferrograd.preserve_format)`: `contiguous_format` gives a
    /// row-major copy, anything else PyTorch's `preserve_format` layout.
    #[pyo3(signature = (*, memory_format=None))]
    fn clone(
        &self,
        py: Python<'_>,
        memory_format: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let row_major = match memory_format {
            Some(f) if !f.is_none() => f
                .getattr("_name")
                .and_then(|n| n.extract::<String>())
                .is_ok_and(|n| n == "contiguous_format"),
            _ => false,
        };
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || shape::clone_as(t, !row_major))?))
    }

    #[pyo3(signature = (memory_format=None))]
    fn contiguous(&self, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let _ = memory_format;
        Ok(wrap(shape::contiguous(&self.tensor)?))
    }

    // ---- shape --------------------------------------------------------------------------

    #[pyo3(signature = (*args, size=None))]
    fn view(
        &self,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        if args.is_empty() && size.is_none() {
            return Err(super::errors::type_error(
                "view() received an invalid combination of arguments - got (), but expected one of:\n * (torch.dtype dtype)\n * (tuple of ints size)\n",
            ));
        }
        let args = super::convert::varargs_or_keyword(args, size, "view", "size", true)?;
        Ok(wrap(shape::view(
            &self.tensor,
            &size_args(&args, "view", "size")?,
        )?))
    }

    #[pyo3(signature = (*args, shape=None))]
    fn reshape(
        &self,
        args: &Bound<'_, PyTuple>,
        shape: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let args = super::convert::varargs_or_keyword(args, shape, "reshape", "shape", true)?;
        Ok(wrap(shape::reshape_i64(
            &self.tensor,
            &size_args(&args, "reshape", "shape")?,
        )?))
    }

    #[pyo3(signature = (*args, size=None))]
    fn expand(
        &self,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let args = super::convert::varargs_or_keyword(args, size, "expand", "size", true)?;
        Ok(wrap(shape::expand_i64(
            &self.tensor,
            &size_args(&args, "expand", "size")?,
        )?))
    }

    fn expand_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        Ok(wrap(shape::expand(&self.tensor, other.tensor.shape())?))
    }

    fn transpose(&self, dim0: i64, dim1: i64) -> PyResult<PyTensor> {
        Ok(wrap(shape::transpose(&self.tensor, dim0, dim1)?))
    }

    fn t(&self) -> PyResult<PyTensor> {
        Ok(wrap(shape::t(&self.tensor)?))
    }

    fn t_(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        PyTensor::reseat(slf, shape::t_)
    }

    fn transpose_(slf: &Bound<'_, Self>, dim0: i64, dim1: i64) -> PyResult<Py<Self>> {
        PyTensor::reseat(slf, |t| shape::transpose_(t, dim0, dim1))
    }

    fn view_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let s: Vec<i64> = other.tensor.shape().iter().map(|&d| d as i64).collect();
        Ok(wrap(shape::view(&self.tensor, &s)?))
    }

    fn reshape_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        Ok(wrap(shape::reshape(&self.tensor, other.tensor.shape())?))
    }

    // ---- math ---------------------------------------------------------------------------

    fn exp(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || unary::exp(t))?))
    }

    fn log(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || unary::log(t))?))
    }

    fn sqrt(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || unary::sqrt(t))?))
    }

    fn abs(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || unary::abs(t))?))
    }

    fn reciprocal(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || unary::reciprocal(t))?))
    }

    fn neg(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || arith::neg(t))?))
    }

    fn sign(&self) -> PyResult<PyTensor> {
        Ok(wrap(unary::sign(&self.tensor)?))
    }

    #[pyo3(signature = (other, *, alpha=None))]
    fn add(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        alpha: Option<f64>,
    ) -> PyResult<PyTensor> {
        let b = operand_or_type_error("add", other)?;
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || {
            arith::add(t, b.as_operand(), alpha.unwrap_or(1.0))
        })?))
    }

    #[pyo3(signature = (other, *, alpha=None))]
    fn sub(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        alpha: Option<f64>,
    ) -> PyResult<PyTensor> {
        let b = operand_or_type_error("sub", other)?;
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || {
            arith::sub(t, b.as_operand(), alpha.unwrap_or(1.0))
        })?))
    }

    fn mul(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let b = operand_or_type_error("mul", other)?;
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || arith::mul(t, b.as_operand()))?))
    }

    fn div(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let b = operand_or_type_error("div", other)?;
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || arith::div(t, b.as_operand()))?))
    }

    fn true_divide(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.div(py, other)
    }

    fn pow(&self, py: Python<'_>, exponent: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let b = operand_or_type_error("pow", exponent)?;
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || arith::pow(t, b.as_operand()))?))
    }

    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn sum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = dims_arg(dim)?;
        let dtype = opt_dtype(dtype)?;
        let t = &self.tensor;
        Ok(wrap(run(py, t.numel(), || {
            reduce::sum(t, dims.as_deref(), keepdim, dtype)
        })?))
    }

    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn mean(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = dims_arg(dim)?;
        let dtype = opt_dtype(dtype)?;
        let t = &self.tensor;
        // PyTorch raises NotImplementedError (a RuntimeError) when no float dtype results.
        let (which, d) = match dtype {
            Some(d) => ("Optional", d),
            None => ("Input", t.dtype()),
        };
        if !d.is_floating_point() {
            return Err(PyNotImplementedError::new_err(format!(
                "mean(): could not infer output dtype. {which} dtype must be either a floating point or complex dtype. Got: {}",
                reduce::type_word(d)
            )));
        }
        Ok(wrap(run(py, t.numel(), || {
            reduce::mean(t, dims.as_deref(), keepdim, dtype)
        })?))
    }

    #[pyo3(signature = (p=None, dim=None, keepdim=false, dtype=None))]
    fn norm(
        &self,
        py: Python<'_>,
        p: Option<&Bound<'_, PyAny>>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let p = norm_order(p)?;
        let dims = dims_arg(dim)?;
        let t = match opt_dtype(dtype)? {
            Some(d) => shape::to_dtype(&self.tensor, d)?,
            None => self.tensor.clone(),
        };
        let t = &t;
        if !t.dtype().is_floating_point() {
            return Err(PyNotImplementedError::new_err(format!(
                "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
                reduce::type_word(t.dtype())
            )));
        }
        Ok(wrap(run(py, t.numel(), || {
            reduce::norm(t, p, dims.as_deref(), keepdim)
        })?))
    }

    fn eq(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.cmp("eq", other, CmpOp::Eq)
    }
    fn ne(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.cmp("ne", other, CmpOp::Ne)
    }
    fn lt(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.cmp("lt", other, CmpOp::Lt)
    }
    fn le(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.cmp("le", other, CmpOp::Le)
    }
    fn gt(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.cmp("gt", other, CmpOp::Gt)
    }
    fn ge(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.cmp("ge", other, CmpOp::Ge)
    }

    // ---- in place -----------------------------------------------------------------------

    #[pyo3(signature = (other, *, alpha=None))]
    fn add_(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        alpha: Option<f64>,
    ) -> PyResult<Py<Self>> {
        let b = operand_or_type_error("add_", other)?;
        inplace::add_(&slf.borrow().tensor, b.as_operand(), alpha.unwrap_or(1.0))?;
        Ok(slf.clone().unbind())
    }

    #[pyo3(signature = (other, *, alpha=None))]
    fn sub_(
        slf: &Bound<'_, Self>,
        other: &Bound<'_, PyAny>,
        alpha: Option<f64>,
    ) -> PyResult<Py<Self>> {
        let b = operand_or_type_error("sub_", other)?;
        inplace::sub_(&slf.borrow().tensor, b.as_operand(), alpha.unwrap_or(1.0))?;
        Ok(slf.clone().unbind())
    }

    fn mul_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let b = operand_or_type_error("mul_", other)?;
        inplace::mul_(&slf.borrow().tensor, b.as_operand())?;
        Ok(slf.clone().unbind())
    }

    fn div_(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let b = operand_or_type_error("div_", other)?;
        inplace::div_(&slf.borrow().tensor, b.as_operand())?;
        Ok(slf.clone().unbind())
    }

    fn zero_(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        inplace::zero_(&slf.borrow().tensor)?;
        Ok(slf.clone().unbind())
    }

    /// `fill_(value)`: a number, or a 0-dim tensor (whose grad is then the sum of the grad).
    fn fill_(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        if let Ok(v) = value.downcast::<PyTensor>() {
            inplace::fill_tensor_(&slf.borrow().tensor, &v.borrow().tensor)?;
            return Ok(slf.clone().unbind());
        }
        let v = super::convert::scalar_of(value)?.ok_or_else(|| {
            let ty = value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            type_error(format!(
                "fill_() received an invalid combination of arguments - got ({ty}), but expected one of:\n * (Tensor value)\n      didn't match because some of the arguments have invalid types: (!{ty}!)\n * (Number value)\n      didn't match because some of the arguments have invalid types: (!{ty}!)\n"
            ))
        })?;
        inplace::fill_(&slf.borrow().tensor, v.to_f64())?;
        Ok(slf.clone().unbind())
    }

    fn __iadd__(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        let b = operand_or_type_error("add_", other)?;
        Ok(inplace::add_(&self.tensor, b.as_operand(), 1.0)?)
    }

    fn __isub__(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        let b = operand_or_type_error("sub_", other)?;
        Ok(inplace::sub_(&self.tensor, b.as_operand(), 1.0)?)
    }

    fn __imul__(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        let b = operand_or_type_error("mul_", other)?;
        Ok(inplace::mul_(&self.tensor, b.as_operand())?)
    }

    fn __itruediv__(&self, other: &Bound<'_, PyAny>) -> PyResult<()> {
        let b = operand_or_type_error("div_", other)?;
        Ok(inplace::div_(&self.tensor, b.as_operand())?)
    }

    // ---- Python protocols ---------------------------------------------------------------

    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, add1)
    }
    fn __radd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, add1)
    }
    fn __sub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, sub1)
    }
    fn __rsub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        rdunder(py, &self.tensor, other, arith::rsub_scalar)
    }
    fn __mul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, arith::mul)
    }
    fn __rmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, arith::mul)
    }
    fn __truediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        dunder(py, &self.tensor, other, arith::div)
    }
    fn __rtruediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        rdunder(py, &self.tensor, other, arith::rdiv_scalar)
    }
    fn __pow__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyObject> {
        let _ = modulo;
        dunder(py, &self.tensor, other, arith::pow)
    }
    fn __rpow__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyObject> {
        let _ = modulo;
        rdunder(py, &self.tensor, other, arith::rpow_scalar)
    }
    fn __neg__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.neg(py)
    }
    fn __pos__(slf: &Bound<'_, Self>) -> Py<Self> {
        slf.clone().unbind()
    }
    fn __abs__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.abs(py)
    }

    fn __richcmp__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<PyObject> {
        let Some(b) = operand_of(other)? else {
            return Ok(py.NotImplemented());
        };
        let op = match op {
            CompareOp::Eq => CmpOp::Eq,
            CompareOp::Ne => CmpOp::Ne,
            CompareOp::Lt => CmpOp::Lt,
            CompareOp::Le => CmpOp::Le,
            CompareOp::Gt => CmpOp::Gt,
            CompareOp::Ge => CmpOp::Ge,
        };
        let out = arith::compare(&self.tensor, b.as_operand(), op)?;
        Ok(wrap(out).into_pyobject(py)?.into_any().unbind())
    }

    /// `element in x`: PyTorch's `(element == x).any().item()`, for a tensor or a number.
    fn __contains__(&self, element: &Bound<'_, PyAny>) -> PyResult<bool> {
        let eq = match operand_of(element)? {
            Some(PyOperand::Tensor(e)) => {
                arith::compare(&e, Operand::Tensor(&self.tensor), CmpOp::Eq)?
            }
            Some(b) => arith::compare(&self.tensor, b.as_operand(), CmpOp::Eq)?,
            None => {
                return Err(runtime_error(format!(
                    "Tensor.__contains__ only supports Tensor or scalar, but you passed in a {}.",
                    element.get_type().str()?
                )))
            }
        };
        Ok(eq.to_vec::<bool>().into_iter().any(|b| b))
    }

    fn __hash__(&self) -> usize {
        self.tensor.addr()
    }

    fn __bool__(&self) -> PyResult<bool> {
        match self.tensor.numel() {
            0 => Err(runtime_error(
                "Boolean value of Tensor with no values is ambiguous",
            )),
            1 => Ok(self.tensor.item()?.to_f64() != 0.0),
            _ => Err(runtime_error(
                "Boolean value of Tensor with more than one value is ambiguous",
            )),
        }
    }

    fn __float__(&self) -> PyResult<f64> {
        Ok(self.one_element()?.to_f64())
    }

    fn __int__(&self) -> PyResult<i64> {
        Ok(match self.one_element()? {
            Scalar::Float(f) => f as i64,
            s => s.to_f64() as i64,
        })
    }

    fn __index__(&self) -> PyResult<i64> {
        if self.tensor.dtype().is_floating_point() || self.tensor.numel() != 1 {
            return Err(type_error(
                "only integer tensors of a single element can be converted to an index",
            ));
        }
        self.__int__()
    }

    fn __len__(&self) -> PyResult<usize> {
        match self.tensor.shape().first() {
            Some(&n) => Ok(n),
            None => Err(type_error("len() of a 0-d tensor")),
        }
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let f = TENSOR_STR.get_or_try_init(py, || -> PyResult<PyObject> {
            Ok(py
                .import("ferrograd._tensor_str")?
                .getattr("tensor_repr")?
                .unbind())
        })?;
        f.bind(py).call1((slf,))?.extract()
    }

    fn __format__(slf: &Bound<'_, Self>, spec: &str) -> PyResult<String> {
        let t = &slf.borrow().tensor;
        if t.ndim() == 0 && !spec.is_empty() {
            let item = slf.borrow().item(slf.py())?;
            return item
                .bind(slf.py())
                .call_method1("__format__", (spec,))?
                .extract();
        }
        Self::__repr__(slf)
    }
}

impl PyTensor {
    /// The value behind `float(t)` / `int(t)`: PyTorch raises ValueError there, not the
    /// RuntimeError of `item()`.
    fn one_element(&self) -> PyResult<Scalar> {
        if self.tensor.numel() != 1 {
            return Err(PyValueError::new_err(
                "only one element tensors can be converted to Python scalars",
            ));
        }
        Ok(self.tensor.item()?)
    }

    fn cmp(&self, name: &str, other: &Bound<'_, PyAny>, op: CmpOp) -> PyResult<PyTensor> {
        let b = operand_or_type_error(name, other)?;
        Ok(wrap(arith::compare(&self.tensor, b.as_operand(), op)?))
    }
}

/// A `dim` argument of `size()`/`stride()`: PyTorch words the zero-dim case its own way.
fn dim_of_sizes(dim: i64, ndim: usize) -> PyResult<usize> {
    if ndim == 0 {
        return Err(PyIndexError::new_err(format!(
            "Dimension specified as {dim} but tensor has no dimensions"
        )));
    }
    Ok(crate::shape::wrap_dim(dim, ndim)?)
}

/// The order of a vector norm: a number, `'fro'` (2) or `inf`.
pub fn norm_order(p: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
    match p {
        None => Ok(2.0),
        Some(p) if p.is_none() => Ok(2.0),
        Some(p) => {
            if let Ok(s) = p.extract::<String>() {
                return match s.as_str() {
                    "fro" => Ok(2.0),
                    other => Err(runtime_error(format!("norm: unsupported order '{other}'"))),
                };
            }
            if p.is_instance_of::<PyInt>() || p.is_instance_of::<PyFloat>() {
                return p.extract::<f64>();
            }
            Err(type_error(format!(
                "norm(): argument 'p' must be Number, not {}",
                p.get_type().name()?
            )))
        }
    }
}

/// Copies the entries `keep` along `dim` into a new contiguous tensor (for printing).
fn select_indices(t: &Tensor, dim: usize, keep: &[i64]) -> CoreResult<Tensor> {
    let mut layout = t.layout().clone();
    let parts: Vec<Tensor> = keep
        .iter()
        .map(|&i| {
            let mut l = layout.clone();
            l.offset += i as usize * l.strides[dim];
            l.shape[dim] = 1;
            crate::kernels::cast(&t.alias_with_layout(l), t.dtype())
        })
        .collect::<CoreResult<_>>()?;
    layout.shape[dim] = keep.len();
    let mut out: Vec<f64> = Vec::new();
    let mut bools: Vec<bool> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    // Interleave the parts along `dim` (outer dims first).
    let outer: usize = t.shape()[..dim].iter().product();
    let inner: usize = t.shape()[dim + 1..].iter().product();
    for o in 0..outer {
        for p in &parts {
            match t.dtype() {
                DType::Bool => {
                    bools.extend_from_slice(&p.to_vec::<bool>()[o * inner..(o + 1) * inner])
                }
                DType::I64 => {
                    ints.extend_from_slice(&p.to_vec::<i64>()[o * inner..(o + 1) * inner])
                }
                _ => out.extend_from_slice(&p.to_vec::<f64>()[o * inner..(o + 1) * inner]),
            }
        }
    }
    let shape = layout.shape.clone();
    match t.dtype() {
        DType::Bool => Tensor::from_vec(bools, &shape),
        DType::I64 => Tensor::from_vec(ints, &shape),
        DType::F32 => Tensor::from_vec(
            out.into_iter().map(|x| x as f32).collect::<Vec<f32>>(),
            &shape,
        ),
        DType::F64 => Tensor::from_vec(out, &shape),
    }
}
