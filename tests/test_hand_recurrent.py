"""The hand-derivation tools on networks with recurrent layers: explain through time,
worksheets per time step and their marking, and the early-update mistake.

Every number explain shows is the network's own: the value it adds up from the shown
terms equals net.gradient_arrays() (and net.history for a δ) exactly, in every number
mode, for stacks of dense and recurrent layers in any order, full and truncated BPTT.
"""

import random
from fractions import Fraction

import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.core.errors import NeuronsimError
from neuronsim.files import load_example
from neuronsim.hand.cells import Cell, parse_cell
from neuronsim.hand.explain import explain, render_explanation
from neuronsim.hand.explain_time import MAX_DELTA_LINES, backward_line
from neuronsim.hand.label_parse import Target
from neuronsim.hand.mistakes import (
    SequenceComparison,
    compare_early_update,
    render_comparison,
)
from neuronsim.hand.worksheet import (
    check_answers,
    make_step,
    plain_number,
    read_answers,
    render_check,
    render_worksheet,
)
from neuronsim.hand.worksheet_time import MAX_CELLS, SequenceStep

T = 4

# (layer kinds bottom first, (activation, width) per layer, loss, initial state, targets)
STACKS = {
    "rnn-dense": (["recurrent", "dense"], [("tanh", 3), ("sigmoid", 1)],
                  "binary_cross_entropy", None, "every"),
    "dense-rnn-dense": (["dense", "recurrent", "dense"], [("tanh", 2), ("tanh", 3), ("linear", 2)],
                        "half_sse", None, "some"),
    "rnn-rnn-softmax": (["recurrent", "recurrent", "dense"],
                        [("tanh", 2), ("sigmoid", 2), ("softmax", 3)], "cross_entropy", "learned",
                        "some"),
    "learned-h0-on-top": (["dense", "recurrent"], [("relu", 3), ("sigmoid", 2)], "mse", "learned",
                          "last"),
    "rnn-dense-rnn": (["recurrent", "dense", "recurrent", "dense"],
                      [("tanh", 2), ("tanh", 2), ("tanh", 2), ("linear", 1)], "half_sse",
                      "learned", "every"),
    "exact-linear": (["dense", "recurrent", "dense"],
                     [("relu", 2), ("linear", 2), ("linear", 1)], "half_sse", "learned", "some"),
}


def stack(name, seed=0, truncation=None, step_loss="sum", numbers="float"):
    """A network file dict for STACKS[name] with one sample of T steps, built."""
    kinds, widths, loss, h0, which = STACKS[name]
    rng = random.Random(seed)

    def uniform(*shape):
        if len(shape) == 1:
            return [round(rng.uniform(-1, 1), 3) for _ in range(shape[0])]
        return [uniform(shape[1]) for _ in range(shape[0])]

    layers, n_prev = [], 2
    for kind, (activation, n) in zip(kinds, widths):
        entry = {"type": kind, "activation": activation, "weights": uniform(n, n_prev),
                 "biases": uniform(n)}
        if kind == "recurrent":
            entry["recurrent_weights"] = uniform(n, n)
            if h0 is not None:
                entry["initial_state"] = [v / 2 for v in uniform(n)]
                entry["learn_initial_state"] = h0 == "learned"
        layers.append(entry)
        n_prev = n
    n_out = widths[-1][1]
    xs = [uniform(2) for _ in range(T)]
    if loss == "cross_entropy":
        targets = [[1 if i == t % n_out else 0 for i in range(n_out)] for t in range(T)]
    else:
        targets = [[round(rng.uniform(0.1, 0.9), 3) for _ in range(n_out)] for _ in range(T)]
    if which == "some":
        targets[1] = None
    if which == "last":
        targets = targets[-1]
    spec = {"inputs": 2, "layers": layers, "loss": loss, "truncation": truncation,
            "step_loss": step_loss, "learning_rate": 0.5,
            "samples": [{"input": xs, "target": targets}]}
    return Network.from_spec(spec, numbers=numbers)


