"""``gradcheck`` and ``gradgradcheck``: analytical gradients against finite differences.

PyTorch's semantics and defaults. The numerical Jacobian perturbs each input element in
place (through ``.data``, so no version counter moves) by ``eps`` and takes central
differences of the outputs; the analytical Jacobian is built row by row with
``autograd.grad`` and one-hot output gradients, twice (to catch non-reentrant backward).
Both are laid out as PyTorch lays them out: ``(input.numel(), output.numel())``.
``fast_mode`` compares ``v^T J u`` for random unit vectors ``u``, ``v`` instead.

ferrograd has no undefined gradients (an absent output gradient is materialised as zeros
before any backward rule runs), so ``check_undefined_grad`` reduces to the zero-gradient
check that always runs; it has no vmap, so ``check_batched_grad`` is not supported, and no
forward-mode AD, so neither is ``check_forward_ad``.
"""

from __future__ import annotations

import math
import random
import warnings

import ferrograd

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` and :func:`gradgradcheck` when a check fails."""


FAILED_NONDET_MSG = """\n
NOTE: If your op relies on non-deterministic operations i.e., it is listed here:
https://pytorch.org/docs/stable/generated/torch.use_deterministic_algorithms.html
this failure might be expected.

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck.
If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `nondet_tol=<tol>` as a keyword argument.
- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the OpInfo for the test
  to have `gradcheck_nondet_tol=<tol>`.
- is a Module test (e.g., in common_nn.py), then modify the corresponding
  module_test entry to have `gradcheck_nondet_tol=<tol>`
"""

FAST_FAIL_SLOW_OK_MSG = """
Fast gradcheck failed but element-wise differences are small. This means that the
test might've passed in slow_mode!

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck:

If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `fast_mode=False` as a keyword argument.
- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the OpInfo for the test
  to have `gradcheck_fast_mode=False`
- is a Module test (e.g., in common_nn.py), then modify the corresponding
  module_test entry to have `gradcheck_fast_mode=False`
""".strip()


# ---- small helpers over tensors and flat Python lists ------------------------------------


def _as_tuple(x):
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _is_tensor(x):
    return isinstance(x, ferrograd.Tensor)


def _differentiable_outputs(out):
    return tuple(o for o in _as_tuple(out) if o.requires_grad)


def _diff_inputs(inputs):
    """(positions, tensors) of the inputs that require grad."""
    pairs = [(i, t) for i, t in enumerate(inputs) if _is_tensor(t) and t.requires_grad]
    return [i for i, _ in pairs], [t for _, t in pairs]


def _flat(t):
    """A tensor's values in row-major order, as Python numbers."""
    return t.detach().reshape(-1).tolist()


def _matrix(flat, rows, cols, dtype):
    return ferrograd.tensor(flat, dtype=dtype).reshape(rows, cols)


def _transpose_columns(columns, rows):
    """Columns (lists of length ``rows``) -> flat row-major values of the matrix."""
    return [col[r] for r in range(rows) for col in columns]


def _one_hot(shape, numel, k, value, dtype):
    flat = [0.0] * numel
    flat[k] = value
    return ferrograd.tensor(flat, dtype=dtype).reshape(shape)


def _assign(dst, src):
    """``dst[...] = src`` in place (``dst`` is a ``.data`` alias: no autograd, no version)."""
    copy_ = getattr(dst, "copy_", None)
    if copy_ is not None:
        copy_(src)
    else:
        dst.zero_().add_(src)


def _isclose(a, n, rtol, atol):
    """``torch.isclose(a, n)`` on two numbers (NaN is never close; equal infinities are)."""
    return a == n or abs(a - n) <= atol + rtol * abs(n)


def _allclose(a, n, rtol, atol):
    return all(_isclose(x, y, rtol, atol) for x, y in zip(a, n))


def _max_abs_diff(a, b):
    return max((abs(x - y) for x, y in zip(a, b)), default=0.0)


def _notclose_msg(analytical, numerical, output_idx, input_idx):
    return (
        f"Jacobian mismatch for output {output_idx:d} with respect to input {input_idx:d},\n"
        f"numerical:{numerical}\nanalytical:{analytical}\n"
    )


# ---- numerical side: central differences -----------------------------------------------


def _check_same_dtype_and_shape(a, b, eps, idx):
    on_index = f"on index {idx} " if idx is not None else ""
    if a.shape != b.shape:
        raise AssertionError(
            f"Expected `func` to return outputs with the same shape when inputs are perturbed "
            f"{on_index}by {eps}, but got: shapes {a.shape} and {b.shape}."
        )
    if a.dtype != b.dtype:
        raise AssertionError(
            f"Expected `func` to return outputs with the same dtype when inputs are perturbed "
            f"{on_index}by {eps}, but got: dtypes {a.dtype} and {b.dtype}."
        )


def _evaluate(func, inputs):
    return tuple(o.detach().clone() for o in _as_tuple(func(*inputs)))


def _central_difference(func, inputs, target, delta, eps, idx=None):
    """``(f(x + delta) - f(x - delta)) / (2 eps)`` for every floating output, flattened.

    ``target`` is the ``.data`` alias of the perturbed input, restored afterwards.
    """
    orig = target.clone()
    try:
        with ferrograd.no_grad():
            _assign(target, orig - delta)
        before = _evaluate(func, inputs)
        with ferrograd.no_grad():
            _assign(target, orig + delta)
        after = _evaluate(func, inputs)
    finally:
        with ferrograd.no_grad():
            _assign(target, orig)
    diffs = []
    for a, b in zip(before, after):
        _check_same_dtype_and_shape(a, b, eps, idx)
        if a.is_floating_point():
            diffs.append(((b - a) / (2 * eps)).reshape(-1))
    return diffs


def _element_index(shape, k):
    idx = []
    for size in reversed(shape):
        idx.append(k % size)
        k //= size
    return tuple(reversed(idx))


def _numerical_jacobians(func, inputs, outputs, eps):
    """``result[i][j]``: the (input_i.numel(), output_j.numel()) numerical Jacobian of the
    j-th floating output with respect to the i-th input that requires grad."""
    float_outputs = [o for o in outputs if o.is_floating_point()]
    result = []
    for _, inp in zip(*_diff_inputs(inputs)):
        target, numel, shape = inp.data, inp.numel(), tuple(inp.shape)
        rows = [[] for _ in float_outputs]
        for k in range(numel):
            delta = _one_hot(shape, numel, k, eps, inp.dtype)
            diffs = _central_difference(func, inputs, target, delta, eps, _element_index(shape, k))
            for row, d in zip(rows, diffs):
                row.extend(_flat(d))
        result.append([_matrix(r, numel, o.numel(), o.dtype) for r, o in zip(rows, float_outputs)])
    return result


# ---- analytical side: vector-Jacobian products -----------------------------------------


def _vjp_columns(output, diff_inputs, grad_outputs, check_grad_dtypes):
    """For each grad_output: the flat vjp w.r.t. each input (zeros where unused).

    Returns ``(columns[i] = list of flat vjps for input i, sizes_ok, types_ok)``.
    """
    columns = [[] for _ in diff_inputs]
    sizes_ok = types_ok = True
    for go in grad_outputs:
        grads = ferrograd.autograd.grad(
            output, diff_inputs, go, retain_graph=True, allow_unused=True
        )
        for col, g, inp in zip(columns, grads, diff_inputs):
            if g is None:
                col.append([0.0] * inp.numel())
                continue
            if g.shape != inp.shape:
                sizes_ok = False
            elif g.dtype != inp.dtype:
                types_ok = False
            col.append(_flat(g))
    if not types_ok and check_grad_dtypes:
        raise GradcheckError("Gradient has dtype mismatch")
    if not sizes_ok:
        raise GradcheckError("Analytical gradient has incorrect size")
    return columns


def _checked_vjps(output, diff_inputs, grad_outputs, nondet_tol, check_grad_dtypes):
    """Runs the vjps twice and insists on the same answer (within ``nondet_tol``)."""
    first = _vjp_columns(output, diff_inputs, grad_outputs, check_grad_dtypes)
    second = _vjp_columns(output, diff_inputs, grad_outputs, check_grad_dtypes)
    for c1, c2 in zip(first, second):
        for v1, v2 in zip(c1, c2):
            if _max_abs_diff(v1, v2) > nondet_tol:
                raise GradcheckError(
                    "Backward is not reentrant, i.e., running backward with "
                    "same input and grad_output multiple times gives different values, "
                    "although analytical gradient matches numerical gradient."
                    f"The tolerance for nondeterminism was {nondet_tol}." + FAILED_NONDET_MSG
                )
    return first


def _analytical_jacobians(output, diff_inputs, nondet_tol, check_grad_dtypes):
    """One (input.numel(), output.numel()) Jacobian per input, in the input's dtype."""
    numel, shape = output.numel(), tuple(output.shape)
    one_hots = [_one_hot(shape, numel, j, 1.0, output.dtype) for j in range(numel)]
    columns = _checked_vjps(output, diff_inputs, one_hots, nondet_tol, check_grad_dtypes)
    return [
        _matrix(_transpose_columns(cols, inp.numel()), inp.numel(), numel, inp.dtype)
        for cols, inp in zip(columns, diff_inputs)
    ]


# ---- the checks -------------------------------------------------------------------------


def _check_inputs(inputs):
    any_requires_grad = False
    for idx, inp in enumerate(inputs):
        if not (_is_tensor(inp) and inp.requires_grad):
            continue
        if inp.dtype != ferrograd.float64:
            warnings.warn(
                f"Input #{idx} requires gradient and "
                "is not a double precision floating point or complex. "
                "This check will likely fail if all the inputs are "
                "not of double precision floating point or complex. ",
                UserWarning,
                stacklevel=3,
            )
        if not all(st > 0 or sz <= 1 for st, sz in zip(inp.stride(), inp.shape)):
            raise RuntimeError(
                f"The {idx}th input has a dimension with stride 0. gradcheck only "
                "supports inputs that are non-overlapping to be able to "
                "compute the numerical gradients correctly. You should call "
                ".contiguous on the input before passing it to gradcheck."
            )
        any_requires_grad = True
    if not any_requires_grad:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, "
            "but none of them have requires_grad=True."
        )


def _slow_check(func, inputs, func_out, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol):
    if not outputs:
        for per_input in _numerical_jacobians(func, inputs, func_out, eps):
            if any(any(v != 0 for v in _flat(j)) for j in per_input):
                raise GradcheckError("Numerical gradient for function expected to be zero")
        return
    numerical = _numerical_jacobians(func, inputs, func_out, eps)
    # Keep the numerical Jacobians of the outputs that are checked analytically.
    float_outs = [o for o in func_out if o.is_floating_point()]
    keep = [k for k, o in enumerate(float_outs) if o.requires_grad]
    _, diff_inputs = _diff_inputs(inputs)
    for i, out in enumerate(outputs):
        analytical = _analytical_jacobians(out, diff_inputs, nondet_tol, check_grad_dtypes)
        for j, a in enumerate(analytical):
            n = numerical[j][keep[i]]
            if not _allclose(_flat(a), _flat(n), rtol, atol):
                raise GradcheckError(_notclose_msg(a, n, i, j))


def _unit_vector(rng, like):
    vals = [rng.random() for _ in range(like.numel())]
    norm = math.sqrt(sum(v * v for v in vals)) or 1.0
    return ferrograd.tensor([v / norm for v in vals], dtype=like.dtype)


def _dot(a, b):
    """``(a * b).sum()`` with type promotion, both 1-d."""
    return (a.reshape(-1) * b.reshape(-1)).sum()


def _slow_mode_report(func, inputs, func_out, outputs, input_idx, output_idx, rtol, atol, eps):
    """Fast mode failed: recompute that one Jacobian pair in slow mode for the message."""
    float_outs = [o for o in func_out if o.is_floating_point()]
    keep = [k for k, o in enumerate(float_outs) if o.requires_grad]
    numerical = _numerical_jacobians(func, inputs, func_out, eps)[input_idx][keep[output_idx]]
    _, diff_inputs = _diff_inputs(inputs)
    analytical = _analytical_jacobians(outputs[output_idx], diff_inputs, math.inf, False)
    analytical = analytical[input_idx]
    n, a = _flat(numerical), _flat(analytical)
    max_diff = ferrograd.tensor(_max_abs_diff(n, a), dtype=numerical.dtype)
    msg = (
        "\nThe above quantities relating the numerical and analytical jacobians are computed \n"
        "in fast mode. See: https://github.com/pytorch/pytorch/issues/53876 for more "
        "background \n"
        "about fast mode. Below, we recompute numerical and analytical jacobians in slow "
        "mode:\n\n"
        f"Numerical:\n {numerical}\n"
        f"Analytical:\n{analytical}\n\n"
        f"The max per-element difference (slow mode) is: {max_diff}.\n"
    )
    if _allclose(a, n, rtol, atol):
        msg += FAST_FAIL_SLOW_OK_MSG
    return msg


def _fast_check(func, inputs, func_out, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol):
    # Numerically J u by one central difference along u; analytically v^T J by one vjp;
    # compare v^T (J u) with (v^T J) u.  Our own generator leaves the user's RNG alone.
    rng = random.Random(0)
    _, diff_inputs = _diff_inputs(inputs)
    all_u = [_unit_vector(rng, t) for t in diff_inputs]
    all_v = [_unit_vector(rng, o) for o in outputs]
    float_outs = [o for o in func_out if o.is_floating_point()]
    numerical = []  # numerical[i][j]: v_j . (J_ji u_i)
    for inp, u in zip(diff_inputs, all_u):
        delta = (u * eps).reshape(tuple(inp.shape))
        jus = _central_difference(func, inputs, inp.data, delta, eps)
        if not outputs:
            for ju in jus:
                if ju.numel() and _max_abs_diff(_flat(ju), [0.0] * ju.numel()) > nondet_tol:
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        jus = [ju for ju, o in zip(jus, float_outs) if o.requires_grad]
        numerical.append([_dot(v, ju) for v, ju in zip(all_v, jus)])
    for j, (out, v) in enumerate(zip(outputs, all_v)):
        go = [v.reshape(tuple(out.shape))]
        columns = _checked_vjps(out, diff_inputs, go, nondet_tol, check_grad_dtypes)
        for i, (cols, u) in enumerate(zip(columns, all_u)):
            vj = ferrograd.tensor(cols[0], dtype=diff_inputs[i].dtype)
            a, n = _dot(vj, u), numerical[i][j]
            tol = atol * sum(_flat(u)) * sum(_flat(v))
            if not _isclose(a.item(), n.item(), rtol, tol):
                report = _slow_mode_report(func, inputs, func_out, outputs, i, j, rtol, atol, eps)
                raise GradcheckError(_notclose_msg(a, n, j, i) + report)


def _check_backward_mul_by_grad_output(outputs, inputs):
    _, diff_inputs = _diff_inputs(inputs)
    zeros = [ferrograd.zeros_like(o) for o in outputs]
    grads = ferrograd.autograd.grad(outputs, diff_inputs, zeros, allow_unused=True)
    for g, inp in zip(grads, diff_inputs):
        if g is None:
            continue
        if not all(v == 0 for v in _flat(g)):
            raise GradcheckError("backward not multiplied by grad_output")
        if g.dtype != inp.dtype:
            raise GradcheckError("grad is incorrect type")
        if g.shape != inp.shape:
            raise GradcheckError("grad is incorrect size")


def _unsupported(flag, what):
    if flag:
        raise RuntimeError(f"gradcheck({what}=True) is not supported yet")


def gradcheck(
    func,
    inputs,
    *,
    eps=1e-6,
    atol=1e-5,
    rtol=1e-3,
    raise_exception=True,
    nondet_tol=0.0,
    check_undefined_grad=True,
    check_grad_dtypes=False,
    check_batched_grad=False,
    check_batched_forward_grad=False,
    check_forward_ad=False,
    check_backward_ad=True,
    fast_mode=False,
    masked=None,
):
    """Checks the gradients ``func`` computes w.r.t. the ``inputs`` that require grad against
    central finite differences (``allclose(analytical, numerical, rtol, atol)``).

    ``func`` takes the inputs (a tensor or a tuple) and returns a tensor or a tuple of
    tensors. Returns ``True``; on failure raises :class:`GradcheckError`, or returns
    ``False`` when ``raise_exception=False``. The defaults are meant for float64 inputs.
    """
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError(
            "Expected at least one of check_forward_ad or check_backward_ad to be True"
        )
    if check_batched_grad and not check_backward_ad:
        raise AssertionError(
            "Setting check_batched_grad=True requires check_backward_ad to be True"
        )
    if check_batched_forward_grad and not check_forward_ad:
        raise AssertionError(
            "Setting check_batched_forward_grad=True requires check_forward_ad to be True"
        )
    _unsupported(check_batched_grad, "check_batched_grad")
    _unsupported(check_forward_ad, "check_forward_ad")
    _unsupported(check_batched_forward_grad, "check_batched_forward_grad")
    try:
        tupled = _as_tuple(inputs)
        _check_inputs(tupled)
        func_out = _as_tuple(func(*tupled))
        outputs = _differentiable_outputs(func_out)
        check = _fast_check if fast_mode else _slow_check
        check(func, tupled, func_out, outputs, eps, rtol, atol, check_grad_dtypes, nondet_tol)
        # An undefined output gradient is a zero gradient in ferrograd, so this one check
        # also covers check_undefined_grad.
        if outputs:
            _check_backward_mul_by_grad_output(outputs, tupled)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


gradcheck.GradcheckError = GradcheckError  # ``ferrograd.autograd.gradcheck.GradcheckError``


def _random_grad_output(out, noncontiguous):
    """Uniform in [-1, 1), like ``torch.testing.make_tensor(low=-1, high=1)``."""
    dtype = out.dtype if out.is_floating_point() else ferrograd.float64
    shape = tuple(out.shape)
    if noncontiguous and len(shape) >= 2:
        t = ferrograd.rand(*reversed(shape), dtype=dtype)
        t = t.permute(*reversed(range(len(shape))))
    else:
        t = ferrograd.rand(*shape, dtype=dtype)
    with ferrograd.no_grad():
        t.mul_(2).sub_(1)
    return t.requires_grad_()


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps=1e-6,
    atol=1e-5,
    rtol=1e-3,
    gen_non_contig_grad_outputs=False,
    raise_exception=True,
    nondet_tol=0.0,
    check_undefined_grad=True,
    check_grad_dtypes=False,
    check_batched_grad=False,
    check_fwd_over_rev=False,
    check_rev_over_rev=True,
    fast_mode=False,
    masked=False,
):
    """Checks second derivatives: :func:`gradcheck` of ``(inputs, grad_outputs) ->
    autograd.grad(func(inputs), inputs, grad_outputs, create_graph=True)``.

    Without ``grad_outputs``, random ones in [-1, 1) (requiring grad) are drawn from the
    global generator, as PyTorch does.
    """
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError(
            "Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True"
        )
    if check_undefined_grad and not check_rev_over_rev:
        raise AssertionError(
            "Setting check_undefined_grad=True requires check_rev_over_rev to be True"
        )
    if check_batched_grad and not check_rev_over_rev:
        raise AssertionError(
            "Setting check_batched_grad=True requires check_rev_over_rev to be True"
        )
    tupled_inputs = _as_tuple(inputs)
    if grad_outputs is None:
        outs = _differentiable_outputs(func(*tupled_inputs))
        tupled_grads = tuple(_random_grad_output(o, gen_non_contig_grad_outputs) for o in outs)
    else:
        tupled_grads = _as_tuple(grad_outputs)
    n_grads = len(tupled_grads)
    diff_inputs = {i for i, x in enumerate(tupled_inputs) if _is_tensor(x) and x.requires_grad}

    def first_derivatives(*args):
        ins, gos = args[: len(args) - n_grads], args[len(args) - n_grads :]
        outs = _differentiable_outputs(func(*ins))
        wrt = tuple(x for i, x in enumerate(ins) if i in diff_inputs)
        grads = ferrograd.autograd.grad(outs, wrt, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        first_derivatives,
        tupled_inputs + tupled_grads,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad,
        check_grad_dtypes=check_grad_dtypes,
        check_batched_grad=check_batched_grad,
        check_forward_ad=check_fwd_over_rev,
        check_backward_ad=check_rev_over_rev,
        fast_mode=fast_mode,
        masked=masked,
    )
