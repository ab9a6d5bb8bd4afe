//! ferrograd: a PyTorch-compatible eager autograd library.
//!
//! The pure-Rust core (this crate's rlib) is usable and tested without Python:
//! - `dtype`, `shape`, `storage`, `tensor`: data types, layouts, shared buffers, tensors;
//! - `kernels`: loops over storage + layout (sequential below a threshold, on the thread team
//!   above);
//! - `ops`: differentiable operations, each forward beside its backward rule;
//! - `autograd`: the arena-allocated backward graph, the engine and grad mode.
//!
//! The Python extension module `ferrograd._C` lives in `python/` behind the `python` feature.

pub mod autograd;
pub mod dtype;
pub mod error;
pub mod kernels;
pub mod ops;
pub mod random;
pub mod shape;
pub mod storage;
pub mod tensor;

#[cfg(feature = "python")]
mod python;

pub use dtype::{DType, Scalar};
pub use error::{Error, Result};
pub use tensor::Tensor;
