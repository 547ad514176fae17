"""Cross-checking BPTT: neuronsim.crosscheck.compare.compare on recurrent networks.

The per-neuron RecurrentNetwork is the reference; the numpy BPTT
(neuronsim.crosscheck.vectorized), torch.nn.RNN + nn.Linear and a textbook user
function must agree with it step by step, and deliberately buggy BPTT code
must be caught at the right step with the right diagnosis.
"""

import os
import random

import numpy as np
import pytest

from neuronsim.cli.main import main
from neuronsim.core.errors import ShapeError
from neuronsim.core.network import Network
from neuronsim.core.recurrent import RecurrentNetwork
from neuronsim.crosscheck.compare import compare, save_results, sequence_arrays

PARITY = os.path.join(os.path.dirname(__file__), os.pardir, "neuronsim", "files", "examples",
                      "rnn-parity.json")
HERE = os.path.abspath(__file__)


# ---------------------------------------------------------------- a user's BPTT
def textbook_bptt(W, U, b, dense, X, Y, recurrent_term=True, last_step_only=False):
    """A user's BPTT for a tanh recurrent layer, one sigmoid output layer and binary
    cross-entropy summed over the steps, mean over the sequences (rnn-parity)."""
    (V, c), = dense
    m, steps, _ = X.shape
    H = np.zeros((m, steps + 1, len(b)))
    for t in range(steps):
        H[:, t + 1] = np.tanh(X[:, t] @ W.T + H[:, t] @ U.T + b)
    A = 1.0 / (1.0 + np.exp(-(H[:, 1:] @ V.T + c)))
    loss = -(Y * np.log(A) + (1 - Y) * np.log(1 - A)).sum() / m
    Dy = A - Y
    D = np.zeros((m, steps, len(b)))
    for t in reversed(range(steps)):
        dE_da = Dy[:, t] @ V
        if recurrent_term and t < steps - 1:
            dE_da = dE_da + D[:, t + 1] @ U
        D[:, t] = dE_da * (1 - H[:, t + 1] ** 2)
    dU = np.einsum("mtj,mti->ji", D, H[:, :-1]) / m
    if last_step_only:
        dU = D[:, -1].T @ H[:, -2] / m
    return {"activations": [H[:, 1:], A], "deltas": [D, Dy],
            "dW": [np.einsum("mtj,mtk->jk", D, X) / m, np.einsum("mtj,mtk->jk", Dy, H[:, 1:]) / m],
            "dU": dU, "db": [D.sum(axis=(0, 1)) / m, Dy.sum(axis=(0, 1)) / m], "loss": loss}


def bptt_forgetting_recurrent_term(W, U, b, dense, X, Y):
    """The classic bug: δ[t] without the recurrent path δ[t+1] U."""
    return textbook_bptt(W, U, b, dense, X, Y, recurrent_term=False)


def gradients_forgetting_recurrent_term(W, U, b, dense, X, Y):
    results = bptt_forgetting_recurrent_term(W, U, b, dense, X, Y)
    return {key: results[key] for key in ("dW", "dU", "db")}


def dU_of_last_step_only(W, U, b, dense, X, Y):
    return textbook_bptt(W, U, b, dense, X, Y, last_step_only=True)


# ---------------------------------------------------------------- random networks
def parity_like(seed, steps=None, **options):
    """A random tiny tanh -> sigmoid network with binary cross-entropy, and a batch."""
    rng = np.random.default_rng(seed)
    py = random.Random(seed)
    n_in, n, n_out, m = py.randint(1, 3), py.randint(1, 3), py.randint(1, 2), py.randint(1, 3)
    steps = steps or py.randint(1, 5)
    net = RecurrentNetwork.from_arrays(
        rng.uniform(-1, 1, (n, n_in)), rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, n),
        [(rng.uniform(-1, 1, (n_out, n)), rng.uniform(-1, 1, n_out))], "tanh", "sigmoid",
        "binary_cross_entropy", **options)
    X = rng.uniform(-1, 1, (m, steps, n_in))
    Y = rng.uniform(0.05, 0.95, (m, steps, n_out))
    return net, X, Y


