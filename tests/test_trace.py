"""The tracer records what the network computed; the renderer writes it out."""

import pytest
from catalogue import MAZUR_SAMPLE, XOR_SAMPLES, mazur, softmax_233, xor

from neuronsim import Network
from neuronsim.render.tables import render_step, render_trace
from neuronsim.trace import Tracer


def traced_mazur():
    net = mazur()
    tracer = Tracer().attach(net)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    return net, tracer


def test_records_match_the_network():
    net = mazur()
    reference = mazur()
    tracer = Tracer().attach(net)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    reference.forward_pass(MAZUR_SAMPLE[0])
    reference.back_prop(MAZUR_SAMPLE[1])
    step = tracer.steps[0]
    for l, layer in enumerate(reference.layers):
        for j, neuron in enumerate(layer.neurons):
            record = step.layers[l][j]
            assert (record.z, record.output, record.derivative) == \
                (neuron.z, neuron.output, neuron.derivative)
            assert (record.output_grad, record.delta) == (neuron.output_grad, neuron.delta)
            assert record.weight_grads == neuron.weight_grads
            assert record.weights == neuron.weights           # the weights before the update
            assert record.new_weights == net.layers[l].neurons[j].weights
    assert step.layers[0][0].downstream == [(0.4, reference.layers[1].neurons[0].delta),
                                            (0.5, reference.layers[1].neurons[1].delta)]
    assert step.loss == reference.last_loss and step.updated and step.learning_rate == 0.5


def test_tracing_changes_no_number():
    plain, traced = xor(), xor()
    Tracer().attach(traced)
    plain.train(XOR_SAMPLES, epochs=3, learning_rate=0.5, batch_size=2, seed=1)
    traced.train(XOR_SAMPLES, epochs=3, learning_rate=0.5, batch_size=2, seed=1)
    assert plain.to_spec() == traced.to_spec()


def test_disabled_tracer_records_nothing():
    net = mazur()
    tracer = Tracer(enabled=False).attach(net)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    tracer.flush()
    assert tracer.steps == []


def test_mini_batch_update_goes_with_the_last_step():
    net = xor()
    tracer = Tracer().attach(net)
    net.train(XOR_SAMPLES, epochs=1, learning_rate=0.5, batch_size=2, shuffle=False)
    assert [s.updated for s in tracer.steps] == [False, True, False, True]
    last = tracer.steps[1]
    assert last.batch_size == 2
    first = tracer.steps[0]
    mean = [(a + b) / 2 for a, b in zip(first.layers[1][0].weight_grads,
                                         last.layers[1][0].weight_grads)]
    assert last.layers[1][0].batch_weight_grads == pytest.approx(mean, rel=1e-15)
    assert "mean over 2 samples" in render_step(last, sections=["update"])


def test_filters_at_record_time():
    net = mazur()
    tracer = Tracer(layers=[1], neurons=[0]).attach(net)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    step = tracer.steps[0]
    assert step.layers[0] == [] and [r.neuron for r in step.layers[1]] == [0]


def test_sink_streams_steps_without_keeping_them():
    seen = []
    net = mazur()
    tracer = Tracer(keep=False, sink=seen.append).attach(net)
    for _ in range(3):
        net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    assert tracer.steps == [] and [s.index for s in seen] == [1, 2, 3]


def test_forward_only_steps_are_kept_on_flush():
    net = mazur()
    tracer = Tracer().attach(net)
    net.forward_pass([0.05, 0.1])
    net.forward_pass([0.1, 0.2])
    text = tracer.render(sections=["forward", "backward"])
    assert "Step 1" in text and "Step 2" in text and "Backward" not in text


def test_rendered_numbers_are_the_recorded_numbers():
    _, tracer = traced_mazur()
    text = tracer.render(digits=9)
    assert "z₁⁽²⁾ = w₁₁⁽²⁾·a₁⁽¹⁾ + w₁₂⁽²⁾·a₂⁽¹⁾ + b₁⁽²⁾ = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775" in text
    assert ("E = ½(t₁ − a₁⁽³⁾)² + ½(t₂ − a₂⁽³⁾)² = ½(0.01 − 0.75136507)² + "
            "½(0.99 − 0.772928465)² = 0.298371109") in text
    assert "δ₁⁽³⁾ = dE/da₁⁽³⁾·g'(z₁⁽³⁾) = 0.74136507·0.186815602 = 0.138498562" in text
    assert "0.35 (fixed)" in text


