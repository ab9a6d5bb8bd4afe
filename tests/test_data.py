"""``ferrograd.utils.data``: datasets, samplers, ``DataLoader`` and ``default_collate``."""

from __future__ import annotations

from collections import namedtuple

import ferrograd
import numpy as np
import pytest
from ferrograd.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


def _dataset(n=10):
    x = ferrograd.arange(n * 2, dtype=ferrograd.float32).reshape(n, 2)
    y = ferrograd.arange(n)
    return TensorDataset(x, y)


def test_tensor_dataset():
    ds = _dataset()
    assert len(ds) == 10
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(ferrograd.ones(3), ferrograd.ones(4))


def test_sequential_batches_and_drop_last():
    ds = _dataset()
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 2) and isinstance(batches[0], list)
    assert len(DataLoader(ds, batch_size=4)) == 3
    dl = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dl) == 2 and [b[1].tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_is_a_permutation_and_reproducible():
    ds = _dataset(50)
    ferrograd.manual_seed(0)
    first = [b[1].tolist() for b in DataLoader(ds, batch_size=7, shuffle=True)]
    flat = sum(first, [])
    assert sorted(flat) == list(range(50)) and flat != list(range(50))
    ferrograd.manual_seed(0)
    again = [b[1].tolist() for b in DataLoader(ds, batch_size=7, shuffle=True)]
    assert again == first
    dl = DataLoader(ds, batch_size=50, shuffle=True)
    e1, e2 = next(iter(dl))[1].tolist(), next(iter(dl))[1].tolist()
    assert e1 != e2  # a new order each epoch


class _Gen:
    """Anything with ``initial_seed()`` seeds the shuffle (e.g. ``torch.Generator``)."""

    def __init__(self, seed):
        self.seed = seed

    def initial_seed(self):
        return self.seed


def test_generator_seeds_the_shuffle():
    ds = _dataset(30)
    a = [b[1].tolist() for b in DataLoader(ds, batch_size=30, shuffle=True, generator=_Gen(3))]
    b = [b[1].tolist() for b in DataLoader(ds, batch_size=30, shuffle=True, generator=_Gen(3))]
    c = [b[1].tolist() for b in DataLoader(ds, batch_size=30, shuffle=True, generator=_Gen(4))]
    assert a == b and a != c


def _epochs(loader, n=3):
    return [[i for b in loader for i in b[1].tolist()] for _ in range(n)]


def test_ferrograd_generator_reproduces_runs():
    ds = _dataset(40)

    def run(seed):
        g = ferrograd.Generator().manual_seed(seed)
        return _epochs(DataLoader(ds, batch_size=8, shuffle=True, generator=g))

    first = run(11)
    assert first == run(11) and first != run(12)
    assert len({tuple(e) for e in first}) == 3  # each epoch a new order
    assert all(sorted(e) == list(range(40)) for e in first)
    ferrograd.manual_seed(0)  # the global generator plays no part
    assert run(11) == first
    g = ferrograd.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5 and g.device == "cpu"
    # a generator shared by two loaders advances: the second loader's order differs
    a = _epochs(DataLoader(ds, batch_size=40, shuffle=True, generator=g), 1)
    b = _epochs(DataLoader(ds, batch_size=40, shuffle=True, generator=g), 1)
    assert a != b
    split = [
        [s[1].item() for s in part]
        for part in random_split(ds, [30, 10], generator=ferrograd.Generator().manual_seed(1))
    ]
    again = [
        [s[1].item() for s in part]
        for part in random_split(ds, [30, 10], generator=ferrograd.Generator().manual_seed(1))
    ]
    assert split == again and sorted(split[0] + split[1]) == list(range(40))
    with pytest.raises(RuntimeError, match="only supports the 'cpu' device"):
        ferrograd.Generator("cuda")


def test_torch_generator_is_accepted():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(5)
    batches = list(DataLoader(_dataset(8), batch_size=8, shuffle=True, generator=g))
    assert sorted(batches[0][1].tolist()) == list(range(8))


def test_default_collate():
    Point = namedtuple("Point", "x y")
    batch = default_collate([{"a": 1.5, "b": [1, True]}, {"a": 2.5, "b": [2, False]}])
    assert batch["a"].dtype == ferrograd.float64 and batch["a"].tolist() == [1.5, 2.5]
    assert batch["b"][0].dtype == ferrograd.int64 and batch["b"][1].dtype == ferrograd.bool
    pts = default_collate([Point(ferrograd.ones(2), 0), Point(ferrograd.zeros(2), 1)])
    assert isinstance(pts, Point) and pts.x.shape == (2, 2) and pts.y.tolist() == [0, 1]
    assert default_collate(["a", "b"]) == ["a", "b"]
    arr = default_collate([np.ones(3, dtype=np.float32), np.zeros(3, dtype=np.float32)])
    assert arr.shape == (2, 3) and arr.dtype == ferrograd.float32
    tup = default_collate([(ferrograd.ones(1), 1), (ferrograd.ones(1), 2)])
    assert isinstance(tup, list) and tup[1].tolist() == [1, 2]


def test_custom_dataset_and_collate_fn():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return ferrograd.tensor([float(i)]), i * i

    xs, ys = next(iter(DataLoader(Squares(), batch_size=5)))
    assert xs.shape == (5, 1) and ys.tolist() == [0, 1, 4, 9, 16]
    dl = DataLoader(Squares(), batch_size=2, collate_fn=lambda b: len(b))
    assert list(dl) == [2, 2, 1]
    assert [x for x in DataLoader(Squares(), batch_size=None)][2][1] == 4


def test_fast_tensor_path_matches_stacking():
    ds = _dataset(9)
    fast = list(DataLoader(ds, batch_size=4, sampler=[8, 1, 3, 0, 2]))
    slow = list(
        DataLoader(
            ds, batch_size=4, sampler=[8, 1, 3, 0, 2], collate_fn=lambda b: default_collate(b)
        )
    )
    for a, b in zip(fast, slow):
        assert [t.tolist() for t in a] == [t.tolist() for t in b]


def test_samplers_subset_and_random_split():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    rs = RandomSampler(range(6), generator=_Gen(1))
    assert sorted(rs) == list(range(6)) and len(rs) == 6
    with_repl = list(RandomSampler(range(3), replacement=True, num_samples=20, generator=_Gen(1)))
    assert len(with_repl) == 20 and set(with_repl) <= {0, 1, 2}
    ds = _dataset(10)
    sub = Subset(ds, [9, 0])
    assert len(sub) == 2 and sub[0][1].item() == 9
    a, b = random_split(ds, [7, 3], generator=_Gen(0))
    assert len(a) == 7 and len(b) == 3
    assert sorted([a[i][1].item() for i in range(7)] + [b[i][1].item() for i in range(3)]) == list(
        range(10)
    )
    c, d = random_split(ds, [0.5, 0.5], generator=_Gen(0))
    assert len(c) == len(d) == 5
    concat = ds + ds
    assert len(concat) == 20 and concat[15][1].item() == 5


def test_errors_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [
        lambda m: m.DataLoader([1, 2], batch_size=0),
        lambda m: m.DataLoader([1, 2], shuffle=True, sampler=[0, 1]),
        lambda m: m.DataLoader([1, 2], batch_size=None, drop_last=True),
        lambda m: m.BatchSampler(range(3), 2, drop_last=1),
        lambda m: m.random_split(range(5), [2, 2]),
    ]
    for case in cases:
        with pytest.raises(Exception) as theirs:
            case(torch.utils.data)
        with pytest.raises(Exception) as ours:
            case(ferrograd.utils.data)
        assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
