"""Worksheets and their marking on LSTM and GRU layers (neuronsim.hand.worksheet_gates).

Every cell of a gated unit (each gate's z, a and δ; c, h, dE/dh and dE/dc per
step; each gate's w, u and two biases' gradient sums and updates; learned
h[0] and c[0]) has the simulator's own value, its formula reproduces that
value bit for bit from the cells above it, the gradient cells agree with the
numpy stack reference to 1e-12, and check names the first wrong cell and
the errors it carries.
"""

import csv
import io
import math
import shutil
import subprocess

import numpy as np
import pytest
from test_explain_gated import STACKS, T, reference_layers, run, stack

from neuronsim.cli.main import main
from neuronsim.core.errors import NeuronsimError
from neuronsim.crosscheck.vectorized import stack_bptt
from neuronsim.hand.cells import Cell, parse_cell
from neuronsim.hand.label_parse import Target
from neuronsim.hand.worksheet import (
    check_answers,
    make_step,
    plain_number,
    read_answers,
    render_check,
    render_worksheet,
)


@pytest.mark.parametrize("numbers", ["float", "precise:30"])
@pytest.mark.parametrize("name", sorted(STACKS))
def test_each_cell_is_computed_from_the_cells_above_it_exactly(name, numbers):
    """Filled in order, each cell's formula sees only earlier cells (a KeyError
    otherwise) and gives the simulator's value bit for bit."""
    step = make_step(stack(name, numbers=numbers))
    seen = {}
    for cell in step.cells:
        assert step.compute(cell, seen) == step.true_values[cell], cell
        seen[cell] = step.true_values[cell]


