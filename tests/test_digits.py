"""The digits demo: confusion matrix, accuracy, and the full 64-32-10 run."""

import sys
import time

import pytest

from neuronsim.cli import digits
from neuronsim.cli.main import main


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    matrix = digits.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], classes=3)
    assert matrix == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert digits.format_confusion(matrix) == (
        "true \\ predicted   0  1  2\n"
        "               0   1  1  0\n"
        "               1   0  1  0\n"
        "               2   1  0  2")


def test_build_network_is_seeded_64_32_10():
    net = digits.build_network(seed=3)
    assert net.sizes == [64, 32, 10]
    assert [layer.activation.name for layer in net.layers] == ["sigmoid", "softmax"]
    assert net.loss.name == "cross_entropy"
    same, other = digits.build_network(seed=3), digits.build_network(seed=4)
    assert same.to_spec() == net.to_spec() != other.to_spec()


def test_evaluate_on_a_known_network():
    net = digits.build_network(hidden=2, seed=0)
    samples = [([0.5] * 64, [1 if c == 3 else 0 for c in range(10)]),
               ([0.0] * 64, [1 if c == 7 else 0 for c in range(10)])]
    accuracy, predicted, matrix = digits.evaluate(net, samples)
    expected = [max(range(10), key=digits.build_network(hidden=2, seed=0)
                    .forward_pass(x).__getitem__) for x, _ in samples]
    assert predicted == expected
    assert accuracy == sum(p == t for p, t in zip(predicted, [3, 7])) / 2
    assert sum(map(sum, matrix)) == 2 and matrix[3][predicted[0]] == 1


@pytest.mark.slow
def test_full_demo_reaches_93_percent_in_time():
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn")
    start = time.perf_counter()
    result = digits.train_digits(**digits.DEFAULTS)
    elapsed = time.perf_counter() - start
    assert result["net"].sizes == [64, 32, 10]
    assert result["accuracy"] >= 0.93, f"test accuracy {result['accuracy']:.3f}"
    matrix = result["confusion"]
    assert sum(map(sum, matrix)) == len(result["test"]) == 449
    correct = sum(matrix[i][i] for i in range(10))
    assert correct / 449 == result["accuracy"]
    assert len(result["history"]) == 10 and result["history"][-1] < result["history"][0]
    assert elapsed < 60, f"took {elapsed:.1f} s"


def test_same_seed_same_result():
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn")
    first = digits.train_digits(epochs=1, hidden=4, seed=2)
    second = digits.train_digits(epochs=1, hidden=4, seed=2)
    assert first["predictions"] == second["predictions"]
    assert first["history"] == second["history"]
    assert first["net"].to_spec() == second["net"].to_spec()


def test_cli_prints_time_accuracy_and_matrix(capsys, tmp_path):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn")
    plot = tmp_path / "digits.png"
    args = ["digits", "--epochs", "1", "--hidden", "6", "--quiet"]
    if _has("matplotlib"):
        args += ["--plot", str(plot)]
    assert main(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("neuronsim digits: a 64-6-10 network")
    assert lines[1].startswith("trained on 1348 images, 1 epoch online, learning rate 0.1: ")
    assert " s (" in lines[1] and lines[1].endswith("samples/s)")
    accuracy_line = next(line for line in lines if line.startswith("test accuracy: "))
    assert accuracy_line.endswith("of 449 images)")
    header = lines.index("true \\ predicted   0  1  2  3  4  5  6  7  8  9")
    rows = lines[header + 1:header + 11]
    counts = [list(map(int, row.split()))[1:] for row in rows]
    assert [int(row.split()[0]) for row in rows] == list(range(10))
    assert sum(map(sum, counts)) == 449
    correct = sum(counts[i][i] for i in range(10))
    assert f"({correct} of 449 images)" in accuracy_line
    if "--plot" in args:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_digits_runs_the_default_configuration(capsys, monkeypatch):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn")
    monkeypatch.setattr(digits, "DEFAULTS", {"hidden": 4, "epochs": 1, "learning_rate": 0.1,
                                             "seed": 0})
    assert main(["demo", "digits"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("neuronsim digits: a 64-4-10 network")
    assert "confusion matrix (rows: true digit, columns: predicted digit)" in out


def test_without_scikit_learn_the_error_says_how_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert main(["demo", "digits"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "neuronsim[datasets]"' in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs"), (["--hidden", "0"], "--hidden"),
    (["--learning-rate", "-1"], "--learning-rate"),
    (["--plot", "digits.bmp"], ".png, .svg or .pdf")])
def test_cli_checks_its_options_before_training(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(digits, "train_digits", None)    # never reached
    assert main(["digits"] + argv) == 2
    assert message in capsys.readouterr().err


def test_plot_without_matplotlib_fails_before_training(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setattr(digits, "train_digits", None)
    assert main(["demo", "digits", "-o", "digits.png"]) == 2
    assert 'pip install "neuronsim[plot]"' in capsys.readouterr().err


def _has(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True
