//! `Tensor`: a reference-counted handle to storage + layout + autograd metadata.
//!
//! Several tensors may alias one `Storage` (views, `detach()`, `.data`). Views and `detach()`
//! also share the version counter, which every in-place write bumps and which saved tensors
//! check in backward; `.data` gets a fresh counter, as in PyTorch, so writes through it are
//! not seen by autograd.
//!
//! A tensor's layout never changes (every op reads it without a lock): the in-place view ops
//! (`t_`, `squeeze_`, ...) make a new handle with `restrided` that the Python wrapper puts
//! in place of the old one.
//!
//! The autograd metadata (`Meta`) sits behind a small lock: `requires_grad` for leaves, the
//! counted `grad_fn` handle for results of recorded ops, the accumulated `.grad`, and a weak id
//! of the leaf's accumulate node.

use crate::autograd::graph::{NodeId, NodeRef};
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::{checked_numel, Dims, Layout};
use crate::storage::{Buffer, Element, Storage};
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

#[derive(Default)]
pub struct Meta {
    /// Set by the user on leaves; results of recorded ops have `grad_fn` instead.
    pub requires_grad: bool,
    pub grad_fn: Option<NodeRef>,
    pub output_nr: u32,
    pub grad: Option<Tensor>,
    /// The leaf's accumulate node, held weakly (the node holds the leaf weakly too).
    pub accumulator: Option<NodeId>,
    pub retains_grad: bool,
    /// Hooks of a leaf (a non-leaf's hooks live on its `grad_fn` node).
    pub hooks: Option<Box<crate::autograd::hooks::LeafHooks>>,
}

pub struct TensorImpl {
    /// For a view: the tensor whose storage it looks into (always a root, never a view).
    view_base: Option<Tensor>,
    /// Created under `inference_mode`: may never join a graph.
    inference: bool,
    storage: Arc<Storage>,
    layout: Layout,
    dtype: DType,
    version: Arc<AtomicU64>,
    /// For a view: the version at which its history was last set (at creation, or when its
    /// `grad_fn` was set). When the shared version has moved on since, another alias wrote
    /// into the storage and the view's history is regenerated before it is read (see
    /// `refresh_view`); PyTorch's `attr_version`.
    view_version: AtomicU64,
    /// A view created while grad mode was on (PyTorch's `CreationMeta::DEFAULT`): only those
    /// get regenerated history.
    view_tracked: bool,
    meta: Mutex<Meta>,
}

#[derive(Clone)]
pub struct Tensor(Arc<TensorImpl>);

pub type WeakTensor = Weak<TensorImpl>;

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(dtype={}, shape={:?})",
            self.dtype(),
            self.shape()
        )
    }
}

impl Tensor {
    // ---- construction -------------------------------------------------------------------

    fn from_parts(storage: Arc<Storage>, layout: Layout, version: Arc<AtomicU64>) -> Tensor {
        let inference = crate::autograd::mode::is_inference_mode_enabled();
        Tensor::from_parts_of(None, storage, layout, version, inference)
    }

    /// `inference`: made under inference mode, or sharing an inference tensor's storage (a
    /// view, `detach()` or `.data` of one is an inference tensor too, as in PyTorch).
    fn from_parts_of(
        view_base: Option<Tensor>,
        storage: Arc<Storage>,
        layout: Layout,
        version: Arc<AtomicU64>,
        inference: bool,
    ) -> Tensor {
        let view_tracked = view_base.is_some() && crate::autograd::is_grad_enabled();
        Tensor::from_parts_tracked(view_base, storage, layout, version, inference, view_tracked)
    }

    fn from_parts_tracked(
        view_base: Option<Tensor>,
        storage: Arc<Storage>,
        layout: Layout,
        version: Arc<AtomicU64>,
        inference: bool,
        view_tracked: bool,
    ) -> Tensor {
        let dtype = storage.dtype();
        let view_version = AtomicU64::new(version.load(Ordering::Relaxed));
        Tensor(Arc::new(TensorImpl {
            view_version,
            view_tracked,
            view_base,
            inference,
            storage,
            layout,
            dtype,
            version,
            meta: Mutex::new(Meta::default()),
        }))
    }