def test_paired_output_delta_is_explained():
    net = softmax_233()
    tracer = Tracer().attach(net)
    net.step([0.5, -1.0], [1, 0, 0], learning_rate=0.1)
    text = tracer.render(sections=["backward"], digits=4)
    assert "δ₁⁽³⁾ = dE/dz₁⁽³⁾ = a₁⁽³⁾ − t₁ =" in text
    assert "softmax with cross-entropy" in text


def test_long_sums_are_abbreviated():
    from catalogue import random_network

    net = random_network([10, 3, 2], "tanh", "linear", "mse", seed=2)
    tracer = Tracer().attach(net)
    net.step([0.1] * 10, [0.0, 1.0], learning_rate=0.1)
    text = tracer.render(sections=["forward"])
    assert "… (11 terms)" in text


def test_render_trace_rejects_unknown_options():
    _, tracer = traced_mazur()
    with pytest.raises(ValueError, match="unknown format"):
        render_trace(tracer.steps, format="pdf")
    with pytest.raises(ValueError, match="unknown convention"):
        render_trace(tracer.steps, convention="bishop")
    with pytest.raises(ValueError, match="unknown section"):
        render_trace(tracer.steps, sections=["everything"])


def test_latex_output_is_plain_ascii():
    """pdflatex without unicode packages compiles it (checked by hand with TeX Live)."""
    net = softmax_233()
    tracer = Tracer().attach(net)
    net.step([0.5, -1.0], [1, 0, 0], learning_rate=0.1)
    text = tracer.render(format="latex", bias_as_weight=True)
    assert text.isascii(), [c for c in text if not c.isascii()][:5]
    _, tracer = traced_mazur()
    assert tracer.render(format="latex").isascii()


def _hidden_softmax():
    from neuronsim import Network

    return Network.from_arrays([[[0.5, -0.2], [0.3, 0.8]], [[0.2, -0.4]]], [[0.1, 0], [0]],
                               ["softmax", "linear"], "half_sse")


def _numbers_in(equation):
    """The numbers of an equation's last two '=' parts: the arithmetic and the result."""
    import re
    text = equation.replace("−", "-")
    return [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)]


def test_softmax_hidden_delta_is_written_with_the_jacobian():
    net = _hidden_softmax()
    tracer = Tracer().attach(net)
    net.step([1, 2], [1], learning_rate=0.1)
    text = tracer.render(sections=["backward"], digits=12)
    line = next(l for l in text.splitlines() if l.strip().startswith("δ₁⁽²⁾"))
    assert "δ₁⁽²⁾ = a₁⁽²⁾·((w₁₁⁽³⁾·δ₁⁽³⁾) − (dE/da₁⁽²⁾·a₁⁽²⁾ + dE/da₂⁽²⁾·a₂⁽²⁾))" in line
    a, w, d_out, total, delta = _numbers_in(line.split(" = ", 2)[2])
    assert a * (w * d_out - total) == pytest.approx(delta, rel=1e-10)
    assert delta == pytest.approx(net.layers[0].neurons[0].delta, rel=1e-11)
    assert "shows only the diagonal" in text


def test_softmax_output_equation_with_a_neuron_filter_uses_the_whole_layer():
    from neuronsim import Network

    net = Network.from_arrays([[[0.5, -0.2], [0.3, 0.8]], [[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]]],
                              [[0.1, 0], [0, 0.1, -0.1]], ["relu", "softmax"], "half_sse")
    tracer = Tracer(neurons=[1]).attach(net)
    net.step([1, 2], [0, 1, 0], learning_rate=0.1)
    text = tracer.render(sections=["backward"], digits=12)
    line = next(l for l in text.splitlines() if l.strip().startswith("δ₂⁽³⁾"))
    assert "dE/da₁⁽³⁾·a₁⁽³⁾ + dE/da₂⁽³⁾·a₂⁽³⁾ + dE/da₃⁽³⁾·a₃⁽³⁾" in line
    a, grad, total, delta = _numbers_in(line.split(" = ", 2)[2])
    assert a * (grad - total) == pytest.approx(delta, rel=1e-10)


def test_ng_note_names_the_bias_superscript_and_long_inputs_are_cut():
    from catalogue import random_network

    net = random_network([20, 2, 1], "tanh", "linear", "mse", seed=3)
    tracer = Tracer().attach(net)
    net.step([0.5] * 20, [1.0], learning_rate=0.1)
    text = tracer.render(convention="ng", sections=["loss"])
    assert "b_j^(l) is the bias of neuron j of layer l+1" in text
    assert "input x = (0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, … (20 values))" in text


