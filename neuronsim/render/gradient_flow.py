"""Vanishing and exploding gradients: |δ[t]| going back in time, as a table and a plot.

:func:`gradient_flow` runs one recurrent neuron per activation on one
sequence; :func:`render_gradient_flow` writes its table and
:func:`plot_gradient_flow` its log-scale plot.
"""

import math

from .tables import _Writer


FLOW_ACTIVATIONS = ("tanh", "sigmoid", "linear")


def gradient_flow(length=20, recurrent_weight=1.5, input_weight=1.0, bias=0.0,
                  activations=FLOW_ACTIVATIONS, inputs=None):
    """|δ[t]| for t = T..1 of one recurrent neuron per activation, on one sequence.

    Each network is a single recurrent neuron (input weight, recurrent
    weight u, bias) whose output is the output, with a half_sse target at
    the last step only, so δ[t] = δ[t+1] · u · g'(z[t]) for t < T: the
    factor u · g'(z) per step decides whether |δ| shrinks (vanishes) or
    grows (explodes) going back in time.  ``inputs`` default: 1 at t = 1,
    then zeros.  Returns {"steps": [T, ..., 1], name: [|δ[t]|, ...], ...}.
    """
    from ..core.recurrent import RecurrentNetwork

    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    xs = [[1.0]] + [[0.0]] * (length - 1) if inputs is None else [[float(v)] for v in inputs]
    out = {"steps": list(range(len(xs), 0, -1))}
    for name in activations:
        net = RecurrentNetwork.from_arrays([[input_weight]], [[recurrent_weight]], [bias],
                                           activation=name, loss="half_sse")
        outputs = net.forward_pass(xs)
        target = [outputs[-1][0] - 1.0]    # dE/da[T] = 1 exactly
        net.back_prop(target)
        deltas = net.history_of(0, 0, "delta")
        out[name] = [abs(deltas[t - 1]) for t in out["steps"]]
    return out


def flow_header(w, name):
    """"|δ[t]| name"; a Markdown table cell escapes its bars."""
    header = f"|δ[t]| {name}"
    return header.replace("|", "\\|") if w.fmt == "markdown" else header


def render_gradient_flow(flow, format="plain", digits=4, recurrent_weight=None):
    """The table of :func:`gradient_flow`: t, then |δ[t]| per activation."""
    w = _Writer(format, digits, "nielsen", False)
    names = [k for k in flow if k != "steps"]
    rows = [[str(t)] + [w.num(flow[name][i]) for name in names]
            for i, t in enumerate(flow["steps"])]
    headers = ["t"] + [flow_header(w, name) for name in names]
    text = w.table(rows, headers)
    lines = [text, "", "Going back one step multiplies δ by u·g'(z[t]) (one neuron, no input "
             "after t = 1): g' <= 1 for tanh, <= 1/4 for sigmoid, = 1 for linear."]
    if recurrent_weight is not None:
        lines.append(f"u = {w.num(recurrent_weight)}: |u·g'| < 1 shrinks δ each step "
                     "(vanishing), > 1 grows it (exploding).")
    for name in names:
        lines.append(flow_ratio_line(w, name, "δ", flow[name][0], flow[name][-1]))
    return "\n".join(lines) + "\n"


def flow_ratio_line(w, name, symbol, first, last):
    """``name: |δ[1]| / |δ[T]| = ratio (10^e)`` from |δ[T]| = ``first`` and |δ[1]| =
    ``last``.  The power of ten is log10(last) − log10(first), which stays finite when
    the ratio itself underflows to 0 or overflows; zeros and non-finite values are shown
    as the quotient."""
    head = f"{name}: |{symbol}[1]| / |{symbol}[T]| = "
    if not (0 < first < math.inf and 0 < last < math.inf):
        return head + f"{w.num(last)} / {w.num(first)}"
    ratio = last / first
    shown = w.num(ratio) if 0 < ratio < math.inf else f"{w.num(last)} / {w.num(first)}"
    return head + f"{shown} (10^{math.log10(last) - math.log10(first):.1f})"


def plot_gradient_flow(flow, path, title="|δ[t]| going back in time"):
    """Save a log-scale plot of :func:`gradient_flow` to ``path`` (needs matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError("plotting needs matplotlib (pip install matplotlib); "
                         "the table needs nothing") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for name in (k for k in flow if k != "steps"):
        values = [v if v > 0 else float("nan") for v in flow[name]]
        axes.semilogy(flow["steps"], values, marker="o", label=name)
    axes.set_xlabel("time step t")
    axes.set_ylabel("|δ[t]|")
    axes.set_title(title)
    axes.invert_xaxis()
    axes.legend()
    figure.tight_layout()
    import io
    import os

    from ..files.atomic import atomic_write_bytes

    buffer = io.BytesIO()        # written whole, atomically: never a half-written plot
    figure.savefig(buffer, format=os.path.splitext(str(path))[1].lstrip(".").lower() or "png")
    plt.close(figure)
    atomic_write_bytes(str(path), buffer.getvalue())
    return path
