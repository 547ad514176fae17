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

Recurrent layers carry a loop over each unit: an Elman neuron's loop is its
weights u_ji from its own layer at the step before (coloured by u_jj).  An
LSTM or GRU unit is drawn as a rounded square (its kind in the column's
heading) with a grey loop: it has one gate neuron per gate (i, f, g, o or
r, z, n), so its edges and its loop stand for one weight per gate, listed in
their tooltips, and the unit shows its output h_j[T] whatever ``show`` is (the
gates' z, a and δ are in its tooltip).  A network that reads sequences shows
the values of its last time step T.

Labels never overlap.  Every label (headings, symbols, values, the ``w_jk =
value`` along edges, the caption) is placed with its box: its width from the
advance widths of the DejaVu Sans font the SVG asks for
(:func:`text_width`), its height from the font's ascent and descent.  A label
whose box would meet another label's box, a neuron or a loop, or leave the
picture, is left out, and the caption says which kind of label was left out;
columns of more than ``LABEL_LIMIT`` neurons lose their per-neuron labels,
and with many edges the strokes get thinner and translucent (64-32-10 is
2368 edges).  Every neuron and edge keeps a tooltip (SVG ``<title>``) with
its full label and value.

``width`` sets the picture's width in pixels (the columns spread over it);
None (the default) gives each gap between columns room for its labels.  A
width too narrow for the columns' headings side by side is refused with the
smallest width that fits.

The picture is first laid out as plain shapes (:func:`layout`), then
written as SVG text (:func:`to_svg`, no dependency) or drawn with
matplotlib into a PNG (:func:`save`; needs the ``neuronsim[plot]`` extra).

SVG elements carry ``class`` ("neuron", "edge positive", ...) and
``data-layer`` / ``data-neuron`` / ``data-from`` / ``data-to`` attributes in
textbook numbering (input layer 1, neurons from 1), so that tests and
web pages can find a neuron: ``net.layers[l].neurons[j]`` is
``data-layer="l+2" data-neuron="j+1"`` (for an LSTM or GRU layer,
``data-neuron`` is the unit j + 1).
"""

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from ..core import labels as lab
from ..core.errors import NeuronsimError
from ..core.gates import GatedLayer
from ..core.summation import sum_in_order
from ..files.atomic import atomic_write_text
from .numfmt import format_number

SHOWS = ("a", "z", "delta")
EDGES = ("weight", "gradient")

POSITIVE = "#2166ac"   # blue
NEGATIVE = "#d6604d"   # orange-red
ZERO = "#999999"
GATED = "#777777"      # an LSTM/GRU edge or loop: one weight per gate, no single sign

LABEL_LIMIT = 12        # columns with more neurons lose their per-neuron labels
EDGE_LABEL_LIMIT = 16   # networks with more edges lose the labels along edges
THIN_LIMIT = 200        # networks with more edges get thin translucent strokes
MIN_WIDTH, MAX_WIDTH = 100, 20000   # the range of ``width`` (pixels)

INSTALL_PLOT = 'pip install "neuronsim[plot]"'

# Advance widths of DejaVu Sans (the SVG's first font), in em, read from the
# font's horizontal metrics (units per em 2048).  A character not listed counts
# as 1 em, wider than any listed: boxes are never smaller than the text drawn.
_ADVANCE_GROUPS = (
    (0.246, "⁽⁾₍₎"), (0.275, "'"), (0.278, "ijl"), (0.295, "IJ"), (0.318, " ,.·"),
    (0.337, "/:;\\|"), (0.352, "f"), (0.361, "-"), (0.39, "()[]"), (0.392, "t"),
    (0.401, "!₀₁₂₃₄₅₆₇₈₉⁰¹²³⁴⁵⁶⁷⁸⁹"), (0.411, "r"), (0.46, '"'), (0.5, "*_`"),
    (0.517, "∂"), (0.521, "s"), (0.525, "z"), (0.531, "?"), (0.55, "c"), (0.557, "L"),
    (0.575, "F"), (0.579, "k"), (0.592, "vxy"), (0.603, "P"), (0.611, "TY"),
    (0.612, "oδ"), (0.613, "a"), (0.615, "e"), (0.632, "EΣ"), (0.634, "hnuησ"),
    (0.635, "Sbdgpq"), (0.636, "$0123456789{}"), (0.656, "K"), (0.684, "AV"),
    (0.685, "XZ"), (0.686, "B"), (0.695, "R"), (0.698, "C"), (0.714, "∝"), (0.732, "U"),
    (0.748, "N"), (0.752, "H"), (0.77, "D"), (0.775, "G"), (0.78, "&"), (0.787, "OQ"),
    (0.818, "w"), (0.838, "#+<=>^~−×↻≤≥→←"), (0.863, "M"), (0.871, "∈"), (0.95, "%"),
    (0.974, "m"), (0.989, "W"), (1.0, "@…⋮"))
ADVANCE = {ch: width for width, chars in _ADVANCE_GROUPS for ch in chars}
ASCENT, DESCENT = 0.95, 0.3   # em above and below the baseline (DejaVu Sans: 0.93, 0.27)
PAD = 2.0                     # pixels around every label's box


@dataclass
class Circle:
    """A neuron (``shape`` "circle"), or an LSTM/GRU unit ("lstm", "gru": a
    rounded square of half-side ``r``)."""
    x: float
    y: float
    r: float
    fill: str
    layer: int          # textbook layer (inputs = 1)
    neuron: int         # from 1 (the unit, in an LSTM/GRU layer)
    value: object
    title: str
    shape: str = "circle"   # or "loss": the loss E (``layout(loss=...)``), a square
    ident: str = None       # the element's id (``layout(ids=True)``)
    classes: str = ""       # extra classes (``layout(neuron_classes=...)``)


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
    value: object       # None for an LSTM/GRU edge (one weight per gate: see title)
    title: str
    ident: str = None   # the element's id (``layout(ids=True)``)
    classes: str = ""   # extra classes ("loss-edge": an output's edge to the loss)


@dataclass
class Text:
    x: float
    y: float
    text: str
    size: float
    kind: str           # "symbol", "value", "edge-label", "heading", "caption"
    anchor: str = "middle"
    halo: bool = False  # a white box behind the text (labels drawn over edges)
    ident: str = None   # the element's id (``layout(ids=True)``)
    room: str = None    # a slot a script fills: its box is as wide as this text


@dataclass
class Loop:
    """A recurrent unit's loop: its recurrent weights (from its own layer at the
    step before), drawn as an arc over the unit; an Elman neuron's is coloured
    by u_jj, an LSTM/GRU unit's is grey (one weight per gate)."""
    x: float
    y: float
    r: float
    colour: str
    width: float
    layer: int          # textbook layer
    neuron: int         # from 1
    value: object       # u_jj, or None for an LSTM/GRU unit
    title: str