def random_network(seed):
    """Any activations, losses and options the numpy BPTT supports."""
    rng = np.random.default_rng(seed)
    py = random.Random(seed)
    n_in, n, m, steps = py.randint(1, 3), py.randint(1, 3), py.randint(1, 3), py.randint(1, 5)
    output, loss = py.choice([("linear", "half_sse"), ("sigmoid", "binary_cross_entropy"),
                              ("softmax", "cross_entropy"), ("tanh", "mse")])
    n_out = py.randint(2, 3)
    options = dict(truncation=py.choice([None, 1, 2]), step_loss=py.choice(["sum", "mean"]),
                   reduction=py.choice(["mean", "sum"]))
    if seed % 3 == 0:
        options["initial_state"] = list(rng.uniform(-0.5, 0.5, n))
    net = RecurrentNetwork.from_arrays(
        rng.uniform(-1, 1, (n, n_in)), rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, n),
        [(rng.uniform(-1, 1, (n_out, n)), rng.uniform(-1, 1, n_out))],
        py.choice(["tanh", "relu"]), output, loss, **options)
    X = rng.uniform(-1, 1, (m, steps, n_in))
    if loss == "cross_entropy":
        Y = np.eye(n_out)[rng.integers(0, n_out, (m, steps))]
    else:
        Y = rng.uniform(0.05, 0.95, (m, steps, n_out))
    if seed % 2:
        Y = Y[:, -1]                                  # many-to-one
    elif steps > 1:
        Y[0, 0] = np.nan                              # no target at t = 1 of sequence 0
    return net, X, Y


@pytest.mark.parametrize("seed", range(12))
def test_numpy_bptt_agrees_on_random_networks(seed):
    net, X, Y = random_network(seed)
    report = compare(net, X, Y, against="numpy", tolerance=1e-12, atol=1e-14)
    assert report.ok, str(report)
    steps, layers = X.shape[1], 2
    assert len(report.compared) == 2 * steps * layers + 1 + 5


@pytest.mark.parametrize("seed", range(12))
def test_torch_rnn_agrees_on_random_networks(seed):
    pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")
    net, X, Y = random_network(seed)
    report = compare(net, X, Y, against="torch", tolerance=1e-12, atol=1e-14)
    assert report.ok, str(report)
    assert report.against == "torch (torch.nn.RNN + nn.Linear, autograd)"


def test_torch_refuses_a_recurrent_layer_it_does_not_have():
    pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")
    net = RecurrentNetwork.from_arrays([[0.5]], [[0.8]], [0.0], activation="sigmoid")
    with pytest.raises(ValueError, match="tanh and relu recurrent layers only"):
        compare(net, [[[1.0], [0.0]]], [[[0.5], [0.2]]], against="torch")


@pytest.mark.parametrize("seed", range(6))
def test_a_correct_user_bptt_agrees(seed):
    net, X, Y = parity_like(seed)
    report = compare(net, X, Y, against=textbook_bptt)
    assert report.ok, str(report)
    assert max(row.max_rel for row in report.compared) < 1e-12


def test_the_hand_example_of_the_docs():
    net = RecurrentNetwork.from_arrays([[0.5]], [[0.8]], [0.0], activation="linear")
    report = compare(net, [[[1.0], [0.0]]], [[[0.5], [0.2]]], against="numpy")
    assert report.ok
    assert [row.name for row in report.rows] == [
        "a⁽²⁾[1]", "a⁽²⁾[2]", "E", "δ⁽²⁾[2]", "δ⁽²⁾[1]", "dE/dW⁽²⁾", "dE/dU⁽²⁾", "dE/db⁽²⁾"]
    deltas = [row for row in report.rows if row.quantity == "deltas"]
    assert [d.reference.tolist() for d in deltas] == [[[pytest.approx(0.2)]],
                                                      [[pytest.approx(0.16)]]]


