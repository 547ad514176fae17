"""neuronsim.trace.walk: a traced step as an ordered list of computations."""

import math

import pytest
from catalogue import (
    MAZUR_SAMPLE,
    PAIRINGS,
    SOFTMAX_SAMPLES,
    XOR_SAMPLES,
    mazur,
    random_network,
    random_samples,
    softmax_233,
    xor,
)

from neuronsim.render.numfmt import format_number
from neuronsim.trace import Tracer
from neuronsim.trace.walk import first_of_phase, walk

NETWORKS = {
    "mazur": (mazur, [MAZUR_SAMPLE]),
    "xor": (xor, XOR_SAMPLES),
    "softmax_233": (softmax_233, SOFTMAX_SAMPLES),
}


def traced(make, samples, learning_rate=0.5, **options):
    net = make(**options)
    tracer = Tracer().attach(net)
    x, t = samples[0]
    net.step(x, t, learning_rate)
    return net, tracer.steps[0]


def mazur_walk(**options):
    _, step = traced(mazur, [MAZUR_SAMPLE])
    return walk(step, **options)


def test_mazur_order_of_computations():
    computations = mazur_walk()
    phases = [c.phase for c in computations]
    assert phases == ["forward"] * 8 + ["loss"] + ["backward"] * 4 + ["gradients"] * 4 + \
        ["update"] * 4
    forward = [(c.quantity, c.layer, c.neuron) for c in computations[:8]]
    assert forward == [("z", 0, 0), ("output", 0, 0), ("z", 0, 1), ("output", 0, 1),
                       ("z", 1, 0), ("output", 1, 0), ("z", 1, 1), ("output", 1, 1)]
    backward = [(c.layer, c.neuron) for c in computations if c.phase == "backward"]
    assert backward == [(1, 0), (1, 1), (0, 0), (0, 1)]   # output layer first
    assert first_of_phase(computations, "backward") == 9
    assert first_of_phase(computations, "nothing") is None


def test_mazur_published_values_in_formulas():
    computations = mazur_walk()
    text = "\n".join(line.formula for c in computations for line in c.lines)
    assert computations[0].lines[0].formula == (
        "z₁⁽²⁾ = w₁₁⁽²⁾·a₁⁽¹⁾ + w₁₂⁽²⁾·a₂⁽¹⁾ + b₁⁽²⁾ = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775")
    assert computations[1].lines[0].formula == (
        "a₁⁽²⁾ = 1 / (1 + exp(−z₁⁽²⁾)) = 1 / (1 + exp(−0.3775)) = 0.593269992")
    assert computations[8].lines[0].formula.endswith("= 0.298371109")
    assert computations[9].lines[1].formula == (
        "δ₁⁽³⁾ = dE/da₁⁽³⁾·g'(z₁⁽³⁾) = 0.74136507·0.186815602 = 0.138498562")
    assert "w₁₁⁽³⁾ ← w₁₁⁽³⁾ − η·dE/dw₁₁⁽³⁾ = 0.4 − 0.5·0.0821670406 = 0.35891648" in text
    assert "b₁⁽²⁾ = 0.35 (fixed: this network does not update biases)" in text
    assert math.isclose(computations[9].value, 0.138498562, rel_tol=1e-8)
    assert computations[9].label == "δ₁⁽³⁾"


def _record_value(step, computation, line):
    """The tracer's own number for a line of the walk."""
    if line.quantity == "loss":
        return step.loss
    record = step.layers[computation.layer][computation.neuron]
    value = getattr(record, line.quantity)
    return value if line.index is None else value[line.index]


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_value_is_the_tracers_number(name):
    make, samples = NETWORKS[name]
    _, step = traced(make, samples)
    computations = walk(step)
    for c in computations:
        for line in c.lines:
            assert line.value == _record_value(step, c, line), (c.title, line.label)
            assert format_number(line.value) in line.formula, (c.title, line.formula)
    counts = {phase: sum(c.phase == phase for c in computations)
              for phase in ("forward", "loss", "backward", "gradients", "update")}
    n = len(step.neurons())
    assert counts == {"forward": 2 * n, "loss": 1, "backward": n, "gradients": n, "update": n}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_hidden_output_grad_is_the_sum_of_downstream_deltas(name):
    make, samples = NETWORKS[name]
    _, step = traced(make, samples)
    for c in walk(step):
        if c.phase != "backward" or c.layer == len(step.layers) - 1:
            continue
        record = step.layers[c.layer][c.neuron]
        output_grad = c.lines[0]
        assert output_grad.quantity == "output_grad"
        expected = math.fsum(w * d for w, d in record.downstream)
        assert math.isclose(output_grad.value, expected, rel_tol=1e-12, abs_tol=1e-300)
        # δ = dE/da · g'(z), the chain rule the formula shows
        assert math.isclose(c.value, output_grad.value * record.derivative, rel_tol=1e-12,
                            abs_tol=1e-300)


