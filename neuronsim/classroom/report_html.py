"""A self-contained HTML walkthrough of one backpropagation step.

:func:`walkthrough_html` writes one page with everything inline (CSS, a
small script, an SVG diagram of the network, the data as JSON): no network
access, no CDN, so it can be mailed to students or opened offline in class.
The viewer steps through the computations of :mod:`neuronsim.trace.walk` with the
Next/Back buttons or the arrow keys (PageDown/PageUp too, which presentation
clickers send; ``j`` jumps to the backward pass, Home/End to the ends).  The
neuron being computed is highlighted in the diagram, the neurons it reads
from are outlined, the edges it uses are coloured, its formula is shown
with the numbers, and the tables fill in as values are computed.  The page
remembers its position in the URL fragment (``walk.html#12`` opens at
computation 12).

With ``layers``/``neurons`` (0-based, as in :func:`neuronsim.trace.walk.walk`) the
page is a walkthrough of part of the network: the walk holds only the
selected neurons' computations (and the loss), the tables only their rows,
and the diagram still draws every neuron, with the selected ones ringed and
the others faded; a line under the header says which filter is applied.
Without a filter the page has none of these.

Ids in the page use the 0-based Python indices (``n-0-1`` is
``net.layers[0].neurons[1]``); everything shown uses textbook numbering
(``data-layer``/``data-neuron`` on a neuron hold the textbook numbers).
"""

import html
import json

from ..core import labels as lab
from ..core.errors import NeuronsimError
from ..core.network import Network
from ..render import draw
from ..render.numfmt import format_number
from ..trace.walk import PHASE_TITLES, PHASES

# The diagram shows values with at most this many significant digits (the
# formula and the tables show all of them).
NODE_DIGITS = 6

QUANTITY_NAMES = {
    "z": "z", "output": "a", "derivative": "g'", "output_grad": "∂E/∂a", "delta": "δ",
    "loss": "E",
}


# ---------------------------------------------------------------- formulas
def split_equation(formula):
    """Split "lhs = a = b = value" at the top-level " = " (not inside brackets)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(formula):
        ch = formula[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and formula.startswith(" = ", i):
            parts.append(formula[start:i])
            start = i + 3
            i += 3
            continue
        i += 1
    parts.append(formula[start:])
    return parts


def equation_html(formula, compact=False):
    """One formula as aligned lines: lhs = first / = second / = value.

    ``compact``: the formula on one line (for neurons with many parameters).
    """
    formula = formula.replace("·", "·<wbr>")   # products may wrap after a dot
    if compact:
        return f'<div class="eq compact">{formula}</div>'
    parts = split_equation(formula)
    if len(parts) == 1:
        return f'<div class="eq"><span class="rhs">{parts[0]}</span></div>'
    rows = "".join(f'<span class="eqsign">=</span><span class="rhs">{p}</span>'
                   for p in parts[1:])
    return f'<div class="eq"><span class="lhs">{parts[0]}</span>{rows}</div>'


# ---------------------------------------------------------------- data
def _cell_id(quantity, layer, neuron, index=None):
    if quantity == "loss":
        return "cell-loss"
    key = f"cell-{quantity}-{layer}-{neuron}"
    if quantity in ("weight_grads", "new_weights"):
        key += f"-{index}"
    return key


def _float(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def walk_data(step, computations, digits=9):
    """The JSON the page's script steps through (one entry per computation)."""
    entries = []
    for c in computations:
        lines = []
        for line in c.lines:
            entry = {"quantity": line.quantity, "cell": _cell_id(line.quantity, c.layer,
                                                                 c.neuron, line.index),
                     "text": format_number(line.value, digits), "value": _float(line.value)}
            if line.quantity in ("z", "output", "delta") and c.layer is not None:
                entry["node"] = f"val-{c.layer}-{c.neuron}"
                short = node_number(line.value, digits)
                entry["node_text"] = f"{QUANTITY_NAMES[line.quantity]} = {short}"
            elif line.quantity == "loss":
                entry["node"] = "val-loss"
                entry["node_text"] = node_number(line.value, digits)
            lines.append(entry)
        entries.append({
            "phase": c.phase, "phase_title": PHASE_TITLES[c.phase], "quantity": c.quantity,
            "layer": c.layer, "neuron": c.neuron, "title": c.title,
            "label": c.label, "value_text": format_number(c.value, digits),
            "html": "".join(equation_html(line.formula, compact=len(c.lines) > 4)
                            for line in c.lines),
            "lines": lines,
        })
    sizes = [len(step.input)] + [len(layer) for layer in step.layers]
    return {"sizes": sizes, "activations": step.activations, "computations": entries,
            "phases": [p for p in PHASES if any(c.phase == p for c in computations)]}


