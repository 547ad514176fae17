"""The two small pictures of ``neuronsim serve``, as SVG text: the loss curve
and the decision boundary of a 2-D data set.

No numbers are computed here beyond placing them: the losses come from the
session (the network's own ``loss_of``) and the boundary's values from
:func:`neuronsim.classroom.plots.decision_grid` (a forward pass of the
reference network per grid point).
"""

import math
from functools import lru_cache
from html import escape

from ..classroom.plots import CLASS_COLOURS, decision_grid
from ..render.numfmt import format_number

WIDTH, HEIGHT = 320, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 58, 12, 14, 30


def loss_svg(points):
    """The loss over every sample after each update, ``points`` = [(updates, loss)];
    a log scale when every loss is positive and they span more than a factor 10."""
    finite = [(u, e) for u, e in points if math.isfinite(e)]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="loss-curve" width="{WIDTH}" '
            f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" '
            'font-size="10">'
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>')
    diverged = next((u for u, e in points if not math.isfinite(e)), None)
    warning = ("" if diverged is None else
               f'<text x="{WIDTH - PAD_RIGHT}" y="{PAD_TOP + 10}" text-anchor="end" '
               f'fill="#b00020">not a number from update {diverged} on: diverged</text>')
    if not finite:
        return head + '<text x="10" y="20">no loss yet</text>' + warning + '</svg>'
    losses = [e for _, e in finite]
    log = min(losses) > 0 and max(losses) > 10 * min(losses)
    scaled = [math.log10(e) if log else e for e in losses]
    low, high = min(scaled), max(scaled)
    if high - low < 1e-300:
        low, high = low - 0.5 * (abs(low) or 1), high + 0.5 * (abs(high) or 1)
    first, last = finite[0][0], finite[-1][0]
    span = max(1, last - first)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x_of(u):
        return PAD_LEFT + inner_w * (u - first) / span

    def y_of(v):
        return PAD_TOP + inner_h * (high - v) / (high - low)

    path = " ".join(f"{'M' if i == 0 else 'L'}{x_of(u):.1f},{y_of(v):.1f}"
                    for i, ((u, _), v) in enumerate(zip(finite, scaled)))

    def tick(v):
        return format_number(10 ** v if log else v, 3)

    parts = [head,
             f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" '
             f'y2="{HEIGHT - PAD_BOTTOM}" stroke="#666"/>',
             f'<line x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - PAD_RIGHT}" '
             f'y2="{HEIGHT - PAD_BOTTOM}" stroke="#666"/>',
             f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 4}" text-anchor="end">{tick(high)}</text>',
             f'<text x="{PAD_LEFT - 4}" y="{HEIGHT - PAD_BOTTOM}" '
             f'text-anchor="end">{tick(low)}</text>',
             f'<text x="{PAD_LEFT}" y="{HEIGHT - 16}">{first}</text>',
             f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 16}" text-anchor="end">{last}</text>',
             f'<text x="{PAD_LEFT + inner_w / 2:.0f}" y="{HEIGHT - 4}" text-anchor="middle">'
             f'updates{" (loss on a log scale)" if log else ""}</text>',
             f'<path d="{path}" fill="none" stroke="#2166ac" stroke-width="1.5"/>']
    if len(finite) == 1:
        parts.append(f'<circle cx="{x_of(first):.1f}" cy="{y_of(scaled[0]):.1f}" r="3" '
                     'fill="#2166ac"/>')
    parts.append(warning)
    parts.append(f'<title>loss over every sample: {escape(format_number(losses[-1], 6))} '
                 f'after {last} updates'
                 f'{"" if diverged is None else f"; not a number from update {diverged} on"}'
                 '</title></svg>')
    return "".join(parts)


def _mix(colour, strength):
    """``colour`` (#rrggbb) faded towards white: strength 0 white, 1 the colour
    (in steps of 1/50: a picture has at most 100 colours)."""
    return _faded(colour, round(strength * 50))


@lru_cache(maxsize=512)
def _faded(colour, fiftieths):
    strength = fiftieths / 50
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#%02x%02x%02x" % tuple(round(255 + (c - 255) * strength) for c in (r, g, b))


def boundary_svg(net, samples, resolution=24, size=200):
    """The network's decision regions on a grid over the samples (a single
    output: its value, from the first class's colour at 0 to the second's at 1;
    several outputs: the colour of the largest), the samples on top coloured
    by their target.  ``net`` is run (forward passes only): pass a copy."""
    xs, ys, values = decision_grid(net, samples, resolution=resolution)
    single = net.n_outputs == 1
    cell_w, cell_h = size / resolution, size / resolution
    low_x, high_x, low_y, high_y = xs[0], xs[-1], ys[0], ys[-1]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="decision-boundary" '
             f'width="{size}" height="{size}" viewBox="0 0 {size} {size}">']
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if single:
                p = min(1.0, max(0.0, float(v))) if math.isfinite(float(v)) else 0.5
                colour = _mix(CLASS_COLOURS[1] if p >= 0.5 else CLASS_COLOURS[0],
                              abs(p - 0.5) * 0.9 + 0.1)
            else:
                colour = _mix(CLASS_COLOURS[int(v) % len(CLASS_COLOURS)], 0.45)
            y = size - (i + 1) * cell_h
            parts.append(f'<rect x="{j * cell_w:.2f}" y="{y:.2f}" width="{cell_w + 0.3:.2f}" '
                         f'height="{cell_h + 0.3:.2f}" fill="{colour}"/>')
    for sample in samples:
        x, t = sample["input"], sample["target"]
        px = (x[0] - low_x) / (high_x - low_x) * size
        py = size - (x[1] - low_y) / (high_y - low_y) * size
        if single:
            cls = 1 if t[0] >= 0.5 else 0
        else:
            cls = max(range(len(t)), key=t.__getitem__)
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" stroke="#000" '
                     f'fill="{CLASS_COLOURS[cls % len(CLASS_COLOURS)]}"><title>'
                     f'x = ({escape(format_number(x[0], 6))}, {escape(format_number(x[1], 6))})'
                     f', t = {escape(", ".join(format_number(v, 6) for v in t))}'
                     '</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
