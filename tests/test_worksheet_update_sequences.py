"""Worksheet update cells (``worksheet --update``) and ``check`` on networks that read sequences.

An Elman stack (dense, recurrent with a learned a[0], recurrent, dense) and
a stack of every kind (dense, LSTM with learned h[0] and c[0], GRU with a
learned h[0], Elman, dense) with each optimizer, a penalty and clipping:
the update cells of every parameter (w, u, b; a gate's w, u, b_x, b_h;
a[0], h[0], c[0]) hold what the core's own update gives (the network then
stepped for real), each cell's formula evaluated on the earlier true values
gives that value bit for bit, check names a planted wrong m as the first
wrong cell and the cells computed from it as carried errors, the CSV answer
key reads back and is all right, and the cell budgets still bound the sheet.
"""

import csv
import io
import shutil
import subprocess

import pytest
from test_explain_gated import stack

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.core.errors import NeuronsimError
from neuronsim.hand.cells import UPDATE_QUANTITIES, Cell, parse_cell
from neuronsim.hand.label_parse import Target
from neuronsim.hand.update_step import parameter_state
from neuronsim.hand.worksheet import (
    check_answers,
    make_step,
    read_answers,
    render_worksheet,
    worksheet_cells,
)
from neuronsim.hand.worksheet_time import MAX_CELLS
from neuronsim.hand.worksheet_update import STATE_OF, locate

