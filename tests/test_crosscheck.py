"""neuronsim.crosscheck.compare: the comparison table, its inputs, and the CLI command."""

import sys

import buggy_backprop
import catalogue
import numpy as np
import pytest
from catalogue import random_network, random_samples

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.core.errors import ShapeError
from neuronsim.crosscheck import vectorized
from neuronsim.crosscheck.compare import (
    check_results,
    compare,
    load_results,
    per_neuron_batch,
    save_results,
)


def batch(count=4, sizes=(3, 4, 2), hidden="tanh", output="sigmoid", loss="half_sse",
          reduction="mean", seed=3):
    net = random_network(list(sizes), hidden, output, loss, seed, reduction=reduction)
    samples = random_samples(sizes[0], sizes[-1], output, loss, count, seed + 1)
    return net, np.array([x for x, _ in samples]), np.array([t for _, t in samples])


def correct(net):
    return buggy_backprop.make(None, activations=[l.activation.name for l in net.layers],
                               loss=net.loss.name, reduction=net.reduction)


# ---------------------------------------------------------------- the report
def test_rows_come_in_computation_order():
    net, X, Y = batch(sizes=(3, 4, 3, 2))
    report = compare(net, X, Y)
    assert [row.name for row in report.rows] == [
        "a⁽²⁾", "a⁽³⁾", "a⁽⁴⁾", "E",
        "δ⁽⁴⁾", "dE/dW⁽⁴⁾", "dE/db⁽⁴⁾", "δ⁽³⁾", "dE/dW⁽³⁾", "dE/db⁽³⁾",
        "δ⁽²⁾", "dE/dW⁽²⁾", "dE/db⁽²⁾"]
    assert [row.layer for row in report.rows] == [0, 1, 2, None, 2, 2, 2, 1, 1, 1, 0, 0, 0]


@pytest.mark.parametrize("output, loss", catalogue.PAIRINGS)
def test_numpy_reference_agrees_on_every_pairing(output, loss):
    net, X, Y = batch(output=output, loss=loss, sizes=(2, 3, 3))
    report = compare(net, X, Y, against="numpy")
    assert report.ok, str(report)
    assert all(row.max_rel < 1e-12 or row.max_abs < 1e-15 for row in report.rows)


def test_report_table_and_attributes():
    net = catalogue.mazur()
    report = compare(net, [catalogue.MAZUR_SAMPLE[0]], [catalogue.MAZUR_SAMPLE[1]])
    text = str(report)
    assert report.ok and report.first_divergence is None and report.diagnosis == ""
    assert text.startswith("cross-check: neuronsim (per neuron) against numpy "
                           "(neuronsim.crosscheck.vectorized), batch of 1, tolerance 1e-09 relative")
    assert "net.layers[0] is layer 2" in text
    assert "all 9 compared quantities agree" in text
    line = next(l for l in text.splitlines() if l.startswith("E "))
    assert line.split() == ["E", "0", "0", "ok"]     # exact: no worst entry to show
    assert repr(report) == "Report(against numpy (neuronsim.crosscheck.vectorized): ok)"


def test_the_network_is_not_touched():
    net, X, Y = batch()
    before = net.to_spec()
    compare(net, X, Y, against=buggy_backprop.make("sign", activations=["tanh", "sigmoid"]))
    assert net.to_spec() == before and net.samples_in_batch == 0


def test_per_neuron_batch_equals_the_network_gradients():
    net, X, Y = batch(reduction="sum")
    reference = per_neuron_batch(net, X, Y)
    for x, t in zip(X, Y):
        net.forward_pass(x.tolist())
        net.back_prop(t.tolist())
    for (dW, db), ours_dW, ours_db in zip(net.gradient_arrays(), reference.dW, reference.db):
        assert np.array_equal(dW, ours_dW) and np.array_equal(db, ours_db)
    assert reference.deltas[-1].shape == (4, 2)


