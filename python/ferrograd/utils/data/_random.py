"""Where samplers get their randomness.

A sampler draws a seed from the generator it was given (a ``ferrograd.Generator``, whose
stream advances, or anything with ``initial_seed()``, e.g. ``torch.Generator``) or else
from ferrograd's global generator, so ``ferrograd.manual_seed(s)`` makes shuffling reproducible, as
``torch.manual_seed`` does for PyTorch's samplers.
"""

from __future__ import annotations

import random

import ferrograd


def _global_seed():
    return int(ferrograd.randint(0, 2**62, (1,)).item())


def rng_for(generator):
    """A ``random.Random`` for one sampler, seeded from ``generator`` or the global RNG."""
    if generator is None:
        return random.Random(_global_seed())
    if isinstance(generator, Generator):
        seed = generator._draw_seed()
    elif hasattr(generator, "initial_seed"):
        seed = generator.initial_seed()
    else:
        seed = int(generator)
    return random.Random(seed)


def permutation(n, generator=None, rng=None):
    """A random permutation of ``range(n)``."""
    rng = rng if rng is not None else rng_for(generator)
    order = list(range(n))
    rng.shuffle(order)
    return order


class Generator:
    """A seedable random stream for ``DataLoader(shuffle=True, generator=g)`` and
    ``random_split``: ``ferrograd.Generator().manual_seed(0)``. Each sampler that uses it
    draws its seed from the stream, so successive loaders differ yet a run is reproducible,
    as with ``torch.Generator``."""

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"ferrograd only supports the 'cpu' device, got '{device}'")
        self.device = "cpu"
        self.manual_seed(67280421310721)  # PyTorch's default seed

    def manual_seed(self, seed):
        seed = int(seed)
        self._initial_seed = seed
        self._random = random.Random(seed)
        return self

    def initial_seed(self):
        return self._initial_seed

    def seed(self):
        seed = random.SystemRandom().getrandbits(63)
        self.manual_seed(seed)
        return seed

    def _draw_seed(self):
        return self._random.getrandbits(62)
