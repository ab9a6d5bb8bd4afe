"""Where samplers get their randomness.

ferrograd has no ``Generator`` objects: a sampler draws a seed from the generator it was
given (anything with ``initial_seed()``, e.g. ``torch.Generator``) or else from ferrograd's
global generator, so ``ferrograd.manual_seed(s)`` makes shuffling reproducible, as
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
    seed = generator.initial_seed() if hasattr(generator, "initial_seed") else int(generator)
    return random.Random(seed)


def permutation(n, generator=None, rng=None):
    """A random permutation of ``range(n)``."""
    rng = rng if rng is not None else rng_for(generator)
    order = list(range(n))
    rng.shuffle(order)
    return order
