"""Training pictures: loss per epoch, decision boundaries, digits with predictions.

Every function returns a matplotlib ``Figure`` (built without pyplot, so no
window opens and no global state changes); :func:`save_figure` writes it.
matplotlib is an optional extra: without it these functions raise a
:class:`~neuronsim.core.errors.NeuronsimError` that says
``pip install "neuronsim[plot]"``.

The numbers behind a picture come from plain functions that need nothing
(:func:`decision_grid`), so they can be checked on their own.  One picture
needs no matplotlib at all: :func:`loss_curves_svg` writes several loss
curves as SVG text itself (the same curves, the same bytes).
"""

import io
import math

from ..core.errors import NeuronsimError
from ..files.atomic import atomic_write_bytes

INSTALL_PLOT = 'pip install "neuronsim[plot]"'

CLASS_COLOURS = ["#d6604d", "#2166ac", "#1b9e77", "#7570b3", "#e7298a",
                 "#66a61e", "#e6ab02", "#a6761d", "#666666", "#17becf"]


def require_matplotlib():
    """matplotlib's ``Figure`` class, or a NeuronsimError saying how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise NeuronsimError(f"plotting needs matplotlib: {INSTALL_PLOT}") from None
    return Figure


def _figure(width, height):
    return require_matplotlib()(figsize=(width, height), dpi=100)


def figure_format(path):
    """The format a figure file's extension asks for: png, svg or pdf."""
    path = str(path)
    extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if extension not in ("png", "svg", "pdf"):
        raise NeuronsimError(f"{path}: give a file name ending in .png, .svg or .pdf")
    return extension


def save_figure(figure, path, dpi=100):
    """Write ``figure`` to ``path`` (format from the extension), atomically."""
    path = str(path)
    extension = figure_format(path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=extension, dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())
    return path


# ------------------------------------------------------------------ loss
def loss_figure(history, title="Training loss", log_scale=True):
    """The loss of each epoch (``Network.train``'s return value) against the epoch."""
    if not history:
        raise ValueError("loss_figure needs at least one epoch's loss")
    figure = _figure(6, 4)
    axes = figure.add_subplot()
    epochs = list(range(1, len(history) + 1))
    axes.plot(epochs, history, marker="." if len(history) <= 50 else None, color="#2166ac")
    if log_scale and min(history) > 0:
        axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("mean loss E over the epoch")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    return figure


# ------------------------------------------------------------------ boundary
def decision_value(outputs):
    """What the boundary picture colours: a single output a₁ itself (a
    probability for a sigmoid output), else the index of the largest output."""
    if len(outputs) == 1:
        return outputs[0]
    return max(range(len(outputs)), key=outputs.__getitem__)


def decision_grid(net, samples, resolution=60, margin=0.25):
    """(xs, ys, values): the network's :func:`decision_value` on a grid.

    The grid covers the samples' inputs plus ``margin`` on each side;
    ``values[i][j]`` belongs to the point (xs[j], ys[i]).  Runs a forward pass
    per point (with any tracer switched off); weights and gradient sums are
    untouched.
    """
    if net.n_inputs != 2:
        raise NeuronsimError(f"a decision boundary needs 2 inputs, the network has {net.n_inputs}")
    if resolution < 2:
        raise ValueError(f"resolution: expected at least 2 points per side, got {resolution}")
    points = [sample[0] if not isinstance(sample, dict) else sample["input"] for sample in samples]
    if not points:
        raise ValueError("decision_grid needs at least one sample")
    low_x = min(p[0] for p in points) - margin
    high_x = max(p[0] for p in points) + margin
    low_y = min(p[1] for p in points) - margin
    high_y = max(p[1] for p in points) + margin
    xs = [low_x + (high_x - low_x) * i / (resolution - 1) for i in range(resolution)]
    ys = [low_y + (high_y - low_y) * i / (resolution - 1) for i in range(resolution)]
    tracer, net.tracer = net.tracer, None
    try:
        values = [[decision_value(net.forward_pass([x, y])) for x in xs] for y in ys]
    finally:
        net.tracer = tracer
    return xs, ys, values


