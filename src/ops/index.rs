//! Indexing: `__getitem__`/`__setitem__` (ints, slices, None, Ellipsis, masks, integer
//! tensors), `index_select`, `gather`, `scatter`, `scatter_add`, `masked_fill`,
//! `masked_select`, `index_add`, `index_fill`, `index_put`, `take`, `copy_`, and their
//! backward rules.
//!
//! An index is resolved as PyTorch's `applySlicing` does: ints, slices and `None` become view
//! steps (`select`, `slice`, `unsqueeze`: recorded one node each, like PyTorch), and what is
//! left — integer tensors, masks — indexes the view ("advanced" indexing, a copy). A `Spec`
//! holds both halves so the same elements can be picked out of any tensor of the indexed
//! shape: the input in the forward, the grad in the backward, zeros for an adjoint.
//!
//! Two primitives cover everything: `read` (the picked elements, as a new tensor) and `put`
//! (the tensor with the picked elements replaced or increased). They are each other's
//! adjoints — `read`'s grad is `put` into zeros with accumulation (repeated indices sum), and
//! `put`'s grads are `put` of zeros (for the old values) and `read` (for the new ones) — so
//! every rule is differentiable again. `__setitem__` and the `op_` variants are `put`s run
//! through the in-place mechanism (`inplace::apply`).

use super::arith::{self, Operand};
use super::{inplace, scalar_as, shape, track, track_unsaved, Backward as Op, Ctx, Grads, Saved};
use crate::autograd::is_grad_enabled;
use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::kernels::{self, index as k};
use crate::shape::{
    broadcast_shapes, check_offset_fits, check_strides_fit, format_shape, wrap_dim, Dims, Layout,
};
use crate::tensor::Tensor;
use smallvec::{smallvec, SmallVec};

// ---- index items and view steps -----------------------------------------------------------

/// One entry of a Python index (`x[0, 1:3, None, ..., mask]`).
pub enum Item {
    Int(i64),
    /// A slice's bounds as written (`None`: open) and its step (1 when omitted).
    Slice {
        start: Option<i64>,
        stop: Option<i64>,
        step: i64,
    },
    NewAxis,
    Ellipsis,
    Bool(bool),
    /// An index tensor. `from_sequence`: built from a Python list, which PyTorch counts as
    /// one indexed dim even when it is a multi-dim mask.
    Tensor {
        t: Tensor,
        from_sequence: bool,
    },
}

/// A basic-indexing view step, applicable to any tensor of the shape it was resolved for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Select {
        dim: usize,
        index: usize,
    },
    Slice {
        dim: usize,
        start: usize,
        len: usize,
        step: usize,
    },
    Unsqueeze {
        dim: usize,
    },
}

impl Step {
    /// The step's layout. Offsets and strides wrap as PyTorch's int64 arithmetic: only an
    /// empty view's can overflow (its strides may be huge, `empty(0).view(0, 2**62, 5)`), and
    /// a result past i64::MAX is PyTorch's error for a negative offset or stride (the same
    /// arithmetic in `ops::shape` panicked in debug builds; found by the cargo-fuzz target
    /// `views`).
    fn layout(self, l: &Layout) -> Result<Layout> {
        let mut out = l.clone();
        match self {
            Step::Select { dim, index } => {
                out.offset =
                    check_offset_fits(l.offset.wrapping_add(index.wrapping_mul(l.strides[dim])))?;
                out.shape.remove(dim);
                out.strides.remove(dim);
            }
            Step::Slice {
                dim,
                start,
                len,
                step,
            } => {
                // An empty slice keeps its offset, so it never points past the storage.
                if len > 0 {
                    out.offset = check_offset_fits(
                        l.offset.wrapping_add(start.wrapping_mul(l.strides[dim])),
                    )?;
                }
                out.shape[dim] = len;
                out.strides[dim] = l.strides[dim].wrapping_mul(step);
                check_strides_fit(&out.strides)?;
            }
            Step::Unsqueeze { dim } => {
                let stride = if dim < l.ndim() {
                    l.shape[dim].wrapping_mul(l.strides[dim])
                } else {
                    1
                };
                out.shape.insert(dim, 1);
                out.strides.insert(dim, stride);
                check_strides_fit(&out.strides)?;
                out.strides[dim] = stride.max(1);
            }
        }
        Ok(out)
    }

    fn apply_shape(self, shape: &mut Dims) {
        match self {
            Step::Select { dim, .. } => {
                shape.remove(dim);
            }
            Step::Slice { dim, len, .. } => shape[dim] = len,
            Step::Unsqueeze { dim } => shape.insert(dim, 1),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Step::Select { .. } => "SelectBackward0",
            Step::Slice { .. } => "SliceBackward0",
            Step::Unsqueeze { .. } => "UnsqueezeBackward0",
        }
    }

    /// The name of the embedding into zeros (this view's backward).
    fn embed_name(self) -> &'static str {
        match self {
            Step::Select { .. } => "SelectBackwardBackward0",
            Step::Slice { .. } => "SliceBackwardBackward0",
            Step::Unsqueeze { .. } => "SqueezeBackward1",
        }
    }
}

type Steps = SmallVec<[Step; 2]>;

/// `t` viewed through `step`, recorded as PyTorch records it.
fn view_step(t: &Tensor, step: Step) -> Result<Tensor> {
    if let Step::Unsqueeze { dim } = step {
        return shape::unsqueeze(t, dim as i64);
    }
    let out = t.alias_with_layout(step.layout(t.layout())?);
    let shape = t.dims();
    track(out, &[Some(t)], |_| {
        Op::index(Backward::View { step, shape })
    })
}

/// `x[...]` / `x[:, :]`: a new view of the whole tensor (AliasBackward0).
fn alias(x: &Tensor) -> Tensor {
    let out = x.alias_with_layout(x.layout().clone());
    track_unsaved(out, &[Some(x)], |_| Op::index(Backward::Alias))
}

/// `select` of index `v` (negative counts from the end) along `dim` of `shape`. `real_dim`
/// is the item's position in the index, which PyTorch's message names.
fn select_step(shape: &[usize], dim: usize, v: i64, real_dim: usize) -> Result<Step> {
    if shape.is_empty() && v == 0 && dim == 0 {
        return Err(Error::Index("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number".into()));
    }
    let size = shape.get(dim).copied().unwrap_or(0);
    let index = k::wrap_negative(v, size).ok_or_else(|| {
        Error::Index(format!(
            "index {v} is out of bounds for dimension {real_dim} with size {size}"
        ))
    })?;
    Ok(Step::Select { dim, index })
}

