"""``ferrograd.viz.make_dot``: the backward graph as Graphviz DOT text, and pictures of it.

Drawn as torchviz draws PyTorch's graphs: one box per ``grad_fn`` node (its name), leaves in
light blue labelled with their parameter name (from ``params``) and shape, the output in
dark olive green with its shape, edges pointing the way gradients flow. The graph is walked
with an explicit stack, so a chain of any length is drawn without recursion.

Rendering to SVG/PNG runs Graphviz's ``dot`` executable; the DOT text needs nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import ferrograd

__all__ = ["make_dot", "Dot"]

_SAVED_PREFIX = "_saved_"
_NODE_ATTRS = {
    "style": "filled",
    "shape": "box",
    "align": "left",
    "fontsize": "10",
    "ranksep": "0.1",
    "height": "0.2",
    "fontname": "monospace",
}
_INSTALL_HINT = (
    "Rendering the graph needs the Graphviz 'dot' executable, which was not found on PATH. "
    "Install Graphviz itself, e.g. `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install graphviz`, or see "
    "https://graphviz.org/download/ — `pip install graphviz` is not enough: it installs only "
    "Python bindings, not the program. The DOT text is available without Graphviz as "
    "`.source`."
)


def _quote(text):
    """A DOT double-quoted string; newlines become DOT's ``\\n`` line breaks."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _attrs(attrs):
    return " ".join(f"{k}={_quote(v)}" for k, v in attrs.items())


def _size_str(shape):
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def _node_name(node):
    name = node.name()
    return name.rsplit("::", 1)[-1]


def _storage_key(t):
    """Identity of a tensor's data (wrappers of one tensor need not be the same object)."""
    return (t.data_ptr(), tuple(t.shape), t.dtype)


class Dot:
    """A DOT graph: ``.source`` (text), ``render``, ``pipe`` and notebook display."""

    def __init__(self, source):
        self.source = source

    def __str__(self):
        return self.source

    def __repr__(self):
        return f"<ferrograd.viz.Dot with {self.source.count(' -> ')} edges>"

    def pipe(self, format="svg"):  # noqa: A002
        """The rendered picture as bytes (Graphviz's ``dot -T<format>``)."""
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError(_INSTALL_HINT)
        proc = subprocess.run(
            [dot, f"-T{format}"], input=self.source.encode(), capture_output=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"Graphviz 'dot -T{format}' failed (exit status {proc.returncode}): "
                + proc.stderr.decode(errors="replace").strip()
            )
        return proc.stdout

    def save(self, filename):
        """Writes the DOT text to ``filename``; returns the path."""
        with open(filename, "w", encoding="utf-8") as f:
            f.write(self.source)
        return filename

    def render(self, filename="Digraph.gv", directory=None, format="svg", cleanup=False):  # noqa: A002
        """As graphviz's ``Digraph.render``: saves the DOT text to ``filename`` and the
        picture to ``filename + "." + format`` (``"svg"``, ``"png"``, ...); returns the
        picture's path. ``cleanup=True`` removes the DOT file afterwards."""
        if directory is not None:
            os.makedirs(directory, exist_ok=True)
            filename = os.path.join(directory, filename)
        picture = self.pipe(format)
        self.save(filename)
        out = f"{filename}.{format}"
        with open(out, "wb") as f:
            f.write(picture)
        if cleanup:
            os.remove(filename)
        return out

    def _repr_svg_(self):
        return self.pipe("svg").decode("utf-8")


