//! The backward graph, kept in an arena.
//!
//! Nodes live in one slab (`Vec<Slot>`), named by a generational `NodeId`, so a stale id can
//! never reach a reused slot. A node holds its backward rule (`ops::Backward`, an enum: no
//! boxed trait object per node), its outgoing edges, the dtype/shape its inputs had, and a
//! reference count of the tensors and nodes that point at it. `NodeRef` is a counted handle.
//!
//! Releasing is iterative: when a count reaches zero the node's slot is freed and the nodes
//! its edges name (and those named by tensors it saved) go onto a thread-local worklist rather
//! than being released recursively, so a chain of a million ops frees in constant stack.
//!
//! Lock order: the arena lock may be held while a tensor's autograd-meta lock is taken, never
//! the other way round.

use crate::dtype::DType;
use crate::ops::Backward;
use crate::shape::Dims;
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    index: u32,
    generation: u32,
}

/// An edge to the `input_nr`-th output of `node` (PyTorch's `Edge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub node: NodeId,
    pub input_nr: u32,
}

/// What a forward input looked like, so backward can check and cast the grad it produces.
///
/// Every node keeps one per input, so it is packed into 16 bytes: shapes of up to three
/// dims below 2^32 (nearly all of them) sit inline, larger ones in a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputMeta {
    Small {
        dtype: DType,
        ndim: u8,
        dims: [u32; 3],
    },
    Large {
        dtype: DType,
        shape: Box<Dims>,
    },
}

impl InputMeta {
    pub fn new(dtype: DType, shape: &[usize]) -> InputMeta {
        let mut dims = [0u32; 3];
        if shape.len() <= dims.len() {
            let mut fits = true;
            for (d, &s) in dims.iter_mut().zip(shape) {
                match u32::try_from(s) {
                    Ok(v) => *d = v,
                    Err(_) => fits = false,
                }
            }
            if fits {
                return InputMeta::Small {
                    dtype,
                    ndim: shape.len() as u8,
                    dims,
                };
            }
        }
        InputMeta::Large {
            dtype,
            shape: Box::new(shape.into()),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            InputMeta::Small { dtype, .. } | InputMeta::Large { dtype, .. } => *dtype,
        }
    }

    /// Whether the input had exactly this shape.
    pub fn shape_is(&self, shape: &[usize]) -> bool {
        match self {
            InputMeta::Small { ndim, dims, .. } => {
                shape.len() == *ndim as usize
                    && shape.iter().zip(dims).all(|(&a, &b)| a == b as usize)
            }
            InputMeta::Large { shape: s, .. } => s.as_slice() == shape,
        }
    }

    pub fn shape(&self) -> Dims {
        match self {
            InputMeta::Small { ndim, dims, .. } => {
                dims[..*ndim as usize].iter().map(|&d| d as usize).collect()
            }
            InputMeta::Large { shape, .. } => (**shape).clone(),
        }
    }
}

pub struct Node {
    pub name: &'static str,
    pub op: Backward,
    /// One entry per differentiable forward input; `None` where no grad flows.
    pub next: SmallVec<[Option<Edge>; 2]>,
    pub input_meta: SmallVec<[InputMeta; 2]>,
    /// PyTorch's sequence number: backward runs newer nodes first.
    pub seq: u64,
    /// Saved tensors were freed by a backward without `retain_graph`.
    pub released: bool,
    /// Hooks registered on the node or on the tensors it outputs, the bindings' data and the
    /// anomaly-mode trace (rare: boxed).
    pub hooks: Option<Box<super::hooks::NodeHooks>>,
    refcount: u32,
}

struct Slot {
    generation: u32,
    node: Option<Node>,
}

pub struct Arena {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    next_seq: u64,
}

pub static ARENA: Mutex<Arena> = Mutex::new(Arena {
    slots: Vec::new(),
    free: Vec::new(),
    live: 0,
    next_seq: 0,
});

