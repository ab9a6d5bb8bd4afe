//! One error type for the whole core. Every fallible path returns `Result<T>`; nothing that
//! comes from Python may panic. Each variant knows which Python exception PyTorch raises for
//! it (`Error::kind`), and its `Display` is PyTorch's wording, so the binding layer maps
//! errors without re-formatting them.

use crate::dtype::DType;

/// The Python exception an error becomes (see `python/errors.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Runtime,
    Index,
    Type,
    Value,
    Overflow,
    /// NotImplementedError (a subclass of RuntimeError, as in PyTorch).
    NotImplemented,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension {dim}")]
    BroadcastMismatch { a: usize, b: usize, dim: usize },

    #[error("Dimension out of range (expected to be in range of [{min}, {max}], but got {got})")]
    DimOutOfRange { min: i64, max: i64, got: i64 },

    #[error("shape '{shape}' is invalid for input of size {numel}")]
    InvalidShape { shape: String, numel: usize },

    #[error("view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.")]
    InvalidView,

    #[error("only Tensors of floating point and complex dtype can require gradients")]
    NonFloatRequiresGrad,

    #[error("grad can be implicitly created only for scalar outputs")]
    ImplicitGradNonScalar,

    #[error("element {0} of tensors does not require grad and does not have a grad_fn")]
    NoGradFn(usize),

    #[error("Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.")]
    BackwardTwice,

    #[error("one of the variables needed for gradient computation has been modified by an inplace operation: [{type_name} [{shape}]]{origin} is at version {found}; expected version {expected} instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")]
    ModifiedByInplace {
        type_name: &'static str,
        shape: String,
        origin: String,
        found: u64,
        expected: u64,
    },

    #[error("a leaf Variable that requires grad is being used in an in-place operation.")]
    InplaceOnLeaf,

    #[error(
        "result type {} can't be cast to the desired output type {}",
        .result.type_word(),
        .out.type_word()
    )]
    InplaceCast { result: DType, out: DType },

    #[error("a Tensor with {0} elements cannot be converted to Scalar")]
    ItemNonScalar(usize),

    /// PyTorch's NotImplementedError (a RuntimeError subclass), e.g. a kernel that has no
    /// version for a dtype: `"linspace_cpu" not implemented for 'Bool'`.
    #[error("\"{op}\" not implemented for '{type_word}'")]
    NotImplementedFor {
        op: &'static str,
        type_word: &'static str,
    },

    /// PyTorch's NotImplementedError with a message of its own, e.g. "Boolean inputs not
    /// supported for relu" or the refusal to negate a bool tensor.
    #[error("{0}")]
    NotImplemented(String),

    /// An error in backward with anomaly mode on; `trace` is the forward stack of the node.
    #[error("{message}")]
    Anomaly {
        message: String,
        node: &'static str,
        trace: Option<std::sync::Arc<str>>,
    },

    /// An exception raised by user code (a hook, a custom Function) inside the engine; the
    /// bindings hand the original exception back to Python unchanged.
    #[error("an exception was raised in user code during backward")]
    External(std::sync::Arc<dyn std::any::Any + Send + Sync>),

    #[error("{0}")]
    Runtime(String),
    #[error("{0}")]
    Index(String),
    #[error("{0}")]
    Type(String),
    #[error("{0}")]
    Value(String),
    #[error("{0}")]
    Overflow(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::DimOutOfRange { .. } | Error::Index(_) => ErrorKind::Index,
            Error::Type(_) => ErrorKind::Type,
            Error::Value(_) => ErrorKind::Value,
            Error::Overflow(_) => ErrorKind::Overflow,
            Error::NotImplementedFor { .. } | Error::NotImplemented(_) => ErrorKind::NotImplemented,
            _ => ErrorKind::Runtime,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Early-return a `Error::Runtime` with a formatted message.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::Runtime(format!($($arg)*)))
    };
}
