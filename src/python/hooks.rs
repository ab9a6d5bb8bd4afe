//! The Python side of the autograd surface that runs user code: tensor and node hooks,
//! `retain_grad`, custom `autograd.Function` nodes, anomaly and inference modes, and the GC
//! support that lets Python collect cycles running through them.
//!
//! GC: a Python callable held by a node is visited from a tensor only along uniquely-owned
//! links (the tensor object is the only holder of its Rust tensor, and that tensor the only
//! holder of its `grad_fn`), so each Rust-held reference is counted once, as PyTorch does.

use super::autograd::PyNode;
use super::tensor::PyTensor;
use crate::autograd::graph::ARENA;
use crate::autograd::hooks::{self, CustomFunction, Hook, HookFn, HookHandle};
use crate::error::{Error, Result as CoreResult};
use crate::ops::{Backward, Ctx, Saved};
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use pyo3::{PyTraverseError, PyVisit};
use std::any::Any;
use std::sync::Arc;

fn external(e: PyErr) -> Error {
    Error::External(Arc::new(e))
}

fn grads_tuple<'py>(py: Python<'py>, grads: &[Option<Tensor>]) -> PyResult<Bound<'py, PyTuple>> {
    let items: Vec<PyObject> = grads
        .iter()
        .map(|g| match g {
            Some(t) => Ok(Py::new(py, PyTensor::new(t.clone()))?.into_any()),
            None => Ok(py.None()),
        })
        .collect::<PyResult<_>>()?;
    PyTuple::new(py, items)
}

