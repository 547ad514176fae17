"""Worksheets and checking: round trip, the first wrong cell, carried errors."""

import csv
import io
from fractions import Fraction as F

import pytest
from catalogue import (
    MAZUR_SAMPLE,
    SOFTMAX_SAMPLES,
    XOR_SAMPLES,
    mazur,
    softmax_233,
    xor,
)

from neuronsim import Network, NeuronsimError
from neuronsim.cli.main import main
from neuronsim.files import load_example
from neuronsim.hand.label_parse import Target
from neuronsim.hand.worksheet import (
    Cell,
    Step,
    check_answers,
    parse_cell,
    parse_value,
    plain_number,
    read_answers,
    render_check,
    render_worksheet,
    worksheet_cells,
)


def hand_network():
    return Network.from_arrays([[["1/2", -1], ["3/4", "1/4"]], [[1, "-1/2"]]],
                               [[1, "-1/2"], ["1/4"]], ["relu", "linear"], "half_sse",
                               numbers="fraction", learning_rate="1/8",
                               samples=[([2, 1], [1])])


def student_sheet(step, changed):
    """Answers of a student who makes the mistakes in ``changed`` ({Cell: value})
    and computes every other cell correctly from their own earlier values."""
    own = {}
    for cell in step.cells:
        own[cell] = changed[cell] if cell in changed else step.compute(cell, own)
    return {cell: plain_number(value) for cell, value in own.items()}


def depends_on(step, origin):
    """The cells computed, directly or not, from ``origin``."""
    marked = {origin}
    for cell in step.cells[step.cells.index(origin) + 1:]:
        # a cell depends on ``origin`` if changing a marked cell changes it
        base = dict(step.true_values)
        moved = {c: (v + 1 if c in marked else v) for c, v in base.items()}
        if step.compute(cell, base) != step.compute(cell, moved):
            marked.add(cell)
    return marked - {origin}


def test_cells_in_computation_order():
    cells = worksheet_cells(load_example("four-layer"))
    labels = [c.label() for c in cells]
    assert labels[:4] == ["z_1^(2)", "a_1^(2)", "z_2^(2)", "a_2^(2)"]
    assert labels[10:13] == ["E", "delta_1^(4)", "delta_1^(3)"]
    assert labels[16] == "dE/dw_11^(2)" and labels[-1] == "new b_1^(4)"
    assert len(cells) == 2 * 5 + 1 + 5 + 2 * 19


@pytest.mark.parametrize("make, samples", [
    (mazur, [([0.05, 0.1], [0.01, 0.99])]), (xor, XOR_SAMPLES[1:2]),
    (softmax_233, SOFTMAX_SAMPLES[:1])])
def test_cell_formulas_reproduce_the_simulator(make, samples):
    step = Step(make(samples=samples, learning_rate=0.5))
    for cell in step.cells:
        value, recomputed = step.true_values[cell], step.compute(cell, step.true_values)
        assert abs(recomputed - value) <= 1e-12 * max(abs(value), 1e-300) or \
            abs(recomputed - value) < 1e-15, cell.label()


def test_cell_formulas_are_exact_in_fraction_mode():
    step = Step(hand_network())
    for cell in step.cells:
        assert step.compute(cell, step.true_values) == step.true_values[cell], cell.label()
    assert step.true_values[Cell("new w", Target("w", 1, 0, 1))] == F(-113, 256)


@pytest.mark.parametrize("make", [lambda: load_example("four-layer"), hand_network,
                                  lambda: load_example("mazur", numbers="precise:40")])
def test_answer_key_round_trip_passes(make):
    net = make()
    key = render_worksheet(net, "csv", filled=True)
    result = check_answers(net, read_answers(key))
    assert result.all_right, render_check(result)
    assert "Every cell is right." in render_check(result)


def test_one_wrong_delta_is_the_origin_and_later_cells_are_carried():
    net = load_example("four-layer")
    step = Step(net)
    wrong = Cell("delta", Target("delta", 1, 0))          # δ_1^(3)
    answers = student_sheet(step, {wrong: step.true_values[wrong] * 2})
    result = check_answers(net, answers)
    statuses = {r.cell: r.status for r in result.rows}
    assert result.origin.cell == wrong
    dependent = depends_on(step, wrong)
    assert dependent, "δ_1^(3) feeds later cells"
    for cell, status in statuses.items():
        if cell == wrong:
            continue
        assert status == ("carried" if cell in dependent else "right"), (cell.label(), status)
    summary = render_check(result)
    assert "The first wrong cell in computation order is δ₁⁽³⁾" in summary
    assert f"{len(dependent)} later cells are wrong only because they use" in summary
    assert "There is no other independent mistake." in summary