# ---------------------------------------------------------------- bugs, caught
def test_forgotten_recurrent_term_diverges_at_t_minus_1():
    net, X, Y = parity_like(1, steps=4)
    report = compare(net, X, Y, against=bptt_forgetting_recurrent_term)
    assert not report.ok
    first = report.first_divergence
    # forward, loss, δ[4] (no recurrent path at T) agree; δ⁽²⁾[3] is the first wrong one
    assert (first.name, first.quantity, first.layer, first.step) == ("δ⁽²⁾[3]", "deltas", 0, 2)
    assert all(row.ok for row in report.rows[:report.rows.index(first)])
    assert [f.code for f in report.findings] == ["recurrent_path_missing"]
    assert "recurrent path from t+1" in report.diagnosis
    assert first.where() == "deltas[0][:, 2] (net.layers[0], t = 3)"
    text = str(report)
    assert "first divergence: δ⁽²⁾[3], deltas[0][:, 2] (net.layers[0], t = 3)" in text
    assert "of X[" in first.worst_label and "[3]" in first.worst_label


def test_forgotten_recurrent_term_seen_in_the_gradients_alone():
    net, X, Y = parity_like(2, steps=3)
    report = compare(net, X, Y, against=gradients_forgetting_recurrent_term)
    first = report.first_divergence
    assert first.name == "dE/dW⁽²⁾"                   # the dense layer's gradients agree
    assert [f.code for f in report.findings] == ["truncation"]
    assert "k = 1" in report.diagnosis and "no recurrent path" in report.diagnosis


def test_dU_of_the_last_step_only():
    net, X, Y = parity_like(3, steps=4)
    report = compare(net, X, Y, against=dU_of_last_step_only)
    assert report.first_divergence.name == "dE/dU⁽²⁾"
    assert [f.code for f in report.findings] == ["one_step_only"]
    assert "the last step's contribution" in report.diagnosis
    assert report.first_divergence.worst_label.startswith("dE/du")


def test_ng_convention_labels_recurrent_weights_with_superscript_2():
    net, X, Y = parity_like(3, steps=4)
    nielsen = compare(net, X, Y, against=dU_of_last_step_only)
    ng = compare(net, X, Y, against=dU_of_last_step_only, convention="ng")
    # u comes from layer 2 (at t-1): superscript 2 in ng as in nielsen
    assert ng.first_divergence.name == nielsen.first_divergence.name == "dE/dU⁽²⁾"
    assert ng.first_divergence.worst_label == nielsen.first_divergence.worst_label
    assert ng.first_divergence.worst_label[len("dE/du") + 2:] == "⁽²⁾"
    # input weights follow the ng rule (from layer 1), the dense layer's too (from 2)
    names = [row.name for row in ng.rows if row.quantity in ("dW", "db")]
    assert names == ["dE/dW⁽²⁾", "dE/db⁽²⁾", "dE/dW⁽¹⁾", "dE/db⁽¹⁾"]
    assert ("convention ng: a weight's superscript is the layer it comes from; the recurrent "
            "weights u_ji⁽²⁾ (dE/dU⁽²⁾) keep superscript 2, since they come from layer 2 at "
            "t−1") in str(ng)
    assert "convention ng" not in str(nielsen)


@pytest.mark.parametrize("z_scale", [1.0, 40.0])
def test_sigmoid_recurrent_output_with_bce_agrees_with_numpy(z_scale):
    # no dense layer: the paired delta a - t on both sides; z_scale 40 saturates
    rng = np.random.default_rng(5)
    net = RecurrentNetwork.from_arrays(z_scale * rng.uniform(-1, 1, (2, 2)),
                                       rng.uniform(-1, 1, (2, 2)), rng.uniform(-1, 1, 2),
                                       activation="sigmoid", loss="binary_cross_entropy",
                                       truncation=2)
    X = np.sign(rng.uniform(-1, 1, (3, 4, 2)))
    Y = rng.uniform(0.05, 0.95, (3, 4, 2))
    report = compare(net, X, Y, against="numpy", tolerance=1e-12, atol=1e-14)
    assert report.ok, str(report)
    assert all(np.isfinite(row.reference).all() for row in report.rows)