/// A slice of `dim` with Python's clamping; `None` when it would keep the whole dim and
/// `skip_full` (PyTorch skips those inside a tuple index).
fn slice_step(
    shape: &[usize],
    dim: usize,
    (start, stop, step): (Option<i64>, Option<i64>, i64),
    skip_full: bool,
) -> Result<Option<Step>> {
    if step == 0 {
        return Err(Error::Value("slice step cannot be zero".into()));
    }
    if step < 0 {
        return Err(Error::Value("step must be greater than zero".into()));
    }
    let Some(&size) = shape.get(dim) else {
        return Err(Error::Index(
            "slice() cannot be applied to a 0-dim tensor.".into(),
        ));
    };
    let (start, stop) = (start.unwrap_or(0), stop.unwrap_or(i64::MAX));
    let n = size as i64;
    if skip_full && start == 0 && stop >= n && step == 1 {
        return Ok(None);
    }
    let clamp = |i: i64| (if i < 0 { i.saturating_add(n) } else { i }).clamp(0, n);
    let (s, e) = (clamp(start), clamp(stop));
    let len = if e > s { (e - s + step - 1) / step } else { 0 };
    Ok(Some(Step::Slice {
        dim,
        start: s as usize,
        len: len as usize,
        step: step as usize,
    }))
}

/// The int64 index `x[True]` / `x[False]` use on their new dim: `[0]` or nothing.
fn bool_index(b: bool) -> Result<Tensor> {
    let v: Vec<i64> = if b { vec![0] } else { Vec::new() };
    let n = v.len();
    Tensor::from_vec(v, &[n])
}

/// The basic half of an index, resolved: view steps, then the tensors left for advanced
/// indexing (one slot per dim of the view; `None`: not indexed), and the view's shape.
struct Sliced {
    steps: Steps,
    raw: Vec<Option<Tensor>>,
    shape: Dims,
}

impl Sliced {
    fn of_steps(shape: &[usize], steps: Steps) -> Sliced {
        let mut s: Dims = shape.into();
        for &st in &steps {
            st.apply_shape(&mut s);
        }
        Sliced {
            steps,
            raw: Vec::new(),
            shape: s,
        }
    }
}

/// PyTorch's `applySlicing` over the items of a tuple index.
fn slicing(shape: &[usize], items: &[Item], skip_full: bool) -> Result<Sliced> {
    let ndim = shape.len();
    let specified: usize = items
        .iter()
        .map(|it| match it {
            Item::Tensor {
                t,
                from_sequence: false,
            } if t.dtype() == DType::Bool => t.ndim(),
            Item::NewAxis | Item::Ellipsis | Item::Bool(_) => 0,
            _ => 1,
        })
        .sum();
    if specified > ndim {
        return Err(Error::Index(format!(
            "too many indices for tensor of dimension {ndim}"
        )));
    }
    let mut cur: Dims = shape.into();
    let mut dim = 0usize;
    let mut steps = Steps::new();
    let mut raw: Vec<Option<Tensor>> = Vec::new();
    let push = |s: Step, cur: &mut Dims, steps: &mut Steps| {
        s.apply_shape(cur);
        steps.push(s);
    };
    let record = |raw: &mut Vec<Option<Tensor>>, dim: &mut usize, t: Tensor| {
        let width = if t.dtype() == DType::Bool {
            t.ndim()
        } else {
            1
        };
        if raw.is_empty() {
            raw.resize(*dim + 1, None);
            raw[*dim] = Some(t);
        } else {
            raw.push(Some(t));
        }
        *dim += width;
    };
    let unsqueeze_at = |dim: usize, cur: &Dims| -> Result<Step> {
        if dim > cur.len() {
            return Err(Error::Index(format!(
                "too many indices for tensor of dimension {ndim}"
            )));
        }
        Ok(Step::Unsqueeze { dim })
    };
    for (i, item) in items.iter().enumerate() {
        match item {
            Item::Int(v) => push(select_step(&cur, dim, *v, i)?, &mut cur, &mut steps),
            Item::Slice { start, stop, step } => {
                if let Some(s) = slice_step(&cur, dim, (*start, *stop, *step), skip_full)? {
                    push(s, &mut cur, &mut steps);
                }
                dim += 1;
                if !raw.is_empty() {
                    raw.push(None);
                }
            }
            Item::Ellipsis => {
                let n = ndim - specified;
                dim += n;
                if !raw.is_empty() {
                    raw.extend(std::iter::repeat_n(None, n));
                }
            }
            Item::NewAxis => {
                push(unsqueeze_at(dim, &cur)?, &mut cur, &mut steps);
                dim += 1;
                if !raw.is_empty() {
                    raw.push(None);
                }
            }
            Item::Bool(b) => {
                push(unsqueeze_at(dim, &cur)?, &mut cur, &mut steps);
                record(&mut raw, &mut dim, bool_index(*b)?);
            }
            Item::Tensor { t, .. } => match (t.ndim(), t.dtype()) {
                (0, DType::I64) => {
                    let v = t.to_vec::<i64>()[0];
                    push(select_step(&cur, dim, v, i)?, &mut cur, &mut steps);
                }
                (0, DType::Bool) => {
                    push(unsqueeze_at(dim, &cur)?, &mut cur, &mut steps);
                    record(&mut raw, &mut dim, bool_index(t.to_vec::<bool>()[0])?);
                }
                _ => record(&mut raw, &mut dim, t.clone()),
            },
        }
    }
    Ok(Sliced {
        steps,
        raw,
        shape: cur,
    })
}

/// The index tensors of advanced indexing over a tensor of `shape`, checked, with masks
/// turned into their coordinates (one int64 tensor per mask dim) and trailing `None`s
/// dropped.
fn resolve_indices(shape: &[usize], raw: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
    let mut out: Vec<Option<Tensor>> = Vec::with_capacity(raw.len());
    for t in raw {
        let Some(t) = t else {
            out.push(None);
            continue;
        };
        match t.dtype() {
            DType::I64 => out.push(Some(t.clone())),
            DType::Bool => {
                let at = out.len();
                for (j, &n) in t.shape().iter().enumerate() {
                    if shape.get(at + j) != Some(&n) {
                        if at + j >= shape.len() {
                            break;
                        }
                        return Err(Error::Index(format!(
                            "The shape of the mask {} at index {j} does not match the shape of the indexed tensor {} at index {}",
                            format_shape(t.shape()),
                            format_shape(shape),
                            at + j
                        )));
                    }
                }
                out.extend(k::nonzero(t)?.into_iter().map(Some));
            }
            _ => {
                return Err(Error::Index(
                    "tensors used as indices must be long, int, byte or bool tensors".into(),
                ))
            }
        }
    }
    if out.len() > shape.len() {
        return Err(Error::Index(format!(
            "too many indices for tensor of dimension {} (got {})",
            shape.len(),
            out.len()
        )));
    }
    while out.last().is_some_and(|t| t.is_none()) {
        out.pop();
    }
    Ok(out)
}

// ---- specs: which elements, and the two primitives over them -------------------------------

/// How an op resolves its index values and words an out-of-range one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// `x[idx]`, `index_put`: negative values count from the end; the message names the
    /// index tensor's position.
    Index,
    /// `index_fill`: negative values count from the end; the message names the dim.
    Fill,
    /// `index_add`: no negative values; `flat`: the input has at most one dim, which
    /// PyTorch words differently.
    Add { flat: bool },
    /// `index_select`: no negative values.
    Select { flat: bool },
    /// `take`: one flat index into all elements.
    Take,
}

