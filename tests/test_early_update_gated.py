"""The early-update mistake through time on LSTM and GRU layers (neuronsim.hand.mistakes).

The mistake: BPTT walks t = T..1 and updates every layer as soon as its δ[t]
exists; a gated layer is updated all at once (every gate's w, u, b^x, b^h), so
the layer below gets dE/dh[t] through the changed gate weights W and step t-1
gets dE/dh[t-1] through the changed U.  The early side is checked against the
same walk written here directly in numpy (torch's LSTM and GRU equations), to
1e-12; the true side is the network's own ``step`` bit for bit.
"""

import json
import shutil
import subprocess

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.cli import main
from neuronsim.core.labels import (
    gate_bias_label,
    gate_recurrent_label,
    gate_weight_label,
)
from neuronsim.hand.mistakes import (
    SequenceComparison,
    compare_early_update,
    early_update_through_time,
    render_comparison,
)

TOLERANCE = 1e-12


def dense(size, activation, seed):
    return {"activation": activation, "size": size, "init": "uniform", "seed": seed}


def gated(kind, size, seed, **extra):
    return {"type": kind, "size": size, "init": "uniform", "seed": seed, **extra}


#: name -> (layers, input sequence, targets): every gated kind, below, above and on top
NETWORKS = {
    "dense-lstm-dense": (
        [dense(3, "tanh", 1), gated("lstm", 2, 2, learn_initial_state=True,
                                    initial_state=[0.1, -0.2], initial_cell=[0.3, 0.05]),
         dense(1, "linear", 3)],
        [[1, 0], [0, 1], [1, 1]], [[1], None, [0]]),
    "dense-gru-dense": (
        [dense(3, "tanh", 4), gated("gru", 2, 5, learn_initial_state=True,
                                    initial_state=[0.2, -0.1]),
         dense(2, "sigmoid", 6)],
        [[1, 0], [0.5, -1], [1, 1], [0, 1]], [[1, 0], [0, 1], None, [1, 1]]),
    "lstm-gru-dense": (
        [gated("lstm", 2, 7), gated("gru", 3, 8), dense(1, "linear", 9)],
        [[1, 0], [0, 1], [-1, 1]], [[0.5], [0], [1]]),
    "dense-lstm-on-top": (       # many-to-one, the LSTM's h is the output
        [dense(2, "tanh", 10), gated("lstm", 2, 11)],
        [[1, -1], [0, 1], [1, 1]], [0.3, -0.2]),
    "gru-on-top": (
        [gated("gru", 2, 12, learn_initial_state=True, initial_state=[0.4, 0.1])],
        [[1, 0], [0, 1], [1, 1]], [[0.1, 0.2], None, [-0.3, 0.5]]),
}


def network(name):
    layers, _, _ = NETWORKS[name]
    return Network.from_spec({"inputs": 2, "loss": "half_sse", "learning_rate": 0.7,
                              "layers": layers})


def sample(name):
    _, xs, targets = NETWORKS[name]
    return xs, targets


# ---------------------------------------------------------------- the numpy walk
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACTIVATIONS = {"tanh": (np.tanh, lambda a: 1 - a * a),
               "sigmoid": (sigmoid, lambda a: a * (1 - a)),
               "linear": (lambda z: z, lambda a: np.ones_like(a))}


def numpy_layers(net):
    """Each layer's parameters as numpy arrays (torch's layout for a gated layer)."""
    layers = []
    for layer in net.layers:
        kind = getattr(layer, "kind", "dense")
        if kind in ("lstm", "gru"):
            w_ih, w_hh, b_ih, b_hh = (np.array(p, dtype=float) for p in layer.parameters()[:4])
            p = {"kind": kind, "W": w_ih, "U": w_hh, "bx": b_ih, "bh": b_hh,
                 "learn": layer.learn_initial_state,
                 "h0": np.array(layer.initial_value("initial_state"), dtype=float)}
            if kind == "lstm":
                p["c0"] = np.array(layer.initial_value("initial_cell"), dtype=float)
            layers.append(p)
        else:
            layers.append({"kind": "dense", "activation": layer.activation.name,
                           "W": np.array([n.weights for n in layer.neurons], dtype=float),
                           "b": np.array([n.bias for n in layer.neurons], dtype=float)})
    return layers