    /// A contiguous tensor owning `buf`, which must hold exactly `numel(shape)` elements.
    pub fn from_buffer(buf: Buffer, shape: &[usize]) -> Result<Tensor> {
        let n = checked_numel(shape)?;
        if buf.len() != n {
            return Err(Error::Runtime(format!(
                "buffer of {} elements does not fit shape {:?}",
                buf.len(),
                shape
            )));
        }
        Ok(Tensor::from_parts(
            Arc::new(Storage::new(buf)),
            Layout::contiguous(shape),
            Arc::new(AtomicU64::new(0)),
        ))
    }

    /// A tensor over `storage` seen through `layout`, with its own version counter (how
    /// memory borrowed from NumPy or DLPack becomes a tensor). Every element `layout` reaches
    /// must lie inside the storage.
    pub fn from_storage(storage: Arc<Storage>, layout: Layout) -> Result<Tensor> {
        let n = checked_numel(&layout.shape)?;
        let last = layout
            .shape
            .iter()
            .zip(&layout.strides)
            .try_fold(layout.offset, |acc, (&d, &s)| {
                acc.checked_add(d.saturating_sub(1).checked_mul(s)?)
            });
        if n > 0 && !matches!(last, Some(l) if l < storage.buffer().len()) {
            return Err(Error::Runtime(format!(
                "layout {:?} reaches outside a storage of {} elements",
                layout,
                storage.buffer().len()
            )));
        }
        Ok(Tensor::from_parts(
            storage,
            layout,
            Arc::new(AtomicU64::new(0)),
        ))
    }

    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        Tensor::from_buffer(T::into_buffer(data), shape)
    }

    pub fn scalar(value: f64, dtype: DType) -> Tensor {
        Tensor::full(&[], value, dtype).unwrap_or_else(|_| unreachable!("a scalar always fits"))
    }

    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n = checked_numel(shape)?;
        Tensor::from_buffer(Buffer::zeros(dtype, n)?, shape)
    }

    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
        let n = checked_numel(shape)?;
        let mut buf = Buffer::zeros(dtype, n)?;
        if value != 0.0 {
            kernels::fill(&mut buf, value);
        }
        Tensor::from_buffer(buf, shape)
    }

    pub fn ones(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::full(shape, 1.0, dtype)
    }

    /// A tensor over the same storage and version counter with another layout, no autograd.
    ///
    /// The result is a view of this tensor's root (see `view_base`), which is what lets an
    /// in-place op through the view update the root's history.
    pub fn alias_with_layout(&self, layout: Layout) -> Tensor {
        let base = self.0.view_base.clone().unwrap_or_else(|| self.clone());
        Tensor::from_parts_of(
            Some(base),
            self.0.storage.clone(),
            layout,
            self.0.version.clone(),
            self.0.inference,
        )
    }

    /// No other tensor can reach this one's storage: it holds the only reference, or it is a
    /// view whose root only it holds (a reshaped fresh result).
    pub fn storage_is_private(&self) -> bool {
        let refs = Arc::strong_count(&self.0.storage);
        match &self.0.view_base {
            None => refs == 1,
            Some(base) => Arc::strong_count(&base.0) == 1 && refs == 2,
        }
    }

    /// `self`, a fresh result that nothing else holds, seen with another shape of the same
    /// size as a tensor of its own rather than a view (mm's 2-D result of the batched kernel,
    /// a reduction's result without its kept dims). Being no view, it is not copied when it
    /// becomes a leaf's `.grad`, and reads skip the views' version check. `Err(self)` when
    /// `self` is shared, has autograd metadata, or is not contiguous.
    pub fn try_into_shape(self, shape: &[usize]) -> std::result::Result<Tensor, Tensor> {
        let fresh = Arc::strong_count(&self.0) == 1
            && Arc::weak_count(&self.0) == 0
            && self.0.view_base.is_none()
            && self.is_contiguous()
            && checked_numel(shape).ok() == Some(self.numel())
            && {
                let m = self.meta();
                m.grad_fn.is_none()
                    && !m.requires_grad
                    && m.grad.is_none()
                    && !m.retains_grad
                    && m.hooks.is_none()
            };
        if !fresh {
            return Err(self);
        }
        let mut layout = Layout::contiguous(shape);
        layout.offset = self.0.layout.offset;
        Ok(Tensor::from_parts_tracked(
            None,
            self.0.storage.clone(),
            layout,
            self.0.version.clone(),
            self.0.inference,
            false,
        ))
    }

    /// The tensor this one is a view of, if any other tensor still looks at that storage
    /// through it (a view whose root nobody else holds, e.g. a reshaped fresh result, is
    /// treated as a tensor of its own).
    pub fn view_base(&self) -> Option<Tensor> {
        self.0
            .view_base
            .as_ref()
            .filter(|b| Arc::strong_count(&b.0) > 1)
            .cloned()
    }

    /// Whether this tensor was created as a view (whether or not its root is still held).
    pub fn was_created_as_view(&self) -> bool {
        self.0.view_base.is_some()
    }

    /// `detach()`: same storage, layout and version counter; no history, not a view.
    pub fn detach(&self) -> Tensor {
        Tensor::from_parts_of(
            None,
            self.0.storage.clone(),
            self.0.layout.clone(),
            self.0.version.clone(),
            self.0.inference,
        )
    }

    /// The same tensor seen through another layout: a new handle over the same storage,
    /// version counter and view base (a root stays a root), carrying a copy of the autograd
    /// metadata. What the in-place view ops (`t_`, `squeeze_`, ...) put in the Python
    /// wrapper in place of this handle; the leaf's accumulate node is not carried (it refers
    /// to this handle), the new handle gets its own when a graph first needs it.
    pub fn restrided(&self, layout: Layout) -> Tensor {
        let new = Tensor::from_parts_tracked(
            self.0.view_base.clone(),
            self.0.storage.clone(),
            layout,
            self.0.version.clone(),
            self.0.inference,
            self.0.view_tracked,
        );
        {
            let m = self.meta();
            let mut n = new.meta();
            n.requires_grad = m.requires_grad;
            n.grad_fn = m.grad_fn.clone();
            n.output_nr = m.output_nr;
            n.grad = m.grad.clone();
            n.retains_grad = m.retains_grad;
            n.hooks = m.hooks.clone();
        }
        new
    }

    /// `.data`: same storage and layout, a fresh version counter, no history.
    pub fn data(&self) -> Tensor {
        Tensor::from_parts_of(
            None,
            self.0.storage.clone(),
            self.0.layout.clone(),
            Arc::new(AtomicU64::new(0)),
            self.0.inference,
        )
    }

    /// A new tensor holding a copy of this one's autograd identity (`grad_fn`, `output_nr`)
    /// over another buffer. In-place ops use it to save the pre-image of `self`.
    pub(crate) fn with_same_history(&self, values: Tensor) -> Tensor {
        self.refresh_view();
        let (grad_fn, output_nr, requires_grad) = {
            let m = self.meta();
            (m.grad_fn.clone(), m.output_nr, m.requires_grad)
        };
        let mut m = values.meta();
        m.grad_fn = grad_fn;
        m.output_nr = output_nr;
        m.requires_grad = requires_grad;
        drop(m);
        values
    }

    // ---- accessors ----------------------------------------------------------------------

    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn dims(&self) -> Dims {
        self.0.layout.shape.clone()
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.shape.len()
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }
    pub fn buffer(&self) -> &Buffer {
        self.0.storage.buffer()
    }
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }
    pub fn ptr_eq(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    pub fn downgrade(&self) -> WeakTensor {
        Arc::downgrade(&self.0)
    }
    pub fn upgrade(weak: &WeakTensor) -> Option<Tensor> {
        weak.upgrade().map(Tensor)
    }
    /// A stable address for this tensor object (used for Python `__hash__`/identity).
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
    pub fn strong_count(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// Made under `inference_mode` (PyTorch's inference tensors).
    pub fn is_inference(&self) -> bool {
        self.0.inference
    }

    pub fn version(&self) -> u64 {
        self.0.version.load(Ordering::Relaxed)
    }
    pub fn bump_version(&self) {
        self.0.version.fetch_add(1, Ordering::Relaxed);
    }

    /// The contiguous elements if this tensor is a contiguous slice of its storage.
    pub fn contiguous_slice<T: Element>(&self) -> Option<&[T]> {
        if !self.is_contiguous() {
            return None;
        }
        let s = T::slice(self.buffer())?;
        if self.numel() == 0 {
            return Some(&[]); // an empty view's offset may be past the storage's end
        }
        let start = self.0.layout.offset;
        s.get(start..start + self.numel())
    }

    /// The elements in logical (row-major) order, converted to `T`.
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        kernels::gather_cast::<T>(self)
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<Scalar> {
        if self.numel() != 1 {
            return Err(Error::ItemNonScalar(self.numel()));
        }
        let off = self.0.layout.offset;
        Ok(match self.buffer() {
            Buffer::Bool(v) => Scalar::Bool(v[off]),
            Buffer::I64(v) => Scalar::Int(v[off]),
            Buffer::F32(v) => Scalar::Float(v[off] as f64),
            Buffer::F64(v) => Scalar::Float(v[off]),
        })
    }

    // ---- autograd metadata --------------------------------------------------------------

    pub fn meta(&self) -> MutexGuard<'_, Meta> {
        self.0.meta.lock()
    }

    /// The metadata if its lock is free (for Python's GC, which must never block).
    pub fn try_meta(&self) -> Option<MutexGuard<'_, Meta>> {
        self.0.meta.try_lock()
    }

    pub fn requires_grad(&self) -> bool {
        self.refresh_view();
        let m = self.meta();
        m.requires_grad || m.grad_fn.is_some()
    }

    pub fn is_leaf(&self) -> bool {
        self.refresh_view();
        self.meta().grad_fn.is_none()
    }

    pub fn grad_fn(&self) -> Option<NodeRef> {
        self.refresh_view();
        self.meta().grad_fn.clone()
    }

    pub fn output_nr(&self) -> u32 {
        self.refresh_view();
        self.meta().output_nr
    }

    pub fn grad(&self) -> Option<Tensor> {
        self.meta().grad.clone()
    }

    pub fn set_grad(&self, grad: Option<Tensor>) -> Result<()> {
        if let Some(g) = &grad {
            if g.dtype() != self.dtype() {
                return Err(Error::Runtime(format!(
                    "attempting to assign a gradient with dtype '{}' to a tensor with grad_dtype '{}'. The gradient must match the tensor's grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with a specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and its gradient may break downstream systems that assume they match.",
                    cpp_type_name(g.dtype()),
                    crate::ops::reduce::type_word(self.dtype())
                )));
            }
            if g.shape() != self.shape() {
                return Err(Error::Runtime(format!(
                    "attempting to assign a gradient of size '{}' to a tensor of size '{}'. Please ensure that the gradient and the tensor are the same size",
                    crate::shape::format_shape(g.shape()),
                    crate::shape::format_shape(self.shape())
                )));
            }
        }
        let old = std::mem::replace(&mut self.meta().grad, grad);
        drop(old);
        Ok(())
    }

    /// `requires_grad_()` / setting `.requires_grad`.
    pub fn set_requires_grad(&self, flag: bool) -> Result<()> {
        if flag && !self.dtype().is_floating_point() {
            return Err(Error::NonFloatRequiresGrad);
        }
        if flag && self.is_inference() && !crate::autograd::mode::is_inference_mode_enabled() {
            return Err(Error::Runtime(
                "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.".into(),
            ));
        }
        let mut m = self.meta();
        if m.grad_fn.is_some() {
            if flag {
                return Ok(());
            }
            return Err(Error::Runtime("you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().".into()));
        }
        m.requires_grad = flag;
        Ok(())
    }

    /// Makes this tensor the `output_nr`-th output of `node` (used by recorded ops and by
    /// in-place ops, which rebase `self` onto a new node).
    pub fn set_grad_fn(&self, node: Option<NodeRef>, output_nr: u32) {
        self.mark_view_current();
        let old = {
            let mut m = self.meta();
            m.output_nr = output_nr;
            if node.is_some() {
                m.requires_grad = false;
            }
            std::mem::replace(&mut m.grad_fn, node)
        };
        // Released outside the meta lock (releasing takes the arena lock).
        drop(old);
    }
}