def test_worst_entry_is_named_by_its_label():
    net, X, Y = batch()

    def off(weights, biases, X, Y):
        results = vectorized.network_gradients(net, X, Y).as_dict()
        results["dW"][1] = results["dW"][1].copy()
        results["dW"][1][1, 2] += 1e-6
        return {"dW": results["dW"]}

    report = compare(net, X, Y, against=off)
    row = report.first_divergence
    assert row.name == "dE/dW⁽³⁾" and row.worst_label == "dE/dw₂₃⁽³⁾"
    assert row.max_abs == pytest.approx(1e-6, rel=1e-6)
    assert "dE/dw₂₃⁽³⁾" in str(report)
    assert report.first_divergence.where() == "dW[1] (net.layers[1])"


def test_ng_convention_labels():
    net, X, Y = batch()
    report = compare(net, X, Y, convention="ng")
    assert [row.name for row in report.rows if row.quantity == "dW"] == ["dE/dW⁽²⁾", "dE/dW⁽¹⁾"]


def test_tolerance_decides():
    net, X, Y = batch()

    def nudged(weights, biases, X, Y):
        results = vectorized.network_gradients(net, X, Y)
        return {"db": [db * (1 + 1e-8) for db in results.db]}

    assert not compare(net, X, Y, against=nudged).ok
    assert compare(net, X, Y, against=nudged, tolerance=1e-7).ok
    with pytest.raises(ValueError, match="tolerance and atol must be >= 0"):
        compare(net, X, Y, tolerance=-1)


def test_quantities_not_given_are_shown_and_skipped():
    net, X, Y = batch()
    report = compare(net, X, Y, against=lambda w, b, X, Y: {"loss": correct(net)(w, b, X, Y)["loss"]})
    assert report.ok
    assert [row.status for row in report.rows].count("not given") == len(report.rows) - 1
    assert "all 1 compared quantities agree" in str(report)
    empty = compare(net, X, Y, against=lambda w, b, X, Y: {})
    assert "nothing compared" in str(empty)


@pytest.mark.parametrize("results", [{}, {"deltas": None, "loss": None}],
                         ids=["empty", "only None"])
def test_nothing_compared_is_a_failure(results):
    net, X, Y = batch()
    report = compare(net, X, Y, against=lambda w, b, X, Y: results)
    assert not report.ok and report.compared == [] and report.first_divergence is None
    assert report.reason == ("nothing compared: the results had none of activations, deltas, "
                             "dW, db, loss; a check that compares nothing fails")
    assert str(report).splitlines()[-1] == report.reason
    assert repr(report).endswith(": nothing compared)")


def test_nan_fails():
    net, X, Y = batch()
    report = compare(net, X, Y, against=lambda w, b, X, Y: {"loss": float("nan")})
    assert not report.ok and report.first_divergence.name == "E"


def test_a_non_finite_candidate_is_reported_with_its_place():
    net, X, Y = batch()

    def overflowing(weights, biases, X, Y):
        results = vectorized.network_gradients(net, X, Y).as_dict()
        results["deltas"][0] = results["deltas"][0].copy()
        results["deltas"][0][2, 1] = np.inf
        return results

    report = compare(net, X, Y, against=overflowing)
    row = report.first_divergence
    assert row.name == "δ⁽²⁾" and row.status == "FAIL (inf)"
    assert row.nonfinite == [("yours", (2, 1), np.inf)]
    assert [f.code for f in report.findings] == ["not_finite"]
    assert report.diagnosis.startswith("δ⁽²⁾ is not finite: yours has inf at δ₂⁽²⁾ of X[2].")
    line = next(l for l in str(report).splitlines() if l.startswith("δ⁽²⁾"))
    assert line.split() == ["δ⁽²⁾", "δ₂⁽²⁾", "of", "X[2]", _ours(row), "inf", "FAIL", "(inf)"]


def _ours(row):
    return f"{row.reference[row.worst]:.12g}"


def linear_cross_entropy():
    """2-2 linear output with cross_entropy: ln a of a negative output is NaN."""
    net = Network.from_arrays([[[0.1, 0.2], [0.3, -0.4]]], [[0.0, 0.0]], "linear",
                              "cross_entropy")
    return net, np.array([[1.0, 2.0]]), np.array([[0.0, 1.0]])     # a = (0.5, -0.5)


