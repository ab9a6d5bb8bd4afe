//! What a node saved for backward, under the names PyTorch gives its `_saved_*` attributes
//! (`grad_fn._saved_self`, `_saved_other`, `_saved_result`, `_saved_dim`, ...): the bindings
//! expose them, `viz.make_dot(show_saved=True)` draws them, and `track` uses them to refuse
//! saving an inference tensor.
//!
//! Only the values a rule actually keeps are listed, named as PyTorch names the same value;
//! a rule PyTorch gives more attributes (e.g. `_saved_self_sym_strides`) lists fewer here.

use super::{arith, index, linalg, reduce, shape, unary, Backward, Saved};
use crate::shape::Dims;
use crate::tensor::Tensor;

/// One saved value.
pub enum SavedValue {
    /// A tensor saved with its version (checked, and re-attached if it is the output, when
    /// read).
    Tensor(Saved),
    /// A tensor kept without version tracking (an index or a mask).
    Raw(Tensor),
    /// A Python number PyTorch keeps as a wrapped 0-dim tensor (`x * 2`'s `_saved_other`).
    WrappedNumber(f64),
    /// Not saved (the grad that needed it is not required): PyTorch shows `None`.
    None,
    Bool(bool),
    Int(i64),
    /// A Scalar argument: shown as an int when it is integral (PyTorch keeps the Python type).
    Number(f64),
    Ints(Vec<i64>),
}

fn t(s: &Saved) -> SavedValue {
    SavedValue::Tensor(s.clone())
}

fn opt(s: &Option<Saved>) -> SavedValue {
    s.as_ref().map_or(SavedValue::None, t)
}

fn ints(d: &Dims) -> SavedValue {
    SavedValue::Ints(d.iter().map(|&x| x as i64).collect())
}

fn num_opt(x: Option<f64>) -> SavedValue {
    x.map_or(SavedValue::None, SavedValue::Number)
}

