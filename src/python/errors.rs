//! The one place where core errors become Python exceptions: each `ErrorKind` maps to the
//! exception class PyTorch raises, and the message is the core's (PyTorch's wording).

use crate::error::{Error, ErrorKind};
use pyo3::exceptions::{
    PyIndexError, PyNotImplementedError, PyOverflowError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::PyErr;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        // An exception raised by user code inside the engine goes back unchanged.
        if let Error::External(payload) = &e {
            if let Some(err) = payload.downcast_ref::<PyErr>() {
                return Python::with_gil(|py| err.clone_ref(py));
            }
        }
        // Anomaly mode: warn with the forward stack of the failing node, as PyTorch does.
        if let Error::Anomaly {
            node,
            trace: Some(trace),
            ..
        } = &e
        {
            Python::with_gil(|py| {
                let msg = format!("Error detected in {node}. Traceback of forward call that caused the error:\n{trace}");
                let _ = PyErr::warn(
                    py,
                    &py.get_type::<pyo3::exceptions::PyUserWarning>(),
                    &std::ffi::CString::new(msg).unwrap_or_default(),
                    1,
                );
            });
        }
        let msg = e.to_string();
        match e.kind() {
            ErrorKind::Runtime => PyRuntimeError::new_err(msg),
            ErrorKind::Index => PyIndexError::new_err(msg),
            ErrorKind::Type => PyTypeError::new_err(msg),
            ErrorKind::Value => PyValueError::new_err(msg),
            ErrorKind::Overflow => PyOverflowError::new_err(msg),
            ErrorKind::NotImplemented => PyNotImplementedError::new_err(msg),
        }
    }
}

pub fn type_error(msg: impl Into<String>) -> PyErr {
    PyTypeError::new_err(msg.into())
}

pub fn runtime_error(msg: impl Into<String>) -> PyErr {
    PyRuntimeError::new_err(msg.into())
}