impl Rule {
    fn resolve(self, i: i64, size: usize) -> Option<usize> {
        match self {
            Rule::Index | Rule::Fill | Rule::Take => k::wrap_negative(i, size),
            Rule::Add { .. } | Rule::Select { .. } => k::non_negative(i, size),
        }
    }

    fn out_of_range(self, v: i64, pos: usize, dim: usize, size: usize) -> Error {
        let bounds =
            |d: usize| format!("index {v} is out of bounds for dimension {d} with size {size}");
        match self {
            Rule::Index => Error::Index(bounds(pos)),
            Rule::Fill => Error::Index(bounds(dim)),
            Rule::Add { flat: true } | Rule::Select { flat: true } => {
                Error::Index("index out of range in self".into())
            }
            Rule::Select { .. } if v < 0 => Error::Index("index out of range in self".into()),
            Rule::Add { .. } => Error::Runtime(bounds(dim)),
            Rule::Select { .. } => Error::Runtime(format!(
                "INDICES element is out of DATA bounds, id={v} axis_dim={size}"
            )),
            Rule::Take => Error::Index(format!(
                "out of range: tried to access index {v} on a tensor of {size} elements."
            )),
        }
    }
}

/// Which elements of a tensor of a given shape an index picks: view steps, then int64 index
/// tensors over the dims of the view (`adv`, empty for basic indexing).
#[derive(Clone)]
pub struct Spec {
    steps: Steps,
    adv: Vec<Option<Tensor>>,
    rule: Rule,
    /// Index tensors the user gave, checked for in-place changes before a backward uses them.
    given: SmallVec<[Saved; 1]>,
}

impl Spec {
    fn new(steps: Steps, adv: Vec<Option<Tensor>>, rule: Rule, given: &[&Tensor]) -> Spec {
        Spec {
            steps,
            adv,
            rule,
            given: given.iter().map(|t| Saved::input(t)).collect(),
        }
    }

    /// `adv` as the index of dim `dim` only (`index_select`, `index_fill`, `index_add`).
    /// A zero-dim tensor is read as one element of one dim.
    fn along(x: &Tensor, dim: usize, index: &Tensor, rule: Rule) -> Result<Spec> {
        let flat = shape::view_raw(&index.detach(), &[index.numel()])?;
        let mut adv = vec![None; dim];
        adv.push(Some(flat));
        let steps = if x.ndim() == 0 {
            smallvec![Step::Unsqueeze { dim: 0 }]
        } else {
            Steps::new()
        };
        Ok(Spec::new(steps, adv, rule, &[index]))
    }

    fn check(&self, ctx: &Ctx) -> Result<()> {
        for s in &self.given {
            s.unpack(ctx)?;
        }
        Ok(())
    }

    /// The view of `t` the steps give, not recorded.
    fn region(&self, t: &Tensor) -> Result<Tensor> {
        let mut l = t.layout().clone();
        for &s in &self.steps {
            l = s.layout(&l)?;
        }
        Ok(t.alias_with_layout(l))
    }

    fn plan(&self, region: &Tensor) -> Result<k::Plan> {
        let rule = self.rule;
        k::plan(
            region.layout(),
            &self.adv,
            &|i, size| rule.resolve(i, size),
            &|v, pos, dim, size| rule.out_of_range(v, pos, dim, size),
        )
    }

    /// The name of a read of this spec (in the graphs of grads).
    fn read_name(&self) -> &'static str {
        match (self.steps.as_slice(), self.adv.is_empty()) {
            ([s], true) => s.name(),
            _ => "IndexBackward0",
        }
    }
}

/// The elements `spec` picks out of `x`, as a new contiguous tensor (no autograd).
fn read_raw(x: &Tensor, spec: &Spec) -> Result<Tensor> {
    let region = spec.region(x)?;
    let plan = spec.plan(&region)?;
    k::gather(&region, &plan)
}

/// The elements `spec` picks out of `x`, recorded as `name`; its grad is the adjoint `put`.
fn read(x: &Tensor, spec: Spec, name: &'static str) -> Result<Tensor> {
    let out = read_raw(x, &spec)?;
    Ok(record_read(out, x, spec, name))
}

fn record_read(out: Tensor, x: &Tensor, spec: Spec, name: &'static str) -> Tensor {
    let shape = x.dims();
    track_unsaved(out, &[Some(x)], |_| {
        Op::index(Backward::Get { spec, shape, name })
    })
}

/// What `put` writes: one number (in the tensor's dtype) or a tensor broadcast to the
/// picked elements.
#[derive(Clone)]
pub enum Value {
    Scalar(Scalar),
    Tensor(Tensor),
}

impl Value {
    fn tensor(&self) -> Option<&Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            Value::Scalar(_) => None,
        }
    }
}

/// A zero-dim tensor of `dtype` holding `s`.
fn scalar_tensor(s: Scalar, dtype: DType) -> Result<Tensor> {
    match dtype {
        DType::Bool => Tensor::from_vec(vec![scalar_as::<bool>(s)], &[]),
        DType::I64 => Tensor::from_vec(vec![scalar_as::<i64>(s)], &[]),
        DType::F32 => Tensor::from_vec(vec![scalar_as::<f32>(s)], &[]),
        DType::F64 => Tensor::from_vec(vec![scalar_as::<f64>(s)], &[]),
    }
}

/// Whether a tensor of shape `v` broadcasts to `to` (without growing `to`).
fn broadcasts_to(v: &[usize], to: &[usize]) -> bool {
    v.len() <= to.len()
        && v.iter()
            .rev()
            .zip(to.iter().rev())
            .all(|(&a, &b)| a == b || a == 1)
}

/// Writes `value` (times `alpha`) into the elements `spec` picks out of `out`, a fresh tensor.
fn write(out: &Tensor, spec: &Spec, value: &Value, accumulate: bool, alpha: f64) -> Result<()> {
    let region = spec.region(out)?;
    let plan = spec.plan(&region)?;
    let v = match value {
        Value::Scalar(s) => scalar_tensor(*s, out.dtype())?,
        Value::Tensor(t) => {
            if !broadcasts_to(t.shape(), &plan.shape) {
                return Err(Error::Runtime(format!(
                    "shape mismatch: value tensor of shape {} cannot be broadcast to indexing result of shape {}",
                    format_shape(t.shape()),
                    format_shape(&plan.shape)
                )));
            }
            let t = super::cast_raw(&t.detach(), out.dtype())?;
            if alpha == 1.0 {
                t
            } else {
                arith::binary_raw(
                    &t,
                    Operand::Scalar(alpha_scalar(alpha, out.dtype())),
                    arith::BinOp::Mul,
                    false,
                )?
            }
        }
    };
    k::put(out, &plan, &v, accumulate)
}

/// `alpha` in a tensor of `dtype`'s kind (integer tensors take it truncated, as PyTorch).
fn alpha_scalar(alpha: f64, dtype: DType) -> Scalar {
    if dtype.is_floating_point() {
        Scalar::Float(alpha)
    } else {
        Scalar::Int(alpha as i64)
    }
}

