"""Jupyter display: networks and tracers as HTML (diagram + tables), read-only."""

import re

import pytest
from catalogue import MAZUR_SAMPLE, XOR_SAMPLES, mazur, xor

from neuronsim import Network
from neuronsim.files.bundled import example_path
from neuronsim.render import notebook
from neuronsim.render.numfmt import format_number
from neuronsim.trace import Tracer


def cells(html):
    return re.findall(r"<td>(.*?)</td>", html)


def test_network_html_has_the_diagram_and_one_table_per_layer():
    net = mazur()
    html = net._repr_html_()
    assert html == notebook.network_html(net)
    assert html.count("<svg") == 1 and html.count("<table>") == 2
    assert "layer 2 (net.layers[0]): 2 × sigmoid" in html
    assert "layer 3 (net.layers[1]): 2 × sigmoid" in html
    assert "w<sub>j1</sub><sup>(2)</sup>" in html and "b<sub>j</sub><sup>(3)</sup>" in html
    assert "biases fixed" in html and "learning rate not set" in html
    # row j of layer 2: neuron number, w_j1, w_j2, b_j
    assert cells(html)[:8] == ["1", "0.15", "0.2", "0.35", "2", "0.25", "0.3", "0.35"]


def test_network_html_shows_every_weight_of_a_small_network():
    net = xor()
    body = cells(notebook.network_html(net, digits=17))
    for layer in net.layers:
        for neuron in layer.neurons:
            for value in neuron.weights + [neuron.bias]:
                assert format_number(value, 17, "html") in body


def test_wide_layers_are_cut_with_ellipses():
    net = Network.from_arrays([[[0.01 * (j + k) for k in range(64)] for j in range(32)]],
                              None, "sigmoid", "half_sse")
    html = notebook.layer_table(net, 0)
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    # header + 12 neurons + one "⋮" row; each row: neuron, 10 weights and "…", bias
    assert len(rows) == 1 + notebook.MAX_ROWS + 1
    assert all(row.count("<td>") in (0, 13) for row in rows)
    assert "<td>⋮</td>" in html and "<td>…</td>" in html
    # weights 1-5 and 60-64 of each row
    assert "w<sub>j5</sub>" in html and "w<sub>j6</sub>" not in html
    assert "w<sub>j,60</sub>" in html and "w<sub>j,59</sub>" not in html


def test_displaying_changes_nothing():
    net = mazur()
    net.forward_pass(MAZUR_SAMPLE[0])
    net.back_prop(MAZUR_SAMPLE[1])
    before = (net.to_arrays(), net.gradient_arrays(), net.samples_in_batch)
    net._repr_html_()
    after = (net.to_arrays(), net.gradient_arrays(), net.samples_in_batch)
    assert all((a == b).all() for x, y in zip(before[:2], after[:2])
               for pair_x, pair_y in zip(x, y) for a, b in zip(pair_x, pair_y))
    assert before[2] == after[2] == 1


def test_tracer_html_shows_mazurs_step():
    net = mazur()
    tracer = Tracer().attach(net)
    net.step(*MAZUR_SAMPLE, 0.5)
    html = tracer._repr_html_()
    assert html == notebook.tracer_html(tracer)
    assert "Tracer: 1 step recorded, 1 kept." in html
    assert "<h3>Forward pass</h3>" in html and "0.138498562" in html   # δ of output 1
    assert "0.35891648" in html                                          # Mazur's new w5


def test_tracer_html_shows_the_first_steps_and_leaves_the_batch_alone():
    net = xor()
    tracer = Tracer().attach(net)
    net.train(XOR_SAMPLES, epochs=1, learning_rate=0.5, batch_size=3, shuffle=False)
    # 4 samples in batches of 3: the last sample's batch was updated at the end of the epoch
    assert len(tracer.steps) == 4
    html = notebook.tracer_html(tracer, max_steps=2)
    assert html.count("Step ") == 2 and "Showing the first 2" in html
    net.forward_pass([0, 1])
    net.back_prop([1])             # a batch of one, not yet updated
    count, kept = tracer.count, len(tracer.steps)
    html = tracer._repr_html_()
    assert "unfinished batch" in html
    assert (tracer.count, len(tracer.steps)) == (count, kept)   # no flush happened


def test_ipython_picks_up_the_html():
    formatters = pytest.importorskip("IPython.core.formatters", reason="needs IPython")
    data, _ = formatters.DisplayFormatter().format(mazur())
    assert data["text/plain"] == "Network(2-2-2; sigmoid, sigmoid; loss half_sse)"
    assert data["text/html"].startswith('<div class="neuronsim">')
    svg_data, _ = formatters.DisplayFormatter().format(mazur().draw())
    assert svg_data["image/svg+xml"].startswith("<svg")


def test_an_elman_layer_shows_its_recurrent_weights():
    net = Network.load(example_path("rnn-parity"))
    html = notebook.network_html(net, digits=17)
    layer = net.layers[0]
    assert html.count("<table>") == 3   # W and b, U, then the dense layer
    assert "recurrent weights u<sub>ji</sub>" in html
    assert "u<sub>j1</sub><sup>(2)</sup>" in html
    body = cells(html)
    for neuron in layer.neurons:
        for value in neuron.weights + neuron.recurrent_weights + [neuron.bias]:
            assert format_number(value, 17, "html") in body


def gated_network(kind):
    gates = {"lstm": ("input", "forget", "cell", "output"), "gru": ("reset", "update", "new")}
    value = iter(range(1, 1000))
    layer = {"type": kind, "gates": {
        name: {"weights": [[next(value) / 8 for _ in range(2)] for _ in range(3)],
               "recurrent_weights": [[next(value) / 8 for _ in range(3)] for _ in range(3)],
               "bias_ih": [next(value) / 8 for _ in range(3)],
               "bias_hh": [next(value) / 8 for _ in range(3)]} for name in gates[kind]}}
    return Network.from_spec({"inputs": 2, "loss": "half_sse", "layers": [
        layer, {"weights": [[0.5, -0.5, 0.25]], "biases": [0.125], "activation": "linear"}]})


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_gated_layer_shows_one_table_per_gate_in_torch_order(kind):
    net = gated_network(kind)
    html = notebook.network_html(net, digits=17)
    layer = net.layers[0]
    assert html.count("<table>") == len(layer.GATES) + 1
    captions = re.findall(r"<caption>(.*?)</caption>", html)
    assert [c.split(", ")[1].split(" gate")[0] for c in captions[:-1]] == list(layer.GATES)
    assert "w<sub>f,j1</sub><sup>(2)</sup>" in html or kind == "gru"
    assert "b<sub>hn,j</sub><sup>(2)</sup>" in html or kind == "lstm"
    # each gate's row j: j, w_{q,j1}, w_{q,j2}, u_{q,j1..j3}, b_x, b_h
    tables = html.split("<table>")[1:-1]
    for gate, table in zip(layer.GATES, tables):
        rows = [cells(row) for row in re.findall(r"<tr>(.*?)</tr>", table) if "<td>" in row]
        for j, row in enumerate(rows):
            n = layer.gates[gate][j]
            expected = [str(j + 1)] + [format_number(v, 17, "html") for v in
                                       n.weights + n.recurrent_weights + [n.bias_ih, n.bias_hh]]
            assert row == expected
