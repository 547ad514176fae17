"""HTML for Jupyter: what ``Network._repr_html_`` and ``Tracer._repr_html_`` show.

A network shows as its diagram (:mod:`neuronsim.render.draw`, inline SVG) above
one table per layer: row j holds the weights w_jk^(l) into neuron j and its
bias b_j^(l), with textbook labels (input layer = layer 1, neurons from 1;
the caption names the 0-based ``net.layers[l]`` too).  Wide or tall layers
show their first and last rows and columns with "…" between.

A tracer shows its first recorded steps as the HTML tables of
:mod:`neuronsim.render.tables`.

Nothing here changes the network or the tracer: displaying is read-only.
"""

from html import escape

from ..core import labels as lab
from ..core.gates import refuse_gated_layers
from .draw import svg
from .numfmt import format_number
from .tables import render_step, render_trace

MAX_ROWS = 12       # neurons shown per layer table (first and last)
MAX_COLUMNS = 10    # weights shown per row (first and last)
MAX_STEPS = 3       # steps a tracer shows

STYLE = ("<style>.neuronsim table{border-collapse:collapse;margin:0.5em 0}"
         ".neuronsim td,.neuronsim th{border:1px solid #bbb;padding:2px 6px;text-align:right}"
         ".neuronsim caption{text-align:left;font-weight:bold;white-space:nowrap}</style>")


def _keep(count, limit):
    """Indices to show out of ``count``: all, or the first and last halves with None between."""
    if count <= limit:
        return list(range(count))
    half = limit // 2
    return list(range(half)) + [None] + list(range(count - half, count))


def _num(x, digits):
    return format_number(x, digits, "html")


def layer_table(net, layer_index, convention="nielsen", digits=6):
    """Weights and biases of ``net.layers[layer_index]`` as an HTML table."""
    layer = net.layers[layer_index]
    textbook = lab.textbook_layer(layer_index)
    columns = _keep(layer.n_inputs, MAX_COLUMNS)
    sup = lab.weight_superscript(layer_index, convention)
    head = ["<th>neuron j</th>"]
    head += ["<th>…</th>" if k is None else f"<th>{lab.symbol('w', ('j', k + 1), sup, 'html')}</th>"
             for k in columns]
    head.append(f"<th>{lab.symbol('b', ('j',), sup, 'html')}</th>")
    rows = []
    for j in _keep(layer.size, MAX_ROWS):
        if j is None:
            rows.append("<tr>" + "<td>⋮</td>" * (len(columns) + 2) + "</tr>")
            continue
        neuron = layer.neurons[j]
        cells = [f"<td>{j + 1}</td>"]
        cells += ["<td>…</td>" if k is None else f"<td>{_num(neuron.weights[k], digits)}</td>"
                  for k in columns]
        cells.append(f"<td>{_num(neuron.bias, digits)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = (f"layer {textbook} (net.layers[{layer_index}]): {layer.size} × "
               f"{escape(layer.activation.name)}, weights w<sub>jk</sub> into neuron j "
               f"from neuron k of layer {textbook - 1}")
    return (f"<table><caption>{caption}</caption><thead><tr>{''.join(head)}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def network_html(net, convention="nielsen", digits=6):
    """The diagram and the weight tables of ``net`` (``Network._repr_html_``)."""
    refuse_gated_layers(net, "shown in a notebook")
    rate = "not set" if net.learning_rate is None else format_number(net.learning_rate)
    summary = (f"<p><b>{escape(repr(net))}</b><br>loss {escape(net.loss.name)} "
               f"({net.reduction} over a batch), learning rate {rate}, biases "
               f"{'updated' if net.update_biases else 'fixed'}.  Textbook numbering: the "
               "inputs are layer 1, neurons count from 1; Python's net.layers[l] is layer "
               "l+2.</p>")
    tables = [layer_table(net, l, convention, digits) for l in range(len(net.layers))]
    return (f'<div class="neuronsim">{STYLE}{summary}{svg(net, convention=convention)}'
            + "".join(tables) + "</div>")


def step_html(step, digits=9, convention="nielsen"):
    """One trace step (:class:`~neuronsim.trace.tracer.StepRecord`) as HTML tables."""
    return f'<div class="neuronsim">{STYLE}' + render_step(
        step, "html", digits, convention=convention) + "</div>"


def tracer_html(tracer, digits=9, convention="nielsen", max_steps=MAX_STEPS):
    """The first ``max_steps`` finished steps of ``tracer`` (``Tracer._repr_html_``).

    Steps of a batch whose update has not happened yet are not finished;
    ``tracer.flush()`` hands them over.
    """
    steps = tracer.steps
    shown = steps[:max_steps]
    notes = [f"Tracer: {tracer.count} step{'s' if tracer.count != 1 else ''} recorded, "
             f"{len(steps)} kept."]
    if len(steps) > len(shown):
        notes.append(f"Showing the first {len(shown)}; tracer.render(format='html') "
                     "gives them all.")
    if tracer.count > len(steps) and tracer.keep:
        notes.append("Steps of an unfinished batch appear after its update "
                     "(or tracer.flush()).")
    body = render_trace(shown, format="html", digits=digits, convention=convention) \
        if shown else ""
    return (f'<div class="neuronsim">{STYLE}<p>{" ".join(notes)}</p>{body}</div>')
