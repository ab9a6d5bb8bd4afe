//! Hooks and custom functions: the points where user code (Python callables) runs inside
//! backward, behind small traits so the core stays free of Python.
//!
//! Where hooks live:
//! - a non-leaf tensor's hooks and `retain_grad` live on its `grad_fn` node, keyed by output;
//! - a leaf's hooks and post-accumulate hooks live in its autograd `Meta`;
//! - `grad_fn.register_prehook` / `register_hook` hooks live on the node.
//!
//! Order when a node's grads are complete (as PyTorch): tensor hooks, then `retain_grad`,
//! then node pre-hooks, then the rule, then node post-hooks. For a leaf: its tensor hooks,
//! then accumulation, then post-accumulate hooks.

use super::graph::{NodeId, ARENA};
use crate::error::{Error, Result};
use crate::ops::Ctx;
use crate::tensor::{Tensor, WeakTensor};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A callable run during backward. `args` are the grads it is given (for a post-hook:
/// `grad_inputs` then, in `extra`, `grad_outputs`); it returns replacements or `None`.
pub trait HookFn: Send + Sync + Any {
    fn call(
        &self,
        args: &[Option<Tensor>],
        extra: &[Option<Tensor>],
    ) -> Result<Option<Vec<Option<Tensor>>>>;
    /// Post-accumulate hooks are called with the leaf itself.
    fn call_with_tensor(&self, _t: &Tensor) -> Result<()> {
        Ok(())
    }
    fn as_any(&self) -> &dyn Any;
}

/// A user-defined backward (`autograd.Function`): one grad per forward output in, one per
/// forward input out.
pub trait CustomFunction: Send + Sync + Any {
    fn name(&self) -> &'static str;
    fn apply(&self, grads: &[Option<Tensor>], ctx: &Ctx) -> Result<Vec<Option<Tensor>>>;
    fn as_any(&self) -> &dyn Any;
}

pub type Hook = Arc<dyn HookFn>;

/// Hooks attached to a node.
#[derive(Default, Clone)]
pub struct NodeHooks {
    /// (id, output_nr, hook): hooks of the tensor that is that output.
    pub tensor: Vec<(u64, u32, Hook)>,
    /// (output_nr, tensor): non-leaf tensors that retain their grad.
    pub retain_grad: Vec<(u32, WeakTensor)>,
    pub pre: Vec<(u64, Hook)>,
    pub post: Vec<(u64, Hook)>,
    /// Data the bindings keep with the node (e.g. `grad_fn.metadata`), freed with it.
    pub data: Option<Arc<dyn Any + Send + Sync>>,
    /// With anomaly mode on: where in the forward pass the node was created (kept here, with
    /// the other rare extras, so that nodes without any stay small).
    pub trace: Option<Arc<str>>,
}

impl NodeHooks {
    pub fn is_empty(&self) -> bool {
        self.tensor.is_empty()
            && self.retain_grad.is_empty()
            && self.pre.is_empty()
            && self.post.is_empty()
    }
}

/// Hooks attached to a leaf tensor.
#[derive(Default, Clone)]
pub struct LeafHooks {
    pub tensor: Vec<(u64, Hook)>,
    pub post_accumulate: Vec<(u64, Hook)>,
}

static NEXT_HOOK_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_HOOK_ID.fetch_add(1, Ordering::Relaxed)
}

/// Where a registered hook lives, so `remove()` can find it.
#[derive(Clone)]
pub enum HookHandle {
    Leaf(WeakTensor, u64),
    Node(NodeId, u64),
}

impl HookHandle {
    pub fn remove(&self) {
        match self {
            HookHandle::Leaf(w, id) => {
                if let Some(t) = Tensor::upgrade(w) {
                    let removed = {
                        let mut m = t.meta();
                        m.hooks.as_mut().map(|h| {
                            let mut out: Vec<Hook> = Vec::new();
                            h.tensor.retain(|(i, f)| {
                                if i == id {
                                    out.push(f.clone());
                                    false
                                } else {
                                    true
                                }
                            });
                            h.post_accumulate.retain(|(i, f)| {
                                if i == id {
                                    out.push(f.clone());
                                    false
                                } else {
                                    true
                                }
                            });
                            out
                        })
                    };
                    drop(removed);
                }
            }
            HookHandle::Node(node, id) => {
                let removed = {
                    let mut arena = ARENA.lock();
                    arena
                        .get_mut(*node)
                        .and_then(|n| n.hooks.as_mut())
                        .map(|h| {
                            let mut out: Vec<Hook> = Vec::new();
                            h.tensor.retain(|(i, _, f)| {
                                if i == id {
                                    out.push(f.clone());
                                    false
                                } else {
                                    true
                                }
                            });
                            h.pre.retain(|(i, f)| {
                                if i == id {
                                    out.push(f.clone());
                                    false
                                } else {
                                    true
                                }
                            });
                            h.post.retain(|(i, f)| {
                                if i == id {
                                    out.push(f.clone());
                                    false
                                } else {
                                    true
                                }
                            });
                            out
                        })
                };
                // Python callables are released outside the arena lock.
                drop(removed);
            }
        }
    }
}

