"""The HTML of ``neuronsim serve``: the page, and the panel each action returns.

The server renders everything; the page's script (:data:`SCRIPT`) only sends
actions and puts the returned panel in place, so there is no second
implementation of any formula in JavaScript.  What the panel shows of the
session's traced step (:mod:`neuronsim.serve.actions`):

- the diagram (neuronsim.render.draw) with a on the neurons and w on the
  edges, and after a backward pass a second one with δ and dE/dw;
- a table of every neuron's z, a, g'(z) and δ (``data-quantity``,
  ``data-layer``, ``data-neuron`` in textbook numbering, ``data-value`` the
  float64's repr), per time step for a network that reads sequences;
- the loss curve and, for two inputs, the decision boundary (:mod:`.charts`);
- what was clicked: a neuron's or weight's trace rows and its ``explain``
  derivation (neuronsim.hand.explain);
- edit boxes for the parameters, the sample's input and target;
- the trace tables of the step (neuronsim.render.tables, HTML);
- download links.

Text from users (a network's name, an error message quoting what was typed)
is escaped with :func:`html.escape` (neuronsim.render.escape says why).
Labels use textbook numbering (input layer = layer 1, neurons from 1); edit
fields and click targets carry 0-based Python indices.
"""

import logging
from html import escape

from ..core.errors import NeuronsimError
from ..core.labels import gate_weight_label, neuron_label, symbol, weight_label
from ..hand.explain import explain, render_explanation
from ..render import draw
from ..render.numfmt import format_number
from ..render.tables import render_record
from ..trace.sequence import SequenceRecord
from . import actions
from .charts import boundary_svg, loss_svg

log = logging.getLogger("neuronsim.serve")

DIGITS = 9
# Rows of the neuron table of a sequence (neurons × time steps) before it is cut.
MAX_VALUE_ROWS = 400
# Time steps × inputs of a sequence sample shown as edit boxes.
MAX_SAMPLE_BOXES = 200


def is_sequence(record):
    """A record of a network that reads sequences (per time step), not of one step."""
    return isinstance(record, SequenceRecord)


def num(x):
    return escape(format_number(x, DIGITS)) if x is not None else "–"


def value_cell(quantity, l, j, x, t=None, gate=None):
    """A table cell with its value for scripts and tests: textbook layer and neuron
    (an LSTM's or GRU's unit, and ``data-gate`` for one of its gates)."""
    if x is None:
        return "<td>–</td>"
    step = f' data-t="{t + 1}"' if t is not None else ""
    step += f' data-gate="{gate}"' if gate is not None else ""
    return (f'<td class="value" data-quantity="{quantity}" data-layer="{l + 2}" '
            f'data-neuron="{j + 1}"{step} data-value="{escape(repr(float(x)))}">'
            f'{num(x)}</td>')


def _unit_rows(r, t, s):
    """An LSTM or GRU unit at step t: its h (as a), then each gate's z, a, g'(z) and δ."""
    rows = [f'<tr><td>{r.layer + 2}</td><td>{r.neuron + 1} (h)</td><td>{t + 1}</td>'
            '<td>–</td>' + value_cell("a", r.layer, r.neuron, s.output, t)
            + '<td>–</td><td>–</td></tr>']
    for gate, g in s.gates.items():
        rows.append(f'<tr><td>{r.layer + 2}</td><td>{r.neuron + 1} ({gate} gate)</td>'
                    f'<td>{t + 1}</td>'
                    + value_cell("z", r.layer, r.neuron, g.z, t, gate)
                    + value_cell("a", r.layer, r.neuron, g.output, t, gate)
                    + value_cell("gprime", r.layer, r.neuron, g.derivative, t, gate)
                    + value_cell("delta", r.layer, r.neuron, g.delta, t, gate) + '</tr>')
    return rows


# ------------------------------------------------------------------ pieces
def message_html(session):
    if not session.message:
        return ""
    kind, text = session.message
    return f'<div class="message {kind}" role="status">{escape(text)}</div>'


def status_html(session):
    net = session.net
    losses = session.losses
    loss = f" · loss over every sample {num(losses[-1][1])}" if losses else ""
    phase = {"fresh": "no pass yet", "forward": "forward pass",
             "backward": "forward and backward pass", "updated": "a whole step (updated)"}
    return (f'<p class="status"><b>{escape(session.name)}</b> · '
            f'{" – ".join(str(s) for s in net.sizes)} · sample {session.sample + 1} of '
            f'{len(net.samples)} · showing: {phase[session.phase]} · updates '
            f'{session.updates} · epochs {session.epochs}{loss}</p>')


