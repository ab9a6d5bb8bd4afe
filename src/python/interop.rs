//! Sharing memory with other libraries: NumPy (`from_numpy`, `.numpy()`, `__array__`) and
//! DLPack (`__dlpack__`, `__dlpack_device__`, `from_dlpack`). Nothing here copies: an
//! exported tensor keeps its storage alive until the consumer calls the deleter, and an
//! imported array becomes a storage whose memory the producer keeps (`storage::Data`).

use super::errors::{runtime_error, type_error};
use super::tensor::PyTensor;
use crate::dtype::DType;
use crate::shape::{contiguous_strides, Dims, Layout};
use crate::storage::{Buffer, Data, Storage};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyBufferError, PyUserWarning, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ffi::{c_void, CStr};
use std::sync::Arc;

// ---- the DLPack ABI (dlpack.h, version 1.0) --------------------------------------------------

const KDL_CPU: i32 = 1;
const KDL_INT: u8 = 0;
const KDL_FLOAT: u8 = 2;
const KDL_BOOL: u8 = 6;
const FLAG_READ_ONLY: u64 = 1;

const DLTENSOR: &CStr = c"dltensor";
const USED_DLTENSOR: &CStr = c"used_dltensor";
const VERSIONED: &CStr = c"dltensor_versioned";
const USED_VERSIONED: &CStr = c"used_dltensor_versioned";

#[repr(C)]
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
struct DLPackVersion {
    major: u32,
    minor: u32,
}

#[repr(C)]
struct DLManagedTensorVersioned {
    version: DLPackVersion,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    flags: u64,
    dl_tensor: DLTensor,
}

fn dl_dtype(d: DType) -> DLDataType {
    let (code, bits) = match d {
        DType::Bool => (KDL_BOOL, 8),
        DType::I64 => (KDL_INT, 64),
        DType::F32 => (KDL_FLOAT, 32),
        DType::F64 => (KDL_FLOAT, 64),
    };
    DLDataType {
        code,
        bits,
        lanes: 1,
    }
}

// ---- export -----------------------------------------------------------------------------------

/// What a capsule's pointer points at: the DLPack struct first (so the pointer is both), then
/// what keeps the memory and the shape arrays alive until the consumer's deleter runs.
#[repr(C)]
struct Export<M> {
    managed: M,
    _tensor: Tensor,
    shape: Vec<i64>,
    strides: Vec<i64>,
}

unsafe extern "C" fn delete_unversioned(p: *mut DLManagedTensor) {
    if !p.is_null() {
        // SAFETY: `p` came from `Box::into_raw` of this type in `export`.
        drop(unsafe { Box::from_raw(p as *mut Export<DLManagedTensor>) });
    }
}

unsafe extern "C" fn delete_versioned(p: *mut DLManagedTensorVersioned) {
    if !p.is_null() {
        // SAFETY: as above.
        drop(unsafe { Box::from_raw(p as *mut Export<DLManagedTensorVersioned>) });
    }
}

/// A capsule nobody consumed still owns its tensor; a consumed one was renamed `used_*`.
unsafe extern "C" fn capsule_destructor(capsule: *mut ffi::PyObject) {
    // SAFETY: `PyCapsule_IsValid` accepts any object and sets no exception.
    unsafe {
        if ffi::PyCapsule_IsValid(capsule, DLTENSOR.as_ptr()) == 1 {
            let p = ffi::PyCapsule_GetPointer(capsule, DLTENSOR.as_ptr()) as *mut DLManagedTensor;
            if let Some(d) = p.as_ref().and_then(|m| m.deleter) {
                d(p);
            }
        } else if ffi::PyCapsule_IsValid(capsule, VERSIONED.as_ptr()) == 1 {
            let p = ffi::PyCapsule_GetPointer(capsule, VERSIONED.as_ptr())
                as *mut DLManagedTensorVersioned;
            if let Some(d) = p.as_ref().and_then(|m| m.deleter) {
                d(p);
            }
        }
    }
}

