"""``ferrograd.viz.make_dot``: DOT text of the backward graph (torchviz's conventions),
rendering through Graphviz when its ``dot`` program is installed, and a clear error when
it is not. The graph's shape is compared with PyTorch's own graph where torch is installed.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter

import ferrograd
import pytest
from ferrograd import viz

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz 'dot' is not installed")

NODE = re.compile(r'^\t(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\]$')
EDGE = re.compile(r"^\t(\w+) -> (\w+)(?: \[(.*)\])?$")


def parse(source):
    """({id: (label, attrs text)}, [(src id, dst id, attrs text)])."""
    nodes, edges = {}, []
    for line in source.splitlines():
        if m := NODE.match(line):
            nodes[m[1]] = (m[2].replace("\\n", "\n"), m[3])
        elif m := EDGE.match(line):
            edges.append((m[1], m[2], m[3] or ""))
    return nodes, edges


def labelled_edges(source):
    nodes, edges = parse(source)
    return Counter((nodes[a][0], nodes[b][0]) for a, b, _ in edges)


def tutorial(lib):
    x = lib.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y * y * 3
    return x, z.mean()


def fill(source, label):
    nodes, _ = parse(source)
    (attrs,) = [a for lbl, a in nodes.values() if lbl == label]
    return re.search(r'fillcolor="(\w+)"', attrs)[1] if "fillcolor" in attrs else None


# ---- DOT text ------------------------------------------------------------------------------


def test_tutorial_graph():
    x, out = tutorial(ferrograd)
    source = viz.make_dot(out, params={"x": x}).source
    assert source.startswith("digraph {\n") and source.endswith("}\n")
    nodes, edges = parse(source)
    assert sorted(label for label, _ in nodes.values()) == sorted(
        [
            "()",
            "MeanBackward0",
            "MulBackward0",
            "MulBackward0",
            "AddBackward0",
            "AccumulateGrad",
            "x\n (2, 2)",
        ]
    )
    assert labelled_edges(source) == Counter(
        {
            ("x\n (2, 2)", "AccumulateGrad"): 1,
            ("AccumulateGrad", "AddBackward0"): 1,
            ("AddBackward0", "MulBackward0"): 2,  # y * y: both edges drawn
            ("MulBackward0", "MulBackward0"): 1,
            ("MulBackward0", "MeanBackward0"): 1,
            ("MeanBackward0", "()"): 1,
        }
    )
    assert fill(source, "x\n (2, 2)") == "lightblue"
    assert fill(source, "()") == "darkolivegreen1"
    assert fill(source, "MeanBackward0") is None
    assert 'node [style="filled" shape="box"' in source


def test_params_label_leaves_by_name_and_others_by_shape():
    w = ferrograd.ones(3, 2, requires_grad=True)
    b = ferrograd.zeros(2, requires_grad=True)
    inp = ferrograd.ones(4, 3, requires_grad=True)
    out = (inp.mm(w) + b).sum()
    source = viz.make_dot(out, params={"weight": w, "bias": b}).source
    labels = {label for label, _ in parse(source)[0].values()}
    assert {"weight\n (3, 2)", "bias\n (2)", "(4, 3)"} <= labels
    # Unlabelled without params.
    labels = {label for label, _ in parse(viz.make_dot(out).source)[0].values()}
    assert {"(3, 2)", "(2)", "(4, 3)", "()"} <= labels


def test_params_are_matched_by_storage_not_wrapper_identity():
    x, out = tutorial(ferrograd)
    add = out.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0]
    # The leaf AccumulateGrad hands back may be another Python object for the same tensor.
    acc = add.next_functions[0][0]
    assert acc.variable.data_ptr() == x.data_ptr()
    source = viz.make_dot(out, params={"x": acc.variable}).source
    assert "x\\n (2, 2)" in source
    # Same storage but another shape is a different tensor.
    source = viz.make_dot(out, params={"x": x.detach().reshape(4)}).source
    assert "x\\n" not in source


def test_several_outputs_share_their_graph():
    x = ferrograd.ones(3, requires_grad=True)
    y = x.exp()
    a, b = y.sum(), (y * 2).mean()
    nodes, edges = parse(viz.make_dot((a, b)).source)
    labels = Counter(label for label, _ in nodes.values())
    assert labels["ExpBackward0"] == 1 and labels["AccumulateGrad"] == 1
    assert labels["()"] == 2
    assert sum(1 for lbl, attrs in nodes.values() if "darkolivegreen1" in attrs) == 2


def test_leaf_output_and_labels_are_escaped():
    x = ferrograd.ones(2, requires_grad=True)
    source = viz.make_dot(x * 2, params={'we"ird\\name': x}).source
    assert 'label="we\\"ird\\\\name\\n (2)"' in source
    nodes, _ = parse(viz.make_dot(x).source)
    assert [label for label, _ in nodes.values()] == ["(2)"]


def test_long_chain_is_drawn_without_recursion():
    x = ferrograd.ones(1, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    start = time.perf_counter()
    source = viz.make_dot(y).source
    assert time.perf_counter() - start < 20
    assert source.count(" -> ") == 100_002  # the muls, AccumulateGrad, leaf, output


def test_saved_values_are_drawn_where_nodes_expose_them():
    # PyTorch's nodes expose ``_saved_*`` attributes; make_dot draws them for any node
    # that does (a stand-in node here).
    saved = ferrograd.ones(5, 2)

    class Node:
        _saved_self = saved
        _saved_alpha = 2.5
        next_functions = ()

        def name(self):
            return "StandInBackward0"

    class Var:
        shape = (5, 2)
        grad_fn = Node()

        def data_ptr(self):
            return 0

        dtype = ferrograd.float32

    plain = viz.make_dot(Var()).source
    assert "orange" not in plain and "alpha" not in plain
    source = viz.make_dot(Var(), show_saved=True, show_attrs=True, max_attr_chars=3).source
    nodes, edges = parse(source)
    labels = {label: attrs for label, attrs in nodes.values()}
    # torchviz's layout: a rule under the name, then two columns, cut to max_attr_chars.
    assert "StandInBackward0\n" + "-" * 16 + "\nalpha: 2.5\nself : ..." in labels
    assert 'fillcolor="orange"' in labels["self\n (5, 2)"]
    assert any('dir="none"' in attrs for _, _, attrs in edges)


# ---- rendering ----------------------------------------------------------------------------


@needs_dot
def test_render_svg_and_png(tmp_path):
    x, out = tutorial(ferrograd)
    dot = viz.make_dot(out, params={"x": x})
    svg_path = dot.render(str(tmp_path / "graph"), format="svg")
    assert svg_path == str(tmp_path / "graph.svg")
    svg = (tmp_path / "graph.svg").read_text()
    assert "<svg" in svg and "MulBackward0" in svg and "AccumulateGrad" in svg
    assert (tmp_path / "graph").read_text() == dot.source
    png_path = dot.render("g2", directory=str(tmp_path), format="png", cleanup=True)
    with open(png_path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "g2").exists()
    assert dot._repr_svg_().lstrip().startswith("<?xml")


def test_render_without_graphviz_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    _, out = tutorial(ferrograd)
    dot = viz.make_dot(out)
    with pytest.raises(RuntimeError) as info:
        dot.render(str(tmp_path / "graph"), format="svg")
    msg = str(info.value)
    assert "Graphviz" in msg and "apt-get install graphviz" in msg
    assert "`pip install graphviz` is not enough" in msg
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        dot._repr_svg_()
    assert not (tmp_path / "graph").exists()


@needs_dot
def test_render_reports_graphviz_errors(tmp_path):
    with pytest.raises(RuntimeError, match="dot -Tnot-a-format"):
        viz.make_dot(ferrograd.ones(1, requires_grad=True) * 2).render(
            str(tmp_path / "g"), format="not-a-format"
        )


# ---- PyTorch parity -----------------------------------------------------------------------


def torch_edges(outputs):
    """The same labelled edges as make_dot draws, read from PyTorch's graph."""
    edges = Counter()
    seen, stack = set(), []

    def size(t):
        return "(" + ", ".join(str(s) for s in t.shape) + ")"

    for out in outputs:
        edges[(type(out.grad_fn).__name__, size(out))] += 1
        stack.append(out.grad_fn)
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        if hasattr(fn, "variable"):
            edges[(size(fn.variable), "AccumulateGrad")] += 1
        for child, _ in fn.next_functions:
            if child is not None:
                edges[(type(child).__name__, type(fn).__name__)] += 1
                stack.append(child)
    return edges