impl Tensor {
    // ---- view history regeneration ------------------------------------------------------

    /// Regenerates a view's history when another alias wrote into its storage since the
    /// view's `grad_fn` was set (PyTorch's `VariableHooks::grad_fn`): the old edge (e.g.
    /// `SelectBackward0` to the root's history before the write) would lose the write's
    /// gradient, so the view becomes an `AsStridedBackward0` view of the root's current
    /// history. Called wherever a tensor's history is read; a non-view pays one branch, a
    /// view one atomic load.
    #[inline]
    pub fn refresh_view(&self) {
        if let Some(base) = &self.0.view_base {
            if self.0.version.load(Ordering::Relaxed) != self.0.view_version.load(Ordering::Relaxed)
            {
                self.regenerate_view(base);
            }
        }
    }

    /// PyTorch's refusal to read the history of a view made under `no_grad` (which gets no
    /// regenerated history) once its storage was written through another alias and its
    /// base has history: for the Python `grad_fn` and `is_leaf` getters (elsewhere such a
    /// view keeps its absent history; see docs/ops.md).
    pub fn check_view_history(&self) -> Result<()> {
        let Some(base) = &self.0.view_base else {
            return Ok(());
        };
        if self.0.view_tracked
            || self.0.version.load(Ordering::Relaxed) == self.0.view_version.load(Ordering::Relaxed)
            || self.meta().grad_fn.is_none() && !base.requires_grad()
        {
            return Ok(());
        }
        Err(Error::Runtime(NO_GRAD_VIEW_REBASED.into()))
    }

