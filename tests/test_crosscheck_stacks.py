"""One compare for every stack: dense -> recurrent -> dense, several recurrent layers, a
learned initial state, many-to-one and truncated BPTT, against the numpy stack reference,
torch (one nn.RNN per recurrent layer), a user's f(layers, X, Y) and .npz files; planted
BPTT bugs in a stack are named; the commands accept stacked files."""

import json
import os

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.crosscheck import compare
from neuronsim.crosscheck.compare import save_results
from neuronsim.crosscheck.compare_rnn import sequence_batch, stack_results
from neuronsim.crosscheck.vectorized import stack_bptt

HERE = os.path.abspath(__file__)
TIGHT = dict(tolerance=1e-12, atol=1e-14)


# ---------------------------------------------------------------- the stacks
def two_recurrent_layers(truncation=None):
    """nn.RNN(num_layers=2) + nn.Linear: tanh, tanh, linear output, half_sse."""
    return {"inputs": 3, "loss": "half_sse", "truncation": truncation, "layers": [
        {"type": "recurrent", "activation": "tanh", "size": 4, "init": "uniform", "seed": 1},
        {"type": "recurrent", "activation": "tanh", "size": 3, "init": "uniform", "seed": 2},
        {"activation": "linear", "size": 2, "init": "uniform", "seed": 3}]}


def dense_recurrent_dense(truncation=None):
    """Linear+tanh -> RNN(relu) with a learned a[0] -> Linear+sigmoid, binary cross-entropy."""
    return {"inputs": 2, "loss": "binary_cross_entropy", "truncation": truncation,
            "step_loss": "mean", "layers": [
                {"activation": "tanh", "size": 3, "init": "uniform", "seed": 4},
                {"type": "recurrent", "activation": "relu", "size": 3, "init": "uniform",
                 "seed": 5, "initial_state": [0.3, -0.2, 0.5], "learn_initial_state": True},
                {"activation": "sigmoid", "size": 2, "init": "uniform", "seed": 6}]}


def recurrent_output(truncation=None):
    """Linear+sigmoid -> RNN(tanh) as the output layer, learned a[0], sse, sums."""
    return {"inputs": 2, "loss": "sse", "truncation": truncation, "reduction": "sum",
            "layers": [
                {"activation": "sigmoid", "size": 3, "init": "uniform", "seed": 7},
                {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform",
                 "seed": 8, "learn_initial_state": True}]}


STACKS = {"two_recurrent": two_recurrent_layers, "dense_recurrent_dense": dense_recurrent_dense,
          "recurrent_output": recurrent_output}


def batch(spec, seed=0, m=3, steps=4, many_to_one=False):
    rng = np.random.default_rng(seed)
    n_out = spec["layers"][-1]["size"]
    X = rng.uniform(-1, 1, (m, steps, spec["inputs"]))
    Y = rng.uniform(0.1, 0.9, (m, steps, n_out))
    if many_to_one:
        return X, Y[:, -1]
    Y[0, 1] = np.nan                       # sequence 0 has no target at t = 2
    return X, Y


