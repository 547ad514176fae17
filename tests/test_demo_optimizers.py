"""``neuronsim demo optimizers``: six optimizers on the bundled XOR problem, the
steps each needs to reach a loss, and the loss curves as SVG (neuronsim's own)
and PNG (matplotlib); the same every run, to the byte."""

import xml.etree.ElementTree as ET

import pytest

from neuronsim.classroom.optimizer_race import CONTESTANTS, Run, race, steps_table
from neuronsim.classroom.plots import _tick_step, loss_curves_svg
from neuronsim.cli.main import main
from neuronsim.files import load_example

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def runs():
    return race(epochs=60)


def test_every_run_starts_alike_and_is_its_optimizers(runs):
    assert [r.label for r in runs] == [c[0] for c in CONTESTANTS]
    assert len({r.losses[0] for r in runs}) == 1          # the same weights, the same first loss
    # plain SGD (θ + (−η)·g) is plain gradient descent (θ − η·g), bit for bit
    plain = load_example("xor").train(epochs=60, learning_rate=0.5, batch_size=None,
                                      shuffle=False)
    assert runs[0].losses == plain
    adam = load_example("xor").set_optimizer("adam")
    assert runs[4].losses == adam.train(epochs=60, learning_rate=0.05, batch_size=None,
                                        shuffle=False)
    assert race(epochs=60)[3].losses == runs[3].losses    # the same every run


def test_steps_to_a_loss():
    run = Run("x", "sgd", {}, 0.1, [0.9, 0.6, 0.5, 0.7, 0.2])
    assert (run.steps_to(0.5), run.steps_to(0.6), run.steps_to(0.2), run.steps_to(0.1)) == \
        (3, 2, 5, None)
    rows = steps_table([run, Run("y", "sgd", {"momentum": 0.9}, 0.1, [0.04])], (0.5, 0.05))
    assert rows == [["x", "sgd", 0.1, 3, None, 0.2],
                    ["y", "sgd (momentum 0.9)", 0.1, 1, 1, 0.04]]


def test_svg_is_the_curves_and_the_same_bytes(runs):
    curves = [(r.label, r.losses) for r in runs] + [("<a & b>", [0.5, 0.25])]
    text = loss_curves_svg(curves, "Title & <more>")
    assert text == loss_curves_svg(curves, "Title & <more>")
    root = ET.fromstring(text)
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == len(curves)
    assert [len(p.get("points").split()) for p in lines] == [60] * len(runs) + [2]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Title & <more>" in texts and "<a & b>" in texts and "SGD" in texts
    linear = ET.fromstring(loss_curves_svg([("zero", [0.0, 1.0])]))
    assert [t.text for t in linear.iter(f"{SVG}text")][-2] == "loss E"
    with pytest.raises(ValueError, match="not a finite number"):
        loss_curves_svg([("nan", [float("nan")])])
    with pytest.raises(ValueError, match="at least one curve"):
        loss_curves_svg([])


def test_tick_steps_are_round():
    assert [_tick_step(n) for n in (5, 12, 30, 60, 500, 5000)] == [1, 2, 5, 10, 100, 1000]


def test_cli_prints_the_table(capsys):
    assert main(["demo", "optimizers"]) == 0
    out = capsys.readouterr().out
    assert "E ≤ 0.5" in out and "E after 500" in out
    for label in ("SGD", "momentum", "RMSprop", "Adagrad", "Adam", "AdamW"):
        assert f"\n{label} " in out
    assert "AdamW        adamw (weight_decay 0.01)  0.05" in out
    assert "-o FILE.svg writes the loss curves" in out


def test_cli_writes_the_same_bytes(tmp_path, capsys):
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    assert main(["demo", "optimizers", "-o", str(first)]) == 0
    assert main(["demo", "optimizers", "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert f"wrote {first}" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert main(["demo", "optimizers", "-o", str(tmp_path / "only.png")]) == 0
    assert not (tmp_path / "only.svg").exists()
    assert (tmp_path / "only.png").read_bytes() == (tmp_path / "a.png").read_bytes()


def test_cli_refuses_what_it_cannot_do(tmp_path, capsys):
    assert main(["demo", "optimizers", "-o", str(tmp_path / "plot.pdf")]) == 2
    assert "give a file name ending in .svg" in capsys.readouterr().err
    assert main(["demo", "optimizers", "--numbers", "precise"]) == 2
    assert "--numbers does not apply to this demo" in capsys.readouterr().err
