"""explain: the sum over paths equals what the simulator computes, value by value."""

from fractions import Fraction as F

import pytest

from catalogue import mazur, softmax_233, xor, SOFTMAX_SAMPLES, XOR_SAMPLES
from neuronsim import Network, NeuronsimError
from neuronsim.bundled import load_example
from neuronsim.cli import main
from neuronsim.explain import (MAX_PATHS_SUMMED, copy_network, count_paths, explain,
                               render_explanation)
from neuronsim.label_parse import Target


def simulator_run(net, x, t):
    """An independent forward + back_prop on a copy: the values explain must end in."""
    work = copy_network(net)
    work.forward_pass(x)
    work.back_prop(t)
    return work


def expected_value(work, target):
    neuron = work.layers[target.layer].neurons[target.neuron]
    if target.kind == "w":
        return neuron.weight_grads[target.input]
    if target.kind == "b":
        return neuron.bias_grad
    return neuron.delta


def all_targets(net):
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            for k in range(len(neuron.weights)):
                yield Target("w", l, j, k)
            yield Target("b", l, j)
            yield Target("delta", l, j)


def assert_paths_sum_to_simulator(net, x=None, t=None, convention="nielsen"):
    sample = net.samples[0] if x is None else {"input": x, "target": t}
    work = simulator_run(net, sample["input"], sample["target"])
    for target in all_targets(net):
        label = target.label(convention)
        e = explain(net, label, x, t, convention=convention)
        assert e.target == target
        expected = expected_value(work, target)
        assert e.simulator_value == expected, label
        scale = sum(abs(v) for v in e.path_values)   # the size of the terms summed
        assert abs(e.path_sum - expected) <= 1e-12 * scale, (
            f"{label}: path sum {e.path_sum!r}, simulator {expected!r}")
        assert len(e.paths) == e.n_paths == count_paths(work, target.layer)


@pytest.mark.parametrize("convention", ["nielsen", "ng"])
def test_four_layer_every_parameter(convention):
    assert_paths_sum_to_simulator(load_example("four-layer"), convention=convention)


@pytest.mark.parametrize("make, samples", [
    (mazur, [([0.05, 0.1], [0.01, 0.99])]), (xor, XOR_SAMPLES[1:2]),
    (softmax_233, SOFTMAX_SAMPLES[:1])])
def test_catalogue_networks(make, samples):
    assert_paths_sum_to_simulator(make(samples=samples))


def test_softmax_without_its_paired_loss_branches_over_the_jacobian():
    weights = [[[0.2, -0.5], [0.4, 0.1]], [[0.3, -0.2], [-0.4, 0.2], [0.25, 0.35]]]
    net = Network.from_arrays(weights, [[0.1, 0.0], [0.05, -0.05, 0.0]],
                              ["tanh", "softmax"], "half_sse",
                              samples=[([0.5, -1.0], [0.2, 0.3, 0.5])])
    assert_paths_sum_to_simulator(net)
    assert explain(net, "w_11^(2)").n_paths == 3 * 3   # z_m reaches every a_i of the softmax


def test_hidden_softmax_layer():
    weights = [[[0.2, -0.5], [0.4, 0.1], [0.3, 0.3]], [[0.3, -0.2, 0.1]]]
    net = Network.from_arrays(weights, [[0.1, 0.0, -0.2], [0.05]], ["softmax", "sigmoid"],
                              "half_sse", samples=[([0.5, -1.0], [0.7])])
    assert_paths_sum_to_simulator(net)


def test_fraction_mode_is_exact():
    net = Network.from_arrays([[["1/2", -1], ["3/4", "1/4"]], [[1, "-1/2"]]],
                              [[1, "-1/2"], ["1/4"]], ["relu", "linear"], "half_sse",
                              numbers="fraction", samples=[([2, 1], [1])])
    for target in all_targets(net):
        e = explain(net, target.label())
        assert e.path_sum == e.simulator_value and type(e.path_sum) is F
        assert all(type(f.value) is F for path in e.paths for f in path)
    e = explain(net, "w_12^(3)")
    assert e.simulator_value == F(-15, 32)
    text = render_explanation(e)
    assert "= (−3/8) · 1 · (5/4)\n" in text and "= (5/4) · (−3/8) = −15/32" in text
    assert "exactly equal to the path sum" in text
    e = explain(net, "w_21^(2)")
    assert [f.value for f in e.paths[0]] == [F(-3, 8), 1, F(-1, 2), 1, 2]
    assert e.path_sum == F(3, 8)