@dataclass
class Diagram:
    width: float
    height: float
    circles: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    loops: list = field(default_factory=list)
    left_out: dict = field(default_factory=dict)   # labels without room, by kind
    ident: str = None   # the <svg> element's id


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


# ------------------------------------------------------------------ label boxes
def text_width(text, size):
    """The drawn width of ``text`` at font size ``size`` (pixels), from DejaVu
    Sans's advance widths; unknown characters count 1 em."""
    return size * sum_in_order(ADVANCE.get(ch, 1.0) for ch in text)


def text_box(text):
    """The box (x0, y0, x1, y1) that ``text`` (a :class:`Text`) covers, with
    ``PAD`` pixels around it: the halo drawn behind edge labels is this box."""
    width = text_width(text.text, text.size)
    if text.room is not None:
        width = max(width, text_width(text.room, text.size))
    x0 = {"middle": text.x - width / 2, "start": text.x, "end": text.x - width}[text.anchor]
    return (x0 - PAD, text.y - ASCENT * text.size - PAD,
            x0 + width + PAD, text.y + DESCENT * text.size + PAD)


def shape_box(circle):
    """The box of a neuron or unit."""
    return (circle.x - circle.r, circle.y - circle.r, circle.x + circle.r, circle.y + circle.r)


def loop_box(loop):
    """The box of a loop's arc (see :func:`loop_geometry`), with its stroke."""
    x0, x1, y_end, radius, centre_y = loop_geometry(loop)
    half = loop.width / 2
    return (loop.x - radius - half, centre_y - radius - half, loop.x + radius + half, y_end)


def loop_geometry(loop):
    """The arc over a unit: from (x0, y) to (x1, y) on the unit's outline, a
    circle of ``radius`` centred at (loop.x, centre_y) through its top."""
    r = loop.r
    radius = 0.6 * r
    return loop.x - 0.55 * r, loop.x + 0.55 * r, loop.y - 0.83 * r, radius, loop.y - 1.07 * r