# ---------------------------------------------------------------- filter
def is_selected(layers=None, neurons=None):
    """A test ``chosen(l, j)``: is ``net.layers[l].neurons[j]`` walked (0-based filters)?"""
    return lambda l, j: ((layers is None or l in layers)
                         and (neurons is None or j in neurons))


def _numbers_phrase(word, numbers):
    """"layer 3", "neurons 1 and 2", "neurons 1, 2 and 5" (textbook numbers)."""
    numbers = [str(n) for n in numbers]
    if len(numbers) == 1:
        return f"{word} {numbers[0]}"
    return f"{word}s {', '.join(numbers[:-1])} and {numbers[-1]}"


def filter_note(step, layers=None, neurons=None):
    """One sentence saying which neurons the page walks (textbook numbering), or ""."""
    if layers is None and neurons is None:
        return ""
    layer_numbers = sorted(lab.textbook_layer(l) for l in layers or ())
    neuron_numbers = sorted(j + 1 for j in neurons or ())
    if layers is None:
        what = f"{_numbers_phrase('neuron', neuron_numbers)} of each layer"
    elif neurons is None:
        what = _numbers_phrase("layer", layer_numbers)
    else:
        what = (f"{_numbers_phrase('neuron', neuron_numbers)} of "
                f"{_numbers_phrase('layer', layer_numbers)}")
    options = ""
    if layers is not None:
        options += " --layer " + " ".join(map(str, layer_numbers))
    if neurons is not None:
        options += " --neuron " + " ".join(map(str, neuron_numbers))
    chosen = is_selected(layers, neurons)
    count = sum(chosen(r.layer, r.neuron) for r in step.neurons())
    walked = "the walked neuron" if count == 1 else f"the {count} walked neurons"
    return (f"Filter{options}: the walk shows only {what} and the loss; the diagram shows the "
            f"whole network ({len(step.neurons())} neurons) with {walked} ringed in green, "
            "and the tables list only those.")


# ---------------------------------------------------------------- diagram
# The widest value the script writes under a neuron: "δ = " and a number with
# NODE_DIGITS significant digits (see :func:`node_number`), in the widest glyphs.
VALUE_ROOM = "a = −8.88888e−308"
# The diagram's width in pixels: about its box's width on a classroom screen, so
# that its labels show at about their size (edge labels without room are left
# out), or a little wider when its neurons' labels need it (network_diagram).
DIAGRAM_WIDTHS = (640, 800, 960)


def node_number(value, digits=NODE_DIGITS):
    """A value under a neuron in the diagram: at most ``digits`` (and
    NODE_DIGITS) significant digits, as a float (an exact fraction's p/q could
    be any width)."""
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        pass
    return format_number(value, min(digits, NODE_DIGITS))


def step_network(step):
    """The network of a traced step, as it was before the step's update: its
    weights, biases, activations (with their parameters) and loss.  It has read
    nothing, so its diagram gives none of the step's values away."""
    activations = [{"name": name, **params} for name, params in
                   zip(step.activations, step.activation_params or [{}] * len(step.layers))]
    return Network.from_arrays([[[_float(w) for w in r.weights] for r in layer]
                               for layer in step.layers],
                              [[_float(r.bias) for r in layer] for layer in step.layers],
                              activations, step.loss_name)