def test_precise_mode():
    net = load_example("four-layer", numbers="precise:40")
    e = explain(net, "w_22^(2)")
    float_e = explain(load_example("four-layer"), "w_22^(2)")
    assert abs(float(e.path_sum) - float_e.simulator_value) <= 1e-15 * abs(float_e.simulator_value)
    assert "numbers precise:40" in render_explanation(e)


def test_the_four_layer_textbook_weight_value_by_value():
    """Ng's w_22^(2) (ours w_22^(3)): one path through z_2^(3) and a_2^(3), docs/explain.md."""
    net = load_example("four-layer")
    e = explain(net, "w_22^(2)", convention="ng")
    assert e.target == Target("w", 1, 1, 1) and len(e.paths) == 1
    work = simulator_run(net, [1.0, 0.5, -1.0, 2.0], [1.0])
    out, hidden = work.layers[2].neurons[0], work.layers[1].neurons[1]
    kinds = [f.kind for f in e.paths[0]]
    assert kinds == ["dE/da", "da/dz", "dz/da", "da/dz", "dz/dw"]
    assert [f.value for f in e.paths[0]] == [
        out.output - 1.0, out.derivative, out.weights[1], hidden.derivative,
        work.layers[0].neurons[1].output]
    assert e.path_sum == e.simulator_value == hidden.weight_grads[1]
    text = render_explanation(e)
    for line in [
        "Weight convention ng: w_jk^(l) feeds neuron j of layer l+1",
        "Label 'w_22^(2)' read as w₂₂⁽²⁾ = net.layers[1].neurons[1].weights[1].",
        "Path 1: w₂₂⁽²⁾ → z₂⁽³⁾ → a₂⁽³⁾ → z₁⁽⁴⁾ → a₁⁽⁴⁾ → E",
        "= (a₁⁽⁴⁾ − t₁) · g'(z₁⁽⁴⁾) · w₁₂⁽³⁾ · g'(z₂⁽³⁾) · a₂⁽²⁾",
        "= (−0.446923269) · 0.247182861 · (−0.4) · 0.230351722 · 0.549833997",
        "= 0.00559673012",
        "net.layers[1].neurons[1].weight_grads[1] = 0.00559673012"]:
        assert line in text, line


@pytest.mark.parametrize("fmt", ["plain", "markdown", "latex"])
@pytest.mark.parametrize("convention", ["nielsen", "ng"])
def test_every_output_names_its_convention(fmt, convention):
    text = render_explanation(explain(load_example("four-layer"), "b_1^(3)",
                                      convention=convention), fmt)
    assert f"Weight convention {convention}" in text


def test_latex_output():
    text = render_explanation(explain(load_example("four-layer"), "δ_1^(3)"), "latex")
    assert r"\begin{align*}" in text and r"\frac{\partial E}{\partial a_{1}^{(4)}}" in text
    assert "−" not in text and "δ" not in text


def test_output_delta_shortcut_notes():
    linear = Network.from_arrays([[[0.5, -0.5]]], [[0.1]], "linear", "half_sse",
                                 samples=[([1, 2], [1])])
    assert "so δ = a − t holds here" in render_explanation(explain(linear, "δ_1^(2)"))
    sigmoid = Network.from_arrays([[[0.5, -0.5]]], [[0.1]], "sigmoid", "half_sse",
                                  samples=[([1, 2], [1])])
    text = render_explanation(explain(sigmoid, "δ_1^(2)"))
    assert "the shortcut δ = a − t does not hold in general" in text
    assert "g'(z) = a(1 − a)" in text
    paired = Network.from_arrays([[[0.5, -0.5]]], [[0.1]], "sigmoid", "binary_cross_entropy",
                                 samples=[([1, 2], [1])])
    text = render_explanation(explain(paired, "w_11^(2)"))
    assert "uses δ = ∂E/∂z = a − t directly" in text
    assert "Path 1: w₁₁⁽²⁾ → z₁⁽²⁾ → E" in text


