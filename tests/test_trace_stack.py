"""Per-time-step traces of any stack (neuronsim.trace.recurrent), and the commands that
show them: trace, train, step, report, draw, gradient-flow and the rnn-* aliases.

The numbers in the records are the network's own (net.history and
net.gradient_arrays(), compared exactly), for a dense → recurrent (learned a[0]) →
recurrent → dense network and for the bundled rnn-parity, full and truncated BPTT;
the tables render in every format and the LaTeX compiles.
"""

import json
import shutil
import subprocess

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.files.bundled import example_path
from neuronsim.render.numfmt import format_number
from neuronsim.render.tables import latex_document
from neuronsim.trace.recurrent import RecurrentTracer, render_sequences
from neuronsim.trace.walk import walk_sequence


def stacked_spec():
    """dense -> recurrent (learned a[0]) -> recurrent -> dense, BCE at a sigmoid output."""
    return {"inputs": 2, "loss": "binary_cross_entropy", "step_loss": "mean", "layers": [
        {"activation": "tanh", "weights": [[0.5, -0.2], [0.1, 0.3], [0.2, 0.2]],
         "biases": [0.1, 0.0, -0.1]},
        {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 3,
         "learn_initial_state": True, "initial_state": [0.2, -0.3]},
        {"type": "recurrent", "activation": "sigmoid", "size": 2, "init": "uniform", "seed": 4},
        {"activation": "sigmoid", "size": 1, "init": "uniform", "seed": 5}],
        "samples": [{"input": [[1, 0], [0, 1], [1, 1]], "target": [[1], None, [0]]},
                    {"input": [[1, 1], [0, 0]], "target": [1]}],
        "learning_rate": 0.3}


def network(name):
    if name == "stack":
        return Network.from_spec(stacked_spec())
    return Network.from_spec(example_path("rnn"))


@pytest.fixture
def stack_file(tmp_path):
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(stacked_spec()))
    return str(path)


def traced(name, truncation=None, sample=0, update=False):
    net = network(name)
    tracer = RecurrentTracer().attach(net)
    x, t = net.samples[sample]["input"], net.samples[sample]["target"]
    net.forward_pass(x)
    net.back_prop(t, truncation=truncation)
    gradients = net.gradient_arrays()
    if update:
        net.update_weights(0.3)
    tracer.flush()
    return net, tracer.sequences[0], gradients


CASES = [("stack", None, 0), ("stack", 2, 0), ("stack", 1, 0), ("stack", None, 1),
         ("parity", None, 5), ("parity", 2, 11)]


# ------------------------------------------------------------------ records
@pytest.mark.parametrize("name, truncation, sample", CASES)
def test_records_hold_the_networks_numbers_exactly(name, truncation, sample):
    net, record, gradients = traced(name, truncation, sample)
    assert record.steps == len(net.history) and record.truncation == truncation
    assert [series.kind for series in record.layers] == [layer.kind for layer in net.layers]
    assert record.step_losses == net.step_losses and record.loss == net.last_loss
    for l, (series, layer) in enumerate(zip(record.layers, net.layers)):
        if layer.is_recurrent:
            assert series.states == net.states_of(l)
        for j, r in enumerate(series.neurons):
            for quantity in ("z", "output", "derivative", "delta", "output_grad"):
                assert getattr(r, {"z": "zs", "output": "outputs", "derivative": "derivatives",
                                   "delta": "deltas", "output_grad": "output_grads"}[quantity]) \
                    == net.history_of(l, j, quantity)
            if layer.is_recurrent:
                assert r.output_paths == net.history_of(l, j, "output_path")
                assert r.recurrent_paths == net.history_of(l, j, "recurrent_path")
        # every gradient total equals the network's batch gradient of this one sequence
        dW, *rest = gradients[l]
        assert np.array_equal(np.array([r.weight_totals for r in series.neurons], float), dW)
        if layer.is_recurrent:
            dU, db = rest[0], rest[1]
            assert np.array_equal(np.array([r.recurrent_totals for r in series.neurons], float),
                                  dU)
            if layer.learn_initial_state:
                assert np.array_equal(np.array(series.initial_state_grad, float), rest[2])
                assert series.initial_state_grad == layer.initial_state_grad
        else:
            db = rest[0]
        assert np.array_equal(np.array([r.bias_total for r in series.neurons], float), db)