def controls_html(session):
    net = session.net
    samples = "".join(f'<option value="{i + 1}"{" selected" if i == session.sample else ""}>'
                      f'{i + 1}</option>' for i in range(len(net.samples)))
    known = dict(actions.OPTIMIZER_TITLES)
    if session.optimizer == "file":
        known["file"] = f"the file's ({net.optimizer.name})"
    optimizers = "".join(f'<option value="{key}"{" selected" if key == session.optimizer else ""}>'
                         f'{escape(title)}</option>' for key, title in known.items())
    counts = "".join(f'<option value="{n}"{" selected" if n == session.epoch_count else ""}>'
                     f'{n}</option>' for n in actions.EPOCH_COUNTS)
    return (f'<div class="controls"><label>sample <select name="sample">{samples}</select>'
            f'</label> <label>learning rate η <input data-field="lr" size="10" '
            f'value="{escape(repr(net.learning_rate))}"></label> '
            f'<label>optimizer <select name="optimizer">{optimizers}</select></label> '
            f'<label>Epoch runs <select name="epochs">{counts}</select> epoch(s)</label></div>')


def diagrams_html(session):
    shown = session.shown
    if session.refusal:
        return (f'<div class="message error refusal">The tracer and the diagram refuse this '
                f'network: {escape(session.refusal)}. Step, Epoch and the loss curve still '
                'work.</div>')
    try:
        parts = ['<figure><figcaption>a on the neurons, w on the edges (click one)'
                 '</figcaption>' + draw.svg(shown, show="a", edges="weight") + '</figure>']
        if session.phase in ("backward", "updated"):
            # one sample's dE/dw = a·δ on the edges; a sequence's is a sum over t (the
            # tables show it), so its edges keep the weights
            edges = "weight" if shown.is_sequential else "gradient"
            caption = "δ = dE/dz on the neurons" + (
                " (last time step), w on the edges" if shown.is_sequential
                else ", dE/dw on the edges")
            parts.append(f'<figure><figcaption>{caption}</figcaption>'
                         + draw.svg(shown, show="delta", edges=edges) + '</figure>')
    except (NeuronsimError, ValueError, ArithmeticError) as exc:
        return f'<div class="message error">diagram: {escape(str(exc))}</div>'
    return '<div class="diagrams">' + "".join(parts) + '</div>'


def values_html(session):
    record = session.record
    if record is None:
        return ""
    head = ('<table class="values"><thead><tr><th>layer</th><th>neuron</th>{t}<th>z</th>'
            '<th>a</th><th>g\'(z)</th><th>δ = dE/dz</th></tr></thead><tbody>')
    rows = []
    if is_sequence(record):
        rows_left = MAX_VALUE_ROWS
        for series in record.layers:
            for r in series.neurons:
                for t, s in enumerate(r.steps):
                    if rows_left == 0:
                        break
                    rows_left -= 1
                    if getattr(s, "gates", None) is not None:   # an LSTM or GRU unit
                        rows += _unit_rows(r, t, s)
                        continue
                    rows.append(f'<tr><td>{r.layer + 2}</td><td>{r.neuron + 1}</td>'
                                f'<td>{t + 1}</td>'
                                + value_cell("z", r.layer, r.neuron, s.z, t)
                                + value_cell("a", r.layer, r.neuron, s.output, t)
                                + value_cell("gprime", r.layer, r.neuron, s.derivative, t)
                                + value_cell("delta", r.layer, r.neuron,
                                             getattr(s, "delta", None), t) + '</tr>')
        note = "" if rows_left else f'<p class="note">the first {MAX_VALUE_ROWS} rows</p>'
        return ("<h2>Every neuron, every time step</h2>" + head.format(t="<th>t</th>")
                + "".join(rows) + "</tbody></table>" + note)
    for r in record.neurons():
        rows.append(f'<tr><td>{r.layer + 2}</td><td>{r.neuron + 1}</td>' + value_cell("z", r.layer, r.neuron, r.z)
                    + value_cell("a", r.layer, r.neuron, r.output)
                    + value_cell("gprime", r.layer, r.neuron, r.derivative)
                    + value_cell("delta", r.layer, r.neuron, r.delta) + '</tr>')
    return "<h2>Every neuron</h2>" + head.format(t="") + "".join(rows) + "</tbody></table>"


