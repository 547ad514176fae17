"""Network diagrams: neurons in columns, edges coloured by sign.

One column per layer, the inputs (textbook layer 1) on the left.  Each
neuron is a circle labelled with its textbook symbol and the value chosen by
``show``:

``"a"``      a_j^(l) = g(z_j^(l)), the activation (the inputs show x)
``"z"``      z_j^(l) = Σ_k w_jk^(l) a_k^(l-1) + b_j^(l)
``"delta"``  δ_j^(l) = dE/dz_j^(l)

Each edge k -> j into layer l is the weight w_jk^(l) (``edges="weight"``) or
this sample's gradient dE/dw_jk^(l) = a_k^(l-1) δ_j^(l) (``edges="gradient"``,
after ``back_prop``): blue for positive, orange for negative, grey for zero,
its width proportional to the magnitude (the largest edge of the picture
gets the widest stroke).  Values are the network's current state: the last
``forward_pass`` and ``back_prop``; before any pass only the symbols show.

Small networks get every label: the symbol in the circle, its value below,
and each edge's w_jk^(l) written along it.  Bigger ones stay legible: edge
labels go first, columns of more than ``LABEL_LIMIT`` neurons lose their
per-neuron labels, and with many edges the strokes get thinner and
translucent (64-32-10 is 2368 edges).  Every circle and edge carries a
tooltip (SVG ``<title>``) with its full label and value.

The picture is first laid out as plain shapes (:func:`layout`), then
written as SVG text (:func:`to_svg`, no dependency) or drawn with
matplotlib into a PNG (:func:`save`; needs the ``neuronsim[plot]`` extra).

SVG elements carry ``class`` ("neuron", "edge positive", ...) and
``data-layer`` / ``data-neuron`` / ``data-from`` / ``data-to`` attributes in
textbook numbering (input layer 1, neurons from 1), so that tests and
web pages can find a neuron: ``net.layers[l].neurons[j]`` is
``data-layer="l+2" data-neuron="j+1"``.
"""

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from ..core import labels as lab
from ..core.errors import NeuronsimError
from ..files.atomic import atomic_write_text
from .numfmt import format_number

SHOWS = ("a", "z", "delta")
EDGES = ("weight", "gradient")

POSITIVE = "#2166ac"   # blue
NEGATIVE = "#d6604d"   # orange-red
ZERO = "#999999"

LABEL_LIMIT = 12        # columns with more neurons lose their per-neuron labels
EDGE_LABEL_LIMIT = 16   # networks with more edges lose the labels along edges
THIN_LIMIT = 200        # networks with more edges get thin translucent strokes

INSTALL_PLOT = 'pip install "neuronsim[plot]"'


@dataclass
class Circle:
    x: float
    y: float
    r: float
    fill: str
    layer: int          # textbook layer (inputs = 1)
    neuron: int         # from 1
    value: object
    title: str


@dataclass
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str
    width: float
    opacity: float
    layer: int          # textbook layer the edge feeds
    source: int         # neuron k (from 1) in layer - 1
    target: int         # neuron j (from 1) in layer
    value: object
    title: str


@dataclass
class Text:
    x: float
    y: float
    text: str
    size: float
    kind: str           # "symbol", "value", "edge-label", "heading", "caption"
    anchor: str = "middle"
    halo: bool = False  # a white box behind the text (labels drawn over edges)


@dataclass
class Loop:
    """A recurrent neuron's loop: its recurrent weights u_ji (from its own layer
    at the step before), drawn as an arc over the circle, coloured by u_jj."""
    x: float
    y: float
    r: float
    colour: str
    width: float
    layer: int          # textbook layer
    neuron: int         # from 1
    value: object       # u_jj
    title: str


@dataclass
class Diagram:
    width: float
    height: float
    circles: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    loops: list = field(default_factory=list)


def sign_colour(value):
    """Blue for a positive value, orange for a negative one, grey for 0."""
    if value > 0:
        return POSITIVE
    if value < 0:
        return NEGATIVE
    return ZERO