fn dl_tensor_of(t: &Tensor, shape: &mut [i64], strides: &mut [i64]) -> DLTensor {
    let data = t.storage().as_ptr() as usize + t.layout().offset * t.dtype().size_of();
    DLTensor {
        data: data as *mut c_void,
        device: DLDevice {
            device_type: KDL_CPU,
            device_id: 0,
        },
        ndim: shape.len() as i32,
        dtype: dl_dtype(t.dtype()),
        shape: shape.as_mut_ptr(),
        strides: strides.as_mut_ptr(),
        byte_offset: 0,
    }
}

fn dims_i64(d: &[usize]) -> PyResult<Vec<i64>> {
    d.iter()
        .map(|&x| i64::try_from(x).map_err(|_| PyBufferError::new_err("dimension too large")))
        .collect()
}

/// A DLPack capsule for `t` (a legacy `dltensor` or, when `versioned`, `dltensor_versioned`).
fn export(py: Python<'_>, t: Tensor, versioned: bool) -> PyResult<PyObject> {
    let shape = dims_i64(t.shape())?;
    let strides = dims_i64(&t.layout().strides)?;
    let (ptr, name): (*mut c_void, &CStr) = if versioned {
        let mut b = Box::new(Export {
            managed: DLManagedTensorVersioned {
                version: DLPackVersion { major: 1, minor: 0 },
                manager_ctx: std::ptr::null_mut(),
                deleter: Some(delete_versioned),
                flags: 0,
                dl_tensor: dl_tensor_of(&t, &mut [], &mut []),
            },
            _tensor: t,
            shape,
            strides,
        });
        let Export {
            managed,
            _tensor,
            shape,
            strides,
        } = &mut *b;
        managed.dl_tensor = dl_tensor_of(_tensor, shape, strides);
        let p = Box::into_raw(b);
        // SAFETY: `p` is a live box; `manager_ctx` is informational.
        unsafe { (*p).managed.manager_ctx = p as *mut c_void };
        (p as *mut c_void, VERSIONED)
    } else {
        let mut b = Box::new(Export {
            managed: DLManagedTensor {
                dl_tensor: dl_tensor_of(&t, &mut [], &mut []),
                manager_ctx: std::ptr::null_mut(),
                deleter: Some(delete_unversioned),
            },
            _tensor: t,
            shape,
            strides,
        });
        let Export {
            managed,
            _tensor,
            shape,
            strides,
        } = &mut *b;
        managed.dl_tensor = dl_tensor_of(_tensor, shape, strides);
        let p = Box::into_raw(b);
        // SAFETY: as above.
        unsafe { (*p).managed.manager_ctx = p as *mut c_void };
        (p as *mut c_void, DLTENSOR)
    };
    // SAFETY: a capsule over our pointer; on failure we free the export ourselves.
    unsafe {
        let cap = ffi::PyCapsule_New(ptr, name.as_ptr(), Some(capsule_destructor));
        if cap.is_null() {
            if versioned {
                delete_versioned(ptr as *mut DLManagedTensorVersioned);
            } else {
                delete_unversioned(ptr as *mut DLManagedTensor);
            }
            return Err(PyErr::fetch(py));
        }
        Ok(PyObject::from_owned_ptr(py, cap))
    }
}

