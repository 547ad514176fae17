"""Numbers typed by people, command-line options, bundled names and work budgets."""

import json
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronsim import SpecError
from neuronsim.cli import budgets
from neuronsim.cli.main import main
from neuronsim.core.numbers import get_numbers
from neuronsim.files.bundled import bundled_names
from neuronsim.files.number_text import MAX_EXPONENT, read_float, read_number
from neuronsim.hand.worksheet import parse_value, read_answers


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def refused(capsys, *argv):
    status, out, err = run(capsys, *argv)
    assert status == 2 and len(err.strip().splitlines()) == 1, (argv, err)
    assert err.startswith("neuronsim: error: ") and "Traceback" not in err
    return err.strip()


# ---------------------------------------------------------------- typed numbers
@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="0123456789eE+-./ −xnaif", max_size=30))
def test_any_typed_text_is_a_fraction_or_a_located_error_quickly(text):
    start = time.perf_counter()
    try:
        value = read_number(text, "here")
    except SpecError as exc:
        assert str(exc).startswith("here: ")
    else:
        assert isinstance(value, Fraction)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("text, message", [
    ("1e99999999", f"the exponent of '1e99999999' is beyond ±{MAX_EXPONENT}"),
    ("1e-99999999", "is beyond"),
    ("9" * 201, "a number of 201 characters; at most 200 are read"),
    ("nan", "must be a finite number, got nan"),
    ("-inf", "must be a finite number, got -inf"),
    ("1/0", "expected a number or a fraction such as 1/2, got .1/0.$"),
])
def test_typed_numbers_are_bounded(text, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        read_number(text, "--input")


def test_1e999_is_a_clear_error_not_an_overflow():
    assert read_number("1e999") == 10 ** 999
    with pytest.raises(SpecError, match="'1e999' is beyond the largest float64"):
        read_float("1e999", "--input")
    assert read_float("−2.5e-3") == -0.0025 and read_float("3/8") == 0.375


def test_student_answers_are_bounded():
    for numbers in ("float", "fraction", "precise:20"):
        with pytest.raises(ValueError, match="is not a number"):
            parse_value("1e99999999", get_numbers(numbers))
    with pytest.raises(ValueError, match="beyond the range of float numbers"):
        parse_value("1e999", get_numbers("float"))
    assert parse_value("1e999", get_numbers("fraction")) == 10 ** 999
    assert parse_value("-1/4", get_numbers("float")) == -0.25


def test_a_huge_csv_field_is_one_line(capsys, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("cell,value\nz_1^(2)," + "1" * 200_000 + "\n")
    err = refused(capsys, "check", "mazur", str(path))
    assert err.endswith("line 1: not readable as CSV (field larger than field limit (131072))")
    path.write_text('cell,value\nz_1^(2),"1\n')
    status, out, _ = run(capsys, "check", "mazur", str(path))
    assert status == 1
    with pytest.raises(Exception, match="columns cell and value"):
        read_answers("a,b\n1,2\n")


# ---------------------------------------------------------------- options
@pytest.mark.parametrize("command", ["trace", "step", "explain", "early-update", "worksheet",
                                     "draw"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_input_and_target_must_be_finite(capsys, command, value):
    extra = ["w_11^(2)"] if command == "explain" else []
    err = refused(capsys, command, "mazur", *extra, "--input", value, "1", "--target", "0", "1")
    assert "--input: " in err and value.lstrip("-") in err
    err = refused(capsys, command, "mazur", *extra, "--input", "0", "1", "--target", "1", value)
    assert "--target: " in err


@pytest.mark.parametrize("argv", [["train", "xor", "--stop-loss"], ["check", "mazur", "x.csv",
                                                                    "--tolerance"],
                                  ["gradcheck", "mazur", "--eps"]])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e99999999"])
def test_float_options_must_be_finite(capsys, argv, value):
    with pytest.raises(SystemExit) as exit_:
        main(argv + [value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert f"argument {argv[-1]}: " in err


def test_negative_numbers_are_values(capsys):
    status, out, err = run(capsys, "trace", "mazur", "--input", "-1e6", "1", "--target", "-1/2",
                           "-.5", "--sections", "loss")
    assert status == 0, err
    assert "input x = (−1000000, 1), target t = (−0.5, −0.5)" in out
    status, out, err = run(capsys, "explain", "mazur", "w_11^(2)", "--input", "-2.5E-3", "-1")
    assert status == 2 and "give both --input and --target" in err


# ---------------------------------------------------------------- bundled names
@pytest.mark.parametrize("argv", [
    ["trace", "mazur"], ["trace", "four-layer", "--sections", "loss"], ["train", "xor", "--epochs", "2"],
    ["step", "mazur"], ["gradcheck", "xor"], ["explain", "mazur", "w_11^(2)"],
    ["early-update", "mazur"], ["worksheet", "four-layer"], ["draw", "xor"],
    ["train", "rnn-parity", "--epochs", "1"], ["train", "rnn", "--epochs", "1"]])
def test_bundled_names_work_wherever_a_network_file_does(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 0, err


def test_report_takes_a_bundled_name(capsys, tmp_path):
    status, out, err = run(capsys, "report", "four-layer", "-o", str(tmp_path / "r.html"))
    assert status == 0 and "wrote" in out


@pytest.mark.parametrize("command", ["trace", "train", "step", "gradcheck", "explain", "draw",
                                     "worksheet", "early-update"])
def test_an_unknown_name_lists_the_bundled_ones(capsys, command):
    extra = ["w_11^(2)"] if command == "explain" else []
    err = refused(capsys, command, "mazurr", *extra)
    assert err.endswith("mazurr: cannot read (No such file or directory), and it is not the "
                        f"name of a bundled example ({', '.join(bundled_names())})")
    assert "rnn-parity" in err


def test_a_file_of_that_name_wins(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mazur").write_text(json.dumps({
        "inputs": 1, "layers": [{"activation": "linear", "weights": [[2]]}],
        "learning_rate": 0.5, "samples": [{"input": [1], "target": [0]}]}))
    status, out, _ = run(capsys, "trace", "mazur", "--sections", "forward")
    assert status == 0 and "z₁⁽²⁾ = w₁₁⁽²⁾·a₁⁽¹⁾ + b₁⁽²⁾ = 2·1 + 0 = 2" in out


# ---------------------------------------------------------------- budgets
HUGE = {"inputs": 3000, "layers": [{"activation": "sigmoid", "size": 3000},
                                   {"activation": "sigmoid", "size": 3000}]}


@pytest.mark.parametrize("argv, names", [
    (["trace"], "weights and biases"), (["train"], "weights and biases"),
    (["draw"], "weights and biases"), (["explain", "{spec}", "w_11^(2)"], "weights and biases"),
])
def test_a_tiny_file_with_millions_of_weights_is_refused_before_building(capsys, tmp_path, argv,
                                                                         names):
    spec = tmp_path / "huge.json"
    spec.write_text(json.dumps(HUGE))
    assert spec.stat().st_size < 150
    argv = [a.format(spec=spec) for a in argv] if len(argv) > 1 else argv + [str(spec)]
    start = time.perf_counter()
    err = refused(capsys, *argv)
    assert time.perf_counter() - start < 1.0
    assert "18,006,000 weights and biases, over the limit of 2,000,000" in err


def write_net(tmp_path, sizes, samples=1):
    layers = [{"activation": "sigmoid", "size": n} for n in sizes[1:]]
    spec = {"inputs": sizes[0], "layers": layers, "learning_rate": 0.1,
            "samples": [{"input": [0.5] * sizes[0], "target": [0.5] * sizes[-1]}] * samples}
    path = tmp_path / "net.json"
    path.write_text(json.dumps(spec))
    return str(path)


@pytest.mark.parametrize("argv, message", [
    (["draw", "{net}"], "edges, over the limit of 20,000 (neuronsim.cli.budgets); a diagram "
                        "draws every weight"),
    (["worksheet", "{net}"], "cells, over the limit of 20,000"),
    (["check", "{net}", "a.csv"], "cells, over the limit of 20,000"),
    (["report", "{net}", "-o", "r.html"], "edges in the diagram"),
    (["step", "{net}"], "walk a part with --layer L and --neuron J"),
    (["trace", "{net}"], "print a part with --layer L, --neuron J or --sections"),
    (["trace", "{net}", "--steps", "20000"], "20,000 steps, over the limit of 10,000"),
    (["gradcheck", "{net}"], "check a smaller network or fewer samples"),
    (["train", "{net}", "--epochs", "100000000"], "epochs, over the limit of 10,000,000"),
    (["train", "{net}", "--epochs", "1000000"], "give fewer --epochs"),
    (["early-update", "{net}"], "table rows, over the limit of 50,000"),
])
def test_each_command_names_what_narrows_it(capsys, tmp_path, argv, message):
    net = write_net(tmp_path, [200, 200, 2])
    err = refused(capsys, *[a.format(net=net) for a in argv])
    assert message in err and "(neuronsim.cli.budgets)" in err


def test_the_named_options_do_narrow_it(capsys, tmp_path):
    net = write_net(tmp_path, [200, 200, 2])
    status, out, err = run(capsys, "trace", net, "--layer", "3", "--neuron", "1")
    assert status == 0 and "δ₁⁽³⁾" in out
    status, out, err = run(capsys, "step", net, "--layer", "3")
    assert status == 0, err


def test_exact_fractions_are_bounded_with_the_step_named(capsys, tmp_path):
    path = tmp_path / "frac.json"
    path.write_text(json.dumps({
        "inputs": 2, "layers": [
            {"activation": "linear", "weights": [["1/3", "2/7"], ["3/11", "-1/13"]],
             "biases": ["1/17", "1/19"]},
            {"activation": "linear", "weights": [["1/23", "2/29"]], "biases": ["1/31"]}],
        "loss": "half_sse", "learning_rate": "1/37",
        "samples": [{"input": ["1/41", "1/43"], "target": ["1/47"]}]}))
    for argv in (["trace", str(path), "--steps", "50"], ["train", str(path), "--epochs", "50"]):
        start = time.perf_counter()
        err = refused(capsys, *argv, "--numbers", "fraction")
        assert time.perf_counter() - start < 5
        assert f"after step {5 if argv[0] == 'trace' else '5 (epoch 5)'} an exact fraction " \
               f"has more than {budgets.FRACTION_DIGITS:,} digits" in err
        assert "--numbers precise:50" in err
    status, out, _ = run(capsys, "trace", str(path), "--steps", "4", "--numbers", "fraction",
                         "--sections", "loss")
    assert status == 0


def test_the_size_of_a_network_is_read_before_it_is_built():
    size = budgets.NetworkSize.of_spec(HUGE)
    assert size.sizes == [3000, 3000, 3000] and size.parameters == 18_006_000
    assert size.weights == 18_000_000 and size.neurons == 6000
    assert budgets.NetworkSize.of_spec({"inputs": "x"}) is None
    rnn = {"inputs": 1, "layers": [{"type": "recurrent", "size": 4}, {"size": 1}]}
    assert budgets.NetworkSize.of_spec(rnn).parameters == 4 * 2 + 16 + 5


def deep_fraction_chain(tmp_path, depth):
    layers = [{"activation": "linear", "weights": [["1/" + "7" * 99]], "biases": ["1/" + "3" * 99]}
              for _ in range(depth)]
    path = tmp_path / "deep.json"
    path.write_text(json.dumps({"inputs": 1, "layers": layers, "loss": "half_sse",
                                "learning_rate": "1/2",
                                "samples": [{"input": ["1/" + "9" * 99], "target": ["1/3"]}]}))
    return str(path)


@pytest.mark.parametrize("argv, message", [
    (["early-update"], "early-update: the exact delta of layer "),
    (["explain", "{spec}", "w_11^(2)"], "an exact fraction of about"),
    (["worksheet", "{spec}", "--answers"], "an exact fraction of about"),
    (["trace"], "trace: after step 1 an exact fraction has more than 1,000 digits"),
])
def test_fractions_too_long_to_write_are_one_clear_line(capsys, tmp_path, argv, message):
    spec = deep_fraction_chain(tmp_path, 60)
    argv = [a.format(spec=spec) for a in argv] if len(argv) > 1 else argv + [spec]
    start = time.perf_counter()
    err = refused(capsys, *argv, "--numbers", "fraction")
    assert time.perf_counter() - start < 10
    assert message in err and "--numbers precise:50" in err


def test_format_number_refuses_a_fraction_it_cannot_write():
    from neuronsim.core.errors import NumericalError
    from neuronsim.render.numfmt import format_number

    assert format_number(Fraction(1, 3 ** 100)).startswith("1/51537752073201133103646112976562127")
    with pytest.raises(NumericalError, match="an exact fraction of about 5,000 digits is too "
                                             "long to write"):
        format_number(Fraction(1, 10 ** 5000))


def test_training_demos_are_budgeted(capsys):
    err = refused(capsys, "demo", "xor", "--numbers", "precise:10000")
    assert err.startswith("neuronsim: error: demo xor: ") and "use --numbers float" in err
    status, out, _ = run(capsys, "demo", "rnn")
    assert status == 0


def test_recurrent_work_counts_time_steps():
    from neuronsim.files.bundled import example_path

    with open(example_path("rnn-parity")) as handle:
        size = budgets.NetworkSize.of_spec(json.load(handle))
    assert size.recurrent and size.time_steps == 4.0 and size.samples == 16
    flat = budgets.NetworkSize(size.sizes, size.parameters, 16, True, 1.0)
    assert budgets.step_work(size, "float", 16) > 3 * budgets.step_work(flat, "float", 16)


def test_an_answers_file_has_at_most_a_worksheet_of_rows(capsys, tmp_path):
    from neuronsim.hand.worksheet import MAX_ANSWERS_ROWS

    path = tmp_path / "many.csv"
    path.write_text("cell,value\n" + "z_9^(2),1\n" * (MAX_ANSWERS_ROWS + 1))
    err = refused(capsys, "check", "mazur", str(path))
    assert err.endswith(f"line {MAX_ANSWERS_ROWS + 2}: more than {MAX_ANSWERS_ROWS:,} rows; a "
                        "worksheet has one row per cell")


@pytest.mark.parametrize("label", ["w_" + "9" * 5000 + "1^(2)", "W2[" + "9" * 5000 + ",0]",
                                   "layers[0].neurons[" + "9" * 5000 + "].bias"])
def test_labels_are_bounded(capsys, tmp_path, label):
    err = refused(capsys, "explain", "mazur", label)
    assert "labels have at most 100" in err and len(err) < 300
    path = tmp_path / "answers.csv"
    path.write_text(f"cell,value\n{label},1\n")
    err = refused(capsys, "check", "mazur", str(path))
    assert err.endswith("(e.g. w_22^(2), layers[0].neurons[1].weights[1])")


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "99999999999"], "epochs, over the limit of 10,000,000"),
    (["--hidden", "99999999"], "weights and biases, over the limit of 2,000,000"),
    (["--epochs", "1000"], "give fewer --epochs or a smaller --hidden"),
])
def test_digits_is_budgeted_before_scikit_learn_loads(capsys, argv, message):
    err = refused(capsys, "digits", *argv)
    assert err.startswith("neuronsim: error: digits: ") and message in err
