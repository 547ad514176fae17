"""Worksheet update cells (``worksheet --update``) and their marking (``check``).

The cells: N (clipping by norm), then per weight and bias g (with the
penalty's share, clipped), the optimizer's quantities (m, v, v_max, m̂, v̂; the
momentum buffer; ḡ; G) and the new value.  Their values are the simulator's
own (its g, its N, the state it keeps; m̂ and v̂ from its m and v), and each
cell's formula, evaluated on the earlier cells' true values, gives the cell's
value bit for bit: so a student's own earlier numbers give the carried value,
and check tells a carried error from a new one as it does for δ.
"""

import csv
import io
import shutil
import subprocess

import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.files import load_example
from neuronsim.hand.cells import Cell, parse_cell
from neuronsim.hand.label_parse import LabelError, Target
from neuronsim.hand.worksheet import (
    check_answers,
    make_step,
    read_answers,
    render_worksheet,
    worksheet_cells,
)

OPTIMIZERS = [
    (None, {}),
    ("sgd", {}),
    ("sgd", {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("adagrad", {"lr_decay": 0.1, "weight_decay": 0.1}),
    ("adam", {}),
    ("adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("adamw", {"amsgrad": True}),
]
EXTRAS = [({}, {}), ({"l1": 0.01, "l2": 0.02}, {"max_norm": 0.01}),
          ({"l2": 0.1}, {"value": 0.001})]


def configured(net, name, options, penalty=None, clip=None):
    if name is not None:
        net.set_optimizer(name, **options)
    if penalty:
        net.set_penalty(**penalty)
    if clip:
        net.set_clip(**clip)
    return net


def sheet_of(step, values):
    """A filled CSV with ``values`` ({Cell: number}) in the value column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "cell", "value"])
    for cell in step.cells:
        writer.writerow([cell.section, cell.label(), repr(values[cell])])
    return out.getvalue()


@pytest.mark.parametrize("extra", range(len(EXTRAS)))
@pytest.mark.parametrize("case", range(len(OPTIMIZERS)))
def test_every_formula_gives_the_simulators_value(case, extra):
    name, options = OPTIMIZERS[case]
    penalty, clip = EXTRAS[extra]
    if name is None and not penalty and not clip:
        penalty = {"l2": 0.05}
    for example in ("four-layer", "mazur"):
        net = configured(load_example(example), name, options, penalty, clip)
        sample = net.samples[0]
        for _ in range(3):
            for update in (False, True):
                step = make_step(net, update=update)
                known = {}
                for cell in step.cells:
                    got, want = step.compute(cell, known), step.true_values[cell]
                    assert type(got) is type(want) and got == want, (cell.label(), got, want)
                    known[cell] = want
            net.step(sample["input"], sample["target"])


def test_true_values_are_what_the_network_then_keeps():
    net = configured(load_example("four-layer"), "adam", {"amsgrad": True},
                     {"l1": 0.01}, {"max_norm": 0.05})
    sample = net.samples[0]
    net.step(sample["input"], sample["target"])
    step = make_step(net, update=True)
    net.step(sample["input"], sample["target"])
    neuron = net.layers[1].neurons[1]
    target = Target("w", 1, 1, 0)
    state = neuron.optimizer_state["weights"][0]
    values = step.true_values
    assert values[Cell("N")] == net.clip.last_norm
    assert values[Cell("g", target)] == neuron.batch_grad["weights"][0]
    assert (values[Cell("m", target)], values[Cell("v", target)],
            values[Cell("vmax", target)]) == (state["exp_avg"], state["exp_avg_sq"],
                                             state["max_exp_avg_sq"])
    assert values[Cell("mhat", target)] == state["exp_avg"] / (1 - 0.9 ** 2)
    assert values[Cell("vhat", target)] == state["max_exp_avg_sq"] / (1 - 0.999 ** 2)
    assert values[Cell("new w", target)] == neuron.weights[0]


def test_the_cells_and_their_order():
    net = Network.from_arrays([[[2.0, 1.0]]], [[0.5]], activations="linear",
                              loss="half_sse", learning_rate=0.1)
    net.set_optimizer("adam").set_clip(max_norm=1.0).set_penalty(l2=0.1)
    labels = [c.label() for c in worksheet_cells(net, update=True)]
    assert labels[-19:] == ["N"] + [
        f"{q} {p}" for p in ("w_11^(2)", "w_12^(2)", "b_1^(2)")
        for q in ("g", "m", "v", "mhat", "vhat", "new")]
    plain = [c.label() for c in worksheet_cells(net)]
    assert plain[-3:] == ["new w_11^(2)", "new w_12^(2)", "new b_1^(2)"]
    net.set_optimizer("sgd", momentum=0.9).set_clip().set_penalty()
    net.update_biases = False
    assert [c.label() for c in worksheet_cells(net, update=True)][-5:] == [
        "buf w_11^(2)", "new w_11^(2)", "buf w_12^(2)", "new w_12^(2)", "new b_1^(2)"]


def test_labels_read_back():
    for cell in worksheet_cells(configured(load_example("mazur"), "rmsprop",
                                           {"centered": True, "momentum": 0.9}, {"l1": 0.1},
                                           {"max_norm": 1.0}), update=True):
        assert parse_cell(cell.label()) == cell
        assert parse_cell(cell.label(style="text")) == cell
    assert parse_cell("vhat w_1,0^(2)") == Cell("vhat", Target("b", 0, 0))
    assert parse_cell("G b_2^(3)") == Cell("G", Target("b", 1, 1))
    with pytest.raises(LabelError, match="belongs to a weight or a bias"):
        parse_cell("m z_1^(2)")


def test_check_marks_origin_and_carried_update_cells():
    net = configured(load_example("mazur"), "adam", {}, {"l2": 0.01})
    net.step([0.05, 0.1], [0.01, 0.99])
    step = make_step(net, update=True)
    target = Target("w", 1, 0, 0)
    values = dict(step.true_values)
    values[Cell("m", target)] *= 1.5                    # the origin
    own = {}
    for cell in step.cells:                             # later cells from the wrong m
        value = step.compute(cell, own) if cell.target == target and cell.quantity in (
            "mhat", "new w") else values[cell]
        own[cell] = values[cell] = value
    answers = read_answers(sheet_of(step, values), net=net)
    result = check_answers(net, answers)
    status = {r.cell.label(): r.status for r in result.rows if r.status != "right"}
    assert status == {"m w_11^(3)": "origin", "mhat w_11^(3)": "carried",
                      "new w_11^(3)": "carried"}
    values[Cell("v", target)] *= 2                      # a second, separate mistake
    result = check_answers(net, read_answers(sheet_of(step, values), net=net))
    assert {r.cell.label(): r.status for r in result.rows if r.status != "right"}[
        "v w_11^(3)"] == "wrong"
    key = read_answers(sheet_of(step, step.true_values), net=net)
    assert check_answers(net, key).all_right


def test_a_sheet_without_update_cells_is_marked_with_the_optimizers_new_weights():
    net = configured(load_example("mazur"), "sgd", {"momentum": 0.9})
    net.step([0.05, 0.1], [0.01, 0.99])
    key = render_worksheet(net, "csv", filled=True)
    assert "\nupdate,buf " not in key and "\ngiven,buf w_11^(3) before," in key
    result = check_answers(net, read_answers(key, net=net))
    assert result.all_right
    # the new weights are momentum's, not w − η·dE/dw
    step = make_step(net)
    target = Target("w", 1, 0, 0)
    plain = (net.layers[1].neurons[0].weights[0]
             - 0.5 * step.true_values[Cell("dE/dw", target)])
    assert step.true_values[Cell("new w", target)] != plain


def test_given_rows_hold_the_options_and_the_state_before():
    net = configured(load_example("mazur"), "adam", {"betas": (0.8, 0.99)}, {"l1": 0.01},
                     {"value": 0.5})
    net.step([0.05, 0.1], [0.01, 0.99])
    text = render_worksheet(net, "csv", update=True)
    rows = {row["cell"]: row for row in csv.DictReader(io.StringIO(text))
            if row["section"] == "given"}
    assert rows["betas[0] (beta1)"]["value"] == "0.8" and rows["eps"]["value"] == "1e-08"
    assert rows["lambda1 (penalty l1)"]["value"] == "0.01"
    assert rows["clip value"]["value"] == "0.5"
    state = net.layers[1].neurons[0].optimizer_state["weights"][1]
    assert rows["m w_12^(3) before"]["value"] == repr(state["exp_avg"])
    assert rows["t w_12^(3) before"]["value"] == "1"
    assert rows["v w_12^(3) before"]["python"] == \
        "net.layers[1].neurons[0].optimizer_state['weights'][1]['exp_avg_sq']"


def test_precise_and_fraction_numbers():
    spec = {"inputs": 2, "loss": "half_sse", "learning_rate": 0.5,
            "layers": [{"activation": "linear", "weights": [[0.5, -0.25], [0.125, 1]],
                        "biases": [0.5, 0]},
                       {"activation": "relu", "weights": [[1, -0.5]], "biases": [0.25]}],
            "samples": [{"input": [1, 2], "target": [0.5]}]}
    for numbers, rule in (("fraction", ("sgd", {"momentum": 0.5, "nesterov": True},
                                        {"l1": 0.25}, {"value": 0.3})),
                          ("precise:30", ("adam", {}, {"l2": 0.01}, {"max_norm": 0.1}))):
        net = configured(Network.from_spec(spec, numbers=numbers), *rule)
        net.step([1, 2], [0.5])
        key = render_worksheet(net, "csv", update=True, filled=True)
        result = check_answers(net, read_answers(key, net=net))
        assert result.all_right, [r.cell.label() for r in result.rows if r.status != "right"]


def test_sequence_networks_have_update_cells_too():
    # (tests/test_worksheet_update_sequences.py checks them)
    net = load_example("rnn").set_optimizer("adam")
    assert "\nupdate,m u_11^(2)," in render_worksheet(net, update=True)


def test_cli(tmp_path, capsys):
    spec = tmp_path / "adam.json"
    spec.write_text('{"inputs": 2, "loss": "half_sse", "learning_rate": 0.1, '
                    '"optimizer": {"name": "adam"}, "clip": {"max_norm": 0.05}, '
                    '"layers": [{"activation": "sigmoid", "weights": [[0.15, 0.2], [0.25, 0.3]],'
                    ' "biases": [0.35, 0.35]}, {"activation": "sigmoid", "weights": '
                    '[[0.4, 0.45]], "biases": [0.6]}], '
                    '"samples": [{"input": [0.05, 0.1], "target": [0.01]}]}')
    key = tmp_path / "key.csv"
    assert main(["worksheet", str(spec), "--update", "--answers", "-o", str(key)]) == 0
    capsys.readouterr()
    assert main(["check", str(spec), str(key)]) == 0
    assert "Every cell is right." in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(key.read_text())))
    next(row for row in rows if row["cell"] == "N")["value"] = "1"
    wrong = tmp_path / "wrong.csv"
    with open(wrong, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    assert main(["check", str(spec), str(wrong)]) == 1
    assert "The first wrong cell in computation order is N" in capsys.readouterr().out
    assert main(["worksheet", str(spec), "--update", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert out.isascii() and r"\hat{m}\,w_{11}^{(2)}" in out


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles(tmp_path):
    docs = []
    for name, options in OPTIMIZERS[1:]:
        net = configured(load_example("mazur"), name, options, {"l1": 0.01, "l2": 0.01},
                         {"max_norm": 0.1})
        net.step([0.05, 0.1], [0.01, 0.99])
        docs.append(render_worksheet(net, "latex", update=True, filled=True))
    (tmp_path / "sheet.tex").write_text(
        "\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage{amsmath}\n"
        "\\usepackage[margin=1cm,landscape]{geometry}\n\\begin{document}\n"
        + "\n".join(docs) + "\n\\end{document}\n", encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "sheet.tex"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors
