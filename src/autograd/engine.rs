//! The backward engine.
//!
//! 1. Find the nodes reachable from the roots (one arena lock, explicit stack: no recursion)
//!    and count, for each, how many edges of that subgraph point at it.
//! 2. Run nodes from a ready queue ordered like PyTorch's (newest sequence number first;
//!    accumulate nodes first of all). A node runs once all its incoming grads are summed.
//! 3. Hand each produced grad along its edge, cast to the input's dtype and summed down to
//!    its shape; accumulate into leaves (`backward`) or capture it (`grad`).
//!
//! Scratch space is sized to the reached subgraph, never to the arena. Rules run without the
//! arena lock held, with grad mode set to `create_graph`. Without `retain_graph`, each node's
//! saved tensors are freed as it runs; running it again is PyTorch's "backward through the
//! graph a second time" error.

use super::graph::{release, Edge, NodeId, ARENA};
use super::hooks::{run_value_hooks, NodeHooks};
use super::mode::is_anomaly_enabled;
use super::mode::GradModeGuard;
use crate::error::{Error, Result};
use crate::kernels;
use crate::ops::arith::{self, Operand};
use crate::ops::reduce::sum_to;
use crate::ops::{gradient_edge_locked, shape, Backward, Ctx};
use crate::shape::format_shape;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes node ids (two small integers) with one multiply per word: the engine keeps a few
/// maps with an entry per reachable node, and SipHash dominated a long chain's backward.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64);
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type IdMap<V> = HashMap<NodeId, V, BuildHasherDefault<IdHasher>>;
type IdSet = HashSet<NodeId, BuildHasherDefault<IdHasher>>;

/// A dependency count meaning "already in the ready queue".
const QUEUED: u32 = u32::MAX;

/// References taken on edges during a pass, released when the pass ends.
struct HeldEdges(Vec<NodeId>);

impl Drop for HeldEdges {
    fn drop(&mut self) {
        for id in self.0.drain(..) {
            release(id);
        }
    }
}

/// `Tensor.backward` / `autograd.backward`: accumulates into the leaves' `.grad`.
pub fn backward(
    roots: &[Tensor],
    grad_roots: &[Option<Tensor>],
    retain_graph: Option<bool>,
    create_graph: bool,
) -> Result<()> {
    run(
        roots,
        grad_roots,
        retain_graph.unwrap_or(create_graph),
        create_graph,
        None,
    )
    .map(|_| ())
}

/// `backward(inputs=...)`: accumulates only into `inputs` (leaves or not).
pub fn backward_into(
    roots: &[Tensor],
    grad_roots: &[Option<Tensor>],
    retain_graph: Option<bool>,
    create_graph: bool,
    inputs: &[Tensor],
) -> Result<()> {
    let grads = grad(roots, inputs, grad_roots, retain_graph, create_graph, true)?;
    for (t, g) in inputs.iter().zip(grads) {
        if let Some(g) = g {
            accumulate_grad(t, &g, create_graph)?;
        }
    }
    Ok(())
}

/// `autograd.grad`: returns d(outputs)/d(inputs) without touching `.grad`.
pub fn grad(
    outputs: &[Tensor],
    inputs: &[Tensor],
    grad_outputs: &[Option<Tensor>],
    retain_graph: Option<bool>,
    create_graph: bool,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    // PyTorch checks the outputs before the inputs.
    if let Some(i) = outputs.iter().position(|t| !t.requires_grad()) {
        return Err(Error::NoGradFn(i));
    }
    for t in inputs {
        if !t.requires_grad() {
            return Err(Error::Runtime(
                "One of the differentiated Tensors does not require grad".into(),
            ));
        }
    }
    let result = run(
        outputs,
        grad_outputs,
        retain_graph.unwrap_or(create_graph),
        create_graph,
        Some(inputs),
    )?;
    if let (false, Some(i)) = (allow_unused, result.iter().position(|g| g.is_none())) {
        return Err(Error::Runtime(format!("The differentiated Tensor at index {i} appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior.")));
    }
    Ok(result)
}

fn root_grad(i: usize, root: &Tensor, given: Option<&Tensor>) -> Result<Tensor> {
    match given {
        Some(g) => {
            if g.shape() != root.shape() {
                return Err(Error::Runtime(format!(
                    "Mismatch in shape: grad_output[{i}] has a shape of torch.Size({}) and output[{i}] has a shape of torch.Size({}).",
                    format_shape(g.shape()),
                    format_shape(root.shape())
                )));
            }
            Ok(g.clone())
        }
        None => {
            if root.numel() != 1 {
                return Err(Error::ImplicitGradNonScalar);
            }
            Tensor::ones(root.shape(), root.dtype())
        }
    }
}

fn run(
    roots: &[Tensor],
    grad_roots: &[Option<Tensor>],
    retain_graph: bool,
    create_graph: bool,
    capture: Option<&[Tensor]>,
) -> Result<Vec<Option<Tensor>>> {
    if roots.len() != grad_roots.len() {
        return Err(Error::Runtime(format!(
            "grad can be implicitly created only for scalar outputs; got {} outputs and {} gradients",
            roots.len(),
            grad_roots.len()
        )));
    }
    let mut held = HeldEdges(Vec::new());
    let mut root_edges: Vec<Edge> = Vec::with_capacity(roots.len());
    let mut capture_edges: Vec<Option<Edge>> = Vec::new();
    for t in roots.iter().chain(capture.into_iter().flatten()) {
        t.refresh_view(); // a stale view's history is regenerated before its edge is read
    }
    {
        let mut arena = ARENA.lock();
        for (i, r) in roots.iter().enumerate() {
            match gradient_edge_locked(&mut arena, r) {
                Some(e) => {
                    held.0.push(e.node);
                    root_edges.push(e);
                }
                None => {
                    drop(arena);
                    return Err(Error::NoGradFn(i));
                }
            }
        }
        if let Some(inputs) = capture {
            for t in inputs {
                let e = gradient_edge_locked(&mut arena, t);
                if let Some(e) = e {
                    held.0.push(e.node);
                }
                capture_edges.push(e);
            }
        }
    }
    let root_grads: Vec<Tensor> = roots
        .iter()
        .enumerate()
        .map(|(i, r)| root_grad(i, r, grad_roots[i].as_ref()))
        .collect::<Result<_>>()?;

    // 1. Discovery: dependency counts of the reachable subgraph (one small entry per node:
    // a million-node chain's backward must not need more memory than its graph).
    let mut deps: IdMap<u32> = IdMap::default();
    let mut parents: Vec<(NodeId, NodeId)> = Vec::new();
    {
        let arena = ARENA.lock();
        let mut stack: Vec<NodeId> = Vec::new();
        for e in &root_edges {
            if let std::collections::hash_map::Entry::Vacant(v) = deps.entry(e.node) {
                v.insert(0);
                stack.push(e.node);
            }
        }
        while let Some(id) = stack.pop() {
            let Some(node) = arena.get(id) else { continue };
            for e in node.next.iter().flatten() {
                if capture.is_some() {
                    parents.push((e.node, id));
                }
                match deps.entry(e.node) {
                    std::collections::hash_map::Entry::Occupied(mut o) => *o.get_mut() += 1,
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(1);
                        stack.push(e.node);
                    }
                }
            }
        }
    }

    // With `grad`, only nodes from which a captured input is reachable need to run.
    let needed: Option<IdSet> = capture.map(|_| {
        let mut rev: IdMap<Vec<NodeId>> = IdMap::default();
        for (child, parent) in &parents {
            rev.entry(*child).or_default().push(*parent);
        }
        let mut needed = IdSet::default();
        let mut stack: Vec<NodeId> = capture_edges.iter().flatten().map(|e| e.node).collect();
        while let Some(id) = stack.pop() {
            if needed.insert(id) {
                if let Some(ps) = rev.get(&id) {
                    stack.extend(ps.iter().copied());
                }
            }
        }
        needed
    });

    let _mode = GradModeGuard::new(create_graph);
    let mut pending: IdMap<SmallVec<[Option<Tensor>; 1]>> =
        IdMap::with_capacity_and_hasher(deps.len().min(1 << 16), Default::default());
    for (e, g) in root_edges.iter().zip(root_grads) {
        add_pending(&mut pending, *e, g)?;
    }
    let mut captured: Vec<Option<Tensor>> = vec![None; capture_edges.len()];
    let mut ready: BinaryHeap<(u64, NodeId)> = BinaryHeap::new();
    {
        let arena = ARENA.lock();
        for e in &root_edges {
            if let Some(d) = deps.get_mut(&e.node).filter(|d| **d == 0) {
                // Queued: a repeated root must not be queued twice.
                *d = QUEUED;
                ready.push((arena.get(e.node).map_or(0, |n| n.seq), e.node));
            }
        }
    }

    while let Some((_, id)) = ready.pop() {
        let mut grads: SmallVec<[Option<Tensor>; 1]> = pending.remove(&id).unwrap_or_default();
        let skip = needed.as_ref().is_some_and(|n| !n.contains(&id));
        let has_grad = grads.iter().any(Option::is_some);

        // Take what the rule needs out of the arena, then run it (and any hooks) unlocked.
        let (op, next, next_seqs, metas, name, hooks, trace) = {
            let mut arena = ARENA.lock();
            let Some(node) = arena.get_mut(id) else {
                continue;
            };
            let op = if skip || !has_grad {
                match node.op {
                    // Accumulate nodes are kept: capture of a leaf's grad reads them below.
                    Backward::Accumulate(_) => node.op.clone(),
                    _ => Backward::Released,
                }
            } else if !retain_graph && node.op.has_saved() {
                node.released = true;
                std::mem::replace(&mut node.op, Backward::Released)
            } else {
                node.op.clone()
            };
            let hooks = node
                .hooks
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| (**h).clone());
            let next: SmallVec<[Option<Edge>; 2]> = SmallVec::from_slice(&node.next);
            let metas = node.input_meta.clone();
            let name = node.name;
            let trace = node.hooks.as_ref().and_then(|h| h.trace.clone());
            // Where the next nodes go in the ready queue, read while the arena is locked.
            let next_seqs: SmallVec<[u64; 2]> = next
                .iter()
                .map(|e| e.and_then(|e| arena.get(e.node)).map_or(0, |n| n.seq))
                .collect();
            (op, next, next_seqs, metas, name, hooks, trace)
        };
        let leaf = match &op {
            Backward::Accumulate(w) => Tensor::upgrade(w),
            _ => None,
        };

        if has_grad {
            if let Some(h) = &hooks {
                run_tensor_hooks(h, &mut grads, create_graph)?;
                run_value_hooks(
                    &h.pre.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
                    &mut grads,
                    &[],
                )?;
            }
            if let Some(leaf) = &leaf {
                let leaf_hooks: Vec<_> = leaf
                    .meta()
                    .hooks
                    .as_ref()
                    .map(|h| h.tensor.iter().map(|(_, f)| f.clone()).collect())
                    .unwrap_or_default();
                if !leaf_hooks.is_empty() {
                    run_value_hooks(&leaf_hooks, &mut grads[..1], &[])?;
                }
            }
        }
        for (k, ce) in capture_edges.iter().enumerate() {
            if let Some(ce) = ce {
                if ce.node == id {
                    if let Some(Some(g)) = grads.get(ce.input_nr as usize) {
                        captured[k] = Some(match captured[k].take() {
                            Some(prev) => arith::add(&prev, Operand::Tensor(g), 1.0)?,
                            None => g.clone(),
                        });
                    }
                }
            }
        }

        let mut outputs: SmallVec<[Option<Tensor>; 2]> = SmallVec::new();
        if has_grad && !skip {
            match &op {
                Backward::Accumulate(_) => {
                    if let (None, Some(leaf), Some(Some(g))) = (capture, &leaf, grads.first()) {
                        accumulate_grad(leaf, g, create_graph)?;
                        let post: Vec<_> = leaf
                            .meta()
                            .hooks
                            .as_ref()
                            .map(|h| h.post_accumulate.iter().map(|(_, f)| f.clone()).collect())
                            .unwrap_or_default();
                        for f in post {
                            f.call_with_tensor(leaf)?;
                        }
                    }
                }
                _ => {
                    let ctx = Ctx {
                        node: id,
                        create_graph,
                    };
                    outputs = op
                        .apply_outputs(&grads, &ctx)
                        .map_err(|e| with_trace(e, name, &trace))?;
                    if let Some(h) = hooks.as_ref().filter(|h| !h.post.is_empty()) {
                        outputs.resize(next.len(), None);
                        let post: Vec<_> = h.post.iter().map(|(_, f)| f.clone()).collect();
                        run_value_hooks(&post, &mut outputs, &grads)?;
                    }
                    if is_anomaly_enabled() {
                        check_nan(&outputs, name, &trace)?;
                    }
                }
            }
        }
        drop(op);

        for (i, edge) in next.iter().enumerate() {
            let Some(edge) = edge else { continue };
            if let Some(Some(g)) = outputs.get_mut(i).map(Option::take) {
                let g = validate_grad(g, &metas[i], name, i)?;
                add_pending(&mut pending, *edge, g)?;
            }
            if let Some(d) = deps.get_mut(&edge.node) {
                if *d != QUEUED {
                    *d -= 1;
                    if *d == 0 {
                        *d = QUEUED;
                        ready.push((next_seqs[i], edge.node));
                    }
                }
            }
        }
    }
    Ok(captured)
}

