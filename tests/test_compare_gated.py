"""compare() on networks with LSTM and GRU layers: numpy, torch and a user's
function against the per-neuron reference, per gate, and the diagnosis of the
classic gated mistakes (tests/buggy_gated.py writes each one)."""

import numpy as np
import pytest
from buggy_gated import gru_user, lstm_user

from neuronsim import Network
from neuronsim.crosscheck.compare import compare
from neuronsim.crosscheck.compare_rnn import sequence_batch, stack_results
from neuronsim.crosscheck.results import save_results


def gated_net(kind, size=3, learn=False, truncation=None, top="tanh", states=True):
    layer = {"type": kind, "size": size, "init": "uniform", "scale": 0.8, "seed": 1}
    if states:
        layer["initial_state"] = [0.1, -0.2, 0.3][:size]
        if kind == "lstm":
            layer["initial_cell"] = [0.2, 0.1, -0.3][:size]
    if learn:
        layer["learn_initial_state"] = True
    return Network.from_spec({"inputs": 2, "loss": "half_sse", "truncation": truncation,
                              "layers": [layer, {"type": "dense", "size": 2, "activation": top,
                                                 "init": "uniform", "seed": 2}]})


def batch(m=3, steps=4, n_in=2, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, steps, n_in)), rng.normal(size=(m, steps, n_out))


