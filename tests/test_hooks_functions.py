"""Hooks, retain_grad, custom autograd.Function, anomaly and inference modes (issue 4).

Fixed expectations always run; the comparisons with PyTorch run where it is installed.
"""

import gc
import weakref

import ferrograd
import pytest
from ferrograd.autograd import Function

# ---- tensor hooks ----------------------------------------------------------------------


def _hook_trace(lib):
    calls = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = y * y
    y.register_hook(lambda g: calls.append(("y1", g.tolist())))
    y.register_hook(lambda g: g * 10)  # replaces the grad flowing into y's node
    y.register_hook(lambda g: calls.append(("y3", g.tolist())))
    y.retain_grad()
    x.register_hook(lambda g: calls.append(("x", g.tolist())))
    z.sum().backward()
    return calls, x.grad.tolist(), y.grad.tolist()


def test_tensor_hooks_run_in_order_and_may_replace_the_grad():
    calls, xg, yg = _hook_trace(ferrograd)
    assert calls == [("y1", [6.0, 12.0]), ("y3", [60.0, 120.0]), ("x", [180.0, 360.0])]
    assert xg == [180.0, 360.0]
    assert yg == [60.0, 120.0]  # retain_grad sees the grad after the tensor hooks


def test_tensor_hooks_match_torch():
    torch = pytest.importorskip("torch")
    assert _hook_trace(ferrograd) == _hook_trace(torch)


def test_hook_handle_remove_and_context_manager():
    x = ferrograd.ones(2, requires_grad=True)
    h = x.register_hook(lambda g: g * 2)
    (x * 1).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    h.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    with x.register_hook(lambda g: g * 5):
        x.grad = None
        (x * 1).sum().backward()
        assert x.grad.tolist() == [5.0, 5.0]


def test_hook_on_tensor_without_grad_is_refused():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't"):
        ferrograd.ones(2).register_hook(lambda g: g)


def test_retain_grad_and_retains_grad():
    x = ferrograd.ones(2, requires_grad=True)
    y = x * 2
    assert not y.retains_grad
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 4.0]
    assert x.retains_grad is False


def test_post_accumulate_grad_hook_sees_the_accumulated_grad():
    x = ferrograd.ones(2, requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0], [6.0, 6.0]]
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)


def _node_hooks(lib):
    calls = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.grad_fn.register_prehook(lambda go: calls.append(("pre", [g.tolist() for g in go])))
    y.grad_fn.register_hook(
        lambda gi, go: calls.append(("post", [None if g is None else g.tolist() for g in gi]))
    )
    y.sum().backward()
    return calls


def test_node_pre_and_post_hooks():
    assert _node_hooks(ferrograd) == [("pre", [[1.0, 1.0]]), ("post", [[3.0, 3.0], None])]


def test_node_hooks_match_torch():
    torch = pytest.importorskip("torch")
    assert _node_hooks(ferrograd) == _node_hooks(torch)


def test_exception_in_hook_keeps_its_type_and_the_next_backward_works():
    class Boom(ValueError):
        pass

    x = ferrograd.ones(2, requires_grad=True)

    def bad(g):
        raise Boom("from the hook")

    h = x.register_hook(bad)
    with pytest.raises(Boom, match="from the hook"):
        (x * 2).sum().backward()
    h.remove()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_grad_fn_metadata_persists():
    y = ferrograd.ones(2, requires_grad=True) * 2
    y.grad_fn.metadata["tag"] = 7
    assert y.grad_fn.metadata == {"tag": 7}


# ---- custom Functions -----------------------------------------------------------------------


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        result = x.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * result


class MulConst(Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, grad):
        assert ctx.needs_input_grad == (True, False)
        return grad * ctx.k, None


def test_custom_function_forward_backward_and_name():
    x = ferrograd.tensor([0.0, 1.0], requires_grad=True)
    y = Exp.apply(x)
    assert y.grad_fn.name() == "ExpBackward"
    assert y.grad_fn.next_functions[0][0].name() == "torch::autograd::AccumulateGrad"
    y.sum().backward()
    assert x.grad.tolist() == pytest.approx([1.0, 2.718281828], rel=1e-6)
    z = MulConst.apply(x, 3.0)
    assert (z * 1).grad_fn.next_functions[0][0].name() == "MulConstBackward"
    x.grad = None
    z.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_custom_function_second_derivative_through_saved_output():
    x = ferrograd.tensor([0.5], dtype=ferrograd.float64, requires_grad=True)
    (g,) = ferrograd.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    (gg,) = ferrograd.autograd.grad(g.sum(), x)
    assert gg.item() == pytest.approx(1.6487212707, rel=1e-9)


