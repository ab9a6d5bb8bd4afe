//! Autograd objects and entry points: `grad_fn` nodes (`Node`), `backward`, `grad`, grad mode.

use super::tensor::{tensors_of, PyTensor};
use crate::autograd::graph::{NodeRef, ARENA};
use crate::ops::Backward;
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// A node of the backward graph, as `tensor.grad_fn` shows it.
#[pyclass(name = "Node", module = "ferrograd.autograd.graph", frozen)]
pub struct PyNode {
    pub node: NodeRef,
}

#[pymethods]
impl PyNode {
    /// The node's name as PyTorch's `name()` gives it (C++ nodes keep their namespace).
    fn name(&self) -> &'static str {
        match self.node.name() {
            "AccumulateGrad" => "torch::autograd::AccumulateGrad",
            "CopySlices" => "torch::autograd::CopySlices",
            other => other,
        }
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
                        Py::new(py, PyNode { node })?.into_any(),
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
            slf.get().node.name(),
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
            out.push(Some(item.downcast::<PyTensor>()?.get().tensor.clone()));
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