def lstm_forward(p, x, h, c):
    """torch.nn.LSTM at one step: z = W x + b_ih + U h + b_hh, gates i, f, g, o."""
    n = len(h)
    z = p["W"] @ x + p["bx"] + p["U"] @ h + p["bh"]
    i, f, g, o = sigmoid(z[:n]), sigmoid(z[n:2 * n]), np.tanh(z[2 * n:3 * n]), sigmoid(z[3 * n:])
    c_new = f * c + i * g
    return {"x": x, "h_prev": h, "c_prev": c, "i": i, "f": f, "g": g, "o": o, "c": c_new,
            "h": o * np.tanh(c_new)}


def gru_forward(p, x, h):
    """torch.nn.GRU at one step: r, z, then n = tanh(W_n x + b_in + r ⊙ (U_n h + b_hn))."""
    n = len(h)
    gx, gh = p["W"] @ x + p["bx"], p["U"] @ h + p["bh"]
    r = sigmoid(gx[:n] + gh[:n])
    z = sigmoid(gx[n:2 * n] + gh[n:2 * n])
    s = gh[2 * n:]
    new = np.tanh(gx[2 * n:] + r * s)
    return {"x": x, "h_prev": h, "r": r, "z": z, "n": new, "s": s, "h": (1 - z) * new + z * h}


def forward(layers, xs):
    """Every layer's cache at every step (the forward pass uses the original weights)."""
    states = {l: (p["h0"], p.get("c0")) for l, p in enumerate(layers) if p["kind"] != "dense"}
    caches = []
    for x in xs:
        a, step = np.array(x, dtype=float), []
        for l, p in enumerate(layers):
            if p["kind"] == "dense":
                g, _ = ACTIVATIONS[p["activation"]]
                cache = {"x": a, "a": g(p["W"] @ a + p["b"])}
                a = cache["a"]
            elif p["kind"] == "lstm":
                cache = lstm_forward(p, a, *states[l])
                states[l] = (cache["h"], cache["c"])
                a = cache["h"]
            else:
                cache = gru_forward(p, a, states[l][0])
                states[l] = (cache["h"], None)
                a = cache["h"]
            step.append(cache)
        caches.append(step)
    return caches


def lstm_backward(p, cache, e, carried, eta):
    """δ of i, f, g, o at one step; then THE MISTAKE: update W, U, b_ih, b_hh at once;
    return δ, dE/dx through the new W, and (dE/dh[t-1] through the new U, dE/dc[t-1])."""
    dh_next, dc_next = carried
    dh = e + dh_next
    o, c = cache["o"], cache["c"]
    delta_o = dh * np.tanh(c) * o * (1 - o)
    dc = dh * o * (1 - np.tanh(c) ** 2) + dc_next
    i, f, g = cache["i"], cache["f"], cache["g"]
    delta = np.concatenate([dc * g * i * (1 - i), dc * cache["c_prev"] * f * (1 - f),
                            dc * i * (1 - g * g), delta_o])
    p["W"] = p["W"] - eta * np.outer(delta, cache["x"])
    p["U"] = p["U"] - eta * np.outer(delta, cache["h_prev"])
    p["bx"] = p["bx"] - eta * delta
    p["bh"] = p["bh"] - eta * delta
    return delta, p["W"].T @ delta, (p["U"].T @ delta, dc * f)


def gru_backward(p, cache, e, carried, eta):
    """δ of r, z, n (the new gate's recurrent side sees r ⊙ δ_n); then THE MISTAKE."""
    dh = e + carried[0]
    r, z, new = cache["r"], cache["z"], cache["n"]
    delta_n = dh * (1 - z) * (1 - new * new)
    delta_z = dh * (cache["h_prev"] - new) * z * (1 - z)
    delta_r = delta_n * cache["s"] * r * (1 - r)
    delta = np.concatenate([delta_r, delta_z, delta_n])
    hidden = np.concatenate([delta_r, delta_z, r * delta_n])
    p["W"] = p["W"] - eta * np.outer(delta, cache["x"])
    p["U"] = p["U"] - eta * np.outer(hidden, cache["h_prev"])
    p["bx"] = p["bx"] - eta * delta
    p["bh"] = p["bh"] - eta * hidden
    return delta, p["W"].T @ delta, (z * dh + p["U"].T @ hidden,)