def test_ng_latex_note_writes_the_bias_label_in_math_mode():
    """pdflatex stops at a bare b_j^(l) in text mode (found compiling an ng trace)."""
    _, tracer = traced_mazur()
    text = tracer.render(format="latex", convention="ng", sections=["loss"])
    assert r"$b_{j}^{(l)}$ is the bias" in text and "b_j^(l)" not in text


def test_latex_text_puts_fractions_and_infinities_in_math_mode():
    """Exact fractions are \\frac in LaTeX: in a table cell or a heading (text
    mode) pdflatex needs them in $...$; labels already in math mode stay."""
    from neuronsim.render.tables import latex_text

    assert latex_text(r"0, \frac{9}{4}") == r"0, $\frac{9}{4}$"
    assert latex_text(r"$\eta$ = -\frac{1}{2} and -\infty") == \
        r"$\eta$ = $-\frac{1}{2}$ and $-\infty$"
    assert latex_text(r"$a_{1}^{(2)}$") == r"$a_{1}^{(2)}$"
    assert latex_text(r"$x = \frac{1}{2}$") == r"$x = \frac{1}{2}$"


# ----------------------------------------------------------------------
# What a record computes when read (a_k δ, δ, Σ/n, the downstream pairs)
# is what the network had at the step, whatever runs after it.
# ----------------------------------------------------------------------
def _fields(step):
    names = ("inputs", "weights", "bias", "z", "output", "derivative", "output_grad", "delta",
             "downstream", "weight_grads", "bias_grad", "batch_weight_grads", "batch_bias_grad",
             "new_weights", "new_bias")
    return [[repr(getattr(r, name)) for name in names] for r in step.neurons()]


@pytest.mark.parametrize("batch_size", [1, 2])
def test_records_read_later_hold_the_numbers_of_their_step(batch_size):
    net = xor()
    tracer = Tracer().attach(net)
    seen = []
    for epoch in range(3):
        for start in range(0, len(XOR_SAMPLES), batch_size):
            for x, t in XOR_SAMPLES[start:start + batch_size]:
                if batch_size == 1:
                    net.step(x, t, 0.5)
                else:
                    net.forward_pass(x)
                    net.back_prop(t)
            if batch_size > 1:
                net.update_weights(0.5)
            seen += [_fields(step) for step in tracer.steps[len(seen):]]
    assert len(seen) == 3 * len(XOR_SAMPLES)
    assert [_fields(step) for step in tracer.steps] == seen


def test_downstream_pairs_are_the_next_layers_weights_before_the_update_and_deltas():
    for tracer_options in ({}, {"neurons": [0]}, {"layers": [0]}):
        net, reference = mazur(), mazur()
        tracer = Tracer(**tracer_options).attach(net)
        for _ in range(2):
            before = [list(n.weights) for n in reference.layers[1].neurons]
            reference.forward_pass(MAZUR_SAMPLE[0])
            reference.back_prop(MAZUR_SAMPLE[1])
            expected = [(row[0], n.delta) for row, n in zip(before, reference.layers[1].neurons)]
            reference.update_weights(0.5)
            net.step(*MAZUR_SAMPLE, learning_rate=0.5)
            record = tracer.steps[-1].layers[0][0]
            assert record.downstream == expected
            (w1, d1), (w2, d2) = expected
            assert record.output_grad == w1 * d1 + w2 * d2    # Σ_k w_kj δ_k, in order
            assert tracer.steps[-1].layers[-1] == [] or \
                tracer.steps[-1].layers[-1][0].downstream is None


def test_a_step_after_the_network_changed_gets_its_own_description():
    from neuronsim.core.activations import get_activation

    net = mazur()
    tracer = Tracer().attach(net)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    first, second = tracer.steps
    assert first.network is second.network          # shared while it holds
    net.layers[0].activation = get_activation("tanh")
    for neuron in net.layers[0].neurons:
        neuron.activation = net.layers[0].activation
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    third = tracer.steps[-1]
    assert third.network is not second.network
    assert [first.activations, third.activations] == [["sigmoid", "sigmoid"],
                                                      ["tanh", "sigmoid"]]
    assert "tanh" in render_step(third) and "tanh" not in render_step(first)