def test_update_records_match_the_network():
    net, record, gradients = traced("stack", 2, 0, update=True)
    for l, (series, layer) in enumerate(zip(record.layers, net.layers)):
        dW = gradients[l][0]
        for j, (r, neuron) in enumerate(zip(series.neurons, layer.neurons)):
            assert r.new_weights == neuron.weights and r.new_bias == neuron.bias
            assert np.array_equal(np.array(r.batch_weight_grads, float), dW[j])
            if layer.is_recurrent:
                assert r.new_recurrent_weights == neuron.recurrent_weights
        if layer.is_recurrent and layer.learn_initial_state:
            assert series.old_initial_state == [0.2, -0.3]
            assert series.new_initial_state == layer.initial_state
            assert series.new_initial_state == [a - 0.3 * g for a, g in
                                                zip([0.2, -0.3], gradients[l][3])]


# ------------------------------------------------------------------ tables
def test_stack_tables_write_every_layer_with_numbers():
    net, record, gradients = traced("stack", None, 0, update=True)
    text = render_sequences([record], digits=6)
    num = lambda x: format_number(x, 6)   # noqa: E731
    assert "Recurrent layers 3 and 4" in text
    # a recurrent z written out from the layer below at t and its own a[t-1]
    assert "z₁⁽³⁾[2] = w₁₁⁽³⁾·a₁⁽²⁾[2] + w₁₂⁽³⁾·a₂⁽²⁾[2] + w₁₃⁽³⁾·a₃⁽²⁾[2] + u₁₁⁽³⁾·a₁⁽³⁾[1]" in text
    # δ of recurrent layer 3 at t = 1: the path from layer 4 at t plus the recurrent path
    d = net.history_of(1, 0, "delta")[0]
    assert ("δ₁⁽³⁾[1] = ((w₁₁⁽⁴⁾·δ₁⁽⁴⁾[1] + w₂₁⁽⁴⁾·δ₂⁽⁴⁾[1]) + (u₁₁⁽³⁾·δ₁⁽³⁾[2] + "
            "u₂₁⁽³⁾·δ₂⁽³⁾[2]))·g'(z₁⁽³⁾[1])") in text
    assert text.count(f" = {num(d)}\n") >= 1
    # dE/da[0] of the learned initial state
    da0 = gradients[1][3]
    assert (f"dE/da₁⁽³⁾[0] = u₁₁⁽³⁾·δ₁⁽³⁾[1] + u₂₁⁽³⁾·δ₂⁽³⁾[1] = " in text
            and f" = {num(da0[0])}\n" in text)
    # the contribution table's totals are the network's gradients
    row = next(line.split() for line in text.splitlines() if line.startswith("u₁₂⁽⁴⁾ "))
    assert row[-1] == num(gradients[2][1][0][1]).replace("-", "−")
    updates = text[text.index("Update after the whole sequence"):]
    update = next(line.split() for line in updates.splitlines() if line.startswith("a₂⁽³⁾[0] "))
    assert update[1] == "−0.3" and update[2] == num(da0[1]).replace("-", "−")
    assert update[-1] == num(net.layers[1].initial_state[1]).replace("-", "−")
    # a dense layer has no recurrent path; layer 5 (the output) at t = 2 gets no δ
    assert "2        δ₁⁽²⁾     " in text
    t2 = text[text.index("t = 2 (no target"):text.index("t = 1\n")]
    assert "δ₁⁽⁵⁾" not in t2 and "δ₁⁽⁴⁾[2] = ((0) + (u₁₁⁽⁴⁾·δ₁⁽⁴⁾[3]" in t2


def test_truncated_stack_carries_the_part_of_later_deltas():
    _, record, _ = traced("stack", 2, 0)
    text = render_sequences([record], digits=6)
    assert "truncated BPTT, k = 2 steps back" in text
    assert "u₁₁⁽³⁾·δ̃₁⁽³⁾[2]" in text and "dE/da₁⁽³⁾[0] = u₁₁⁽³⁾·δ̃₁⁽³⁾[1]" in text


def test_filters_and_times_choose_the_rows():
    _, record, _ = traced("stack", None, 0)
    text = render_sequences([record], digits=6, times=[3], layers={2}, neurons={1})
    assert "z₂⁽⁴⁾[3]" in text and "z₁⁽⁴⁾[3]" not in text and "z₂⁽⁴⁾[2]" not in text
    assert "δ₂⁽⁴⁾[3] = ((w₁₂⁽⁵⁾·δ₁⁽⁵⁾[3]) + (0))" not in text    # t = T: no recurrent path
    assert "δ₂⁽⁴⁾[3] = (w₁₂⁽⁵⁾·δ₁⁽⁵⁾[3])·g'(z₂⁽⁴⁾[3])" in text
    with pytest.raises(ValueError, match="time step 4: the sequence has steps 1 to 3"):
        render_sequences([record], times=[4])