def charts_html(session):
    parts = ['<figure><figcaption>loss over every sample, after each update</figcaption>'
             + loss_svg(list(session.losses)) + '</figure>']
    net = session.net
    if net.n_inputs == 2 and not net.is_sequential and len(net.samples) >= 2:
        try:
            picture = _boundary(session)
            parts.append('<figure><figcaption>decision boundary (current weights)'
                         '</figcaption>' + picture + '</figure>')
        except (NeuronsimError, ValueError, ArithmeticError) as exc:
            parts.append(f'<p class="message error">decision boundary: {escape(str(exc))}</p>')
    return '<div class="charts">' + "".join(parts) + '</div>'


def _boundary(session):
    """The decision boundary's SVG, made again only when the weights or the
    samples changed since the last one.  Its forward passes run on the
    session's own network (the diagram draws ``session.shown``, a copy)."""
    net = session.net
    key = repr((net.to_spec(), session.sample))
    cached = session.cache.get("boundary")
    if cached is None or cached[0] != key:
        cached = (key, boundary_svg(net, net.samples, resolution=actions.GRID))
        session.cache["boundary"] = cached
    return cached[1]


def _trace_rows(record, l, j):
    if record is None:
        return ""
    which = "sequence" if is_sequence(record) else "step"
    return render_record(record, format="html", digits=DIGITS, layers={l}, neurons={j},
                         title=f"Its rows of this {which}'s trace")


def _derivation(session, start, label):
    """The ``explain`` derivation of ``label`` on the network ``start``, as HTML."""
    try:
        x, t = actions.sample_pair(start, session.sample)
        derivation = escape(render_explanation(explain(start, label, x, t), "plain", DIGITS))
        return f'<pre class="explain">{derivation}</pre>'
    except (NeuronsimError, ValueError) as exc:
        return f'<p class="message error">explain: {escape(str(exc))}</p>'


def _weight_edit(title, field, value):
    return (f'<p><label>{title} = <input data-field="{field}" size="22" '
            f'value="{escape(repr(value))}"></label></p>')


def _gated_details(session, start, l, j, k=None):
    """A unit of an LSTM or GRU layer: dE/dh_j[T] (a click on the unit), or the
    weight from input k into each of its gates, one derivation per gate (a
    click on an edge, which stands for one weight per gate)."""
    net = session.net
    layer = net.layers[l]
    steps = len(actions.sample_pair(net, session.sample)[0])
    if k is None:
        title = (f"∂E/∂{symbol('h', (j + 1,), l + 2, 'html')}[{steps}] "
                 f"(the last time step)")
        return title, "", _derivation(session, start, f"h_{j + 1}^({l + 2})[{steps}]")
    title = (f"the weights from input {k + 1} into unit {j + 1}'s gates "
             f"({', '.join(escape(gate) for gate in layer.GATES)})")
    parts = []
    for q, gate in enumerate(layer.GATES):
        row = q * layer.size + j   # torch's row of gate q, unit j
        label = gate_weight_label(l, gate, j, k, style="html")
        value = layer.neurons[row].weights[k]
        derivation = _derivation(session, start, f"layers[{l}].neurons[{row}].weights[{k}]")
        parts.append(f'<details{" open" if q == 0 else ""}><summary>{escape(gate)} gate: '
                     f'{label}</summary>{_weight_edit(label, f"w:{l}:{row}:{k}", value)}'
                     f'{derivation}</details>')
    return title, "", "".join(parts)


def details_html(session):
    """What the student clicked: a neuron's or weight's trace rows and derivation."""
    if session.selected is None:
        return ""
    net = session.net
    kind, l, j = session.selected[:3]
    start = session.before or net   # the weights of the step the tables show
    if hasattr(net.layers[l], "GATES"):
        title, edit, derivation = _gated_details(
            session, start, l, j, session.selected[3] if kind == "weight" else None)
    else:
        if kind == "neuron":
            title = neuron_label("delta", l, j, "html")
            if net.is_sequential:
                steps = len(actions.sample_pair(net, session.sample)[0])
                label = f"history[{steps - 1}][{l}][{j}].delta"
                title += f"[{steps}] (the last time step)"
            else:
                label = f"layers[{l}].neurons[{j}].delta"
            edit = ""
        else:
            k = session.selected[3]
            title = weight_label(l, j, k, style="html")
            label = f"layers[{l}].neurons[{j}].weights[{k}]"
            edit = _weight_edit(title, f"w:{l}:{j}:{k}", net.layers[l].neurons[j].weights[k])
        derivation = _derivation(session, start, label)
    rows = _trace_rows(session.record, l, j)
    return (f'<section class="details"><h2>{title} <button data-action="close">close'
            f'</button></h2>{edit}<h3>The chain rule with the weights of the step shown, '
            f'sample {session.sample + 1}</h3>{derivation}<div class="rows">{rows}</div></section>')