def test_forward_without_recurrent_term():
    net, X, Y = parity_like(4, steps=3)

    def forward_only(W, U, b, dense, X, Y):
        H = [np.tanh(X[:, t] @ W.T + b) for t in range(X.shape[1])]
        return {"activations": [np.stack(H, axis=1), None]}   # None: layer 3 not given

    report = compare(net, X, Y, against=forward_only)
    assert report.first_divergence.name == "a⁽²⁾[2]"   # a[1] needs no recurrent term
    assert [f.code for f in report.findings] == ["recurrent_term_missing"]
    assert [row.status for row in report.rows][:6] == ["ok", "not given", "FAIL", "not given",
                                                       "FAIL", "not given"]


def test_full_bptt_where_the_network_truncates():
    net, X, Y = parity_like(5, steps=4, truncation=2)
    report = compare(net, X, Y, against=textbook_bptt)
    assert report.first_divergence.name == "δ⁽²⁾[2]"   # δ[4], δ[3] are the same for k = 2
    assert [f.code for f in report.findings] == ["truncation"]
    assert "full BPTT, but the network uses BPTT truncated at k = 2" in report.diagnosis


def test_nothing_explains_noise():
    net, X, Y = parity_like(9, steps=3)                # 3 recurrent neurons: U is 3 x 3

    def noisy(W, U, b, dense, X, Y):
        results = textbook_bptt(W, U, b, dense, X, Y)
        results["dU"] = results["dU"] + np.random.default_rng(0).normal(0, 1e-3,
                                                                        results["dU"].shape)
        return results

    report = compare(net, X, Y, against=noisy)
    assert report.first_divergence.name == "dE/dU⁽²⁾"
    assert report.findings == []
    assert report.diagnosis.startswith("nothing here explains dE/dU⁽²⁾")
    assert "Compare the worst entry by hand: dE/du" in report.diagnosis


def test_batch_factor_on_the_loss():
    net, X, Y = parity_like(7, steps=2)
    X, Y = np.concatenate([X, X]), np.concatenate([Y, Y])

    def summed(W, U, b, dense, X, Y):
        results = textbook_bptt(W, U, b, dense, X, Y)
        return dict(results, loss=results["loss"] * len(X))

    report = compare(net, X, Y, against=summed)
    assert report.first_divergence.name == "E"
    assert "a sum over the batch where the network takes the mean" in report.diagnosis


def test_wrong_shape_fails_once_at_the_first_step():
    net, X, Y = parity_like(16, steps=4)               # m = 2: (T, m, n) != (m, T, n)

    def time_major(W, U, b, dense, X, Y):
        results = textbook_bptt(W, U, b, dense, X, Y)
        H, A = results["activations"]
        return {"activations": [H.transpose(1, 0, 2), A]}

    report = compare(net, X, Y, against=time_major)
    first = report.first_divergence
    assert (first.name, first.status) == ("a⁽²⁾", "FAIL (shape)")
    assert first.shape_note == f"shape (4, {len(X)}, {net.layers[0].size}), expected " \
                               f"({len(X)}, 4, {net.layers[0].size})"
    statuses = [row.status for row in report.rows if row.quantity == "activations"]
    assert statuses == ["FAIL (shape)", "ok", "not given", "ok", "not given", "ok",
                        "not given", "ok"]
    assert "fix the layout first" in report.diagnosis


# ---------------------------------------------------------------- files and arrays
def test_npz_round_trip(tmp_path):
    net, X, Y = parity_like(9, steps=3)
    path = tmp_path / "mine.npz"
    save_results(path, textbook_bptt(*[*net.to_arrays()[0], net.to_arrays()[1:]], X, Y))
    assert compare(net, X, Y, against=path).ok
    save_results(path, bptt_forgetting_recurrent_term(*net.to_arrays()[0],
                                                      net.to_arrays()[1:], X, Y))
    assert compare(net, X, Y, against=str(path)).first_divergence.name == "δ⁽²⁾[2]"


