"""The command line: demos print the published numbers; bad input exits 2 in one line."""

import json
import subprocess
import sys

import pytest

from neuronsim.cli.main import main


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
    from neuronsim.files.bundled import example_path

    status, out, _ = run(capsys, "trace", example_path("mazur"), "--input", "0.05", "0.1",
                         "--target", "0.01", "0.99", "--layer", "3", "--neuron", "2",
                         "--sections", "update")
    assert status == 0
    assert "w₂₁⁽³⁾" in out and "0.51130127" in out
    assert "w₁₁⁽³⁾" not in out and "w₁₁⁽²⁾" not in out


def test_trace_ng_convention_and_bias_as_weight(capsys):
    from neuronsim.files.bundled import example_path

    status, out, _ = run(capsys, "trace", example_path("mazur"), "--convention", "ng",
                         "--bias-as-weight", "--sections", "gradients")
    assert status == 0
    assert "Weight convention ng" in out
    assert "w₁₁⁽²⁾" in out and "w₁₁⁽³⁾" not in out   # output weights carry superscript 2 in ng
    assert "w₁₀⁽²⁾" in out and "a₀" in out


@pytest.mark.parametrize("fmt, marker", [("markdown", "|"), ("latex", r"\begin{tabular}"),
                                         ("html", "<table>")])
def test_trace_formats(capsys, fmt, marker):
    from neuronsim.files.bundled import example_path

    status, out, _ = run(capsys, "trace", example_path("mazur"), "--format", fmt)
    assert status == 0 and marker in out
    if fmt == "latex":
        assert r"$w_{11}^{(3)}$" in out and r"\delta_{1}^{(2)}" in out
    if fmt == "html":
        assert "w<sub>11</sub><sup>(3)</sup>" in out


def test_trace_output_file_is_a_whole_document(capsys, tmp_path):
    from neuronsim.files.bundled import example_path

    target = tmp_path / "trace.html"
    status, out, _ = run(capsys, "trace", example_path("mazur"), "--format", "html",
                         "-o", str(target))
    assert status == 0 and "wrote" in out
    text = target.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")


def test_train_command_and_save(capsys, tmp_path):
    from neuronsim.files.bundled import example_path

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
    from neuronsim.files.bundled import example_path

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
        main(["trace", "x.json", "--steps", "abc"])
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


# ---------------------------------------------------------------- review fixes
SM_SPEC = {"inputs": 2,
           "layers": [{"activation": "relu", "weights": [[0.5, -0.2], [0.3, 0.8]],
                       "biases": [0.1, 0]},
                      {"activation": "softmax",
                       "weights": [[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]],
                       "biases": [0, 0.1, -0.1]}],
           "loss": "half_sse", "learning_rate": 0.1,
           "samples": [{"input": [1, 2], "target": [0, 1, 0]}]}
LINEAR_SPEC = {"inputs": 2,
               "layers": [{"activation": "relu", "weights": [["1/2", -1], ["3/4", "1/4"]],
                           "biases": [1, "-1/2"]},
                          {"activation": "linear", "weights": [[1, "-1/2"]], "biases": ["1/4"]}],
               "loss": "half_sse", "learning_rate": "1/8",
               "samples": [{"input": [2, 1], "target": [1]}]}


def refused(capsys, argv, message):
    """``argv`` exits 2 with exactly one line on stderr containing ``message``."""
    status, out, err = run(capsys, *argv)
    assert status == 2, (argv, out, err)
    assert err.startswith("neuronsim: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def help_text(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_demo_xor_writes_its_table_to_output(capsys, tmp_path):
    target = tmp_path / "xor.txt"
    status, out, _ = run(capsys, "demo", "xor", "-o", str(target), "--digits", "4")
    assert status == 0 and out == f"wrote {target}\n"
    text = target.read_text()
    assert text.startswith("neuronsim demo xor:") and "epoch   mean loss" in text
    assert "input    target   output" in text


@pytest.mark.parametrize("argv, message", [
    (["demo", "xor", "-o", "f", "--format", "latex"],
     "demo xor: --format does not apply to this demo (it takes only --digits, -o/--output, "
     "--numbers)"),
    (["demo", "xor", "--convention", "ng", "--layer", "2"],
     "demo xor: --layer, --convention do not apply"),
    (["demo", "rnn", "--bias-as-weight"], "demo rnn: --bias-as-weight does not apply"),
    (["demo", "rnn", "--neuron", "1"], "demo rnn: --neuron does not apply"),
    (["demo", "digits", "--format", "html"], "demo digits: --format does not apply to this "
                                             "demo (it takes only -o/--output)"),
    (["demo", "digits", "--numbers", "precise"], "demo digits: --numbers does not apply"),
    (["demo", "mazur", "--digits", "0"], "--digits: expected 1 to 17, got 0"),
])
def test_demo_refuses_options_it_would_ignore(capsys, argv, message):
    refused(capsys, argv, message)


def test_mazur_demo_still_takes_every_view_option(capsys, tmp_path):
    target = tmp_path / "m.tex"
    status, out, _ = run(capsys, "demo", "mazur", "--format", "latex", "--convention", "ng",
                         "--bias-as-weight", "--layer", "3", "--neuron", "1", "--sections",
                         "update", "-o", str(target))
    assert status == 0 and "wrote" in out
    assert r"w_{10}^{(2)}" in target.read_text()       # the bias of an output neuron, ng


@pytest.mark.parametrize("argv, message", [
    (["train", "{sm}", "--every", "0"], "--every: expected at least 1, got 0"),
    (["train", "{sm}", "--every", "-3"], "--every: expected at least 1, got -3"),
    (["train", "{sm}", "--digits", "0"], "--digits: expected 1 to 17, got 0"),
    (["train", "{sm}", "--digits", "18"], "--digits: expected 1 to 17, got 18"),
    (["rnn-train", "{rnn}", "--every", "0"], "--every: expected at least 1, got 0"),
    (["rnn-train", "{rnn}", "--digits", "0"], "--digits: expected 1 to 17, got 0"),
])
def test_train_refuses_bad_every_and_digits(capsys, tmp_path, argv, message):
    from neuronsim.files.bundled import example_path

    paths = {"sm": write(tmp_path, SM_SPEC, "sm.json"), "rnn": example_path("rnn")}
    refused(capsys, [a.format(**paths) for a in argv], message)


def test_train_names_the_loss_it_prints(capsys, tmp_path):
    status, out, _ = run(capsys, "train", write(tmp_path, SM_SPEC, "sm.json"), "--epochs", "2")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].endswith("learning rate 0.1, reduction mean")
    assert lines[2] == " epoch   mean loss"
    assert float(lines[3].split()[1]) == pytest.approx(0.344939, rel=1e-6)
    two = dict(SM_SPEC, reduction="sum", samples=SM_SPEC["samples"] * 2)
    status, out, _ = run(capsys, "train", write(tmp_path, two, "sum.json"), "--epochs", "1",
                         "--no-shuffle")
    lines = out.splitlines()
    assert lines[0].endswith("reduction sum") and lines[2] == " epoch   summed loss"
    assert "sum loss" not in out
    text = help_text(capsys, "train")
    assert "--epochs N passes over the samples (default 100)" in text
    assert "--digits N significant digits of the losses, 1 to 17 (default 6)" in text


@pytest.mark.parametrize("command", ["trace", "train", "step", "early-update"])
@pytest.mark.parametrize("rate", ["nan", "inf", "-inf", "0", "-0.5"])
def test_learning_rate_must_be_finite_and_positive(capsys, tmp_path, command, rate):
    err = refused(capsys, [command, write(tmp_path, SM_SPEC, "sm.json"),
                           f"--learning-rate={rate}"],
                  "--learning-rate: must be a finite number")
    assert err.strip().endswith(rate)