@pytest.mark.parametrize("stack", sorted(STACKS))
@pytest.mark.parametrize("truncation", [None, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("many_to_one", [False, True])
def test_numpy_stack_reference_agrees(stack, truncation, many_to_one):
    spec = STACKS[stack](truncation)
    net = Network.from_spec(spec)
    X, Y = batch(spec, many_to_one=many_to_one)
    report = compare(net, X, Y, against="numpy", **TIGHT)
    assert report.ok, str(report)
    assert len(report.compared) == len(report.rows)
    assert report.against == "numpy (neuronsim.crosscheck.vectorized)"
    recurrent = [l for l, layer in enumerate(net.layers) if layer.kind == "recurrent"]
    assert sorted(row.layer for row in report.rows if row.quantity == "dU") == recurrent
    learned = [l for l in recurrent if net.layers[l].learn_initial_state]
    assert [row.layer for row in report.rows if row.quantity == "da0"] == learned


@pytest.mark.parametrize("stack", sorted(STACKS))
@pytest.mark.parametrize("truncation", [None, 1, 2, 4, 5])
@pytest.mark.parametrize("many_to_one", [False, True])
def test_torch_agrees(stack, truncation, many_to_one):
    pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")
    spec = STACKS[stack](truncation)
    net = Network.from_spec(spec)
    X, Y = batch(spec, seed=1, many_to_one=many_to_one)
    report = compare(net, X, Y, against="torch", **TIGHT)
    assert report.ok, str(report)
    assert len(report.compared) == len(report.rows)
    dense = any(layer.kind == "dense" for layer in net.layers)
    assert report.against == ("torch (torch.nn.RNN + nn.Linear, autograd)" if dense
                              else "torch (torch.nn.RNN, autograd)")


def test_torch_and_numpy_agree_with_each_other_to_1e_12():
    pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")
    from neuronsim.crosscheck.torch_bridge import torch_stack_results

    spec = dense_recurrent_dense(truncation=2)
    net = Network.from_spec(spec)
    X, Y, targets, mask = sequence_batch(net, *batch(spec, seed=2))
    ours, theirs = stack_results(net, X, targets, mask), torch_stack_results(net, X, targets, mask)
    assert abs(ours["loss"] - theirs["loss"]) <= 1e-12 * abs(ours["loss"])
    for key in ("activations", "deltas", "dW", "dU", "db", "da0"):
        for l, (a, b) in enumerate(zip(ours[key], theirs[key])):
            assert (a is None) == (b is None), (key, l)
            if a is not None:
                assert np.max(np.abs(a - b)) <= 1e-12 * max(np.max(np.abs(a)), 1e-300), (key, l)


def test_rows_are_in_computation_order():
    spec = dense_recurrent_dense()
    net = Network.from_spec(spec)
    X, Y = batch(spec, steps=2)
    report = compare(net, X, Y, against="numpy")
    assert [row.name for row in report.rows] == [
        "a⁽²⁾[1]", "a⁽³⁾[1]", "a⁽⁴⁾[1]", "a⁽²⁾[2]", "a⁽³⁾[2]", "a⁽⁴⁾[2]", "E",
        "δ⁽⁴⁾[2]", "δ⁽³⁾[2]", "δ⁽²⁾[2]", "δ⁽⁴⁾[1]", "δ⁽³⁾[1]", "δ⁽²⁾[1]",
        "dE/dW⁽⁴⁾", "dE/db⁽⁴⁾", "dE/dW⁽³⁾", "dE/dU⁽³⁾", "dE/db⁽³⁾", "dE/da⁽³⁾[0]",
        "dE/dW⁽²⁾", "dE/db⁽²⁾"]
    da0 = report.rows[18]
    assert da0.where() == "da0[1] (net.layers[1], the initial state a[0])"
    assert report.rows[16].where() == "dU[1] (net.layers[1], the recurrent weights)"
    text = str(report)
    assert "net.layers[0] is layer 2; recurrent: layer 3" in text


# ---------------------------------------------------------------- a user's stack BPTT
def textbook_stack(layers, X, Y, bug=None):
    """A user's full BPTT for any stack of tanh/sigmoid/linear layers, half_sse at every
    step, mean over the sequences; ``bug`` plants a classic mistake."""
    g = {"tanh": np.tanh, "linear": lambda z: z, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
    g_prime = {"tanh": lambda a: 1 - a * a, "linear": np.ones_like,
               "sigmoid": lambda a: a * (1 - a)}
    m, steps, _ = X.shape
    L = len(layers)
    A = [np.zeros((m, steps, len(p["b"]))) for p in layers]
    for t in range(steps):
        a = X[:, t]
        for l, p in enumerate(layers):
            z = a @ p["W"].T + p["b"]
            if p["kind"] == "recurrent":
                previous = A[l][:, t - 1] if t > 0 else np.tile(p["h0"], (m, 1))
                z = z + previous @ p["U"].T
            a = A[l][:, t] = g[p["activation"]](z)
    loss = 0.5 * ((A[-1] - Y) ** 2).sum() / m
    D = [np.zeros_like(a) for a in A]
    from_next = [np.zeros((m, len(p["b"]))) for p in layers]
    for t in reversed(range(steps)):
        dA = A[-1][:, t] - Y[:, t]
        for l in reversed(range(L)):
            p = layers[l]
            if p["kind"] == "recurrent":
                dA = dA + from_next[l]
            D[l][:, t] = dA * g_prime[p["activation"]](A[l][:, t])
            if p["kind"] == "recurrent":
                from_next[l] = D[l][:, t] @ p["U"]
                if bug == "recurrent_path_missing" and l == 2:
                    from_next[l] = np.zeros_like(from_next[l])
            dA = D[l][:, t] @ p["W"]
    results = {"activations": A, "deltas": D, "loss": loss, "dW": [], "dU": [], "db": [],
               "da0": []}
    for l, p in enumerate(layers):
        below = X if l == 0 else A[l - 1]
        results["dW"].append(np.einsum("mtj,mtk->jk", D[l], below) / m)
        results["db"].append(D[l].sum(axis=(0, 1)) / m)
        if p["kind"] == "recurrent":
            before = np.concatenate([np.tile(p["h0"], (m, 1, 1)), A[l][:, :-1]], axis=1)
            dU = np.einsum("mtj,mti->ji", D[l], before) / m
            if bug == "dU_last_step" and l == 1:
                dU = D[l][:, -1].T @ before[:, -1] / m
            results["dU"].append(dU)
            da0 = D[l][:, 0] @ p["U"]
            results["da0"].append(da0.sum(axis=0) / m if p["learn_h0"] else None)
        else:
            results["dU"].append(None)
            results["da0"].append(None)
    if bug == "da0_zero":
        results["da0"] = [None if v is None else np.zeros_like(v) for v in results["da0"]]
    return results


def stack_forgetting_recurrent_path(layers, X, Y):
    return textbook_stack(layers, X, Y, bug="recurrent_path_missing")


def user_stack(truncation=None, learn=False):
    """dense(tanh) -> recurrent(tanh) -> recurrent(tanh) -> dense(linear), half_sse."""
    return {"inputs": 2, "loss": "half_sse", "truncation": truncation, "layers": [
        {"activation": "tanh", "size": 3, "init": "uniform", "seed": 11},
        {"type": "recurrent", "activation": "tanh", "size": 3, "init": "uniform", "seed": 12,
         "initial_state": [0.1, -0.4, 0.2], "learn_initial_state": learn},
        {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 13},
        {"activation": "linear", "size": 2, "init": "uniform", "seed": 14}],
        "samples": [{"input": [[1, 0], [0.5, -1], [0, 1], [-1, 0.5]],
                     "target": [[0.2, 0.8], [0.5, 0.1], [0.9, 0.3], [0.4, 0.6]]},
                    {"input": [[0, 1], [1, 1], [-0.5, 0], [0.3, 0.3]],
                     "target": [[0.7, 0.2], [0.1, 0.9], [0.3, 0.3], [0.8, 0.5]]}]}


def user_batch(spec):
    X = np.array([s["input"] for s in spec["samples"]], dtype=float)
    Y = np.array([s["target"] for s in spec["samples"]], dtype=float)
    return X, Y


@pytest.mark.parametrize("learn", [False, True])
def test_a_correct_user_stack_agrees(learn):
    spec = user_stack(learn=learn)
    report = compare(Network.from_spec(spec), *user_batch(spec), against=textbook_stack)
    assert report.ok, str(report)
    assert max(row.max_rel for row in report.compared) < 1e-12
    assert len(report.compared) == len(report.rows)


def test_stack_bptt_itself_is_a_correct_user_function():
    spec = user_stack(truncation=2, learn=True)

    def mine(layers, X, Y):
        result = stack_bptt(layers, X, Y, np.ones(X.shape[:2], dtype=bool), "half_sse",
                            truncation=2)
        dU = [g[1] if layer["kind"] == "recurrent" else None
              for g, layer in zip(result.grads, layers)]
        return {"activations": result.activations, "deltas": result.deltas, "dU": dU,
                "loss": result.loss}

    report = compare(Network.from_spec(spec), *user_batch(spec), against=mine, **TIGHT)
    assert report.ok, str(report)


def test_forgotten_recurrent_path_in_the_second_recurrent_layer():
    spec = user_stack()
    report = compare(Network.from_spec(spec), *user_batch(spec),
                     against=stack_forgetting_recurrent_path)
    first = report.first_divergence
    # forward, E, every δ at t = 4 and δ⁽⁵⁾[3] agree; δ⁽⁴⁾[3] lacks r[3] = δ[4] U
    assert (first.name, first.layer, first.step) == ("δ⁽⁴⁾[3]", 2, 2)
    assert all(row.ok for row in report.rows[:report.rows.index(first)])
    assert [f.code for f in report.findings] == ["recurrent_path_missing"]
    assert report.diagnosis.startswith("δ⁽⁴⁾[3] has only the output path e[3] ⊙ g'(z[3])")
    assert first.where() == "deltas[2][:, 2] (net.layers[2], t = 3)"


def test_dU_of_the_last_step_only_in_the_first_recurrent_layer():
    spec = user_stack()
    report = compare(Network.from_spec(spec), *user_batch(spec),
                     against=lambda layers, X, Y: textbook_stack(layers, X, Y, "dU_last_step"))
    assert report.first_divergence.name == "dE/dU⁽³⁾"
    assert [f.code for f in report.findings] == ["one_step_only"]
    assert "the last step's contribution" in report.diagnosis
    assert report.first_divergence.worst_label.startswith("dE/du")
    assert report.first_divergence.worst_label.endswith("⁽³⁾")


def test_full_bptt_where_the_stack_truncates():
    spec = user_stack(truncation=2)
    report = compare(Network.from_spec(spec), *user_batch(spec), against=textbook_stack)
    assert report.first_divergence.name == "δ⁽⁴⁾[2]"
    assert [f.code for f in report.findings] == ["truncation"]
    assert "full BPTT, but the network uses BPTT truncated at k = 2" in report.diagnosis


def test_a_learned_initial_state_left_at_zero_is_named():
    # zeros are what truncation k = 1 gives (no E_t reaches a[0]): the diagnosis says so
    spec = user_stack(learn=True)
    report = compare(Network.from_spec(spec), *user_batch(spec),
                     against=lambda layers, X, Y: textbook_stack(layers, X, Y, "da0_zero"))
    assert report.first_divergence.name == "dE/da⁽³⁾[0]"
    assert [f.code for f in report.findings] == ["truncation"]
    assert "dE/da⁽³⁾[0] is what BPTT truncated at k = 1 step" in report.diagnosis
    assert all(row.ok for row in report.rows if row.name != "dE/da⁽³⁾[0]")


def test_the_layers_a_user_function_gets():
    spec = user_stack(learn=True)
    seen = {}

    def look(layers, X, Y):
        seen.update(layers=layers, X=X, Y=Y)
        return {}

    net = Network.from_spec(spec)
    X, Y = user_batch(spec)
    report = compare(net, X, Y, against=look)
    assert not report.ok and report.reason.startswith("nothing compared: the results had none "
                                                      "of activations, deltas, dW, dU, db, da0")
    layers = seen["layers"]
    assert [layer["kind"] for layer in layers] == ["dense", "recurrent", "recurrent", "dense"]
    assert set(layers[1]) == {"kind", "W", "U", "b", "h0", "learn_h0", "activation"}
    assert layers[1]["h0"].tolist() == [0.1, -0.4, 0.2] and layers[1]["learn_h0"]
    assert layers[2]["h0"].tolist() == [0.0, 0.0] and not layers[2]["learn_h0"]
    arrays = net.to_arrays()
    assert np.array_equal(layers[2]["U"], arrays[2][1])
    assert np.array_equal(seen["X"], X)


def test_one_dU_array_needs_one_recurrent_layer():
    spec = user_stack()

    def single(layers, X, Y):
        return {"dU": np.zeros((3, 3))}

    with pytest.raises(ValueError, match=r"\['dU'\]: expected a list of 4 entries, an array "
                                         r"at the layers that have this parameter \(1, 2\)"):
        compare(Network.from_spec(spec), *user_batch(spec), against=single)


def test_npz_round_trip_of_a_stack(tmp_path):
    spec = user_stack(learn=True)
    net = Network.from_spec(spec)
    X, Y = user_batch(spec)
    path = tmp_path / "mine.npz"
    save_results(path, textbook_stack(_layers(net), X, Y))
    with np.load(path) as data:
        assert {"dU_1", "dU_2", "da0_1"} <= set(data.files) and "dU_0" not in data.files
    assert compare(net, X, Y, against=path).ok
    save_results(path, stack_forgetting_recurrent_path(_layers(net), X, Y))
    assert compare(net, X, Y, against=str(path)).first_divergence.name == "δ⁽⁴⁾[3]"
    np.savez(path, dU_0=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unexpected array 'dU_0' \\(layer 0 has no dU\\)"):
        compare(net, X, Y, against=path)


def _layers(net):
    from neuronsim.crosscheck.compare_rnn import stack_layers

    return stack_layers(net)


# ---------------------------------------------------------------- the commands
def stacked_file(tmp_path, **top):
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(dict(user_stack(), **top)))
    return str(path)


def test_cli_crosscheck_accepts_a_stacked_file(tmp_path, capsys):
    path = stacked_file(tmp_path)
    assert main(["crosscheck", path, "--against", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "2 sequences of 4 steps (full BPTT)" in out
    assert "all 43 compared quantities agree" in out
    assert main(["crosscheck", path, "--against", f"{HERE}:textbook_stack"]) == 0
    capsys.readouterr()
    assert main(["crosscheck", path, "--against", f"{HERE}:stack_forgetting_recurrent_path"]) == 1
    out = capsys.readouterr().out
    assert "first divergence: δ⁽⁴⁾[3], deltas[2][:, 2] (net.layers[2], t = 3)" in out
    assert "diagnosis: δ⁽⁴⁾[3] has only the output path" in out


def test_cli_crosscheck_torch_on_a_stacked_file(tmp_path, capsys):
    pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")
    path = stacked_file(tmp_path, truncation=2)
    assert main(["crosscheck", path, "--against", "torch"]) == 0
    assert "torch (torch.nn.RNN + nn.Linear, autograd)" in capsys.readouterr().out


def test_cli_gradcheck_accepts_a_stacked_file(tmp_path, capsys):
    path = tmp_path / "learned.json"
    path.write_text(json.dumps(user_stack(learn=True)))
    assert main(["gradcheck", str(path), "--top", "60"]) == 0
    out = capsys.readouterr().out
    # 3·2+3 + 3·3+3·3+3+3 + 2·3+2·2+2 + 2·2+2 = 51: every weight, u, bias and a[0] entry
    assert "all 51 checked parameters agree" in out
    assert "layers[2].neurons[1].recurrent_weights[1]" in out
    assert "layers[1].initial_state[2]" in out


# ---------------------------------------------------------------- verdicts on stacks
def test_a_nan_in_a_stack_never_passes():
    spec = user_stack()

    def nan_in_dU(layers, X, Y):
        results = textbook_stack(layers, X, Y)
        results["dU"][2] = results["dU"][2].copy()
        results["dU"][2][0, 1] = np.nan
        return results

    report = compare(Network.from_spec(spec), *user_batch(spec), against=nan_in_dU)
    row = report.first_divergence
    assert (row.name, row.status) == ("dE/dU⁽⁴⁾", "FAIL (NaN)")
    assert [f.code for f in report.findings] == ["not_finite"]
    assert report.diagnosis.startswith("dE/dU⁽⁴⁾ is not finite: yours has nan at dE/du₁₂⁽⁴⁾.")


def test_an_exception_in_a_stack_function_is_theirs():
    from neuronsim.crosscheck.usercode import UserCodeError

    spec = user_stack()

    def backprop(layers, X, Y):
        return {"dU": [layer["U"] @ X for layer in layers]}

    with pytest.raises(UserCodeError) as caught:
        compare(Network.from_spec(spec), *user_batch(spec), against=backprop)
    assert caught.value.filename == HERE
    assert caught.value.line == backprop.__code__.co_firstlineno + 1
    assert "your function" in str(caught.value) and "raised KeyError: 'U'" in str(caught.value)


def test_a_shape_error_in_a_stack_function_gets_the_layers_shapes():
    from neuronsim.crosscheck.usercode import UserCodeError

    spec = user_stack()

    def backprop(layers, X, Y):
        return {"dU": [layers[1]["U"] @ X]}

    with pytest.raises(UserCodeError) as caught:
        compare(Network.from_spec(spec), *user_batch(spec), against=backprop)
    assert "Shapes here: X (2, 4, 2), layers[0]['W'] (3, 2), layers[1]['W'] (3, 3), " \
           "layers[1]['U'] (3, 3)" in str(caught.value)


def test_cli_crosscheck_npz_of_a_stack(tmp_path, capsys):
    path = stacked_file(tmp_path)
    net = Network.from_spec(path)
    saved = tmp_path / "mine.npz"
    save_results(saved, textbook_stack(_layers(net), *user_batch(user_stack())))
    assert main(["crosscheck", path, "--against", str(saved)]) == 0
    assert "all 43 compared quantities agree" in capsys.readouterr().out