/// Tensor hooks of the node's outputs (they may replace a grad), then `retain_grad`.
fn run_tensor_hooks(
    h: &NodeHooks,
    grads: &mut SmallVec<[Option<Tensor>; 1]>,
    create_graph: bool,
) -> Result<()> {
    for (_, nr, f) in &h.tensor {
        let nr = *nr as usize;
        if let Some(Some(g)) = grads.get(nr) {
            if let Some(mut new) = f.call(&[Some(g.clone())], &[])? {
                grads[nr] = new.pop().flatten();
            }
        }
    }
    for (nr, w) in &h.retain_grad {
        let (Some(t), Some(Some(g))) = (Tensor::upgrade(w), grads.get(*nr as usize)) else {
            continue;
        };
        let g = if create_graph {
            g.clone()
        } else {
            kernels::cast(g, g.dtype())?
        };
        let old = t.grad();
        let new = match old {
            Some(old) => arith::add(&old, Operand::Tensor(&g), 1.0)?,
            None => g,
        };
        t.meta().grad = Some(new);
    }
    Ok(())
}

/// Anomaly mode: a NaN in a produced grad names the node that made it.
fn check_nan(
    outputs: &[Option<Tensor>],
    name: &'static str,
    trace: &Option<std::sync::Arc<str>>,
) -> Result<()> {
    for (i, g) in outputs.iter().enumerate() {
        let Some(g) = g else { continue };
        let nan = match g.dtype() {
            crate::dtype::DType::F32 => g.to_vec::<f32>().iter().any(|x| x.is_nan()),
            crate::dtype::DType::F64 => g.to_vec::<f64>().iter().any(|x| x.is_nan()),
            _ => false,
        };
        if nan {
            return Err(Error::Anomaly {
                message: format!("Function '{name}' returned nan values in its {i}th output."),
                node: name,
                trace: trace.clone(),
            });
        }
    }
    Ok(())
}

