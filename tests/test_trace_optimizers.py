"""The trace of an optimizer's, a penalty's or clipping's update.

The traced state before and after each step and the new values are the core's
own, bit for bit (a traced and an untraced copy of the network move alike);
every printed line ends in the number the core kept, at the printed digits;
every format renders and the LaTeX compiles; ``neuronsim trace FILE`` on a
file with an "optimizer" exits 0.
"""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from neuronsim.cli import main
from neuronsim.files import load_example
from neuronsim.render.numfmt import format_number
from neuronsim.render.tables import latex_document, render_batches, render_trace
from neuronsim.trace import Tracer

SAMPLES = [([0.05, 0.1], [0.01, 0.99]), ([0.3, -0.2], [0.5, 0.2]), ([0.9, 0.4], [0.1, 0.7])]

CASES = {
    "adam": dict(optimizer=("adam", {})),
    "adam_amsgrad_decay": dict(optimizer=("adam", {"amsgrad": True, "weight_decay": 0.05,
                                                    "betas": (0.8, 0.99)})),
    "adamw": dict(optimizer=("adamw", {"weight_decay": 0.1})),
    "sgd_nesterov": dict(optimizer=("sgd", {"momentum": 0.9, "nesterov": True,
                                            "weight_decay": 0.01})),
    "sgd_dampening": dict(optimizer=("sgd", {"momentum": 0.5, "dampening": 0.3})),
    "rmsprop_centered": dict(optimizer=("rmsprop", {"centered": True, "momentum": 0.5,
                                                    "weight_decay": 0.1})),
    "rmsprop": dict(optimizer=("rmsprop", {"alpha": 0.3})),
    "adagrad": dict(optimizer=("adagrad", {"lr_decay": 0.1, "initial_accumulator_value": 0.2})),
    "penalty_clip_norm": dict(penalty={"l1": 0.01, "l2": 0.02}, clip={"max_norm": 0.01}),
    "adam_penalty_clip_value": dict(optimizer=("adam", {}), penalty={"l2": 0.1},
                                    clip={"value": 0.05}),
}


def mazur(case, update_biases=True):
    """The mazur network (biases learning) with the case's optimizer, penalty, clipping."""
    net = load_example("mazur")
    net.update_biases = update_biases
    options = CASES[case]
    if "optimizer" in options:
        name, kwargs = options["optimizer"]
        net.set_optimizer(name, **kwargs)
    if "penalty" in options:
        net.set_penalty(**options["penalty"])
    if "clip" in options:
        net.set_clip(**options["clip"])
    return net


def run(net, steps, batch, rate=0.5):
    for s in range(steps):
        for x, t in SAMPLES[:batch]:
            net.forward_pass(x)
            net.back_prop(t)
        net.update_weights(rate)


def _identical(a, b):
    """Equal and of the same type (bit for bit for floats)."""
    assert type(a) is type(b) and a == b, (a, b)


@pytest.mark.parametrize("case", sorted(CASES))
def test_traced_state_and_new_values_are_the_cores(case):
    traced, plain = mazur(case), mazur(case)
    tracer = Tracer().attach(traced)
    for step in range(3):
        run(traced, 1, 2)
        run(plain, 1, 2)
        record = tracer.steps[-1]
        assert record.updated and record.rule is not None
        previous = tracer.steps[-3] if step else None   # the batch before ends two records back
        for r in record.neurons():
            neuron = plain.layers[r.layer].neurons[r.neuron]
            for got, want in zip(r.new_weights, neuron.weights):
                _identical(got, want)
            _identical(r.new_bias, neuron.bias)
            assert r.state_after == neuron.optimizer_state
            for name, g in neuron.batch_grad.items():
                applied = r.applied_weight_grads if name == "weights" else r.applied_bias_grad
                assert applied == g
            if previous is not None:
                before = previous.layers[r.layer][r.neuron].state_after
                assert r.state_before == before
                # the record is a copy: the network's later steps leave it alone
                assert r.state_before is not before
    # the network's trace did not change its numbers
    for a, b in zip(traced.layers, plain.layers):
        for n, m in zip(a.neurons, b.neurons):
            assert n.weights == m.weights and n.bias == m.bias


def _last_numbers(text):
    """The number at the end of each '… = number' line of the plain trace."""
    return [line.rsplit(" = ", 1)[1] for line in text.splitlines()
            if line.startswith("  ") and " = " in line]


@pytest.mark.parametrize("case", sorted(CASES))
def test_printed_lines_end_in_the_cores_numbers(case):
    net = mazur(case)
    tracer = Tracer().attach(net)
    run(net, 2, 1)
    step = tracer.steps[-1]
    text = render_trace([step], digits=9, sections=("update",))
    ends = _last_numbers(text)
    assert ends
    kept = set()
    for r in step.neurons():
        values = [(r.weights[k], r.new_weights[k], r.state_after["weights"][k]
                   if r.state_after and "weights" in r.state_after else {})
                  for k in range(len(r.weights))]
        values.append((r.bias, r.new_bias, (r.state_after or {}).get("bias", {})))
        for old, new, state in values:
            kept.add(format_number(new, 9))
            assert f"= {format_number(new, 9)}\n" in text + "\n"
            for key, value in state.items():
                if key == "step":
                    assert f": t = {value}" in text
                    continue
                kept.add(format_number(value, 9))
                assert f"= {format_number(value, 9)}" in text, (key, value)
    # every line's last number is a kept value, or a derived one (m̂, v̂, a decayed g or θ,
    # nesterov's g) computed in the core's own expressions: at least the new values appear
    assert kept & set(ends)