def parameter_labels(net):
    """(label, gradient_arrays index) of every parameter and learned initial state."""
    labels = []
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            labels += [(f"w_{j + 1},{k + 1}^({l + 2})", (l, 0, j, k))
                       for k in range(len(neuron.weights))]
            if layer.is_recurrent:
                labels += [(f"u_{j + 1},{i + 1}^({l + 2})", (l, 1, j, i))
                           for i in range(layer.size)]
            labels.append((f"b_{j + 1}^({l + 2})", (l, 2 if layer.is_recurrent else 1, j)))
            if layer.is_recurrent and layer.learn_initial_state:
                labels.append((f"a_{j + 1}^({l + 2})[0]", (l, 3, j)))
    return labels


def trained_copy(net):
    """net's own numbers: forward and back_prop of its first sample."""
    sample = net.samples[0]
    net.forward_pass(sample["input"])
    net.back_prop(sample["target"])
    return net


# ---------------------------------------------------------------- explain
@pytest.mark.parametrize("truncation", [None, 1, 2, T])
@pytest.mark.parametrize("name", list(STACKS))
def test_every_explained_gradient_is_the_networks_own_exactly(name, truncation):
    net = stack(name, truncation=truncation)
    grads = trained_copy(stack(name, truncation=truncation)).gradient_arrays()
    for label, index in parameter_labels(net):
        e = explain(net, label)
        layer, position, *entry = index
        expected = grads[layer][position][tuple(entry)]
        assert e.value == e.simulator_value == expected, (label, e.value, expected)
        assert e.simulator_where.startswith(f"net.layers[{layer}]")


@pytest.mark.parametrize("truncation", [None, 2])
@pytest.mark.parametrize("name", list(STACKS))
def test_every_explained_delta_is_the_networks_own_exactly(name, truncation):
    net = stack(name, truncation=truncation)
    own = trained_copy(stack(name, truncation=truncation))
    for t in range(1, T + 1):
        for l, layer in enumerate(net.layers):
            for j in range(layer.size):
                delta = own.history[t - 1][l][j].delta
                label = f"δ_{j + 1}^({l + 2})[{t}]"
                if delta is None:       # no gradient reaches it: nothing to explain
                    continue
                e = explain(net, label)
                assert e.value == e.simulator_value == delta, label


@pytest.mark.parametrize("name", list(STACKS))
def test_each_backward_line_recomputes_the_stored_delta_and_its_paths(name):
    """δ = (e + r)·g'(z) from the shown numbers equals the stored δ, and e and r equal
    the stored output and recurrent paths, bit for bit."""
    net = trained_copy(stack(name))
    for t in range(1, T + 1):
        for l, layer in enumerate(net.layers):
            for j in range(layer.size):
                record = net.history[t - 1][l][j]
                line = backward_line(net, l, j, t)
                if record.delta is None:
                    assert line is None
                    continue
                assert line.delta == record.delta
                if layer.is_recurrent:
                    assert line.r == record.recurrent_path
                    if line.paired is None:
                        assert line.e == record.output_path


