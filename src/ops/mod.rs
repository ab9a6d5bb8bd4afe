//! Differentiable operations: each family file holds the forwards and, beside them, the
//! backward rules (`Backward` enums). Backward rules are written with these same ops, so
//! running them with grad mode on (`create_graph=True`) records the graph of the backward
//! pass and gives higher derivatives without a second implementation.
//!
//! How an op is recorded: the forward computes its result with the kernels, then calls
//! `track(out, inputs, || rule)`. `track` does nothing (and the rule is never built) unless
//! grad mode is on and an input requires grad; otherwise it adds a node to the arena with one
//! edge per input and makes it `out.grad_fn`.
//!
//! Conventions the engine provides, so rules stay short: a grad produced for an input is cast
//! to that input's dtype and summed down to its shape when it was broadcast.

pub mod arith;
pub mod creation;
pub mod index;
pub mod inplace;
pub mod linalg;
pub mod nn;
pub mod pointwise;
pub mod reduce;
mod saved;
pub mod shape;
pub mod unary;

use crate::autograd::graph::{Edge, InputMeta, NodeId, NodeRef, ARENA};
use crate::autograd::mode::is_grad_enabled;
use crate::dtype::{result_type, DType, Operand as PromoOperand, Scalar};
use crate::error::{Error, Result};
use crate::shape::format_shape;
use crate::tensor::{Tensor, WeakTensor};
use smallvec::SmallVec;

pub use arith::Operand;
pub use saved::SavedValue;

/// Grads produced by a backward rule, one per forward input (`None`: no grad flows).
pub type Grads = SmallVec<[Option<Tensor>; 2]>;

/// A node's backward rule and the values it saved.
#[derive(Clone)]
pub enum Backward {
    /// Accumulates into a leaf's `.grad`; the leaf is held weakly.
    Accumulate(WeakTensor),
    Arith(arith::Backward),
    Unary(unary::Backward),
    // Families whose rules hold shapes are boxed: the enum is as large as its largest
    // variant and every node holds one (see `tests::node_stays_small`).
    Reduce(Box<reduce::Backward>),
    Linalg(linalg::Backward),
    /// In-place writes through views (`CopySlices`, `AsStridedBackward0`).
    Inplace(Box<inplace::Backward>),
    /// Ops with several differentiable outputs (`split`, `unbind`, ...).
    Multi(Box<shape::MultiBackward>),
    Index(Box<index::Backward>),
    Shape(Box<shape::Backward>),
    /// A user-defined `autograd.Function` (implemented by the bindings).
    Custom(std::sync::Arc<dyn crate::autograd::hooks::CustomFunction>),
    /// The saved values were freed by a backward pass without `retain_graph`.
    Released,
}

/// What a rule knows about the pass it runs in.
pub struct Ctx {
    pub node: NodeId,
    pub create_graph: bool,
}

impl Backward {
    pub fn reduce(b: reduce::Backward) -> Backward {
        Backward::Reduce(Box::new(b))
    }

    pub fn inplace(b: inplace::Backward) -> Backward {
        Backward::Inplace(Box::new(b))
    }

    pub fn multi(b: shape::MultiBackward) -> Backward {
        Backward::Multi(Box::new(b))
    }

    pub fn index(b: index::Backward) -> Backward {
        Backward::Index(Box::new(b))
    }

