//! Autograd: the arena that holds the backward graph (`graph`), the engine that runs it
//! (`engine`) and the thread-local grad mode (`mode`).

pub mod engine;
pub mod graph;
pub mod hooks;
pub mod mode;

pub use engine::{backward, backward_into, grad};
pub use graph::{live_nodes, NodeRef};
pub use mode::{is_grad_enabled, set_grad_enabled, GradModeGuard};

#[cfg(test)]
mod tests;
