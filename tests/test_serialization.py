"""``ferrograd.save`` / ``ferrograd.load``: round trips of tensors and state dicts, the open
``.npz`` layout, and damaged or hostile files (always a ``RuntimeError``, never code)."""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections import OrderedDict

import ferrograd
import ferrograd.nn as nn
import numpy as np
import pytest
from ferrograd import optim
from hypothesis import given
from hypothesis import strategies as st


def _roundtrip(obj):
    buf = io.BytesIO()
    ferrograd.save(obj, buf)
    buf.seek(0)
    return ferrograd.load(buf)


def test_tensors_of_every_dtype_and_shape(tmp_path):
    tensors = {
        "f32": ferrograd.randn(3, 4),
        "f64": ferrograd.randn(2, dtype=ferrograd.float64),
        "i64": ferrograd.arange(6).reshape(2, 3),
        "bool": ferrograd.tensor([True, False]),
        "scalar": ferrograd.tensor(2.5),
        "empty": ferrograd.zeros(0, 3),
        "strided": ferrograd.arange(12, dtype=ferrograd.float32).reshape(3, 4).t(),
    }
    path = tmp_path / "t.npz"
    ferrograd.save(tensors, path)
    back = ferrograd.load(path)
    assert list(back) == list(tensors)
    for k, t in tensors.items():
        assert back[k].dtype == t.dtype and back[k].shape == t.shape
        assert back[k].tolist() == t.tolist()
    single = _roundtrip(ferrograd.ones(2, requires_grad=True))
    assert single.requires_grad and single.is_leaf


def test_nested_containers_and_numbers():
    obj = {
        "list": [1, 2.5, True, None, "x", (3, ferrograd.ones(1))],
        "inf": math.inf,
        "nan": math.nan,
        1: {"nested": OrderedDict(a=ferrograd.zeros(2))},
        "dtype": ferrograd.float64,
    }
    back = _roundtrip(obj)
    assert back["list"][:5] == [1, 2.5, True, None, "x"] and isinstance(back["list"][5], tuple)
    assert back["inf"] == math.inf and math.isnan(back["nan"])
    assert isinstance(back[1]["nested"], OrderedDict) and back["dtype"] == ferrograd.float64
    assert type(back["list"][0]) is int and type(back["list"][2]) is bool


def test_module_and_optimizer_state_dicts():
    ferrograd.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(ferrograd.randn(5, 3)).sum().backward()
    opt.step()
    blob = _roundtrip({"model": model.state_dict(), "optim": opt.state_dict()})
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(blob["model"])
    for (k, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert a.tolist() == b.tolist(), k
    opt2 = optim.Adam(other.parameters(), lr=0.01)
    opt2.load_state_dict(blob["optim"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    assert list(blob["optim"]["state"]) == [0, 1, 2, 3, 4, 5]
    p = _roundtrip(nn.Parameter(ferrograd.ones(2)))
    assert isinstance(p, nn.Parameter) and p.requires_grad


def test_the_file_is_plain_numpy(tmp_path):
    path = tmp_path / "w.npz"
    ferrograd.save({"w": ferrograd.tensor([[1.0, 2.0]])}, path)
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(z["__ferrograd__"].tobytes())
        assert header["format"] == "ferrograd" and header["version"] == 1
        assert header["root"]["type"] == "dict"
        np.testing.assert_array_equal(z["t0"], [[1.0, 2.0]])
        assert z["t0"].dtype == np.float32


def test_unsupported_objects_are_refused():
    with pytest.raises(TypeError, match="cannot save an object of type object"):
        ferrograd.save(object(), io.BytesIO())


def _valid_bytes():
    buf = io.BytesIO()
    ferrograd.save({"a": ferrograd.arange(100, dtype=ferrograd.float32), "b": [1, 2]}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("cut", [0, 1, 10, 100, 300, -200, -22, -1])
def test_truncated_files_raise(cut):
    data = _valid_bytes()[:cut]
    with pytest.raises(RuntimeError, match="not a valid ferrograd save file or is truncated"):
        ferrograd.load(io.BytesIO(data))


def test_corrupt_files_raise(tmp_path):
    rng = np.random.default_rng(0)
    garbage = rng.integers(0, 256, size=500, dtype=np.uint8).tobytes()
    with pytest.raises(RuntimeError):
        ferrograd.load(io.BytesIO(garbage))
    data = bytearray(_valid_bytes())
    for pos in range(40, len(data), 97):  # flipped bytes anywhere: an error, never a crash
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        try:
            ferrograd.load(io.BytesIO(bytes(bad)))
        except RuntimeError:
            pass


def _load_or_runtime_error(data):
    """Loading damaged bytes gives a value or a RuntimeError: never another error, a crash,
    or code execution."""
    try:
        ferrograd.load(io.BytesIO(data))
    except RuntimeError as e:
        assert "is not a valid ferrograd save file or is truncated" in str(e)


@given(st.binary(max_size=2000))
def test_random_bytes_raise_a_clear_error(data):
    _load_or_runtime_error(data)
    _load_or_runtime_error(b"PK\x03\x04" + data)  # a zip's magic, then garbage


@given(st.data())
def test_damaged_valid_files_raise_a_clear_error(data):
    raw = bytearray(_valid_bytes())
    cut = data.draw(st.integers(0, len(raw)))
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)), max_size=8)
    )
    for pos, mask in flips:
        raw[pos] ^= mask
    _load_or_runtime_error(bytes(raw[:cut]))
    _load_or_runtime_error(bytes(raw))


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    return buf


def _header(root):
    return np.frombuffer(
        json.dumps({"format": "ferrograd", "version": 1, "root": root}).encode(), dtype=np.uint8
    )


def test_hostile_files_never_unpickle():
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle ran')",))

    pickled = io.BytesIO()
    np.savez(
        pickled,
        __ferrograd__=_header({"type": "tensor", "key": "t0"}),
        t0=np.array([Boom()], dtype=object),
    )
    pickled.seek(0)
    with pytest.raises(RuntimeError, match="not a valid ferrograd save file"):
        ferrograd.load(pickled)
    cases = [
        _npz(t0=np.zeros(2)),  # no header
        _npz(__ferrograd__=np.frombuffer(b"{not json", dtype=np.uint8)),
        _npz(__ferrograd__=_header({"type": "tensor", "key": "missing"})),
        _npz(__ferrograd__=_header({"type": "weird"})),
        _npz(
            __ferrograd__=_header(
                {"type": "dict", "items": [[{"type": "list", "items": []}, {"type": "none"}]]}
            )
        ),
        _npz(
            __ferrograd__=_header({"type": "tensor", "key": "t0"}),
            t0=np.zeros(2, dtype=np.complex64),
        ),
        _npz(__ferrograd__=_header({"type": "int", "value": "1"})),
    ]
    for f in cases:
        with pytest.raises(RuntimeError):
            ferrograd.load(f)
    deep = {"type": "list", "items": []}
    for _ in range(5000):
        deep = {"type": "list", "items": [deep]}
    with pytest.raises(RuntimeError):
        ferrograd.load(_npz(__ferrograd__=_header_raw(deep)))


def _header_raw(root):
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100000)
    try:
        return _header(root)
    finally:
        sys.setrecursionlimit(old)


def test_not_a_zip_and_missing_file(tmp_path):
    path = tmp_path / "x.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(RuntimeError):
        ferrograd.load(path)
    with pytest.raises(FileNotFoundError):
        ferrograd.load(tmp_path / "nope.npz")