def numpy_early_update(net, xs, targets):
    """The early-update walk, t = T..1, every layer from the top: δ[t], then update
    the layer with this step's gradient, then send back through the changed weights.
    Returns ({(t, l, row): δ}, the layers' parameters after the step)."""
    layers = numpy_layers(net)
    eta = net.learning_rate
    caches = forward(layers, xs)
    steps = len(xs)
    if not isinstance(targets[0], list) and targets[0] is not None:
        targets = [None] * (steps - 1) + [targets]
    carried = {l: tuple(np.zeros(len(p["h0"])) for _ in range(2 if p["kind"] == "lstm" else 1))
               for l, p in enumerate(layers) if p["kind"] != "dense"}
    deltas = {}
    for t in range(steps, 0, -1):
        step = caches[t - 1]
        e = None
        if targets[t - 1] is not None:
            e = step[-1]["h" if layers[-1]["kind"] != "dense" else "a"] - np.array(targets[t - 1])
        for l in range(len(layers) - 1, -1, -1):
            p, cache = layers[l], step[l]
            if p["kind"] == "dense":
                if e is None:
                    continue
                _, derivative = ACTIVATIONS[p["activation"]]
                delta = e * derivative(cache["a"])
                p["W"] = p["W"] - eta * np.outer(delta, cache["x"])    # THE MISTAKE
                p["b"] = p["b"] - eta * delta
                e = p["W"].T @ delta
            else:
                backward = lstm_backward if p["kind"] == "lstm" else gru_backward
                e = np.zeros(len(p["h0"])) if e is None else e
                delta, e, carried[l] = backward(p, cache, e, carried[l], eta)
            for row, value in enumerate(delta):
                deltas[(t, l, row)] = value
    for l, p in enumerate(layers):
        if p["kind"] != "dense" and p["learn"]:
            p["h0"] = p["h0"] - eta * carried[l][0]
            if p["kind"] == "lstm":
                p["c0"] = p["c0"] - eta * carried[l][1]
    return deltas, layers


def close(ours, reference):
    ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    scale = max(1.0, float(np.max(np.abs(reference))))
    return float(np.max(np.abs(ours - reference))) <= TOLERANCE * scale


# ---------------------------------------------------------------- the early side
@pytest.mark.parametrize("name", list(NETWORKS))
def test_early_side_equals_the_numpy_walk(name):
    net = network(name)
    xs, targets = sample(name)
    c = compare_early_update(net, xs, targets)
    assert isinstance(c, SequenceComparison)
    reference, layers = numpy_early_update(net, xs, targets)
    early = {(t, l, j): bad for t, l, j, _, bad in c.deltas}
    assert set(early) == set(reference)
    for key, value in reference.items():
        assert close(early[key], value), (key, early[key], value)
    wrong = net.copy(batch=False, rule=False)
    early_update_through_time(wrong, xs, targets)
    for l, (layer, p) in enumerate(zip(wrong.layers, layers)):
        if p["kind"] == "dense":
            assert close([n.weights for n in layer.neurons], p["W"]), (l, "W")
            assert close([n.bias for n in layer.neurons], p["b"]), (l, "b")
            continue
        for ours, key in zip(layer.parameters(), ("W", "U", "bx", "bh")):
            assert close(ours, p[key]), (l, key)
        assert close(layer.initial_value("initial_state"), p["h0"]), (l, "h0")
        if p["kind"] == "lstm":
            assert close(layer.initial_value("initial_cell"), p["c0"]), (l, "c0")
    # the comparison's early parameters are those of the early network
    early_rows = [bad for *_, bad in c.parameters]
    assert early_rows == [v for layer in wrong.layers for v in _flat_parameters(layer)]


def _flat_parameters(layer):
    """In the comparison's order: per neuron w, (u), b (gate neurons: w, u, b^x, b^h),
    then a learned initial state."""
    values = []
    for n in layer.neurons:
        values += list(n.weights)
        if hasattr(n, "bias_ih"):
            values += list(n.recurrent_weights) + [n.bias_ih, n.bias_hh]
        else:
            values += [n.bias]
    if getattr(layer, "learn_initial_state", False):
        for name in layer.STATES:
            values += list(layer.initial_value(name))
    return values


def test_the_mistake_goes_through_the_changed_u():
    """Not the true walk with late updates: dE/dh[T-1] of a GRU on top reaches δ[T-1]
    through U already moved by δ[T], so δ[T-1] differs while δ[T] agrees."""
    c = compare_early_update(network("gru-on-top"), *sample("gru-on-top"))
    last = [row for row in c.deltas if row[0] == 3]
    assert all(good == bad for *_, good, bad in last)
    assert c.first_difference()[0] == 2