def test_custom_function_errors():
    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = ferrograd.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        TooMany.apply(x).sum().backward()


def test_mark_non_differentiable_and_materialize_grads():
    class Sort2(Function):
        @staticmethod
        def forward(ctx, x):
            idx = ferrograd.tensor([1, 0])
            ctx.mark_non_differentiable(idx)
            ctx.set_materialize_grads(False)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            assert g_idx is None
            return g * 2

    x = ferrograd.ones(2, requires_grad=True)
    y, idx = Sort2.apply(x)
    assert not idx.requires_grad and y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_mark_dirty_rebases_the_input():
    class AddOne_(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    a = ferrograd.ones(2, requires_grad=True)
    b = a * 1
    out = AddOne_.apply(b)
    assert b.grad_fn.name() == "AddOne_Backward"
    out.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]


def test_saved_tensor_modified_in_place_is_detected():
    x = ferrograd.ones(2, requires_grad=True)
    y = Exp.apply(x)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---- modes ----------------------------------------------------------------------------------


def test_anomaly_mode_names_the_op_that_made_nan():
    x = ferrograd.tensor([-1.0, 1.0], requires_grad=True)
    with ferrograd.autograd.detect_anomaly():
        y = (x.sqrt() * 0).sum()  # sqrt(-1) = nan; its backward divides by it
        with pytest.warns(UserWarning, match="Error detected in"):
            nan_message = r"Function '\w+' returned nan values in its 0th output."
            with pytest.raises(RuntimeError, match=nan_message):
                y.backward()
    assert not ferrograd.autograd.anomaly_mode.is_anomaly_enabled()


def test_inference_mode_tensors_cannot_require_grad():
    with ferrograd.inference_mode():
        t = ferrograd.ones(2)
        assert not ferrograd.is_grad_enabled()
        assert ferrograd.is_inference_mode_enabled()
    assert t.is_inference()
    assert ferrograd.is_grad_enabled()
    with pytest.raises(RuntimeError, match="Setting requires_grad=True on inference tensor"):
        t.requires_grad_()

    @ferrograd.inference_mode()
    def f():
        return ferrograd.is_inference_mode_enabled()

    assert f() is True


# ---- garbage collection ------------------------------------------------------------------------


class _Marker:
    pass


def test_hook_capturing_its_own_tensor_is_collected():
    gc.collect()
    before = ferrograd._C._live_nodes()
    marker = _Marker()
    ref = weakref.ref(marker)

    def make(m):
        x = ferrograd.ones(2, requires_grad=True)
        y = x * 2
        y.register_hook(lambda g, y=y, m=m: g)
        x.register_hook(lambda g, x=x, m=m: g)

    make(marker)
    del marker
    gc.collect()
    assert ref() is None
    assert ferrograd._C._live_nodes() == before


def test_function_ctx_holding_its_output_is_collected():
    gc.collect()
    before = ferrograd._C._live_nodes()

    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            out = x * 2
            ctx.out = out  # a cycle: out -> node -> ctx -> out
            return out

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = ferrograd.ones(2, requires_grad=True)
    y = Keep.apply(x)
    ref = weakref.ref(y.grad_fn.next_functions[0][0].variable)  # noqa: F841 (keeps API honest)
    del x, y
    gc.collect()
    assert ferrograd._C._live_nodes() == before


def test_backward_with_inputs_accumulates_only_there():
    a = ferrograd.ones(2, requires_grad=True)
    b = ferrograd.ones(2, requires_grad=True)
    y = a * b * 3
    mid = a * 2
    (y.sum() + mid.sum()).backward(inputs=[a])
    assert a.grad.tolist() == [5.0, 5.0]
    assert b.grad is None
    ferrograd.autograd.backward((b * 2).sum(), inputs=b)
    assert b.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (a * 2).sum().backward(inputs=[])


def test_inplace_on_inference_tensor_outside_inference_mode_is_refused():
    with ferrograd.inference_mode():
        t = ferrograd.ones(2)
        t.add_(1)  # allowed inside
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside"):
        t.add_(1)
