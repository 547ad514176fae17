"""The penalty in the trace's loss section: the data loss E, the penalty term
R = λ₁·Σ|w| + (λ₂/2)·Σw² with its numbers, and the total E + R.

R is the core's own (``net.penalty_value()`` of the weights the update starts
from); an online step shows it in its loss section, a batch in its batch loss
(once per update, as the core adds it), never in a single sample's loss of a
larger batch.  Each gradient's penalty share is the update table's own column
(tests/test_trace_optimizers.py).
"""

import shutil
import subprocess

import pytest

from neuronsim.files import load_example
from neuronsim.render.numfmt import format_number
from neuronsim.render.tables import latex_document, render_batches, render_step, render_trace
from neuronsim.trace.recurrent import RecurrentTracer, render_sequence_batches
from neuronsim.trace.tracer import Tracer

X, T = [0.05, 0.1], [0.01, 0.99]


def mazur(l1=0.0, l2=0.0, optimizer=None):
    net = load_example("mazur").set_penalty(l1=l1, l2=l2)
    if optimizer:
        net.set_optimizer(optimizer)
    return net


def weights_of(net):
    return [w for layer in net.layers for n in layer.neurons for w in n.weights]


@pytest.mark.parametrize("l1, l2", [(0.01, 0.001), (0.01, 0), (0, 0.002)])
def test_online_step_shows_data_loss_penalty_and_total(l1, l2):
    net = mazur(l1, l2, "adam")
    weights = weights_of(net)
    expected = net.penalty_value()
    tracer = Tracer().attach(net)
    loss = net.step(X, T, 0.5)
    step = tracer.steps[0]
    assert step.rule.penalty_value == expected and step.rule.penalty_weights == weights
    by_hand = l1 * sum(abs(w) for w in weights) + l2 / 2 * sum(w * w for w in weights)
    assert expected == pytest.approx(by_hand, rel=1e-15)
    text = render_step(step, digits=9, sections=("loss",))
    lines = text.splitlines()
    r_line = next(line for line in lines if line.startswith("  R = "))
    assert r_line.endswith(f" = {format_number(expected, 9)}")
    assert ("λ₁·Σ|w|" in r_line) == bool(l1) and ("(λ₂/2)·Σw²" in r_line) == bool(l2)
    if l1:
        assert f"{l1}·(|0.15| + |0.2| + |0.25| + … (8 terms) + |0.55|)" in r_line
    if l2:
        assert f"({l2}/2)·(0.15² + 0.2² + 0.25² + … (8 terms) + 0.55²)" in r_line
    total = (f"  E + R = {format_number(loss, 9)} + {format_number(expected, 9)} = "
             f"{format_number(loss + expected, 9)}")
    assert total in lines
    # the update table's penalty column holds each weight's share dR/dw
    update = render_step(step, digits=9, sections=("update",))
    assert "+ penalty dR/dw" in update


def test_no_penalty_no_r_line():
    net = load_example("mazur").set_optimizer("adam")
    tracer = Tracer().attach(net)
    net.step(X, T, 0.5)
    assert "R =" not in render_trace(tracer.steps)


def test_batch_shows_the_penalty_once_in_the_batch_loss():
    net = mazur(0.01, 0.001)
    tracer = Tracer(batches=True).attach(net)
    net.forward_pass(X)
    net.back_prop(T)
    expected = net.penalty_value()
    net.forward_pass([0.1, 0.2])
    net.back_prop(T)
    net.update_weights(0.5)
    batch = tracer.batches[0]
    text = render_batches([batch], digits=9, sections=("loss",))
    assert text.count("  R = λ₁·Σ|w| + (λ₂/2)·Σw² = ") == 1
    assert f"  E + R = {format_number(batch.loss, 9)} + {format_number(expected, 9)} = " \
           f"{format_number(batch.loss + expected, 9)}" in text
    # each sample's own loss section has no penalty: R is added once per update
    sample_part = text.split("the sums and the one update")[0]
    assert "R =" not in sample_part


def test_sequence_batch_loss_shows_the_penalty_of_w_and_u():
    net = load_example("rnn").set_penalty(l2=0.01)
    net.set_optimizer("sgd", momentum=0.9)
    tracer = RecurrentTracer(batches=True).attach(net)
    expected = net.penalty_value()
    for sample in net.samples[:2]:
        net.forward_pass(sample["input"])
        net.back_prop(sample["target"])
    net.update_weights(0.1)
    rule = tracer.batches[0].samples[-1].rule
    assert rule.penalty_value == expected
    n_weights = sum(len(n.weights) + len(getattr(n, "recurrent_weights", []))
                    for layer in net.layers for n in layer.neurons)
    assert len(rule.penalty_weights) == n_weights
    text = render_sequence_batches(tracer.batches, digits=9, sections=("loss",))
    assert f"= {format_number(expected, 9)}\n" in text and "E + R = " in text


def test_an_online_sequence_step_shows_data_loss_penalty_and_total():
    from neuronsim.trace.recurrent import render_sequence

    net = load_example("rnn").set_penalty(l1=0.001, l2=0.01)
    tracer = RecurrentTracer().attach(net)
    expected = net.penalty_value()
    sample = net.samples[0]
    loss = net.step(sample["input"], sample["target"], 0.1)
    record = tracer.sequences[0]
    assert record.loss == loss and record.rule.penalty_value == expected
    text = render_sequence(record, digits=9, sections=("loss",))
    r_line = next(line for line in text.splitlines() if line.strip().startswith("R = "))
    assert r_line.endswith(f"= {format_number(expected, 9)}")
    assert "λ₁·Σ|w|" in r_line and "(λ₂/2)·Σw²" in r_line
    assert (f"E + R = {format_number(loss, 9)} + {format_number(expected, 9)} = "
            f"{format_number(loss + expected, 9)}") in text


@pytest.mark.parametrize("fmt", ["plain", "markdown", "latex", "html"])
def test_every_format(fmt):
    net = mazur(0.01, 0.001, "sgd")
    tracer = Tracer().attach(net)
    net.step(X, T, 0.5)
    text = render_trace(tracer.steps, format=fmt, sections=("loss",))
    style = {"latex": "latex", "html": "html"}.get(fmt, "text")
    assert format_number(tracer.steps[0].rule.penalty_value, 9, style) in text
    if fmt == "latex":
        assert text.isascii() and r"\lambda_1 \cdot \sum |w|" in text


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles(tmp_path):
    net = mazur(0.01, 0.001, "adam")
    tracer = Tracer(batches=True).attach(net)
    net.step(X, T, 0.5)
    body = render_trace(tracer.steps, format="latex", sections=("loss",))
    body += render_batches(tracer.batches, format="latex", sections=("loss",))
    (tmp_path / "penalty.tex").write_text(latex_document(body), encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "penalty.tex"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors
