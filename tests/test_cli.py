"""The command line: demos print the published numbers; bad input exits 2 in one line."""

import json
import subprocess
import sys

import pytest

from neuronsim.cli import main


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_demo_mazur_prints_published_values(capsys):
    status, out, err = run(capsys, "demo")
    assert status == 0 and err == ""
    for text in ["E_total = 0.298371109", "w5 = w₁₁⁽³⁾ = 0.35891648", "w6 = w₁₂⁽³⁾ = 0.408666186",
                 "w7 = w₂₁⁽³⁾ = 0.51130127", "w8 = w₂₂⁽³⁾ = 0.561370121",
                 "w1 = w₁₁⁽²⁾ = 0.149780716", "w2 = w₁₂⁽²⁾ = 0.199561432",
                 "w3 = w₂₁⁽²⁾ = 0.249751144", "w4 = w₂₂⁽²⁾ = 0.299502287"]:
        assert text in out
    assert ("δ₁⁽²⁾ = (w₁₁⁽³⁾·δ₁⁽³⁾ + w₂₁⁽³⁾·δ₂⁽³⁾)·g'(z₁⁽²⁾) = "
            "(0.4·0.138498562 + 0.5·(−0.0380982365))·0.241300709 = 0.00877135469") in out


def test_demo_digits_option(capsys):
    status, out, _ = run(capsys, "demo", "mazur", "--digits", "5", "--sections", "backward")
    assert status == 0
    assert "(0.4·0.1385 + 0.5·(−0.038098))·0.2413 = 0.0087714" in out
    assert "Forward pass" not in out


def test_demo_four_layer_and_xor(capsys):
    status, out, _ = run(capsys, "demo", "four-layer")
    assert status == 0 and "δ₁⁽⁴⁾" in out and "w₁₂⁽⁴⁾" in out
    status, out, _ = run(capsys, "demo", "xor")
    assert status == 0
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("1 ", "1000"))]
    first, last = float(rows[0][1]), float(rows[-1][1])
    assert last < first / 10


def test_trace_with_input_and_filters(capsys, tmp_path):
    from neuronsim.bundled import example_path

    status, out, _ = run(capsys, "trace", example_path("mazur"), "--input", "0.05", "0.1",
                         "--target", "0.01", "0.99", "--layer", "3", "--neuron", "2",
                         "--sections", "update")
    assert status == 0
    assert "w₂₁⁽³⁾" in out and "0.51130127" in out
    assert "w₁₁⁽³⁾" not in out and "w₁₁⁽²⁾" not in out


def test_trace_ng_convention_and_bias_as_weight(capsys):
    from neuronsim.bundled import example_path

    status, out, _ = run(capsys, "trace", example_path("mazur"), "--convention", "ng",
                         "--bias-as-weight", "--sections", "gradients")
    assert status == 0
    assert "Weight convention ng" in out
    assert "w₁₁⁽²⁾" in out and "w₁₁⁽³⁾" not in out   # output weights carry superscript 2 in ng
    assert "w₁₀⁽²⁾" in out and "a₀" in out


@pytest.mark.parametrize("fmt, marker", [("markdown", "|"), ("latex", r"\begin{tabular}"),
                                         ("html", "<table>")])
def test_trace_formats(capsys, fmt, marker):
    from neuronsim.bundled import example_path

    status, out, _ = run(capsys, "trace", example_path("mazur"), "--format", fmt)
    assert status == 0 and marker in out
    if fmt == "latex":
        assert r"$w_{11}^{(3)}$" in out and r"\delta_{1}^{(2)}" in out
    if fmt == "html":
        assert "w<sub>11</sub><sup>(3)</sup>" in out


def test_trace_output_file_is_a_whole_document(capsys, tmp_path):
    from neuronsim.bundled import example_path

    target = tmp_path / "trace.html"
    status, out, _ = run(capsys, "trace", example_path("mazur"), "--format", "html",
                         "-o", str(target))
    assert status == 0 and "wrote" in out
    text = target.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")


def test_train_command_and_save(capsys, tmp_path):
    from neuronsim.bundled import example_path

    saved = tmp_path / "trained.json"
    status, out, _ = run(capsys, "train", example_path("xor"), "--epochs", "300",
                         "--save", str(saved))
    assert status == 0 and "saved the trained network" in out
    assert json.loads(saved.read_text())["layers"][0]["weights"]
    status, out, _ = run(capsys, "train", example_path("xor"), "--epochs", "3000",
                         "--stop-loss", "0.05")
    assert "stopped after epoch" in out


def write(tmp_path, spec, name="bad.json"):
    path = tmp_path / name
    path.write_text(json.dumps(spec) if not isinstance(spec, str) else spec)
    return str(path)


@pytest.mark.parametrize("argv, message", [
    (["trace", "{missing}"], "cannot read"),
    (["trace", "{bad_weights}"], "layers[0].weights[0]: expected 2 numbers, got 3"),
    (["trace", "{bad_json}"], "not valid JSON"),
    (["trace", "{no_samples}"], "the file has no samples; give --input and --target"),
    (["trace", "{mazur}", "--input", "1", "2", "3", "--target", "0", "1"],
     "input: expected 2 numbers, got 3"),
    (["trace", "{mazur}", "--input", "1", "2"], "give both --input and --target"),
    (["trace", "{mazur}", "--layer", "1"], "--layer 1: layers with neurons are 2 to 3"),
    (["trace", "{mazur}", "--neuron", "9"], "--neuron 9: neurons count from 1 to 2"),
    (["trace", "{mazur}", "--steps", "0"], "--steps: expected at least 1"),
    (["train", "{mazur}", "--batch-size", "x"], "--batch-size: expected a whole number"),
    (["train", "{no_rate}"], "no learning_rate in the file; give --learning-rate"),
])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, argv, message):
    from neuronsim.bundled import example_path

    spec = {"inputs": 2, "layers": [{"activation": "sigmoid", "weights": [[1, 2]]}]}
    paths = {
        "missing": str(tmp_path / "nope.json"),
        "bad_weights": write(tmp_path, {"inputs": 2, "layers": [{"activation": "relu",
                                                                  "weights": [[1, 2, 3]]}]}),
        "mazur": example_path("mazur"),
    }
    paths["bad_json"] = write(tmp_path, "{", "broken.json")
    (tmp_path / "ns.json").write_text(json.dumps(spec))
    paths["no_samples"] = str(tmp_path / "ns.json")
    (tmp_path / "nr.json").write_text(json.dumps(
        dict(spec, samples=[{"input": [1, 2], "target": [1]}])))
    paths["no_rate"] = str(tmp_path / "nr.json")
    argv = [a.format(**paths) for a in argv]
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert err.startswith("neuronsim: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["trace", "x.json", "--input", "abc"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["demo", "nonexistent"])
    assert info.value.code == 2


def test_console_script_runs_without_traceback(tmp_path):
    """One real process: exit status 2 and one line on stderr."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"inputs": 2, "layers": [{"activation": "sigmoid", "weights": [[1]]}]}')
    result = subprocess.run([sys.executable, "-m", "neuronsim", "trace", str(bad)],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"neuronsim: error: {bad}: layers[0].weights[0]: "
                                     "expected 2 numbers, got 1")