def test_gradients_and_update_lines_match_the_rule():
    _, step = traced(xor, XOR_SAMPLES, learning_rate=0.5)
    for c in walk(step):
        record = step.layers[c.layer][c.neuron] if c.layer is not None else None
        if c.phase == "gradients":
            for line in c.lines:
                if line.quantity == "weight_grads":
                    expected = record.inputs[line.index] * record.delta   # dE/dw_jk = a_k δ_j
                else:
                    expected = record.delta                               # dE/db_j = δ_j
                assert math.isclose(line.value, expected, rel_tol=1e-12, abs_tol=1e-300)
        if c.phase == "update":
            for line in c.lines:
                if line.quantity == "new_weights":
                    old, grad = record.weights[line.index], record.batch_weight_grads[line.index]
                else:
                    old, grad = record.bias, record.batch_bias_grad
                assert line.value == old - 0.5 * grad


def test_formats_conventions_and_bias_as_weight():
    html = mazur_walk(format="html")
    assert html[0].lines[0].formula.startswith("z<sub>1</sub><sup>(2)</sup> = ")
    assert html[9].label == "&delta;<sub>1</sub><sup>(3)</sup>"
    ng = mazur_walk(convention="ng")
    assert "w₁₁⁽¹⁾·a₁⁽¹⁾" in ng[0].lines[0].formula   # ng: superscript = layer it comes from
    as_weight = mazur_walk(bias_as_weight=True)
    gradients = [c for c in as_weight if c.phase == "gradients"][0]
    assert gradients.lines[0].quantity == "bias_grad"
    assert gradients.lines[0].formula.startswith("dE/dw₁₀⁽²⁾ = a₀·δ₁⁽²⁾ = 1·")
    assert "w₁₀⁽²⁾·a₀" in as_weight[0].lines[0].formula


def test_layer_and_neuron_filters():
    computations = mazur_walk(layers={1}, neurons={0})
    assert [(c.phase, c.layer, c.neuron) for c in computations] == [
        ("forward", 1, 0), ("forward", 1, 0), ("loss", None, None), ("backward", 1, 0),
        ("gradients", 1, 0), ("update", 1, 0)]


def test_forward_only_and_batch_steps():
    net = mazur()
    tracer = Tracer().attach(net)
    net.forward_pass([0.05, 0.1])
    tracer.flush()
    computations = walk(tracer.steps[0])
    assert {c.phase for c in computations} == {"forward"} and len(computations) == 8

    net = xor()
    tracer = Tracer().attach(net)
    for x, t in XOR_SAMPLES[:2]:
        net.forward_pass(x)
        net.back_prop(t)
    net.update_weights(0.5)
    first, second = tracer.steps
    assert not any(c.phase == "update" for c in walk(first))
    updates = [c for c in walk(second) if c.phase == "update"]
    assert updates and "(dE/dw: mean over 2 samples)" in updates[0].title
    record = second.layers[0][0]
    expected = record.weights[1] - 0.5 * (first.layers[0][0].weight_grads[1]
                                          + record.weight_grads[1]) / 2
    assert math.isclose(updates[0].lines[1].value, expected, rel_tol=1e-12)


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "leaky_relu", "linear"])
def test_activation_formulas(hidden):
    net = random_network([3, 4, 2], hidden, "sigmoid", "half_sse", seed=7)
    x, t = random_samples(3, 2, "sigmoid", "half_sse", 1, seed=8)[0]
    tracer = Tracer().attach(net)
    net.step(x, t, 0.1)
    step = tracer.steps[0]
    for c in walk(step):
        if c.quantity != "output" or c.layer != 0:
            continue
        record = step.layers[0][c.neuron]
        a_line, g_line = c.lines
        assert a_line.value == record.output and g_line.value == record.derivative
        assert a_line.formula.endswith(format_number(record.output))
        assert format_number(record.derivative) in g_line.formula
        if hidden == "leaky_relu" and record.z <= 0:
            assert "s·z" in a_line.formula and "0.01" in a_line.formula
        if hidden == "relu":
            assert "max(0, " in a_line.formula


