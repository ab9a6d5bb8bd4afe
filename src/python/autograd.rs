//! Autograd objects and entry points: `grad_fn` nodes (`Node`), `backward`, `grad`, grad mode.

use super::tensor::{tensors_of, PyTensor};
use crate::autograd::graph::{NodeId, NodeRef, ARENA};
use crate::dtype::DType;
use crate::ops::{Backward, Ctx, SavedValue};
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// A node of the backward graph, as `tensor.grad_fn` shows it.
///
/// As in PyTorch, each node name has its own Python class (`type(y.grad_fn).__name__ ==
/// "MulBackward0"`): a subclass of `Node` made on first use and cached (`node_object`).
#[pyclass(name = "Node", module = "ferrograd.autograd.graph", frozen, subclass)]
pub struct PyNode {
    pub node: NodeRef,
}

/// The Python name of a node's class: its name without a C++ namespace.
fn type_name(name: &'static str) -> &'static str {
    name.rsplit("::").next().unwrap_or(name)
}

static NODE_TYPES: pyo3::sync::GILOnceCell<Py<PyDict>> = pyo3::sync::GILOnceCell::new();

/// The Python object for `node`: an instance of the (cached) `Node` subclass named after it.
pub fn node_object(py: Python<'_>, node: NodeRef) -> PyResult<PyObject> {
    let name = type_name(crate::ops::qualified_name(node.name()));
    let types = NODE_TYPES
        .get_or_init(py, || PyDict::new(py).unbind())
        .bind(py);
    let cls = match types.get_item(name)? {
        Some(cls) => cls,
        None => {
            let base = py.get_type::<PyNode>();
            let ns = PyDict::new(py);
            ns.set_item("__module__", "ferrograd.autograd.graph")?;
            ns.set_item("__slots__", PyTuple::empty(py))?;
            let cls = py
                .get_type::<pyo3::types::PyType>()
                .call1((name, (base,), ns))?;
            types.set_item(name, &cls)?;
            cls
        }
    };
    let base = Py::new(py, PyNode { node })?;
    Ok(cls.call1((base,))?.unbind())
}

fn saved_to_py(py: Python<'_>, id: NodeId, value: SavedValue) -> PyResult<PyObject> {
    Ok(match value {
        SavedValue::Tensor(s) => {
            let t = s.unpack(&Ctx {
                node: id,
                create_graph: true,
            })?;
            Py::new(py, PyTensor::new(t))?.into_any()
        }
        SavedValue::Raw(t) => Py::new(py, PyTensor::new(t))?.into_any(),
        SavedValue::WrappedNumber(x) => {
            let dtype = if x.fract() == 0.0 && x.abs() < 9.0e15 {
                DType::I64
            } else {
                DType::F64
            };
            Py::new(py, PyTensor::new(Tensor::scalar(x, dtype)))?.into_any()
        }
        SavedValue::None => py.None(),
        SavedValue::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        SavedValue::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
        SavedValue::Number(x) => {
            if x.fract() == 0.0 && x.abs() < 9.0e15 {
                (x as i64).into_pyobject(py)?.into_any().unbind()
            } else {
                x.into_pyobject(py)?.into_any().unbind()
            }
        }
        SavedValue::Ints(v) => PyTuple::new(py, v)?.into_any().unbind(),
    })
}

#[pymethods]
impl PyNode {
    /// `Node(other)`: another handle to `other`'s node (how the per-name classes are made).
    #[new]
    fn py_new(other: &Bound<'_, PyNode>) -> PyNode {
        PyNode {
            node: other.get().node.clone(),
        }
    }

    /// The node's name as PyTorch's `name()` gives it (C++ nodes keep their namespace).
    fn name(&self) -> &'static str {
        crate::ops::qualified_name(self.node.name())
    }

    /// PyTorch's `_saved_<name>` attributes: what the node saved for backward (tensors,
    /// `None` where not needed, and the numbers and sizes it keeps). Reading a saved value
    /// after backward freed the node's saved values raises PyTorch's error.
    fn __getattr__(slf: &Bound<'_, Self>, attr: &str) -> PyResult<PyObject> {
        let py = slf.py();
        let node = &slf.get().node;
        let (values, released, ctx) = {
            let arena = ARENA.lock();
            match arena.get(node.id()) {
                Some(n) => (
                    n.op.saved_values(),
                    n.released || matches!(n.op, Backward::Released),
                    super::hooks::function_ctx(py, &n.op),
                ),
                None => (Vec::new(), true, None),
            }
        };
        if let Some(key) = attr.strip_prefix("_saved_") {
            if released {
                return Err(crate::error::Error::BackwardTwice.into());
            }
            if let Some((_, v)) = values.into_iter().find(|(k, _)| *k == key) {
                return saved_to_py(py, node.id(), v);
            }
        } else if let Some(ctx) = ctx {
            match ctx.bind(py).getattr(attr) {
                Ok(v) => return Ok(v.unbind()),
                Err(e) if !e.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => {
                    return Err(e)
                }
                Err(_) => {}
            }
        }
        Err(pyo3::exceptions::PyAttributeError::new_err(format!(
            "'{}' object has no attribute '{}'",
            type_name(crate::ops::qualified_name(node.name())),
            attr
        )))
    }

    /// `dir()` lists the `_saved_*` attributes too (torchviz finds them this way).
    fn __dir__(slf: &Bound<'_, Self>) -> PyResult<Vec<String>> {
        let py = slf.py();
        let mut names: Vec<String> = py
            .get_type::<pyo3::types::PyAny>()
            .call_method1("__dir__", (slf,))?
            .extract()?;
        let saved: Vec<&'static str> = ARENA
            .lock()
            .get(slf.get().node.id())
            .map(|n| n.op.saved_values().into_iter().map(|(k, _)| k).collect())
            .unwrap_or_default();
        names.extend(saved.into_iter().map(|k| format!("_saved_{k}")));
        names.sort();
        Ok(names)
    }

    /// `((next_node_or_None, input_nr), ...)`, one entry per forward input.
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let edges: Vec<Option<(NodeRef, u32)>> = {
            let mut arena = ARENA.lock();
            let next = arena
                .get(self.node.id())
                .map(|n| n.next.clone())
                .unwrap_or_default();
            next.iter()
                .map(|e| e.and_then(|e| arena.retain(e.node).then_some((e.node, e.input_nr))))
                .collect::<Vec<_>>()
                .into_iter()
                .map(|x| x.map(|(id, nr)| (NodeRef::adopt(id), nr)))
                .collect()
        };
        let items: Vec<Bound<'py, PyTuple>> = edges
            .into_iter()
            .map(|e| match e {
                Some((node, nr)) => Ok(PyTuple::new(
                    py,
                    [
                        node_object(py, node)?,
                        nr.into_pyobject(py)?.into_any().unbind(),
                    ],
                )?),
                None => Ok(PyTuple::new(
                    py,
                    [py.None(), 0u32.into_pyobject(py)?.into_any().unbind()],
                )?),
            })
            .collect::<PyResult<_>>()?;
        PyTuple::new(py, items)
    }

    /// For an `AccumulateGrad` node: the leaf it accumulates into.
    #[getter]
    fn variable(&self) -> PyResult<Option<PyTensor>> {
        let op = ARENA.lock().get(self.node.id()).map(|n| n.op.clone());
        match op {
            Some(Backward::Accumulate(w)) => Ok(Tensor::upgrade(&w).map(PyTensor::new)),
            _ => Err(pyo3::exceptions::PyAttributeError::new_err(format!(
                "'{}' object has no attribute 'variable'",
                self.node.name()
            ))),
        }
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!(
            "<{} object at {:#x}>",
            type_name(crate::ops::qualified_name(slf.get().node.name())),
            slf.as_ptr() as usize
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .downcast::<PyNode>()
            .is_ok_and(|o| o.get().node.id() == self.node.id())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.node.id().hash(&mut h);
        h.finish()
    }
}

