"""Batch steps traced: every sample, the accumulated gradient, the batch loss, one update.

The traced numbers are checked against the network's own batch gradient
(``Network.gradient_arrays``) and weights after ``update_weights``, and against
the independent matrix form (:mod:`neuronsim.crosscheck.vectorized`) plus a
numpy update, to 1e-12 of the largest per-sample term (a sum over samples may
cancel: its error is relative to its terms, not to itself).
"""

import math
import re
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from catalogue import (
    MAZUR_SAMPLE,
    SOFTMAX_SAMPLES,
    XOR_SAMPLES,
    mazur,
    random_network,
    random_samples,
    softmax_233,
    xor,
)

from neuronsim import Network
from neuronsim.cli.core import trace_batches
from neuronsim.cli.main import main
from neuronsim.crosscheck.vectorized import backprop, network_arrays
from neuronsim.render.tables import (
    FORMATS,
    latex_document,
    render_batch,
    render_batches,
)
from neuronsim.trace import Tracer
from neuronsim.core.summation import sum_in_order

RTOL = 1e-12
MAZUR_TWO = [MAZUR_SAMPLE, ([0.2, -0.3], [0.5, 0.2])]


def _random_331(**options):
    return random_network([3, 3, 2], "tanh", "linear", "mse", seed=5, **options)


CASES = {
    # name: (network builder, samples, learning rate)
    "mazur": (lambda **o: mazur(update_biases=True, **o), MAZUR_TWO, 0.5),
    "xor": (xor, XOR_SAMPLES, 0.5),
    "softmax": (softmax_233, SOFTMAX_SAMPLES, 0.1),
    "random": (_random_331, random_samples(3, 2, "linear", "mse", 5, seed=2), 0.05),
}


def _batch_step(builder, samples, rate, reduction, tracer=None):
    """One batch step of ``samples`` on a traced network and on an untraced twin.

    Returns (batch record, the twin's gradient_arrays() before its update,
    the twin after its update, the traced network after its update)."""
    traced, twin = builder(reduction=reduction), builder(reduction=reduction)
    tracer = (tracer or Tracer(batches=True)).attach(traced)
    for x, t in samples:
        traced.forward_pass(x)
        traced.back_prop(t)
        twin.forward_pass(x)
        twin.back_prop(t)
    gradients = twin.gradient_arrays()
    traced.update_weights(rate)
    twin.update_weights(rate)
    return tracer.batches[0], gradients, twin, traced


def _close(got, want, scale, what):
    assert abs(got - want) <= RTOL * max(abs(want), scale), \
        f"{what}: traced {got!r}, expected {want!r}"


def _array_entry(arrays, p):
    """The entry of [(dW, db), ...] or [(W, b), ...] that parameter record p names."""
    matrix, vector = arrays[p.layer]
    return matrix[p.neuron, p.index] if p.kind == "weight" else vector[p.neuron]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("case", list(CASES))
def test_traced_gradient_and_update_equal_the_network_and_numpy(case, reduction):
    builder, samples, rate = CASES[case]
    batch, gradients, twin, traced = _batch_step(builder, samples, rate, reduction)
    n = len(samples)
    assert (batch.size, batch.divisor, batch.unseen) == (n, n if reduction == "mean" else 1, 0)
    assert len(batch.samples) == n and batch.updated

    # the independent matrix form of the same batch, and the update done in numpy
    arrays = network_arrays(builder(reduction=reduction))
    X = np.array([x for x, _ in samples], dtype=float)
    Y = np.array([t for _, t in samples], dtype=float)
    matrix = backprop(arrays["weights"], arrays["biases"], arrays["activations"],
                      arrays["loss"], X, Y, reduction)
    numpy_new = [(W - rate * dW, b - rate * db) for W, b, dW, db
                 in zip(arrays["weights"], arrays["biases"], matrix.dW, matrix.db)]
    after = twin.to_arrays()
    sizes = [layer.size * (layer.n_inputs + 1) for layer in twin.layers]
    assert len(batch.parameters) == sum(sizes)

    for p in batch.parameters:
        what = f"{case} {reduction} layers[{p.layer}].neurons[{p.neuron}] {p.kind} {p.index}"
        scale = max(abs(t) for t in p.terms) / batch.divisor
        # the network's own numbers: the same operations, so the same floats
        assert p.gradient == _array_entry(gradients, p), what
        assert p.new == _array_entry(after, p), what
        assert p.total / p.divisor == p.gradient
        _close(math.fsum(p.terms), p.total, scale * batch.divisor, what + " Σ of terms")
        # the matrix form and a numpy update
        _close(p.gradient, _array_entry(list(zip(matrix.dW, matrix.db)), p),
               scale, what + " vs numpy")
        _close(p.new, _array_entry(numpy_new, p), abs(p.old), what + " new vs numpy")
        assert p.new == p.old - rate * (p.total / p.divisor)     # w ← w − η·(Σ dE_s/dw)/n
    _close(batch.loss, matrix.loss, max(batch.losses), f"{case} batch loss")
    assert batch.losses == pytest.approx(list(matrix.sample_losses), rel=RTOL)
    assert traced.to_spec() == twin.to_spec()