def _parameters(net):
    """(field, html label, value) of every parameter, layer by layer."""
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            fields = [f"w:{l}:{j}:{k}" for k in range(len(neuron.weights))]
            fields += [f"u:{l}:{j}:{k}" for k in range(len(getattr(neuron, "recurrent_weights",
                                                                   None) or ()))]
            fields += ([f"bih:{l}:{j}", f"bhh:{l}:{j}"] if hasattr(neuron, "bias_ih")
                       else [f"b:{l}:{j}"])
            for field in fields:
                yield field


def editor_html(session, limits):
    net = session.net
    cells = []
    for count, field in enumerate(_parameters(net)):
        if count == limits.edit_rows:
            cells.append(f'<p class="note">the first {limits.edit_rows} parameters; click a '
                         'weight in the diagram to edit any other</p>')
            break
        neuron, attribute, k, label = actions.parameter_place(net, field)
        value = getattr(neuron, attribute) if k is None else getattr(neuron, attribute)[k]
        cells.append(f'<label class="param">{escape(label)} <input data-field="{field}" '
                     f'size="20" value="{escape(repr(value))}"></label>')
    return ('<details class="editor" open><summary>Weights and biases (edit any; Enter or '
            'leave the box to apply)</summary><div class="params">' + "".join(cells)
            + '</div>' + _sample_editor(session) + '</details>')


def _sample_editor(session):
    net = session.net
    sample = net.samples[session.sample]
    parts = []
    for key, letter in (("input", "x"), ("target", "t")):
        values = sample[key]
        boxes = []
        if net.is_sequential and key == "target" and actions.is_last_step_target(values):
            last = len(sample["input"]) - 1      # many-to-one: the last step's target only
            for k, v in enumerate(values[:MAX_SAMPLE_BOXES]):
                boxes.append(f'<label>{letter}{k + 1}[{last + 1}] <input '
                             f'data-field="{letter}:{last}:{k}" size="8" '
                             f'value="{escape(repr(v))}"></label>')
            boxes.append('<span class="note">(at the last step only)</span>')
        elif net.is_sequential:
            for t, row in enumerate(values or ()):
                if row is None:
                    boxes.append(f'<span class="note">[{t + 1}] no target</span>')
                    continue
                for k, v in enumerate(row):
                    if len(boxes) >= MAX_SAMPLE_BOXES:
                        break
                    boxes.append(f'<label>{letter}{k + 1}[{t + 1}] <input '
                                 f'data-field="{letter}:{t}:{k}" size="8" '
                                 f'value="{escape(repr(v))}"></label>')
        else:
            for k, v in enumerate(values):
                boxes.append(f'<label>{letter}<sub>{k + 1}</sub> <input data-field="{letter}:{k}" '
                             f'size="12" value="{escape(repr(v))}"></label>')
        parts.append(f'<p class="sample">{key} of sample {session.sample + 1}: '
                     + " ".join(boxes) + '</p>')
    return "".join(parts)


def tables_html(session):
    record = session.record
    if record is None:
        return ""
    if is_sequence(record):
        steps = record.steps
        t = min(session.time_step or steps, steps)
        choices = "".join(f'<option value="{i}"{" selected" if i == t else ""}>t = {i}</option>'
                          for i in range(1, steps + 1))
        body = (f'<p><label>forward and backward tables of time step <select name="time">'
                f'{choices}</select></label> (the neuron table above has every step)</p>'
                + render_record(record, format="html", digits=DIGITS, times=[t],
                                title="This sequence"))
    else:
        body = render_record(record, format="html", digits=DIGITS, title="This step")
    return ('<details class="tables" open><summary>The trace of this step: every number, '
            'with the chain rule written out</summary>' + body + '</details>')