fn tensors_from(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Option<Tensor>>> {
    let items: Vec<Bound<'_, PyAny>> =
        if obj.is_instance_of::<PyTuple>() || obj.is_instance_of::<PyList>() {
            obj.try_iter()?.collect::<PyResult<_>>()?
        } else {
            vec![obj.clone()]
        };
    items
        .iter()
        .map(|x| {
            if x.is_none() {
                Ok(None)
            } else {
                Ok(Some(x.downcast::<PyTensor>()?.borrow().tensor.clone()))
            }
        })
        .collect()
}

#[derive(Clone, Copy)]
enum HookKind {
    /// `tensor.register_hook(fn)`: fn(grad) -> Tensor or None.
    Tensor,
    /// `grad_fn.register_prehook(fn)`: fn(grad_outputs) -> tuple or None.
    Pre,
    /// `grad_fn.register_hook(fn)`: fn(grad_inputs, grad_outputs) -> tuple or None.
    Post,
    /// `register_post_accumulate_grad_hook(fn)`: fn(tensor) -> None.
    PostAccumulate,
}

struct PyHook {
    func: Py<PyAny>,
    kind: HookKind,
}

impl HookFn for PyHook {
    fn call(
        &self,
        args: &[Option<Tensor>],
        extra: &[Option<Tensor>],
    ) -> CoreResult<Option<Vec<Option<Tensor>>>> {
        Python::with_gil(|py| -> PyResult<Option<Vec<Option<Tensor>>>> {
            let f = self.func.bind(py);
            let result = match self.kind {
                HookKind::Tensor => {
                    let g = match args.first() {
                        Some(Some(t)) => Py::new(py, PyTensor::new(t.clone()))?.into_any(),
                        _ => py.None(),
                    };
                    f.call1((g,))?
                }
                HookKind::Pre => f.call1((grads_tuple(py, args)?,))?,
                HookKind::Post => f.call1((grads_tuple(py, args)?, grads_tuple(py, extra)?))?,
                HookKind::PostAccumulate => return Ok(None),
            };
            if result.is_none() {
                return Ok(None);
            }
            Ok(Some(tensors_from(&result)?))
        })
        .map_err(external)
    }

    fn call_with_tensor(&self, t: &Tensor) -> CoreResult<()> {
        Python::with_gil(|py| -> PyResult<()> {
            self.func
                .bind(py)
                .call1((Py::new(py, PyTensor::new(t.clone()))?,))?;
            Ok(())
        })
        .map_err(external)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn hook(func: Bound<'_, PyAny>, kind: HookKind) -> PyResult<Hook> {
    if !func.is_callable() {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "hook must be callable",
        ));
    }
    Ok(Arc::new(PyHook {
        func: func.unbind(),
        kind,
    }))
}

/// The handle `register_hook` returns; `remove()` unregisters the hook.
#[pyclass(name = "RemovableHandle", module = "ferrograd.utils.hooks")]
pub struct PyRemovableHandle {
    handle: Option<HookHandle>,
}

#[pymethods]
impl PyRemovableHandle {
    fn remove(&mut self) {
        if let Some(h) = self.handle.take() {
            h.remove();
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(&mut self, _a: &Bound<'_, PyAny>, _b: &Bound<'_, PyAny>, _c: &Bound<'_, PyAny>) {
        self.remove();
    }
}

fn handle(h: HookHandle) -> PyRemovableHandle {
    PyRemovableHandle { handle: Some(h) }
}

#[pymethods]
impl PyTensor {
    fn register_hook(&self, hook: Bound<'_, PyAny>) -> PyResult<PyRemovableHandle> {
        Ok(handle(hooks::register_tensor_hook(
            &self.tensor,
            self::hook(hook, HookKind::Tensor)?,
        )?))
    }

    fn register_post_accumulate_grad_hook(
        &self,
        hook: Bound<'_, PyAny>,
    ) -> PyResult<PyRemovableHandle> {
        let h = self::hook(hook, HookKind::PostAccumulate)?;
        Ok(handle(hooks::register_post_accumulate_hook(
            &self.tensor,
            h,
        )?))
    }

    fn retain_grad(&self) -> PyResult<()> {
        Ok(hooks::retain_grad(&self.tensor)?)
    }

    #[getter]
    fn retains_grad(&self) -> bool {
        self.tensor.meta().retains_grad
    }

    /// A method, as PyTorch's `Tensor.is_inference()`.
    fn is_inference(&self) -> bool {
        self.tensor.is_inference()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> std::result::Result<(), PyTraverseError> {
        if self.tensor.strong_count() != 1 {
            return Ok(());
        }
        let mut objects: Vec<RawObject> = Vec::new();
        if let Some(m) = self.tensor.try_meta() {
            if let Some(h) = &m.hooks {
                for (_, f) in h.tensor.iter().chain(&h.post_accumulate) {
                    collect_hook(f, &mut objects);
                }
            }
            if let Some(node) = &m.grad_fn {
                if let Some(arena) = ARENA.try_lock() {
                    if arena.refcount(node.id()) == 1 {
                        if let Some(n) = arena.get(node.id()) {
                            if let Some(h) = &n.hooks {
                                for f in h
                                    .tensor
                                    .iter()
                                    .map(|(_, _, f)| f)
                                    .chain(h.pre.iter().map(|(_, f)| f))
                                    .chain(h.post.iter().map(|(_, f)| f))
                                {
                                    collect_hook(f, &mut objects);
                                }
                            }
                            if let Backward::Custom(f) = &n.op {
                                if let Some(pf) = f.as_any().downcast_ref::<PyFunction>() {
                                    objects.push(RawObject(pf.cls.as_ptr()));
                                    objects.push(RawObject(pf.ctx.as_ptr()));
                                }
                            }
                        }
                    }
                }
            }
        }
        // Visited after the locks are released; the objects stay alive meanwhile because
        // the Rust structures that hold them are owned by this (live) tensor.
        for o in &objects {
            visit.call(o)?;
        }
        Ok(())
    }
}

fn collect_hook(f: &Hook, out: &mut Vec<RawObject>) {
    if let Some(h) = f.as_any().downcast_ref::<PyHook>() {
        out.push(RawObject(h.func.as_ptr()));
    }
}

/// A borrowed object pointer, for `PyVisit::call` only.
struct RawObject(*mut pyo3::ffi::PyObject);

// SAFETY: the pointer is a valid, live object for the duration of the traversal.
unsafe impl pyo3::AsPyPointer for RawObject {
    fn as_ptr(&self) -> *mut pyo3::ffi::PyObject {
        self.0
    }
}

#[pymethods]
impl PyNode {
    fn register_hook(&self, hook: Bound<'_, PyAny>) -> PyResult<PyRemovableHandle> {
        Ok(handle(hooks::register_node_hook(
            self.node.id(),
            self::hook(hook, HookKind::Post)?,
            false,
        )?))
    }

    fn register_prehook(&self, hook: Bound<'_, PyAny>) -> PyResult<PyRemovableHandle> {
        Ok(handle(hooks::register_node_hook(
            self.node.id(),
            self::hook(hook, HookKind::Pre)?,
            true,
        )?))
    }

    /// A dict kept with the node for the user's annotations (PyTorch's `grad_fn.metadata`).
    #[getter]
    fn metadata(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let existing = hooks::with_node_hooks(self.node.id(), |h| h.data.clone())?;
        if let Some(d) = existing.and_then(|d| d.downcast::<Py<PyDict>>().ok()) {
            return Ok(d.clone_ref(py));
        }
        let d = PyDict::new(py).unbind();
        let stored: Arc<dyn Any + Send + Sync> = Arc::new(d.clone_ref(py));
        hooks::with_node_hooks(self.node.id(), |h| h.data = Some(stored))?;
        Ok(d)
    }
}

// ---- custom autograd.Function ------------------------------------------------------------

/// The node of a custom `autograd.Function` application.
struct PyFunction {
    name: &'static str,
    cls: Py<PyAny>,
    ctx: Py<PyAny>,
    /// For each forward argument: `Some(k)` if it is the k-th tensor input (has an edge).
    arg_inputs: Vec<Option<usize>>,
    n_tensor_inputs: usize,
    /// dtype and shape of each output, to materialise missing grads as zeros.
    outputs: Vec<(crate::dtype::DType, crate::shape::Dims)>,
}

impl CustomFunction for PyFunction {
    fn name(&self) -> &'static str {
        self.name
    }

    fn apply(&self, grads: &[Option<Tensor>], ctx: &Ctx) -> CoreResult<Vec<Option<Tensor>>> {
        let _ = ctx;
        Python::with_gil(|py| -> PyResult<Vec<Option<Tensor>>> {
            let c = self.ctx.bind(py);
            let materialize: bool = c.getattr("materialize_grads").and_then(|m| m.extract()).unwrap_or(true);
            let mut args: Vec<PyObject> = Vec::with_capacity(self.outputs.len());
            for (i, (dtype, shape)) in self.outputs.iter().enumerate() {
                match grads.get(i).cloned().flatten() {
                    Some(g) => args.push(Py::new(py, PyTensor::new(g))?.into_any()),
                    None if materialize => args.push(Py::new(py, PyTensor::new(Tensor::zeros(shape, *dtype)?))?.into_any()),
                    None => args.push(py.None()),
                }
            }
            let mut call_args = vec![self.ctx.clone_ref(py)];
            call_args.extend(args);
            let result = self.cls.bind(py).getattr("backward")?.call1(PyTuple::new(py, call_args)?)?;
            let values: Vec<Bound<'_, PyAny>> = if result.is_instance_of::<PyTuple>() {
                result.try_iter()?.collect::<PyResult<_>>()?
            } else {
                vec![result]
            };
            let n_args = self.arg_inputs.len();
            let mut values = values;
            // PyTorch allows extra trailing Nones.
            while values.len() > n_args && values.last().is_some_and(|v| v.is_none()) {
                values.pop();
            }
            if values.len() != n_args {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "function {} returned an incorrect number of gradients (expected {}, got {})",
                    self.name,
                    n_args,
                    values.len()
                )));
            }
            let mut out: Vec<Option<Tensor>> = vec![None; self.n_tensor_inputs];
            for (v, slot) in values.iter().zip(&self.arg_inputs) {
                if v.is_none() {
                    continue;
                }
                match slot {
                    Some(k) => out[*k] = Some(v.downcast::<PyTensor>()?.borrow().tensor.clone()),
                    None => {
                        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                            "function {} returned a gradient different than None at position {}, but the corresponding forward input was not a Variable",
                            self.name,
                            values.iter().position(|x| x.is(v)).map_or(0, |p| p + 1)
                        )))
                    }
                }
            }
            Ok(out)
        })
        .map_err(external)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The ctx of a custom Function's node: PyTorch's `grad_fn` of a Function *is* its ctx, so