@pytest.mark.parametrize("against", ["numpy", "nan function"])
def test_a_nan_reference_never_agrees(against):
    net, X, Y = linear_cross_entropy()
    if against == "nan function":
        def against(w, b, X, Y):
            return {"loss": float("nan")}
    report = compare(net, X, Y, against=against)
    assert not report.ok
    row = report.first_divergence
    assert row.name == "E" and row.status == "FAIL (NaN)"
    assert row.nonfinite[0] == ("neuronsim", (), row.nonfinite[0][2])
    assert np.isnan(row.nonfinite[0][2])
    assert "The reference itself is not finite" in report.diagnosis
    assert ("cross_entropy takes ln a of the output, which must be positive (probabilities), "
            "but the linear output layer gives a₂⁽²⁾ = -0.5 for X[0]") in report.diagnosis
    assert "Give the output layer softmax" in report.diagnosis


def test_a_relu_output_of_zero_on_the_target_class_never_agrees():
    net = Network.from_arrays([[[0.1, 0.2], [0.3, -0.4]]], [[0.0, 0.0]], "relu",
                              "cross_entropy")
    report = compare(net, [[1.0, 2.0]], [[0.0, 1.0]], against="numpy")     # a = (0.5, 0)
    assert not report.ok
    assert [(row.name, row.status) for row in report.rows if not row.ok] == [
        ("E", "FAIL (inf)"), ("δ⁽²⁾", "FAIL (NaN)"), ("dE/dW⁽²⁾", "FAIL (NaN)"),
        ("dE/db⁽²⁾", "FAIL (NaN)")]
    assert "neuronsim has inf at E" in report.diagnosis
    assert "the relu output layer gives a₂⁽²⁾ = 0 for X[0]" in report.diagnosis


def test_nan_in_the_batch_is_refused_with_its_place():
    net, X, Y = batch()
    X[1, 2] = np.nan
    with pytest.raises(ShapeError, match=r"X\[1, 2\] is nan: the batch must be finite"):
        compare(net, X, Y)
    X[1, 2] = 0.0
    Y[3, 0] = -np.inf
    with pytest.raises(ShapeError, match=r"Y\[3, 0\] is -inf"):
        compare(net, X, Y)


# ---------------------------------------------------------------- errors in the user's code
def test_an_exception_in_the_users_function_is_theirs():
    from neuronsim.crosscheck.usercode import UserCodeError

    net, X, Y = batch()

    def backprop(weights, biases, X, Y):
        return {"loss": 1 / 0}

    with pytest.raises(UserCodeError) as caught:
        compare(net, X, Y, against=backprop)
    line = backprop.__code__.co_firstlineno + 1
    assert str(caught.value) == (f"your function test_an_exception_in_the_users_function_is_"
                                 f"theirs.<locals>.backprop ({__file__}, line {line}) raised "
                                 "ZeroDivisionError: division by zero")
    assert not isinstance(caught.value, ShapeError)


def test_a_one_layer_network_may_give_bare_arrays():
    net, X, Y = batch(sizes=(3, 2))
    results = vectorized.network_gradients(net, X, Y)
    report = compare(net, X, Y, against=lambda w, b, X, Y: {"dW": results.dW[0],
                                                            "db": results.db[0].reshape(-1, 1)})
    assert report.ok, str(report)


def test_bad_results_are_reported():
    with pytest.raises(ValueError, match="expected a dict"):
        check_results([1, 2], 2)
    with pytest.raises(ValueError, match="unknown key 'grads'"):
        check_results({"grads": []}, 2)
    with pytest.raises(ValueError, match=r"\['dW'\]: expected a list of 2 arrays"):
        check_results({"dW": [np.zeros((2, 2))]}, 2)
    with pytest.raises(ValueError, match=r"'loss'\]: expected one number"):
        check_results({"loss": [1.0, 2.0]}, 2)