KINDS = ["lstm", "gru"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("learn", [False, True])
@pytest.mark.parametrize("truncation", [None, 2])
def test_numpy_agrees_per_gate(kind, learn, truncation):
    net = gated_net(kind, learn=learn, truncation=truncation)
    X, Y = batch()
    report = compare(net, X, Y, against="numpy", tolerance=1e-12, atol=1e-14)
    assert report.ok, str(report)
    gates = {"lstm": "ifgo", "gru": "rzn"}[kind]
    names = [row.name for row in report.rows]
    for q in gates:
        for symbol in ("dE/dW_", "dE/dU_", "dE/db_x", "dE/db_h"):
            assert f"{symbol}{q}⁽²⁾" in names
        assert f"δ_{q}⁽²⁾[1]" in names
    assert ("dE/dh⁽²⁾[0]" in names) == learn
    assert ("dE/dc⁽²⁾[0]" in names) == (learn and kind == "lstm")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("learn", [False, True])
@pytest.mark.parametrize("truncation", [None, 2])
def test_torch_agrees_per_gate(kind, learn, truncation):
    pytest.importorskip("torch")
    net = gated_net(kind, learn=learn, truncation=truncation)
    X, Y = batch()
    report = compare(net, X, Y, against="torch", tolerance=1e-12, atol=1e-14)
    assert report.ok, str(report)
    assert "nn.LSTMCell" in report.against or "nn.GRUCell" in report.against


def test_torch_two_gated_layers_many_to_one():
    pytest.importorskip("torch")
    net = Network.from_spec({"inputs": 2, "loss": "binary_cross_entropy", "layers": [
        {"type": "gru", "size": 2, "init": "uniform", "seed": 3, "learn_initial_state": True},
        {"type": "lstm", "size": 3, "init": "uniform", "seed": 4, "learn_initial_state": True},
        {"type": "recurrent", "size": 2, "activation": "tanh", "init": "uniform", "seed": 6},
        {"type": "dense", "size": 1, "activation": "sigmoid", "init": "uniform", "seed": 5}]})
    X, _ = batch(m=4, steps=5)
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    for against in ("numpy", "torch"):
        report = compare(net, X, Y, against=against, tolerance=1e-12, atol=1e-14)
        assert report.ok, str(report)


def test_values_are_the_networks_own():
    """The reference rows hold the per-neuron network's numbers: h, each gate's δ
    and the gradient sums of back_prop."""
    net = gated_net("lstm")
    X, Y = batch(m=1)
    report = compare(net, X, Y, against="numpy")
    copy = gated_net("lstm")
    copy.forward_pass(X[0].tolist())
    copy.back_prop(Y[0].tolist())
    rows = {row.name: row for row in report.rows}
    assert rows["h⁽²⁾[2]"].reference[0].tolist() == copy.states_of(0)[2]
    forget = [copy.history[1][0][j].gates["forget"].delta for j in range(3)]
    assert rows["δ_f⁽²⁾[2]"].reference[0].tolist() == forget
    dW = copy.gradient_arrays()[0][0]
    assert np.array_equal(rows["dE/dW_o⁽²⁾"].reference, dW[9:12])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_is_a_failure_with_its_place(bad):
    net = gated_net("lstm")
    X, Y = batch()
    correct = lstm_user()

    def user(layers, X, Y):
        results = correct(layers, X, Y)
        results["dU"][0][5, 1] = bad
        return results

    report = compare(net, X, Y, against=user)
    assert not report.ok
    row = report.first_divergence
    assert row.name == "dE/dU_f⁽²⁾" and row.status == ("FAIL (NaN)" if np.isnan(bad)
                                                      else "FAIL (inf)")
    assert "yours has nan at dE/du_f,32⁽²⁾" in report.diagnosis or "inf at dE/du_f,32⁽²⁾" in report.diagnosis
    assert "differs" in report.reason


def test_missing_and_nothing_compared():
    net = gated_net("gru")
    X, Y = batch()
    report = compare(net, X, Y, against=lambda layers, X, Y: {"loss": None})
    assert not report.ok and "nothing compared" in report.reason
    partial = compare(net, X, Y, against=lambda layers, X, Y: {
        "dW": [gru_user()(layers, X, Y)["dW"][0], None]})
    assert partial.ok
    assert [row.name for row in partial.compared] == [f"dE/dW_{q}⁽²⁾" for q in "rzn"]


def test_npz_file_round_trip(tmp_path):
    net = gated_net("lstm", learn=True)
    X, Y = batch()
    _, _, targets, mask = sequence_batch(net, X, Y)
    path = tmp_path / "mine.npz"
    save_results(path, stack_results(net, X, targets, mask))
    report = compare(net, X, Y, against=str(path))
    assert report.ok, str(report)
    assert "dE/dc⁽²⁾[0]" in [row.name for row in report.compared]


def test_wrong_shape_fails_once_per_array():
    net = gated_net("lstm")
    X, Y = batch()

    def user(layers, X, Y):
        results = lstm_user()(layers, X, Y)
        results["dW"][0] = results["dW"][0].T
        return results

    report = compare(net, X, Y, against=user)
    failing = [row for row in report.rows if not row.ok]
    assert [row.name for row in failing] == ["dE/dW_i⁽²⁾"]
    assert failing[0].shape_note == "shape (2, 12), expected (12, 2)"


# ---------------------------------------------------------------- the diagnosis
LSTM_MISTAKES = [
    ("forget", {}, "forget_gate_missing"),
    ("tanh_derivative", {}, "cell_tanh_derivative_missing"),
    ("order", {"order": "igfo"}, "gate_order"),
    ("order", {"order": "fiog"}, "gate_order"),
    ("h_for_c", {}, "h_c_confused"),
    ("states_swapped", {}, "h_c_confused"),
]


@pytest.mark.parametrize("mistake, options, code", LSTM_MISTAKES)
def test_lstm_mistake_named_and_only_it(mistake, options, code):
    net = gated_net("lstm")
    X, Y = batch()
    report = compare(net, X, Y, against=lstm_user(mistake, **options))
    assert not report.ok
    assert [f.code for f in report.findings] == [code], report.diagnosis
    if mistake == "order":
        assert ", ".join(options["order"]) in report.diagnosis


@pytest.mark.parametrize("mistake, options, code", [
    ("reversed", {}, "update_gate_reversed"),
    ("order", {"order": "zrn"}, "gate_order"),
    ("order", {"order": "nzr"}, "gate_order"),
])
def test_gru_mistake_named_and_only_it(mistake, options, code):
    net = gated_net("gru")
    X, Y = batch()
    report = compare(net, X, Y, against=gru_user(mistake, **options))
    assert not report.ok
    assert [f.code for f in report.findings] == [code], report.diagnosis


@pytest.mark.parametrize("kind, user", [("lstm", lstm_user), ("gru", gru_user)])
def test_correct_user_code_agrees(kind, user):
    net = gated_net(kind)
    X, Y = batch()
    report = compare(net, X, Y, against=user())
    assert report.ok, str(report)
    assert "agree" in str(report)
    assert report.findings == [] and report.diagnosis == ""


def test_forget_mistake_first_divergence_and_text():
    """The first divergence is the first δ the cell path reaches (t = T - 1);
    the report names the mistake in words."""
    net = gated_net("lstm")
    X, Y = batch()
    report = compare(net, X, Y, against=lstm_user("forget"))
    assert report.first_divergence.name == "δ_i⁽²⁾[3]"
    assert "misses the forget gate" in str(report)
    assert report.first_divergence.where() == "deltas[0] (net.layers[0], the input gate, t = 3)"


def test_truncation_mistake_on_a_gated_network():
    """Another truncation than the network's is still named (not a gate mistake)."""
    net = gated_net("gru", truncation=2)
    X, Y = batch()
    full = gated_net("gru")
    _, _, targets, mask = sequence_batch(full, X, Y)
    results = stack_results(full, X, targets, mask)
    report = compare(net, X, Y, against=lambda layers, X, Y: results)
    assert not report.ok
    assert [f.code for f in report.findings] == ["truncation"], report.diagnosis


@pytest.mark.parametrize("against", ["numpy", "torch"])
def test_crosscheck_command_takes_gated_files(tmp_path, capsys, against):
    if against == "torch":
        pytest.importorskip("torch")
    from neuronsim.cli.main import main

    net = Network.from_spec({"inputs": 2, "loss": "half_sse", "layers": [
        {"type": "lstm", "size": 2, "init": "uniform", "seed": 1},
        {"type": "gru", "size": 2, "init": "uniform", "seed": 3},
        {"activation": "linear", "size": 1, "init": "uniform", "seed": 2}]})
    X, _ = batch(m=2, steps=3)
    net.samples = [{"input": x.tolist(), "target": [0.5]} for x in X]
    path = tmp_path / "gated.json"
    net.save(path)
    assert main(["crosscheck", str(path), "--against", against]) == 0
    out = capsys.readouterr().out
    assert "all 64 compared quantities agree" in out and "δ_z⁽³⁾[1]" in out


def test_an_unknown_gated_mistake_says_what_was_tried():
    net = gated_net("lstm")
    X, Y = batch()

    def user(layers, X, Y):
        results = lstm_user()(layers, X, Y)
        results["dU"][0] = results["dU"][0] + 0.01 * np.arange(results["dU"][0].size).reshape(
            results["dU"][0].shape)
        return results

    report = compare(net, X, Y, against=user)
    assert not report.ok and report.findings == []
    assert report.first_divergence.name == "dE/dU_i⁽²⁾"
    assert report.diagnosis.startswith("nothing here explains dE/dU_i⁽²⁾: it is not one of the "
                                       "classic LSTM mistakes (the forget gate missing")


def two_lstm_net():
    layers = [{"type": "lstm", "size": 3, "init": "uniform", "scale": 0.8, "seed": s,
               "initial_state": [0.1, -0.2, 0.3], "initial_cell": [0.2, 0.1, -0.3]}
              for s in (1, 3)]
    return Network.from_spec({"inputs": 2, "loss": "half_sse", "layers": layers + [
        {"type": "dense", "size": 2, "activation": "tanh", "init": "uniform", "seed": 2}]})


def test_two_lstm_layers_correct_code_agrees():
    report = compare(two_lstm_net(), *batch(), against=lstm_user())
    assert report.ok, str(report)


@pytest.mark.parametrize("mistake, options, code", LSTM_MISTAKES)
@pytest.mark.parametrize("at", [0, 1])
def test_a_mistake_in_one_of_two_lstm_layers_is_named_with_its_layer(mistake, options, code, at):
    """The mistake made in one LSTM layer only: the diagnosis names it and the
    layer (textbook numbering: the inputs are layer 1, net.layers[0] is layer 2)."""
    report = compare(two_lstm_net(), *batch(), against=lstm_user(mistake, at=at, **options))
    assert not report.ok
    assert [f.code for f in report.findings] == [code], report.diagnosis
    assert f"in layer {at + 2} only" in report.diagnosis


@pytest.mark.parametrize("mistake, options, code", LSTM_MISTAKES[:2])
def test_a_mistake_in_both_lstm_layers_is_named_without_a_layer(mistake, options, code):
    report = compare(two_lstm_net(), *batch(), against=lstm_user(mistake, **options))
    assert [f.code for f in report.findings] == [code], report.diagnosis
    assert "only" not in report.diagnosis