def test_each_term_is_that_sample_alone():
    """dE_s/dw of sample s is what one back_prop of s alone gives (the same weights)."""
    batch, *_ = _batch_step(*CASES["softmax"][:2], 0.1, "mean")
    for s, (x, t) in enumerate(SOFTMAX_SAMPLES):
        alone = softmax_233()
        alone.forward_pass(x)
        alone.back_prop(t)
        for p in batch.parameters:
            neuron = alone.layers[p.layer].neurons[p.neuron]
            want = neuron.bias_grad if p.kind == "bias" else neuron.weight_grads[p.index]
            assert p.terms[s] == want
        assert batch.losses[s] == alone.last_loss
        assert batch.samples[s].input == x and batch.samples[s].target == t


def test_mean_and_sum_reductions_differ_by_n():
    mean, *_ = _batch_step(*CASES["xor"][:2], 0.5, "mean")
    total, *_ = _batch_step(*CASES["xor"][:2], 0.5, "sum")
    n = len(XOR_SAMPLES)
    assert total.loss == pytest.approx(n * mean.loss, rel=RTOL)
    assert mean.loss == sum_in_order(mean.losses) / n and total.loss == sum_in_order(total.losses)
    for pm, ps in zip(mean.parameters, total.parameters):
        assert pm.terms == ps.terms and pm.total == ps.total
        assert (pm.divisor, ps.divisor) == (n, 1)
        assert ps.gradient == ps.total and pm.gradient == pm.total / n
    plain = render_batch(total, sections=["gradients", "update"], digits=6)
    assert "reduction sum" in plain and "Σ/4" not in plain
    assert "dE/dw₁₁⁽²⁾ = dE₁/dw₁₁⁽²⁾ + dE₂/dw₁₁⁽²⁾ + dE₃/dw₁₁⁽²⁾ + dE₄/dw₁₁⁽²⁾ = " in plain
    assert "w₁₁⁽²⁾ ← w₁₁⁽²⁾ − η·Σₛ dEₛ/dw₁₁⁽²⁾ = 1 − 0.5·" in plain
    plain = render_batch(mean, sections=["loss", "gradients", "update"], digits=6)
    assert "then ÷ 4: reduction mean" in plain and "dE/d(parameter) = Σ/4" in plain
    assert "w₁₁⁽²⁾ ← w₁₁⁽²⁾ − η·(Σₛ dEₛ/dw₁₁⁽²⁾)/4 = 1 − 0.5·" in plain
    assert "E = (E₁ + E₂ + E₃ + E₄)/4 = " in plain


def test_rendered_numbers_are_the_recorded_numbers():
    batch, *_ = _batch_step(*CASES["mazur"][:2], 0.5, "mean")
    text = render_batch(batch, digits=17, sections=["loss", "gradients", "update"],
                        layers={0}, neurons={0})
    p = batch.parameters[0]                       # w₁₁⁽²⁾
    line = next(l for l in text.splitlines() if l.strip().startswith("dE/dw₁₁⁽²⁾ ="))
    first, second, result = [float(v) for v in
                             re.findall(r"-?\d+\.\d+(?:e-?\d+)?", line.replace("−", "-"))]
    assert (first, second, result) == (p.terms[0], p.terms[1], p.gradient)
    line = next(l for l in text.splitlines() if l.strip().startswith("w₁₁⁽²⁾ ←"))
    numbers = [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?",
                                            line.split(" = ", 1)[1].replace("−", "-"))]
    assert numbers == [p.old, 0.5, p.total, 2, p.new]
    loss = next(l for l in text.splitlines() if l.strip().startswith("E = (E₁ + E₂)/2 = "))
    assert float(loss.rsplit("= ", 1)[1]) == batch.loss
    # the filters keep one neuron's weights and bias; other layers are gone
    sums = text[text.index("Accumulated gradient"):]
    assert "w₁₂⁽²⁾" in sums and "b₁⁽²⁾" in sums and "w₂₁⁽²⁾" not in sums and "⁽³⁾" not in sums