def overlap(a, b):
    """Whether boxes a and b (x0, y0, x1, y1) intersect (touching is not)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class _Placer:
    """Places labels so that no two meet: a label goes in only where its box is
    inside the picture's width and meets no placed label, and no neuron or
    loop other than its ``own`` neuron.  Counts what was left out, by kind."""

    def __init__(self, diagram):
        """Make it once the neurons and loops are in ``diagram``."""
        self.diagram = diagram
        self.boxes = []
        self.left_out = diagram.left_out
        self._obstacles = ([(shape_box(c), c) for c in diagram.circles]
                           + [(loop_box(loop), loop) for loop in diagram.loops])

    def free(self, text, own=None):
        box = text_box(text)
        if box[0] < 0 or box[2] > self.diagram.width or box[1] < 0:
            return False
        if any(overlap(box, other) for other in self.boxes):
            return False
        return not any(overlap(box, other) for other, shape in self._obstacles
                       if shape is not own)

    def place(self, text, own=None, count=True):
        """Add ``text`` if it fits; else count it as left out.  Returns whether it fits."""
        if self.free(text, own):
            self.boxes.append(text_box(text))
            self.diagram.texts.append(text)
            return True
        if count:
            self.left_out[text.kind] = self.left_out.get(text.kind, 0) + 1
        return False


# ------------------------------------------------------------------ values
def _at_last_step(net):
    """For a network that read a sequence: (x[T], the neurons' records of step T);
    else None.  A sequence's diagram shows its last time step."""
    history = getattr(net, "history", None) if net.is_sequential else None
    if not history:
        return None
    return net.inputs[-1], history[-1]


def _is_gated(net, layer_index):
    return layer_index >= 0 and isinstance(net.layers[layer_index], GatedLayer)


def _neuron_value(net, layer_index, j, show):
    """The value ``show`` asks for, or None if the network has not computed it.
    An LSTM/GRU unit gives its output h_j[T] whatever ``show`` is."""
    last = _at_last_step(net)
    if layer_index < 0:
        inputs = last[0] if last else (None if net.is_sequential else net.inputs)
        return None if inputs is None else inputs[j]
    if net.is_sequential and last is None:
        return None
    if _is_gated(net, layer_index):
        return last[1][layer_index][j].output
    neuron = last[1][layer_index][j] if last else net.layers[layer_index].neurons[j]
    return {"a": neuron.output, "z": neuron.z, "delta": neuron.delta}[show]


def _symbol(net, layer_index, j, show):
    if layer_index < 0:
        return lab.neuron_label("a", layer_index, j)
    if _is_gated(net, layer_index):
        return lab.symbol("h", (j + 1,), layer_index + 2)
    return lab.neuron_label(show, layer_index, j)


def _edge_values(net, edges):
    """[l][j][k]: w_jk or dE/dw_jk = a_k δ_j of ``net.layers[l]``; None for each
    edge of an LSTM/GRU layer (one weight per gate)."""
    if edges == "weight":
        return [[[None] * layer.n_inputs for _ in range(layer.size)]
                if isinstance(layer, GatedLayer)
                else [list(n.weights) for n in layer.neurons] for layer in net.layers]
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


def _gated_tooltip(net, layer_index, j, digits):
    """An LSTM/GRU unit: its gate neurons, h and c of the last step, each gate's z, a, δ."""
    layer = net.layers[layer_index]
    name = layer.kind.upper()
    lines = [f"layer {lab.textbook_layer(layer_index)}, {name} unit {j + 1} "
             f"(net.layers[{layer_index}].gates[gate][{j}]: gates "
             f"{', '.join(lab.GATE_LETTERS[q] for q in layer.GATES)})"]
    last = _at_last_step(net)
    if last is None:
        return "\n".join(lines + ["no sequence read yet"])
    record = last[1][layer_index][j]
    h = lab.symbol("h", (j + 1,), layer_index + 2)
    lines.append(f"{h}[T] = {format_number(record.output, digits)}")
    if getattr(record, "cell", None) is not None:
        c = lab.symbol("c", (j + 1,), layer_index + 2)
        lines.append(f"{c}[T] = {format_number(record.cell, digits)}")
    for gate in layer.GATES:
        step = record.gates[gate]
        parts = [f"z = {format_number(step.z, digits)}", f"a = {format_number(step.output, digits)}"]
        if step.delta is not None:
            parts.append(f"δ = {format_number(step.delta, digits)}")
        lines.append(f"gate {lab.GATE_LETTERS[gate]} ({gate}) at T: " + ", ".join(parts))
    return "\n".join(lines)


def _tooltip(net, layer_index, j, convention, digits):
    """Every number of a neuron, one per line."""
    if layer_index < 0:
        value = _neuron_value(net, layer_index, j, "a")
        text = f"input {lab.neuron_label('a', -1, j)}"
        return text + ("" if value is None else f" = {format_number(value, digits)}")
    if _is_gated(net, layer_index):
        return _gated_tooltip(net, layer_index, j, digits)
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


def _edge_title(net, layer_index, j, k, value, edges, convention, digits):
    """``w_jk = value`` (or dE/dw_jk); an LSTM/GRU edge lists one weight per gate."""
    layer = net.layers[layer_index]
    if isinstance(layer, GatedLayer):
        weights = ", ".join(
            f"{lab.gate_weight_label(layer_index, gate, j, k, convention)} = "
            f"{format_number(layer.gates[gate][j].weights[k], digits)}" for gate in layer.GATES)
        return f"into {layer.kind.upper()} unit {j + 1}, one weight per gate: {weights}"
    weight = lab.weight_label(layer_index, j, k, convention)
    label = weight if edges == "weight" else lab.partial_label(weight)
    return f"{label} = {format_number(value, digits)}"


def _headings(net):
    """Each column's two heading lines: layer number, size and activation or kind."""
    last = len(net.sizes) - 1
    lines = []
    for column, n in enumerate(net.sizes):
        if column == 0:
            lines.append(("layer 1", f"{n} input{'s' if n != 1 else ''}"))
            continue
        layer = net.layers[column - 1]
        first = f"layer {column + 1}" + (" (output)" if column == last else "")
        if isinstance(layer, GatedLayer):
            second = f"{n} {layer.kind.upper()} unit{'s' if n != 1 else ''} ↻"
        else:
            second = f"{n} × {layer.activation.name}"
            if layer.is_recurrent:
                second += ", recurrent ↻"
        lines.append((first, second))
    return lines


HEADING_SIZES = (13.0, 11.0)
HEADING_Y = (28.0, 48.0)
CAPTION_LINE = 18.0     # pixels from one caption line to the next


# ------------------------------------------------------------------ layout
def _check_width(width):
    if width is None:
        return None
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width):
        raise NeuronsimError(f"width: expected a number of pixels, got {width!r}")
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise NeuronsimError(f"width: expected {MIN_WIDTH} to {MAX_WIDTH} pixels, got {width:g}")
    return float(width)