/// `x` with the elements `spec` picks replaced by `value` (or, `accumulate`, increased by
/// `alpha * value`), recorded as `name` over `x` and a tensor value.
fn put(
    x: &Tensor,
    spec: &Spec,
    value: Value,
    accumulate: bool,
    alpha: f64,
    name: &'static str,
) -> Result<Tensor> {
    let out = kernels::cast(x, x.dtype())?;
    write(&out, spec, &value, accumulate, alpha)?;
    let (x_grad, v_grad) = (
        x.requires_grad(),
        value.tensor().is_some_and(|t| t.requires_grad()),
    );
    track(out, &[Some(x), value.tensor()], |_| {
        Op::index(Backward::Put {
            spec: spec.clone(),
            accumulate,
            alpha,
            grads: (x_grad, v_grad),
            name,
        })
    })
}

/// Zeros of `shape` with `g` put (summed, when `accumulate`) into the elements `spec`
/// picks: the adjoint of reading them.
fn embed(
    g: &Tensor,
    shape: &[usize],
    spec: &Spec,
    accumulate: bool,
    name: &'static str,
) -> Result<Tensor> {
    let out = Tensor::zeros(shape, g.dtype())?;
    write(&out, spec, &Value::Tensor(g.clone()), accumulate, 1.0)?;
    track(out, &[None, Some(g)], |_| {
        Op::index(Backward::Put {
            spec: spec.clone(),
            accumulate,
            alpha: 1.0,
            grads: (false, true),
            name,
        })
    })
}