def boundary_figure(net, samples, resolution=60, title="Decision boundary"):
    """The samples coloured by class over the network's decision regions.

    One output: shading from 0 to 1 and the boundary a₁ = 0.5 drawn as a
    line.  Several outputs: one shade per predicted class.
    """
    from .datasets import class_of

    xs, ys, values = decision_grid(net, samples, resolution)
    figure = _figure(5.5, 5)
    axes = figure.add_subplot()
    pairs = [(s["input"], s["target"]) if isinstance(s, dict) else s for s in samples]
    if net.n_outputs == 1:
        shading = axes.contourf(xs, ys, values, levels=20, cmap="RdBu", vmin=0, vmax=1,
                                alpha=0.35)
        axes.contour(xs, ys, values, levels=[0.5], colors="#222222", linewidths=1.2)
        figure.colorbar(shading, ax=axes, label="network output a₁")
    else:
        from matplotlib.colors import ListedColormap

        colours = CLASS_COLOURS[:net.n_outputs]
        levels = [c - 0.5 for c in range(net.n_outputs + 1)]
        axes.contourf(xs, ys, values, levels=levels, cmap=ListedColormap(colours), alpha=0.3)
    classes = sorted({class_of(t) for _, t in pairs})
    for c in classes:
        members = [x for x, t in pairs if class_of(t) == c]
        axes.scatter([p[0] for p in members], [p[1] for p in members], s=16,
                     color=CLASS_COLOURS[c % len(CLASS_COLOURS)], edgecolors="#222222",
                     linewidths=0.5, label=f"class {c}")
    axes.set_xlabel("x₁")
    axes.set_ylabel("x₂")
    axes.set_title(title)
    axes.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    return figure