impl Arena {
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.node.as_ref()
    }

    pub fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.node.as_mut()
    }

    /// Adds a node whose edges already own their references; the returned handle owns the
    /// node's first reference.
    pub fn insert(
        &mut self,
        name: &'static str,
        op: Backward,
        next: SmallVec<[Option<Edge>; 2]>,
        input_meta: SmallVec<[InputMeta; 2]>,
        seq: Option<u64>,
    ) -> NodeRef {
        let seq = seq.unwrap_or_else(|| {
            self.next_seq += 1;
            self.next_seq
        });
        let node = Node {
            name,
            op,
            next,
            input_meta,
            seq,
            released: false,
            hooks: super::mode::forward_trace().map(|trace| {
                Box::new(super::hooks::NodeHooks {
                    trace: Some(trace),
                    ..Default::default()
                })
            }),
            refcount: 1,
        };
        self.live += 1;
        let id = if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.node = Some(node);
            NodeId {
                index,
                generation: slot.generation,
            }
        } else {
            self.slots.push(Slot {
                generation: 0,
                node: Some(node),
            });
            NodeId {
                index: (self.slots.len() - 1) as u32,
                generation: 0,
            }
        };
        NodeRef { id }
    }

    /// Takes a new reference to a live node (for an edge or a handle).
    pub fn retain(&mut self, id: NodeId) -> bool {
        match self.get_mut(id) {
            Some(node) => {
                node.refcount += 1;
                true
            }
            None => false,
        }
    }

    /// Drops one reference; returns the node if that was the last one (its slot is freed).
    fn decref(&mut self, id: NodeId) -> Option<Node> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let node = slot.node.as_mut()?;
        node.refcount -= 1;
        if node.refcount > 0 {
            return None;
        }
        let node = slot.node.take();
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        self.live -= 1;
        node
    }

    /// How many tensors and nodes hold `id` (0 if it is gone).
    pub fn refcount(&self, id: NodeId) -> u32 {
        self.get(id).map_or(0, |n| n.refcount)
    }

    pub fn live_nodes(&self) -> usize {
        self.live
    }
}

/// Number of nodes alive in the arena (a debugging and leak-testing counter).
pub fn live_nodes() -> usize {
    ARENA.lock().live_nodes()
}

/// A counted reference to a node. Cloning takes a reference; dropping releases it.
#[derive(Debug, PartialEq, Eq)]
pub struct NodeRef {
    id: NodeId,
}

impl NodeRef {
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// A new handle to `id`, if the node is still alive.
    pub fn upgrade(id: NodeId) -> Option<NodeRef> {
        ARENA.lock().retain(id).then_some(NodeRef { id })
    }

    /// Wraps a reference already taken on `id` (e.g. by `Arena::retain`).
    pub fn adopt(id: NodeId) -> NodeRef {
        NodeRef { id }
    }

    /// Gives up the handle without releasing its reference (it now belongs to an edge).
    pub fn into_edge_owned(self) -> NodeId {
        let id = self.id;
        std::mem::forget(self);
        id
    }

    pub fn name(&self) -> &'static str {
        ARENA.lock().get(self.id).map_or("<freed>", |n| n.name)
    }
}

impl Clone for NodeRef {
    fn clone(&self) -> NodeRef {
        ARENA.lock().retain(self.id);
        NodeRef { id: self.id }
    }
}

impl Drop for NodeRef {
    fn drop(&mut self) {
        release(self.id);
    }
}

thread_local! {
    static PENDING: RefCell<Vec<NodeId>> = const { RefCell::new(Vec::new()) };
    static DRAINING: Cell<bool> = const { Cell::new(false) };
}

/// Releases one reference to `id`, freeing whatever becomes unreachable, without recursion:
/// a release that happens while another is being processed on this thread only queues.
pub fn release(id: NodeId) {
    let queued = PENDING.try_with(|p| p.borrow_mut().push(id)).is_ok();
    if !queued {
        // Thread teardown: thread-locals are gone; free with a local worklist.
        let mut work = vec![id];
        while let Some(id) = work.pop() {
            let freed = ARENA.lock().decref(id);
            if let Some(node) = freed {
                work.extend(node.next.iter().flatten().map(|e| e.node));
                drop(node);
            }
        }
        return;
    }
    if DRAINING.with(|d| d.replace(true)) {
        return;
    }
    loop {
        let next = PENDING.with(|p| p.borrow_mut().pop());
        let Some(id) = next else { break };
        let freed = ARENA.lock().decref(id);
        if let Some(node) = freed {
            PENDING.with(|p| {
                p.borrow_mut()
                    .extend(node.next.iter().flatten().map(|e| e.node))
            });
            // Dropping the rule drops its saved tensors; their releases only queue.
            drop(node);
        }
    }
    DRAINING.with(|d| d.set(false));
}
