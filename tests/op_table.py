"""The everyday tensor API of issue 3 as data: one row per operation.

Used by ``tests/test_api_coverage.py`` (every name exists in exactly the forms PyTorch has,
the keyword calls run and agree with PyTorch) and by ``tools/gen_ops_table.py`` (which writes
``docs/ops.md`` from these rows, so the table stays true).

Forms (``Op.forms``), a fixed copy of where PyTorch 2.x has each name (checked against
``hasattr(torch, ...)`` when PyTorch is installed):

- ``f``: a function ``torch.name``;  ``m``: a method or property ``Tensor.name``;
- ``i``: an in-place method ``Tensor.name_``;  ``I``: a function ``torch.name_``;
- ``n``: ``torch.nn.functional.name``;  ``N``: ``torch.nn.functional.name_``.

``calls`` are expressions that pass PyTorch's argument names as keywords; they run with the
library module as ``L`` and the fixtures of ``fixtures(L)`` in scope and must give what
PyTorch gives (value, dtype and shape; dtype and shape only for random ops).

``tests`` names the property-test registries (``module:spec``) that cover the op, by kind:
``grad`` (float64 gradcheck over generated shapes), ``numpy`` (forward vs NumPy) and
``torch`` (values, grads, dtypes, shapes vs PyTorch), all Hypothesis-driven; ``fixed`` lists
explicit tables that check the op against PyTorch on fixed inputs (errors, dtypes, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Op:
    name: str
    family: str
    forms: str
    grad: bool = True  # differentiable (where the result is floating point)
    calls: tuple = ()
    note: str = ""
    aliases: tuple = ()
    random: bool = False  # compare dtype and shape only
    missing: str = ""  # forms PyTorch has that ferrograd lacks (a known gap)
    covered_by: dict = field(default_factory=dict)


FAMILIES = {
    "arith": "Arithmetic and comparison",
    "unary": "Unary math and activations",
    "reduce": "Reductions, scans and softmax",
    "linalg": "Linear algebra",
    "shape": "Shape and view",
    "index": "Indexing, gather and scatter",
    "create": "Creation and random sampling",
    "convert": "Conversion and copies",
}


def _set(t, index, value):
    t[index] = value
    return t


def fixtures(L):
    """The tensors that ``Op.calls`` use (built the same way in ferrograd and PyTorch)."""
    x = L.tensor([[0.5, -1.5, 2.0], [-0.25, 3.0, -2.5]])
    return {
        "L": L,
        "_set": _set,
        "F": L.nn.functional,
        "x": x,
        "y": L.tensor([[1.5, 2.0, -0.5], [4.0, -3.0, 0.75]]),
        "p": L.tensor([[0.1, 0.5, 0.9], [0.3, 0.7, 0.2]]),
        "v": L.tensor([1.0, -2.0, 3.0]),
        "w": L.tensor([0.5, 0.25, -1.0]),
        "m": L.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, -1.0, 2.0, 1.0], [3.0, 1.0, 0.0, 2.0]]),
        "b": L.arange(24.0).reshape(2, 3, 4),
        "c": L.arange(24.0).reshape(2, 4, 3),
        "k": L.tensor([[3, -7, 8], [-9, 4, 5]]),
        "idx": L.tensor([2, 0, 2]),
        "gidx": L.tensor([[0, 2, 2], [1, 1, 0]]),
        "mask": L.tensor([[True, False, True], [False, False, True]]),
        "flag": L.tensor([[True, True, False], [False, True, True]]),
        "z": L.tensor([[0.0, float("nan"), 1.0], [float("inf"), -float("inf"), 2.0]]),
    }


_INPLACE_VIEW = "the in-place form changes the tensor's own shape (see the divergences)"


def _op(name, family, forms, *calls, **kw):
    return Op(name, family, forms, calls=calls, **kw)


OPS = [
    # ---- arithmetic and comparison --------------------------------------------------------
    _op(
        "add",
        "arith",
        "fmi",
        "L.add(input=x, other=y, alpha=2)",
        "x.add(other=y, alpha=0.5)",
        "x.clone().add_(other=y, alpha=2)",
        "L.add(x, 2, alpha=3)",
    ),
    _op(
        "sub",
        "arith",
        "fmi",
        "L.sub(input=x, other=y, alpha=2)",
        "x.sub(other=y, alpha=0.5)",
        "x.clone().sub_(other=y, alpha=2)",
        aliases=("subtract",),
    ),
    _op("subtract", "arith", "fmi", "L.subtract(x, other=y, alpha=2)", "x.subtract(y)"),
    _op("mul", "arith", "fmi", "L.mul(input=x, other=y)", "x.clone().mul_(other=2)"),
    _op("multiply", "arith", "fmi", "L.multiply(x, other=y)", "x.multiply(other=y)"),
    _op(
        "div",
        "arith",
        "fmi",
        "L.div(input=x, other=y, rounding_mode='floor')",
        "x.div(other=y, rounding_mode='trunc')",
        "x.div(y, rounding_mode=None)",
        "x.clone().div_(other=y, rounding_mode='floor')",
        aliases=("divide", "true_divide"),
    ),
    _op("divide", "arith", "fmi", "L.divide(x, other=y, rounding_mode='trunc')", "x.divide(y)"),
    _op("true_divide", "arith", "fmi", "L.true_divide(x, other=y)", "x.true_divide(other=y)"),
    _op(
        "floor_divide",
        "arith",
        "fmi",
        "L.floor_divide(input=x, other=y)",
        "x.floor_divide(other=2)",
        "x // y",
        grad=False,
        note="no derivative (as in PyTorch)",
    ),
    _op("remainder", "arith", "fmi", "L.remainder(input=x, other=y)", "x.remainder(other=1.5)"),
    _op(
        "pow",
        "arith",
        "fmi",
        "L.pow(input=p, exponent=y)",
        "p.pow(exponent=2)",
        "L.pow(2, exponent=x)",
        "p ** y",
        "2 ** x",
        "p.clone().pow_(exponent=0.5)",
    ),
    _op("neg", "arith", "fmiI", "L.neg(input=x)", "-x", aliases=("negative",)),
    _op("negative", "arith", "fmiI", "L.negative(input=x)", "x.negative()"),
    _op("reciprocal", "arith", "fmiI", "L.reciprocal(input=x)", "x.clone().reciprocal_()"),
    _op("abs", "arith", "fmiI", "L.abs(input=x)", "abs(x)", aliases=("absolute",)),
    _op("absolute", "arith", "fmi", "L.absolute(input=x)", "x.absolute()"),
    _op("sign", "arith", "fmi", "L.sign(input=x)", "x.clone().sign_()"),
    _op(
        "clamp",
        "arith",
        "fmiI",
        "L.clamp(input=x, min=-1, max=1)",
        "x.clamp(min=-1)",
        "x.clamp(max=y)",
        "L.clamp(x, min=v - 1, max=v)",
        "x.clone().clamp_(min=-0.5, max=0.5)",
        "L.clamp_(x.clone(), max=0)",
        aliases=("clip",),
    ),
    _op("clip", "arith", "fmiI", "L.clip(input=x, min=-1, max=1)", "x.clone().clip_(max=1)"),
    _op("clamp_min", "arith", "fmiI", "L.clamp_min(x, min=0)", "x.clone().clamp_min_(min=0.5)"),
    _op("clamp_max", "arith", "fmiI", "L.clamp_max(x, max=0)", "x.clamp_max(max=y)"),
    _op("maximum", "arith", "fm", "L.maximum(input=x, other=y)", "x.maximum(other=y)"),
    _op("minimum", "arith", "fm", "L.minimum(input=x, other=y)", "x.minimum(other=y)"),
    _op("eq", "arith", "fmi", "L.eq(input=x, other=y)", "x.eq(other=2.0)", "x == y", grad=False),
    _op("ne", "arith", "fmi", "L.ne(input=x, other=y)", "x.ne(other=2.0)", "x != y", grad=False),
    _op("lt", "arith", "fmi", "L.lt(input=x, other=y)", "x.lt(other=0)", "x < y", grad=False),
    _op("le", "arith", "fmi", "L.le(input=x, other=y)", "x.le(other=0)", "x <= 0", grad=False),
    _op("gt", "arith", "fmi", "L.gt(input=x, other=y)", "x.gt(other=0)", "x > y", grad=False),
    _op("ge", "arith", "fmi", "L.ge(input=x, other=y)", "x.ge(other=0)", "0 >= x", grad=False),
    _op(
        "logical_and",
        "arith",
        "fmi",
        "L.logical_and(input=mask, other=flag)",
        "x.logical_and(other=y)",
        "mask.clone().logical_and_(other=flag)",
        grad=False,
    ),
    _op(
        "logical_or",
        "arith",
        "fmi",
        "L.logical_or(input=mask, other=flag)",
        "k.logical_or(other=x)",
        grad=False,
    ),
    _op(
        "logical_not",
        "arith",
        "fmi",
        "L.logical_not(input=mask)",
        "x.logical_not()",
        "mask.clone().logical_not_()",
        grad=False,
    ),
    _op("isnan", "arith", "fm", "L.isnan(input=z)", "z.isnan()", grad=False),
    _op("isinf", "arith", "fm", "L.isinf(input=z)", "z.isinf()", grad=False),
    _op("isfinite", "arith", "fm", "L.isfinite(input=z)", "z.isfinite()", grad=False),
    _op(
        "where",
        "arith",
        "fm",
        "L.where(condition=mask, input=x, other=y)",
        "x.where(condition=mask, other=0.0)",
        "L.where(mask, 1.0, x)",
    ),
    # ---- unary math and activations -------------------------------------------------------
    *(
        _op(n, "unary", "fmiI", f"L.{n}(input=p)", f"p.{n}()", f"p.clone().{n}_()")
        for n in (
            "exp expm1 log log1p log2 log10 sqrt rsqrt square sin cos tan asin acos atan "
            "sinh cosh erf"
        ).split()
    ),
    _op("tanh", "unary", "fmiIn", "L.tanh(input=x)", "F.tanh(x)", "x.clone().tanh_()"),
    _op(
        "sigmoid",
        "unary",
        "fmiIn",
        "L.sigmoid(input=x)",
        "F.sigmoid(x)",
        "L.sigmoid_(x.clone())",
    ),
    _op(
        "atan2",
        "unary",
        "fmi",
        "L.atan2(input=x, other=y)",
        "x.atan2(other=y)",
        "x.clone().atan2_(other=y)",
        aliases=("arctan2",),
    ),
    _op("arctan2", "unary", "fmi", "L.arctan2(x, other=y)"),
    _op(
        "relu",
        "unary",
        "fmiInN",
        "L.relu(input=x)",
        "F.relu(input=x, inplace=False)",
        "F.relu(x.clone(), inplace=True)",
        "F.relu_(x.clone())",
        "L.relu_(x.clone())",
    ),
    _op(
        "gelu",
        "unary",
        "n",
        "F.gelu(input=x, approximate='tanh')",
        "F.gelu(x, approximate='none')",
        note="both approximations ('none', 'tanh')",
    ),
    _op("silu", "unary", "n", "F.silu(input=x, inplace=False)", "F.silu(x.clone(), inplace=True)"),
    _op("softplus", "unary", "n", "F.softplus(input=x, beta=2.0, threshold=1.0)"),
    _op(
        "elu",
        "unary",
        "nN",
        "F.elu(input=x, alpha=0.5, inplace=False)",
        "F.elu(x.clone(), alpha=2.0, inplace=True)",
        "F.elu_(x.clone(), alpha=0.5)",
    ),
    _op(
        "leaky_relu",
        "unary",
        "nN",
        "F.leaky_relu(input=x, negative_slope=0.2, inplace=False)",
        "F.leaky_relu(x.clone(), negative_slope=0.1, inplace=True)",
        "F.leaky_relu_(x.clone(), negative_slope=0.3)",
    ),
    *(
        _op(
            n,
            "unary",
            "fmiI",
            f"L.{n}(input=x)",
            f"x.clone().{n}_()",
            note="zero gradient almost everywhere, as in PyTorch",
        )
        for n in ("floor", "ceil", "trunc")
    ),
    _op(
        "round",
        "unary",
        "fmiI",
        "L.round(input=x * 100, decimals=-1)",
        "x.round(decimals=1)",
        "x.clone().round_(decimals=2)",
        note="zero gradient almost everywhere, as in PyTorch",
    ),
    _op("frac", "unary", "fmiI", "L.frac(input=x)", "x.clone().frac_()"),
    # ---- reductions, scans, softmax -------------------------------------------------------
    _op(
        "sum",
        "reduce",
        "fm",
        "L.sum(input=x, dim=1, keepdim=True)",
        "x.sum(dim=(0, -1))",
        "x.sum(dim=-1, dtype=L.float64)",
        "k.sum(dim=0)",
        "x.requires_grad_().sum(dim=None).grad_fn.name()",
        "L.sum(x, None, True)",
    ),
    _op(
        "mean",
        "reduce",
        "fm",
        "L.mean(input=x, dim=(0,), keepdim=True)",
        "x.mean(dim=-1, dtype=L.float64)",
    ),
    _op("prod", "reduce", "fm", "L.prod(input=x, dim=1, keepdim=True)", "x.prod(dtype=L.float64)"),
    _op(
        "max",
        "reduce",
        "fm",
        "L.max(input=x, dim=1, keepdim=True)",
        "x.max(dim=-1).values",
        "x.max(dim=0).indices",
        "x.max()",
        "L.max(x, other=y)",
        note="values and indices with `dim`; the full-tensor form; `max(x, other)` is maximum",
    ),
    _op(
        "min",
        "reduce",
        "fm",
        "L.min(input=x, dim=0, keepdim=False)",
        "x.min(dim=-1)[1]",
        "x.min()",
        note="values and indices with `dim`; the full-tensor form; `min(x, other)` is minimum",
    ),
    _op("amax", "reduce", "fm", "L.amax(input=x, dim=(0, 1), keepdim=True)", "x.amax(dim=-1)"),
    _op("amin", "reduce", "fm", "L.amin(input=x, dim=0, keepdim=True)", "x.amin(dim=(-1,))"),
    _op(
        "argmax",
        "reduce",
        "fm",
        "L.argmax(input=x, dim=1, keepdim=True)",
        "x.argmax(dim=None)",
        grad=False,
    ),
    _op("argmin", "reduce", "fm", "L.argmin(input=x, dim=-1, keepdim=False)", grad=False),
    _op(
        "var",
        "reduce",
        "fm",
        "L.var(input=x, dim=1, correction=0, keepdim=True)",
        "x.var(dim=0, unbiased=False)",
        "x.var(unbiased=True)",
        "x.var(dim=(0, 1), correction=2)",
    ),
    _op(
        "std",
        "reduce",
        "fm",
        "L.std(input=x, dim=-1, correction=0, keepdim=True)",
        "x.std(dim=1, unbiased=False, keepdim=False)",
        "x.std(unbiased=True)",
    ),
    _op(
        "norm",
        "reduce",
        "fm",
        "L.norm(input=x, p=1, dim=1, keepdim=True)",
        "x.norm(p=float('inf'), dim=0)",
        "x.norm(p='fro', dim=(0, 1))",
        "x.norm(p=2, dim=-1, dtype=L.float64)",
        note="p = 1, 2, inf, -inf, 0, other numbers, 'fro'",
    ),
    _op("logsumexp", "reduce", "fm", "L.logsumexp(input=x, dim=1, keepdim=True)", "x.logsumexp(0)"),
    _op(
        "cumsum",
        "reduce",
        "fmi",
        "L.cumsum(input=x, dim=1, dtype=L.float64)",
        "x.cumsum(dim=-1)",
        "x.clone().cumsum_(dim=0)",
    ),
    _op(
        "cumprod",
        "reduce",
        "fmi",
        "L.cumprod(input=x, dim=0, dtype=L.float64)",
        "x.clone().cumprod_(dim=-1)",
    ),
    _op(
        "softmax",
        "reduce",
        "fmn",
        "L.softmax(input=x, dim=1)",
        "x.softmax(dim=-1, dtype=L.float64)",
        "F.softmax(x, dim=0)",
    ),
    _op(
        "log_softmax",
        "reduce",
        "fmn",
        "L.log_softmax(input=x, dim=1)",
        "x.log_softmax(dim=0, dtype=L.float64)",
        "F.log_softmax(x, dim=-1)",
    ),
    _op(
        "all", "reduce", "fm", "L.all(input=mask, dim=1, keepdim=True)", "x.all(dim=0)", grad=False
    ),
    _op(
        "any",
        "reduce",
        "fm",
        "L.any(input=mask, dim=-1, keepdim=False)",
        "x.any(dim=(0, 1))",
        "mask.any()",
        grad=False,
    ),
    # ---- linear algebra -------------------------------------------------------------------
    _op(
        "matmul",
        "linalg",
        "fm",
        "L.matmul(input=x, other=m)",
        "v.matmul(other=m)",
        "b @ c",
        "m.t() @ v",
        note="1-d, 2-d and batched broadcasting rules; the `@` operator",
    ),
    _op("mm", "linalg", "fm", "L.mm(input=x, mat2=m)", "x.mm(mat2=m)"),
    _op("bmm", "linalg", "fm", "L.bmm(input=b, mat2=c)", "b.bmm(mat2=c)"),
    _op("mv", "linalg", "fm", "L.mv(input=x, vec=v)", "x.mv(vec=w)"),
    _op("dot", "linalg", "fm", "L.dot(input=v, tensor=w)", "v.dot(w)"),
    _op("outer", "linalg", "fm", "L.outer(input=v, vec2=w)", "v.outer(vec2=w)"),
    _op("t", "linalg", "fmi", "L.t(input=x)", "x.t()", "x.clone().t_()", note=_INPLACE_VIEW),
    _op(
        "addmm",
        "linalg",
        "fmi",
        "L.addmm(input=v, mat1=x.t(), mat2=x, beta=0.5, alpha=2)",
        "v.addmm(mat1=x.t(), mat2=x)",
        "L.zeros(3, 3).addmm_(mat1=x.t(), mat2=x, beta=2, alpha=0.5)",
        "(v * 1).expand(3, 3).clone().addmm_(x.t(), x)",
    ),
    _op(
        "einsum",
        "linalg",
        "f",
        "L.einsum('ij,jk->ik', x, m)",
        "L.einsum('bij,bjk->bik', b, c)",
        "L.einsum('i,i->', v, w)",
        "L.einsum('i,j->ij', v, w)",
        "L.einsum('ij,ij->i', x, y)",
        "L.einsum('ij->ji', x)",
        "L.einsum('ij,j->i', [x, v])",
        note="one or two operands, explicit or implicit output; no ellipsis, no repeated "
        "subscripts within one operand (diagonals)",
    ),
    # ---- shape and view -------------------------------------------------------------------
    _op(
        "view",
        "shape",
        "m",
        "x.view(3, 2)",
        "x.view(size=(6,))",
        "x.view(-1, 1)",
        note="the `view(dtype)` overload is missing",
    ),
    _op("reshape", "shape", "fm", "L.reshape(input=x, shape=(3, 2))", "x.reshape(shape=(-1,))"),
    _op(
        "flatten",
        "shape",
        "fm",
        "L.flatten(input=b, start_dim=1, end_dim=-1)",
        "b.flatten(start_dim=0, end_dim=1)",
    ),
    _op(
        "unflatten",
        "shape",
        "fm",
        "L.unflatten(input=b, dim=-1, sizes=(2, 2))",
        "b.unflatten(dim=1, sizes=(3, 1))",
    ),
    _op(
        "squeeze",
        "shape",
        "fmi",
        "L.squeeze(input=x.view(2, 1, 3), dim=1)",
        "x.view(1, 2, 1, 3).squeeze(dim=(0, 2))",
        "x.clone().view(1, 2, 1, 3).squeeze_(dim=(0, 2))",
        "x.clone().view(2, 1, 3).squeeze_(dim=1)",
        note=_INPLACE_VIEW,
    ),
    _op(
        "unsqueeze",
        "shape",
        "fmi",
        "L.unsqueeze(input=x, dim=-1)",
        "x.unsqueeze(dim=0)",
        "x.clone().unsqueeze_(dim=-1)",
        note=_INPLACE_VIEW,
    ),
    _op(
        "transpose",
        "shape",
        "fmi",
        "L.transpose(input=b, dim0=0, dim1=-1)",
        "b.transpose(dim0=1, dim1=2)",
        "b.clone().transpose_(dim0=0, dim1=-1)",
        aliases=("swapaxes", "swapdims"),
        note=_INPLACE_VIEW,
    ),
    _op(
        "swapaxes",
        "shape",
        "fmi",
        "L.swapaxes(b, axis0=0, axis1=2)",
        "b.swapaxes(0, 1)",
        "b.clone().swapaxes_(axis0=0, axis1=2)",
        note=_INPLACE_VIEW,
    ),
    _op(
        "swapdims",
        "shape",
        "fmi",
        "L.swapdims(b, dim0=0, dim1=2)",
        "b.swapdims(0, 1)",
        "b.clone().swapdims_(dim0=0, dim1=2)",
        note=_INPLACE_VIEW,
    ),
    _op(
        "permute", "shape", "fm", "L.permute(input=b, dims=(2, 0, 1))", "b.permute(dims=[1, 2, 0])"
    ),
    _op("T", "shape", "m", "x.T", note="a property; other than 2 dims it warns, as PyTorch"),
    _op("mT", "shape", "m", "b.mT", note="a property"),
    _op("expand", "shape", "m", "v.expand(size=(2, 3))", "v.expand(4, -1)"),
    _op("expand_as", "shape", "m", "v.expand_as(other=x)"),
    _op("repeat", "shape", "m", "x.repeat(repeats=(2, 1, 2))", "v.repeat(2, 2)"),
    _op(
        "contiguous",
        "shape",
        "m",
        "x.t().contiguous()",
        "x.contiguous(memory_format=L.contiguous_format)",
    ),
    _op("is_contiguous", "shape", "m", "x.t().is_contiguous()", grad=False),
    _op(
        "narrow",
        "shape",
        "fm",
        "L.narrow(input=b, dim=-1, start=1, length=2)",
        "b.narrow(dim=0, start=-1, length=1)",
    ),
    _op(
        "split",
        "shape",
        "fm",
        "L.split(tensor=b, split_size_or_sections=2, dim=-1)",
        "b.split(split_size=[1, 2], dim=1)",
    ),
    _op("chunk", "shape", "fm", "L.chunk(input=b, chunks=2, dim=-1)", "b.chunk(chunks=3, dim=1)"),
    _op("unbind", "shape", "fm", "L.unbind(input=b, dim=1)", "b.unbind(dim=-1)"),
    _op(
        "cat",
        "shape",
        "f",
        "L.cat(tensors=[x, y], dim=1)",
        "L.cat((x, y), dim=-2)",
        aliases=("concat", "concatenate"),
    ),
    _op("concat", "shape", "f", "L.concat(tensors=[x, y], dim=1)"),
    _op("concatenate", "shape", "f", "L.concatenate(tensors=[x, y], axis=0)"),
    _op("stack", "shape", "f", "L.stack(tensors=[x, y], dim=-1)", "L.stack((x, y))"),
    _op("flip", "shape", "fm", "L.flip(input=b, dims=(0, -1))", "b.flip(dims=[1])"),
    _op(
        "roll",
        "shape",
        "fm",
        "L.roll(input=b, shifts=(1, -1), dims=(0, 2))",
        "b.roll(shifts=2)",
        "b.roll(shifts=1, dims=-1)",
    ),
    _op("tril", "shape", "fmi", "L.tril(input=m, diagonal=1)", "m.clone().tril_(diagonal=-1)"),
    _op("triu", "shape", "fmi", "L.triu(input=m, diagonal=-1)", "m.clone().triu_(diagonal=1)"),
    _op(
        "diagonal",
        "shape",
        "fm",
        "L.diagonal(input=b, offset=1, dim1=1, dim2=2)",
        "m.diagonal(offset=-1)",
    ),
    _op(
        "movedim",
        "shape",
        "fm",
        "L.movedim(input=b, source=0, destination=-1)",
        "b.movedim(source=(0, 1), destination=(2, 0))",
        aliases=("moveaxis",),
    ),
    _op("moveaxis", "shape", "fm", "L.moveaxis(b, source=0, destination=2)"),
    # ---- indexing -------------------------------------------------------------------------
    _op(
        "__getitem__",
        "index",
        "m",
        "b[0, 1:, ::2]",
        "b[..., None, -1]",
        "b[:, idx[:2]]",
        "x[mask]",
        "b[[1, 0], :, [3, 3]]",
        "b[idx[:2] // 2, 1:, idx[:2]]",
        note="ints, slices with steps, None, Ellipsis, bool masks, int tensors and lists",
    ),
    _op(
        "__setitem__",
        "index",
        "m",
        "_set(x.clone(), (0, slice(None, None, 2)), 7.0)",
        "_set(x.clone(), mask, y[mask])",
        "_set(b.clone(), (slice(None), idx[:2]), 0.0)",
        note="views, masks and int tensors; the value broadcasts and is cast",
    ),
    _op(
        "index_select",
        "index",
        "fm",
        "L.index_select(input=x, dim=1, index=idx)",
        "x.index_select(dim=0, index=idx[:2] // 2)",
    ),
    _op(
        "gather",
        "index",
        "fm",
        "L.gather(input=x, dim=1, index=gidx)",
        "x.gather(dim=-1, index=gidx)",
    ),
    _op(
        "scatter",
        "index",
        "fmi",
        "L.scatter(input=x, dim=1, index=gidx, src=y)",
        "x.scatter(dim=1, index=gidx, value=1.5)",
        "x.clone().scatter_(dim=1, index=gidx, src=y)",
        note="the `reduce=` argument is not supported",
    ),
    _op(
        "scatter_add",
        "index",
        "fmi",
        "L.scatter_add(input=x, dim=1, index=gidx, src=y)",
        "x.clone().scatter_add_(dim=-1, index=gidx, src=y)",
    ),
    _op(
        "masked_fill",
        "index",
        "fmi",
        "L.masked_fill(input=x, mask=mask, value=0.5)",
        "x.masked_fill(mask=mask, value=L.tensor(2.0))",
        "x.clone().masked_fill_(mask=mask, value=-1)",
    ),
    _op(
        "masked_select",
        "index",
        "fm",
        "L.masked_select(input=x, mask=mask)",
        "x.masked_select(mask=mask)",
    ),
    _op(
        "index_add",
        "index",
        "fmi",
        "L.index_add(input=x, dim=1, index=idx, source=y, alpha=2)",
        "x.index_add(dim=1, index=idx, source=y)",
        "x.clone().index_add_(dim=1, index=idx, source=y, alpha=-1)",
    ),
    _op(
        "index_fill",
        "index",
        "fmi",
        "L.index_fill(input=x, dim=1, index=idx, value=-1.0)",
        "x.clone().index_fill_(dim=0, index=idx[1:2], value=L.tensor(2.0))",
    ),
    _op(
        "index_put",
        "index",
        "fmiI",
        "L.index_put(input=x, indices=(idx[:2] - idx[:2],), values=v, accumulate=True)",
        "x.clone().index_put_(indices=(idx[1:2], idx[:1]), values=L.tensor(5.0))",
        "L.index_put_(x.clone(), (mask,), L.tensor(0.5))",
        note="the op behind `x[index] = values` with int tensors",
    ),
    _op("take", "index", "fm", "L.take(input=x, index=gidx)", "x.take(index=idx)"),
    # ---- creation and random sampling -----------------------------------------------------
    _op(
        "linspace",
        "create",
        "f",
        "L.linspace(start=0, end=1, steps=5)",
        "L.linspace(-1, 1, steps=4, dtype=L.float64, requires_grad=True)",
        grad=False,
    ),
    _op(
        "logspace",
        "create",
        "f",
        "L.logspace(start=0, end=2, steps=3, base=10.0)",
        "L.logspace(0, 3, 4, base=2, dtype=L.float64)",
        grad=False,
    ),
    _op(
        "eye",
        "create",
        "f",
        "L.eye(n=3)",
        "L.eye(2, m=3, dtype=L.int64)",
        "L.eye(2, requires_grad=True)",
        grad=False,
    ),
    _op("zeros", "create", "f", "L.zeros(2, 3, dtype=L.int64)", "L.zeros(size=(2,))", grad=False),
    _op("ones", "create", "f", "L.ones((2, 3), dtype=L.bool)", "L.ones(size=[3])", grad=False),
    _op(
        "full",
        "create",
        "f",
        "L.full(size=(2, 2), fill_value=3)",
        "L.full((2,), 1.5, dtype=L.float64, requires_grad=True)",
        grad=False,
    ),
    _op("empty", "create", "f", "L.empty(2, 3, dtype=L.float64)", grad=False, random=True),
    _op(
        "rand",
        "create",
        "f",
        "L.rand(2, 3, dtype=L.float64)",
        "L.rand(size=(4,))",
        grad=False,
        random=True,
    ),
    _op(
        "randn",
        "create",
        "f",
        "L.randn(2, 3, dtype=L.float64)",
        "L.randn(size=(4,))",
        grad=False,
        random=True,
    ),
    _op(
        "randint",
        "create",
        "f",
        "L.randint(low=0, high=5, size=(2, 3))",
        "L.randint(10, (4,), dtype=L.float32)",
        grad=False,
        random=True,
    ),
    _op(
        "randperm",
        "create",
        "f",
        "L.randperm(n=5)",
        "L.randperm(4, dtype=L.float64)",
        grad=False,
        random=True,
    ),
    _op(
        "normal",
        "create",
        "fi",
        "L.normal(mean=x, std=p)",
        "L.normal(mean=0.0, std=2.0, size=(2, 3))",
        "L.normal(mean=x, std=1.0)",
        "x.clone().normal_(mean=1.0, std=0.5)",
        grad=False,
        random=True,
    ),
    _op(
        "bernoulli",
        "create",
        "fmi",
        "L.bernoulli(input=p)",
        "p.bernoulli(p=0.5)",
        "x.clone().bernoulli_(p=0.3)",
        "x.clone().bernoulli_(p)",
        grad=False,
        random=True,
    ),
    _op(
        "multinomial",
        "create",
        "fm",
        "L.multinomial(input=p, num_samples=2)",
        "p.multinomial(num_samples=4, replacement=True)",
        grad=False,
        random=True,
    ),
    # ---- conversion and copies ------------------------------------------------------------
    _op(
        "to",
        "convert",
        "m",
        "x.to(L.float64)",
        "x.to(dtype=L.int64)",
        "x.to(y.double())",
        "x.to('cpu', L.float64, copy=True)",
    ),
    _op(
        "float",
        "convert",
        "m",
        "k.float()",
        note="grads compared with PyTorch's (gradcheck needs a float64 result)",
    ),
    _op("double", "convert", "m", "x.double()"),
    _op("long", "convert", "m", "x.long()", grad=False),
    _op("bool", "convert", "m", "x.bool()", grad=False),
    _op("type_as", "convert", "m", "x.type_as(other=k)", "k.type_as(x)"),
    _op(
        "clone", "convert", "fm", "L.clone(input=x)", "x.t().clone(memory_format=L.preserve_format)"
    ),
    _op(
        "new_zeros",
        "convert",
        "m",
        "x.new_zeros((2, 3))",
        "x.new_zeros(size=(2,), dtype=L.int64)",
        "x.new_zeros(2, 2, requires_grad=True)",
        grad=False,
    ),
    _op(
        "new_ones",
        "convert",
        "m",
        "x.new_ones(size=(3,), dtype=L.float64)",
        "k.new_ones(2)",
        grad=False,
    ),
    _op(
        "new_tensor",
        "convert",
        "m",
        "x.new_tensor([1, 2])",
        "x.new_tensor(data=[1.5], dtype=L.float64)",
        grad=False,
    ),
    _op("copy_", "convert", "m", "x.clone().copy_(k)", "x.clone().copy_(v, non_blocking=False)"),
    _op("zero_", "convert", "fm", "x.clone().zero_()", "L.zero_(x.clone())"),
    _op(
        "fill_",
        "convert",
        "fm",
        "x.clone().fill_(value=2.5)",
        "L.fill_(x.clone(), value=1)",
        "x.clone().fill_(value=L.tensor(-1.5, dtype=L.float64))",
    ),
]

NAMES = [op.name for op in OPS]
BY_NAME = {op.name: op for op in OPS}

# Divergences from PyTorch that the table's rows do not show (docs/ops.md lists them).
DIVERGENCES = [
    "`x.view(dtype)` (reinterpreting the bytes as another dtype) is missing.",
    "`einsum` takes one or two operands without ellipsis and without repeated subscripts "
    "within one operand (diagonals such as `'ii->i'`).",
    "`einsum` records its own nodes (e.g. `ViewBackward0`, `MmBackward0`), not the ones "
    "PyTorch's contraction path gives (values and grads agree).",
    "`matmul` of a 1-d or 2-d tensor (or one whose batch dims are all 1) with a batched "
    "tensor of 3 or more dims records the batched path (`UnsafeViewBackward0` of "
    "`BmmBackward0`); PyTorch folds it into `mm`/`mv` on the transpose "
    "(`TransposeBackward0`, `CloneBackward0`). Values and grads agree.",
    "`scatter`/`scatter_` do not take `reduce=`.",
    "The in-place view ops (`t_`, `transpose_`, `swapaxes_`, `swapdims_`, `squeeze_`, "
    "`unsqueeze_`) change the Python tensor they are called on (`x.t_() is x`, the version "
    "moves on, PyTorch's node names and refusals), not the other handles to the same "
    "tensor: `x.grad.t_()` changes the tensor it returns, not the stored grad; an in-place "
    "write through a view of `x` taken before the call is not seen by `x`'s history (its "
    "grad misses the write); a saved-tensor error describes the tensor as it was before "
    "the call. `as_strided_` (like `as_strided`) is missing.",
    "In-place writes to the outputs of `split`/`chunk`/`unbind` are refused as in PyTorch, "
    "but not yet writes to views of those outputs, nor reading them after their base was "
    "modified in place.",
    "A view whose storage was written through another alias gets, as in PyTorch, an "
    "`AsStridedBackward0` node to its base's current history when its history is next "
    "read. Not matched: a view taken under `no_grad` of a tensor that requires grad does "
    "not itself report `requires_grad=True` (PyTorch's does), and after such a write only "
    "its `grad_fn` and `is_leaf` raise PyTorch's error (ops on it and `backward` see a "
    "tensor without history); an expanded view (a stride of 0) keeps its old history.",
    "`y[i] = number` records a `CopySlices` node whose `next_functions` also lists "
    "`(None, 0)` for the number; PyTorch's lists only the base.",
]