def test_rnn_u12_by_hand():
    """The bundled rnn: dE/du_12^(2) = Σ_t δ_1[t] a_2[t-1], term by term from the history."""
    net = load_example("rnn")
    e = explain(net, "u_12^(2)")
    own = trained_copy(load_example("rnn"))
    deltas = own.history_of(0, 0, "delta")
    states = own.states_of(0)
    assert [(t, d, a) for t, d, a, _ in e.terms] == [
        (t, deltas[t - 1], states[t - 1][1]) for t in range(T, 0, -1)]
    expected = 0
    for t in range(T, 0, -1):
        expected = expected + states[t - 1][1] * deltas[t - 1]
    assert e.value == expected == own.gradient_arrays()[0][1][0, 1]
    text = render_explanation(e)
    assert "∂E/∂u₁₂⁽²⁾ = Σ_t δ₁⁽²⁾[t] · a₂⁽²⁾[t−1]" in text
    assert "= δ₁⁽²⁾[4] · a₂⁽²⁾[3] + δ₁⁽²⁾[3] · a₂⁽²⁾[2] + δ₁⁽²⁾[2] · a₂⁽²⁾[1] + δ₁⁽²⁾[1] · a₂⁽²⁾[0]" \
        in text
    assert "r₁⁽²⁾[4] = 0   (t = T: no later step)" in text
    assert "r₁⁽²⁾[3] = u₁₁⁽²⁾ · δ₁⁽²⁾[4] + u₂₁⁽²⁾ · δ₂⁽²⁾[4] + u₃₁⁽²⁾ · δ₃⁽²⁾[4] + u₄₁⁽²⁾ · δ₄⁽²⁾[4]" \
        in text
    assert "exactly equal to the value above" in text


def test_initial_state_and_truncation_notes():
    net = stack("rnn-rnn-softmax", truncation=2)
    e = explain(net, "a_2^(3)[0]")
    text = render_explanation(e)
    assert "The initial state is learned" in text
    assert "dE/da_i[0] = Σ_j u_ji δ_j[1] (truncated BPTT" in text
    assert "Truncated BPTT with k = 2" in text
    assert "the parts from E_(t+2), …, E_T are the terms truncation drops" in text
    assert "(parts from E_1, E_2; dropped: E_3, E_4)" in text
    assert "δ[t] = δ⁽⁰⁾[t] + … + δ⁽¹⁾[t]" in text
    dense_top = render_explanation(explain(stack("rnn-dense", truncation=2), "b_1^(3)"))
    assert "δ₁⁽³⁾[2] = δ₁⁽³⁾⁽⁰⁾[2] = " in dense_top and "(from E_2 only)" in dense_top
    fixed = stack("dense-rnn-dense")
    assert "fixed (not learned" in render_explanation(explain(fixed, "a_1^(3)[0]"))


def test_steps_without_a_target_are_zero_terms():
    net = stack("dense-rnn-dense")       # no target at t = 2
    e = explain(net, "w_11^(4)")
    assert [t for t, delta, _, _ in e.terms if delta is None] == [2]
    text = render_explanation(e)
    assert "No gradient reaches this neuron at step 2" in text
    assert "t = 2:\n\n  (no gradient reaches these layers at this step)" in text
    text = render_explanation(explain(net, "u_11^(3)"))
    assert "e₁⁽³⁾[2] = 0   (no gradient reaches the layer above at this step)" in text


def test_fraction_mode_is_exact():
    spec_net = stack("exact-linear", numbers="fraction")
    for label, index in parameter_labels(spec_net):
        e = explain(spec_net, label)
        assert isinstance(e.value, Fraction) and e.value == e.simulator_value, label
    assert "exactly equal" in render_explanation(explain(spec_net, "u_21^(3)"))
    assert isinstance(explain(spec_net, "δ_1^(2)[1]").value, Fraction)


def test_precise_mode_and_every_format():
    net = stack("rnn-dense", numbers="precise:30")
    e = explain(net, "w_11^(2)")
    assert e.value == e.simulator_value
    for fmt in ("plain", "markdown", "latex"):
        text = render_explanation(e, fmt, digits=6)
        assert "exactly equal to the value above" in text
    latex = render_explanation(explain(stack("rnn-dense", truncation=2), "u_11^(2)"), "latex")
    assert "\\begin{align*}" in latex and "δ" not in latex.split("Explain")[1].split("\n")[0]


def test_explain_does_not_touch_the_network():
    net = stack("rnn-dense-rnn")
    before = net.to_spec()
    explain(net, "u_12^(4)")
    assert net.to_spec() == before and net.history is None


