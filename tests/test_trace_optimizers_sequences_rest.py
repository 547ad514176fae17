"""The sequence trace of RMSprop, Adagrad and AdamW (the update lines feed-forward
and sequence traces share), and the LaTeX of every optimizer's lines inside the
page's margin.

As tests/test_trace_optimizers_sequences.py does for Adam and SGD: a traced and
an untraced copy of a network that reads sequences move alike, bit for bit, and
the traced state before and after each step is the core's own.  Then pdflatex
on the update lines of every optimizer, feed-forward and sequence, at 9 and 17
digits: no error and no Overfull box (each LaTeX line is set in three rows).
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from test_trace_optimizers_sequences import (
    _check_record,
    _identical,
    _value,
    batches_of,
    owners,
    stack_spec,
)

from neuronsim import Network
from neuronsim.files import load_example
from neuronsim.files.bundled import example_path
from neuronsim.render.numfmt import format_number
from neuronsim.render.tables import latex_document, render_trace
from neuronsim.trace.recurrent import RecurrentTracer, render_sequence_batches, render_sequences
from neuronsim.trace.tracer import Tracer, copy_state

OPTIMIZERS = {
    "rmsprop": ("rmsprop", {}),
    "rmsprop_centered_momentum": ("rmsprop", {"centered": True, "momentum": 0.9,
                                              "weight_decay": 0.01}),
    "adagrad": ("adagrad", {"lr_decay": 0.1, "weight_decay": 0.01,
                            "initial_accumulator_value": 0.1}),
    "adamw": ("adamw", {}),
    "adamw_amsgrad": ("adamw", {"amsgrad": True, "weight_decay": 0.1}),
}
# The state each optimizer keeps, and the line that writes it.
STATE_LINES = {"rmsprop": ("square_avg", "v ← α·v + (1 − α)·g² = "),
               "adagrad": ("sum", "G ← G + g² = "),
               "adamw": ("exp_avg_sq", "v ← β₂·v + (1 − β₂)·g² = ")}


def network(name, optimizer, penalty=None, clip=None):
    net = Network.from_spec(stack_spec() if name == "stack" else example_path("rnn"))
    kind, options = OPTIMIZERS[optimizer]
    net.set_optimizer(kind, **options)
    if penalty:
        net.set_penalty(**penalty)
    if clip:
        net.set_clip(**clip)
    return net


@pytest.mark.parametrize("size", [1, 2])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("name", ["stack", "parity"])
def test_traced_state_and_new_values_are_the_cores(name, optimizer, size):
    penalty = {"l1": 0.001, "l2": 0.01} if size == 2 else None
    clip = {"max_norm": 0.5} if size == 2 else None
    traced, plain = (network(name, optimizer, penalty, clip),
                     network(name, optimizer, penalty, clip))
    tracer = RecurrentTracer(batches=size > 1).attach(traced)
    batches = batches_of(plain, size)[:3]
    for _ in range(2):
        for batch in batches:
            before = {place: copy_state(owner.optimizer_state) for place, owner in owners(plain)}
            for net in (traced, plain):
                for xs, targets in batch:
                    net.forward_pass(xs)
                    net.back_prop(targets)
                net.update_weights(0.05)
            _check_record(tracer.sequences[-1], plain, before)
            if size > 1:
                for p in tracer.batches[-1].parameters:
                    _identical(p.new, _value(plain, p))
    for a, b in zip(traced.layers, plain.layers):
        assert a.parameters() == b.parameters()


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_printed_lines_end_in_the_cores_numbers(optimizer):
    net = network("stack", optimizer)
    tracer = RecurrentTracer().attach(net)
    for s in net.samples[:2]:
        net.step(s["input"], s["target"], 0.1)
    text = render_sequences(tracer.sequences[-1:], digits=9, sections=("update",))
    kind = OPTIMIZERS[optimizer][0]
    key, line = STATE_LINES[kind]
    assert f"Update after the whole sequence (η = 0.1): {kind} (" in text
    layer = net.layers[1]
    for j, neuron in enumerate(layer.neurons):
        assert f"= {format_number(neuron.recurrent_weights[0], 9)}\n" in text
        assert f"= {format_number(layer.initial_state[j], 9)}\n" in text
        state = layer.optimizer_state["initial_state"][j]
        assert f"a{'₁₂'[j]}⁽³⁾[0]: {line}" in text
        assert f"= {format_number(state[key], 9)}\n" in text
        assert f"a{'₁₂'[j]}⁽³⁾[0]: t = 2\n" in text
    if kind == "adamw":
        decay = OPTIMIZERS[optimizer][1].get("weight_decay", 0.01)
        assert f"u₁₂⁽³⁾ ← u₁₂⁽³⁾·(1 − η·λ) = " in text and f"·(1 − 0.1·{decay}) = " in text
    if optimizer == "rmsprop_centered_momentum":
        assert "ḡ ← ḡ + (1 − α)·(g − ḡ) = " in text and "b ← μ·b + g/(√(v − ḡ²) + ε) = " in text
    if kind == "adagrad":
        assert "(η/(1 + (t − 1)·lr_decay))" in text and "(0.1/(1 + 1·0.1))" in text


def test_batches_render_for_every_optimizer():
    for optimizer in sorted(OPTIMIZERS):
        net = network("parity", optimizer, penalty={"l2": 0.01})
        tracer = RecurrentTracer(batches=True).attach(net)
        for xs, targets in batches_of(net, 3)[0]:
            net.forward_pass(xs)
            net.back_prop(targets)
        net.update_weights(0.1)
        text = render_sequence_batches(tracer.batches, digits=6, sections=("update",))
        assert f"Update, once for the batch (learning rate η = 0.1): " \
               f"{OPTIMIZERS[optimizer][0]} (" in text
        assert format_number(net.layers[-1].neurons[0].weights[0], 6) in text


def _overfull(document):
    """(return code, errors, Overfull boxes) of pdflatex on ``document``."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "lines.tex").write_text(document, encoding="ascii")
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                                 "lines.tex"], cwd=folder, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=120, check=False)
        lines = result.stdout.splitlines()
        errors = [line for line in lines if line.startswith("!")]
        boxes = [line for line in lines if re.match(r"Overfull \\hbox .* detected at line", line)]
        return result.returncode, errors, boxes


ALL = {"adam": {"amsgrad": True}, "adamw": {}, "sgd": {"momentum": 0.9, "nesterov": True},
       "rmsprop": {"momentum": 0.9}, "adagrad": {"lr_decay": 0.1}}


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("digits", [9, 17])
def test_latex_lines_stay_inside_the_margin(digits):
    """Every optimizer's lines at 9 digits; Adam's (the longest) also at 17."""
    parts = []
    for kind, options in ALL.items():
        if digits > 9 and kind not in ("adam", "adamw"):
            continue
        net = load_example("mazur").set_optimizer(kind, **options).set_penalty(l1=0.01, l2=0.001)
        tracer = Tracer().attach(net)
        for _ in range(2):
            net.step([0.05, 0.1], [0.01, 0.99], 0.5)
        parts.append(render_trace(tracer.steps[-1:], format="latex", digits=digits,
                                  sections=("loss", "update")))
        net = load_example("rnn").set_optimizer(kind, **options)
        tracer = RecurrentTracer().attach(net)
        for s in net.samples[:2]:
            net.step(s["input"], s["target"], 0.1)
        parts.append(render_sequences(tracer.sequences[-1:], format="latex", digits=digits,
                                      sections=("update",)))
    code, errors, boxes = _overfull(latex_document("\n\n".join(parts)))
    assert code == 0 and not errors, errors
    assert boxes == [], boxes[:5]