def network_diagram(step, chosen=None, convention="nielsen"):
    """The diagram of :mod:`neuronsim.render.draw` (one layout for every
    diagram: no label meets another), with what the page's script needs, as a
    :class:`~neuronsim.render.draw.Diagram` (see :func:`network_svg`)."""
    classes = None
    if chosen is not None:
        def classes(l, j):
            return "selected" if chosen(l, j) else "other"
    net = step_network(step)

    def laid_out(width):
        return draw.layout(net, "a", "weight", convention, NODE_DIGITS, width=width, ids=True,
                           loss=step.loss_name, value_slots=VALUE_ROOM,
                           neuron_classes=classes, inputs=step.input)

    # the first of DIAGRAM_WIDTHS at which every neuron's label finds room, else as
    # wide as the layers' labels need (the page scales it down to its box)
    for width in DIAGRAM_WIDTHS:
        try:
            diagram = laid_out(width)
        except NeuronsimError:   # too many layers for that width
            continue
        if not (diagram.left_out.get("value") or diagram.left_out.get("symbol")):
            return diagram
    return laid_out(None)


def network_svg(step, chosen=None, convention="nielsen"):
    """The page's diagram as inline SVG: draw's layout of the step's network
    (before its update), the loss E after the output layer.

    The inputs show x; every other neuron, and E, has an empty value label
    ``val-l-j`` (``val-loss``) with room for :data:`VALUE_ROOM`, which the script
    fills as the walk computes it (a label without room is left out, and the
    caption says so).  Neuron ``n-l-j`` is ``net.layers[l].neurons[j]``, input
    ``x-k``, edge ``e-l-j-k`` joins neuron k of the layer before to neuron j
    of ``net.layers[l]``, ``e-loss-j`` joins output neuron j to E
    (``loss-node``).  ``chosen(l, j)`` (a filtered walk): neurons it accepts
    get the class ``selected``, the others ``other``.
    """
    return draw.to_svg(network_diagram(step, chosen, convention), xmlns=False)


# ---------------------------------------------------------------- tables
def neuron_table_html(step, chosen=None):
    """z, a, g'(z), dE/da, δ of every neuron (those ``chosen(l, j)`` accepts);
    cells are filled by the script."""
    head = ("<tr><th>layer</th><th>neuron</th><th>z</th><th>a = g(z)</th><th>g'(z)</th>"
            "<th>&part;E/&part;a</th><th>&delta; = &part;E/&part;z</th></tr>")
    rows = []
    for r in _records(step, chosen):
        l, j = r.layer, r.neuron
        cells = "".join(f'<td class="cell-value" id="{_cell_id(q, l, j)}"></td>'
                        for q in ("z", "output", "derivative", "output_grad", "delta"))
        rows.append(f'<tr id="row-{l}-{j}" data-owner="{l}-{j}"><td>{lab.textbook_layer(l)}'
                    f'</td><td>{lab.neuron_label("a", l, j, "html")}</td>{cells}</tr>')
    loss_row = ('<p class="loss-line">E = <span class="cell-value" id="cell-loss"></span></p>')
    return (f'<table id="neuron-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
            f'</table>{loss_row}')


def parameter_table_html(step, digits=9, convention="nielsen", bias_as_weight=False,
                         chosen=None):
    """Every weight and bias (of the neurons ``chosen(l, j)`` accepts): old value,
    gradient and new value (filled by the script)."""
    head = ("<tr><th>parameter</th><th>old</th><th>&part;E/&part;(parameter)</th>"
            "<th>new</th></tr>")
    rows = []
    for r in _records(step, chosen):
        l, j = r.layer, r.neuron
        entries = [(lab.weight_label(l, j, k, convention, "html"), w, "weight_grads",
                    "new_weights", k) for k, w in enumerate(r.weights)]
        bias = (lab.bias_label(l, j, convention, "html", bias_as_weight), r.bias, "bias_grad",
                "new_bias", None)
        entries = [bias] + entries if bias_as_weight else entries + [bias]
        for label, old, grad, new, k in entries:
            rows.append(f'<tr data-owner="{l}-{j}"><td>{label}</td>'
                        f'<td>{format_number(old, digits)}</td>'
                        f'<td class="cell-value" id="{_cell_id(grad, l, j, k)}"></td>'
                        f'<td class="cell-value" id="{_cell_id(new, l, j, k)}"></td></tr>')
    return (f'<table id="parameter-table"><thead>{head}</thead><tbody>{"".join(rows)}'
            f'</tbody></table>')