def test_bad_arrays():
    net, X, Y = parity_like(10, steps=3)
    with pytest.raises(ShapeError, match=r"X: expected shape \(m, T,"):
        compare(net, X[0], Y)
    with pytest.raises(ShapeError, match="Y: expected shape"):
        compare(net, X, Y[:, :2])
    Y = Y.copy()
    Y[0, 1, 0] = np.nan
    if Y.shape[2] > 1:
        with pytest.raises(ShapeError, match=r"Y\[0, 1\]: some entries are NaN"):
            compare(net, X, Y)
    Y[0] = np.nan
    with pytest.raises(ShapeError, match=r"Y\[0\]: no step has a target"):
        compare(net, X, Y)
    with pytest.raises(ValueError, match="unknown key 'outputs'"):
        compare(net, X, np.nan_to_num(Y, nan=0.5), against=lambda *a: {"outputs": 1})


def test_sequence_arrays_of_a_file():
    net = Network.from_spec(PARITY)
    X, Y = sequence_arrays(net.samples)
    assert X.shape == (16, 4, 1) and Y.shape == (16, 4, 1)
    mixed = [{"input": [[1], [0]], "target": [None, [1]]}, {"input": [[0], [1]], "target": [0]}]
    X, Y = sequence_arrays(mixed)
    assert np.isnan(Y[:, 0]).all() and Y[:, 1].tolist() == [[1], [0]]
    X, Y = sequence_arrays([{"input": [[1], [0]], "target": [1]}])
    assert Y.shape == (1, 1)
    with pytest.raises(ShapeError, match="sequences of one length"):
        sequence_arrays([{"input": [[1]], "target": [1]}, {"input": [[1], [0]], "target": [1]}])


