"""``DataLoader``: batches of a dataset, in order or shuffled, collated into tensors."""

from __future__ import annotations

import collections.abc
import numbers

import ferrograd
from ferrograd import Tensor

from .dataset import TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate"]


def default_collate(batch):
    """Stacks a list of samples into a batch, recursively: tensors are stacked along a new
    dim 0; Python floats become a float64 tensor, ints an int64 one, bools a bool one; NumPy
    arrays and numbers become tensors; strings stay a list; dicts, tuples and lists are
    collated field by field (a tuple becomes a list, a namedtuple stays one)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return ferrograd.stack(list(batch), 0)
    if type(elem).__module__ == "numpy" and type(elem).__name__ in ("ndarray", "memmap"):
        if elem.dtype.kind in "OSUV":
            raise TypeError(
                "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                f"lists; found {elem.dtype}"
            )
        return default_collate([ferrograd.tensor(b) for b in batch])
    if type(elem).__module__ == "numpy" and hasattr(elem, "dtype") and elem.shape == ():
        return ferrograd.tensor([b.item() for b in batch])
    if isinstance(elem, bool):
        return ferrograd.tensor(batch, dtype=ferrograd.bool)
    if isinstance(elem, float):
        return ferrograd.tensor(batch, dtype=ferrograd.float64)
    if isinstance(elem, numbers.Integral):
        return ferrograd.tensor(batch, dtype=ferrograd.int64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(elem)}"
    )


class DataLoader:
    """Iterates over ``dataset`` in batches (``num_workers`` is accepted; loading happens in
    the main process).

    A ``TensorDataset`` with the default collate is batched by indexing each tensor once
    with the batch's indices, which gives the same tensors as stacking the samples.
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if sampler is None:
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else (SequentialSampler(dataset))
            )
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.generator = generator
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.collate_fn = (
            collate_fn
            if collate_fn is not None
            else (default_collate if batch_sampler is not None else (lambda x: x))
        )

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        fast = type(self.dataset) is TensorDataset and self.collate_fn is default_collate
        for indices in self._index_sampler():
            if not self._auto_collation:
                yield self.collate_fn(self.dataset[indices])
            elif fast:
                index = ferrograd.tensor(list(indices), dtype=ferrograd.int64)
                yield [t.index_select(0, index) for t in self.dataset.tensors]
            else:
                yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self):
        return len(self._index_sampler())