OPTIMIZERS = [
    ("adam", {}),
    ("adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd", {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("adagrad", {"lr_decay": 0.1, "weight_decay": 0.1}),
    ("adamw", {"amsgrad": True}),
    (None, {}),
]
EXTRAS = [({}, {}), ({"l1": 0.01, "l2": 0.02}, {"max_norm": 0.05}),
          ({"l2": 0.1}, {"value": 0.01})]


def elman_stack(numbers="float"):
    """dense → Elman with a learned a[0] → Elman → dense, one sequence of 3 steps."""
    spec = {"inputs": 2, "loss": "half_sse", "learning_rate": 0.3,
            "layers": [{"type": "dense", "activation": "tanh", "size": 2, "init": "uniform",
                        "seed": 1},
                       {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform",
                        "seed": 2, "learn_initial_state": True, "initial_state": [0.2, -0.4]},
                       {"type": "recurrent", "activation": "sigmoid", "size": 2,
                        "init": "uniform", "seed": 3},
                       {"type": "dense", "activation": "linear", "size": 1, "init": "uniform",
                        "seed": 4}],
            "samples": [{"input": [[0.5, -1.0], [0.25, 0.75], [-0.5, 0.1]],
                         "target": [[0.3], None, [-0.2]]}]}
    return Network.from_spec(spec, numbers=numbers)


STACKS = {"elman": elman_stack,
          "all-kinds": lambda numbers="float": stack("dense-lstm-gru-rnn-dense",
                                                     numbers=numbers)}


def configured(net, name, options, penalty=None, clip=None):
    if name is not None:
        net.set_optimizer(name, **options)
    if penalty:
        net.set_penalty(**penalty)
    if clip:
        net.set_clip(**clip)
    return net


def real_step(net):
    sample = net.samples[0]
    net.step(sample["input"], sample["target"])


def kept_value(net, cell):
    """The number the core keeps for an update or new-parameter cell, read
    from ``net`` after its real update (m̂ and v̂, not kept, from m and v)."""
    q, target = cell.quantity, cell.target
    if q == "N":
        return net.clip.last_norm
    owner, name, k = locate(net, target)
    if q.startswith("new "):
        value = getattr(owner, name)
    elif q == "g":
        value = owner.batch_grad[name]
    else:
        state = parameter_state(owner, name, k, net.optimizer)
        kept = {STATE_OF[net.optimizer.name].get(key, key): v for key, v in state.items()}
        if q in ("mhat", "vhat"):
            beta1, beta2 = net.optimizer._numeric["betas"]
            return (kept["m"] / (1 - beta1 ** kept["t"]) if q == "mhat"
                    else kept.get("vmax", kept["v"]) / (1 - beta2 ** kept["t"]))
        return kept[q]
    return value[k] if k is not None else value


def update_part(step):
    return [c for c in step.cells if c.quantity == "N" or c.quantity in UPDATE_QUANTITIES
            or c.quantity.startswith("new ")]


@pytest.mark.parametrize("extra", range(len(EXTRAS)))
@pytest.mark.parametrize("case", range(len(OPTIMIZERS)))
@pytest.mark.parametrize("name", sorted(STACKS))
def test_cells_equal_the_cores_update_and_their_formulas(name, case, extra):
    optimizer, options = OPTIMIZERS[case]
    penalty, clip = EXTRAS[extra]
    if optimizer is None and not penalty and not clip:
        penalty = {"l2": 0.05}
    net = configured(STACKS[name](), optimizer, options, penalty, clip)
    for _ in range(3):        # the first step (fresh state) and two with state
        for update in (False, True):
            step = make_step(net, update=update)
            known = {}
            for cell in step.cells:
                got, want = step.compute(cell, known), step.true_values[cell]
                assert type(got) is type(want) and got == want, (cell.label(), got, want)
                known[cell] = want
        cells = update_part(step)
        assert {c.quantity for c in cells} >= {"new w", "new u", "new b"}
        real_step(net)                       # the core's own update, on the network itself
        for cell in cells:
            assert step.true_values[cell] == kept_value(net, cell), cell.label()


def test_every_parameter_kind_has_its_update_cells():
    net = configured(stack("dense-lstm-gru-rnn-dense"), "adam", {}, {"l2": 0.1},
                     {"max_norm": 1.0})
    labels = [c.label() for c in worksheet_cells(net, update=True)]
    for label in ("N", "g u_f,12^(3)", "m b_xi,1^(3)", "vhat b_hn,2^(4)", "new h_1^(3)[0]",
                  "mhat c_2^(3)[0]", "m h_1^(4)[0]", "g u_12^(5)", "new b_1^(6)"):
        assert label in labels, label
    assert "g b_xi,1^(3)" in labels and "g h_1^(3)[0]" in labels   # clipping: every g
    net.set_clip()
    labels = [c.label() for c in worksheet_cells(net, update=True)]
    assert "g b_xi,1^(3)" not in labels and "g w_f,12^(3)" in labels   # penalty: weights
    # the layout: after the gradient sums, in the core's order of parameters
    first = labels.index("g w_11^(2)")
    assert all(not lab.startswith("dE/d") for lab in labels[first:])
    assert labels[first - 1] == "dE/db_1^(6)"
    assert labels[first:first + 7] == [f"{q} w_11^(2)" for q in
                                       ("g", "m", "v", "mhat", "vhat", "new")] + ["g w_12^(2)"]


@pytest.mark.parametrize("name", sorted(STACKS))
def test_labels_read_back(name):
    net = configured(STACKS[name](), "rmsprop", {"centered": True, "momentum": 0.9},
                     {"l1": 0.1}, {"max_norm": 1.0})
    for cell in worksheet_cells(net, update=True):
        assert parse_cell(cell.label()) == cell, cell.label()
        assert parse_cell(cell.label(style="text")) == cell, cell.label(style="text")
    assert parse_cell("m a_1^(3)[0]") == Cell("m", Target("a", 1, 0, None, 0))
    assert parse_cell("buf u_12^(2)") == Cell("buf", Target("u", 0, 0, 1))


def test_a_sheet_without_update_cells_has_the_optimizers_new_values():
    net = configured(elman_stack(), "sgd", {"momentum": 0.9})
    real_step(net)
    step = make_step(net)
    assert not any(c.quantity in UPDATE_QUANTITIES for c in step.cells)
    target = Target("u", 1, 0, 1)
    plain = (net.layers[1].neurons[0].recurrent_weights[1]
             - 0.3 * step.true_values[Cell("dE/du", target)])
    assert step.true_values[Cell("new u", target)] != plain
    assert step.formula(Cell("new u", target)) == "u − η·buf"     # the momentum's step
    key = render_worksheet(net, "csv", filled=True)
    assert "\ngiven,buf u_12^(3) before," in key
    assert check_answers(net, read_answers(key, net=net), tolerance=0).all_right
    real_step(net)
    assert step.true_values[Cell("new u", target)] == net.layers[1].neurons[0].recurrent_weights[1]


def sheet_of(step, values):
    """A filled CSV with ``values`` ({Cell: number}) in the value column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "cell", "value"])
    for cell in step.cells:
        writer.writerow([cell.section, cell.label(), repr(values[cell])])
    return out.getvalue()


@pytest.mark.parametrize("name, target", [
    ("elman", Target("u", 1, 0, 1)),
    ("elman", Target("a", 1, 1, None, 0)),
    ("all-kinds", Target("w", 1, 0, 1, gate="forget")),
    ("all-kinds", Target("b", 2, 1, gate="new", side="hh")),
    ("all-kinds", Target("c", 1, 0, None, 0)),
])
def test_check_marks_a_wrong_m_and_its_carried_cells(name, target):
    net = configured(STACKS[name](), "adam", {}, {"l2": 0.01})
    real_step(net)
    step = make_step(net, update=True)
    values = dict(step.true_values)
    values[Cell("m", target)] *= 1.5                    # the origin
    own = {}
    for cell in step.cells:                             # the later cells from the wrong m
        if cell.target == target and (cell.quantity == "mhat"
                                      or cell.quantity.startswith("new ")):
            values[cell] = step.compute(cell, own)
        own[cell] = values[cell]
    result = check_answers(net, read_answers(sheet_of(step, values), net=net), tolerance=0)
    m = Cell("m", target).label()
    rest = m[2:]
    status = {r.cell.label(): r.status for r in result.rows if r.status != "right"}
    new = next(c.label() for c in step.cells if c.target == target
               and c.quantity.startswith("new "))
    assert status == {m: "origin", "mhat " + rest: "carried", new: "carried"}
    values[Cell("v", target)] *= 2                      # a second, separate mistake
    result = check_answers(net, read_answers(sheet_of(step, values), net=net), tolerance=0)
    assert {r.cell.label(): r.status for r in result.rows}["v " + rest] == "wrong"


@pytest.mark.parametrize("numbers", ["float", "precise:30"])
@pytest.mark.parametrize("name", sorted(STACKS))
def test_the_csv_answer_key_round_trips(name, numbers):
    net = configured(STACKS[name](numbers), "adam", {"amsgrad": True}, {"l1": 0.01}, {"max_norm": 0.1})
    real_step(net)
    key = render_worksheet(net, "csv", update=True, filled=True)
    answers = read_answers(key, net=net)
    step = make_step(net, update=True)
    assert set(answers) == set(step.cells)
    result = check_answers(net, answers, tolerance=0)
    assert result.all_right, [r.cell.label() for r in result.rows if r.status != "right"]
    rows = {row["cell"]: row for row in csv.DictReader(io.StringIO(key))}
    u = "u_21^(3)" if name == "elman" else "u_f,21^(3)"
    assert rows[f"m {u} before"]["section"] == "given"
    assert rows[f"t {u} before"]["value"] == "1"
    assert rows[f"vhat {u}"]["python"] == "not kept (computed from m or v)"
    latex = render_worksheet(net, "latex", update=True)
    assert latex.isascii() and r"\hat{v}\," in latex


def test_the_cell_limit_counts_the_update_cells():
    net = configured(elman_stack(), "adam", {})

    def sample(steps):
        return [[0.1, 0.2]] * steps, [[0.1]] * steps

    # the longest sequence whose sheet without update cells is within the limit
    steps = next(n for n in range(100, 200)
                 if len(worksheet_cells(net, *sample(n + 1))) > MAX_CELLS)
    assert len(worksheet_cells(net, *sample(steps), update=True)) > MAX_CELLS
    assert len(make_step(net, *sample(steps)).cells) <= MAX_CELLS
    with pytest.raises(NeuronsimError, match=f"more than {MAX_CELLS}"):
        make_step(net, *sample(steps), update=True)


def test_cli_worksheet_update_and_check(tmp_path, capsys):
    spec = tmp_path / "lstm.json"
    spec.write_text('{"inputs": 1, "loss": "half_sse", "learning_rate": 0.1, '
                    '"optimizer": {"name": "adam"}, "clip": {"max_norm": 0.05}, '
                    '"layers": [{"type": "lstm", "size": 1, "init": "uniform", "seed": 3}, '
                    '{"activation": "linear", "size": 1, "init": "uniform", "seed": 4}], '
                    '"samples": [{"input": [[0.5], [-0.5]], "target": [[0.2], [0.1]]}]}')
    key = tmp_path / "key.csv"
    assert main(["worksheet", str(spec), "--update", "--answers", "-o", str(key)]) == 0
    capsys.readouterr()
    assert main(["check", str(spec), str(key)]) == 0
    assert "Every cell is right." in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(key.read_text())))
    row = next(row for row in rows if row["cell"] == "m u_f,11^(2)")
    row["value"] = "1"
    wrong = tmp_path / "wrong.csv"
    with open(wrong, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    assert main(["check", str(spec), str(wrong)]) == 1
    out = capsys.readouterr().out
    assert "The first wrong cell in computation order is m u_f,11⁽²⁾" in out
    assert "There is no other independent mistake." in out
    # the budget of worksheet --update still refuses a network too big to fill in by hand
    big = tmp_path / "big.json"
    big.write_text('{"inputs": 60, "loss": "half_sse", "learning_rate": 0.1, '
                   '"optimizer": {"name": "adam"}, '
                   '"layers": [{"type": "recurrent", "activation": "tanh", "size": 40}, '
                   '{"activation": "linear", "size": 1}]}')
    assert main(["worksheet", str(big), "--update"]) == 2
    assert "cells, over the limit of 20,000" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles(tmp_path):
    docs = []
    for name in sorted(STACKS):
        for optimizer, options in OPTIMIZERS[:-1]:
            net = configured(STACKS[name](), optimizer, options, {"l1": 0.01}, {"max_norm": 0.1})
            real_step(net)
            docs.append(render_worksheet(net, "latex", update=True, filled=True))
    (tmp_path / "sheet.tex").write_text(
        "\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage{amsmath}\n"
        "\\usepackage[margin=1cm,landscape]{geometry}\n\\begin{document}\n"
        + "\n".join(docs) + "\n\\end{document}\n", encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "sheet.tex"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=300, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors
