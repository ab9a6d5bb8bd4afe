//! Autograd modes. Grad mode and inference mode are thread-local, like PyTorch's (each
//! thread starts with grad enabled); anomaly mode is process-wide, as in PyTorch.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static INFERENCE_MODE: Cell<bool> = const { Cell::new(false) };
}

static ANOMALY: AtomicBool = AtomicBool::new(false);

/// Supplies the current (Python) stack as text, for anomaly mode; set by the bindings.
static TRACE_PROVIDER: OnceLock<fn() -> Option<String>> = OnceLock::new();

pub fn is_anomaly_enabled() -> bool {
    ANOMALY.load(Ordering::Relaxed)
}

pub fn set_anomaly_enabled(enabled: bool) {
    ANOMALY.store(enabled, Ordering::Relaxed);
}

pub fn set_trace_provider(f: fn() -> Option<String>) {
    let _ = TRACE_PROVIDER.set(f);
}

/// The forward stack to remember in a new node, when anomaly mode is on.
pub fn forward_trace() -> Option<Arc<str>> {
    if !is_anomaly_enabled() {
        return None;
    }
    TRACE_PROVIDER.get().and_then(|f| f()).map(Arc::from)
}

pub fn is_inference_mode_enabled() -> bool {
    INFERENCE_MODE.with(|g| g.get())
}

pub fn set_inference_mode(enabled: bool) {
    INFERENCE_MODE.with(|g| g.set(enabled));
}

#[inline]
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

pub fn set_grad_enabled(enabled: bool) {
    GRAD_ENABLED.with(|g| g.set(enabled));
}

/// Sets grad mode for a scope and restores the previous mode when dropped.
pub struct GradModeGuard {
    previous: bool,
}

impl GradModeGuard {
    pub fn new(enabled: bool) -> GradModeGuard {
        let previous = is_grad_enabled();
        set_grad_enabled(enabled);
        GradModeGuard { previous }
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.previous);
    }
}