/// The name of the adjoint of a read recorded as `name`.
fn adjoint_name(name: &'static str) -> &'static str {
    match name {
        "IndexSelectBackward0" => "IndexAddBackward0",
        "TakeBackward0" => "PutBackward0",
        "SelectBackward0" => "SelectBackwardBackward0",
        "SliceBackward0" => "SliceBackwardBackward0",
        _ => "IndexPutImplBackward0",
    }
}

// ---- __getitem__ / __setitem__ ------------------------------------------------------------

/// `x[index]`. `single`: the index was one object, not a tuple (PyTorch's fast paths then
/// keep a whole-dim slice as a slice and check a 0-dim select its own way).
pub fn getitem(x: &Tensor, items: &[Item], single: bool) -> Result<Tensor> {
    if single {
        match &items[0] {
            Item::Int(v) => return view_step(x, select_step(x.shape(), 0, *v, 0)?),
            Item::Slice { start, stop, step } => {
                return match slice_step(x.shape(), 0, (*start, *stop, *step), false)? {
                    Some(s) => view_step(x, s),
                    None => Ok(alias(x)),
                }
            }
            _ => {}
        }
    }
    let sliced = slicing(x.shape(), items, true)?;
    let mut r = x.clone();
    for &s in &sliced.steps {
        r = view_step(&r, s)?;
    }
    if sliced.raw.is_empty() {
        return Ok(if sliced.steps.is_empty() { alias(x) } else { r });
    }
    index(&r, &sliced.raw)
}

/// Advanced indexing `x[i0, i1, ...]` by int64 or bool tensors (`None`: a dim left alone):
/// IndexBackward0.
pub fn index(x: &Tensor, indices: &[Option<Tensor>]) -> Result<Tensor> {
    let adv = resolve_indices(x.shape(), indices)?;
    let given: Vec<&Tensor> = indices.iter().flatten().collect();
    read(
        x,
        Spec::new(Steps::new(), adv, Rule::Index, &given),
        "IndexBackward0",
    )
}

/// A value given to `__setitem__`.
pub enum SetValue {
    Scalar(Scalar),
    Tensor(Tensor),
}

/// `x[index] = value`: an in-place write of the picked elements. Which node PyTorch records
/// depends on the index and the value (CopySlices when the index made a view; else
/// FillBackward2/3, CopyBackwards, MaskedFillBackward0, IndexFillBackward0 or
/// IndexPutBackward0); the grads are the same `put` rule for all.
pub fn setitem(x: &Tensor, items: &[Item], single: bool, value: SetValue) -> Result<()> {
    let sliced = if single {
        match &items[0] {
            Item::Bool(false) => return Ok(()),
            Item::Ellipsis => Sliced::of_steps(x.shape(), Steps::new()),
            Item::NewAxis | Item::Bool(true) => {
                Sliced::of_steps(x.shape(), smallvec![Step::Unsqueeze { dim: 0 }])
            }
            Item::Int(v) => {
                Sliced::of_steps(x.shape(), smallvec![select_step(x.shape(), 0, *v, 0)?])
            }
            _ => slicing(x.shape(), items, true)?,
        }
    } else {
        slicing(x.shape(), items, true)?
    };
    let viewed = !sliced.steps.is_empty();
    if viewed && is_grad_enabled() && x.is_leaf() && x.requires_grad() {
        return Err(Error::Runtime(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
                .into(),
        ));
    }
    let (spec, name, value) = if sliced.raw.is_empty() {
        copy_target(sliced, value)?
    } else {
        advanced_target(x, sliced, value)?
    };
    let name = if viewed { "CopySlices" } else { name };
    inplace::apply(x, value.tensor(), |pre| {
        put(pre, &spec, value.clone(), false, 1.0, name)
    })
}

/// A tensor value with its leading size-1 dims dropped (NumPy's rule for assignment),
/// recorded as a view when that changes its shape.
fn strip_leading_ones(v: &Tensor) -> Result<Tensor> {
    let lead = v.shape().iter().take_while(|&&n| n == 1).count();
    if lead == 0 {
        return Ok(v.clone());
    }
    let shape: Vec<i64> = v.shape()[lead..].iter().map(|&n| n as i64).collect();
    shape::view(v, &shape)
}

/// Basic indexing only: PyTorch's `copy_to` (fill for a number or a zero-dim tensor, else a
/// broadcasting copy).
fn copy_target(sliced: Sliced, value: SetValue) -> Result<(Spec, &'static str, Value)> {
    let spec = Spec::new(sliced.steps, Vec::new(), Rule::Index, &[]);
    let target = &sliced.shape;
    Ok(match value {
        SetValue::Scalar(s) => (spec, "FillBackward2", Value::Scalar(s)),
        SetValue::Tensor(v) if v.shape() == target.as_slice() => {
            (spec, "CopyBackwards", Value::Tensor(v))
        }
        SetValue::Tensor(v) if v.ndim() == 0 => (spec, "FillBackward3", Value::Tensor(v)),
        SetValue::Tensor(v) => {
            let v = strip_leading_ones(&v)?;
            if v.ndim() > target.len() {
                return Err(Error::Runtime(format!(
                    "expand({}{{{}}}, size={}): the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                    v.dtype().legacy_type_name(),
                    format_shape(v.shape()),
                    format_shape(target),
                    target.len(),
                    v.ndim()
                )));
            }
            v.layout().broadcast_to(target)?;
            (spec, "CopyBackwards", Value::Tensor(v))
        }
    })
}

/// Advanced indexing: `masked_fill_` / `index_fill_` for a number where PyTorch dispatches
/// to them, else `index_put_`.
fn advanced_target(
    x: &Tensor,
    sliced: Sliced,
    value: SetValue,
) -> Result<(Spec, &'static str, Value)> {
    let given: Vec<&Tensor> = sliced.raw.iter().flatten().collect();
    let one = (given.len() == 1).then(|| given[0]);
    match value {
        SetValue::Scalar(s) => {
            if let Some(mask) = one.filter(|t| t.dtype() == DType::Bool) {
                let adv = resolve_indices(&sliced.shape, &sliced.raw)?;
                let spec = Spec::new(sliced.steps, adv, Rule::Index, &[mask]);
                return Ok((spec, "MaskedFillBackward0", Value::Scalar(s)));
            }
            if let Some(idx) =
                one.filter(|t| t.dtype() == DType::I64 && (t.ndim() <= 1 || t.is_contiguous()))
            {
                let dim = sliced.raw.iter().position(|t| t.is_some()).unwrap_or(0);
                let flat = shape::view_raw(&idx.detach(), &[idx.numel()])?;
                let mut adv = vec![None; dim];
                adv.push(Some(flat));
                let spec = Spec::new(sliced.steps, adv, Rule::Fill, &[idx]);
                return Ok((spec, "IndexFillBackward0", Value::Scalar(s)));
            }
            let adv = resolve_indices(&sliced.shape, &sliced.raw)?;
            let spec = Spec::new(sliced.steps, adv, Rule::Index, &given);
            Ok((spec, "IndexPutBackward0", Value::Scalar(s)))
        }
        SetValue::Tensor(v) => {
            check_put_dtype(x, &v)?;
            let v = strip_leading_ones(&v)?;
            let adv = resolve_indices(&sliced.shape, &sliced.raw)?;
            let spec = Spec::new(sliced.steps, adv, Rule::Index, &given);
            Ok((spec, "IndexPutBackward0", Value::Tensor(v)))
        }
    }
}

fn check_put_dtype(x: &Tensor, values: &Tensor) -> Result<()> {
    if values.dtype() != x.dtype() {
        return Err(Error::Runtime(format!(
            "Index put requires the source and destination dtypes match, got {} for the destination and {} for the source.",
            super::reduce::type_word(x.dtype()),
            super::reduce::type_word(values.dtype())
        )));
    }
    Ok(())
}

// ---- index_put / index_select / index_add / index_fill / take -----------------------------

/// `x.index_put(indices, values, accumulate)`: IndexPutBackward0.
pub fn index_put(
    x: &Tensor,
    indices: &[Tensor],
    values: &Tensor,
    accumulate: bool,
) -> Result<Tensor> {
    check_put_dtype(x, values)?;
    if indices.is_empty() {
        return Err(Error::Runtime(
            "sym_strides() called on an undefined Tensor".into(),
        ));
    }
    let raw: Vec<Option<Tensor>> = indices.iter().cloned().map(Some).collect();
    let adv = resolve_indices(x.shape(), &raw)?;
    let given: Vec<&Tensor> = indices.iter().collect();
    let spec = Spec::new(Steps::new(), adv, Rule::Index, &given);
    put(
        x,
        &spec,
        Value::Tensor(values.clone()),
        accumulate,
        1.0,
        "IndexPutBackward0",
    )
}

pub fn index_put_(x: &Tensor, indices: &[Tensor], values: &Tensor, accumulate: bool) -> Result<()> {
    inplace::apply(x, Some(values), |pre| {
        index_put(pre, indices, values, accumulate)
    })
}

/// A vector-or-scalar index argument of `op`, checked (int64, at most one dim).
fn vector_index(
    index: &Tensor,
    dtype_error: Error,
    dim_error: impl FnOnce() -> Error,
) -> Result<()> {
    if index.dtype() != DType::I64 {
        return Err(dtype_error);
    }
    if index.ndim() > 1 {
        return Err(dim_error());
    }
    Ok(())
}

/// `x.index_select(dim, index)`: IndexSelectBackward0.
pub fn index_select(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    vector_index(
        index,
        Error::Runtime("index_select(): Expected dtype int32 or int64 for index".into()),
        || Error::Index("index_select(): Index is supposed to be a vector".into()),
    )?;
    if x.ndim() == 0 {
        if index.numel() != 1 {
            return Err(Error::Runtime(format!(
                "index_select(): Index to scalar can have only 1 value, got {} value(s)",
                index.numel()
            )));
        }
        if index.to_vec::<i64>()[0] != 0 {
            return Err(Error::Index("index out of range in self".into()));
        }
    }
    let spec = Spec::along(
        x,
        d,
        index,
        Rule::Select {
            flat: x.ndim() <= 1,
        },
    )?;
    let out = read_raw(x, &spec)?;
    let out = if x.ndim() == 0 {
        shape::view_raw(&out, &[])?
    } else {
        out
    };
    Ok(record_read(out, x, spec, "IndexSelectBackward0"))
}

/// `x.index_add(dim, index, source, alpha=alpha)`: IndexAddBackward0.
pub fn index_add(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    source: &Tensor,
    alpha: f64,
) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    vector_index(
        index,
        Error::Runtime(format!(
            "index_add_(): Expected dtype int32/int64 for index but got: {}",
            super::reduce::type_word(index.dtype())
        )),
        || {
            Error::Index(format!(
                "index_add_(): Index is supposed to be a vector, but got dim: {} with type: {} and size: {}",
                index.ndim(),
                super::reduce::type_word(index.dtype()),
                format_shape(index.shape())
            ))
        },
    )?;
    if source.dtype() != x.dtype() {
        return Err(Error::Runtime(format!(
            "index_add_(): self ({}) and source ({}) must have the same scalar type",
            super::reduce::type_word(x.dtype()),
            super::reduce::type_word(source.dtype())
        )));
    }
    let same_rest = source.ndim() == x.ndim()
        && (0..x.ndim()).all(|i| i == d || source.shape()[i] == x.shape()[i]);
    if !same_rest {
        return Err(Error::Runtime(format!(
            "source tensor shape must match self tensor shape, excluding the specified dimension. Got self.shape = {} source.shape = {}",
            format_shape(x.shape()),
            format_shape(source.shape())
        )));
    }
    let along = source.shape().get(d).copied().unwrap_or(1);
    if index.numel() != along {
        return Err(Error::Runtime(format!(
            "index_add_(): Number of indices ({}) should be equal to source.size(dim): ({along}), for dim: {d}",
            index.numel()
        )));
    }
    let spec = Spec::along(
        x,
        d,
        index,
        Rule::Add {
            flat: x.ndim() <= 1,
        },
    )?;
    put(
        x,
        &spec,
        Value::Tensor(source.clone()),
        true,
        alpha,
        "IndexAddBackward0",
    )
}

