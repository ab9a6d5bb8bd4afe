"""``ferrograd.Size``: the type of ``tensor.shape`` (a tuple of ints)."""


class Size(tuple):
    """A tuple of dimension sizes, printed like PyTorch's ``torch.Size``."""

    __slots__ = ()

    def __repr__(self):
        return f"ferrograd.Size([{', '.join(str(d) for d in self)}])"

    __str__ = __repr__

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, item):
        result = super().__getitem__(item)
        return Size(result) if isinstance(item, slice) else result

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))
