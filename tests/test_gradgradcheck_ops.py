"""Second derivatives of every differentiable op in the op registries (issue 4: gradgradcheck
over the op set).

Each registry's cases (test_ops_properties, test_math_ops, test_reduce_ops, test_shape_ops,
test_index_ops) are drawn as in that file's first-order gradcheck; here the first grads of
``sum(f(xs) * v)`` are taken with ``create_graph=True``, contracted with random ``w`` and
differentiated again, then compared with central finite differences of that function (in
float64). Ops whose first derivative does not depend on the inputs (linear ops) must give a
zero second derivative, which the finite differences check as well.

A few examples per op (a fifth of the Hypothesis profile's, at least 2) keep CI time bounded.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hypothesis")

import ferrograd  # noqa: E402
import test_index_ops as index_ops  # noqa: E402
import test_math_ops as math_ops  # noqa: E402
import test_ops_properties as props  # noqa: E402
import test_reduce_ops as reduce_ops  # noqa: E402
import test_shape_ops as shape_ops  # noqa: E402
from helpers import from_numpy, gradcheck  # noqa: E402
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

few_examples = settings(max_examples=max(2, settings().max_examples // 5))


def second_order_check(f, arrays, seed):
    """gradgradcheck of ``f`` at ``arrays``: finite differences of
    ``sum_i sum(grad_i(sum(f(xs) * v)) * w_i)`` against its autograd gradient."""
    rng = np.random.default_rng(seed)
    with ferrograd.no_grad():
        out = f(*[from_numpy(np.asarray(a, dtype=np.float64)) for a in arrays])
    v = rng.uniform(-1.0, 1.0, size=tuple(out.shape))
    w = [rng.uniform(-1.0, 1.0, size=np.shape(a)) for a in arrays]

    def first_grads_dot_w(*xs):
        y = (f(*xs) * from_numpy(v)).sum()
        grads = ferrograd.autograd.grad(y, xs, create_graph=True, allow_unused=True)
        # `0 * sum(x)` keeps the result in the graph when every first grad is constant (a
        # linear op): its second derivative is then zero, as the finite differences say.
        z = sum((0.0 * x.sum() for x in xs), ferrograd.zeros((), dtype=ferrograd.float64))
        for g, wi in zip(grads, w):
            if g is not None:
                assert g.dtype == ferrograd.float64
                z = z + (g * from_numpy(wi)).sum()
        return z

    gradcheck(first_grads_dot_w, arrays, rng=rng)


# ---- test_ops_properties -------------------------------------------------------------------


@pytest.mark.parametrize("spec", props.GRAD_SPECS, ids=lambda s: s.name)
@few_examples
@given(data=st.data())
def test_gradgradcheck_ops_properties(spec, data):
    case = data.draw(props.case_for(spec, any_layout=spec.kind != "view"), label="case")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    arrays = props.leaf_values(spec, case, seed)

    def f(*leaves):
        xs = [props.apply_layout(x, lay) for x, lay in zip(leaves, case.layouts)]
        return spec.fn(ferrograd, *xs, **case.params)

    second_order_check(f, arrays, seed)


# ---- test_math_ops -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", math_ops.GRAD_SPECS, ids=lambda s: s.name)
@few_examples
@given(data=st.data())
def test_gradgradcheck_math_ops(spec, data):
    case = data.draw(math_ops.case_for(spec), label="case")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    arrays = math_ops.leaf_values(spec, case, seed)

    def f(*leaves):
        xs = [math_ops.apply_layout(x, lay) for x, lay in zip(leaves, case.layouts)]
        return spec.fn(ferrograd, *xs, **case.params)

    second_order_check(f, arrays, seed)


# ---- test_reduce_ops -----------------------------------------------------------------------


@pytest.mark.parametrize("spec", reduce_ops.GRAD_SPECS, ids=lambda s: s.name)
@few_examples
@given(data=st.data())
def test_gradgradcheck_reduce_ops(spec, data):
    case = data.draw(reduce_ops.case_for(spec), label="case")
    params = case.params
    if spec.name == "norm":
        assume(params["p"] != 0)
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    arr = reduce_ops.values(spec, case, seed)
    if spec.name == "std":
        # std is not differentiable where it is 0 (a single element, or all equal).
        with ferrograd.no_grad():
            out = spec.fn(
                ferrograd, reduce_ops.apply_layout(from_numpy(arr), case.layout), **params
            )
        assume(out.numel() == 0 or bool((out != 0).all()))
    second_order_check(
        lambda x: spec.fn(ferrograd, reduce_ops.apply_layout(x, case.layout), **params),
        [arr],
        seed,
    )


# ---- test_shape_ops ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [s for s in shape_ops.REGISTRY if s.grad], ids=lambda s: s.name)
@few_examples
@given(data=st.data())
def test_gradgradcheck_shape_ops(spec, data):
    case = data.draw(shape_ops.case_for(spec, contiguous=spec.name == "view"), label="case")
    if not shape_ops._accepts(spec, case):
        return
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    arrays = shape_ops.leaf_values(case, seed)

    def f(*leaves):
        xs = [shape_ops.apply_layout(x, lay) for x, lay in zip(leaves, case.layouts)]
        outs = shape_ops.outputs(spec.fn(ferrograd, *xs, **case.params))
        return shape_ops.combine(ferrograd, outs)

    second_order_check(f, arrays, seed)


# ---- test_index_ops ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [s for s in index_ops.OPS if s.grad], ids=lambda s: s.name)
@few_examples
@given(data=st.data())
def test_gradgradcheck_index_ops(spec, data):
    shapes_, layouts, extra = data.draw(spec.case, label="case")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    arrays = [index_ops.values(rng, s, "float64") for s in shapes_]
    if spec.name.startswith("scatter") and len(arrays) > 1:
        assume(index_ops.layout_shape(shapes_[1], layouts[1]) == extra["index"].shape)
    second_order_check(
        lambda *xs: index_ops._run(spec, ferrograd, xs, layouts, extra), arrays, seed
    )