pub fn index_add_(x: &Tensor, dim: i64, index: &Tensor, source: &Tensor, alpha: f64) -> Result<()> {
    inplace::apply(x, Some(source), |pre| {
        index_add(pre, dim, index, source, alpha)
    })
}

/// A value of `masked_fill`/`index_fill`: a number or a zero-dim tensor.
fn fill_value(op: &str, value: &Value) -> Result<()> {
    match value {
        Value::Tensor(t) if t.ndim() != 0 => Err(Error::Runtime(format!(
            "{op} only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).",
            t.ndim()
        ))),
        _ => Ok(()),
    }
}

/// `x.index_fill(dim, index, value)`: IndexFillBackward0 (a number) / 1 (a tensor).
pub fn index_fill(x: &Tensor, dim: i64, index: &Tensor, value: Value) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    vector_index(
        index,
        Error::Index("index_fill_(): Expected dtype int64 for index.".into()),
        || Error::Runtime("Index has to be a vector/scalar".into()),
    )?;
    fill_value("index_fill_", &value)?;
    let size = x.shape().get(d).copied().unwrap_or(1);
    let spec = Spec::along(x, d, &unique_positions(index, d, size)?, Rule::Fill)?;
    let name = match value {
        Value::Scalar(_) => "IndexFillBackward0",
        Value::Tensor(_) => "IndexFillBackward1",
    };
    put(x, &spec, value, false, 1.0, name)
}

/// The positions `index` names along `dim` (of `size`), each once, negative ones wrapped:
/// filling is the same, and the value's grad counts a repeated position once, as PyTorch.
fn unique_positions(index: &Tensor, dim: usize, size: usize) -> Result<Tensor> {
    let mut v = index
        .to_vec::<i64>()
        .into_iter()
        .map(|i| match Rule::Fill.resolve(i, size) {
            Some(w) => Ok(w as i64),
            None => Err(Rule::Fill.out_of_range(i, 0, dim, size)),
        })
        .collect::<Result<Vec<i64>>>()?;
    v.sort_unstable();
    v.dedup();
    let n = v.len();
    Tensor::from_vec(v, &[n])
}

pub fn index_fill_(x: &Tensor, dim: i64, index: &Tensor, value: Value) -> Result<()> {
    inplace::apply(x, value.tensor(), |pre| {
        index_fill(pre, dim, index, value.clone())
    })
}

/// `x.take(index)`: the elements at flat positions `index` (row-major), shaped like `index`.
pub fn take(x: &Tensor, index: &Tensor) -> Result<Tensor> {
    if index.dtype() != DType::I64 {
        return Err(Error::Runtime(format!(
            "take(): Expected a long tensor for index, but got {}",
            super::reduce::type_word(index.dtype())
        )));
    }
    if x.numel() == 0 && index.numel() > 0 {
        return Err(Error::Index(
            "take(): tried to take from an empty tensor".into(),
        ));
    }
    let flat = flat_view(x)?;
    let spec = Spec::new(
        Steps::new(),
        vec![Some(index.detach())],
        Rule::Take,
        &[index],
    );
    let out = read_raw(&flat, &spec)?;
    let shape = x.dims();
    track(out, &[Some(x)], |_| {
        Op::index(Backward::Take { spec, shape })
    })
}

/// `x` as a 1-d tensor over its elements in row-major order (a view, or a copy when the
/// strides do not allow one); not recorded.
fn flat_view(x: &Tensor) -> Result<Tensor> {
    let x = if x.is_contiguous() {
        x.clone()
    } else {
        kernels::cast(x, x.dtype())?
    };
    shape::view_raw(&x, &[x.numel()])
}

// ---- gather / scatter ---------------------------------------------------------------------

fn nonempty_ndim(t: &Tensor) -> usize {
    t.ndim().max(1)
}

fn nonempty_size(t: &Tensor, d: usize) -> usize {
    t.shape().get(d).copied().unwrap_or(1)
}

fn check_gather_index(op: &str, index: &Tensor) -> Result<()> {
    if index.dtype() != DType::I64 {
        return Err(Error::Runtime(format!(
            "{op}(): Expected dtype int32/int64 for index"
        )));
    }
    Ok(())
}

/// `x.gather(dim, index)`: `out[p] = x[p with p[dim] = index[p]]`; GatherBackward0.
pub fn gather(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    check_gather_index("gather", index)?;
    if nonempty_ndim(index) != nonempty_ndim(x) {
        return Err(Error::Runtime(
            "Index tensor must have the same number of dimensions as input tensor".into(),
        ));
    }
    if index.numel() > 0 {
        if let Some(i) =
            (0..nonempty_ndim(x)).find(|&i| i != d && nonempty_size(index, i) > nonempty_size(x, i))
        {
            return Err(Error::Runtime(format!(
                "Size does not match at dimension {i} expected index {} to be no larger than self {} apart from dimension {d}",
                format_shape(index.shape()),
                format_shape(x.shape())
            )));
        }
    }
    let out = k::gather_dim(x, d, index)?;
    let shape = x.dims();
    track(out, &[Some(x)], |_| {
        Op::index(Backward::Gather {
            dim: d,
            index: Saved::input(index),
            shape,
        })
    })
}

/// `x.scatter(dim, index, src)` (ScatterBackward0), `x.scatter(dim, index, value)`
/// (ScatterBackward1) and, `accumulate`, `x.scatter_add(dim, index, src)`
/// (ScatterAddBackward0).
pub fn scatter(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    src: Value,
    accumulate: bool,
) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    check_gather_index("scatter", index)?;
    if let Value::Tensor(s) = &src {
        if s.dtype() != x.dtype() {
            return Err(Error::Runtime(
                "scatter(): Expected self.dtype to be equal to src.dtype".into(),
            ));
        }
    }
    if nonempty_ndim(index) != nonempty_ndim(x) {
        return Err(Error::Runtime(
            "Index tensor must have the same number of dimensions as self tensor".into(),
        ));
    }
    let src_t = src.tensor();
    if let Some(s) = src_t {
        if nonempty_ndim(index) != nonempty_ndim(s) {
            return Err(Error::Runtime(
                "Index tensor must have the same number of dimensions as src tensor".into(),
            ));
        }
    }
    if index.numel() > 0 {
        let too_big = (0..nonempty_ndim(x)).any(|i| {
            (i != d && nonempty_size(index, i) > nonempty_size(x, i))
                || src_t.is_some_and(|s| nonempty_size(index, i) > nonempty_size(s, i))
        });
        if too_big {
            let tail = match src_t {
                Some(s) => format!(
                    " and to be no larger size than src {}",
                    format_shape(s.shape())
                ),
                None => String::new(),
            };
            return Err(Error::Runtime(format!(
                "Expected index {} to be no larger than self {} apart from dimension {d}{tail}",
                format_shape(index.shape()),
                format_shape(x.shape())
            )));
        }
    }
    let out = kernels::cast(x, x.dtype())?;
    let value_t;
    let source = match &src {
        Value::Tensor(s) => k::Source::Tensor(s),
        Value::Scalar(v) => {
            value_t = scalar_tensor(*v, x.dtype())?;
            k::Source::Value(&value_t)
        }
    };
    k::scatter_dim(&out, d, index, source, accumulate)?;
    let name = match (accumulate, &src) {
        (true, _) => "ScatterAddBackward0",
        (false, Value::Tensor(_)) => "ScatterBackward0",
        (false, Value::Scalar(_)) => "ScatterBackward1",
    };
    let grads = (x.requires_grad(), src_t.is_some_and(|s| s.requires_grad()));
    track(out, &[Some(x), src_t], |_| {
        Op::index(Backward::Scatter {
            dim: d,
            index: Saved::input(index),
            accumulate,
            grads,
            name,
        })
    })
}