#[pymethods]
impl PyTensor {
    #[pyo3(signature = (*, stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__(
        &self,
        py: Python<'_>,
        stream: Option<&Bound<'_, PyAny>>,
        max_version: Option<(u32, u32)>,
        dl_device: Option<(i32, i32)>,
        copy: Option<bool>,
    ) -> PyResult<PyObject> {
        if let Some(s) = stream {
            if !s.is_none() && s.extract::<i64>().is_err() {
                return Err(type_error("stream must be ``int`` or ``none``"));
            }
        }
        if self.tensor.requires_grad() {
            return Err(PyBufferError::new_err(
                "Can't export tensors that require gradient, use tensor.detach()",
            ));
        }
        if let Some((kind, _)) = dl_device {
            if kind != KDL_CPU {
                return Err(PyBufferError::new_err(format!(
                    "ferrograd tensors live on the CPU (kDLCPU = 1); cannot export to device type {kind}"
                )));
            }
        }
        let t = if copy == Some(true) {
            crate::kernels::cast(&self.tensor, self.tensor.dtype())?
        } else {
            self.tensor.detach()
        };
        let versioned = matches!(max_version, Some((major, _)) if major >= 1);
        export(py, t, versioned)
    }

    fn __dlpack_device__(&self) -> (i32, i32) {
        (KDL_CPU, 0)
    }

    /// The tensor as a NumPy array sharing its memory (`force=True`: a detached copy).
    #[pyo3(signature = (*, force=false))]
    fn numpy(&self, py: Python<'_>, force: bool) -> PyResult<PyObject> {
        let t = if force {
            crate::kernels::cast(&self.tensor.detach(), self.tensor.dtype())?
        } else {
            if self.tensor.requires_grad() {
                return Err(runtime_error("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."));
            }
            self.tensor.detach()
        };
        let np = py.import("numpy")?;
        Ok(np
            .call_method1("from_dlpack", (PyTensor::new(t),))?
            .unbind())
    }

    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__(
        &self,
        py: Python<'_>,
        dtype: Option<&Bound<'_, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<PyObject> {
        let arr = self.numpy(py, false)?.into_bound(py);
        let kwargs = PyDict::new(py);
        kwargs.set_item("copy", copy == Some(true))?;
        match dtype {
            Some(d) if !d.is_none() => Ok(arr.call_method("astype", (d,), Some(&kwargs))?.unbind()),
            _ if copy == Some(true) => Ok(arr.call_method0("copy")?.unbind()),
            _ => Ok(arr.unbind()),
        }
    }
}

// ---- import -----------------------------------------------------------------------------------

/// Keeps a DLPack producer's memory alive; dropping it calls the producer's deleter.
enum DlOwner {
    Legacy(*mut DLManagedTensor),
    Versioned(*mut DLManagedTensorVersioned),
}

// SAFETY: DLPack requires deleters to be callable from any thread.
unsafe impl Send for DlOwner {}
unsafe impl Sync for DlOwner {}

impl Drop for DlOwner {
    fn drop(&mut self) {
        // SAFETY: the pointers came from consumed capsules, whose deleters we now own.
        unsafe {
            match *self {
                DlOwner::Legacy(p) => {
                    if let Some(d) = (*p).deleter {
                        d(p)
                    }
                }
                DlOwner::Versioned(p) => {
                    if let Some(d) = (*p).deleter {
                        d(p)
                    }
                }
            }
        }
    }
}

/// What a borrowed block of memory looks like once checked: dtype, layout in elements, and
/// how many elements from the first one it spans.
struct Borrowed {
    dtype: DType,
    shape: Dims,
    strides: Dims,
    span: usize,
}

fn span_of(shape: &[usize], strides: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().zip(strides).try_fold(1usize, |acc, (&d, &s)| {
        acc.checked_add((d - 1).checked_mul(s)?)
    })
}

/// A tensor over `ptr`, kept alive by `owner`.
///
/// # Safety
/// `ptr` must point at memory valid for `b.span` elements of `b.dtype` for as long as
/// `owner` lives (the producer's promise in DLPack and NumPy's array interface).
unsafe fn borrow(ptr: usize, b: Borrowed, owner: Box<dyn Send + Sync>) -> PyResult<Tensor> {
    if b.span > 0 && (ptr == 0 || !ptr.is_multiple_of(b.dtype.size_of())) {
        return Err(PyBufferError::new_err(format!(
            "cannot share memory at address {ptr:#x}: it is not aligned for {} elements",
            b.dtype
        )));
    }
    let buf = unsafe {
        match b.dtype {
            DType::Bool => Buffer::Bool(Data::foreign(ptr as *mut bool, b.span, owner)),
            DType::I64 => Buffer::I64(Data::foreign(ptr as *mut i64, b.span, owner)),
            DType::F32 => Buffer::F32(Data::foreign(ptr as *mut f32, b.span, owner)),
            DType::F64 => Buffer::F64(Data::foreign(ptr as *mut f64, b.span, owner)),
        }
    };
    let layout = Layout {
        shape: b.shape,
        strides: b.strides,
        offset: 0,
    };
    Ok(Tensor::from_storage(Arc::new(Storage::new(buf)), layout)?)
}