    pub fn shape(b: shape::Backward) -> Backward {
        Backward::Shape(Box::new(b))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backward::Accumulate(_) => "AccumulateGrad",
            Backward::Custom(f) => f.name(),
            Backward::Arith(b) => b.name(),
            Backward::Unary(b) => b.name(),
            Backward::Reduce(b) => b.name(),
            Backward::Linalg(b) => b.name(),
            Backward::Inplace(b) => b.name(),
            Backward::Multi(b) => b.name(),
            Backward::Index(b) => b.name(),
            Backward::Shape(b) => b.name(),
            Backward::Released => "Released",
        }
    }

    /// Whether the rule holds saved tensors (only those are freed after backward).
    pub fn has_saved(&self) -> bool {
        match self {
            Backward::Accumulate(_) | Backward::Released => false,
            Backward::Custom(_) => true,
            Backward::Arith(b) => b.has_saved(),
            Backward::Unary(b) => b.has_saved(),
            Backward::Reduce(b) => b.has_saved(),
            Backward::Linalg(_) => true,
            Backward::Inplace(_) => false,
            Backward::Multi(b) => b.has_saved(),
            Backward::Index(b) => b.has_saved(),
            Backward::Shape(_) => false,
        }
    }

    /// Runs the rule on the grads that arrived for the node's outputs (`None` where none
    /// did). Single-output rules see their one grad; multi-output rules see them all.
    pub fn apply_outputs(&self, grads: &[Option<Tensor>], ctx: &Ctx) -> Result<Grads> {
        match self {
            Backward::Multi(b) => b.apply(grads, ctx),
            Backward::Custom(f) => Ok(f.apply(grads, ctx)?.into_iter().collect()),
            _ => match grads.first() {
                Some(Some(g)) => self.apply(g, ctx),
                _ => Ok(Grads::new()),
            },
        }
    }

    pub fn apply(&self, grad: &Tensor, ctx: &Ctx) -> Result<Grads> {
        match self {
            Backward::Arith(b) => b.apply(grad, ctx),
            Backward::Unary(b) => b.apply(grad, ctx),
            Backward::Reduce(b) => b.apply(grad, ctx),
            Backward::Linalg(b) => b.apply(grad, ctx),
            Backward::Inplace(b) => b.apply(grad, ctx),
            Backward::Multi(b) => b.apply(&[Some(grad.clone())], ctx),
            Backward::Index(b) => b.apply(grad, ctx),
            Backward::Shape(b) => b.apply(grad, ctx),
            Backward::Custom(f) => Ok(f.apply(&[Some(grad.clone())], ctx)?.into_iter().collect()),
            Backward::Released => Err(Error::BackwardTwice),
            Backward::Accumulate(_) => Ok(Grads::new()),
        }
    }
}

/// A tensor saved for backward, with the version it had when saved.
#[derive(Clone)]
pub struct Saved {
    tensor: Tensor,
    version: u64,
    /// Saved outputs keep only a detached alias (a node must not keep its own output alive);
    /// with `create_graph` they are re-attached to the node when unpacked.
    is_output: bool,
}

impl Saved {
    pub fn input(t: &Tensor) -> Saved {
        Saved {
            tensor: t.clone(),
            version: t.version(),
            is_output: false,
        }
    }

    pub fn output(t: &Tensor) -> Saved {
        Saved {
            tensor: t.detach(),
            version: t.version(),
            is_output: true,
        }
    }

    /// Saved as the node's own output (PyTorch's `_saved_result`).
    pub fn is_output(&self) -> bool {
        self.is_output
    }

    /// The saved tensor itself, without checks (for a Function applied without recording).
    pub fn peek(&self) -> Tensor {
        self.tensor.clone()
    }

    pub fn unpack(&self, ctx: &Ctx) -> Result<Tensor> {
        let found = self.tensor.version();
        if found != self.version {
            let origin = if self.is_output {
                format!(
                    ", which is output 0 of {},",
                    inplace_error_name(node_name(ctx.node))
                )
            } else {
                match self.tensor.grad_fn() {
                    Some(f) => format!(
                        ", which is output {} of {},",
                        self.tensor.output_nr(),
                        inplace_error_name(f.name())
                    ),
                    None => String::new(),
                }
            };
            return Err(Error::ModifiedByInplace {
                type_name: self.tensor.dtype().legacy_type_name(),
                shape: format_shape(self.tensor.shape())
                    .trim_matches(['[', ']'])
                    .to_string(),
                origin,
                found,
                expected: self.version,
            });
        }
        if self.is_output && ctx.create_graph {
            let t = self.tensor.detach();
            t.set_grad_fn(NodeRef::upgrade(ctx.node), 0);
            return Ok(t);
        }
        Ok(self.tensor.clone())
    }
}