/// the node hands attribute reads it does not know (`saved_tensors`, user fields) to it.
pub fn function_ctx(py: Python<'_>, op: &Backward) -> Option<Py<PyAny>> {
    match op {
        Backward::Custom(f) => f
            .as_any()
            .downcast_ref::<PyFunction>()
            .map(|pf| pf.ctx.clone_ref(py)),
        _ => None,
    }
}

/// Interned node names of custom Functions (`MyFnBackward`), one allocation per class name.
fn intern(name: String) -> &'static str {
    use parking_lot::Mutex;
    use std::collections::HashSet;
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut g = NAMES.lock();
    let set = g.get_or_insert_with(HashSet::new);
    if let Some(s) = set.get(name.as_str()) {
        return s;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    set.insert(leaked);
    leaked
}

/// Saved tensors of a custom Function's ctx (`ctx.saved_tensors`), version-checked.
#[pyclass(name = "SavedTensors", module = "ferrograd.autograd.function")]
pub struct PySavedTensors {
    saved: Vec<Option<Saved>>,
    node: Option<crate::autograd::graph::NodeId>,
    released: bool,
}

#[pymethods]
impl PySavedTensors {
    fn unpack(&self, py: Python<'_>) -> PyResult<Py<PyTuple>> {
        if self.released {
            return Err(Error::BackwardTwice.into());
        }
        let create_graph = crate::autograd::is_grad_enabled();
        let items: Vec<PyObject> = self
            .saved
            .iter()
            .map(|s| match (s, self.node) {
                (Some(s), Some(node)) => Ok(Py::new(
                    py,
                    PyTensor::new(s.unpack(&Ctx { node, create_graph })?),
                )?
                .into_any()),
                (Some(s), None) => Ok(Py::new(py, PyTensor::new(s.peek()))?.into_any()),
                (None, _) => Ok(py.None()),
            })
            .collect::<PyResult<_>>()?;
        Ok(PyTuple::new(py, items)?.unbind())
    }
}