def test_each_sample_has_its_tables_and_no_update_of_its_own():
    batch, *_ = _batch_step(*CASES["mazur"][:2], 0.5, "mean")
    text = render_batch(batch)
    assert text.count("Update") == 1                          # only the batch's one update
    assert "Batch step 1, sample 1 of 2: input x = (0.05, 0.1), target t = (0.01, 0.99)" in text
    assert "Batch step 1, sample 2 of 2: input x = (0.2, −0.3), target t = (0.5, 0.2)" in text
    assert text.count("Backward pass") == 2 and text.count("Gradients of this sample") == 2
    assert text.index("sample 2 of 2") < text.index("Accumulated gradient") \
        < text.index("Update, once for the batch")
    forward_only = render_batch(batch, sections=["forward"])
    assert "Accumulated" not in forward_only and "the sums and the one update" not in forward_only


def test_fixed_biases_are_shown_fixed():
    batch, *_ = _batch_step(lambda **o: mazur(**o), MAZUR_TWO, 0.5, "mean")
    bias = next(p for p in batch.parameters if p.kind == "bias")
    assert not bias.updated and bias.new == bias.old == 0.35
    text = render_batch(batch, sections=["update"])
    assert "0.35 (fixed)" in text and "b₁⁽²⁾ = 0.35 (biases fixed: update_biases is false)" in text


def test_many_samples_are_abbreviated_like_every_long_sum():
    samples = random_samples(3, 2, "linear", "mse", 9, seed=4)
    batch, *_ = _batch_step(_random_331, samples, 0.05, "mean")
    text = render_batch(batch, sections=["gradients"], digits=4)
    header = next(l for l in text.splitlines() if l.startswith("parameter") and "Σ" in l)
    assert "sample 3" in header and "…" in header and "sample 9" in header \
        and "sample 4" not in header
    assert "(9 terms)" in text


def _fraction_batch():
    net = Network.from_arrays([[[1, -1], [2, 1]], [[1, 1]]], [[0, 1], [0]], ["relu", "linear"],
                              "half_sse", numbers="fraction")
    tracer = Tracer(batches=True).attach(net)
    for x, t in [([1, 2], [1]), ([2, 0], [0]), ([0, 1], [1])]:
        net.forward_pass(x)
        net.back_prop(t)
    net.update_weights(Fraction(1, 2))
    return tracer.batches[0]


def test_batch_of_fractions_is_exact():
    batch = _fraction_batch()
    assert all(isinstance(p.gradient, Fraction) and isinstance(p.new, Fraction)
               for p in batch.parameters)
    assert all(p.total == sum_in_order(p.terms) and p.gradient == p.total / 3 for p in batch.parameters)
    text = render_batches([batch], sections=["loss", "update"])
    assert "E = (E₁ + E₂ + E₃)/3 = " in text and "/3 = " in text
    latex = render_batches([batch], format="latex", sections=["update"])
    assert r"learning rate $\eta$ = $\frac{1}{2}$" in latex      # a heading: math mode
    assert r"& $\frac{1}{2}$ " in latex                           # a table cell: math mode


def test_unseen_samples_are_said_and_the_loss_not_invented():
    net = mazur(update_biases=True)
    net.forward_pass(MAZUR_TWO[0][0])
    net.back_prop(MAZUR_TWO[0][1])
    tracer = Tracer(batches=True).attach(net)      # attached in the middle of the batch
    net.forward_pass(MAZUR_TWO[1][0])
    net.back_prop(MAZUR_TWO[1][1])
    net.update_weights(0.5)
    batch = tracer.batches[0]
    assert (batch.size, batch.unseen, batch.loss) == (2, 1, None)
    text = render_batch(batch)
    assert "1 sample of this batch was back-propagated before the tracer saw it" in text
    assert "Batch step 1, sample 2 of 2" in text and "sample 1 of 2" not in text
    assert "the batch loss needs every sample's E" in text
    assert "+ (1 unseen))/2" in text