pub fn scatter_(x: &Tensor, dim: i64, index: &Tensor, src: Value, accumulate: bool) -> Result<()> {
    inplace::apply(x, src.tensor(), |pre| {
        scatter(pre, dim, index, src.clone(), accumulate)
    })
}

// ---- masks --------------------------------------------------------------------------------

/// The C type name PyTorch's mask messages use.
fn c_type_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "bool",
        DType::I64 => "long int",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// `x.masked_fill(mask, value)`: MaskedFillBackward0 (a number) / 1 (a zero-dim tensor).
/// `x` and `mask` broadcast together.
pub fn masked_fill(x: &Tensor, mask: &Tensor, value: Value) -> Result<Tensor> {
    if mask.dtype() != DType::Bool {
        return Err(Error::Runtime(format!(
            "masked_fill_ only supports boolean masks, but got mask with dtype {}",
            c_type_name(mask.dtype())
        )));
    }
    fill_value("masked_fill_", &value)?;
    let shape = broadcast_shapes(mask.shape(), x.shape())?;
    let v = match &value {
        Value::Scalar(s) => scalar_tensor(*s, x.dtype())?,
        Value::Tensor(t) => super::cast_raw(&t.detach(), x.dtype())?,
    };
    let out = k::masked_fill(x, mask, &v, &shape)?;
    let name = match value {
        Value::Scalar(_) => "MaskedFillBackward0",
        Value::Tensor(_) => "MaskedFillBackward1",
    };
    let value_grad = value.tensor().is_some_and(|t| t.requires_grad());
    track(out, &[Some(x), value.tensor()], |_| {
        Op::index(Backward::MaskedFill {
            mask: Saved::input(mask),
            value_grad,
            name,
        })
    })
}

pub fn masked_fill_(x: &Tensor, mask: &Tensor, value: Value) -> Result<()> {
    inplace::apply(x, value.tensor(), |pre| {
        masked_fill(pre, mask, value.clone())
    })
}

/// `x.masked_select(mask)`: the elements where `mask` is true (both broadcast), as a 1-d
/// tensor; MaskedSelectBackward0.
pub fn masked_select(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    if mask.dtype() != DType::Bool {
        return Err(Error::Runtime(
            "masked_select: expected BoolTensor for mask".into(),
        ));
    }
    let shape = broadcast_shapes(mask.shape(), x.shape())?;
    let out = k::masked_select(x, mask, &shape)?;
    track(out, &[Some(x)], |_| {
        Op::index(Backward::MaskedSelect {
            mask: Saved::input(mask),
            shape,
        })
    })
}

// ---- copy_ --------------------------------------------------------------------------------

/// `x.copy_(src)`: `src` broadcast to `x`'s shape and cast to its dtype (CopyBackwards).
pub fn copy_(x: &Tensor, src: &Tensor) -> Result<()> {
    let spec = Spec::new(Steps::new(), Vec::new(), Rule::Index, &[]);
    // A copy from the same memory seen the same way changes nothing: PyTorch returns before
    // its overlap checks (an expanded tensor copied onto itself is no error).
    let same_data = x.same_storage(src) && x.layout() == src.layout() && x.dtype() == src.dtype();
    // The shapes are checked after the in-place and overlap checks, as in PyTorch.
    let f = |pre: &Tensor| {
        let shape = broadcast_shapes(x.shape(), src.shape())?;
        if shape.as_slice() != x.shape() {
            return Err(Error::Runtime(format!(
                "output with shape {} doesn't match the broadcast shape {}",
                format_shape(x.shape()),
                format_shape(&shape)
            )));
        }
        put(
            pre,
            &spec,
            Value::Tensor(src.clone()),
            false,
            1.0,
            "CopyBackwards",
        )
    };
    if same_data {
        inplace::apply(x, Some(src), f)
    } else {
        inplace::apply_elementwise(x, Some(src), f)
    }
}

// ---- backward rules -----------------------------------------------------------------------

#[derive(Clone)]
pub enum Backward {
    /// A `select` / `slice` view of an input of `shape`: the grad goes into zeros.
    View {
        step: Step,
        shape: Dims,
    },
    /// `x[...]`: the grad passes through.
    Alias,
    /// The elements `spec` picks (`x[idx]`, `index_select`): the grad is put into zeros,
    /// summing over repeated indices.
    Get {
        spec: Spec,
        shape: Dims,
        name: &'static str,
    },
    /// `take`: `Get` over the flattened input.
    Take {
        spec: Spec,
        shape: Dims,
    },
    /// The input with the elements `spec` picks replaced (or increased by `alpha` times a
    /// value): inputs (old tensor, value); `grads` says which of them need one.
    Put {
        spec: Spec,
        accumulate: bool,
        alpha: f64,
        grads: (bool, bool),
        name: &'static str,
    },
    Gather {
        dim: usize,
        index: Saved,
        shape: Dims,
    },
    /// `scatter` / `scatter_add`: inputs (old tensor, src); `grads` says which need one.
    Scatter {
        dim: usize,
        index: Saved,
        accumulate: bool,
        grads: (bool, bool),
        name: &'static str,
    },
    /// Inputs (tensor, value); `value_grad`: the value is a tensor that needs one.
    MaskedFill {
        mask: Saved,
        value_grad: bool,
        name: &'static str,
    },
    MaskedSelect {
        mask: Saved,
        shape: Dims,
    },
}