def test_softmax_activation_formula_lists_the_layer():
    _, step = traced(softmax_233, SOFTMAX_SAMPLES)
    softmax = [c for c in walk(step) if c.quantity == "output" and c.layer == 1]
    assert len(softmax) == 3
    assert "exp(z₁⁽³⁾) / (exp(z₁⁽³⁾) + exp(z₂⁽³⁾) + exp(z₃⁽³⁾))" in softmax[0].lines[0].formula
    total = sum(c.value for c in softmax)
    assert math.isclose(total, 1.0, rel_tol=1e-12)
    assert "Jacobian" in softmax[0].lines[1].formula


@pytest.mark.parametrize("output, loss", PAIRINGS)
def test_every_pairing_walks_with_the_tracers_numbers(output, loss):
    net = random_network([3, 3, 2], "tanh", output, loss, seed=11)
    samples = random_samples(3, 2, output, loss, 2, seed=12)
    tracer = Tracer().attach(net)
    net.step(*samples[0], 0.1)
    step = tracer.steps[0]
    computations = walk(step)
    # 5 neurons: z and a, loss, δ, grads, update; a softmax output layer not paired with
    # cross-entropy shows its 2 dE/da first, as computations of their own
    extra = 2 if (output, loss) == ("softmax", "half_sse") else 0
    assert len(computations) == 2 * 5 + 1 + 3 * 5 + extra
    for c in computations:
        for line in c.lines:
            assert line.value == _record_value(step, c, line), (c.title, line.label)
            assert format_number(line.value) in line.formula, (c.title, line.formula)


HIDDEN_SOFTMAX = {"inputs": 2,
                  "layers": [{"activation": "softmax", "weights": [[0.2, -0.4], [0.7, 0.1]],
                              "biases": [0, 0.1]},
                             {"activation": "sigmoid", "weights": [[1.5, -0.5]],
                              "biases": [0.2]}],
                  "loss": "half_sse", "learning_rate": 0.1,
                  "samples": [{"input": [1, 2], "target": [1]}]}


def test_hidden_softmax_layer_walks_every_dE_da_then_the_jacobian_deltas():
    from neuronsim import Network

    net = Network.from_spec(HIDDEN_SOFTMAX)
    tracer = Tracer().attach(net)
    net.step([1, 2], [1], 0.1)
    step = tracer.steps[0]
    backward = [c for c in walk(step) if c.phase == "backward"]
    assert [(c.quantity, c.layer, c.neuron) for c in backward] == [
        ("delta", 1, 0), ("output_grad", 0, 0), ("output_grad", 0, 1),
        ("delta", 0, 0), ("delta", 0, 1)]
    assert backward[1].lines[0].formula == "dE/da₁⁽²⁾ = w₁₁⁽³⁾·δ₁⁽³⁾ = 1.5·(−0.122712858) = " \
                                           "−0.184069287"
    delta = backward[3].lines[0]
    assert delta.formula.startswith("δ₁⁽²⁾ = a₁⁽²⁾·((w₁₁⁽³⁾·δ₁⁽³⁾) − "
                                    "(dE/da₁⁽²⁾·a₁⁽²⁾ + dE/da₂⁽²⁾·a₂⁽²⁾)) = ")
    assert "g'(z" not in delta.formula
    # the Jacobian form, from the neurons' own numbers
    a = [n.output for n in net.layers[0].neurons]
    grads = [n.output_grad for n in net.layers[0].neurons]
    weighted = sum(g * x for g, x in zip(grads, a))
    for j in range(2):
        expected = a[j] * (grads[j] - weighted)
        assert math.isclose(backward[3 + j].value, expected, rel_tol=1e-12)
        assert backward[3 + j].value == step.layers[0][j].delta