def test_rnn_and_digits_learning_rate_must_be_finite(capsys):
    from neuronsim.files.bundled import example_path

    refused(capsys, ["rnn-train", example_path("rnn"), "--learning-rate", "nan"],
            "--learning-rate: must be a finite number, got nan")
    # a float option: argparse refuses a non-finite value, naming the option
    with pytest.raises(SystemExit) as exit_:
        main(["digits", "--learning-rate", "inf"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "argument --learning-rate: must be a finite number, got inf" in err


def test_trace_reads_fractions_like_explain(capsys, tmp_path):
    sm = write(tmp_path, SM_SPEC, "sm.json")
    _, half, _ = run(capsys, "trace", sm, "--input", "1/2", "2", "--target", "0", "1", "0")
    _, decimal, _ = run(capsys, "trace", sm, "--input", "0.5", "2", "--target", "0", "1", "0")
    assert half == decimal and "0.5·" in half
    linear = write(tmp_path, LINEAR_SPEC, "linear.json")
    status, out, _ = run(capsys, "trace", linear, "--numbers", "fraction", "--input", "1/3",
                         "1", "--target", "1", "--learning-rate", "1/10")
    assert status == 0
    # z_1^(2) = (1/2)(1/3) + (−1)(1) + 1 = 1/6, exactly
    assert "(1/2)·(1/3) + (−1)·1 + 1 = 1/6" in out
    refused(capsys, ["trace", sm, "--input", "1/0", "2", "--target", "0", "1", "0"],
            "--input: expected a number or a fraction such as 1/2, got '1/0'")


@pytest.mark.parametrize("argv", [
    ["trace", "{sm}", "--input", "1", "2", "3", "--target", "0", "1", "0"],
    ["train", "{sm}", "--input", "1", "2", "3", "--target", "0", "1", "0"],
    ["step", "{sm}", "--input", "1", "2", "3", "--target", "0", "1", "0"],
    ["report", "{sm}", "-o", "{html}", "--input", "1", "2", "3", "--target", "0", "1", "0"],
    ["draw", "{sm}", "--input", "1", "2", "3"],
    ["explain", "{sm}", "w_11^(2)", "--input", "1", "2", "3", "--target", "0", "1", "0"],
    ["worksheet", "{sm}", "--input", "1", "2", "3", "--target", "0", "1", "0"],
])
def test_wrong_input_length_names_the_option(capsys, tmp_path, argv):
    paths = {"sm": write(tmp_path, SM_SPEC, "sm.json"), "html": str(tmp_path / "r.html")}
    refused(capsys, [a.format(**paths) for a in argv], "--input: expected 2 numbers, got 3")
    argv = [a.format(**paths) for a in argv[:argv.index("--input")]]
    if argv[0] != "draw":
        refused(capsys, argv + ["--input", "1", "2", "--target", "0", "1"],
                "--target: expected 3 numbers, got 2")


def test_step_report_and_draw_take_numbers(capsys, tmp_path):
    linear = write(tmp_path, LINEAR_SPEC, "linear.json")
    status, out, _ = run(capsys, "step", linear, "--numbers", "fraction")
    assert status == 0
    assert "E = ½(t₁ − a₁⁽³⁾)² = ½(1 − (5/8))² = 9/128" in out
    page = tmp_path / "walk.html"
    assert run(capsys, "report", linear, "--numbers", "fraction", "-o", str(page))[0] == 0
    assert "9/128" in page.read_text()
    status, out, _ = run(capsys, "draw", linear, "--numbers", "fraction", "--show", "delta")
    assert status == 0 and ">−3/8<" in out
    refused(capsys, ["step", linear], 'the fraction "1/2" is read only with numbers="fraction"')


@pytest.mark.parametrize("argv, message", [
    (["gradcheck", "{sm}", "--numbers", "fraction"],
     "--numbers fraction: gradcheck computes in float64 only"),
    (["crosscheck", "{sm}", "--against", "numpy", "--numbers", "precise:30"],
     "--numbers precise:30: crosscheck computes in float64 only"),
])
def test_float_only_commands_refuse_other_numbers(capsys, tmp_path, argv, message):
    paths = {"sm": write(tmp_path, SM_SPEC, "sm.json")}
    refused(capsys, [a.format(**paths) for a in argv], message)
    status, out, _ = run(capsys, *[a.format(**paths) for a in argv[:-2]], "--numbers", "float")
    assert status == 0


@pytest.mark.parametrize("command", ["trace", "step", "demo"])
def test_layer_help_says_the_numbering_is_the_same_in_both_conventions(capsys, command):
    text = help_text(capsys, command)
    assert ("Layer numbers count the input layer as layer 1 (layers with neurons are 2 to L) "
            "in both conventions; --convention changes only the weight superscripts") in text
    assert "the first layer with weights is 2" not in text


def test_long_trace_gets_a_note_on_stderr(capsys, monkeypatch):
    from neuronsim.cli import core
    from neuronsim.files.bundled import example_path

    monkeypatch.setattr(core, "LONG_TRACE_LINES", 50)
    status, out, err = run(capsys, "trace", example_path("mazur"))
    lines = out.count("\n")
    assert status == 0 and lines > 50
    assert err == (f"neuronsim: note: this trace is {lines:,} lines long; --layer L, "
                   "--neuron J or --sections show a part of it\n")
    status, out, err = run(capsys, "trace", example_path("mazur"), "--layer", "3")
    assert status == 0 and err == ""
    monkeypatch.setattr(core, "LONG_TRACE_LINES", 5000)
    assert run(capsys, "trace", example_path("mazur"))[2] == ""


def test_demo_latex_and_markdown_summaries_use_their_format(capsys):
    status, out, _ = run(capsys, "demo", "--format", "latex")
    assert status == 0 and out.isascii()
    assert r"$w_{11}^{(3)}$ & 0.35891648" in out and r"E\_total" in out
    status, out, _ = run(capsys, "demo", "--format", "markdown")
    assert "| w5      | w₁₁⁽³⁾      | 0.35891648       |" in out


def test_train_progress_bar_only_on_a_terminal(capsys):
    import io

    from neuronsim.classroom.progress import ProgressBar
    from neuronsim.cli.core import bar_mover
    from neuronsim.files.bundled import example_path

    status, out, err = run(capsys, "train", example_path("xor"), "--epochs", "5")
    assert status == 0 and err == ""             # captured stderr is not a terminal: no bar
    stream = io.StringIO()
    ticks = iter(range(100))
    bar = ProgressBar(4, stream=stream, enabled=True, clock=lambda: next(ticks))
    mover = bar_mover(bar, epochs=2)
    for epoch in (1, 2):
        for done in (2, 4):
            mover(epoch, done, 0.5)
    bar.close()
    text = stream.getvalue()
    assert "epoch 1/2: " in text and "epoch 2/2: 100%" in text and "4/4 [" in text
    assert "loss=0.5" in text and text.endswith("\n")


def test_precise_traces_may_show_more_than_17_digits(capsys):
    from neuronsim.files.bundled import example_path

    status, out, _ = run(capsys, "trace", example_path("mazur"), "--numbers", "precise:40",
                         "--digits", "30", "--sections", "loss")
    assert status == 0 and "= 0.298371108760002685645471395593" in out
    status, _, err = run(capsys, "trace", example_path("mazur"), "--digits", "30")
    assert status == 2 and "--digits: expected 1 to 17, got 30" in err


@pytest.mark.parametrize("command, expected", [
    (["trace"], "Backward pass through time (t = T down to 1)"),
    (["step"], "t = 4, layer 3, neuron 1: δ₁⁽³⁾[4]"),
    (["report", "-o", "walk.html"], "computations over 4 time steps"),
    (["draw"], 'class="loop'),
])
def test_recurrent_files_work_in_the_classroom_commands(capsys, command, expected, tmp_path,
                                                        monkeypatch):
    """trace, step, report and draw took feed-forward files only; now every network
    (tests/test_trace_stack.py checks the numbers)."""
    from neuronsim.files.bundled import example_path

    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, command[0], example_path("rnn"), *command[1:])
    assert status == 0 and err == ""
    assert expected in out
    if command[0] == "report":
        page = (tmp_path / "walk.html").read_text(encoding="utf-8")
        assert page.count('<section class="computation"') == 71


def test_gradcheck_checks_recurrent_files(capsys):
    from neuronsim.files.bundled import example_path

    status, out, _ = run(capsys, "gradcheck", example_path("rnn"), "--top", "3")
    assert status == 0
    assert "all 29 checked parameters agree" in out and "recurrent_weights[" in out


def test_train_handles_recurrent_files_too(capsys):
    from neuronsim.files.bundled import example_path

    status, out, _ = run(capsys, "train", example_path("rnn"), "--epochs", "2")
    assert status == 0 and "mean loss" in out