def test_render_batches_needs_a_batch_tracer():
    net = mazur()
    tracer = Tracer().attach(net)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    assert tracer.batches == []
    with pytest.raises(ValueError, match="batches=True"):
        tracer.render_batches()
    with pytest.raises(ValueError, match="unknown section"):
        render_batches([], sections=["sums"])


def test_batch_records_leave_the_step_records_as_they_were():
    plain, batched = mazur(update_biases=True), mazur(update_biases=True)
    steps = Tracer().attach(plain)
    both = Tracer(batches=True).attach(batched)
    for net in (plain, batched):
        for x, t in MAZUR_TWO:
            net.forward_pass(x)
            net.back_prop(t)
        net.update_weights(0.5)
    assert steps.render() == both.render()
    assert len(both.steps) == 2 and len(both.batches) == 1
    assert both.batches[0].samples == both.steps


def test_keep_false_keeps_no_batch():
    seen = []
    net = mazur()
    tracer = Tracer(keep=False, sink=seen.append, batches=True).attach(net)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    assert tracer.batches == [] and len(seen) == 1 and tracer.batch_count == 1


# ---------------------------------------------------------------- formats
def _render_everywhere(batch):
    for fmt in FORMATS:
        for convention in ("nielsen", "ng"):
            for bias_as_weight in (False, True):
                yield fmt, render_batches([batch], format=fmt, convention=convention,
                                          bias_as_weight=bias_as_weight, digits=5)


def test_every_format_renders():
    batch, *_ = _batch_step(*CASES["softmax"][:2], 0.1, "mean")
    for fmt, text in _render_everywhere(batch):
        assert "Accumulated gradient" in text and "Batch step 1" in text, fmt
        if fmt == "latex":
            assert text.isascii(), sorted({c for c in text if not c.isascii()})
            assert r"\leftarrow" in text and r"\frac{\partial E_{3}}" in text
            assert r"$\Sigma$ over 3 samples" in text
        if fmt == "html":
            assert "<h2>Batch step 1: 3 samples" in text and "<table>" in text
            assert "&part;E<sub>2</sub>/&part;" in text
        if fmt == "markdown":
            assert "## Batch step 1, sample 3 of 3" in text and "| parameter" in text
    ng = render_batch(batch, convention="ng", sections=["update"])
    assert "w₁₁⁽¹⁾ ← w₁₁⁽¹⁾" in ng
    as_weight = render_batch(batch, bias_as_weight=True, sections=["gradients"])
    rows = [l.split()[0] for l in as_weight.splitlines() if l.startswith("w")]
    assert rows[:3] == ["w₁₀⁽²⁾", "w₁₁⁽²⁾", "w₁₂⁽²⁾"]          # the bias first, as w_j0


def test_latex_compiles():
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    batch, *_ = _batch_step(*CASES["softmax"][:2], 0.1, "sum")
    fixed, *_ = _batch_step(lambda **o: mazur(**o), MAZUR_TWO, 0.5, "mean")
    unseen = _mid_batch_record()
    exact = _fraction_batch()
    body = "\n".join(render_batches([b], format="latex", bias_as_weight=flag)
                     for b in (batch, fixed, unseen, exact) for flag in (False, True))
    return_code, errors, pdf = _pdflatex(latex_document(body))
    assert return_code == 0 and not errors, errors
    assert pdf > 0


def _mid_batch_record():
    net = xor()
    net.forward_pass(XOR_SAMPLES[0][0])
    net.back_prop(XOR_SAMPLES[0][1])
    tracer = Tracer(batches=True).attach(net)
    for x, t in XOR_SAMPLES[1:]:
        net.forward_pass(x)
        net.back_prop(t)
    net.update_weights(0.5)
    return tracer.batches[0]


def _pdflatex(document):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "batch.tex").write_text(document, encoding="ascii")
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                                 "batch.tex"], cwd=folder, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=120, check=False)
        errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
        pdf = Path(folder, "batch.pdf")
        return result.returncode, errors, pdf.stat().st_size if pdf.exists() else 0


# ---------------------------------------------------------------- command line
@pytest.fixture
def xor_file(tmp_path):
    path = tmp_path / "xor.json"
    net = xor(learning_rate=0.5, samples=[{"input": x, "target": t} for x, t in XOR_SAMPLES])
    net.save(path)
    return str(path)