/// With anomaly mode on, an error raised in a node carries the node's forward trace.
fn with_trace(e: Error, name: &'static str, trace: &Option<std::sync::Arc<str>>) -> Error {
    match (trace, e) {
        (Some(t), Error::Runtime(message)) => Error::Anomaly {
            message,
            node: name,
            trace: Some(t.clone()),
        },
        (_, e) => e,
    }
}

fn add_pending(
    pending: &mut IdMap<SmallVec<[Option<Tensor>; 1]>>,
    edge: Edge,
    g: Tensor,
) -> Result<()> {
    let slots = pending.entry(edge.node).or_default();
    let nr = edge.input_nr as usize;
    if slots.len() <= nr {
        slots.resize(nr + 1, None);
    }
    slots[nr] = Some(match slots[nr].take() {
        Some(prev) => arith::add(&prev, Operand::Tensor(&g), 1.0)?,
        None => g,
    });
    Ok(())
}

/// Casts `g` to the input's dtype and sums it down to the input's shape if it was broadcast.
fn validate_grad(
    g: Tensor,
    meta: &super::graph::InputMeta,
    name: &str,
    index: usize,
) -> Result<Tensor> {
    let mut g = g;
    if !meta.shape_is(g.shape()) {
        let shape = meta.shape();
        let ok = crate::shape::broadcast_shapes(g.shape(), &shape)
            .map(|s| s.as_slice() == g.shape())
            .unwrap_or(false);
        if !ok {
            return Err(Error::Runtime(format!(
                "Function {name} returned an invalid gradient at index {index} - got {} but expected shape compatible with {}",
                format_shape(g.shape()),
                format_shape(&shape)
            )));
        }
        g = sum_to(&g, &shape)?;
    }
    if g.dtype() != meta.dtype() {
        g = shape::to_dtype(&g, meta.dtype())?;
    }
    Ok(g)
}

/// Adds `g` into `leaf.grad` (in place when no graph of the grad is wanted, as PyTorch).
fn accumulate_grad(leaf: &Tensor, g: &Tensor, create_graph: bool) -> Result<()> {
    let old = leaf.grad();
    let new = match old {
        None => {
            if create_graph {
                g.clone()
            } else if g.strong_count() <= 2
                && g.is_contiguous()
                && std::sync::Arc::strong_count(g.storage()) == 1
            {
                g.detach()
            } else {
                kernels::cast(g, g.dtype())?
            }
        }
        Some(old) => {
            if !create_graph && !old.requires_grad() {
                if arith::binary_assign(&old, Operand::Tensor(g), arith::BinOp::Add, 1.0)? {
                    old.bump_version();
                    return Ok(());
                }
                let sum = arith::binary_raw(&old, Operand::Tensor(g), arith::BinOp::Add, false)?;
                let sum = crate::ops::cast_raw(&sum, old.dtype())?;
                kernels::copy_into(&old, &sum);
                old.bump_version();
                return Ok(());
            }
            arith::add(&old, Operand::Tensor(g), 1.0)?
        }
    };
    leaf.meta().grad = Some(new);
    Ok(())
}