def test_bad_batches_and_against_values():
    net, X, Y = batch()
    with pytest.raises(ShapeError, match=r"X: expected shape \(m, 3\)"):
        compare(net, X[:, :2], Y)
    with pytest.raises(ShapeError, match=r"Y: expected shape \(4, 2\)"):
        compare(net, X, Y[:3])
    with pytest.raises(ValueError, match="against: expected 'numpy', 'torch'"):
        compare(net, X, Y, against=3)


# ---------------------------------------------------------------- saved arrays
def test_npz_round_trip(tmp_path):
    net, X, Y = batch(sizes=(3, 4, 3, 2))
    path = tmp_path / "mine.npz"
    arrays = vectorized.network_arrays(net)
    save_results(path, correct(net)(arrays["weights"], arrays["biases"], X, Y))
    assert compare(net, X, Y, against=str(path)).ok
    assert compare(net, X, Y, against=path).ok
    loaded = load_results(path, 3)
    assert set(loaded) == {"activations", "deltas", "dW", "db", "loss"}


def test_npz_with_a_mistake_is_diagnosed(tmp_path):
    net, X, Y = batch()
    arrays = vectorized.network_arrays(net)
    results = buggy_backprop.user_backprop(arrays["weights"], arrays["biases"], X, Y,
                                           activations=["tanh", "sigmoid"], mistake="sign")
    save_results(tmp_path / "bad.npz", results)
    report = compare(net, X, Y, against=tmp_path / "bad.npz")
    assert [f.code for f in report.findings] == ["sign"]


def test_npz_with_unexpected_arrays(tmp_path):
    net, X, Y = batch()
    np.savez(tmp_path / "odd.npz", weights_0=np.zeros(2))
    with pytest.raises(ValueError, match="unexpected array 'weights_0'"):
        compare(net, X, Y, against=tmp_path / "odd.npz")
    np.savez(tmp_path / "half.npz", dW_0=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="missing dW_1"):
        compare(net, X, Y, against=tmp_path / "half.npz")


# ---------------------------------------------------------------- command line
USER_CODE = '''
import numpy as np

def backprop(weights, biases, X, Y):
    """Mazur's network, written by a user who forgot the sigmoid derivative at the output."""
    a1 = 1 / (1 + np.exp(-(X @ weights[0].T + biases[0])))
    a2 = 1 / (1 + np.exp(-(a1 @ weights[1].T + biases[1])))
    delta2 = a2 - Y
    delta1 = (delta2 @ weights[1]) * a1 * (1 - a1)
    m = len(X)
    return {"activations": [a1, a2], "deltas": [delta1, delta2],
            "dW": [delta1.T @ X / m, delta2.T @ a1 / m]}
'''


@pytest.fixture
def mazur_file(tmp_path):
    path = tmp_path / "mazur.json"
    catalogue.mazur(samples=[catalogue.MAZUR_SAMPLE]).save(path)
    return path