def test_adam_lines_read_like_the_brief():
    net = mazur("adam")
    tracer = Tracer().attach(net)
    run(net, 1, 1)
    r = tracer.steps[0].layers[1][0]
    text = render_trace(tracer.steps, digits=4, sections=("update",))
    g = format_number(r.applied_weight_grads[0], 4)
    m = format_number(r.state_after["weights"][0]["exp_avg"], 4)
    assert f"w₁₁⁽³⁾: m ← m + (1 − β₁)·(g − m) = 0 + 0.1·({g} − 0) = {m}" in text
    assert "w₁₁⁽³⁾: t = 1" in text and "m̂ = m/(1 − β₁ᵗ)" in text and "v̂ = v/(1 − β₂ᵗ)" in text


@pytest.mark.parametrize("fmt", ["plain", "markdown", "latex", "html"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_format_renders(case, fmt):
    net = mazur(case, update_biases=False)
    tracer = Tracer(batches=True).attach(net)
    run(net, 2, 3)
    text = render_trace(tracer.steps, format=fmt, digits=6)
    batches = render_batches(tracer.batches, format=fmt, digits=6)
    new = format_number(net.layers[-1].neurons[0].weights[0], 6, "latex" if fmt == "latex"
                        else "html" if fmt == "html" else "text")
    assert new in text and new in batches
    assert "(fixed)" in text
    if fmt == "latex":
        assert "←" not in text and "β" not in text


def _pdflatex(document):
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "trace.tex").write_text(document, encoding="ascii")
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                                 "trace.tex"], cwd=folder, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=120, check=False)
        errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
        pdf = Path(folder, "trace.pdf")
        return result.returncode, errors, pdf.stat().st_size if pdf.exists() else 0


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_of_every_case_compiles():
    parts = []
    for case in sorted(CASES):
        net = mazur(case)
        tracer = Tracer(batches=True).attach(net)
        run(net, 2, 2)
        parts.append(render_trace(tracer.steps[-1:], format="latex", digits=6,
                                  sections=("update",)))
        parts.append(render_batches(tracer.batches[-1:], format="latex", digits=6,
                                    sections=("update",)))
    code, errors, size = _pdflatex(latex_document("\n\n".join(parts)))
    assert code == 0 and not errors and size > 0, errors


def test_batch_update_is_the_optimizers_not_w_minus_eta_g():
    net = mazur("adam")
    tracer = Tracer(batches=True).attach(net)
    run(net, 1, 3)
    text = render_batches(tracer.batches, digits=9)
    assert "Update, once for the batch (learning rate η = 0.5): adam" in text
    assert "m ← m + (1 − β₁)·(g − m)" in text
    assert "dE/dw (mean over 3 samples)" in text


def test_recurrent_trace_records_the_update():
    """Once pinned the refusal; tests/test_trace_optimizers_sequences.py checks the numbers."""
    from neuronsim.core.recurrent import RecurrentNetwork
    from neuronsim.trace.recurrent import RecurrentTracer

    net = RecurrentNetwork.from_arrays([[0.5]], [[0.1]], [0.0], [([[1.0]], [0.0])])
    net.set_optimizer("adam")
    tracer = RecurrentTracer().attach(net)
    net.forward_pass([[1.0], [0.5]])
    net.back_prop([[0.2], [0.3]])
    net.update_weights(0.1)
    record = tracer.sequences[0].layers[0].neurons[0]
    assert record.state_after == net.layers[0].neurons[0].optimizer_state


@pytest.mark.parametrize("argv", [[], ["--format", "latex"], ["--format", "html"],
                                  ["--format", "markdown"], ["--batch-size", "full"]])
def test_cli_trace_of_a_file_with_an_optimizer_exits_0(tmp_path, capsys, argv):
    spec = load_example("mazur").to_spec()
    spec["optimizer"] = {"name": "adam", "amsgrad": True}
    spec["penalty"] = {"l2": 0.01}
    spec["clip"] = {"max_norm": 0.1}
    path = tmp_path / "adam.json"
    path.write_text(json.dumps(spec))
    assert main(["trace", str(path), "--steps", "2", *argv]) == 0
    out = capsys.readouterr().out
    assert re.search(r"adam|\badam\b", out)


@pytest.mark.parametrize("numbers, name, options", [
    ("precise:30", "adam", {"amsgrad": True}),
    ("precise:30", "rmsprop", {"centered": True}),
    ("fraction", "sgd", {"momentum": 0.5, "nesterov": True, "weight_decay": 0.25}),
])
def test_other_number_modes_trace_the_cores_numbers(numbers, name, options):
    def build():
        if numbers == "fraction":    # fraction mode runs linear layers only
            from neuronsim import Network
            net = Network.from_arrays([[[1, 2], [3, -1]], [[1, -2], [2, 1]]], [[0, 1], [1, 0]],
                                      activations="linear", loss="half_sse",
                                      numbers=numbers, update_biases=False)
        else:
            net = load_example("mazur", numbers=numbers)
        return net.set_optimizer(name, **options)

    traced, plain = build(), build()
    tracer = Tracer().attach(traced)
    run(traced, 2, 1)
    run(plain, 2, 1)
    for r in tracer.steps[-1].neurons():
        neuron = plain.layers[r.layer].neurons[r.neuron]
        assert r.new_weights == neuron.weights and r.state_after == neuron.optimizer_state
    for fmt in ("plain", "latex", "html", "markdown"):
        assert "(fixed)" in render_trace(tracer.steps, format=fmt, digits=8)