def test_fraction_sheet_is_checked_exactly():
    net = hand_network()
    step = Step(net)
    wrong = Cell("delta", Target("delta", 0, 1))          # δ_2^(2): 3/16 written as 3/8
    answers = student_sheet(step, {wrong: F(3, 8)})
    result = check_answers(net, answers)
    assert result.tolerance == 0 and result.origin.cell == wrong
    assert {r.cell.label() for r in result.rows if r.status == "carried"} == {
        "dE/dw_21^(2)", "dE/dw_22^(2)", "dE/db_2^(2)",
        "new w_21^(2)", "new w_22^(2)", "new b_2^(2)"}
    # a decimal that is not exactly the fraction is wrong in fraction mode ...
    answers[Cell("E")] = "0.0703"
    assert check_answers(net, answers).origin.cell == Cell("E")
    # ... and right within a stated tolerance
    result = check_answers(net, answers, tolerance=1e-3)
    assert result.origin.cell == wrong


def test_a_second_independent_mistake_is_wrong_not_carried():
    net = load_example("four-layer")
    step = Step(net)
    first = Cell("z", Target("z", 0, 1))
    later = Cell("dE/dw", Target("w", 2, 0, 0))
    answers = student_sheet(step, {first: 0.3, later: 0.5})
    result = check_answers(net, answers)
    by_cell = {r.cell: r.status for r in result.rows}
    assert result.origin.cell == first
    assert by_cell[later] == "wrong"
    assert by_cell[Cell("a", Target("a", 0, 1))] == "carried"
    assert "1 other cell is wrong even from your own earlier values" in render_check(result)


def test_blank_and_unreadable_cells():
    net = load_example("four-layer")
    step = Step(net)
    answers = student_sheet(step, {})
    answers[Cell("E")] = ""
    answers[Cell("a", Target("a", 0, 0))] = "seven"
    del answers[Cell("new b", Target("b", 2, 0))]
    result = check_answers(net, answers)
    by_cell = {r.cell: r.status for r in result.rows}
    assert by_cell[Cell("E")] == "blank"
    assert by_cell[Cell("a", Target("a", 0, 0))] == "unreadable"
    assert result.origin is None and not result.all_right
    assert result.missing == [Cell("new b", Target("b", 2, 0))]
    assert result.count("right") == len(step.cells) - 3


def test_new_weights_are_judged_by_their_change():
    net = load_example("four-layer")
    step = Step(net)
    cell = Cell("new w", Target("w", 0, 1, 1))
    correct = step.true_values[cell]
    old = net.layers[0].neurons[1].weights[1]
    answers = student_sheet(step, {})
    student = old + 1.5 * (correct - old)       # half the update again
    answers[cell] = plain_number(student)
    assert abs(student - correct) < 1e-3 * abs(correct)   # close as a value ...
    result = check_answers(net, answers)
    assert result.origin.cell == cell                     # ... but its change is 50% off


def test_worksheet_formats_and_conventions():
    net = load_example("four-layer")
    blank = render_worksheet(net, "csv")
    rows = list(csv.DictReader(io.StringIO(blank)))
    assert list(rows[0]) == ["section", "cell", "formula", "python", "value"]
    given = {r["cell"]: r["value"] for r in rows if r["section"] == "given"}
    assert given["w_11^(2)"] == "0.1" and given["eta"] == "0.5" and given["t_1"] == "1"
    assert all(r["value"] == "" for r in rows if r["section"] != "given")
    ng = render_worksheet(net, "csv", convention="ng")
    assert "dE/dw_11^(1)" in ng and "new b_1^(3)" in ng
    markdown = render_worksheet(net, "markdown", filled=True)
    assert "| 12  | backward  | δ₁⁽⁴⁾" in markdown and "-0.110471772" in markdown
    assert "Weight convention nielsen" in markdown
    latex = render_worksheet(hand_network(), "latex", filled=True)
    assert r"\frac{19}{32}" in latex and r"$\delta_{1}^{(3)}$" in latex