@pytest.mark.parametrize("label, message", [
    ("z_1^(2)[1]", "explain takes a weight, a recurrent weight, a bias, a delta at a step"),
    ("δ_1^(2)", "this network reads sequences: give the time step"),
    ("δ_1^(2)[9]", "the sequence has time steps t = 1 to 4"),
    ("u_11^(3)", "textbook layer 3 is a dense layer; recurrent weights u belong to recurrent "
                 "layers (layer 2 here)"),
])
def test_labels_that_name_nothing(label, message):
    with pytest.raises(NeuronsimError, match=message.replace("(", r"\(").replace(")", r"\)")):
        explain(load_example("rnn"), label)


def test_the_work_is_bounded():
    long = load_example("rnn")
    xs = [[i % 2] for i in range(MAX_DELTA_LINES)]
    with pytest.raises(NeuronsimError, match=r"needs 2000 deltas \(T = 400 steps × the neurons "
                                             r"of layers 2 to 3\), more than 400: use a shorter "
                                             "sequence"):
        explain(long, "u_11^(2)", xs, [[0]] * len(xs))


def test_cli_explain_on_recurrent_networks(capsys):
    assert main(["explain", "rnn", "u_12^(2)"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Explain ∂E/∂u₁₂⁽²⁾\n")
    assert main(["explain", "rnn", "δ_1^(2)[2]", "--digits", "4"]) == 0
    out = capsys.readouterr().out
    assert "t = 2:" in out and "t = 1:" not in out
    assert main(["explain", "rnn", "u_11^(3)"]) == 2
    assert capsys.readouterr().err == (
        "neuronsim: error: 'u_11^(3)': textbook layer 3 is a dense layer; recurrent weights u "
        "belong to recurrent layers (layer 2 here)\n")
    assert main(["explain", "rnn", "w_11^(2)", "--input", "1", "0", "--target", "1"]) == 0
    out = capsys.readouterr().out
    assert "x[1] = (1), x[2] = (0); targets t[1] = (—)" not in out
    assert "Sequence of T = 2 steps: x[1] = (1), x[2] = (0); targets t[1] = —, t[2] = (1)" in out


# ---------------------------------------------------------------- worksheet and check


def close(a, b):
    return abs(a - b) <= 1e-12 * max(abs(b), 1e-300) or abs(a - b) < 1e-15


@pytest.mark.parametrize("name", list(STACKS))
def test_cell_formulas_reproduce_the_simulator(name):
    """Each cell's formula, from the true values of the cells before it, gives its value."""
    step = make_step(stack(name))
    assert isinstance(step, SequenceStep)
    for cell in step.cells:
        value, recomputed = step.true_values[cell], step.compute(cell, step.true_values)
        assert close(recomputed, value), (cell.label(), recomputed, value)


def test_fraction_worksheet_is_exact_cell_by_cell():
    step = make_step(stack("exact-linear", numbers="fraction"))
    for cell in step.cells:
        assert step.compute(cell, step.true_values) == step.true_values[cell], cell.label()
    assert all(isinstance(v, (Fraction, int)) for v in step.true_values.values())


def test_cells_per_time_step_in_computation_order():
    net = stack("dense-rnn-dense")           # T = 4, no target at t = 2
    step = make_step(net)
    labels = [c.label() for c in step.cells]
    assert labels[:4] == ["z_1^(2)[1]", "a_1^(2)[1]", "z_2^(2)[1]", "a_2^(2)[1]"]
    assert labels.index("z_1^(2)[2]") == 14      # 7 neurons × (z, a) per step
    losses = [x for x in labels if x.startswith("E")]
    assert losses == ["E[1]", "E[3]", "E[4]", "E"]
    deltas = [x for x in labels if x.startswith("delta")]
    assert deltas[:2] == ["delta_1^(4)[4]", "delta_2^(4)[4]"]
    assert "delta_1^(4)[2]" not in deltas           # no target at t = 2: nothing reaches it
    assert "delta_1^(3)[2]" in deltas and deltas[-1] == "delta_2^(2)[1]"
    assert "dE/du_12^(3)" in labels and labels[-1] == "new b_2^(4)"
    assert not any(x.startswith(("dE/da", "new a")) for x in labels)   # a[0] fixed here
    learned = [c.label() for c in make_step(stack("rnn-rnn-softmax")).cells]
    assert "dE/da_1^(2)[0]" in learned and "new a_2^(3)[0]" in learned


@pytest.mark.parametrize("text, cell", [
    ("E[3]", Cell("E", None, 3)), ("E_3", Cell("E", None, 3)),
    ("δ₁⁽²⁾[3]", Cell("delta", Target("delta", 0, 0, None, 3))),
    ("dE/dz_1^(2)[3]", Cell("delta", Target("delta", 0, 0, None, 3))),
    ("dE/du_12^(2)", Cell("dE/du", Target("u", 0, 0, 1))),
    ("new U2[0,1]", Cell("new u", Target("u", 0, 0, 1))),
    ("dE/da_1^(2)[0]", Cell("dE/da[0]", Target("a", 0, 0, None, 0))),
    ("new a₁⁽²⁾[0]", Cell("new a[0]", Target("a", 0, 0, None, 0))),
])
def test_recurrent_cells_read_back(text, cell):
    assert parse_cell(text) == cell


def student(step, changed):
    own = {}
    for cell in step.cells:
        own[cell] = changed[cell] if cell in changed else step.compute(cell, own)
    return {cell: plain_number(value) for cell, value in own.items()}


def test_check_finds_the_first_wrong_cell_and_the_carried_errors():
    net = stack("exact-linear", numbers="fraction")
    step = make_step(net)
    wrong = Cell("delta", Target("delta", 1, 0, None, 3))       # δ_1^(3)[3]
    answers = student(step, {wrong: step.true_values[wrong] * 2})
    result = check_answers(net, answers)
    assert result.tolerance == 0
    assert result.origin.cell == wrong
    statuses = {r.cell: r.status for r in result.rows}
    assert statuses[Cell("delta", Target("delta", 1, 0, None, 2))] == "carried"   # via r[2]
    assert statuses[Cell("dE/du", Target("u", 1, 0, 1))] == "carried"
    assert statuses[Cell("delta", Target("delta", 1, 0, None, 4))] == "right"     # before it
    assert result.count("wrong") == 0
    text = render_check(result)
    assert "The first wrong cell in computation order is δ₁⁽³⁾[3]" in text


@pytest.mark.parametrize("numbers", ["float", "precise:40"])
def test_answer_keys_read_back_right_in_every_number_mode(numbers):
    net = stack("rnn-dense-rnn", numbers=numbers)
    key = render_worksheet(net, "csv", filled=True)
    result = check_answers(net, read_answers(key, "nielsen", net), tolerance=0)
    assert result.all_right and len(result.rows) == len(make_step(net).cells)
    blank = render_worksheet(net, "csv")
    marked = check_answers(net, read_answers(blank, "nielsen", net))
    assert marked.count("blank") == len(marked.rows) and not marked.all_right


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_worksheet_tables(fmt):
    text = render_worksheet(stack("rnn-rnn-softmax"), fmt, filled=True)
    assert ("u_{12}^{(2)}" if fmt == "latex" else "u_12^(2)") in text
    assert ("E[3]" in text) and ("net.history[0][0][0].z" in text.replace(r"\_", "_"))


def test_worksheet_refusals():
    with pytest.raises(NeuronsimError, match=r"^worksheet: truncated BPTT \(truncation k = 2 < "
                                             r"T = 4 steps\) splits every δ\[t\]"):
        make_step(stack("rnn-dense", truncation=2))
    assert make_step(stack("rnn-dense", truncation=T)).cells     # k >= T is full BPTT
    long = load_example("rnn")
    xs = [[i % 2] for i in range(200)]
    with pytest.raises(NeuronsimError, match=r"^worksheet: one step of this sequence has \d+ "
                                             r"cells \(T = 200 steps × 5 neurons, and the "
                                             rf"parameters\), more than {MAX_CELLS}: use a "
                                             r"shorter sequence"):
        make_step(long, xs, [[0]] * 200)


def test_cli_worksheet_and_check_with_a_sequence(tmp_path, capsys):
    key = tmp_path / "key.csv"
    assert main(["worksheet", "rnn", "--input", "1", "0", "--target", "1", "--answers",
                 "-o", str(key)]) == 0
    capsys.readouterr()
    rows = key.read_text().splitlines()
    assert "loss,E[2],binary_cross_entropy of a[t] and t[t],net.step_losses[1]," in \
        "\n".join(rows)
    assert not any(r.startswith("loss,E[1]") for r in rows)
    assert main(["check", "rnn", str(key), "--input", "1", "0", "--target", "1"]) == 0
    capsys.readouterr()
    changed = "\n".join(r if not r.startswith("backward,delta_1^(3)[2]") else
                        r.rsplit(",", 1)[0] + ",0.5" for r in key.read_text().splitlines())
    bad = tmp_path / "bad.csv"
    bad.write_text(changed + "\n")
    assert main(["check", "rnn", str(bad), "--input", "1", "0", "--target", "1"]) == 1
    out = capsys.readouterr().out
    assert "The first wrong cell in computation order is δ₁⁽³⁾[2]" in out
    longer = tmp_path / "longer.csv"
    assert main(["worksheet", "rnn", "--input", "1", "0", "1", "1", "0", "--target", "1",
                 "-o", str(longer)]) == 0
    capsys.readouterr()
    assert main(["check", "rnn", str(longer)]) == 2      # the file's sample has T = 4
    assert capsys.readouterr().err.startswith(
        "neuronsim: error: answers line 82: 'z_1^(2)[5]' is not a cell of this network (wrong "
        "--convention, or a sheet of another sequence (give its --input and --target)?); so do "
        "15 more rows")


# ---------------------------------------------------------------- the early-update mistake


def test_early_update_through_time_by_hand():
    """At t = T the output δ agrees; δ^(2)[T] goes through W^(3) already updated with
    a^(2)[T]·δ^(3)[T]; δ^(2)[T-1] also through U^(2) updated with a^(2)[T-1]·δ^(2)[T]."""
    net = load_example("rnn")
    c = compare_early_update(net)
    assert isinstance(c, SequenceComparison)
    true = trained_copy(load_example("rnn"))
    eta = net.learning_rate
    out_delta = true.history[T - 1][1][0].delta
    w_new = [w - eta * (a * out_delta) for w, a in
             zip(net.layers[1].neurons[0].weights, true.history[T - 1][1][0].inputs)]
    early = {(t, l, j): bad for t, l, j, _, bad in c.deltas}
    for j in range(4):
        g = true.history[T - 1][0][j].derivative
        assert early[(T, 0, j)] == (w_new[j] * out_delta + 0) * g
    assert early[(T, 1, 0)] == out_delta
    assert c.first_difference()[:3] == (T, 0, 0)
    assert all(good == bad for t, l, j, good, bad in c.deltas if l == 1)   # forward unchanged


def test_one_time_step_is_the_feed_forward_mistake_exactly():
    """T = 1, a[0] = 0: the recurrent path is 0 and the mistake is the feed-forward one."""
    W1, U1, b1 = [[0.3, -0.6], [0.8, 0.2]], [[0.5, -0.4], [0.1, 0.9]], [0.1, -0.2]
    W2, b2 = [[0.7, -0.5]], [0.05]
    rnn = Network.from_spec({"inputs": 2, "layers": [
        {"type": "recurrent", "activation": "tanh", "weights": W1, "recurrent_weights": U1,
         "biases": b1},
        {"activation": "sigmoid", "weights": W2, "biases": b2}],
        "loss": "half_sse", "learning_rate": 0.5})
    ff = Network.from_arrays([W1, W2], [b1, b2], ["tanh", "sigmoid"], "half_sse",
                             learning_rate=0.5)
    x, t = [0.4, -0.9], [0.25]
    seq = compare_early_update(rnn, [x], [t])
    flat = compare_early_update(ff, x, t)
    assert [bad for *_, bad in seq.deltas] == [r.delta_early for r in
                                               sorted(flat.rows, key=lambda r: -r.layer)]
    new_w = [bad for kind, *_, bad in seq.parameters if kind == "w"]
    assert new_w == [w for r in flat.rows for w in r.weights_early]
    new_u = [bad for kind, *_, good, bad in seq.parameters if kind == "u"]
    assert new_u == [u for row in U1 for u in row]      # a[0] = 0: dE/du = 0


@pytest.mark.parametrize("name", list(STACKS))
def test_every_stack_and_format(name):
    net = stack(name, truncation=2)
    c = compare_early_update(net)
    assert len(c.deltas) == sum(1 for cell in make_step(stack(name)).cells
                                if cell.quantity == "delta")
    for fmt in ("plain", "markdown", "latex"):
        text = render_comparison(c, fmt, 6)
        assert "both steps here use full BPTT" in text
    # the true step is the network's own full-BPTT step
    own = stack(name)
    own.step(own.samples[0]["input"], own.samples[0]["target"])
    assert [good for kind, *_, good, bad in c.parameters if kind == "w"] == [
        w for layer in own.layers for n in layer.neurons for w in n.weights]


def test_early_update_stays_exact_in_fraction_numbers():
    c = compare_early_update(stack("exact-linear", numbers="fraction"))
    values = [v for row in c.deltas for v in row[3:]] + [v for row in c.parameters
                                                         for v in row[4:]]
    assert all(isinstance(v, (Fraction, int)) for v in values)
    assert c.first_difference() is not None


def test_latex_through_time_is_ascii_and_compiles(tmp_path):
    import shutil
    import subprocess

    documents = [render_explanation(explain(stack(name, truncation=k), label), "latex", 6)
                 for name, k, label in [("rnn-dense", None, "u_12^(2)"),
                                        ("rnn-dense", 2, "u_12^(2)"),
                                        ("rnn-rnn-softmax", 2, "a_1^(2)[0]"),
                                        ("dense-rnn-dense", None, "w_11^(2)"),
                                        ("learned-h0-on-top", None, "δ_1^(3)[2]")]]
    net = stack("rnn-rnn-softmax")
    marked = check_answers(net, read_answers(render_worksheet(net, "csv"), "nielsen", net))
    documents += [render_worksheet(net, "latex", filled=True), render_check(marked, "latex"),
                  render_comparison(compare_early_update(net), "latex")]
    body = "\n".join(documents)
    body.encode("ascii")          # every symbol is a LaTeX macro
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    (tmp_path / "explain.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body
        + "\n\\end{document}\n", encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "explain.tex"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors


def test_early_update_through_time_is_bounded():
    long = load_example("rnn")
    xs = [[i % 2] for i in range(601)]
    with pytest.raises(NeuronsimError, match=r"^early-update: 3005 deltas to compare \(T = 601 "
                                             r"steps × 5 neurons\), more than 3000"):
        compare_early_update(long, xs, [[0]] * 601)


def test_recurrent_weights_read_the_same_in_both_conventions():
    net = load_example("rnn")
    nielsen, ng = explain(net, "u_12^(2)"), explain(net, "U2[0,1]", convention="ng")
    assert ng.target == nielsen.target and ng.value == nielsen.value
    assert explain(net, "w_11^(2)", convention="ng").target.layer == 1     # W feeds layer 3
    assert "Weight convention ng" in render_explanation(ng)