class _Builder:
    """Collects DOT statements, naming each graph object once."""

    def __init__(self, param_names, show_attrs, show_saved, max_attr_chars):
        self.param_names = param_names
        self.show_attrs = show_attrs
        self.show_saved = show_saved
        self.max_attr_chars = max_attr_chars
        self.lines = []
        self.ids = {}  # key -> DOT node id

    def node_id(self, key):
        """(id, new?) for a graph object's key."""
        if key in self.ids:
            return self.ids[key], False
        self.ids[key] = f"n{len(self.ids)}"
        return self.ids[key], True

    def add_node(self, node_id, label, **attrs):
        self.lines.append(f"\t{node_id} [{_attrs({'label': label, **attrs})}]")

    def add_edge(self, src, dst, **attrs):
        extra = f" [{_attrs(attrs)}]" if attrs else ""
        self.lines.append(f"\t{src} -> {dst}{extra}")

    def tensor_label(self, t, name=None):
        if name is None:
            name = self.param_names.get(_storage_key(t), "")
        size = _size_str(t.shape)
        return f"{name}\n {size}" if name else size

    def function_label(self, node, saved):
        """The node's name, and with ``show_attrs`` its saved values as torchviz lists them:
        a rule, then ``name: value`` in two columns (tensors as ``[saved tensor]``)."""
        name = _node_name(node)
        if not self.show_attrs:
            return name
        attrs = {}
        for attr, val in saved:
            if isinstance(val, ferrograd.Tensor):
                attrs[attr] = "[saved tensor]"
            elif isinstance(val, tuple) and _has_tensor(val):
                attrs[attr] = "[saved tensors]"
            else:
                attrs[attr] = str(val)
        if not attrs:
            return name
        max_chars = max(self.max_attr_chars, 3)
        col1 = max(len(k) for k in attrs)
        col2 = min(max(len(v) for v in attrs.values()), max_chars)
        rule = "-" * max(col1 + col2 + 2, len(name))

        def cut(text):
            return text[: col2 - 3] + "..." if len(text) > col2 else text

        rows = [f"{k.ljust(col1)}: {cut(v).rjust(col2)}" for k, v in attrs.items()]
        return "\n".join([name, rule, *rows])

    def saved_values(self, node):
        """``(name, value)`` for the node's ``_saved_*`` attributes (where it has any)."""
        out = []
        for attr in dir(node):
            if attr.startswith(_SAVED_PREFIX):
                try:
                    out.append((attr[len(_SAVED_PREFIX) :], getattr(node, attr)))
                except RuntimeError:  # freed after backward
                    continue
        return out

    def add_saved(self, fn_id, saved):
        for attr, val in saved:
            tensors = val if isinstance(val, (tuple, list)) else (val,)
            for i, t in enumerate(tensors):
                if not isinstance(t, ferrograd.Tensor):
                    continue
                name = attr if len(tensors) == 1 else f"{attr}[{i}]"
                tid, new = self.node_id(("saved", _storage_key(t), name, fn_id))
                if new:
                    self.add_node(tid, self.tensor_label(t, name), fillcolor="orange")
                self.add_edge(fn_id, tid, dir="none")

    def add_graph(self, root):
        """Draws every node reachable from ``root`` (a grad_fn), iteratively."""
        stack = [root]
        self.node_id(("fn", root))
        while stack:
            fn = stack.pop()
            fn_id = self.ids[("fn", fn)]
            saved = self.saved_values(fn) if (self.show_attrs or self.show_saved) else []
            self.add_node(fn_id, self.function_label(fn, saved))
            if self.show_saved:
                self.add_saved(fn_id, [(k, v) for k, v in saved if _has_tensor(v)])
            leaf = _accumulated_leaf(fn)
            if leaf is not None:
                leaf_id, new = self.node_id(("leaf", fn))
                if new:
                    self.add_node(leaf_id, self.tensor_label(leaf), fillcolor="lightblue")
                self.add_edge(leaf_id, fn_id)
            for t in _function_saved_tensors(fn):
                tid, new = self.node_id(("saved", _storage_key(t), "", fn_id))
                if new:
                    self.add_node(tid, self.tensor_label(t), fillcolor="orange")
                self.add_edge(tid, fn_id, dir="none")
            for child, _ in fn.next_functions:
                if child is None:
                    continue
                child_id, new = self.node_id(("fn", child))
                if new:
                    stack.append(child)
                self.add_edge(child_id, fn_id)

    def add_output(self, t):
        tid, new = self.node_id(("out", id(t)))
        if not new:
            return
        self.add_node(tid, self.tensor_label(t), fillcolor="darkolivegreen1")
        if t.grad_fn is not None:
            fn_id, new_fn = self.node_id(("fn", t.grad_fn))
            if new_fn:
                self.add_graph(t.grad_fn)
            self.add_edge(fn_id, tid)

    def source(self):
        size = max(12.0, len(self.lines) * 0.15)  # torchviz's resize_graph
        head = [
            "digraph {",
            f"\tgraph [{_attrs({'size': f'{size},{size}'})}]",
            f"\tnode [{_attrs(_NODE_ATTRS)}]",
        ]
        return "\n".join(head + self.lines + ["}"]) + "\n"


def _has_tensor(val):
    vals = val if isinstance(val, (tuple, list)) else (val,)
    return any(isinstance(v, ferrograd.Tensor) for v in vals)


def _function_saved_tensors(fn):
    """The tensors a custom Function's ctx saved (``grad_fn.saved_tensors``), if any."""
    try:
        saved = fn.saved_tensors
    except (AttributeError, RuntimeError):
        return ()
    return tuple(t for t in saved if isinstance(t, ferrograd.Tensor))


def _accumulated_leaf(fn):
    """An ``AccumulateGrad`` node's leaf (``None`` for other nodes or a freed leaf)."""
    if _node_name(fn) != "AccumulateGrad":
        return None
    try:
        return fn.variable
    except AttributeError:
        return None


def make_dot(var, params=None, show_attrs=False, show_saved=False, max_attr_chars=50):
    """The backward graph of ``var`` (a tensor or a tuple of tensors) as a :class:`Dot`.

    ``params`` maps names to tensors (e.g. ``dict(model.named_parameters())``) and labels
    the leaves it contains. ``show_saved`` / ``show_attrs`` draw what nodes expose as
    ``_saved_*`` attributes (tensors as orange boxes; other values in the node's label,
    cut to ``max_attr_chars``).
    """
    if params is not None:
        if not all(isinstance(p, ferrograd.Tensor) for p in params.values()):
            raise TypeError("make_dot: every value of params must be a Tensor")
        param_names = {_storage_key(p): name for name, p in params.items()}
    else:
        param_names = {}
    builder = _Builder(param_names, show_attrs, show_saved, max_attr_chars)
    outputs = var if isinstance(var, (tuple, list)) else (var,)
    for t in outputs:
        builder.add_output(t)
    return Dot(builder.source())