@pytest.mark.parametrize("size, steps", [("full", 1), ("full", 3), ("2", 3), ("3", 2), ("4", 1)])
def test_traced_batches_end_where_train_no_shuffle_ends(xor_file, tmp_path, capsys, size, steps):
    """trace --batch-size N --steps k updates the weights as train --no-shuffle does
    after k updates (here: whole epochs of batches)."""
    traced = Network.from_spec(xor_file)
    batch = len(XOR_SAMPLES) if size == "full" else int(size)
    tracer = trace_batches(traced, [(x, t) for x, t in XOR_SAMPLES], steps, batch, 0.5)
    per_epoch = -(-len(XOR_SAMPLES) // batch)
    assert len(tracer.batches) == steps
    assert [b.size for b in tracer.batches][:per_epoch] == \
        [min(batch, len(XOR_SAMPLES) - i) for i in range(0, len(XOR_SAMPLES), batch)][:steps]
    if steps % per_epoch == 0:
        saved = tmp_path / "trained.json"
        assert main(["train", xor_file, "--epochs", str(steps // per_epoch), "--batch-size", size,
                     "--no-shuffle", "--quiet", "--save", str(saved)]) == 0
        assert Network.from_spec(str(saved)).to_spec() == traced.to_spec()
    last = tracer.batches[-1]
    for p in last.parameters:
        neuron = traced.layers[p.layer].neurons[p.neuron]
        assert p.new == (neuron.bias if p.kind == "bias" else neuron.weights[p.index])


def test_cli_full_batch_trace(xor_file, capsys):
    assert main(["trace", xor_file, "--batch-size", "full", "--digits", "6"]) == 0
    out = capsys.readouterr().out
    assert "Batch step 1: 4 samples, every δ with the same weights, then one update" in out
    assert "Batch step 1, sample 4 of 4: input x = (1, 1), target t = (0)" in out
    assert "Accumulated gradient (Σ over the 4 samples, then ÷ 4: reduction mean)" in out
    net = xor()
    for x, t in XOR_SAMPLES:
        net.forward_pass(x)
        net.back_prop(t)
    dW, _ = net.gradient_arrays()[0]
    losses = [xor().loss_of(x, t) for x, t in XOR_SAMPLES]
    net.update_weights(0.5)
    new = net.layers[0].neurons[0].weights[0]
    row = next(l for l in out.splitlines() if l.startswith("w₁₁⁽²⁾ ") and "0.5" in l)
    assert row.split()[1:] == ["1", f"{dW[0, 0]:.6g}".replace("-", "−"), "0.5", f"{new:.6g}"]
    assert f"/4 = {sum(losses) / 4:.6g}" in out


def test_cli_batch_trace_takes_the_view_options(xor_file, capsys, tmp_path):
    out_file = tmp_path / "batch.tex"
    assert main(["trace", xor_file, "--batch-size", "2", "--steps", "2", "--format", "latex",
                 "--layer", "3", "--neuron", "1", "--sections", "gradients", "update",
                 "--convention", "ng", "--bias-as-weight", "-o", str(out_file)]) == 0
    text = out_file.read_text(encoding="utf-8")
    assert text.startswith("\\documentclass") and text.isascii()
    assert "Batch step 2" in text and r"w_{10}^{(2)}" in text and r"w_{11}^{(1)}" not in text
    assert "Forward pass" not in text
    if shutil.which("pdflatex"):
        code, errors, _ = _pdflatex(text)
        assert code == 0 and not errors, errors
    capsys.readouterr()
    assert main(["trace", xor_file, "--batch-size", "1", "--sections", "loss"]) == 0
    online = capsys.readouterr().out
    assert main(["trace", xor_file, "--sections", "loss"]) == 0
    assert capsys.readouterr().out == online and "Batch" not in online


def test_cli_batch_trace_in_precise_numbers(xor_file, capsys):
    assert main(["trace", xor_file, "--batch-size", "full", "--numbers", "precise:30",
                 "--digits", "25", "--sections", "update", "--layer", "3"]) == 0
    out = capsys.readouterr().out
    net = xor()
    for x, t in XOR_SAMPLES:
        net.forward_pass(x)
        net.back_prop(t)
    net.update_weights(0.5)
    wanted = net.layers[1].neurons[0].weights[0]
    line = next(l for l in out.splitlines() if l.strip().startswith("w₁₁⁽³⁾ ←"))
    shown = float(line.rsplit("= ", 1)[1].replace("−", "-"))
    assert len(line.rsplit("= ", 1)[1]) > 20 and shown == pytest.approx(wanted, rel=1e-14)


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "--batch-size: expected at least 1, got 0"),
    (["--batch-size", "-2"], "--batch-size: expected at least 1, got -2"),
    (["--batch-size", "two"], "--batch-size: expected a whole number or 'full', got 'two'"),
    (["--batch-size", "1.5"], "--batch-size: expected a whole number or 'full', got '1.5'"),
    (["--batch-size", "5"], ("--batch-size 5: there are 4 samples (--batch-size full takes "
                             "them all)")),
    (["--batch-size", "2", "--input", "0", "1", "--target", "1"],
     "--batch-size 2: there is 1 sample (--batch-size full takes them all)"),
    (["--batch-size", "2", "--steps", "0"], "--steps: expected at least 1, got 0"),
    (["--batch-size", "full", "--steps", "300"],
     ("--steps 300 with --batch-size full traces 1,200 samples; at most 1,000 (fewer --steps "
      "or a smaller --batch-size)")),
])
def test_cli_bad_batch_values_exit_2_with_one_line(xor_file, capsys, argv, message):
    assert main(["trace", xor_file] + argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"neuronsim: error: {message}\n" and captured.out == ""


def test_train_show_outputs(xor_file, tmp_path, capsys):
    saved = tmp_path / "trained.json"
    assert main(["train", xor_file, "--epochs", "50", "--quiet", "--show-outputs",
                 "--digits", "8", "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "each sample through the trained network:" in out
    trained = Network.from_spec(str(saved))
    losses = []
    for number, (x, t) in enumerate(XOR_SAMPLES, start=1):
        output = trained.forward_pass(x)[0]
        loss = trained.loss_of(x, t)
        losses.append(loss)
        row = next(l for l in out.splitlines() if l.startswith(f"{number} "))
        cells = row.split()
        assert cells[-1] == f"{loss:.8g}" and cells[-2] == f"({output:.8g})"
        assert cells[-3] == f"({t[0]})"
    assert f"mean loss over the 4 samples: {sum(losses) / 4:.8g}" in out
    assert main(["train", xor_file, "--epochs", "2", "--quiet"]) == 0
    assert "trained network:" not in capsys.readouterr().out


def test_train_show_outputs_of_a_recurrent_network(capsys):
    from neuronsim.files import example_path

    assert main(["train", example_path("rnn"), "--epochs", "1", "--quiet",
                 "--show-outputs", "--digits", "4"]) == 0
    out = capsys.readouterr().out
    rows = [l for l in out.splitlines() if re.match(r"\d+ ", l)]
    assert rows and all("; " in row for row in rows)   # one output per time step
    assert "mean loss over the" in out or "summed loss over the" in out


def test_record_time_filters_render_what_view_filters_render():
    """trace records only the neurons it shows; the tables are the same as
    filtering a full record (softmax deltas need the whole layer: kept)."""
    for layers, neurons in [({1}, {1}), ({0}, None), (None, {0, 2})]:
        full, *_ = _batch_step(softmax_233, SOFTMAX_SAMPLES, 0.1, "mean")
        part, *_ = _batch_step(softmax_233, SOFTMAX_SAMPLES, 0.1, "mean",
                               Tracer(batches=True, layers=layers, neurons=neurons))
        assert render_batch(part, layers=layers, neurons=neurons) == \
            render_batch(full, layers=layers, neurons=neurons)


def test_cli_bounds_the_gradient_terms_of_a_wide_network(tmp_path, capsys):
    samples = random_samples(200, 10, "linear", "mse", 20, seed=1)
    net = random_network([200, 100, 10], "tanh", "linear", "mse", seed=1, learning_rate=0.1,
                         samples=[{"input": x, "target": t} for x, t in samples])
    path = str(tmp_path / "wide.json")
    net.save(path)
    assert main(["trace", path, "--batch-size", "full", "--steps", "3"]) == 2
    assert capsys.readouterr().err == (
        "neuronsim: error: --steps 3 with --batch-size full traces 60 samples of 21,110 parameters "
        "each; at most 1,000,000 gradient terms (--layer L or --neuron J show fewer "
        "parameters; fewer --steps or a smaller --batch-size fewer samples)\n")
    assert main(["trace", path, "--batch-size", "full", "--steps", "3", "--layer", "3",
                 "--sections", "update", "--digits", "4"]) == 0
    out = capsys.readouterr().out
    assert out.count("Update, once for the batch") == 3 and "w₁₀,₁₀₀⁽³⁾" in out