# ------------------------------------------------------------------ digits
def digits_figure(samples, predictions, count=24, columns=8):
    """The first ``count`` 8x8 digit images with the predicted class (and
    the true one, in red, where they differ)."""
    from .datasets import class_of

    count = min(count, len(samples))
    if count < 1:
        raise ValueError("digits_figure needs at least one sample")
    rows = -(-count // columns)
    figure = _figure(columns * 1.1, rows * 1.3)
    for i in range(count):
        pixels, target = samples[i]
        image = [pixels[r * 8:(r + 1) * 8] for r in range(8)]
        axes = figure.add_subplot(rows, columns, i + 1)
        axes.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        axes.set_xticks([])
        axes.set_yticks([])
        true = class_of(target)
        if predictions[i] == true:
            axes.set_title(f"{predictions[i]}", fontsize=10)
        else:
            axes.set_title(f"{predictions[i]} (is {true})", fontsize=9, color="#b2182b")
    figure.suptitle("predicted digit (true digit where wrong)", fontsize=10)
    figure.tight_layout()
    return figure


# ------------------------------------------------------------------ several losses
def loss_curves_figure(curves, title="Training loss", log_scale=True):
    """Several loss curves in one plot (matplotlib): ``curves`` is a list of
    (label, losses per epoch)."""
    if not curves or not all(losses for _, losses in curves):
        raise ValueError("loss_curves_figure needs at least one curve of at least one epoch")
    figure = _figure(7, 4.5)
    axes = figure.add_subplot()
    for index, (label, losses) in enumerate(curves):
        axes.plot(range(1, len(losses) + 1), losses, label=label,
                  color=CLASS_COLOURS[index % len(CLASS_COLOURS)], linewidth=1.5)
    if log_scale and min(min(losses) for _, losses in curves) > 0:
        axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss E")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    return figure


def save_png_deterministic(figure, path, dpi=100):
    """Write ``figure`` as PNG without the matplotlib version in its metadata,
    so that the same figure gives the same bytes (atomically)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    atomic_write_bytes(str(path), buffer.getvalue())
    return str(path)


# SVG of several loss curves, without matplotlib: the plot area in pixels.
SVG_WIDTH, SVG_HEIGHT = 720, 440
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 150, 40, 50


def loss_curves_svg(curves, title="Training loss", log_scale=True, x_label="epoch"):
    """Several loss curves in one plot as SVG text, written here (no matplotlib):
    ``curves`` is a list of (label, losses per epoch).  The y axis is log10 of
    the loss when every loss is above 0 and ``log_scale``; coordinates are
    written with two decimals, so the same curves give the same bytes."""
    from xml.sax.saxutils import escape

    if not curves or not all(losses for _, losses in curves):
        raise ValueError("loss_curves_svg needs at least one curve of at least one epoch")
    values = [v for _, losses in curves for v in losses]
    if not all(v == v and abs(v) != float("inf") for v in values):
        raise ValueError("loss_curves_svg: a loss is not a finite number")
    log = log_scale and min(values) > 0
    scale = (lambda v: math.log10(v)) if log else (lambda v: v)
    low, high = scale(min(values)), scale(max(values))
    if log:
        low, high = math.floor(low), math.ceil(high)
    if high == low:
        high = low + 1
    epochs = max(len(losses) for _, losses in curves)
    width = SVG_WIDTH - _LEFT - _RIGHT
    height = SVG_HEIGHT - _TOP - _BOTTOM

    def x_of(epoch):
        return _LEFT + width * ((epoch - 1) / (epochs - 1) if epochs > 1 else 0.5)

    def y_of(value):
        return _TOP + height * (1 - (scale(value) - low) / (high - low))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_WIDTH}" '
           f'height="{SVG_HEIGHT}" viewBox="0 0 {SVG_WIDTH} {SVG_HEIGHT}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{SVG_WIDTH}" height="{SVG_HEIGHT}" fill="white"/>',
           f'<text x="{SVG_WIDTH / 2:.2f}" y="22" text-anchor="middle" font-size="15">'
           f'{escape(title)}</text>']
    # y ticks: decades on a log axis, five steps otherwise
    ticks = ([(10.0 ** e, e) for e in range(int(low), int(high) + 1)] if log else
             [(low + (high - low) * i / 5, None) for i in range(6)])
    for value, exponent in ticks:
        y = y_of(value)
        text = f"1e{exponent}" if exponent is not None else f"{value:.3g}"
        out.append(f'<line x1="{_LEFT}" y1="{y:.2f}" x2="{_LEFT + width}" y2="{y:.2f}" '
                   'stroke="#dddddd"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">{text}</text>')
    step = _tick_step(epochs)
    for epoch in [1] + list(range(step, epochs + 1, step)):
        x = x_of(epoch)
        out.append(f'<line x1="{x:.2f}" y1="{_TOP + height}" x2="{x:.2f}" '
                   f'y2="{_TOP + height + 5}" stroke="#333333"/>')
        out.append(f'<text x="{x:.2f}" y="{_TOP + height + 18}" text-anchor="middle">'
                   f'{epoch}</text>')
    out.append(f'<rect x="{_LEFT}" y="{_TOP}" width="{width}" height="{height}" '
               'fill="none" stroke="#333333"/>')
    out.append(f'<text x="{_LEFT + width / 2:.2f}" y="{SVG_HEIGHT - 12}" '
               f'text-anchor="middle">{escape(x_label)}</text>')
    axis = "loss E (log scale)" if log else "loss E"
    out.append(f'<text x="16" y="{_TOP + height / 2:.2f}" text-anchor="middle" '
               f'transform="rotate(-90 16 {_TOP + height / 2:.2f})">{axis}</text>')
    for index, (label, losses) in enumerate(curves):
        colour = CLASS_COLOURS[index % len(CLASS_COLOURS)]
        points = " ".join(f"{x_of(e):.2f},{y_of(v):.2f}" for e, v in enumerate(losses, 1))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                   f'points="{points}"/>')
        y = _TOP + 10 + 20 * index
        out.append(f'<line x1="{SVG_WIDTH - _RIGHT + 12}" y1="{y}" '
                   f'x2="{SVG_WIDTH - _RIGHT + 36}" y2="{y}" stroke="{colour}" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{SVG_WIDTH - _RIGHT + 42}" y="{y + 4}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _tick_step(epochs):
    """A round step between epoch ticks: about five of them."""
    step = 1
    while epochs / step > 6:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if epochs / step <= 6:
                break
    return step