def _pdflatex(document):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "trace.tex").write_text(document, encoding="ascii")
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                                 "trace.tex"], cwd=folder, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=120, check=False)
        errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
        return result.returncode, errors


@pytest.mark.parametrize("name, truncation, sample", [("stack", 2, 0), ("parity", None, 5)])
def test_every_format_renders_and_latex_compiles(name, truncation, sample):
    net, record, _ = traced(name, truncation, sample, update=True)
    value = format_number(net.history_of(0, 0, "delta")[0], 6)
    for fmt in ("plain", "markdown", "html", "latex"):
        text = render_sequences([record], format=fmt, digits=6)
        assert value.replace("-", "−" if fmt != "latex" else "-") in text
    latex = latex_document(render_sequences([record], format="latex", digits=6))
    latex.encode("ascii")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    assert _pdflatex(latex) == (0, [])


def test_walk_goes_through_the_time_steps():
    net, record, gradients = traced("stack", None, 0, update=True)
    computations = walk_sequence(record)
    forward = [c for c in computations if c.phase == "forward"]
    assert len(forward) == 2 * 3 * 8 and forward[0].time == 1 and forward[-1].time == 3
    backward = [c for c in computations if c.phase == "backward"]
    assert [c.time for c in backward][:1] == [3] and backward[-1].time == 1
    assert len(backward) == 8 + 7 + 8     # t = 2 has no target: the output gets no δ
    assert all(c.value == net.history[c.time - 1][c.layer][c.neuron].delta for c in backward)
    sums = next(c for c in computations if c.phase == "gradients" and c.layer == 1
                and c.neuron == 0)
    a0 = next(line for line in sums.lines if line.quantity == "initial_state_grad")
    assert a0.value == gradients[1][3][0]


# ------------------------------------------------------------------ commands
def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_trace_takes_a_stacked_file(capsys, stack_file, tmp_path):
    status, out, err = run(capsys, "trace", stack_file, "--truncation", "2", "--digits", "6")
    assert status == 0 and err == ""
    assert "truncated BPTT, k = 2 steps back" in out and "a₁⁽³⁾[0]" in out
    assert "Update after the whole sequence (η = 0.3)" in out
    status, alias, _ = run(capsys, "rnn-trace", stack_file, "--truncation", "2", "--digits", "6")
    assert status == 0 and alias == out
    tex = tmp_path / "trace.tex"
    assert run(capsys, "trace", stack_file, "--format", "latex", "-o", str(tex))[0] == 0
    if shutil.which("pdflatex"):
        assert _pdflatex(tex.read_text(encoding="ascii")) == (0, [])
    status, out, _ = run(capsys, "trace", stack_file, "--sample", "2", "--layer", "4",
                         "--times", "2", "--sections", "forward")
    assert status == 0 and "z₁⁽⁴⁾[2]" in out and "z₁⁽⁴⁾[1]" not in out and "z₁⁽³⁾" not in out
    assert "a target at the last step only (many-to-one)" in out


def test_rnn_aliases_say_so_in_their_help(capsys):
    for alias, command in (("rnn-trace", "trace"), ("rnn-train", "train")):
        with pytest.raises(SystemExit):
            main([alias, "--help"])
        out = capsys.readouterr().out
        assert f"alias of 'neuronsim {command}'" in " ".join(out.split())


def test_train_takes_a_stacked_file(capsys, stack_file, tmp_path):
    saved = tmp_path / "trained.json"
    status, out, err = run(capsys, "train", stack_file, "--epochs", "2", "--truncation", "2",
                           "--batch-size", "full", "--save", str(saved), "--quiet")
    assert status == 0 and err == ""
    assert out.startswith("training " + stack_file + ": 2 sequences, truncated BPTT (k = 2), "
                          "full-batch, learning rate 0.3")
    assert Network.from_spec(saved).layers[1].learn_initial_state
    status, _, err = run(capsys, "train", example_path("mazur"), "--truncation", "2")
    assert status == 2 and err.count("\n") == 1 and "feed-forward network" in err