def _records(step, chosen=None):
    return [r for r in step.neurons() if chosen is None or chosen(r.layer, r.neuron)]


# ---------------------------------------------------------------- page
def _json_for_script(data):
    """JSON that is safe inside <script>: no <, > or & characters left."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def walkthrough_html(step, computations, title="neuronsim walkthrough", note="", digits=9,
                     convention="nielsen", bias_as_weight=False, layers=None, neurons=None):
    """The whole page as a string (``computations`` from ``walk(step, format="html")``).

    ``layers``/``neurons``: the 0-based filters the walk was made with (see the
    module docstring); the page marks those neurons and says so.
    """
    filtered = layers is not None or neurons is not None
    chosen = is_selected(layers, neurons) if filtered else None
    data = walk_data(step, computations, digits)
    x = ", ".join(format_number(v, digits) for v in step.input)
    start = f"input x = ({x})"
    if step.target is not None:
        start += ", target t = (" + ", ".join(format_number(v, digits) for v in step.target) + ")"
    data["start"] = start
    extra_css = filter_html = ""
    if filtered:
        data["filter"] = {
            "layers": None if layers is None else sorted(lab.textbook_layer(l) for l in layers),
            "neurons": None if neurons is None else sorted(j + 1 for j in neurons)}
        extra_css = _FILTER_CSS
        filter_html = (f'<p id="filter-note">{html.escape(filter_note(step, layers, neurons))}'
                       '</p>\n')
    n_params = sum(len(r.weights) + 1 for r in _records(step, chosen))
    open_attr = " open" if n_params <= 60 else ""
    chips = "".join(f'<button class="chip" data-phase="{p}">{PHASE_TITLES[p]}</button>'
                    for p in data["phases"])
    return _PAGE.format(
        title=html.escape(title), css=extra_css + _CSS, script=_SCRIPT,
        data=_json_for_script(data), svg=network_svg(step, chosen, convention),
        start=html.escape(start), chips=chips, filter_note=filter_html,
        neuron_table=neuron_table_html(step, chosen),
        parameter_table=parameter_table_html(step, digits, convention, bias_as_weight, chosen),
        open_attr=open_attr, note=html.escape(note), total=len(computations))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body data-phase="start">
<header>
  <h1>{title}</h1>
  <div id="controls">
    <button id="back" title="Back (←)">&#9664; Back</button>
    <button id="next" title="Next (→)">Next &#9654;</button>
    <span id="counter">0 / {total}</span>
    <span id="chips">{chips}</span>
  </div>
</header>
{filter_note}<main>
  <section id="diagram-box">{svg}</section>
  <section id="panel">
    <div id="phase">Start</div>
    <div id="comp-title">{start}</div>
    <div id="result"><span id="current-label"></span> <span id="equals"></span>
      <span id="current-value"></span></div>
    <div id="formulas"><p class="hint">Press <kbd>Next</kbd> or <kbd>&rarr;</kbd> to start the
      forward pass. <kbd>&larr;</kbd> goes back, <kbd>j</kbd> jumps to the backward pass.</p></div>
  </section>
</main>
<section id="tables">
  <div><h2>Neurons</h2>{neuron_table}</div>
  <details id="parameters"{open_attr}><summary>Weights and biases</summary>{parameter_table}
  </details>
</section>
<footer><p>{note}</p><p>Made with neuronsim: every number comes from one traced step of the
  per-neuron reference simulator.</p></footer>
<script type="application/json" id="walk-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""

# Only in a filtered page, and before _CSS so that the highlight of the current
# neuron and its sources (same specificity, later) still wins over the ring.
_FILTER_CSS = """
#filter-note { margin: 8px 0 0; padding: 6px 12px; font-size: 17px; background: #f0fff4;
               border-left: 5px solid #2f855a; }