def test_explain_does_not_touch_the_network():
    net = load_example("four-layer")
    before = net.to_spec()
    explain(net, "w_11^(2)")
    assert net.to_spec() == before
    assert all(n.weight_grad_sum == [0, 0, 0, 0] for n in net.layers[0].neurons)
    assert net.samples_in_batch == 0


def test_explicit_sample_and_errors():
    net = mazur()
    e = explain(net, "w_11^(2)", [0.05, 0.1], [0.01, 0.99])
    assert e.simulator_value == simulator_run(net, [0.05, 0.1], [0.01, 0.99]) \
        .layers[0].neurons[0].weight_grads[0]
    with pytest.raises(NeuronsimError, match="no samples"):
        explain(net, "w_11^(2)")
    with pytest.raises(NeuronsimError, match="a weight, a bias or a delta"):
        explain(net, "z_1^(2)", [0, 0], [0, 0])
    with pytest.raises(NeuronsimError, match="give both"):
        explain(net, "w_11^(2)", [0, 0])


def test_too_many_paths_uses_the_grouped_form_only():
    width, depth = 12, 6
    weights = [[[0.01] * 2 for _ in range(width)]]
    weights += [[[0.01] * width for _ in range(width)] for _ in range(depth - 2)]
    weights += [[[0.01] * width]]
    net = Network.from_arrays(weights, None, "linear", "half_sse", samples=[([1, 1], [1])])
    e = explain(net, "w_11^(2)")
    assert e.n_paths == width ** (depth - 2) > MAX_PATHS_SUMMED and e.path_sum is None
    text = render_explanation(e)
    assert "shown only in its backpropagation form" in text
    assert e.simulator_value == simulator_run(net, [1, 1], [1]).layers[0].neurons[0].weight_grads[0]


def test_cli_explain(capsys):
    assert main(["explain", "four-layer", "w_22^(2)", "--convention", "ng"]) == 0
    out = capsys.readouterr().out
    assert "Weight convention ng" in out and "= 0.00559673012" in out
    assert main(["explain", "four-layer", "W2[1,1]", "--format", "markdown"]) == 0
    assert "### Explain ∂E/∂w₂₂⁽²⁾" in capsys.readouterr().out
    assert main(["explain", "mazur", "b_1^(3)", "--input", "0.05", "0.1",
                 "--target", "0.01", "0.99"]) == 0
    assert "bias_grad" in capsys.readouterr().out
    assert main(["explain", "four-layer", "w_99^(2)"]) == 2
    assert "has neurons 1 to 2" in capsys.readouterr().err
    assert main(["explain", "four-layer", "w_11^(2)", "--numbers", "fraction"]) == 2
    assert "precise" in capsys.readouterr().err


# ------------------------------------------------------------------ docs pages
DOC_PAGES = ["explain.md", "hand-derivation.md", "number-modes.md"]


def _doc_blocks(text):
    """(kind, argument, body) for each fenced block preceded by a marker comment:
    <!-- file: NAME --> (write the block as NAME) or <!-- output of: neuronsim ARGS -->."""
    import re

    pattern = re.compile(r"<!-- (file|output of): (.+?) -->\n```[a-z]*\n(.*?)\n```", re.S)
    return pattern.findall(text)


@pytest.mark.parametrize("page", DOC_PAGES)
def test_command_outputs_in_docs_are_current(page, tmp_path, monkeypatch, capsys):
    """Every `neuronsim ...` output shown in these pages is what the command prints now."""
    import os
    import shlex

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", page), encoding="utf-8") as handle:
        blocks = _doc_blocks(handle.read())
    monkeypatch.chdir(tmp_path)
    for kind, argument, body in blocks:
        if kind == "file":
            (tmp_path / argument).write_text(body + "\n", encoding="utf-8")
    for kind, argument, body in blocks:
        if kind == "file":
            continue
        args = shlex.split(argument)
        assert args[0] == "neuronsim", argument
        main(args[1:])
        printed = capsys.readouterr().out.rstrip("\n")
        assert printed == body, f"{page}: the output of {argument!r} changed"