def test_step_report_and_draw_take_a_stacked_file(capsys, stack_file, tmp_path):
    status, out, _ = run(capsys, "step", stack_file, "--all", "--digits", "6")
    assert status == 0
    assert "a sequence of T = 3 time steps" in out and "dE/da₁⁽³⁾[0]" in out
    assert "t = 1, layer 4, neuron 2: weighted input z₂⁽⁴⁾[1]" in out
    page = tmp_path / "walk.html"
    status, out, _ = run(capsys, "report", stack_file, "-o", str(page))
    assert status == 0 and "over 3 time steps" in out
    html = page.read_text(encoding="utf-8")
    assert html.count('<section class="computation"') == 48 + 1 + 23 + 8 + 8
    assert 'class="loop' in html and "<script>" in html
    status, svg, _ = run(capsys, "draw", stack_file, "--show", "delta")
    assert status == 0
    assert svg.count('<path class="loop') == 4 and "2 × tanh, recurrent ↻" in svg
    assert "recurrent layers 3, 4: the loop" in svg


def test_gradient_flow_takes_a_file(capsys, stack_file):
    status, out, _ = run(capsys, "gradient-flow")
    assert status == 0 and "|δ[t]| layer 2" in out and out.count("\n") > 6
    status, out, _ = run(capsys, "gradient-flow", stack_file, "--length", "12")
    assert status == 0 and "|δ[t]| layer 3" in out and "|δ[t]| layer 4" in out
    assert "repeated to T = 12 steps" in out
    status, out, _ = run(capsys, "rnn-gradient-flow", "--length", "5")
    assert status == 0 and "|δ[t]| sigmoid" in out
    status, out, _ = run(capsys, "gradient-flow", "--recurrent-weight", "0.5")
    assert status == 0 and "|δ[t]| tanh" in out


@pytest.mark.parametrize("argv, message", [
    (["trace", "{stack}", "--times", "4"], "time step 4: the sequence has steps 1 to 3"),
    (["trace", "{stack}", "--batch-size", "3"], "--batch-size 3: there are 2 samples"),
    (["trace", "{stack}", "--input", "1", "0", "--target", "1"], "--input/--target: not for"),
    (["trace", "{stack}", "--full", "--truncation", "2"], "--full and --truncation"),
    (["trace", "{rnn}", "--steps", "1001"], "--times T, --layer L or --neuron J show fewer"),
    (["trace", "{mazur}", "--times", "1"], "--times: "),
    (["step", "{stack}", "--input", "1", "0", "--target", "1"], "--input/--target: not for"),
    (["gradient-flow", "{mazur}"], "a feed-forward network (no recurrent layer)"),
    (["gradient-flow", "{stack}", "--length", "0"], "--length: expected 1 to 1000, got 0"),
])
def test_bad_input_is_one_line(capsys, stack_file, argv, message):
    names = {"stack": stack_file, "rnn": example_path("rnn"), "mazur": example_path("mazur")}
    argv = [a.format(**names) for a in argv]
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.startswith("neuronsim: error: ") and err.count("\n") == 1 and message in err


def test_one_tracer_for_every_network_and_the_old_name_refuses_feed_forward():
    from neuronsim.core.errors import NeuronsimError
    from neuronsim.files import load_example
    from neuronsim.trace import Tracer

    net, old = network("parity"), network("parity")
    tracer, recurrent = Tracer().attach(net), RecurrentTracer().attach(old)
    for each in (net, old):
        each.step([[1], [0]], [[1], [1]], 0.1)
    assert tracer.kind == "sequences" and len(tracer.sequences) == 1
    assert tracer.sequences[0].loss == recurrent.sequences[0].loss
    assert tracer.render(format="markdown") == recurrent.render(format="markdown")
    ff = load_example("mazur")
    with pytest.raises(NeuronsimError, match="this tracer holds sequences, this network makes "
                                             "feed-forward steps"):
        tracer.attach(ff)
        ff.forward_pass([0.05, 0.1])
    tracer.clear()
    ff.step([0.05, 0.1], [0.01, 0.99], 0.5)
    assert tracer.kind == "steps" and len(tracer.steps) == 1
    RecurrentTracer().attach(ff)
    with pytest.raises(NeuronsimError, match="no recurrent layer"):
        ff.forward_pass([0.05, 0.1])


def test_tracer_filters_are_for_feed_forward_steps():
    from neuronsim.core.errors import NeuronsimError
    from neuronsim.trace import Tracer

    net = network("parity")
    Tracer(layers=[0]).attach(net)
    with pytest.raises(NeuronsimError, match=r"narrow its tables with tracer.render\(layers="):
        net.forward_pass([[1], [0]])


def test_notebook_display_of_a_recurrent_tracer():
    _, record, _ = traced("stack", None, 0)
    tracer = RecurrentTracer()
    assert tracer._repr_html_() == "<p>no sequence traced yet</p>"
    tracer.records = [record] * 4
    page = tracer._repr_html_()
    assert page.count("<h2>Sequence 1") == 3 and "and 1 more sequence (tracer.render())" in page