impl Backward {
    pub fn name(&self) -> &'static str {
        match self {
            Backward::View { step, .. } => step.name(),
            Backward::Alias => "AliasBackward0",
            Backward::Get { name, .. } | Backward::Put { name, .. } => name,
            Backward::Take { .. } => "TakeBackward0",
            Backward::Gather { .. } => "GatherBackward0",
            Backward::Scatter { name, .. } | Backward::MaskedFill { name, .. } => name,
            Backward::MaskedSelect { .. } => "MaskedSelectBackward0",
        }
    }

    pub fn has_saved(&self) -> bool {
        match self {
            Backward::View { .. } | Backward::Alias => false,
            Backward::Put { spec, .. } => !spec.adv.is_empty(),
            _ => true,
        }
    }

    pub fn apply(&self, g: &Tensor, ctx: &Ctx) -> Result<Grads> {
        Ok(match self {
            Backward::View { step, shape } => {
                let spec = Spec::new(smallvec![*step], Vec::new(), Rule::Index, &[]);
                smallvec![Some(embed(g, shape, &spec, false, step.embed_name())?)]
            }
            Backward::Alias => smallvec![Some(g.clone())],
            Backward::Get { spec, shape, name } => {
                spec.check(ctx)?;
                smallvec![Some(embed(g, shape, spec, true, adjoint_name(name))?)]
            }
            Backward::Take { spec, shape } => {
                spec.check(ctx)?;
                let n = shape.iter().product::<usize>();
                let flat = embed(g, &[n], spec, true, "PutBackward0")?;
                smallvec![Some(shape::reshape(&flat, shape)?)]
            }
            Backward::Put {
                spec,
                accumulate,
                alpha,
                grads: (x_grad, v_grad),
                ..
            } => {
                spec.check(ctx)?;
                let gx = match (*x_grad, *accumulate) {
                    (false, _) => None,
                    (true, true) => Some(g.clone()),
                    (true, false) => Some(put(
                        g,
                        spec,
                        Value::Scalar(Scalar::Int(0)),
                        false,
                        1.0,
                        "IndexPutBackward0",
                    )?),
                };
                let gv = match (*v_grad, spec.steps.is_empty() && spec.adv.is_empty()) {
                    (false, _) => None,
                    (true, true) => Some(g.clone()),
                    (true, false) => Some(read(g, spec.clone(), spec.read_name())?),
                };
                let gv = match gv {
                    Some(gv) if *alpha != 1.0 => Some(arith::mul(
                        &gv,
                        Operand::Scalar(alpha_scalar(*alpha, gv.dtype())),
                    )?),
                    gv => gv,
                };
                smallvec![gx, gv]
            }
            Backward::Gather { dim, index, shape } => {
                let index = index.unpack(ctx)?;
                let zeros = Tensor::zeros(shape, g.dtype())?;
                let gx = scatter(&zeros, *dim as i64, &index, Value::Tensor(g.clone()), true)?;
                smallvec![Some(gx)]
            }
            Backward::Scatter {
                dim,
                index,
                accumulate,
                grads: (x_grad, src_grad),
                ..
            } => {
                let index = index.unpack(ctx)?;
                let d = *dim as i64;
                let gx = match (*x_grad, *accumulate) {
                    (false, _) => None,
                    (true, true) => Some(g.clone()),
                    (true, false) => {
                        Some(scatter(g, d, &index, Value::Scalar(Scalar::Int(0)), false)?)
                    }
                };
                let gs = if *src_grad {
                    Some(gather(g, d, &index)?)
                } else {
                    None
                };
                smallvec![gx, gs]
            }
            Backward::MaskedFill {
                mask, value_grad, ..
            } => {
                let mask = mask.unpack(ctx)?;
                let gx = masked_fill(g, &mask, Value::Scalar(Scalar::Int(0)))?;
                // The value's grad is the sum of g over the filled positions; the engine
                // sums it down to the value's zero-dim shape.
                let gv = if *value_grad {
                    Some(arith::sub(g, Operand::Tensor(&gx), 1.0)?)
                } else {
                    None
                };
                smallvec![Some(gx), gv]
            }
            Backward::MaskedSelect { mask, shape } => {
                let mask = mask.unpack(ctx)?;
                // A zero-dim result is read as one element of one dim.
                let (steps, bshape): (Steps, &[usize]) = match shape.is_empty() {
                    true => (smallvec![Step::Unsqueeze { dim: 0 }], &[1]),
                    false => (Steps::new(), shape),
                };
                let full = mask.alias_with_layout(mask.layout().broadcast_to(bshape)?);
                let adv = k::nonzero(&full)?.into_iter().map(Some).collect();
                let spec = Spec::new(steps, adv, Rule::Index, &[]);
                smallvec![Some(embed(
                    g,
                    shape,
                    &spec,
                    false,
                    "MaskedScatterBackward0"
                )?)]
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::backward;

    fn leaf(v: Vec<f64>, shape: &[usize]) -> Tensor {
        let t = Tensor::from_vec(v, shape).unwrap();
        t.set_requires_grad(true).unwrap();
        t
    }

    fn idx(v: Vec<i64>) -> Tensor {
        let n = v.len();
        Tensor::from_vec(v, &[n]).unwrap()
    }

    #[test]
    fn repeated_indices_accumulate_their_grads() {
        let x = leaf(vec![1.0, 2.0, 3.0], &[3]);
        let y = index(&x, &[Some(idx(vec![0, 0, 2, -1]))]).unwrap();
        assert_eq!(y.to_vec::<f64>(), vec![1.0, 1.0, 3.0, 3.0]);
        assert_eq!(y.grad_fn().unwrap().name(), "IndexBackward0");
        let s = super::super::reduce::sum(&y, None, false, None).unwrap();
        backward(&[s], &[None], None, false).unwrap();
        assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 0.0, 2.0]);
    }

    #[test]
    fn basic_items_make_recorded_views() {
        let x = leaf((0..24).map(f64::from).collect(), &[2, 3, 4]);
        let items = [
            Item::Int(1),
            Item::Slice {
                start: None,
                stop: None,
                step: 2,
            },
            Item::NewAxis,
            Item::Int(-1),
        ];
        let y = getitem(&x, &items, false).unwrap();
        assert_eq!(y.shape(), &[2, 1]);
        assert_eq!(y.to_vec::<f64>(), vec![15.0, 23.0]);
        assert!(y.same_storage(&x));
        assert_eq!(y.grad_fn().unwrap().name(), "SelectBackward0");
        let e = getitem(&x, &[Item::Int(2)], true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "index 2 is out of bounds for dimension 0 with size 2"
        );
    }

    #[test]
    fn setitem_writes_through_the_in_place_mechanism() {
        let x = Tensor::zeros(&[2, 3], DType::F32).unwrap();
        let v = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
        setitem(&x, &[Item::Int(1)], true, SetValue::Tensor(v)).unwrap();
        assert_eq!(x.to_vec::<f32>(), vec![0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
        assert_eq!(x.version(), 1);
        let m = Tensor::from_vec(vec![true, false, true, false, false, true], &[2, 3]).unwrap();
        setitem(
            &x,
            &[Item::Tensor {
                t: m,
                from_sequence: false,
            }],
            true,
            SetValue::Scalar(Scalar::Float(7.0)),
        )
        .unwrap();
        assert_eq!(x.to_vec::<f32>(), vec![7.0, 0.0, 7.0, 1.0, 2.0, 7.0]);
    }

    #[test]
    fn gather_grad_is_scatter_add() {
        let x = leaf(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let i = Tensor::from_vec(vec![0i64, 0, 0, 0], &[2, 2]).unwrap();
        let y = gather(&x, 0, &i).unwrap();
        let s = super::super::reduce::sum(&y, None, false, None).unwrap();
        backward(&[s], &[None], None, false).unwrap();
        assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 2.0, 0.0, 0.0]);
    }
}