/// Checks a producer's DLTensor and returns its data address and layout.
///
/// # Safety
/// `t` must be a valid DLTensor (its shape/strides arrays hold `ndim` entries).
unsafe fn check_dl(t: &DLTensor) -> PyResult<(usize, Borrowed)> {
    if t.device.device_type != KDL_CPU {
        return Err(PyBufferError::new_err(format!(
            "ferrograd.from_dlpack: only CPU memory (kDLCPU = 1) can be shared, got device type {}",
            t.device.device_type
        )));
    }
    let dt = &t.dtype;
    let dtype = match (dt.code, dt.bits, dt.lanes) {
        (KDL_FLOAT, 32, 1) => DType::F32,
        (KDL_FLOAT, 64, 1) => DType::F64,
        (KDL_INT, 64, 1) => DType::I64,
        (KDL_BOOL, 8, 1) => DType::Bool,
        (code, bits, lanes) => {
            return Err(PyBufferError::new_err(format!(
                "ferrograd.from_dlpack: unsupported DLPack dtype (code {code}, bits {bits}, lanes {lanes}); \
                 the supported types are float64, float32, int64 and bool"
            )))
        }
    };
    let ndim = usize::try_from(t.ndim)
        .map_err(|_| PyBufferError::new_err("from_dlpack: negative ndim"))?;
    let read = |p: *mut i64, what: &str| -> PyResult<Dims> {
        if ndim == 0 {
            return Ok(Dims::new());
        }
        // SAFETY: the caller's contract.
        let v = unsafe { std::slice::from_raw_parts(p, ndim) };
        v.iter()
            .map(|&x| {
                usize::try_from(x).map_err(|_| {
                    PyBufferError::new_err(format!(
                        "ferrograd.from_dlpack: negative {what} ({x}) are not supported"
                    ))
                })
            })
            .collect()
    };
    if ndim > 0 && t.shape.is_null() {
        return Err(PyBufferError::new_err(
            "from_dlpack: the DLTensor has no shape",
        ));
    }
    let shape = read(t.shape, "sizes")?;
    let strides = if t.strides.is_null() {
        contiguous_strides(&shape)
    } else {
        read(t.strides, "strides")?
    };
    let span = span_of(&shape, &strides)
        .ok_or_else(|| PyBufferError::new_err("from_dlpack: the DLTensor's extent overflows"))?;
    let ptr = (t.data as usize)
        .checked_add(t.byte_offset as usize)
        .ok_or_else(|| PyBufferError::new_err("from_dlpack: the data address overflows"))?;
    Ok((
        ptr,
        Borrowed {
            dtype,
            shape,
            strides,
            span,
        },
    ))
}

/// Takes ownership of a DLPack capsule (renaming it `used_*`, as the protocol requires).
#[pyfunction]
pub fn _from_dlpack_capsule(py: Python<'_>, capsule: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let obj = capsule.as_ptr();
    // SAFETY: capsule pointers are checked by name before use; a capsule we fail on keeps
    // ownership (its own destructor frees it), one we take is renamed before we return.
    unsafe {
        if ffi::PyCapsule_IsValid(obj, VERSIONED.as_ptr()) == 1 {
            let p =
                ffi::PyCapsule_GetPointer(obj, VERSIONED.as_ptr()) as *mut DLManagedTensorVersioned;
            let m = &*p;
            if m.version.major > 1 {
                return Err(PyBufferError::new_err(format!(
                    "from_dlpack: DLPack version {}.{} is newer than the supported 1.x",
                    m.version.major, m.version.minor
                )));
            }
            let (ptr, b) = check_dl(&m.dl_tensor)?;
            if m.flags & FLAG_READ_ONLY != 0 {
                warn_read_only(py)?;
            }
            let t = borrow(ptr, b, Box::new(DlOwner::Versioned(p)))?;
            ffi::PyCapsule_SetName(obj, USED_VERSIONED.as_ptr());
            Ok(PyTensor::new(t))
        } else if ffi::PyCapsule_IsValid(obj, DLTENSOR.as_ptr()) == 1 {
            let p = ffi::PyCapsule_GetPointer(obj, DLTENSOR.as_ptr()) as *mut DLManagedTensor;
            let (ptr, b) = check_dl(&(*p).dl_tensor)?;
            let t = borrow(ptr, b, Box::new(DlOwner::Legacy(p)))?;
            ffi::PyCapsule_SetName(obj, USED_DLTENSOR.as_ptr());
            Ok(PyTensor::new(t))
        } else {
            Err(runtime_error(
                "from_dlpack received an invalid capsule. Note that DLTensor capsules can be \
                 consumed only once, so you might have already constructed a tensor from it once.",
            ))
        }
    }
}