/// The name PyTorch's `Node.name()` gives a node: its C++ nodes keep their namespace.
pub fn qualified_name(name: &'static str) -> &'static str {
    match name {
        "AccumulateGrad" => "torch::autograd::AccumulateGrad",
        "CopySlices" => "torch::autograd::CopySlices",
        "CopyBackwards" => "torch::autograd::CopyBackwards",
        other => other,
    }
}

/// How PyTorch 2.15 names a node in the "modified by an inplace operation" error: its
/// `name()` without `Backward0`, or without `Backward` before another number ("Exp" for
/// ExpBackward0, "Clamp1" for ClampBackward1, "F" for a Function `F`); C++ nodes keep theirs.
fn inplace_error_name(name: &'static str) -> String {
    let q = qualified_name(name);
    if let Some(pos) = q.rfind("Backward") {
        let tail = &q[pos + "Backward".len()..];
        if tail == "0" {
            return q[..pos].to_string();
        }
        if tail.bytes().all(|c| c.is_ascii_digit()) {
            return format!("{}{}", &q[..pos], tail);
        }
    }
    q.to_string()
}

fn node_name(id: NodeId) -> &'static str {
    ARENA.lock().get(id).map_or("<freed>", |n| n.name)
}

/// True when an op over `inputs` must be recorded.
#[inline]
pub fn needs_grad(inputs: &[Option<&Tensor>]) -> bool {
    is_grad_enabled() && inputs.iter().flatten().any(|t| t.requires_grad())
}

/// Records `out` as the result of an op over `inputs` if autograd needs it. `make` builds the
/// rule (it sees `out`, to save it) and only runs when recording. Fails, as PyTorch does, when
/// the rule would save an inference tensor.
#[inline]
pub fn track(
    out: Tensor,
    inputs: &[Option<&Tensor>],
    make: impl FnOnce(&Tensor) -> Backward,
) -> Result<Tensor> {
    if !needs_grad(inputs) {
        return Ok(out);
    }
    let op = make(&out);
    check_saved_inference(&op, inputs)?;
    let node = record(op, inputs);
    out.set_grad_fn(Some(node), 0);
    Ok(out)
}

/// `track` for a rule that saves no tensor (so cannot save an inference tensor): infallible.
pub fn track_unsaved(
    out: Tensor,
    inputs: &[Option<&Tensor>],
    make: impl FnOnce(&Tensor) -> Backward,
) -> Tensor {
    if !needs_grad(inputs) {
        return out;
    }
    let node = record(make(&out), inputs);
    out.set_grad_fn(Some(node), 0);
    out
}

/// `track_multi` for a rule that saves no tensor: infallible.
pub fn track_multi_unsaved(
    outs: Vec<Tensor>,
    inputs: &[Option<&Tensor>],
    make: impl FnOnce(&[Tensor]) -> Backward,
) -> Vec<Tensor> {
    if !needs_grad(inputs) {
        return outs;
    }
    let node = record(make(&outs), inputs);
    for (i, out) in outs.iter().enumerate() {
        out.set_grad_fn(Some(node.clone()), i as u32);
    }
    outs
}

/// Like `track` for an op with several differentiable outputs: `outs[i]` becomes output `i`
/// of one node.
pub fn track_multi(
    outs: Vec<Tensor>,
    inputs: &[Option<&Tensor>],
    make: impl FnOnce(&[Tensor]) -> Backward,
) -> Result<Vec<Tensor>> {
    if !needs_grad(inputs) {
        return Ok(outs);
    }
    let op = make(&outs);
    check_saved_inference(&op, inputs)?;
    let node = record(op, inputs);
    for (i, out) in outs.iter().enumerate() {
        out.set_grad_fn(Some(node.clone()), i as u32);
    }
    Ok(outs)
}

/// PyTorch refuses to save an inference tensor for backward (only inputs can be inference
/// tensors: nothing records inside inference mode), so only ops over one look further.
fn check_saved_inference(op: &Backward, inputs: &[Option<&Tensor>]) -> Result<()> {
    if !inputs.iter().flatten().any(|t| t.is_inference()) {
        return Ok(());
    }
    let saves_inference = op.saved_values().iter().any(|(_, v)| match v {
        SavedValue::Tensor(s) => s.tensor.is_inference(),
        SavedValue::Raw(t) => t.is_inference(),
        _ => false,
    });
    if saves_inference {
        return Err(Error::Runtime(INFERENCE_SAVED.into()));
    }
    Ok(())
}