# ---------------------------------------------------------------- the command
def test_cli_agrees_with_numpy(capsys):
    assert main(["crosscheck", PARITY, "--against", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "16 sequences of 4 steps (full BPTT)" in out
    assert "all 22 compared quantities agree" in out


def test_cli_torch(capsys):
    pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")
    assert main(["crosscheck", PARITY, "--against", "torch"]) == 0
    assert "torch.nn.RNN" in capsys.readouterr().out


def test_cli_user_functions(capsys):
    assert main(["crosscheck", PARITY, "--against", f"{HERE}:textbook_bptt"]) == 0
    capsys.readouterr()
    assert main(["crosscheck", PARITY, "--against",
                 f"{HERE}:bptt_forgetting_recurrent_term"]) == 1
    out = capsys.readouterr().out
    assert "first divergence: δ⁽²⁾[3], deltas[0][:, 2] (net.layers[0], t = 3)" in out
    assert "diagnosis: δ⁽²⁾[3] has only the output path" in out


def test_cli_data_and_bad_input(tmp_path, capsys):
    net = Network.from_spec(PARITY)
    X, Y = sequence_arrays(net.samples)
    good = tmp_path / "batch.npz"
    np.savez(good, X=X[:3], Y=Y[:3, -1])               # many-to-one on 3 sequences
    assert main(["crosscheck", PARITY, "--against", "numpy", "--data", str(good)]) == 0
    assert "3 sequences of 4 steps" in capsys.readouterr().out
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=X[:, :, 0], Y=Y)
    assert main(["crosscheck", PARITY, "--against", "numpy", "--data", str(bad)]) == 2
    assert "X: expected shape (m, T, 1)" in capsys.readouterr().err
    spec = net.to_spec()
    spec["samples"][1] = {"input": [[0], [1]], "target": [[0], [1]]}
    uneven = tmp_path / "uneven.json"
    Network.from_spec(spec).save(uneven)
    assert main(["crosscheck", str(uneven), "--against", "numpy"]) == 2
    assert "sequences of one length" in capsys.readouterr().err


# ---------------------------------------------------------------- verdicts (issue 12)
def parity_batch(seed=7, steps=4):
    net, X, Y = parity_like(seed, steps=steps)
    return net, X, Y


def test_recurrent_nothing_compared_is_a_failure():
    net, X, Y = parity_batch()
    report = compare(net, X, Y, against=lambda W, U, b, dense, X, Y: {})
    assert not report.ok and report.compared == []
    assert report.reason == ("nothing compared: the results had none of activations, deltas, "
                             "dW, dU, db, loss; a check that compares nothing fails")


def test_recurrent_non_finite_candidate_fails_with_its_place():
    net, X, Y = parity_batch()

    def nan_at_t2(W, U, b, dense, X, Y):
        results = textbook_bptt(W, U, b, dense, X, Y)
        results["activations"][0] = results["activations"][0].copy()
        results["activations"][0][0, 1, 0] = np.nan
        return results

    report = compare(net, X, Y, against=nan_at_t2)
    row = report.first_divergence
    assert row.name == "a⁽²⁾[2]" and row.status == "FAIL (NaN)", str(report)
    assert [f.code for f in report.findings] == ["not_finite"]
    assert report.diagnosis.startswith("a⁽²⁾[2] is not finite: yours has nan at a₁⁽²⁾[2] of X[0].")


def test_recurrent_infinite_batch_is_refused():
    net, X, Y = parity_batch()
    X[0, 1, 0] = np.inf
    with pytest.raises(ShapeError, match=r"X\[0, 1, 0\] is inf"):
        compare(net, X, Y)


def test_recurrent_loss_alone_is_named():
    net, X, Y = parity_batch()

    def halved_loss(W, U, b, dense, X, Y):
        results = textbook_bptt(W, U, b, dense, X, Y)
        results["loss"] = results["loss"] / 2
        return results

    report = compare(net, X, Y, against=halved_loss)
    assert report.first_divergence.name == "E"
    assert report.findings[0].code == "loss_only"
    assert "Only the loss differs" in report.diagnosis
    assert "first divergence: E, loss; every row after it agrees" in str(report)


def test_recurrent_float32_is_recognised():
    net, X, Y = parity_batch()

    def single(W, U, b, dense, X, Y):
        f32 = np.float32
        results = textbook_bptt(W.astype(f32), U.astype(f32), b.astype(f32),
                                [(V.astype(f32), c.astype(f32)) for V, c in dense],
                                X.astype(f32), Y.astype(f32))
        return results

    report = compare(net, X, Y, against=single)
    assert not report.ok
    assert [f.code for f in report.findings] == ["rounding", "float32"]
    assert "looks like float32" in report.diagnosis


def test_recurrent_user_exception_is_theirs():
    from neuronsim.crosscheck.usercode import UserCodeError

    net, X, Y = parity_batch()

    def bptt(W, U, b, dense, X, Y):
        return {"dU": U @ X}

    with pytest.raises(UserCodeError) as caught:
        compare(net, X, Y, against=bptt)
    assert caught.value.filename == HERE
    assert caught.value.line == bptt.__code__.co_firstlineno + 1
    assert "raised ValueError: matmul" in str(caught.value)
    assert "Shapes here: X (" in str(caught.value) and "U (" in str(caught.value)


def test_recurrent_layouts_read_as_ours_are_said():
    net, X, Y = parity_batch()

    def flat_output(W, U, b, dense, X, Y):
        results = textbook_bptt(W, U, b, dense, X, Y)
        results["db"][1] = results["db"][1].reshape(1, -1)
        return results

    report = compare(net, X, Y, against=flat_output)
    assert report.ok, str(report)
    assert "layout: dE/db⁽³⁾ given as (1, " in str(report)


def test_recurrent_gradient_left_at_zero_is_named():
    net, X, Y = parity_batch()

    def no_dU(W, U, b, dense, X, Y):
        results = textbook_bptt(W, U, b, dense, X, Y)
        results["dU"] = np.zeros_like(U)
        return results

    report = compare(net, X, Y, against=no_dU)
    assert report.first_divergence.name == "dE/dU⁽²⁾"
    assert [f.code for f in report.findings] == ["layer_skipped"]
    assert report.diagnosis.startswith("dE/dU⁽²⁾ is all zeros where ours is not")
