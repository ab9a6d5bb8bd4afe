//! The one place where core errors become Python exceptions: each `ErrorKind` maps to the
//! exception class PyTorch raises, and the message is the core's (PyTorch's wording).

use crate::error::{Error, ErrorKind};
use pyo3::exceptions::{PyIndexError, PyOverflowError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        let msg = e.to_string();
        match e.kind() {
            ErrorKind::Runtime => PyRuntimeError::new_err(msg),
            ErrorKind::Index => PyIndexError::new_err(msg),
            ErrorKind::Type => PyTypeError::new_err(msg),
            ErrorKind::Value => PyValueError::new_err(msg),
            ErrorKind::Overflow => PyOverflowError::new_err(msg),
        }
    }
}

pub fn type_error(msg: impl Into<String>) -> PyErr {
    PyTypeError::new_err(msg.into())
}

pub fn runtime_error(msg: impl Into<String>) -> PyErr {
    PyRuntimeError::new_err(msg.into())
}