def layout(net, show="a", edges="weight", convention="nielsen", digits=3, *, width=None,
           ids=False, loss=None, value_slots=None, neuron_classes=None, inputs=None):
    """Place every neuron, edge, loop and label of ``net``'s diagram (SVG pixels).

    ``width``: the picture's width in pixels (None: room for the labels).

    Hooks for a page whose script steps through a computation (the HTML
    walkthrough of ``neuronsim report``); none changes the diagram unless given:

    ``ids``             element ids, in 0-based Python indices: input ``x-k``,
                        neuron ``n-l-j`` (``net.layers[l].neurons[j]``), edge
                        ``e-l-j-k`` (from neuron k of the layer before into it),
                        value label ``val-x-k`` / ``val-l-j``, the svg ``diagram``
                        (and with ``loss``: ``loss-node``, ``e-loss-j``, ``val-loss``).
    ``loss``            the loss's name: one more column, the loss E as a square
                        that every output feeds (edges of class ``loss-edge``).
    ``value_slots``     a text as wide as the widest value the script writes: the
                        neurons after the inputs (and E) show no value, only an
                        empty label with room for that text, placed like any label.
    ``neuron_classes``  ``f(l, j)`` -> extra classes of ``net.layers[l].neurons[j]``.
    ``inputs``          the values the inputs show (a step's x, on a network that
                        has not read it: its neurons' tooltips give nothing away).
    """
    if show not in SHOWS:
        raise ValueError(f"show: expected one of {', '.join(SHOWS)}, got {show!r}")
    if edges not in EDGES:
        raise ValueError(f"edges: expected one of {', '.join(EDGES)}, got {edges!r}")
    lab.check_convention(convention)
    width = _check_width(width)
    sizes = net.sizes
    drawn = sizes + ([1] if loss is not None else [])   # the loss E: one more column
    columns = len(drawn)
    values = _edge_values(net, edges)
    n_edges = sum(a * b for a, b in zip(sizes, sizes[1:]))
    edge_labels = n_edges <= EDGE_LABEL_LIMIT
    thin = n_edges > THIN_LIMIT
    looped = [False] + [layer.is_recurrent for layer in net.layers] + [False] * (columns
                                                                               - len(sizes))

    # Every column spreads over the same height, up to ``spacing`` between
    # neighbours; radius and labels follow each column's own spacing (smaller
    # units under a loop, so that the loop clears the value of the unit above).
    tallest = max(drawn)
    spacing = 110.0 if tallest <= 3 else (85.0 if tallest <= 6 else 70.0)
    column_height = min(spacing * (tallest - 1), 600.0)
    steps = [min(spacing, column_height / (n - 1)) if n > 1 else spacing for n in drawn]
    radii = [min(26.0 if not loop else 20.0, step * (0.3 if not loop else 0.22))
             for step, loop in zip(steps, looped)]
    labelled = [n <= LABEL_LIMIT and step >= 44.0 for n, step in zip(drawn, steps)]

    # Columns far enough apart for their headings side by side.
    headings = _headings(net) + ([("loss", loss)] if loss is not None else [])
    heading_widths = [max(text_width(line, size) for line, size in zip(pair, HEADING_SIZES))
                      + 2 * PAD for pair in headings]
    # the outer columns' headings and values stay inside the picture (90 pixels
    # at least when the width is free)
    margin_x = max(90.0 if width is None else 40.0, max(radii) + 10.0,
                   heading_widths[0] / 2 + 8.0, heading_widths[-1] / 2 + 8.0)
    if value_slots is not None:   # and the outer columns' value slots
        margin_x = max(margin_x, text_width(value_slots, 12.0) / 2 + PAD + 1.0)
    min_gap = max([(a + b) / 2 + 12.0 for a, b in zip(heading_widths, heading_widths[1:])]
                  + [2 * max(radii) + 40.0])
    if width is None:
        gap = max(300.0 if edge_labels and edges == "gradient" else
                  260.0 if edge_labels else 190.0, min_gap)
        width = 2 * margin_x + gap * (columns - 1)
    else:
        gap = (width - 2 * margin_x) / (columns - 1)
        if gap < min_gap:
            need = math.ceil(2 * margin_x + min_gap * (columns - 1))
            raise NeuronsimError(f"width {width:g}: this network's {columns} layers need at "
                                 f"least {need} pixels (their headings side by side)")
    top, bottom = 100.0, 55.0
    height = top + column_height + bottom + max(radii) + (20.0 if any(labelled) else 0.0)
    diagram = Diagram(width, height, ident="diagram" if ids else None)

    def position(column, j):
        n, step = drawn[column], steps[column]
        y0 = top + (column_height - step * (n - 1)) / 2
        return margin_x + gap * column, y0 + step * j

    # edges first, so that circles are drawn on top of them
    # geometry in float64 whatever the numbers (fraction and precise values too)
    largest = max((float(abs(v)) for layer in values for row in layer for v in row
                   if v is not None), default=0.0)
    scale = largest if largest > 0 else 1.0
    low, high, opacity = (0.3, 1.6, 0.45) if thin else (0.6, 6.0, 0.85)
    for l, layer_values in enumerate(values):
        for j, row in enumerate(layer_values):
            x2, y2 = position(l + 1, j)
            for k, value in enumerate(row):
                x1, y1 = position(l, k)
                title = _edge_title(net, l, j, k, value, edges, convention, digits)
                if value is None:
                    colour, stroke = GATED, (low + high) / 4
                else:
                    colour, stroke = sign_colour(value), low + (high - low) * float(abs(value)) / scale
                diagram.edges.append(Edge(x1, y1, x2, y2, colour, stroke, opacity,
                                          lab.textbook_layer(l), k + 1, j + 1, value, title,
                                          f"e-{l}-{j}-{k}" if ids else None))

    # neurons, filled more strongly for larger |value| of the quantity shown
    shown = []
    for column, n in enumerate(sizes):
        layer_index = column - 1
        column_values = [_neuron_value(net, layer_index, j, show) for j in range(n)]
        if value_slots is not None and column > 0:
            column_values = [None] * n    # the script writes them
        if inputs is not None and column == 0:
            column_values = list(inputs)
        shown.append(column_values)
        top_value = max((float(abs(v)) for v in column_values if v is not None),
                        default=0.0) or 1.0
        shape = net.layers[layer_index].kind if _is_gated(net, layer_index) else "circle"
        for j, value in enumerate(column_values):
            x, y = position(column, j)
            fill = "#ffffff" if value is None else _tint(
                sign_colour(value), 0.1 + 0.35 * float(abs(value)) / top_value)
            title = _tooltip(net, layer_index, j, convention, digits)
            if inputs is not None and column == 0:
                title = f"input {lab.neuron_label('a', -1, j)} = {format_number(value, digits)}"
            diagram.circles.append(Circle(
                x, y, radii[column], fill, column + 1, j + 1, value, title, shape,
                _neuron_id(column, j) if ids else None,
                (neuron_classes(layer_index, j) or "") if neuron_classes and column else ""))
    loss_node = None
    if loss is not None:
        loss_node = _loss_column(diagram, sizes, position, radii[-1], loss, ids,
                                 (low + high) / 4, opacity)

    _recurrent_loops(diagram, net, position, radii, scale, low, high, digits)

    # labels, most important first: each goes in only where it meets nothing
    placer = _Placer(diagram)
    for column, pair in enumerate(headings):
        x, _ = position(column, 0)
        for line, size, y in zip(pair, HEADING_SIZES, HEADING_Y):
            placer.place(Text(x, y, line, size, "heading"))
    for column, n in enumerate(sizes):
        if not labelled[column]:
            continue
        for j in range(n):
            x, y = position(column, j)
            circle = diagram.circles[sum(sizes[:column]) + j]
            placer.place(Text(x, y + 5.0, _symbol(net, column - 1, j, show), 14.0, "symbol"),
                         own=circle)
    if loss_node is not None:
        placer.place(Text(loss_node.x, loss_node.y + 5.0, "E", 14.0, "symbol"), own=loss_node)
    for column, n in enumerate(sizes):
        if not labelled[column]:
            continue
        for j, value in enumerate(shown[column]):
            x, y = position(column, j)
            ident = f"val-{_neuron_id(column, j)[2 if column else 0:]}" if ids else None
            if value is not None:
                placer.place(Text(x, y + radii[column] + 15.0, format_number(value, digits),
                                  12.0, "value", ident=ident))
            elif value_slots is not None and column:
                placer.place(Text(x, y + radii[column] + 15.0, "", 12.0, "value",
                                  ident=ident, room=value_slots))
    if loss_node is not None and value_slots is not None:
        placer.place(Text(loss_node.x, loss_node.y + loss_node.r + 15.0, "", 12.0, "value",
                          ident="val-loss" if ids else None, room=value_slots))
    if edge_labels:
        _place_edge_labels(diagram, placer)
    _caption(diagram, placer, show, edges, labelled, edge_labels, thin, net,
             value_slots is not None)
    return diagram


def _neuron_id(column, j):
    """``x-j`` for input j, ``n-l-j`` for ``net.layers[l].neurons[j]`` (column l + 1)."""
    return f"x-{j}" if column == 0 else f"n-{column - 1}-{j}"


def _loss_column(diagram, sizes, position, r, loss, ids, stroke, opacity):
    """The loss E in the last column, and an edge from each output to it; returns E."""
    x, y = position(len(sizes), 0)
    outputs = len(sizes) - 1
    for j in range(sizes[-1]):
        x1, y1 = position(outputs, j)
        diagram.edges.append(Edge(
            x1, y1, x, y, ZERO, stroke, opacity, "loss", j + 1, 1, None,
            f"{lab.neuron_label('a', outputs - 1, j)} feeds the loss E",
            f"e-loss-{j}" if ids else None, "loss-edge"))
    node = Circle(x, y, r, "#ffffff", "loss", 1, None,
                  f"the loss E ({loss}) of the outputs", "loss",
                  "loss-node" if ids else None)
    diagram.circles.append(node)
    return node


def _recurrent_loops(diagram, net, position, radii, scale, low, high, digits):
    """A loop over each unit of a recurrent layer: an Elman neuron's recurrent
    weights u_ji (the tooltip lists them), coloured and sized by u_jj; an
    LSTM/GRU unit's grey loop lists its gates' recurrent weights."""
    for l, layer in enumerate(net.layers):
        if not layer.is_recurrent:
            continue
        for j in range(layer.size):
            x, y = position(l + 1, j)
            if isinstance(layer, GatedLayer):
                title = "; ".join(
                    f"{lab.gate_recurrent_label(l, gate, j, m)} = {format_number(u, digits)}"
                    for gate in layer.GATES
                    for m, u in enumerate(layer.gates[gate][j].recurrent_weights))
                diagram.loops.append(Loop(x, y, radii[l + 1], GATED, (low + high) / 4,
                                          lab.textbook_layer(l), j + 1, None,
                                          f"recurrent weights of {layer.kind.upper()} unit "
                                          f"{j + 1}, one per gate (from h[t-1]): {title}"))
                continue
            neuron = layer.neurons[j]
            own = neuron.recurrent_weights[j]
            title = "; ".join(f"{lab.recurrent_weight_label(l, j, i)} = {format_number(u, digits)}"
                              for i, u in enumerate(neuron.recurrent_weights))
            width = low + (high - low) * min(float(abs(own)) / scale, 1.0)
            diagram.loops.append(Loop(x, y, radii[l + 1], sign_colour(own), width,
                                      lab.textbook_layer(l), j + 1, own,
                                      f"recurrent weights into neuron {j + 1} (from a[t-1]): "
                                      f"{title}"))