fn opt_grads(list: &Bound<'_, PyAny>, n: usize) -> PyResult<Vec<Option<Tensor>>> {
    if list.is_none() {
        return Ok(vec![None; n]);
    }
    let mut out = Vec::with_capacity(n);
    for item in list.downcast::<PyList>()?.iter() {
        if item.is_none() {
            out.push(None);
        } else {
            out.push(Some(item.downcast::<PyTensor>()?.borrow().tensor.clone()));
        }
    }
    Ok(out)
}

/// `_run_backward(tensors, grad_tensors, retain_graph, create_graph)`.
#[pyfunction]
#[pyo3(signature = (tensors, grad_tensors, retain_graph=None, create_graph=false, inputs=None))]
pub fn _run_backward(
    py: Python<'_>,
    tensors: &Bound<'_, PyList>,
    grad_tensors: &Bound<'_, PyAny>,
    retain_graph: Option<bool>,
    create_graph: bool,
    inputs: Option<&Bound<'_, PyList>>,
) -> PyResult<()> {
    let roots = tensors_of(tensors)?;
    let grads = opt_grads(grad_tensors, roots.len())?;
    if let Some(inputs) = inputs {
        let inputs = tensors_of(inputs)?;
        if inputs.is_empty() {
            return Err(super::errors::runtime_error(
                "'inputs' argument to backward() cannot be empty.",
            ));
        }
        return Ok(crate::autograd::backward_into(
            &roots,
            &grads,
            retain_graph,
            create_graph,
            &inputs,
        )?);
    }
    let big = roots
        .iter()
        .any(|t| t.numel() >= crate::kernels::RELEASE_GIL_THRESHOLD);
    let run = || crate::autograd::backward(&roots, &grads, retain_graph, create_graph);
    if big && !create_graph {
        py.allow_threads(run)?;
    } else {
        run()?;
    }
    Ok(())
}

/// `_run_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)`.
#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs, retain_graph=None, create_graph=false, allow_unused=false))]
pub fn _run_grad(
    outputs: &Bound<'_, PyList>,
    inputs: &Bound<'_, PyList>,
    grad_outputs: &Bound<'_, PyAny>,
    retain_graph: Option<bool>,
    create_graph: bool,
    allow_unused: bool,
) -> PyResult<Vec<Option<PyTensor>>> {
    let outs = tensors_of(outputs)?;
    let ins = tensors_of(inputs)?;
    let grads = opt_grads(grad_outputs, outs.len())?;
    let result = crate::autograd::grad(
        &outs,
        &ins,
        &grads,
        retain_graph,
        create_graph,
        allow_unused,
    )?;
    Ok(result.into_iter().map(|g| g.map(PyTensor::new)).collect())
}

#[pyfunction]
pub fn is_grad_enabled() -> bool {
    crate::autograd::is_grad_enabled()
}

#[pyfunction]
pub fn _set_grad_enabled(enabled: bool) {
    crate::autograd::set_grad_enabled(enabled)
}

/// Number of nodes alive in the autograd arena (for leak tests).
#[pyfunction]
pub fn _live_nodes() -> usize {
    crate::autograd::live_nodes()
}