fn warn_read_only(py: Python<'_>) -> PyResult<()> {
    PyErr::warn(
        py,
        &py.get_type::<PyUserWarning>(),
        c"The given NumPy array is not writable, and PyTorch does not support non-writable tensors. This means writing to this tensor will result in undefined behavior. You may want to copy the array to protect its data or make it writable before converting it to a tensor.",
        1,
    )
}

/// `from_numpy`: a tensor sharing an ndarray's memory, read through its array interface.
#[pyfunction]
pub fn from_numpy(py: Python<'_>, ndarray: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    Ok(PyTensor::new(borrow_ndarray(py, ndarray, true)?))
}

/// A tensor over an ndarray's memory (`warn`: about read-only arrays, as `from_numpy` does).
pub fn borrow_ndarray(py: Python<'_>, ndarray: &Bound<'_, PyAny>, warn: bool) -> PyResult<Tensor> {
    let np = py.import("numpy")?;
    if !ndarray.is_instance(&np.getattr("ndarray")?)? {
        return Err(type_error(format!(
            "expected np.ndarray (got {})",
            ndarray.get_type().name()?
        )));
    }
    let np_dtype = ndarray.getattr("dtype")?;
    let kind: String = np_dtype.getattr("name")?.extract()?;
    let dtype = match kind.as_str() {
        "float64" => DType::F64,
        "float32" => DType::F32,
        "int64" => DType::I64,
        "bool" => DType::Bool,
        _ => {
            let ty = np_dtype.getattr("type")?;
            return Err(type_error(format!(
                "can't convert np.ndarray of type {}.{}. The only supported types are: \
                 float64, float32, int64, and bool.",
                ty.getattr("__module__")?
                    .extract::<String>()?
                    .replace("numpy._core", "numpy"),
                ty.getattr("__name__")?.extract::<String>()?
            )));
        }
    };
    if !np_dtype.getattr("isnative")?.extract::<bool>()? {
        return Err(PyValueError::new_err(
            "given numpy array has byte order different from the native byte order. Conversion \
             between byte orders is currently not supported.",
        ));
    }
    let iface = ndarray.getattr("__array_interface__")?;
    let (ptr, read_only): (usize, bool) = iface.get_item("data")?.extract()?;
    let shape: Vec<usize> = iface.get_item("shape")?.extract()?;
    let itemsize = dtype.size_of();
    // `.strides`, not the interface's (None when contiguous): PyTorch keeps an empty
    // array's strides too.
    let bytes: Vec<isize> = ndarray.getattr("strides")?.extract()?;
    if bytes.iter().any(|&b| b < 0) {
        return Err(PyValueError::new_err(
            "At least one stride in the given numpy array is negative, and tensors with \
             negative strides are not currently supported. (You can probably work around \
             this by making a copy of your array  with array.copy().) ",
        ));
    }
    if bytes
        .iter()
        .any(|&b| !(b as usize).is_multiple_of(itemsize))
    {
        return Err(PyValueError::new_err(
            "given numpy array strides not a multiple of the element byte size. Copy \
             the numpy array to reallocate the memory.",
        ));
    }
    let strides: Dims = bytes.iter().map(|&b| b as usize / itemsize).collect();
    let span = span_of(&shape, &strides)
        .ok_or_else(|| PyValueError::new_err("from_numpy: the array's extent overflows"))?;
    if read_only && warn {
        warn_read_only(py)?;
    }
    let b = Borrowed {
        dtype,
        shape: shape.into_iter().collect(),
        strides,
        span,
    };
    let owner: Py<PyAny> = ndarray.clone().unbind();
    // SAFETY: NumPy's array interface promises `span` elements at `ptr` while the array lives.
    unsafe { borrow(ptr, b, Box::new(owner)) }
}