def _place_edge_labels(diagram, placer):
    """Write ``w_jk = value`` along each edge where it meets no other label.

    Tries points at several fractions of the way from the source neuron and
    keeps the first whose box is free; an edge with no free point keeps only
    its tooltip (and the caption says that some were left out).  LSTM/GRU
    edges (one weight per gate) have tooltips only.
    """
    for edge in diagram.edges:
        if edge.value is None:
            continue
        for fraction in (0.3, 0.22, 0.38, 0.46, 0.14, 0.54, 0.62, 0.7):
            x = edge.x1 + (edge.x2 - edge.x1) * fraction
            y = edge.y1 + (edge.y2 - edge.y1) * fraction + 3.5
            if placer.place(Text(x, y, edge.title, 11.0, "edge-label", halo=True), count=False):
                break
        else:
            placer.left_out["edge-label"] = placer.left_out.get("edge-label", 0) + 1


def wrap(text, size, width):
    """``text`` in lines no wider than ``width`` pixels: broken after a "; "
    where the parts fit, else at spaces (a word wider than that stays whole on
    its own line)."""
    def fits(line):
        return text_width(line, size) + 2 * PAD <= width

    lines, line = [], ""
    for part in text.split("; "):
        candidate = f"{line}; {part}" if line else part
        if fits(candidate + ";"):     # room for the ";" should the next part not fit
            line = candidate
            continue
        if line:
            lines.append(line + ";")
        line = ""
        for word in part.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and not fits(candidate):
                lines.append(line)
                line = word
            else:
                line = candidate
    return lines + [line]


def _caption(diagram, placer, show, edges, labelled, edge_labels, thin, net, slots=False):
    """Lines under the picture saying what it shows and which labels were left out."""
    quantity = {"a": "activations a = g(z)", "z": "weighted inputs z = Σ w·a + b",
                "delta": "deltas δ = dE/dz"}[show]
    if slots:
        quantity = "the inputs x, then each value (z, a, δ) as it is computed"
    edge_text = "weights w" if edges == "weight" else "gradients dE/dw = a·δ of this sample"
    lines = [f"neurons: {quantity}",
             f"edges: {edge_text} (blue +, orange −, width ∝ magnitude)"]
    notes = []
    crowded = [str(column + 1) for column, ok in enumerate(labelled) if not ok]
    if crowded:
        notes.append(f"neuron labels omitted in crowded layer{'s' if len(crowded) > 1 else ''} "
                     f"{', '.join(crowded)}")
    left_out = placer.left_out
    if left_out.get("symbol") or left_out.get("value"):
        notes.append("some neuron labels left out for room")
    if not edge_labels:
        notes.append("edge labels omitted")
    elif left_out.get("edge-label"):
        notes.append(f"{left_out['edge-label']} edge label"
                     f"{'s' if left_out['edge-label'] > 1 else ''} left out for room")
    if thin:
        notes.append("edges thinned")
    if notes:
        lines.append("; ".join(notes + ["hover for values"]))
    recurrent = [str(l + 2) for l, layer in enumerate(net.layers)
                 if layer.is_recurrent and not isinstance(layer, GatedLayer)]
    if recurrent:
        lines.append(f"recurrent layer{'s' if len(recurrent) > 1 else ''} "
                     f"{', '.join(recurrent)}: the loop ↻ over each neuron is its weights u_ji "
                     "from its own layer at the step before; values of the last time step T")
    gated = [f"{l + 2} ({layer.kind.upper()})" for l, layer in enumerate(net.layers)
             if isinstance(layer, GatedLayer)]
    if gated:
        lines.append(f"gated layer{'s' if len(gated) > 1 else ''} {', '.join(gated)}: each "
                     "square is a unit showing its output h at the last time step T; its edges "
                     "and grey loop stand for one weight per gate (hover for them and the "
                     "gates' z, a, δ)")
    wrapped = [part for line in lines for part in wrap(line, 11.0, diagram.width - 20.0)]
    diagram.height += CAPTION_LINE * (len(wrapped) - 1)
    for i, line in enumerate(wrapped):
        y = diagram.height - 12.0 - CAPTION_LINE * (len(wrapped) - 1 - i)
        placer.place(Text(diagram.width / 2, y, line, 11.0, "caption"))


# ------------------------------------------------------------------ SVG
def _kind_class(colour):
    return {POSITIVE: "positive", NEGATIVE: "negative", GATED: "gated"}.get(colour, "zero")


def _value_attribute(value):
    return "" if value is None else f' data-value={quoteattr(_attribute(value))}'


def _id(ident):
    return "" if ident is None else f" id={quoteattr(ident)}"


def _classes(first, extra):
    return f"{first} {extra}" if extra else first


