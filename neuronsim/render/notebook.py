"""HTML for Jupyter: what ``Network._repr_html_`` and ``Tracer._repr_html_`` show.

A network shows as its diagram (:mod:`neuronsim.render.draw`, inline SVG) above
its parameter tables, with textbook labels (input layer = layer 1, neurons from
1; each caption names the 0-based ``net.layers[l]`` too): a dense layer's row j
holds the weights w_jk^(l) into neuron j and its bias b_j^(l); an Elman layer
adds a table of its recurrent weights u_ji^(l); an LSTM or GRU layer has one
table per gate, in torch's order, row j holding the gate's w, u and two biases.  Wide or tall layers
show their first and last rows and columns with "…" between.

A tracer shows its first recorded steps as the HTML tables of
:mod:`neuronsim.render.tables`.

Nothing here changes the network or the tracer: displaying is read-only.
"""

from html import escape

from ..core import labels as lab
from .draw import svg
from .numfmt import format_number
from .tables import render_record, render_records

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


def _table(caption, head, rows):
    """An HTML table from a caption, header cells and rows of cells (strings, "…" or "⋮")."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (f"<table><caption>{caption}</caption><thead><tr>"
            + "".join(f"<th>{h}</th>" for h in head)
            + f"</tr></thead><tbody>{body}</tbody></table>")


def _matrix_rows(units, columns, row_values, digits):
    """Rows "j, values..." for the kept ``units`` and ``columns`` (None = elided)."""
    rows = []
    for j in units:
        if j is None:
            rows.append(["⋮"] * (len(columns) + 1 + len(row_values(0)[1])))
            continue
        values, extra = row_values(j)
        rows.append([str(j + 1)]
                    + ["…" if k is None else _num(values[k], digits) for k in columns]
                    + [_num(x, digits) for x in extra])
    return rows


def layer_table(net, layer_index, convention="nielsen", digits=6):
    """Weights and biases of a dense or Elman ``net.layers[layer_index]`` as an HTML
    table: row j holds w_jk^(l) (into neuron j from neuron k of the layer below) and
    b_j^(l)."""
    layer = net.layers[layer_index]
    textbook = lab.textbook_layer(layer_index)
    columns = _keep(layer.n_inputs, MAX_COLUMNS)
    sup = lab.weight_superscript(layer_index, convention)
    head = ["neuron j"]
    head += ["…" if k is None else lab.symbol('w', ('j', k + 1), sup, 'html') for k in columns]
    head.append(lab.symbol('b', ('j',), sup, 'html'))
    rows = _matrix_rows(_keep(layer.size, MAX_ROWS), columns,
                        lambda j: (layer.neurons[j].weights, [layer.neurons[j].bias]), digits)
    kind = "" if layer.kind == "dense" else f" {escape(layer.kind)}"
    caption = (f"layer {textbook} (net.layers[{layer_index}]): {layer.size} × "
               f"{escape(layer.activation.name)}{kind}, weights w<sub>jk</sub> into neuron j "
               f"from neuron k of layer {textbook - 1}")
    return _table(caption, head, rows)


def recurrent_table(net, layer_index, digits=6):
    """The recurrent weights u_ji^(l) of an Elman ``net.layers[layer_index]``: row j
    holds the weights into neuron j from a_i[t−1] of its own layer."""
    layer = net.layers[layer_index]
    textbook = lab.textbook_layer(layer_index)
    columns = _keep(layer.size, MAX_COLUMNS)
    head = ["neuron j"] + ["…" if i is None else lab.symbol('u', ('j', i + 1), textbook, 'html')
                           for i in columns]
    rows = _matrix_rows(_keep(layer.size, MAX_ROWS), columns,
                        lambda j: (layer.neurons[j].recurrent_weights, []), digits)
    caption = (f"layer {textbook} (net.layers[{layer_index}]): recurrent weights "
               f"u<sub>ji</sub> into neuron j from a<sub>i</sub>[t−1] of layer {textbook}")
    return _table(caption, head, rows)


def gate_table(net, layer_index, gate, convention="nielsen", digits=6):
    """Gate ``gate`` of an LSTM or GRU ``net.layers[layer_index]``: row j holds the
    gate's input weights w_{q,jk}^(l), recurrent weights u_{q,jm}^(l) (from
    h_m[t−1]) and its two biases b_{xq,j}^(l), b_{hq,j}^(l) (torch's b_ih, b_hh)."""
    layer = net.layers[layer_index]
    textbook = lab.textbook_layer(layer_index)
    sup = lab.weight_superscript(layer_index, convention)
    letter = lab.GATE_LETTERS[gate]
    inputs, states = _keep(layer.n_inputs, MAX_COLUMNS // 2), _keep(layer.size, MAX_COLUMNS // 2)
    head = ["unit j"]
    head += ["…" if k is None else lab.gate_symbol("w", letter, ("j", k + 1), sup, "html")
             for k in inputs]
    head += ["…" if m is None else lab.gate_symbol("u", letter, ("j", m + 1), textbook, "html")
             for m in states]
    head += [lab.gate_symbol("b", "x" + letter, ("j",), sup, "html"),
             lab.gate_symbol("b", "h" + letter, ("j",), sup, "html")]
    neurons = layer.gates[gate]
    rows = []
    for j in _keep(layer.size, MAX_ROWS):
        if j is None:
            rows.append(["⋮"] * (len(head)))
            continue
        n = neurons[j]
        rows.append([str(j + 1)]
                    + ["…" if k is None else _num(n.weights[k], digits) for k in inputs]
                    + ["…" if m is None else _num(n.recurrent_weights[m], digits)
                       for m in states]
                    + [_num(n.bias_ih, digits), _num(n.bias_hh, digits)])
    caption = (f"layer {textbook} (net.layers[{layer_index}]): {layer.size} {layer.kind.upper()} "
               f"units, {escape(gate)} gate ({letter}, {escape(neurons[0].activation.name)})")
    return _table(caption, head, rows)


def layer_tables(net, layer_index, convention="nielsen", digits=6):
    """Every parameter table of ``net.layers[layer_index]``, by its kind."""
    layer = net.layers[layer_index]
    if hasattr(layer, "gates"):
        return [gate_table(net, layer_index, gate, convention, digits) for gate in layer.GATES]
    tables = [layer_table(net, layer_index, convention, digits)]
    if layer.is_recurrent:
        tables.append(recurrent_table(net, layer_index, digits))
    return tables


def network_html(net, convention="nielsen", digits=6):
    """The diagram and the parameter tables of ``net`` (``Network._repr_html_``)."""
    rate = "not set" if net.learning_rate is None else format_number(net.learning_rate)
    summary = (f"<p><b>{escape(repr(net))}</b><br>loss {escape(net.loss.name)} "
               f"({net.reduction} over a batch), learning rate {rate}, biases "
               f"{'updated' if net.update_biases else 'fixed'}.  Textbook numbering: the "
               "inputs are layer 1, neurons count from 1; Python's net.layers[l] is layer "
               "l+2.</p>")
    tables = [table for l in range(len(net.layers))
              for table in layer_tables(net, l, convention, digits)]
    return (f'<div class="neuronsim">{STYLE}{summary}{svg(net, convention=convention)}'
            + "".join(tables) + "</div>")


def step_html(step, digits=9, convention="nielsen"):
    """One trace step (:class:`~neuronsim.trace.tracer.StepRecord`) as HTML tables."""
    return f'<div class="neuronsim">{STYLE}' + render_record(
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
    body = render_records(shown, format="html", digits=digits, convention=convention) \
        if shown else ""
    return (f'<div class="neuronsim">{STYLE}<p>{" ".join(notes)}</p>{body}</div>')