def test_cli_numpy_agrees(mazur_file, capsys):
    assert main(["crosscheck", str(mazur_file), "--against", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "all 9 compared quantities agree" in out


def test_cli_user_function_mismatch(mazur_file, tmp_path, capsys, monkeypatch):
    (tmp_path / "userbp_missing_prime.py").write_text(USER_CODE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert main(["crosscheck", str(mazur_file), "--against",
                 "userbp_missing_prime:backprop"]) == 1
    out = capsys.readouterr().out
    assert "first divergence: δ⁽³⁾, deltas[1] (net.layers[1])" in out
    assert "the sigmoid derivative is missing at this layer" in out
    # the same function given as a file path
    assert main(["crosscheck", str(mazur_file), "--against",
                 str(tmp_path / "userbp_missing_prime.py") + ":backprop"]) == 1


def test_cli_npz_and_data(mazur_file, tmp_path, capsys):
    net = Network.from_spec(mazur_file)
    X, Y = np.array([[0.05, 0.1], [0.3, -0.2]]), np.array([[0.01, 0.99], [0.5, 0.5]])
    np.savez(tmp_path / "batch.npz", X=X, Y=Y)
    save_results(tmp_path / "mine.npz", vectorized.network_gradients(net, X, Y).as_dict())
    assert main(["crosscheck", str(mazur_file), "--against", str(tmp_path / "mine.npz"),
                 "--data", str(tmp_path / "batch.npz")]) == 0
    assert "batch of 2" in capsys.readouterr().out
    # without --data the file's single sample does not fit the saved batch of 2
    assert main(["crosscheck", str(mazur_file), "--against", str(tmp_path / "mine.npz")]) == 1


@pytest.mark.parametrize("against, message", [
    ("nonsense", "expected numpy, torch, module:function or a file ending in .npz"),
    ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
    ("missing.npz", "no such file 'missing.npz'"),
    ("json:no_such_function", "'json' has no 'no_such_function'"),
])
def test_cli_bad_against(mazur_file, capsys, against, message):
    assert main(["crosscheck", str(mazur_file), "--against", against]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuronsim: error: ") and message in err


def test_cli_file_without_samples(tmp_path, capsys):
    path = tmp_path / "plain.json"
    catalogue.xor().save(path)
    assert main(["crosscheck", str(path), "--against", "numpy"]) == 2
    assert "has no samples; give --data" in capsys.readouterr().err


def test_cli_bad_data_file(mazur_file, tmp_path, capsys):
    np.savez(tmp_path / "batch.npz", inputs=np.zeros((1, 2)))
    assert main(["crosscheck", str(mazur_file), "--against", "numpy",
                 "--data", str(tmp_path / "batch.npz")]) == 2
    assert "expected arrays named X and Y, found inputs" in capsys.readouterr().err


def test_cli_nothing_compared_exits_1(mazur_file, tmp_path, capsys):
    np.savez(tmp_path / "empty.npz")
    assert main(["crosscheck", str(mazur_file), "--against", str(tmp_path / "empty.npz")]) == 1
    out = capsys.readouterr().out
    assert out.rstrip().endswith("nothing compared: the results had none of activations, "
                                 "deltas, dW, db, loss; a check that compares nothing fails")
    (tmp_path / "nothing.py").write_text("def backprop(weights, biases, X, Y):\n    return {}\n")
    assert main(["crosscheck", str(mazur_file), "--against",
                 str(tmp_path / "nothing.py") + ":backprop"]) == 1


@pytest.mark.parametrize("code, line, exception", [
    (("import numpy as np\n\ndef backprop(weights, biases, X, Y):\n"
      "    return {'dW': [X @ np.ones((3, 3)) for W in weights]}\n"), 4, "ValueError: matmul"),
    ("import numpy as np\nvalue = undefined_name\n", 2, "NameError: name 'undefined_name'"),
    ("def backprop(weights, biases, X, Y)\n    return {}\n", 1, "SyntaxError: "),
    ("import no_such_package_of_the_user\n", 1,
     "ModuleNotFoundError: No module named 'no_such_package_of_the_user'"),
], ids=["in the function", "at import", "syntax", "their import"])
@pytest.mark.parametrize("as_path", [False, True], ids=["module", "file"])
def test_cli_errors_in_the_users_code_are_theirs(mazur_file, tmp_path, capsys, monkeypatch,
                                                 code, line, exception, as_path):
    name = f"usercode_{abs(hash((code, as_path))) % 10**8}"
    path = tmp_path / f"{name}.py"
    path.write_text(code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    against = (str(path) if as_path else name) + ":backprop"
    assert main(["crosscheck", str(mazur_file), "--against", against]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuronsim crosscheck: error in your code: "), err
    assert "neuronsim: error:" not in err and "Traceback" not in err
    assert f"({path}, line {line}) raised {exception}" in err or \
        f"({name}.py, line {line}) raised {exception}" in err, err
    if "matmul" in exception:
        assert "your function backprop" in err and "W where Wᵀ belongs" in err
    else:
        assert "importing your module" in err