def test_read_answers_accepts_other_label_forms_and_reports_bad_rows(tmp_path):
    assert parse_cell("δ₁⁽⁴⁾") == Cell("delta", Target("delta", 2, 0))
    assert parse_cell("dE/dz_1^(4)") == Cell("delta", Target("delta", 2, 0))
    assert parse_cell("∂E/∂b₁⁽²⁾") == Cell("dE/db", Target("b", 0, 0))
    assert parse_cell("new W2[0,1]") == Cell("new w", Target("w", 0, 0, 1))
    with pytest.raises(NeuronsimError, match="not a worksheet cell"):
        parse_cell("w_11^(2)")
    with pytest.raises(NeuronsimError, match="columns cell and value"):
        read_answers("a,b\n1,2\n")
    with pytest.raises(NeuronsimError, match="line 3: the cell E appears twice"):
        read_answers("cell,value\nE,1\nE,2\n")
    with pytest.raises(NeuronsimError, match="line 2: cannot read the label"):
        read_answers("cell,value\nfoo,1\n")
    path = tmp_path / "a.csv"
    path.write_text("\ufeffcell,value\nE,0.5\n", encoding="utf-8")
    assert read_answers(str(path)) == {Cell("E"): "0.5"}


def test_cli_worksheet_and_check(tmp_path, capsys):
    key = tmp_path / "key.csv"
    assert main(["worksheet", "four-layer", "--answers", "-o", str(key)]) == 0
    capsys.readouterr()
    assert main(["check", "four-layer", str(key)]) == 0
    assert "54 of 54 cells are right" in capsys.readouterr().out
    text = key.read_text().replace("-0.11047177211766371", "-0.2", 1)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(text)
    assert main(["check", "four-layer", str(wrong), "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert "The first wrong cell in computation order is δ₁⁽⁴⁾" in out
    assert main(["worksheet", "four-layer", "--format", "markdown"]) == 0
    assert "| 1   | forward   | z₁⁽²⁾" in capsys.readouterr().out
    assert main(["check", "four-layer", str(tmp_path / "missing.csv")]) == 2
    assert main(["check", "four-layer", str(key), "--tolerance", "-1"]) == 2


# ---------------------------------------------------------------- softmax hints (review B3)
SM_SPEC = {"inputs": 2,
           "layers": [{"activation": "relu", "weights": [[0.5, -0.2], [0.3, 0.8]],
                       "biases": [0.1, 0]},
                      {"activation": "softmax",
                       "weights": [[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]],
                       "biases": [0, 0.1, -0.1]}],
           "loss": "half_sse", "learning_rate": 0.1,
           "samples": [{"input": [1, 2], "target": [0, 1, 0]}]}


def sheet_rows(net, **options):
    return {r["cell"]: r for r in csv.DictReader(io.StringIO(
        render_worksheet(net, "csv", filled=True, **options)))}


def test_softmax_half_sse_output_hint_is_the_jacobian_and_matches_the_value():
    net = Network.from_spec(SM_SPEC)
    rows = sheet_rows(net)
    hint = rows["delta_2^(3)"]["formula"]
    assert hint == "a_j (dE/da_j − Σ_i dE/da_i a_i) (softmax Jacobian)"
    assert "g'(z)" not in hint
    a = [float(rows[f"a_{i}^(3)"]["value"]) for i in (1, 2, 3)]
    grads = [a_i - t_i for a_i, t_i in zip(a, [0, 1, 0])]          # half_sse: dE/da = a − t
    weighted = sum(g * a_i for g, a_i in zip(grads, a))
    for j in range(3):
        expected = a[j] * (grads[j] - weighted)
        assert float(rows[f"delta_{j + 1}^(3)"]["value"]) == pytest.approx(expected, rel=1e-12)
    assert rows["delta_1^(2)"]["formula"] == "(Σ_m w_mj δ_m) · g'(z)"   # relu hidden


def test_softmax_cross_entropy_hint_names_the_target_sum():
    spec = dict(SM_SPEC, loss="cross_entropy",
                samples=[{"input": [1, 2], "target": [0.5, 1, 0]}])
    rows = sheet_rows(Network.from_spec(spec))
    assert rows["delta_1^(3)"]["formula"] == ("a · Σt − t, Σt = 1.5 "
                                              "(softmax with cross-entropy)")
    for j, t in enumerate([0.5, 1, 0], start=1):
        a = float(rows[f"a_{j}^(3)"]["value"])
        assert float(rows[f"delta_{j}^(3)"]["value"]) == pytest.approx(a * 1.5 - t, rel=1e-12)
    rows = sheet_rows(Network.from_spec(dict(SM_SPEC, loss="cross_entropy")))
    assert rows["delta_1^(3)"]["formula"] == "a − t (softmax with cross-entropy, Σt = 1)"
    rows = sheet_rows(Network.from_spec(dict(load_example("mazur").to_spec(),
                                             loss="binary_cross_entropy")))
    assert rows["delta_1^(3)"]["formula"] == "a − t (sigmoid with binary cross entropy)"


def test_softmax_hidden_layer_hint_uses_the_jacobian_and_matches_the_value():
    spec = {"inputs": 2,
            "layers": [{"activation": "softmax", "weights": [[0.2, -0.4], [0.7, 0.1]],
                        "biases": [0, 0.1]},
                       {"activation": "sigmoid", "weights": [[1.5, -0.5]], "biases": [0.2]}],
            "loss": "half_sse", "learning_rate": 0.1,
            "samples": [{"input": [1, 2], "target": [1]}]}
    net = Network.from_spec(spec)
    rows = sheet_rows(net)
    assert rows["delta_1^(2)"]["formula"] == (
        "a_j (dE/da_j − Σ_i dE/da_i a_i) with dE/da_j = Σ_m w_mj δ_m (softmax Jacobian)")
    delta_out = float(rows["delta_1^(3)"]["value"])
    a = [float(rows[f"a_{i}^(2)"]["value"]) for i in (1, 2)]
    grads = [1.5 * delta_out, -0.5 * delta_out]
    weighted = sum(g * a_i for g, a_i in zip(grads, a))
    for j in range(2):
        assert float(rows[f"delta_{j + 1}^(2)"]["value"]) == pytest.approx(
            a[j] * (grads[j] - weighted), rel=1e-12)


def test_softmax_layer_lists_every_z_before_its_outputs_and_checks():
    net = Network.from_spec(SM_SPEC)
    labels = [c.label() for c in worksheet_cells(net)]
    assert labels[4:10] == ["z_1^(3)", "z_2^(3)", "z_3^(3)", "a_1^(3)", "a_2^(3)", "a_3^(3)"]
    key = render_worksheet(net, "csv", filled=True)
    result = check_answers(net, read_answers(key))         # a KeyError before the fix
    assert result.all_right and result.count("right") == 46


# ---------------------------------------------------------------- bias as weight
def test_bias_as_weight_sheet_round_trips():
    net = Network.from_spec(SM_SPEC)
    rows = sheet_rows(net, bias_as_weight=True)
    assert rows["w_10^(2)"]["python"] == "net.layers[0].neurons[0].bias"
    assert rows["dE/dw_30^(3)"]["formula"] == "a_0 · δ_j = δ_j (a_0 = 1)"
    assert rows["new w_20^(3)"]["python"] == "net.layers[1].neurons[1].bias after the update"
    assert not any(cell.startswith(("b_", "dE/db", "new b")) for cell in rows)
    assert parse_cell("new w_10^(2)") == Cell("new b", Target("b", 0, 0))
    assert parse_cell("dE/dw_12,0^(3)") == Cell("dE/db", Target("b", 1, 11))
    assert parse_cell("dE/dw_12^(3)") == Cell("dE/dw", Target("w", 1, 0, 1))
    key = render_worksheet(net, "csv", filled=True, bias_as_weight=True)
    result = check_answers(net, read_answers(key), bias_as_weight=True)
    assert result.all_right
    wrong = key.replace("bias_grad,0.24377236396481172", "bias_grad,0.5")
    text = render_check(check_answers(net, read_answers(wrong), bias_as_weight=True))
    assert "The first wrong cell in computation order is ∂E/∂w₃₀⁽³⁾" in text


def test_cli_worksheet_bias_as_weight_and_unreadable_answers(tmp_path, capsys):
    key = tmp_path / "key.csv"
    assert main(["worksheet", "mazur", "--answers", "--bias-as-weight", "-o", str(key)]) == 0
    assert "new w_10^(3)" in key.read_text()
    capsys.readouterr()
    assert main(["check", "mazur", str(key), "--bias-as-weight"]) == 0
    assert "cells are right" in capsys.readouterr().out
    missing = tmp_path / "nonexistent.csv"
    assert main(["check", "mazur", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"neuronsim: error: {missing}: cannot read (No such file or directory)\n"
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    assert main(["check", "mazur", str(binary)]) == 2
    assert "not a text file" in capsys.readouterr().err


# ---------------------------------------------------------------- review fixes
def test_check_reports_rows_that_name_no_cell_of_the_network(tmp_path, capsys):
    key = tmp_path / "k_ng.csv"
    assert main(["worksheet", "four-layer", "--answers", "--bias-as-weight", "--convention",
                 "ng", "--learning-rate", "0.5", "-o", str(key)]) == 0
    capsys.readouterr()
    assert main(["check", "four-layer", str(key), "--learning-rate", "0.5"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "neuronsim: error: answers line 43: 'dE/dw_11^(1)' is not a cell of this network "
        "(wrong --convention?); so do 19 more rows (lines 44, 45, 46, 47, 48, …)\n")
    assert main(["check", "four-layer", str(key), "--learning-rate", "0.5",
                 "--convention", "ng"]) == 0
    assert "54 of 54 cells are right" in capsys.readouterr().out


def test_labels_out_of_range_are_reported_with_their_line():
    net = mazur()
    with pytest.raises(NeuronsimError) as info:
        read_answers("cell,value\nz_1^(2),0.3\nz_3^(2),1\n", net=net)
    assert str(info.value) == ("answers line 3: 'z_3^(2)' is not a cell of this network "
                               "(wrong --convention?)")
    with pytest.raises(NeuronsimError) as info:
        read_answers("cell,value\nnew w_11^(4),1\n", net=net)
    assert str(info.value) == ("answers line 2: 'new w_11^(4)' is not a cell of this network "
                               "(wrong --convention?)")
    # without a network read_answers cannot tell; check_answers refuses them then
    answers = read_answers("cell,value\nz_1^(2),0.3\nz_3^(2),1\n")
    with pytest.raises(NeuronsimError) as info:
        check_answers(net, answers, *MAZUR_SAMPLE, learning_rate=0.5)
    assert str(info.value) == ("answers: 1 cell not of this network: 'z_3^(2)' "
                               "(wrong convention?)")


def test_tolerance_zero_wording_and_exact_precise_answer_key(tmp_path, capsys):
    key = tmp_path / "key.csv"
    assert main(["worksheet", "four-layer", "--answers", "--numbers", "precise:20",
                 "-o", str(key)]) == 0
    rows = {r["cell"]: r["value"] for r in csv.DictReader(key.open())}
    assert rows["a_1^(2)"] == "0.7310585786300048792517699"     # 20 + 5 digits
    capsys.readouterr()
    assert main(["check", "four-layer", str(key), "--numbers", "precise:20",
                 "--tolerance", "0"]) == 0
    assert ("54 of 54 cells are right (tolerance 0: each value must equal the simulator's "
            "precise:20 value exactly, to its last digit; weight convention nielsen; numbers "
            "precise:20). Every cell is right.") in capsys.readouterr().out
    assert main(["worksheet", "four-layer", "--answers", "-o", str(key)]) == 0
    capsys.readouterr()
    assert main(["check", "four-layer", str(key), "--tolerance", "0"]) == 0
    out = capsys.readouterr().out
    assert "(tolerance 0: each value must equal the simulator's float value exactly" in out
    assert "fraction numbers" not in out


def test_precise_numbers_read_back_exactly():
    from neuronsim.core.numbers import get_numbers

    for digits in (7, 20, 50):
        numbers = get_numbers(f"precise:{digits}")
        ctx = numbers.context
        for i in range(1, 200):
            x = ctx.exp(ctx.mpf(i) / 7 - 14) * (-1) ** i / 3
            assert parse_value(plain_number(x), numbers) == x


def test_worksheet_and_check_take_a_recurrent_network(tmp_path, capsys):
    """A recurrent network's worksheet has cells per time step (tests/test_hand_recurrent.py)."""
    key = tmp_path / "key.csv"
    assert main(["worksheet", "rnn", "--answers", "-o", str(key)]) == 0
    assert capsys.readouterr().out == f"wrote {key}\n"
    assert "forward,z_1^(2)[1]," in key.read_text()
    assert main(["check", "rnn", str(key), "--tolerance", "0"]) == 0
    assert "123 of 123 cells are right" in capsys.readouterr().out