@pytest.mark.parametrize("name", sorted(STACKS))
def test_true_values_are_the_networks_own(name):
    step = make_step(stack(name))
    net = run(stack(name))
    values = step.true_values
    for l, layer in enumerate(net.layers):
        if layer.kind not in ("lstm", "gru"):
            continue
        for t in range(1, T + 1):
            for j, record in enumerate(net.history[t - 1][l]):
                assert values[Cell("h", Target("h", l, j, None, t))] == record.output
                assert values[Cell("dE/dh", Target("h", l, j, None, t))] == record.output_grad
                if layer.kind == "lstm":
                    assert values[Cell("c", Target("c", l, j, None, t))] == record.cell
                    assert values[Cell("dE/dc", Target("c", l, j, None, t))] == record.cell_grad
                for gate, saved in record.gates.items():
                    for kind, value in (("z", saved.z), ("a", saved.output),
                                        ("delta", saved.delta)):
                        assert values[Cell(kind, Target(kind, l, j, None, t, gate=gate))] == value
        sums = layer.gradient_sums()
        n = layer.size
        for row in range(len(layer.neurons)):
            gate, j = layer.GATES[row // n], row % n
            assert [values[Cell("dE/dw", Target("w", l, j, k, gate=gate))]
                    for k in range(layer.n_inputs)] == sums[0][row]
            assert values[Cell("dE/db", Target("b", l, j, gate=gate, side="hh"))] == sums[3][row]


@pytest.mark.parametrize("name", sorted(STACKS))
def test_gradient_cells_agree_with_the_numpy_stack_reference(name):
    net = stack(name)
    step = make_step(net)
    sample = net.samples[0]
    targets = step.targets
    mask = np.array([[t is not None for t in targets]])
    Y = np.array([[t if t is not None else [0.0] * net.n_outputs for t in targets]],
                 dtype=float)
    expected = stack_bptt(reference_layers(net), np.array([sample["input"]], dtype=float), Y,
                          mask, net.loss.name, step_loss=net.step_loss)
    for l, layer in enumerate(net.layers):
        if layer.kind not in ("lstm", "gru"):
            continue
        n = layer.size
        for row in range(len(layer.neurons)):
            gate, j = layer.GATES[row // n], row % n
            cells = ([(Cell("dE/dw", Target("w", l, j, k, gate=gate)), 0, (row, k))
                      for k in range(layer.n_inputs)]
                     + [(Cell("dE/du", Target("u", l, j, m, gate=gate)), 1, (row, m))
                        for m in range(n)]
                     + [(Cell("dE/db", Target("b", l, j, gate=gate, side=side)), group, (row,))
                        for group, side in ((2, "ih"), (3, "hh"))])
            for cell, group, index in cells:
                mine, theirs = step.true_values[cell], expected.grads[l][group][index]
                assert abs(mine - theirs) <= 1e-12 * max(abs(theirs), 1e-300) + 1e-15, cell
        if layer.learn_initial_state:
            for j in range(n):
                mine = step.true_values[Cell("dE/dh[0]", Target("h", l, j, None, 0))]
                theirs = expected.grads[l][4][j]
                assert abs(mine - theirs) <= 1e-12 * max(abs(theirs), 1e-300) + 1e-15


def test_cells_of_a_unit_in_computation_order():
    net = stack("dense-lstm-gru-rnn-dense")
    step = make_step(net)
    labels = [c.label() for c in step.cells]
    lstm_forward = ["z_i,1^(3)[2]", "a_i,1^(3)[2]", "z_f,1^(3)[2]", "a_f,1^(3)[2]",
                    "z_g,1^(3)[2]", "a_g,1^(3)[2]", "z_o,1^(3)[2]", "a_o,1^(3)[2]",
                    "c_1^(3)[2]", "h_1^(3)[2]"]
    start = labels.index(lstm_forward[0])
    assert labels[start:start + 10] == lstm_forward
    lstm_backward = ["dE/dh_1^(3)[2]", "delta_o,1^(3)[2]", "dE/dc_1^(3)[2]",
                     "delta_i,1^(3)[2]", "delta_f,1^(3)[2]", "delta_g,1^(3)[2]"]
    start = labels.index(lstm_backward[0])
    assert labels[start:start + 6] == lstm_backward
    gru_backward = ["dE/dh_2^(4)[1]", "delta_n,2^(4)[1]", "delta_z,2^(4)[1]",
                    "delta_r,2^(4)[1]"]
    start = labels.index(gru_backward[0])
    assert labels[start:start + 4] == gru_backward
    assert {"dE/db_xo,1^(3)", "dE/db_ho,1^(3)", "new u_n,21^(4)", "dE/dc_2^(3)[0]",
            "new h_1^(4)[0]"} <= set(labels)
    sections = {c.label(): c.section for c in step.cells}
    assert sections["dE/dh_1^(3)[2]"] == sections["dE/dc_1^(3)[2]"] == "backward"
    assert sections["c_1^(3)[2]"] == "forward" and sections["dE/dh_1^(3)[0]"] == "gradients"


@pytest.mark.parametrize("style", ["ascii", "text"])
def test_every_cell_label_reads_back(style):
    step = make_step(stack("dense-lstm-gru-rnn-dense"))
    for cell in step.cells:
        assert parse_cell(cell.label("nielsen", style)) == cell, cell.label("nielsen", style)


def test_formulas_name_the_paths():
    step = make_step(stack("dense-lstm-gru-rnn-dense"))
    formulas = {c.label(): step.formula(c) for c in step.cells}
    assert formulas["dE/dc_1^(3)[2]"] == ("dE/dh_j[t] · a_o,j[t] · (1 − tanh²(c_j[t])) + "
                                          "a_f,j[t+1] · dE/dc_j[t+1]")
    assert formulas["dE/dc_1^(3)[3]"] == "dE/dh_j[t] · a_o,j[t] · (1 − tanh²(c_j[t]))"
    assert formulas["delta_n,1^(4)[2]"] == "dE/dh_j[t] · (1 − a_z,j[t]) · (1 − a_n²)"
    assert formulas["z_n,1^(4)[2]"] == ("Σ_k w_n,jk a_k[t] + b_xn,j + a_r,j[t] · (Σ_m u_n,jm "
                                        "h_m[t−1] + b_hn,j)")
    assert formulas["dE/du_n,12^(4)"] == "Σ_t h_m[t−1] · a_r,j[t] · δ_n,j[t]"
    assert step.python(next(c for c in step.cells if c.label() == "dE/db_hf,2^(3)")) == \
        'net.layers[1].gates["forget"][1].bias_hh_grad_sum'


def answer_key(net):
    return read_answers(render_worksheet(net, "csv", filled=True), "nielsen", net)


def test_the_answer_key_is_all_right():
    net = stack("dense-lstm-gru-rnn-dense")
    assert check_answers(net, answer_key(net), tolerance=0).all_right


def test_check_finds_the_forgotten_forget_path_and_its_carried_errors():
    """The classic mistake: dE/dc[t] without f[t+1]·dE/dc[t+1].  The first such cell is
    the origin; the gate deltas of that unit and step use it: carried errors."""
    net = stack("lstm-dense")
    step = make_step(net)
    answers = {cell: plain_number(value) for cell, value in step.true_values.items()}
    wrong = parse_cell("dE/dc_1^(2)[2]")
    values = step.true_values
    no_forget_path = (values[parse_cell("dE/dh_1^(2)[2]")] * values[parse_cell("a_o,1^(2)[2]")]
                      * (1 - math.tanh(values[parse_cell("c_1^(2)[2]")]) ** 2))
    assert abs(no_forget_path - values[wrong]) > 1e-3 * abs(values[wrong])
    answers[wrong] = plain_number(no_forget_path)
    # the student carries the wrong dE/dc into this step's δ_i, δ_f and δ_g
    seen = dict(values)
    seen[wrong] = no_forget_path
    carried = [parse_cell(f"delta_{q},1^(2)[2]") for q in "ifg"]
    for cell in carried:
        answers[cell] = plain_number(step.compute(cell, seen))
    result = check_answers(net, answers)
    assert result.origin.cell == wrong
    assert [r.cell for r in result.rows if r.status == "carried"] == carried
    assert result.count("wrong") == 0
    text = render_check(result)
    assert "The first wrong cell in computation order is ∂E/∂c₁⁽²⁾[2]" in text
    assert "carried errors: δ_i,1⁽²⁾[2], δ_f,1⁽²⁾[2], δ_g,1⁽²⁾[2]" in text


def test_check_marks_a_gru_update_gate_the_wrong_way_round():
    """h = z·n + (1 − z)·h[t-1] instead of (1 − z)·n + z·h[t-1]: the first h is the origin."""
    net = stack("gru-dense")
    step = make_step(net)
    values = step.true_values
    answers = {cell: plain_number(value) for cell, value in values.items()}
    cell = parse_cell("h_1^(2)[1]")
    z, n = values[parse_cell("a_z,1^(2)[1]")], values[parse_cell("a_n,1^(2)[1]")]
    answers[cell] = plain_number(z * n + (1 - z) * 0.0)         # h[0] = 0
    result = check_answers(net, answers)
    assert result.origin.cell == cell and not result.all_right


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_worksheet_tables(fmt):
    text = render_worksheet(stack("dense-lstm-gru-rnn-dense"), fmt, filled=True)
    assert ("b_{xo,1}^{(3)}" if fmt == "latex" else "b_xo,1^(3)") in text
    assert ("c_{1}^{(3)}[2]" if fmt == "latex" else "c₁⁽³⁾[2]") in text


def test_latex_worksheet_and_check_are_ascii_and_compile(tmp_path):
    net = stack("dense-lstm-gru-rnn-dense")
    marked = check_answers(net, answer_key(net))
    body = render_worksheet(net, "latex", filled=True) + "\n" + render_check(marked, "latex")
    body.encode("ascii")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    (tmp_path / "sheet.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body
        + "\n\\end{document}\n", encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "sheet.tex"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors


def test_truncated_bptt_is_still_refused():
    with pytest.raises(NeuronsimError, match=r"^worksheet: truncated BPTT \(truncation k = 2"):
        make_step(stack("lstm-dense", truncation=2))


def test_cli_worksheet_and_check_on_a_gated_network(tmp_path, capsys):
    path = tmp_path / "gru.json"
    stack("gru-dense").save(path)
    sheet = tmp_path / "sheet.csv"
    assert main(["worksheet", str(path), "--answers", "-o", str(sheet)]) == 0
    capsys.readouterr()
    assert main(["check", str(path), str(sheet)]) == 0
    assert "Every cell is right." in capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(sheet.read_text())))
    row = next(row for row in rows if row[1] == "delta_z,1^(2)[3]")
    row[-1] = "0.5"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    sheet.write_text(out.getvalue())
    assert main(["check", str(path), str(sheet)]) == 1
    assert "The first wrong cell in computation order is δ_z,1⁽²⁾[3]" in capsys.readouterr().out
    assert main(["early-update", str(path)]) == 0     # gate by gate (test_early_update_gated.py)
    assert "δ_z,1⁽²⁾[3]" in capsys.readouterr().out


def test_the_ng_convention_and_biases_as_weights():
    """Gate weights and biases take the convention's superscript (u keeps its layer's);
    a gate's two biases stay b_x and b_h when the other biases are shown as w_j0."""
    net = stack("dense-lstm-gru-rnn-dense")
    text = render_worksheet(net, "csv", convention="ng", filled=True, bias_as_weight=True)
    assert "dE/dw_f,12^(2)" in text and "dE/du_f,12^(3)" in text and "dE/db_xo,1^(2)" in text
    assert "dE/dw_10^(1)" in text                      # the dense layer's bias, as w_j0
    answers = read_answers(text, "ng", net)
    assert check_answers(net, answers, convention="ng", bias_as_weight=True).all_right


@pytest.mark.parametrize("name", ["dense-gru-on-top", "lstm-dense"])
def test_step_loss_mean_cells_reproduce_exactly(name):
    step = make_step(stack(name, step_loss="mean"))
    seen = {}
    for cell in step.cells:
        assert step.compute(cell, seen) == step.true_values[cell], cell
        seen[cell] = step.true_values[cell]
    if name == "dense-gru-on-top":
        cell = next(c for c in step.cells if c.label() == "dE/dh_1^(3)[1]")
        assert step.formula(cell).startswith("dE_t/dh_j[t] / n_T + a_z,j[t+1] · dE/dh_j[t+1]")