# ---------------------------------------------------------------- the true side
@pytest.mark.parametrize("name", list(NETWORKS))
def test_true_side_is_the_networks_own_step_bit_for_bit(name):
    net = network(name)
    xs, targets = sample(name)
    c = compare_early_update(net, xs, targets)
    own = net.copy(batch=False, rule=False)
    own.step(xs, targets)
    assert [good for *_, good, bad in c.parameters] == [
        v for layer in own.layers for v in _flat_parameters(layer)]
    fresh = net.copy(batch=False, rule=False)
    fresh.forward_pass(xs)
    fresh.back_prop(targets)
    true = {(t, l, j): good for t, l, j, good, _ in c.deltas}
    for t, step in enumerate(fresh.history, 1):
        for l, records in enumerate(step):
            layer = fresh.layers[l]
            if hasattr(layer, "GATES"):
                values = [r.gates[q].delta for q in layer.GATES for r in records]
            else:
                values = [r.delta for r in records]
            for j, value in enumerate(values):
                assert true.get((t, l, j)) == value


@pytest.mark.parametrize("name", list(NETWORKS))
def test_output_delta_at_the_last_step_is_the_same_on_both_sides(name):
    xs, targets = sample(name)
    c = compare_early_update(network(name), xs, targets)
    top = max(l for _, l, *_ in c.deltas)
    rows = [row for row in c.deltas if row[0] == len(xs) and row[1] == top]
    assert rows and all(good == bad for *_, good, bad in rows)
    reference, _ = numpy_early_update(network(name), xs, targets)
    assert all(close(good, reference[(t, l, j)]) for t, l, j, good, _ in rows)


# ---------------------------------------------------------------- rendering
def test_rows_name_each_gate_as_explain_reads_it():
    c = compare_early_update(network("dense-lstm-dense"), *sample("dense-lstm-dense"))
    text = render_comparison(c, "plain", 6)
    lines = text.splitlines()
    assert any(line.startswith("3    3        f,1       δ_f,1⁽³⁾[3]") for line in lines), text
    for label in (gate_weight_label(1, "forget", 0, 1), gate_recurrent_label(1, "input", 1, 0),
                  gate_bias_label(1, "output", 0, "ih"), gate_bias_label(1, "output", 0, "hh"),
                  "h₁⁽³⁾[0]", "c₂⁽³⁾[0]"):
        assert "new " + label in text, label
    assert "updated all at once, every gate's w, u and both biases together" in text
    first = c.first_difference()
    assert first[:3] == (3, 1, 0)     # the LSTM's input gate, through the output layer's new W
    assert "the first delta that differs is δ_i,1⁽³⁾[3]: BPTT computed it through the " \
           "weights of layer 4, already updated at step 3." in text
    below = {(t, l, j): (good, bad) for t, l, j, good, bad in c.deltas}
    assert below[(3, 0, 0)][0] != below[(3, 0, 0)][1]     # the dense layer: through the new gate W
    gru = render_comparison(compare_early_update(network("gru-on-top"), *sample("gru-on-top")))
    assert "the first delta that differs is δ_r,1⁽²⁾[2]: BPTT computed it through its " \
           "gates' recurrent weights U, already updated at step 3." in gru


def test_markdown_and_latex_render_and_latex_compiles(tmp_path):
    documents = []
    for name in NETWORKS:
        c = compare_early_update(network(name), *sample(name))
        markdown = render_comparison(c, "markdown", 6)
        assert "| t " in markdown and "δ_" in markdown
        documents.append(render_comparison(c, "latex", 6))
    body = "\n".join(documents)
    body.encode("ascii")          # every symbol is a LaTeX macro
    assert r"$\delta_{f,1}^{(3)}[3]$" in body and r"$new w_{f,12}^{(3)}$" in body
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    (tmp_path / "early.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body
        + "\n\\end{document}\n", encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "early.tex"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors


def test_cli_runs_on_a_gated_file(tmp_path, capsys):
    layers, xs, targets = NETWORKS["dense-lstm-dense"]
    path = tmp_path / "lstm.json"
    path.write_text(json.dumps({"inputs": 2, "loss": "half_sse", "learning_rate": 0.7,
                                "layers": layers,
                                "samples": [{"input": xs, "target": targets}]}))
    code = main(["early-update", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "δ_o,2⁽³⁾[3]" in captured.out and "new w_f,12⁽³⁾" in captured.out
    assert main(["early-update", str(path), "--format", "latex"]) == 0
    assert r"$\delta_{o,2}^{(3)}[3]$" in capsys.readouterr().out