svg .neuron.selected { stroke: #2f855a; stroke-width: 3; }
svg .neuron.other { opacity: .4; }
svg .neuron.other.source { opacity: 1; }
"""

_CSS = """
:root { --ink:#1a202c; --muted:#4a5568; --line:#cbd5e0; --fwd:#2b6cb0; --bwd:#c05621;
        --hi:#fefcbf; --hiline:#d69e2e; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Verdana, sans-serif; color: var(--ink); margin: 0;
       padding: 12px 24px; font-size: 19px; background: #fff; }
header { display: flex; align-items: center; justify-content: space-between; flex-wrap: wrap;
         gap: 8px; border-bottom: 2px solid var(--line); padding-bottom: 8px; }
h1 { font-size: 26px; margin: 0; }
h2 { font-size: 20px; margin: 8px 0; }
button { font: inherit; font-size: 20px; padding: 6px 18px; border-radius: 8px;
         border: 2px solid var(--muted); background: #f7fafc; cursor: pointer; }
button:hover { background: #edf2f7; }
#next { background: var(--fwd); color: #fff; border-color: var(--fwd); }
#counter { margin: 0 12px; font-weight: bold; }
.chip { font-size: 15px; padding: 3px 10px; border-radius: 14px; margin: 0 2px;
        border: 1px solid var(--line); }
.chip.active { background: var(--ink); color: #fff; border-color: var(--ink); }
main { display: flex; gap: 24px; align-items: flex-start; margin-top: 10px; }
#diagram-box { flex: 1 1 48%; min-width: 320px; }
#diagram { width: 100%; height: auto; max-height: 62vh; }
#panel { flex: 1 1 52%; min-width: 320px; }
#phase { font-size: 16px; font-weight: bold; text-transform: uppercase; letter-spacing: .08em;
         color: var(--fwd); }
body[data-phase="backward"] #phase, body[data-phase="gradients"] #phase,
body[data-phase="update"] #phase { color: var(--bwd); }
#comp-title { font-size: 22px; margin: 6px 0 10px; }
#result { font-size: 34px; font-weight: bold; margin: 6px 0 12px; }
#formulas { font-family: "DejaVu Serif", Georgia, serif; font-size: 22px; max-height: 64vh;
            overflow-y: auto; }
.eq { display: grid; grid-template-columns: max-content max-content 1fr; column-gap: 8px;
      row-gap: 4px; margin: 0 0 14px; padding: 8px 12px; background: #f7fafc;
      border-left: 5px solid var(--fwd); }
body[data-phase="backward"] .eq, body[data-phase="gradients"] .eq,
body[data-phase="update"] .eq { border-left-color: var(--bwd); }
.eq.compact { display: block; font-size: 19px; padding: 3px 10px; margin: 0 0 3px; }
.eq .lhs { grid-column: 1; }
.eq .eqsign { grid-column: 2; }
.eq .rhs { grid-column: 3; overflow-wrap: break-word; }
.eq .lhs + .eqsign, .eq .lhs + .eqsign + .rhs { grid-row: auto; }
.hint { font-family: "DejaVu Sans", Verdana, sans-serif; font-size: 18px; color: var(--muted); }
kbd { border: 1px solid var(--muted); border-radius: 4px; padding: 0 5px; font-size: 16px; }
/* The diagram is draw's layout (its labels placed so that none meets another):
   these rules change colours and strokes only, never a text's size or weight.
   Strokes stay within 1.5 px of a neuron, inside the room around every label. */
body:not([data-phase="start"]) svg .edge:not(.active) { stroke-opacity: .15; }
svg .edge.active { stroke-opacity: 1; }
svg .edge.loss-edge.active { stroke: var(--hiline); }
svg .neuron.done { fill: #ebf8ff; }
svg .neuron.source { stroke: var(--fwd); stroke-width: 3; }
svg .neuron.current { fill: var(--hi); stroke: var(--hiline); stroke-width: 3; }
body[data-phase="backward"] svg .neuron.current { fill: #feebc8; stroke: var(--bwd); }
svg text.value[id] { fill: var(--ink); }
#tables { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; margin-top: 12px; }
table { border-collapse: collapse; font-size: 17px; }
td, th { border: 1px solid var(--line); padding: 3px 10px; text-align: right; }
th { background: #edf2f7; }
tr.current-row td { background: var(--hi); }
summary { font-size: 20px; font-weight: bold; cursor: pointer; margin: 8px 0; }
.loss-line { font-size: 19px; }
footer { margin-top: 16px; color: var(--muted); font-size: 15px; }
@media print { #controls { display: none; } }
"""

_SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("walk-data").textContent);
  var comps = data.computations, total = comps.length, sizes = data.sizes;
  var last = sizes.length - 2;            // 0-based index of the output layer
  var pos = 0;                            // 0 = before the first computation
  function el(id) { return document.getElementById(id); }
  function neuronId(l, j) { return l < 0 ? "x-" + j : "n-" + l + "-" + j; }
  function layerIds(l) {
    var ids = [], n = sizes[l + 1];
    for (var j = 0; j < n; j++) ids.push(neuronId(l, j));
    return ids;
  }
  function focus(c) {
    var f = {current: [], sources: [], edges: []}, k;
    if (c.layer === null) {               // the loss reads every output
      f.current = ["loss-node"]; f.sources = layerIds(last);
      for (k = 0; k < sizes[last + 1]; k++) f.edges.push("e-loss-" + k);
      return f;
    }
    f.current = [neuronId(c.layer, c.neuron)];
    if (c.phase === "backward") {
      if (c.layer === last) { f.sources = ["loss-node"]; f.edges = ["e-loss-" + c.neuron]; }
      else {
        f.sources = layerIds(c.layer + 1);
        for (k = 0; k < sizes[c.layer + 2]; k++)
          f.edges.push("e-" + (c.layer + 1) + "-" + k + "-" + c.neuron);
      }
    } else {                              // z, a, gradients, update read the layer before
      f.sources = layerIds(c.layer - 1);
      for (k = 0; k < sizes[c.layer]; k++)
        f.edges.push("e-" + c.layer + "-" + c.neuron + "-" + k);
    }
    return f;
  }
  function clearClass(name) {
    var nodes = document.querySelectorAll("." + name);
    for (var i = 0; i < nodes.length; i++) nodes[i].classList.remove(name);
  }
  function addClass(ids, name) {
    for (var i = 0; i < ids.length; i++) { var e = el(ids[i]); if (e) e.classList.add(name); }
  }
  function show() {
    var i, j, cells = document.querySelectorAll(
      ".cell-value, text.value[id^='val-']:not([id^='val-x'])");
    for (i = 0; i < cells.length; i++) cells[i].textContent = "";
    ["current", "source", "active", "done", "current-row"].forEach(clearClass);
    for (i = 0; i < pos; i++) {           // reveal everything computed so far
      var c = comps[i];
      for (j = 0; j < c.lines.length; j++) {
        var line = c.lines[j], cell = el(line.cell);
        if (cell) cell.textContent = line.text;
        if (line.node && el(line.node)) el(line.node).textContent = line.node_text;
      }
      if (c.layer !== null) addClass([neuronId(c.layer, c.neuron)], "done");
    }
    var chips = document.querySelectorAll(".chip");
    for (i = 0; i < chips.length; i++) chips[i].classList.remove("active");
    el("counter").textContent = pos + " / " + total;
    el("back").disabled = pos === 0;
    el("next").disabled = pos === total;
    if (pos === 0) {
      document.body.setAttribute("data-phase", "start");
      el("phase").textContent = "Start";
      el("comp-title").textContent = data.start;
      el("current-label").innerHTML = ""; el("equals").textContent = "";
      el("current-value").textContent = "";
      el("formulas").innerHTML = '<p class="hint">Press <kbd>Next</kbd> or <kbd>&rarr;</kbd> ' +
        "to start the forward pass. <kbd>&larr;</kbd> goes back, <kbd>j</kbd> jumps to the " +
        "backward pass.</p>";
    } else {
      var cur = comps[pos - 1], f = focus(cur);
      document.body.setAttribute("data-phase", cur.phase);
      el("phase").textContent = cur.phase_title;
      el("comp-title").innerHTML = cur.title;
      if (cur.quantity === "weight_grads" || cur.quantity === "new_weights") {
        el("current-label").innerHTML = ""; el("equals").textContent = "";
        el("current-value").textContent = "";
      } else {
        el("current-label").innerHTML = cur.label; el("equals").textContent = "=";
        el("current-value").textContent = cur.value_text;
      }
      el("formulas").innerHTML = cur.html;
      addClass(f.current, "current"); addClass(f.sources, "source"); addClass(f.edges, "active");
      if (cur.layer !== null) {
        var rows = document.querySelectorAll('[data-owner="' + cur.layer + "-" + cur.neuron + '"]');
        for (i = 0; i < rows.length; i++) {
          if (cur.phase === "gradients" || cur.phase === "update" || rows[i].id)
            rows[i].classList.add("current-row");
        }
      }
      for (i = 0; i < chips.length; i++)
        if (chips[i].getAttribute("data-phase") === cur.phase) chips[i].classList.add("active");
    }
    try { history.replaceState(null, "", "#" + pos); } catch (e) { /* file: URLs may refuse */ }
  }
  function go(p) { pos = Math.max(0, Math.min(total, p)); show(); }
  function phaseStart(name) {
    for (var i = 0; i < total; i++) if (comps[i].phase === name) return i + 1;
    return pos;
  }
  el("next").addEventListener("click", function () { go(pos + 1); });
  el("back").addEventListener("click", function () { go(pos - 1); });
  var chips = document.querySelectorAll(".chip");
  for (var c = 0; c < chips.length; c++) chips[c].addEventListener("click", function (ev) {
    go(phaseStart(ev.currentTarget.getAttribute("data-phase")));
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var k = ev.key;
    if (k === "ArrowRight" || k === "PageDown" || k === "n") go(pos + 1);
    else if (k === "ArrowLeft" || k === "PageUp" || k === "b") go(pos - 1);
    else if (k === "j") go(phaseStart("backward"));
    else if (k === "Home") go(0);
    else if (k === "End") go(total);
    else return;
    ev.preventDefault();
  });
  var start = parseInt((location.hash || "").replace("#", ""), 10);
  go(isNaN(start) ? 0 : start);
})();
"""


# ---------------------------------------------------------------- sequences
def sequence_walkthrough_html(record, computations, title="neuronsim walkthrough", note="",
                              diagram="", tables="", digits=9):
    """One self-contained page for a network with a recurrent layer (any stack):
    the diagram (``diagram``, SVG text), then the computations of
    :func:`neuronsim.trace.walk.walk_sequence` one at a time (t = 1..T forward,
    the loss, t = T..1 backward, the sums over t, the update) with Next/Back,
    the arrow keys, PageDown/PageUp, Home/End and ``j`` (backward), and the
    trace's per-time-step tables (``tables``, HTML) below.  ``computations``
    must come in the "html" format; ``title`` and ``note`` are escaped here.

    With draw's diagram (:func:`neuronsim.render.draw.svg`), each computation
    highlights its neuron or unit (class ``current``) and its loop, the layer
    it reads (``source``: the layer before, or after for a δ) and the edges it
    uses (``active``), found by their ``data-layer``/``data-neuron``/
    ``data-from``/``data-to`` attributes; the loss reads the output layer."""
    items = []
    total = len(computations)
    for i, c in enumerate(computations):
        formulas = "".join(f'<p class="equation">{line.formula}</p>' for line in c.lines)
        where = ("" if c.layer is None else
                 f' data-layer="{lab.textbook_layer(c.layer)}" data-neuron="{c.neuron + 1}"')
        items.append(f'<section class="computation" data-phase="{c.phase}"{where} hidden>'
                     f'<h3>[{i + 1}/{total}] {PHASE_TITLES[c.phase]} · {c.title}</h3>'
                     f'{formulas}</section>')
    xs = "; ".join("(" + ", ".join(format_number(v, digits) for v in x) + ")"
                   for x in record.inputs[:8])
    if record.steps > 8:
        xs += f"; … ({record.steps} steps)"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>
body{{font-family:sans-serif;margin:2em;max-width:72em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #999;padding:2px 8px}}
p.equation{{font-family:serif;font-size:1.1em}}
section.computation{{border:2px solid #2166ac;border-radius:6px;padding:0.5em 1em}}
.diagram svg.focused .edge:not(.active){{stroke-opacity:.15}}
.diagram svg .edge.active{{stroke-opacity:1}}
.diagram svg .loop.active{{stroke:#d69e2e}}
.diagram svg .neuron.source{{stroke:#2b6cb0;stroke-width:3}}
.diagram svg .neuron.current{{fill:#fefcbf;stroke:#d69e2e;stroke-width:3}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>A sequence of T = {record.steps} time step{'s' if record.steps != 1 else ''}: x = {html.escape(xs)}</p>
<p>{html.escape(note)}</p>
<div class="diagram">{diagram}</div>
<p><button id="back">◀ Back</button> <button id="next">Next ▶</button>
<span id="where"></span></p>
{''.join(items)}
<h2>Every table of the step</h2>
{tables}
<script>
(function () {{
  var items = document.querySelectorAll("section.computation"), at = 0;
  var svg = document.querySelector(".diagram svg");
  function mark(selector, name) {{
    var nodes = svg.querySelectorAll(selector);
    for (var k = 0; k < nodes.length; k++) nodes[k].classList.add(name);
  }}
  function focus(item) {{          // the diagram's elements by their data-* (textbook numbers)
    if (!svg) return;
    ["current", "source", "active"].forEach(function (name) {{
      var nodes = svg.querySelectorAll("." + name);
      for (var k = 0; k < nodes.length; k++) nodes[k].classList.remove(name);
    }});
    var layers = Array.prototype.map.call(svg.querySelectorAll(".neuron[data-layer]"),
      function (n) {{ return +n.getAttribute("data-layer"); }});
    var last = Math.max.apply(null, layers), l = item.getAttribute("data-layer");
    var j = item.getAttribute("data-neuron"), phase = item.getAttribute("data-phase");
    svg.classList.add("focused");
    if (l === null) {{ mark('.neuron[data-layer="' + last + '"]', "source"); return; }}
    l = +l;
    var me = '[data-layer="' + l + '"][data-neuron="' + j + '"]';
    mark(".neuron" + me, "current");
    mark(".loop" + me, "active");       // a recurrent unit also reads its layer at t-1
    if (phase === "backward") {{
      if (l < last) {{
        mark('.neuron[data-layer="' + (l + 1) + '"]', "source");
        mark('.edge[data-layer="' + (l + 1) + '"][data-from="' + j + '"]', "active");
      }}
    }} else {{
      mark('.neuron[data-layer="' + (l - 1) + '"]', "source");
      mark('.edge[data-layer="' + l + '"][data-to="' + j + '"]', "active");
    }}
  }}
  function show(i) {{
    at = Math.max(0, Math.min(items.length - 1, i));
    for (var k = 0; k < items.length; k++) items[k].hidden = (k !== at);
    if (items.length) focus(items[at]);
    document.getElementById("where").textContent = (at + 1) + " of " + items.length;
    history.replaceState(null, "", "#" + (at + 1));
  }}
  document.getElementById("next").onclick = function () {{ show(at + 1); }};
  document.getElementById("back").onclick = function () {{ show(at - 1); }};
  document.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowRight" || e.key === "PageDown") show(at + 1);
    else if (e.key === "ArrowLeft" || e.key === "PageUp") show(at - 1);
    else if (e.key === "Home") show(0);
    else if (e.key === "End") show(items.length - 1);
    else if (e.key === "j") {{
      for (var k = 0; k < items.length; k++)
        if (items[k].getAttribute("data-phase") === "backward") {{ show(k); break; }}
    }}
  }});
  show(parseInt(location.hash.slice(1), 10) - 1 || 0);
}})();
</script>
</body></html>
"""