def graphs(lib):
    """Named graphs, and their leaves (ferrograd's AccumulateGrad holds its leaf weakly, so
    a leaf nobody references any more has no box)."""
    x, out = tutorial(lib)
    w = lib.ones(3, 2, requires_grad=True)
    b = lib.zeros(2, requires_grad=True)
    inp = lib.ones(4, 3, dtype=lib.float32)
    h = inp.mm(w) + b
    return {"tutorial": (out,), "affine": ((h.exp() * h).sum(), (h / 2).mean())}, (x, w, b)


@pytest.mark.parametrize("name", ["tutorial", "affine"])
def test_parity_graph_shape_with_torch(name):
    torch = pytest.importorskip("torch")
    ours, _leaves = graphs(ferrograd)
    theirs, _ = graphs(torch)
    assert labelled_edges(viz.make_dot(ours[name]).source) == torch_edges(theirs[name])


def test_freed_leaf_has_no_box():
    out = tutorial(ferrograd)[1]  # the leaf itself is gone; its AccumulateGrad is not
    labels = [label for label, _ in parse(viz.make_dot(out).source)[0].values()]
    assert "AccumulateGrad" in labels and "(2, 2)" not in labels


# ---- saved tensors of real nodes ------------------------------------------------------------


def _saved_tensor_shapes(lib, out):
    """(node name, attr, shape) for every tensor a node of ``out``'s graph exposes as a
    ``_saved_*`` attribute, walking the graph as make_dot does."""
    found, seen, stack = [], set(), [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        for attr in dir(fn):
            if attr.startswith("_saved_"):
                val = getattr(fn, attr)
                if isinstance(val, lib.Tensor):
                    found.append((type(fn).__name__, attr[7:], tuple(val.shape)))
        stack.extend(f for f, _ in fn.next_functions)
    return sorted(found)


def _mlp(lib):
    x = lib.ones(4, 3)
    w = lib.full((3, 2), 0.5, requires_grad=True)
    b = lib.zeros(2, requires_grad=True)
    return (x.mm(w) + b).tanh().pow(2).mean(), {"w": w, "b": b}


def test_saved_tensors_are_drawn_as_orange_boxes():
    x, out = tutorial(ferrograd)
    source = viz.make_dot(out, params={"x": x}, show_saved=True).source
    nodes, edges = parse(source)
    orange = {i: lbl for i, (lbl, attrs) in nodes.items() if 'fillcolor="orange"' in attrs}
    # y * y saves both factors (2, 2); `* 3` saves the wrapped number 3 (a 0-dim tensor).
    assert sorted(orange.values()) == ["other\n ()", "other\n (2, 2)", "self\n (2, 2)"]
    for i in orange:
        (edge,) = [(a, b, at) for a, b, at in edges if i in (a, b)]
        assert nodes[edge[0]][0] == "MulBackward0" and 'dir="none"' in edge[2]
    # Without show_saved nothing is drawn for them.
    assert "orange" not in viz.make_dot(out, params={"x": x}).source


def test_saved_tensor_boxes_match_torch():
    out, params = _mlp(ferrograd)
    nodes, _ = parse(viz.make_dot(out, params=params, show_saved=True).source)
    drawn = sorted(lbl for lbl, attrs in nodes.values() if 'fillcolor="orange"' in attrs)
    ours = _saved_tensor_shapes(ferrograd, out)
    assert drawn == sorted(f"{a}\n ({', '.join(map(str, s))})" for _, a, s in ours)
    assert ("MmBackward0", "mat2", ()) not in ours
    assert ("MmBackward0", "self", (4, 3)) in ours  # x is saved for w's grad
    assert ("TanhBackward0", "result", (4, 2)) in ours
    assert ("PowBackward0", "self", (4, 2)) in ours
    try:
        import torch
    except ImportError:
        return
    tout, _ = _mlp(torch)
    assert ours == _saved_tensor_shapes(torch, tout)


def test_show_attrs_lists_saved_values_like_torchviz():
    x = ferrograd.ones(2, 3, requires_grad=True)
    nodes, _ = parse(viz.make_dot(x.sum(1), show_attrs=True).source)
    labels = [lbl for lbl, _ in nodes.values() if lbl.startswith("SumBackward1")]
    assert labels == [
        "SumBackward1\n"
        "----------------------\n"
        "dim           :   (1,)\n"
        "keepdim       :  False\n"
        "self_sym_sizes: (2, 3)"
    ]


def test_custom_function_saved_tensors_are_always_drawn():
    class Square(ferrograd.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g

    x = ferrograd.ones(5, requires_grad=True)
    y = Square.apply(x)
    assert [t.shape for t in y.grad_fn.saved_tensors] == [(5,)]
    nodes, edges = parse(viz.make_dot(y).source)
    (box,) = [i for i, (lbl, attrs) in nodes.items() if 'fillcolor="orange"' in attrs]
    assert nodes[box][0] == "(5)"
    (edge,) = [(a, b) for a, b, _ in edges if box in (a, b)]
    assert nodes[edge[1]][0] == "SquareBackward"