type List = Vec<(&'static str, SavedValue)>;

impl Backward {
    /// `(name, value)` for each value the rule saved, as PyTorch's `_saved_<name>`.
    pub fn saved_values(&self) -> List {
        match self {
            Backward::Arith(b) => arith_saved(b),
            Backward::Unary(b) => unary_saved(b),
            Backward::Reduce(b) => reduce_saved(b),
            Backward::Linalg(b) => linalg_saved(b),
            Backward::Index(b) => index_saved(b),
            Backward::Shape(b) => shape_saved(b),
            _ => Vec::new(),
        }
    }
}

fn arith_saved(b: &arith::Backward) -> List {
    use arith::Backward as B;
    match b {
        B::Add { alpha } | B::Sub { alpha } => vec![("alpha", SavedValue::Number(*alpha))],
        B::Mul { a, b } => vec![("other", opt(b)), ("self", opt(a))],
        B::MulScalar { s } => vec![
            ("other", SavedValue::WrappedNumber(*s)),
            ("self", SavedValue::None),
        ],
        B::Div { a, b } => vec![("other", t(b)), ("self", opt(a))],
        B::DivScalar { s } => vec![
            ("other", SavedValue::WrappedNumber(*s)),
            ("self", SavedValue::None),
        ],
        B::Remainder { a, b } => vec![("other", t(b)), ("self", t(a))],
        B::MinMax { a, b, .. } | B::Atan2 { a, b } => vec![("other", t(b)), ("self", t(a))],
        B::ClampScalar { input, lo, hi, .. } => vec![
            ("max", num_opt(*hi)),
            ("min", num_opt(*lo)),
            ("self", t(input)),
        ],
        B::ClampTensor { input, lo, hi, .. } => {
            vec![("max", opt(hi)), ("min", opt(lo)), ("self", t(input))]
        }
        B::Where { cond } => vec![("condition", SavedValue::Raw(cond.clone()))],
        B::PowScalar { base, exp } => {
            vec![("exponent", SavedValue::Number(*exp)), ("self", t(base))]
        }
        B::PowTensor { base, exp, result } => vec![
            ("exponent", t(exp)),
            ("result", t(result)),
            ("self", t(base)),
        ],
        B::RPowScalar { base, result } => {
            vec![("result", t(result)), ("self", SavedValue::Number(*base))]
        }
        _ => Vec::new(),
    }
}

fn unary_saved(b: &unary::Backward) -> List {
    use unary::Backward as B;
    let self_or_result = |s: &Saved| if s.is_output() { "result" } else { "self" };
    match b {
        B::Float { saved: Some(s), .. } => vec![(self_or_result(s), t(s))],
        B::Abs { input } => vec![("self", t(input))],
        B::Relu { result } => vec![("result", t(result))],
        B::LeakyRelu { saved, slope, .. } => vec![
            ("negative_slope", SavedValue::Number(*slope)),
            (self_or_result(saved), t(saved)),
        ],
        B::Elu { saved, alpha, .. } => vec![
            ("alpha", SavedValue::Number(*alpha)),
            (self_or_result(saved), t(saved)),
        ],
        B::Softplus {
            input,
            beta,
            threshold,
        } => vec![
            ("beta", SavedValue::Number(*beta)),
            ("self", t(input)),
            ("threshold", SavedValue::Number(*threshold)),
        ],
        _ => Vec::new(),
    }
}

fn reduce_saved(b: &reduce::Backward) -> List {
    use reduce::Backward as B;
    let dim1 = |d: usize| SavedValue::Int(d as i64);
    match b {
        B::Sum { shape } => vec![("self_sym_sizes", ints(shape))],
        B::SumDim {
            shape,
            dims,
            keepdim,
        } => vec![
            ("dim", ints(dims)),
            ("keepdim", SavedValue::Bool(*keepdim)),
            ("self_sym_sizes", ints(shape)),
        ],
        B::Mean { shape, count } => vec![
            ("self_sym_numel", SavedValue::Int(*count as i64)),
            ("self_sym_sizes", ints(shape)),
        ],
        B::MeanDim {
            shape,
            dims,
            keepdim,
            ..
        } => vec![
            ("dim", ints(dims)),
            ("keepdim", SavedValue::Bool(*keepdim)),
            ("self_sym_sizes", ints(shape)),
        ],
        B::Prod {
            input,
            result,
            along,
            keepdim,
            ..
        } => match along {
            None => vec![("result", t(result)), ("self", t(input))],
            Some(d) => vec![
                ("dim", dim1(*d)),
                ("keepdim", SavedValue::Bool(*keepdim)),
                ("result", t(result)),
                ("self", t(input)),
            ],
        },
        B::ExtremeAll { input, result, .. } => vec![("result", t(result)), ("self", t(input))],
        B::ExtremeDim {
            indices,
            shape,
            dim,
            keepdim,
            ..
        } => vec![
            ("dim", dim1(*dim)),
            ("indices", t(indices)),
            ("keepdim", SavedValue::Bool(*keepdim)),
            ("self_sym_sizes", ints(shape)),
        ],
        B::Amax {
            input,
            result,
            dims,
            keepdim,
            ..
        } => vec![
            ("dim", ints(dims)),
            ("keepdim", SavedValue::Bool(*keepdim)),
            ("result", t(result)),
            ("self", t(input)),
        ],
        B::Var {
            input,
            result,
            dims,
            keepdim,
            full,
            ..
        } => {
            let mut v = vec![
                ("dim", if *full { SavedValue::None } else { ints(dims) }),
                ("keepdim", SavedValue::Bool(*keepdim)),
            ];
            if let Some(r) = result {
                v.push(("result", t(r)));
            }
            v.push(("self", t(input)));
            v
        }
        B::Norm {
            input,
            result,
            keepdim,
            p,
            ..
        } => vec![
            ("keepdim", SavedValue::Bool(*keepdim)),
            ("ord", SavedValue::Number(*p)),
            ("result", t(result)),
            ("self", t(input)),
        ],
        B::Logsumexp {
            input,
            result,
            dims,
            keepdim,
        } => vec![
            ("dim", ints(dims)),
            ("keepdim", SavedValue::Bool(*keepdim)),
            ("result", t(result)),
            ("self", t(input)),
        ],
        B::Cumsum { dim, .. } => vec![("dim", dim1(*dim))],
        B::Cumprod { input, result, dim } => vec![
            ("dim", dim1(*dim)),
            ("result", t(result)),
            ("self", t(input)),
        ],
        B::Softmax { result, dim } | B::LogSoftmax { result, dim } => {
            vec![("dim", dim1(*dim)), ("result", t(result))]
        }
        B::Scatter { dim, index } => {
            vec![
                ("dim", dim1(*dim)),
                ("index", SavedValue::Raw(index.clone())),
            ]
        }
        B::Gather { dim, index, .. } => {
            vec![
                ("dim", dim1(*dim)),
                ("index", SavedValue::Raw(index.clone())),
            ]
        }
    }
}

fn linalg_saved(b: &linalg::Backward) -> List {
    use linalg::Backward as B;
    match b {
        B::Mm { a, b } | B::Bmm { a, b } => vec![("mat2", opt(b)), ("self", opt(a))],
        B::Mv { m, v } => vec![("self", opt(m)), ("vec", opt(v))],
        B::Dot { a, b } => vec![("self", opt(a)), ("tensor", opt(b))],
        B::Addmm {
            m1,
            m2,
            beta,
            alpha,
        } => vec![
            ("alpha", SavedValue::Number(*alpha)),
            ("beta", SavedValue::Number(*beta)),
            ("mat1", opt(m1)),
            ("mat2", opt(m2)),
        ],
    }
}

fn index_saved(b: &index::Backward) -> List {
    use index::Backward as B;
    match b {
        B::Gather { dim, index, .. } | B::Scatter { dim, index, .. } => {
            vec![("dim", SavedValue::Int(*dim as i64)), ("index", t(index))]
        }
        B::MaskedFill { mask, .. } => vec![("mask", t(mask))],
        B::MaskedSelect { mask, shape } => {
            vec![("mask", t(mask)), ("self_sym_sizes", ints(shape))]
        }
        _ => Vec::new(),
    }
}

fn shape_saved(b: &shape::Backward) -> List {
    use shape::Backward as B;
    match b {
        B::View { shape } | B::UnsafeView { shape } | B::Expand { shape } => {
            vec![("self_sym_sizes", ints(shape))]
        }
        B::Transpose { dims, name } if *name == "TransposeBackward0" => vec![
            ("dim0", SavedValue::Int(dims.0 as i64)),
            ("dim1", SavedValue::Int(dims.1 as i64)),
        ],
        B::Permute { perm } => vec![("dims", ints(perm))],
        _ => Vec::new(),
    }
}