def to_svg(diagram, *, xmlns=True):
    """The diagram as an ``<svg>`` element (no XML declaration: embeddable in HTML).

    ``xmlns=False`` leaves out the namespace, which SVG inline in HTML does not
    need (a page that must hold no address at all).
    """
    namespace = ' xmlns="http://www.w3.org/2000/svg"' if xmlns else ""
    out = [f'<svg{_id(diagram.ident)}{namespace} width="{diagram.width:g}" '
           f'height="{diagram.height:g}" viewBox="0 0 {diagram.width:g} {diagram.height:g}" '
           'font-family="DejaVu Sans, Arial, sans-serif" class="neuronsim-diagram">',
           f'<rect width="{diagram.width:g}" height="{diagram.height:g}" fill="#ffffff"/>',
           '<g class="edges">']
    for e in diagram.edges:
        out.append(
            f'<line{_id(e.ident)} class="{_classes("edge " + _kind_class(e.colour), e.classes)}" '
            f'x1="{e.x1:.2f}" y1="{e.y1:.2f}" '
            f'x2="{e.x2:.2f}" y2="{e.y2:.2f}" stroke="{e.colour}" stroke-width="{e.width:.2f}" '
            f'stroke-opacity="{e.opacity:g}" data-layer="{e.layer}" data-from="{e.source}" '
            f'data-to="{e.target}"{_value_attribute(e.value)}>'
            f'<title>{escape(e.title)}</title></line>')
    out.append('</g>\n<g class="loops">')
    for c in diagram.loops:
        x0, x1, y0, radius, _ = loop_geometry(c)
        out.append(
            f'<path class="loop {_kind_class(c.colour)}" d="M {x0:.2f} {y0:.2f} A {radius:.2f} '
            f'{radius:.2f} 0 1 1 {x1:.2f} {y0:.2f}" fill="none" stroke="{c.colour}" '
            f'stroke-width="{c.width:.2f}" data-layer="{c.layer}" data-neuron="{c.neuron}"'
            f'{_value_attribute(c.value)}><title>{escape(c.title)}</title></path>')
    out.append('</g>\n<g class="neurons">')
    for c in diagram.circles:
        common = (f'fill="{c.fill}" stroke="#333333" stroke-width="{1.2 if c.r > 8 else 0.6}" '
                  f'data-layer="{c.layer}" data-neuron="{c.neuron}"{_value_attribute(c.value)}>'
                  f'<title>{escape(c.title)}</title>')
        neuron = _classes("neuron", c.classes)
        if c.shape == "circle":
            out.append(f'<circle{_id(c.ident)} class="{neuron}" cx="{c.x:.2f}" cy="{c.y:.2f}" '
                       f'r="{c.r:.2f}" {common}</circle>')
        elif c.shape == "loss":   # the loss E: a square
            out.append(f'<rect{_id(c.ident)} class="{neuron} loss" x="{c.x - c.r:.2f}" '
                       f'y="{c.y - c.r:.2f}" width="{2 * c.r:.2f}" height="{2 * c.r:.2f}" '
                       f'rx="{0.15 * c.r:.2f}" {common}</rect>')
        else:   # an LSTM/GRU unit: a rounded square
            out.append(f'<rect{_id(c.ident)} class="{neuron} unit {c.shape}" x="{c.x - c.r:.2f}" '
                       f'y="{c.y - c.r:.2f}" width="{2 * c.r:.2f}" height="{2 * c.r:.2f}" '
                       f'rx="{0.3 * c.r:.2f}" {common}</rect>')
    out.append('</g>\n<g class="labels">')
    for t in diagram.texts:
        if t.halo:
            x0, y0, x1, y1 = text_box(t)
            out.append(f'<rect class="label-background" x="{x0:.2f}" y="{y0:.2f}" '
                       f'width="{x1 - x0:.2f}" height="{y1 - y0:.2f}" rx="3" fill="#ffffff" '
                       'fill-opacity="0.9"/>')
        out.append(f'<text{_id(t.ident)} class="{t.kind}" x="{t.x:.2f}" y="{t.y:.2f}" '
                   f'font-size="{t.size:g}" '
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


def svg(net, show="a", edges="weight", convention="nielsen", digits=3, *, width=None):
    """``net``'s diagram as SVG text (see :func:`layout` for the options).

    The text is an :class:`SVG` string: print it, save it, or let a
    notebook show it.
    """
    return SVG(to_svg(layout(net, show, edges, convention, digits, width=width)))


# ------------------------------------------------------------------ PNG
def _matplotlib_figure(diagram, scale=2.0):
    """The same shapes drawn with matplotlib (1 SVG pixel = 1/100 inch)."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Arc, FancyBboxPatch
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
    for c in diagram.loops:
        _, _, y_end, radius, centre_y = loop_geometry(c)
        # the arc's ends are (±0.55 r, 0.24 r) from its centre, y pointing down; drawn
        # counter-clockwise from one end to the other through the top
        end = math.degrees(math.atan2(y_end - centre_y, 0.55 * c.r))
        axes.add_patch(Arc((c.x, centre_y), 2 * radius, 2 * radius, theta1=180 - end,
                           theta2=end, edgecolor=c.colour, linewidth=c.width * points,
                           zorder=1))
    for c in diagram.circles:
        style = dict(facecolor=c.fill, edgecolor="#333333",
                     linewidth=(1.2 if c.r > 8 else 0.6) * points, zorder=2)
        if c.shape == "circle":
            axes.add_patch(CirclePatch((c.x, c.y), c.r, **style))
        else:
            axes.add_patch(FancyBboxPatch((c.x - 0.7 * c.r, c.y - 0.7 * c.r), 1.4 * c.r,
                                          1.4 * c.r, boxstyle=f"round,pad={0.3 * c.r}",
                                          **style))
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


def save(net, path, show="a", edges="weight", convention="nielsen", digits=3, *, width=None):
    """Write ``net``'s diagram to ``path``: ``.svg`` (no dependency) or ``.png`` (matplotlib).

    Written atomically (a temporary file, then a rename).
    """
    from ..files.atomic import atomic_write_bytes

    path = str(path)
    extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if extension not in ("svg", "png"):
        raise NeuronsimError(f"{path}: give a file name ending in .svg or .png")
    diagram = layout(net, show, edges, convention, digits, width=width)
    if extension == "svg":
        atomic_write_text(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + to_svg(diagram))
    else:
        atomic_write_bytes(path, png_bytes(diagram))
    return path