def downloads_html(session):
    base = f"/s/{session.id}/download"
    traces = " ".join(f'<a href="{base}/trace?format={f}">{f}</a>'
                      for f in ("plain", "markdown", "latex", "html"))
    return (f'<p class="downloads">Download: <a href="{base}/network">the network file</a> · '
            f'the trace of this step ({traces}) · <a href="{base}/walkthrough">the HTML '
            'walkthrough of a step</a></p>')


def panel_html(session, limits):
    """Everything below the buttons, as the server sends it after each action."""
    if session.net is None:
        return (message_html(session)
                + '<p class="status">Pick a network above, or upload a network file '
                  '(JSON, docs/spec.md).</p>')
    return "".join([
        message_html(session), status_html(session), controls_html(session),
        '<div class="pictures">', guarded(diagrams_html, session),
        guarded(charts_html, session), '</div>',
        guarded(details_html, session), guarded(values_html, session),
        editor_html(session, limits), guarded(tables_html, session), downloads_html(session)])


def guarded(part, session):
    """One part of the panel; if it cannot be made (a NaN where a picture needs a
    number, say), a message in its place and a line in the server's log, and
    the rest of the panel as usual."""
    try:
        return part(session)
    except Exception as exc:   # the page goes on whatever one part met
        log.warning("neuronsim serve: %s failed: %r", part.__name__, exc)
        return (f'<div class="message error">this part could not be shown '
                f'({escape(part.__name__.replace("_html", ""))}): {escape(str(exc))}</div>')