/// PyTorch's error for an inference tensor saved for backward.
pub const INFERENCE_SAVED: &str = "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`.";

/// Adds a node for `op` with one edge per input, under one arena lock.
pub fn record(op: Backward, inputs: &[Option<&Tensor>]) -> NodeRef {
    let name = op.name();
    for t in inputs.iter().flatten() {
        t.refresh_view(); // before the arena lock: regenerating records a node
    }
    let mut arena = ARENA.lock();
    let mut next: SmallVec<[Option<Edge>; 2]> = SmallVec::with_capacity(inputs.len());
    let mut meta: SmallVec<[InputMeta; 2]> = SmallVec::with_capacity(inputs.len());
    for input in inputs {
        match input {
            Some(t) => {
                meta.push(InputMeta::new(t.dtype(), t.shape()));
                next.push(gradient_edge_locked(&mut arena, t));
            }
            None => {
                meta.push(InputMeta::new(DType::F32, &[]));
                next.push(None);
            }
        }
    }
    arena.insert(name, op, next, meta, None)
}

/// The edge along which a grad for `t` flows (taking a reference for it): its `grad_fn`, or
/// for a leaf that requires grad its accumulate node, created on first use.
pub fn gradient_edge_locked(arena: &mut crate::autograd::graph::Arena, t: &Tensor) -> Option<Edge> {
    let mut m = t.meta();
    if let Some(f) = &m.grad_fn {
        arena.retain(f.id());
        return Some(Edge {
            node: f.id(),
            input_nr: m.output_nr,
        });
    }
    if !m.requires_grad {
        return None;
    }
    if let Some(acc) = m.accumulator {
        if arena.retain(acc) {
            return Some(Edge {
                node: acc,
                input_nr: 0,
            });
        }
    }
    let meta = smallvec::smallvec![InputMeta::new(t.dtype(), t.shape())];
    let node = arena.insert(
        "AccumulateGrad",
        Backward::Accumulate(t.downgrade()),
        SmallVec::new(),
        meta,
        Some(u64::MAX),
    );
    m.accumulator = Some(node.id());
    Some(Edge {
        node: node.into_edge_owned(),
        input_nr: 0,
    })
}

/// Promotion operand for a tensor (zero-dim tensors rank below dimensioned ones).
pub fn promo(t: &Tensor) -> PromoOperand {
    if t.ndim() == 0 {
        PromoOperand::ZeroDim(t.dtype())
    } else {
        PromoOperand::Dimensioned(t.dtype())
    }
}

pub fn promote_with(a: &Tensor, b: &Operand) -> DType {
    match b {
        Operand::Tensor(t) => result_type(&[promo(a), promo(t)]),
        Operand::Scalar(s) => result_type(&[promo(a), PromoOperand::Scalar(s.category())]),
    }
}

/// `t` converted to `dtype` without recording (forward promotion; the engine casts grads
/// back to each input's dtype).
pub fn cast_raw(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        Ok(t.clone())
    } else {
        crate::kernels::cast(t, dtype)
    }
}

/// Dispatches `$body` with `$T` bound to the element type of a floating dtype.
#[macro_export]
macro_rules! float_dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
            other => {
                return Err($crate::error::Error::Runtime(format!(
                    "expected a floating point tensor, got {other}"
                )))
            }
        }
    };
}

/// Dispatches `$body` with `$T` bound to the element type of a numeric (non-bool) dtype.
#[macro_export]
macro_rules! numeric_dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::dtype::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::dtype::DType::Bool => {
                return Err($crate::error::Error::Runtime(
                    "operation not supported for bool tensors".into(),
                ))
            }
        }
    };
}

/// A scalar as an element of `T`.
pub fn scalar_as<T: crate::storage::Element>(s: Scalar) -> T {
    match s {
        Scalar::Bool(b) => T::from_bool(b),
        Scalar::Int(i) => T::from_i64(i),
        Scalar::Float(x) => T::from_f64(x),
    }
}