/// Records the node of a custom Function application: `outputs` (a tensor or a tuple) come
/// from `cls.forward(ctx, *args)`; returns the outputs with their `grad_fn` set.
#[pyfunction]
pub fn _function_record<'py>(
    py: Python<'py>,
    cls: Bound<'py, PyAny>,
    ctx: Bound<'py, PyAny>,
    args: Bound<'py, PyTuple>,
    outputs: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let single = !outputs.is_instance_of::<PyTuple>();
    let out_items: Vec<Bound<'py, PyAny>> = if single {
        vec![outputs.clone()]
    } else {
        outputs.try_iter()?.collect::<PyResult<_>>()?
    };
    let mut inputs: Vec<Tensor> = Vec::new();
    let mut arg_inputs: Vec<Option<usize>> = Vec::new();
    for a in args.iter() {
        match a.downcast::<PyTensor>() {
            Ok(t) => {
                arg_inputs.push(Some(inputs.len()));
                inputs.push(t.borrow().tensor.clone());
            }
            Err(_) => arg_inputs.push(None),
        }
    }
    let ids = |name: &str| -> PyResult<Vec<usize>> {
        match ctx.getattr(name) {
            Ok(v) if !v.is_none() => v
                .try_iter()?
                .map(|x| Ok(x?.downcast::<PyTensor>()?.borrow().tensor.addr()))
                .collect(),
            _ => Ok(Vec::new()),
        }
    };
    let dirty = ids("dirty_tensors")?;
    let non_diff = ids("non_differentiable")?;
    let record = crate::autograd::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());

    // Outputs: a fresh tensor is used as is; an input returned unchanged becomes an alias
    // (PyTorch returns a view); an input marked dirty keeps its identity and is rebased.
    let mut result: Vec<PyObject> = Vec::new();
    let mut out_tensors: Vec<Option<Tensor>> = Vec::new();
    for o in &out_items {
        match o.downcast::<PyTensor>() {
            Ok(t) => {
                let tt = t.borrow().tensor.clone();
                let is_input = inputs.iter().any(|i| i.ptr_eq(&tt));
                if is_input && dirty.contains(&tt.addr()) {
                    // PyTorch bumps a dirty tensor's version once more after forward.
                    tt.bump_version();
                }
                if record && is_input && !dirty.contains(&tt.addr()) {
                    let alias = tt.detach();
                    result.push(Py::new(py, PyTensor::new(alias.clone()))?.into_any());
                    out_tensors.push(Some(alias));
                } else {
                    result.push(o.clone().unbind());
                    out_tensors.push(Some(tt));
                }
            }
            Err(_) => {
                result.push(o.clone().unbind());
                out_tensors.push(None);
            }
        }
    }
    // Saved tensors: inputs are saved as they are; outputs detached (no cycle through the node).
    let to_save: Vec<Bound<'py, PyAny>> = match ctx.getattr("to_save") {
        Ok(v) if !v.is_none() => v.try_iter()?.collect::<PyResult<_>>()?,
        _ => Vec::new(),
    };
    let mut saved: Vec<Option<Saved>> = Vec::new();
    for s in &to_save {
        if s.is_none() {
            saved.push(None);
            continue;
        }
        let t = s.downcast::<PyTensor>()?.borrow().tensor.clone();
        if record && t.is_inference() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                crate::ops::INFERENCE_SAVED,
            ));
        }
        let out_pos = out_items.iter().position(|o| {
            o.downcast::<PyTensor>()
                .is_ok_and(|x| x.borrow().tensor.ptr_eq(&t))
        });
        saved.push(Some(match (record, out_pos) {
            (true, Some(p)) => Saved::output(out_tensors[p].as_ref().unwrap_or(&t)),
            _ => Saved::input(&t),
        }));
    }
    if !record {
        ctx.setattr(
            "_saved",
            Py::new(
                py,
                PySavedTensors {
                    saved,
                    node: None,
                    released: false,
                },
            )?,
        )?;
        return Ok(if single {
            result[0].bind(py).clone()
        } else {
            PyTuple::new(py, result)?.into_any()
        });
    }
    // `Function` classes carry their node's name (`FBackward`; `once_differentiable`'s error
    // node is PyTorch's `torch::autograd::Error`).
    let name = match cls
        .getattr("_backward_name")
        .and_then(|n| n.extract::<String>())
    {
        Ok(n) => intern(n),
        Err(_) => intern(format!(
            "{}Backward",
            cls.getattr("__name__")?.extract::<String>()?
        )),
    };
    let function = PyFunction {
        name,
        cls: cls.clone().unbind(),
        ctx: ctx.clone().unbind(),
        arg_inputs,
        n_tensor_inputs: inputs.len(),
        outputs: out_tensors
            .iter()
            .map(|t| {
                t.as_ref()
                    .map_or((crate::dtype::DType::F32, Default::default()), |t| {
                        (t.dtype(), t.dims())
                    })
            })
            .collect(),
    };
    let input_refs: Vec<Option<&Tensor>> = inputs.iter().map(Some).collect();
    let node = crate::ops::record(Backward::Custom(Arc::new(function)), &input_refs);
    ctx.setattr(
        "_saved",
        Py::new(
            py,
            PySavedTensors {
                saved,
                node: Some(node.id()),
                released: false,
            },
        )?,
    )?;
    for (i, t) in out_tensors.iter().enumerate() {
        if let Some(t) = t {
            if non_diff.contains(&t.addr()) || !t.dtype().is_floating_point() {
                continue;
            }
            t.set_grad_fn(Some(node.clone()), i as u32);
        }
    }
    Ok(if single {
        result[0].bind(py).clone()
    } else {
        PyTuple::new(py, result)?.into_any()
    })
}