def page_html(session, limits, bundled=()):
    """The whole page of a new session (``bundled``: the example names)."""
    options = ['<option value="">pick a network…</option>'] + [
        f'<option value="{escape(name)}"'
        f'{" selected" if session.net is not None and name == session.name else ""}>'
        f'{escape(name)}</option>' for name in bundled]
    buttons = "".join(f'<button data-action="{a}" id="{a}">{a.capitalize()}</button>'
                      for a in ("forward", "backward", "update", "step", "epoch"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>neuronsim serve</title>
<link rel="stylesheet" href="/app.css">
</head>
<body data-session="{escape(session.id)}" data-play-limit="{limits.play_steps}">
<header>
<h1>neuronsim <span>backpropagation, every number from the reference</span></h1>
<div class="toolbar">
<label>network <select id="network">{"".join(options)}</select></label>
<label>or upload <input type="file" id="upload" accept=".json,application/json"></label>
<span class="buttons">{buttons}<button data-action="play" id="play">Play</button>
<button data-action="stop" id="stop" disabled>Stop</button></span>
<span id="busy" hidden>working…</span>
</div>
</header>
<main id="panel">{panel_html(session, limits)}</main>
<script src="/app.js"></script>
</body></html>
"""


def notice_html(title, text, status_line=""):
    """A page with one message (a full classroom, an expired session)."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
            f'{escape(title)}</title><link rel="stylesheet" href="/app.css"></head><body>'
            f'<header><h1>neuronsim</h1></header><main><div class="message error" '
            f'role="status"><b>{escape(title)}</b>: {escape(text)}</div>{status_line}</main>'
            '</body></html>')


CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #1f3b57; color: #fff; padding: 8px 16px; position: sticky; top: 0; z-index: 2; }
header h1 { font-size: 20px; margin: 0 0 6px; }
header h1 span { font-size: 13px; font-weight: normal; opacity: .8; margin-left: 8px; }
.toolbar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; font-size: 14px; }
.buttons button { font-size: 14px; margin-right: 4px; padding: 4px 10px; cursor: pointer; }
main { padding: 8px 16px 40px; }
.message { padding: 6px 10px; border-radius: 4px; margin: 6px 0; }
.message.info { background: #e6f0fa; border: 1px solid #9cc0e0; }
.message.error { background: #fde8e4; border: 1px solid #e0a090; }
.status { font-size: 14px; margin: 6px 0; }
.controls { font-size: 14px; margin: 6px 0; display: flex; gap: 16px; flex-wrap: wrap; }
.pictures { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.diagrams, .charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; padding: 4px; }
figcaption { font-size: 12px; color: #555; }
.diagrams figure { flex: 1 1 460px; max-width: 620px; }
figure svg.neuronsim-diagram { width: 100%; height: auto; }
svg .neuron, svg .edge { cursor: pointer; }
svg .labels, svg .loops { pointer-events: none; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; background: #fff; }
td, th { border: 1px solid #bbb; padding: 2px 8px; text-align: right; }
th { background: #eef2f6; }
.details { border: 2px solid #1f3b57; background: #fff; padding: 4px 12px; margin: 10px 0; }
pre.explain { background: #f5f5f0; padding: 8px; overflow-x: auto; font-size: 12px; }
.params { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; }
.param input, .sample input { font-family: monospace; }
.note { color: #666; font-size: 12px; }
details { margin: 10px 0; }
summary { font-weight: bold; cursor: pointer; }
p.equation { font-family: serif; }
.downloads { margin-top: 16px; }
"""

SCRIPT = """
(function () {
  "use strict";
  // Sends actions and shows the panel the server renders; computes nothing.
  var sid = document.body.dataset.session;
  var panel = document.getElementById("panel");
  var busy = document.getElementById("busy");
  var playing = false;
  var limit = parseInt(document.body.dataset.playLimit, 10) || 1000;
  var PAUSE = 300;   // Play: ms between one Step's answer and the next Step

  function show(text) { panel.innerHTML = text; }

  function send(path, body) {
    busy.hidden = false;
    return fetch("/s/" + sid + path, {method: "POST", body: body})
      .then(function (r) { return r.text(); })
      .then(function (text) {
        show(text);
        busy.hidden = true;
        return !panel.querySelector(".message.error");
      })
      .catch(function (e) {
        busy.hidden = true;
        show('<div class="message error">the server did not answer: ' +
             String(e).replace(/[&<>]/g, "") + '</div>');
        return false;
      });
  }

  function act(action, params) {
    var body = new URLSearchParams(params || {});
    body.set("action", action);
    return send("/act", body);
  }

  function setPlaying(on) {
    playing = on;
    document.getElementById("play").disabled = on;
    document.getElementById("stop").disabled = !on;
  }

  function play() {
    if (playing) { return; }
    setPlaying(true);
    var count = 0;
    function next() {
      if (!playing || count >= limit) { setPlaying(false); return; }
      count += 1;
      act("step").then(function (ok) {
        if (!ok) { setPlaying(false); return; }
        setTimeout(next, PAUSE);
      });
    }
    next();
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("[data-action]");
    if (button) {
      ev.preventDefault();
      var action = button.dataset.action;
      if (action === "play") { play(); }
      else if (action === "stop") { setPlaying(false); }
      else if (action === "epoch") {
        var count = document.querySelector('select[name="epochs"]');
        act(action, {count: count ? count.value : "1"});
      }
      else { act(action); }
      return;
    }
    var neuron = ev.target.closest("circle.neuron, rect.neuron");
    if (neuron && parseInt(neuron.dataset.layer, 10) >= 2) {
      act("select", {kind: "neuron", layer: neuron.dataset.layer - 2,
                     neuron: neuron.dataset.neuron - 1});
      return;
    }
    var edge = ev.target.closest("line.edge");
    if (edge) {
      act("select", {kind: "weight", layer: edge.dataset.layer - 2,
                     neuron: edge.dataset.to - 1, index: edge.dataset.from - 1});
    }
  });

  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.dataset && el.dataset.field) {
      act("edit", {field: el.dataset.field, value: el.value});
    } else if (el.name === "sample") {
      act("sample", {sample: el.value});
    } else if (el.name === "time") {
      act("time", {t: el.value});
    } else if (el.name === "optimizer") {
      act("optimizer", {optimizer: el.value});
    } else if (el.id === "network" && el.value) {
      act("load", {name: el.value});
    } else if (el.id === "upload" && el.files.length) {
      send("/upload", el.files[0]);
      el.value = "";
    }
  });

  // ?actions=[["edit", {"field": "w:0:0:0", "value": "0.3"}], ["step", {}]]: run these
  // actions in order after loading, as clicks would (a lesson's link, or a test).
  var script = new URLSearchParams(location.search).get("actions");
  var todo = [];
  try { todo = script ? JSON.parse(script) : []; } catch (e) { todo = []; }
  if (!Array.isArray(todo)) { todo = []; }
  function runNext() {
    if (!todo.length) { document.body.dataset.done = "1"; return; }
    var item = todo.shift();
    if (!Array.isArray(item)) { runNext(); return; }
    act(String(item[0]), item[1] || {}).then(runNext);
  }
  runNext();
})();
"""