pub fn with_node_hooks<R>(id: NodeId, f: impl FnOnce(&mut NodeHooks) -> R) -> Result<R> {
    let mut arena = ARENA.lock();
    let node = arena
        .get_mut(id)
        .ok_or_else(|| Error::Runtime("the node has been freed".into()))?;
    Ok(f(node.hooks.get_or_insert_with(Default::default)))
}

/// `tensor.register_hook(fn)`.
pub fn register_tensor_hook(t: &Tensor, hook: Hook) -> Result<HookHandle> {
    if !t.requires_grad() {
        return Err(Error::Runtime(
            "cannot register a hook on a tensor that doesn't require gradient".into(),
        ));
    }
    let id = next_id();
    match t.grad_fn() {
        None => {
            t.meta()
                .hooks
                .get_or_insert_with(Default::default)
                .tensor
                .push((id, hook));
            Ok(HookHandle::Leaf(t.downgrade(), id))
        }
        Some(node) => {
            let nr = t.output_nr();
            with_node_hooks(node.id(), |h| h.tensor.push((id, nr, hook)))?;
            Ok(HookHandle::Node(node.id(), id))
        }
    }
}

/// `tensor.register_post_accumulate_grad_hook(fn)`.
pub fn register_post_accumulate_hook(t: &Tensor, hook: Hook) -> Result<HookHandle> {
    if !t.requires_grad() {
        return Err(Error::Runtime(
            "cannot register a hook on a tensor that doesn't require gradient".into(),
        ));
    }
    if !t.is_leaf() {
        return Err(Error::Runtime(
            "post accumulate grad hooks cannot be registered on non-leaf tensors".into(),
        ));
    }
    let id = next_id();
    t.meta()
        .hooks
        .get_or_insert_with(Default::default)
        .post_accumulate
        .push((id, hook));
    Ok(HookHandle::Leaf(t.downgrade(), id))
}

/// `tensor.retain_grad()`: a non-leaf keeps the grad that reaches it in `.grad`.
pub fn retain_grad(t: &Tensor) -> Result<()> {
    if !t.requires_grad() {
        return Err(Error::Runtime(
            "can't retain_grad on Tensor that has requires_grad=False".into(),
        ));
    }
    let Some(node) = t.grad_fn() else {
        return Ok(());
    };
    if t.meta().retains_grad {
        return Ok(());
    }
    let nr = t.output_nr();
    with_node_hooks(node.id(), |h| h.retain_grad.push((nr, t.downgrade())))?;
    t.meta().retains_grad = true;
    Ok(())
}

/// `grad_fn.register_prehook(fn)` (`pre = true`) or `grad_fn.register_hook(fn)`.
pub fn register_node_hook(node: NodeId, hook: Hook, pre: bool) -> Result<HookHandle> {
    let id = next_id();
    with_node_hooks(node, |h| {
        if pre {
            h.pre.push((id, hook))
        } else {
            h.post.push((id, hook))
        }
    })?;
    Ok(HookHandle::Node(node, id))
}

/// Runs hooks returning replacements over `values` in order.
pub fn run_value_hooks(
    hooks: &[Hook],
    values: &mut [Option<Tensor>],
    extra: &[Option<Tensor>],
) -> Result<()> {
    for h in hooks {
        if let Some(new) = h.call(values, extra)? {
            if new.len() != values.len() {
                return Err(Error::Runtime(format!(
                    "hook 'hook' has returned an incorrect number of values (got {}, but expected {})",
                    new.len(),
                    values.len()
                )));
            }
            for (v, n) in values.iter_mut().zip(new) {
                *v = n;
            }
        }
    }
    Ok(())
}