def _tint(colour, strength):
    """``colour`` mixed with white: strength 0 is white, 1 the colour itself."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    mix = [round(255 + (c - 255) * strength) for c in (red, green, blue)]
    return "#" + "".join(f"{c:02x}" for c in mix)


# ------------------------------------------------------------------ values
def _at_last_step(net):
    """For a network that read a sequence: (x[T], the neurons' records of step T);
    else None.  A sequence's diagram shows its last time step."""
    history = getattr(net, "history", None) if net.is_sequential else None
    if not history:
        return None
    return net.inputs[-1], history[-1]


def _neuron_value(net, layer_index, j, show):
    """The value ``show`` asks for, or None if the network has not computed it."""
    last = _at_last_step(net)
    if layer_index < 0:
        inputs = last[0] if last else (None if net.is_sequential else net.inputs)
        return None if inputs is None else inputs[j]
    neuron = last[1][layer_index][j] if last else net.layers[layer_index].neurons[j]
    if net.is_sequential and last is None:
        return None
    return {"a": neuron.output, "z": neuron.z, "delta": neuron.delta}[show]


def _neuron_kind(layer_index, show):
    return "a" if layer_index < 0 else show


def _edge_values(net, edges):
    """[l][j][k]: w_jk or dE/dw_jk = a_k δ_j of ``net.layers[l]``."""
    if edges == "weight":
        return [[list(n.weights) for n in layer.neurons] for layer in net.layers]
    if net.is_sequential:
        raise NeuronsimError("edges='gradient' shows one sample's a·δ; a recurrent network's "
                             "gradient is a sum over time steps (neuronsim trace shows it): "
                             "draw its weights")
    for layer in net.layers:
        for neuron in layer.neurons:
            if neuron.delta is None or neuron.inputs is None:
                raise NeuronsimError("edges='gradient' needs gradients: run net.forward_pass(x) "
                                     "and net.back_prop(t) first (neuronsim draw: give a target)")
    return [[n.weight_grads for n in layer.neurons] for layer in net.layers]


def _tooltip(net, layer_index, j, convention, digits):
    """Every number of a neuron, one per line."""
    if layer_index < 0:
        value = _neuron_value(net, layer_index, j, "a")
        text = f"input {lab.neuron_label('a', -1, j)}"
        return text + ("" if value is None else f" = {format_number(value, digits)}")
    neuron = net.layers[layer_index].neurons[j]
    lines = [f"layer {lab.textbook_layer(layer_index)}, neuron {j + 1} "
             f"(net.layers[{layer_index}].neurons[{j}])",
             f"{lab.bias_label(layer_index, j, convention)} = {format_number(neuron.bias, digits)}"]
    if net.layers[layer_index].is_recurrent:
        lines.append("recurrent: also reads its layer's a[t-1] (values of the last step T)")
    for kind in ("z", "a", "delta"):
        value = _neuron_value(net, layer_index, j, kind)
        if value is not None:
            lines.append(f"{lab.neuron_label(kind, layer_index, j)} = "
                         f"{format_number(value, digits)}")
    return "\n".join(lines)


def _edge_label(layer_index, j, k, edges, convention):
    weight = lab.weight_label(layer_index, j, k, convention)
    return weight if edges == "weight" else lab.partial_label(weight)


# ------------------------------------------------------------------ layout
def layout(net, show="a", edges="weight", convention="nielsen", digits=3):
    """Place every circle, edge and label of ``net``'s diagram (SVG pixels)."""
    if show not in SHOWS:
        raise ValueError(f"show: expected one of {', '.join(SHOWS)}, got {show!r}")
    if edges not in EDGES:
        raise ValueError(f"edges: expected one of {', '.join(EDGES)}, got {edges!r}")
    lab.check_convention(convention)
    sizes = net.sizes
    values = _edge_values(net, edges)
    n_edges = sum(a * b for a, b in zip(sizes, sizes[1:]))
    edge_labels = n_edges <= EDGE_LABEL_LIMIT
    thin = n_edges > THIN_LIMIT

    # Every column spreads over the same height, up to ``spacing`` between
    # neighbours; radius and labels follow each column's own spacing.
    tallest = max(sizes)
    spacing = 110.0 if tallest <= 3 else (85.0 if tallest <= 6 else 70.0)
    column_height = min(spacing * (tallest - 1), 600.0)
    steps = [min(spacing, column_height / (n - 1)) if n > 1 else spacing for n in sizes]
    radii = [min(26.0, step * 0.3) for step in steps]
    labelled = [n <= LABEL_LIMIT and step >= 44.0 for n, step in zip(sizes, steps)]
    gap = 260.0 if edge_labels else 190.0
    margin_x, top, bottom = 90.0, 100.0, 55.0
    width = 2 * margin_x + gap * (len(sizes) - 1)
    height = top + column_height + bottom + max(radii) + (20.0 if any(labelled) else 0.0)
    diagram = Diagram(width, height)

    def position(column, j):
        n, step = sizes[column], steps[column]
        y0 = top + (column_height - step * (n - 1)) / 2
        return margin_x + gap * column, y0 + step * j

    # edges first, so that circles are drawn on top of them
    # geometry in float64 whatever the numbers (fraction and precise values too)
    largest = max((float(abs(v)) for layer in values for row in layer for v in row),
                  default=0.0)
    scale = largest if largest > 0 else 1.0
    low, high, opacity = (0.3, 1.6, 0.45) if thin else (0.6, 6.0, 0.85)
    for l, layer_values in enumerate(values):
        for j, row in enumerate(layer_values):
            x2, y2 = position(l + 1, j)
            for k, value in enumerate(row):
                x1, y1 = position(l, k)
                label = _edge_label(l, j, k, edges, convention)
                diagram.edges.append(Edge(
                    x1, y1, x2, y2, sign_colour(value),
                    low + (high - low) * float(abs(value)) / scale,
                    opacity, lab.textbook_layer(l), k + 1, j + 1, value,
                    f"{label} = {format_number(value, digits)}"))

    # circles, filled more strongly for larger |value| of the quantity shown
    for column, n in enumerate(sizes):
        layer_index = column - 1
        shown = [_neuron_value(net, layer_index, j, _neuron_kind(layer_index, show))
                 for j in range(n)]
        top_value = max((float(abs(v)) for v in shown if v is not None), default=0.0) or 1.0
        for j, value in enumerate(shown):
            x, y = position(column, j)
            fill = "#ffffff" if value is None else _tint(
                sign_colour(value), 0.1 + 0.35 * float(abs(value)) / top_value)
            radius = radii[column]
            diagram.circles.append(Circle(
                x, y, radius, fill, column + 1, j + 1, value,
                _tooltip(net, layer_index, j, convention, digits)))
            if labelled[column]:
                kind = _neuron_kind(layer_index, show)
                diagram.texts.append(Text(x, y + 5.0, lab.neuron_label(kind, layer_index, j),
                                          14.0, "symbol"))
                if value is not None:
                    diagram.texts.append(Text(x, y + radius + 15.0,
                                              format_number(value, digits), 12.0, "value"))

    _recurrent_loops(diagram, net, position, radii, scale, low, high, digits)
    if edge_labels:
        _place_edge_labels(diagram, digits)
    _headings(diagram, net, position)
    _caption(diagram, show, edges, labelled, edge_labels, thin, net)
    return diagram


def _recurrent_loops(diagram, net, position, radii, scale, low, high, digits):
    """A loop over each neuron of a recurrent layer: its recurrent weights u_ji
    (the tooltip lists them), coloured and sized by u_jj."""
    for l, layer in enumerate(net.layers):
        if not layer.is_recurrent:
            continue
        for j, neuron in enumerate(layer.neurons):
            x, y = position(l + 1, j)
            own = neuron.recurrent_weights[j]
            title = "; ".join(f"{lab.recurrent_weight_label(l, j, i)} = {format_number(u, digits)}"
                              for i, u in enumerate(neuron.recurrent_weights))
            width = low + (high - low) * min(float(abs(own)) / scale, 1.0)
            diagram.loops.append(Loop(x, y, radii[l + 1], sign_colour(own), width,
                                      lab.textbook_layer(l), j + 1, own,
                                      f"recurrent weights into neuron {j + 1} (from a[t-1]): "
                                      f"{title}"))


def _place_edge_labels(diagram, digits):
    """Write ``w_jk = value`` along each edge where it overlaps no other label.

    Tries points at several fractions of the way from the source neuron and
    keeps the first whose text box is free; an edge with no free point keeps
    only its tooltip.
    """
    boxes = [_box(t.x, t.y, t.text, t.size) for t in diagram.texts]
    boxes += [(c.x - c.r, c.y - c.r, c.x + c.r, c.y + c.r) for c in diagram.circles]
    for edge in diagram.edges:
        text = edge.title
        for fraction in (0.3, 0.22, 0.38, 0.46, 0.14, 0.54, 0.62, 0.7):
            x = edge.x1 + (edge.x2 - edge.x1) * fraction
            y = edge.y1 + (edge.y2 - edge.y1) * fraction + 3.5
            box = _box(x, y, text, 11.0)
            if not any(_overlap(box, other) for other in boxes):
                boxes.append(box)
                diagram.texts.append(Text(x, y, text, 11.0, "edge-label", halo=True))
                break


def _box(x, y, text, size):
    """Approximate box of centred text (baseline y): 0.55 em per character."""
    half = 0.55 * size * len(text) / 2 + 3
    return (x - half, y - 1.05 * size, x + half, y + 0.4 * size)


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _headings(diagram, net, position):
    """Each column's layer number, size and activation; recurrent layers say so."""
    last = len(net.sizes) - 1
    for column, n in enumerate(net.sizes):
        x, _ = position(column, 0)
        if column == 0:
            first, second = "layer 1", f"{n} input{'s' if n != 1 else ''}"
        else:
            activation = net.layers[column - 1].activation.name
            first = f"layer {column + 1}" + (" (output)" if column == last else "")
            second = f"{n} × {activation}"
            if net.layers[column - 1].is_recurrent:
                second += ", recurrent ↻"
        diagram.texts.append(Text(x, 28.0, first, 13.0, "heading"))
        diagram.texts.append(Text(x, 46.0, second, 11.0, "heading"))


def _caption(diagram, show, edges, labelled, edge_labels, thin, net=None):
    """Two to four lines under the picture saying what it shows."""
    quantity = {"a": "activations a = g(z)", "z": "weighted inputs z = Σ w·a + b",
                "delta": "deltas δ = dE/dz"}[show]
    edge_text = "weights w" if edges == "weight" else "gradients dE/dw = a·δ of this sample"
    lines = [f"neurons: {quantity}",
             f"edges: {edge_text} (blue +, orange −, width ∝ magnitude)"]
    notes = []
    if not all(labelled):
        notes.append("neuron labels omitted in crowded columns")
    elif not edge_labels:
        notes.append("edge labels omitted")
    if thin:
        notes.append("edges thinned")
    if notes:
        lines.append("; ".join(notes + ["hover for values"]))
    recurrent = [str(l + 2) for l, layer in enumerate(net.layers)
                 if layer.is_recurrent] if net is not None else []
    if recurrent:
        lines.append(f"recurrent layer{'s' if len(recurrent) > 1 else ''} "
                     f"{', '.join(recurrent)}: the loop ↻ over each neuron is its weights u_ji "
                     "from its own layer at the step before; values of the last time step T")
    diagram.height += 16.0 * (len(lines) - 1)
    for i, line in enumerate(lines):
        y = diagram.height - 12.0 - 16.0 * (len(lines) - 1 - i)
        diagram.texts.append(Text(diagram.width / 2, y, line, 11.0, "caption"))


# ------------------------------------------------------------------ SVG
def to_svg(diagram):
    """The diagram as an ``<svg>`` element (no XML declaration: embeddable in HTML)."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{diagram.width:g}" '
           f'height="{diagram.height:g}" viewBox="0 0 {diagram.width:g} {diagram.height:g}" '
           'font-family="DejaVu Sans, Arial, sans-serif" class="neuronsim-diagram">',
           f'<rect width="{diagram.width:g}" height="{diagram.height:g}" fill="#ffffff"/>',
           '<g class="edges">']
    for e in diagram.edges:
        kind = {POSITIVE: "positive", NEGATIVE: "negative"}.get(e.colour, "zero")
        out.append(
            f'<line class="edge {kind}" x1="{e.x1:.2f}" y1="{e.y1:.2f}" x2="{e.x2:.2f}" '
            f'y2="{e.y2:.2f}" stroke="{e.colour}" stroke-width="{e.width:.2f}" '
            f'stroke-opacity="{e.opacity:g}" data-layer="{e.layer}" data-from="{e.source}" '
            f'data-to="{e.target}" data-value={quoteattr(_attribute(e.value))}>'
            f'<title>{escape(e.title)}</title></line>')
    out.append('</g>\n<g class="loops">')
    for c in diagram.loops:
        kind = {POSITIVE: "positive", NEGATIVE: "negative"}.get(c.colour, "zero")
        x0, x1, y0 = c.x - 0.6 * c.r, c.x + 0.6 * c.r, c.y - 0.8 * c.r
        out.append(
            f'<path class="loop {kind}" d="M {x0:.2f} {y0:.2f} A {0.75 * c.r:.2f} '
            f'{0.75 * c.r:.2f} 0 1 1 {x1:.2f} {y0:.2f}" fill="none" stroke="{c.colour}" '
            f'stroke-width="{c.width:.2f}" data-layer="{c.layer}" data-neuron="{c.neuron}" '
            f'data-value={quoteattr(_attribute(c.value))}><title>{escape(c.title)}</title>'
            '</path>')
    out.append('</g>\n<g class="neurons">')
    for c in diagram.circles:
        value = "" if c.value is None else f' data-value={quoteattr(_attribute(c.value))}'
        out.append(
            f'<circle class="neuron" cx="{c.x:.2f}" cy="{c.y:.2f}" r="{c.r:.2f}" '
            f'fill="{c.fill}" stroke="#333333" '
            f'stroke-width="{1.2 if c.r > 8 else 0.6}" data-layer="{c.layer}" '
            f'data-neuron="{c.neuron}"{value}><title>{escape(c.title)}</title></circle>')
    out.append('</g>\n<g class="labels">')
    for t in diagram.texts:
        if t.halo:
            x0, y0, x1, y1 = _box(t.x, t.y, t.text, t.size)
            out.append(f'<rect class="label-background" x="{x0:.2f}" y="{y0:.2f}" '
                       f'width="{x1 - x0:.2f}" height="{y1 - y0:.2f}" rx="3" fill="#ffffff" '
                       'fill-opacity="0.9"/>')
        out.append(f'<text class="{t.kind}" x="{t.x:.2f}" y="{t.y:.2f}" font-size="{t.size:g}" '
                   f'text-anchor="{t.anchor}" fill="#222222">{escape(t.text)}</text>')
    out.append("</g>\n</svg>")
    return "\n".join(out) + "\n"


def _attribute(value):
    """A value as a ``data-value`` attribute: its float64 repr, whatever the
    numbers (the tooltip shows the value itself)."""
    return repr(float(value))


class SVG(str):
    """SVG text that Jupyter displays as a picture (``_repr_svg_``)."""

    def _repr_svg_(self):
        return str(self)


def svg(net, show="a", edges="weight", convention="nielsen", digits=3):
    """``net``'s diagram as SVG text (see :func:`layout` for the options).

    The text is an :class:`SVG` string: print it, save it, or let a
    notebook show it.
    """
    return SVG(to_svg(layout(net, show, edges, convention, digits)))


# ------------------------------------------------------------------ PNG
def _matplotlib_figure(diagram, scale=2.0):
    """The same shapes drawn with matplotlib (1 SVG pixel = 1/100 inch)."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle as CirclePatch
    except ImportError:
        raise NeuronsimError(f"PNG output needs matplotlib: {INSTALL_PLOT} "
                             "(or write .svg, which needs nothing)") from None
    figure = Figure(figsize=(diagram.width / 100, diagram.height / 100), dpi=100 * scale)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, diagram.width)
    axes.set_ylim(diagram.height, 0)
    axes.set_axis_off()
    points = 0.72   # one pixel at 100 dpi, in points
    for e in diagram.edges:
        axes.plot([e.x1, e.x2], [e.y1, e.y2], color=e.colour, linewidth=e.width * points,
                  alpha=e.opacity, solid_capstyle="butt", zorder=1)
    from matplotlib.patches import Arc

    for c in diagram.loops:
        axes.add_patch(Arc((c.x, c.y - 1.35 * c.r), 1.5 * c.r, 1.5 * c.r, theta1=-35,
                           theta2=215, edgecolor=c.colour, linewidth=c.width * points,
                           zorder=1))
    for c in diagram.circles:
        axes.add_patch(CirclePatch((c.x, c.y), c.r, facecolor=c.fill, edgecolor="#333333",
                                   linewidth=(1.2 if c.r > 8 else 0.6) * points, zorder=2))
    for t in diagram.texts:
        extra = {}
        if t.halo:
            extra["bbox"] = dict(facecolor="#ffffff", edgecolor="none", pad=1.0, alpha=0.9)
        axes.text(t.x, t.y, t.text, fontsize=t.size * points, ha="center", va="baseline",
                  color="#222222", zorder=5, **extra)
    return figure


def png_bytes(diagram, scale=2.0):
    """The diagram as PNG data (matplotlib)."""
    import io

    buffer = io.BytesIO()
    _matplotlib_figure(diagram, scale).savefig(buffer, format="png")
    return buffer.getvalue()


def save(net, path, show="a", edges="weight", convention="nielsen", digits=3):
    """Write ``net``'s diagram to ``path``: ``.svg`` (no dependency) or ``.png`` (matplotlib).

    Written atomically (a temporary file, then a rename).
    """
    from ..files.atomic import atomic_write_bytes

    path = str(path)
    extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if extension not in ("svg", "png"):
        raise NeuronsimError(f"{path}: give a file name ending in .svg or .png")
    diagram = layout(net, show, edges, convention, digits)
    if extension == "svg":
        atomic_write_text(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + to_svg(diagram))
    else:
        atomic_write_bytes(path, png_bytes(diagram))
    return path