def test_records_pickle_compare_and_dump_as_plain_data():
    import copy
    import json
    import pickle

    def traced():
        net = mazur()
        tracer = Tracer().attach(net)
        net.step(*MAZUR_SAMPLE, learning_rate=0.5)
        return tracer.steps[0]

    step, twin = traced(), traced()
    assert step == twin and copy.deepcopy(step) == step
    assert pickle.loads(pickle.dumps(step)) == step
    assert json.loads(json.dumps(step.as_dict()))["layers"][1][0]["delta"] == \
        step.layers[1][0].delta


def test_a_records_repr_grows_with_the_network_not_with_its_depth():
    import random

    rng = random.Random(2)
    sizes = [8] * 9
    weights = [[[rng.uniform(-1, 1) for _ in range(8)] for _ in range(8)] for _ in sizes[1:]]
    net = Network.from_arrays(weights, [[0.1] * 8 for _ in sizes[1:]],
                              ["tanh"] * 7 + ["linear"], "half_sse")
    tracer = Tracer().attach(net)
    net.step([0.5] * 8, [0.1] * 8, 0.1)
    first = tracer.steps[0].layers[0][0]
    assert len(first.downstream) == 8 and all(len(pair) == 2 for pair in first.downstream)
    assert len(repr(first)) < 5000
    assert len(repr(tracer.steps[0])) < 300_000


def test_a_filtered_tracer_keeps_only_what_its_neurons_need():
    import random
    import tracemalloc

    rng = random.Random(4)
    sizes = [64, 64, 64, 64, 10]
    weights = [[[rng.uniform(-0.2, 0.2) for _ in range(a)] for _ in range(b)]
               for a, b in zip(sizes, sizes[1:])]
    net = Network.from_arrays(weights, [[0.0] * b for b in sizes[1:]],
                              ["tanh"] * 3 + ["linear"], "half_sse")
    x, t = [0.1] * 64, [0.0] * 10
    tracemalloc.start()
    try:
        tracer = Tracer(layers=[0], neurons=[0]).attach(net)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(50):
            net.forward_pass(x)
            net.back_prop(t)
            net.forward_pass(x)
            net.back_prop(t)
            net.update_weights(0.01)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # one neuron's inputs, rows, 64 downstream pairs per sample: some 15 KB, not the
    # next layers' whole weight matrices (over 300 KB per sample)
    assert kept / 100 < 40_000
    assert len(tracer.steps[0].layers[0][0].downstream) == 64


def test_the_list_forward_pass_returns_is_not_the_records():
    net = mazur()
    tracer = Tracer().attach(net)
    y = net.forward_pass(MAZUR_SAMPLE[0])
    kept = list(y)
    y[0] = 0.5
    assert tracer.current.outputs == kept


def test_a_subclass_with_its_own_hooks_has_them_called_on_every_step():
    calls = []

    class Counting(Tracer):
        def on_backward(self, net):
            calls.append("on_backward")
            return super().on_backward(net)

        def after_update(self, net):
            calls.append("after_update")
            return super().after_update(net)

    net = mazur()
    tracer = Counting().attach(net)
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    assert calls == ["on_backward", "after_update"]
    assert tracer.steps[0].layers[0][0].downstream is not None


# ----------------------------------------------------------------------
# A step's neuron records are made when first read, from the values the
# tracer took while the network ran (StepRecord's speed trick).
# ----------------------------------------------------------------------
def test_records_are_made_once_when_first_read(monkeypatch):
    from neuronsim.trace.records import NeuronRecord

    made = []
    original = NeuronRecord.__init__

    def counting(self, *values):
        made.append(values[:2])
        original(self, *values)

    monkeypatch.setattr(NeuronRecord, "__init__", counting)
    net = mazur()
    tracer = Tracer().attach(net)
    for _ in range(5):
        net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    assert len(tracer.steps) == 5 and made == []         # the values taken, no record made
    layers = tracer.steps[2].layers
    assert made == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert tracer.steps[2].layers is layers and len(made) == 4   # made once
    reference = mazur()
    for _ in range(3):
        reference.forward_pass(MAZUR_SAMPLE[0])
        before = [list(n.weights) for n in reference.layers[1].neurons]
        reference.back_prop(MAZUR_SAMPLE[1])
        deltas = [n.delta for n in reference.layers[1].neurons]
        reference.update_weights(0.5)
    hidden = layers[0][1]
    assert hidden.downstream == [(row[1], d) for row, d in zip(before, deltas)]
    assert hidden.new_weights == reference.layers[0].neurons[1].weights