// ---- modes --------------------------------------------------------------------------------

#[pyfunction]
pub fn is_anomaly_enabled() -> bool {
    crate::autograd::mode::is_anomaly_enabled()
}

#[pyfunction]
pub fn _set_anomaly_enabled(enabled: bool) {
    crate::autograd::mode::set_anomaly_enabled(enabled)
}

#[pyfunction]
pub fn is_inference_mode_enabled() -> bool {
    crate::autograd::mode::is_inference_mode_enabled()
}

#[pyfunction]
pub fn _set_inference_mode(enabled: bool) {
    crate::autograd::mode::set_inference_mode(enabled)
}

/// The current Python stack as text (anomaly mode records it in each new node).
fn python_stack() -> Option<String> {
    Python::with_gil(|py| {
        let tb = py.import("traceback").ok()?;
        let lines = tb.call_method0("format_stack").ok()?;
        let joined: String = lines
            .try_iter()
            .ok()?
            .filter_map(|l| l.ok()?.extract::<String>().ok())
            .collect();
        Some(joined)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::autograd::mode::set_trace_provider(python_stack);
    m.add_class::<PyRemovableHandle>()?;
    m.add_class::<PySavedTensors>()?;
    m.add_function(wrap_pyfunction!(_function_record, m)?)?;
    m.add_function(wrap_pyfunction!(is_anomaly_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_anomaly_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(is_inference_mode_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_inference_mode, m)?)?;
    Ok(())
}