    /// Records that this view's history is up to date with the current version.
    pub(crate) fn mark_view_current(&self) {
        if self.0.view_base.is_some() {
            self.0
                .view_version
                .store(self.0.version.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    #[cold]
    fn regenerate_view(&self, base: &Tensor) {
        // Views made under no_grad keep their (absent) history; PyTorch raises instead (see
        // docs/ops.md, "Known divergences").
        if !self.0.view_tracked {
            return;
        }
        let version = self.version();
        let (old, retains) = {
            let m = self.meta();
            if m.grad_fn.is_none() && !base.requires_grad() {
                // Nothing to regenerate (PyTorch's early return: the version is not marked).
                return;
            }
            (m.grad_fn.clone(), m.retains_grad)
        };
        let Ok(node) = crate::ops::inplace::view_of_root(self, base) else {
            // A root the region cannot be described in: the view keeps its old history.
            return;
        };
        if retains {
            // As PyTorch's `update_tensor_hooks_on_new_gradfn`: the retain-grad entry moves
            // to the new node; tensor hooks stay on the old one.
            let weak = self.downgrade();
            if let Some(old) = &old {
                let _ = crate::autograd::hooks::with_node_hooks(old.id(), |h| {
                    h.retain_grad.retain(|(_, w)| !w.ptr_eq(&weak))
                });
            }
            let _ = crate::autograd::hooks::with_node_hooks(node.id(), |h| {
                h.retain_grad.push((0, weak))
            });
        }
        let previous = {
            let mut m = self.meta();
            m.output_nr = 0;
            m.requires_grad = false;
            m.grad_fn.replace(node)
        };
        self.0.view_version.store(version, Ordering::Relaxed);
        drop(previous);
        drop(old);
    }
}

const NO_GRAD_VIEW_REBASED: &str = "A view was created in no_grad mode and its base or another view of its base has been modified inplace with grad mode enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by moving both the view and the inplace either both inside the no_grad block (if you don't want the inplace to be tracked) or both outside (if you want the inplace to be tracked).";

/// The C++ type name PyTorch's messages use for a dtype (`caffe2::TypeMeta::name`).
fn cpp_type_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "bool",
        DType::I64 => "long int",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

impl Drop for TensorImpl {
    fn drop(&mut self) {
        // Taking the fields out here lets a long chain of grads/grad_fns be released by the
        // arena's worklist instead of by nested drops.
        let meta = std::mem::take(self.meta.get_mut());
        drop(meta);
    }
}