@pytest.mark.parametrize("options,kept", [
    ({"layers": [1]}, [[], [(1, 0), (1, 1)]]),
    ({"neurons": [1]}, [[(0, 1)], [(1, 1)]]),
    ({"layers": [0], "neurons": [0, 5]}, [[(0, 0)], []]),
])
def test_a_filtered_tracer_s_records_name_their_neurons(options, kept):
    net, reference = mazur(), mazur()
    tracer = Tracer(**options).attach(net)
    reference.forward_pass(MAZUR_SAMPLE[0])
    net.step(*MAZUR_SAMPLE, learning_rate=0.5)
    step = tracer.steps[0]
    assert [[(r.layer, r.neuron) for r in layer] for layer in step.layers] == kept
    for layer in step.layers:
        for r in layer:
            assert r.z == reference.layers[r.layer].neurons[r.neuron].z


def test_records_with_a_nan_equal_their_copies_and_dump_as_dicts():
    import copy
    import json
    import math
    import pickle

    net = Network.from_arrays([[[1.0]]], [[0.0]], ["linear"], "half_sse")
    tracer = Tracer(batches=True).attach(net)
    net.forward_pass([math.nan])
    net.back_prop([0.0])
    net.update_weights(0.1)
    step, batch = tracer.steps[0], tracer.batches[0]
    assert math.isnan(step.layers[0][0].z)
    for record in (step, batch):
        assert copy.deepcopy(record) == record      # a NaN equals itself, as in a tuple
        assert repr(pickle.loads(pickle.dumps(record))) == repr(record)
    dumped = json.loads(json.dumps(batch.as_dict()))
    assert [p["kind"] for p in dumped["parameters"]] == ["weight", "bias"]
    assert dumped["samples"][0]["layers"][0][0]["neuron"] == 0
    assert "NeuronRecord(layer=0, neuron=0, inputs=[nan]" in repr(step)


def test_threads_reading_a_step_at_once_all_get_whole_records():
    import sys
    import threading

    net = mazur()
    tracer = Tracer().attach(net)
    for _ in range(3000):
        net.step(*MAZUR_SAMPLE, learning_rate=0.1)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)      # switch threads as often as python can
    try:
        def read():
            for step in tracer.steps:
                step.layers
        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert all(r.delta is not None and r.new_weights is not None
               for step in tracer.steps for r in step.neurons())
    assert all(r.downstream is not None for step in tracer.steps for r in step.layers[0])


def test_a_step_record_is_made_as_before_with_its_values():
    from neuronsim.trace.records import NetworkFacts, NeuronRecord, StepRecord

    net = mazur()
    record = NeuronRecord(0, 0, [0.5], [0.1], 0.2, 0.25, 0.5, 0.25)
    step = StepRecord(1, [0.5], [[record]], [0.5], NetworkFacts.of(net), [0.0], 0.125,
                      0.5, 1, True)
    assert (step.target, step.loss, step.learning_rate, step.batch_size, step.updated,
            step.rule) == ([0.0], 0.125, 0.5, 1, True, None)
    assert step.layers == [[record]] and step.neurons() == [record]


@pytest.mark.parametrize("run", ["step", "batch", "forward only", "flush", "sequence"])
def test_a_sink_that_raises_never_makes_a_record_kept_or_handed_on_twice(run):
    from neuronsim.files import load_example

    handed = []
    failures = iter([True])           # the first record handed on fails, once

    def sink(record):
        if next(failures, False):
            raise OSError("disk full")
        handed.append(record)

    net = load_example("rnn-parity") if run == "sequence" else mazur()
    tracer = Tracer(sink=sink).attach(net)

    def one():
        if run == "sequence":
            net.step([[1], [0]], [[1], [1]], 0.2)
        elif run == "step":
            net.step(*MAZUR_SAMPLE, learning_rate=0.5)
        elif run == "batch":
            for _ in range(2):
                net.forward_pass(MAZUR_SAMPLE[0])
                net.back_prop(MAZUR_SAMPLE[1])
            net.update_weights(0.5)
        elif run == "forward only":
            net.forward_pass(MAZUR_SAMPLE[0])
        else:
            net.forward_pass(MAZUR_SAMPLE[0])
            net.back_prop(MAZUR_SAMPLE[1])
            tracer.flush()

    with pytest.raises(OSError, match="disk full"):
        for _ in range(2):            # "forward only" hands a record on at its second pass
            one()
    for _ in range(3):
        one()
    tracer.flush()
    kept = tracer.records
    assert len(set(map(id, kept))) == len(kept)          # each record kept once
    assert len(set(map(id, handed))) == len(handed)      # and handed on once
    assert [record for record in kept if record not in handed] == [kept[0]]  # only the failed one
