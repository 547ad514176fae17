"""explain: the sum over paths equals what the simulator computes, value by value."""

from fractions import Fraction as F

import pytest
from catalogue import SOFTMAX_SAMPLES, XOR_SAMPLES, mazur, softmax_233, xor

from neuronsim import Network, NeuronsimError
from neuronsim.cli.main import main
from neuronsim.files import load_example
from neuronsim.hand.explain import (
    MAX_PATHS_SUMMED,
    count_paths,
    explain,
    render_explanation,
)
from neuronsim.hand.label_parse import Target


def simulator_run(net, x, t):
    """An independent forward + back_prop on a copy: the values explain must end in."""
    work = net.copy(batch=False, rule=False)
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


# ------------------------------------------------------------------ biases as weights
def test_bias_as_weight_labels_and_values():
    """b_1^(3) of four-layer printed as w_10^(3) on a_0 = 1, every number from the simulator."""
    net = load_example("four-layer")
    e = explain(net, "b_1^(3)")
    work = simulator_run(net, [1.0, 0.5, -1.0, 2.0], [1.0])
    neuron, out = work.layers[1].neurons[0], work.layers[2].neurons[0]
    a1, a2 = (n.output for n in work.layers[0].neurons)
    assert (neuron.bias, neuron.weights) == (0.2, [0.5, -0.3])
    assert neuron.z == 0.2 * 1 + 0.5 * a1 + -0.3 * a2
    assert e.path_sum == e.simulator_value == neuron.bias_grad == neuron.delta
    assert e.paths[0][-1].kind == "dz/db" and e.paths[0][-1].value == 1
    text = render_explanation(e, bias_as_weight=True)
    assert "b₁⁽³⁾" not in text and "∂b" not in text
    for line in [
        "Explain ∂E/∂w₁₀⁽³⁾",
        "Biases are shown as weights w_j0^(l) = b_j^(l) on a constant input a_0 = 1.",
        "Label 'b_1^(3)' read as w₁₀⁽³⁾ = net.layers[1].neurons[0].bias.",
        "The parameter enters E only through z₁⁽³⁾:",
        "  z₁⁽³⁾ = w₁₀⁽³⁾ · a₀ + w₁₁⁽³⁾ · a₁⁽²⁾ + w₁₂⁽³⁾ · a₂⁽²⁾\n"
        "        = 0.2 · 1 + 0.5 · 0.731058579 + (−0.3) · 0.549833997\n"
        "        = 0.40057909\n"
        "  ∂z₁⁽³⁾/∂w₁₀⁽³⁾ = a₀ = 1\n",
        "Path 1: w₁₀⁽³⁾ → z₁⁽³⁾ → a₁⁽³⁾ → z₁⁽⁴⁾ → a₁⁽⁴⁾ → E",
        "· ∂a₁⁽³⁾/∂z₁⁽³⁾ · ∂z₁⁽³⁾/∂w₁₀⁽³⁾\n",
        "= (a₁⁽⁴⁾ − t₁) · g'(z₁⁽⁴⁾) · w₁₁⁽⁴⁾ · g'(z₁⁽³⁾) · a₀\n",
        "= (−0.446923269) · 0.247182861 · 0.7 · 0.240233267 · 1\n",
        "  ∂E/∂w₁₀⁽³⁾ = a₀ · δ₁⁽³⁾ = 1 · (−0.0185772963) = −0.0185772963\n",
        "net.layers[1].neurons[0].bias_grad = −0.0185772963, equal to the path sum."]:
        assert line in text, line
    assert (a1, a2, neuron.z, neuron.bias_grad) == pytest.approx(
        (0.731058579, 0.549833997, 0.40057909, -0.0185772963), rel=1e-8)
    # Without the option the same derivation writes b_1^(3), + b in the z sum and ∂z/∂b = 1.
    plain = render_explanation(e)
    for line in ["  z₁⁽³⁾ = w₁₁⁽³⁾ · a₁⁽²⁾ + w₁₂⁽³⁾ · a₂⁽²⁾ + b₁⁽³⁾\n"
                 "        = 0.5 · 0.731058579 + (−0.3) · 0.549833997 + 0.2\n",
                 "  ∂z₁⁽³⁾/∂b₁⁽³⁾ = 1\n", "· g'(z₁⁽³⁾) · 1\n",
                 "  ∂E/∂b₁⁽³⁾ = δ₁⁽³⁾ = −0.0185772963\n"]:
        assert line in plain, line
    assert "w₁₀" not in plain and "a₀" not in plain and "Biases are shown" not in plain


def test_bias_as_weight_in_ng_convention():
    """Ng's w_10^(2) is the bias of neuron 1 of layer 3 (superscript one less, as weights)."""
    net = load_example("four-layer")
    e = explain(net, "w_10^(2)", convention="ng")
    assert e.target == Target("b", 1, 0)
    assert e.simulator_value == e.path_sum == explain(net, "b_1^(3)").simulator_value
    text = render_explanation(e, bias_as_weight=True)
    for line in ["Weight convention ng:", "Label 'w_10^(2)' read as w₁₀⁽²⁾ = "
                 "net.layers[1].neurons[0].bias.",
                 "  z₁⁽³⁾ = w₁₀⁽²⁾ · a₀ + w₁₁⁽²⁾ · a₁⁽²⁾ + w₁₂⁽²⁾ · a₂⁽²⁾\n",
                 "  ∂z₁⁽³⁾/∂w₁₀⁽²⁾ = a₀ = 1\n",
                 "Path 1: w₁₀⁽²⁾ → z₁⁽³⁾ →", "δ₁⁽³⁾ = (w₁₁⁽³⁾ · δ₁⁽⁴⁾)",
                 "  ∂E/∂w₁₀⁽²⁾ = a₀ · δ₁⁽³⁾ = 1 · (−0.0185772963) = −0.0185772963\n"]:
        assert line in text, line


@pytest.mark.parametrize("convention", ["nielsen", "ng"])
def test_every_bias_read_as_w_j0(convention):
    net = mazur(samples=[([0.05, 0.1], [0.01, 0.99])])
    work = simulator_run(net, [0.05, 0.1], [0.01, 0.99])
    for l, layer in enumerate(net.layers):
        for j in range(layer.size):
            label = Target("b", l, j).label(convention, "ascii", bias_as_weight=True)
            e = explain(net, label, convention=convention)
            assert e.target == Target("b", l, j), label
            expected = work.layers[l].neurons[j].bias_grad
            assert e.simulator_value == expected, label
            scale = sum(abs(v) for v in e.path_values)   # the terms summed in another order
            assert abs(e.path_sum - expected) <= 1e-12 * scale, label
            text = render_explanation(e, bias_as_weight=True)
            assert f"Explain ∂E/∂{Target('b', l, j).label(convention, bias_as_weight=True)}" \
                in text


def test_bias_as_weight_for_a_weight_fraction_mode_and_latex():
    net = Network.from_arrays([[["1/2", -1], ["3/4", "1/4"]], [[1, "-1/2"]]],
                              [[1, "-1/2"], ["1/4"]], ["relu", "linear"], "half_sse",
                              numbers="fraction", samples=[([2, 1], [1])])
    e = explain(net, "w_12^(3)")
    text = render_explanation(e, bias_as_weight=True)
    # a^(2) = relu((1/2)·2 − 1·1 + 1, (3/4)·2 + (1/4)·1 − 1/2) = (1, 5/4)
    for line in ["  z₁⁽³⁾ = w₁₀⁽³⁾ · a₀ + w₁₁⁽³⁾ · a₁⁽²⁾ + w₁₂⁽³⁾ · a₂⁽²⁾\n"
                 "        = (1/4) · 1 + 1 · 1 + (−1/2) · (5/4)\n"
                 "        = 5/8\n"
                 "  ∂z₁⁽³⁾/∂w₁₂⁽³⁾ = a₂⁽²⁾ = 5/4\n",
                 "= (5/4) · (−3/8) = −15/32"]:
        assert line in text, line
    assert e.simulator_value == F(-15, 32)
    latex = render_explanation(explain(net, "b_2^(2)"), "latex", bias_as_weight=True)
    for line in [r"\subsection*{Explain $\frac{\partial E}{\partial w_{20}^{(2)}}$}",
                 r"z_{2}^{(2)} &= w_{20}^{(2)} \cdot a_{0} + w_{21}^{(2)} \cdot a_{1}^{(1)}",
                 r"&= (-\frac{1}{2}) \cdot 1 + \frac{3}{4} \cdot 2 + \frac{1}{4} \cdot 1 \\",
                 r"&= \frac{5}{4} \\",
                 r"\frac{\partial z_{2}^{(2)}}{\partial w_{20}^{(2)}} &= a_{0} = 1",
                 r"\frac{\partial E}{\partial w_{20}^{(2)}} &= a_{0} \cdot \delta_{2}^{(2)}"]:
        assert line in latex, line


def test_long_z_sum_keeps_the_explained_term():
    weights = [[[0.5 * (k + 1) for k in range(12)]], [[2.0]]]
    net = Network.from_arrays(weights, [[0.25], [0.0]], ["linear", "linear"], "half_sse",
                              samples=[([1.0] * 12, [0.0])])
    text = render_explanation(explain(net, "w_1,7^(2)"), bias_as_weight=True)
    assert ("  z₁⁽²⁾ = w₁₀⁽²⁾ · a₀ + w₁₁⁽²⁾ · a₁⁽¹⁾ + … + w₁₇⁽²⁾ · a₇⁽¹⁾ + … + "
            "w₁,₁₂⁽²⁾ · a₁₂⁽¹⁾\n"
            "        = 0.25 · 1 + 0.5 · 1 + … + 3.5 · 1 + … + 6 · 1\n"
            "        = 39.25\n") in text
    assert "  ∂z₁⁽²⁾/∂w₁₇⁽²⁾ = a₇⁽¹⁾ = 1\n" in text
    assert "w₁₆⁽²⁾" not in text and "w₁₈⁽²⁾" not in text


def test_cli_explain_bias_as_weight(capsys):
    assert main(["explain", "mazur", "w_20^(3)", "--bias-as-weight", "--input", "0.05", "0.1",
                 "--target", "0.01", "0.99"]) == 0
    out = capsys.readouterr().out
    work = simulator_run(mazur(), [0.05, 0.1], [0.01, 0.99])
    neuron = work.layers[1].neurons[1]
    assert neuron.bias_grad == pytest.approx(-0.0380982365, rel=1e-9)
    for line in ["Label 'w_20^(3)' read as w₂₀⁽³⁾ = net.layers[1].neurons[1].bias.",
                 "  z₂⁽³⁾ = w₂₀⁽³⁾ · a₀ + w₂₁⁽³⁾ · a₁⁽²⁾ + w₂₂⁽³⁾ · a₂⁽²⁾\n"
                 "        = 0.6 · 1 + 0.5 · 0.593269992 + 0.55 · 0.596884378\n",
                 "  ∂E/∂w₂₀⁽³⁾ = a₀ · δ₂⁽³⁾ = 1 · (−0.0380982365) = −0.0380982365\n",
                 "bias_grad = −0.0380982365"]:
        assert line in out, line
    assert main(["explain", "mazur", "w_20^(3)", "--input", "0.05", "0.1",
                 "--target", "0.01", "0.99"]) == 0
    assert "  ∂E/∂b₂⁽³⁾ = δ₂⁽³⁾ = −0.0380982365\n" in capsys.readouterr().out


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


# ---------------------------------------------------------------- review fixes
def paragraph(text, start):
    """The paragraph of ``text`` that begins with ``start``."""
    found = [p for p in text.split("\n\n") if p.startswith(start)]
    assert len(found) == 1, text
    return found[0]


def test_leaky_relu_legend_shows_its_slope():
    net = Network.from_arrays([[[0.5, -0.5], [0.25, 1.0]], [[1.0, -1.0]]], [[0.1, 0], [0]],
                              [{"name": "leaky_relu", "slope": 0.2}, "sigmoid"], "half_sse",
                              samples=[([1, 2], [1])])
    text = render_explanation(explain(net, "w_11^(2)"))
    assert paragraph(text, "Activations on the paths") == (
        "Activations on the paths: layer 2: g = leaky_relu, g'(z) = 1 if z > 0, else s = 0.2; "
        "layer 3: g = sigmoid, g'(z) = a(1 − a).")


def test_softmax_cross_entropy_shortcut_names_the_target_sum():
    common = ("δ = a − t holds for a linear output with half_sse, for sigmoid with "
              "binary_cross_entropy and for softmax with cross_entropy (targets summing to 1).")
    start = ("Output delta shortcut: with softmax and cross_entropy the network uses "
             "δ = ∂E/∂z = a·Σt − t directly, because the softmax Jacobian and dE/da = −t/a "
             "combine to a·Σt − t; ")
    one_hot = render_explanation(explain(softmax_233(), "δ_1^(3)", [0.5, -1.0], [1, 0, 0]))
    assert paragraph(one_hot, "Output delta shortcut") == \
        start + "the targets sum to 1 here, so δ = a − t.  " + common
    other = render_explanation(explain(softmax_233(), "δ_1^(3)", [0.5, -1.0], [0.5, 1, 0]))
    assert paragraph(other, "Output delta shortcut") == \
        start + "here Σt = 1.5, not 1, so δ = a·1.5 − t, not a − t.  " + common


def softmax_latex_cases():
    """(network, x, t) with softmax on the paths: paired output, output with
    half_sse, a hidden softmax layer, targets not summing to 1."""
    hidden = Network.from_arrays([[[0.5, -0.2], [0.3, 0.8], [-0.4, 0.1]],
                                  [[0.2, -0.4, 0.3], [0.7, 0.1, -0.2]]],
                                 [[0.1, 0, -0.1], [0, 0.1]], ["softmax", "sigmoid"],
                                 "half_sse")
    half_sse = Network.from_arrays([[[0.5, -0.2], [0.3, 0.8]],
                                    [[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]]],
                                   [[0.1, 0], [0, 0.1, -0.1]], ["tanh", "softmax"], "half_sse")
    return [(softmax_233(), [0.5, -1.0], [1, 0, 0]),
            (softmax_233(), [0.5, -1.0], [0.5, 1, 0]),
            (half_sse, [1, 2], [0, 1, 0]),
            (hidden, [1, 2], [0.2, 0.9])]


def softmax_latex_documents():
    for net, x, t in softmax_latex_cases():
        for label in ("w_12^(2)", "b_1^(2)", "δ_2^(2)", "w_21^(3)", "δ_1^(3)"):
            for bias_as_weight in (False, True):
                yield render_explanation(explain(net, label, x, t), "latex",
                                         bias_as_weight=bias_as_weight)


def test_latex_for_softmax_networks_is_ascii_and_uses_latex_macros():
    documents = list(softmax_latex_documents())
    for text in documents:
        assert text.isascii(), sorted({c for c in text if not c.isascii()})
    everything = "\n".join(documents)
    assert r"\cdot \sum t - t_{1}" in everything                        # paired δ^(L)
    assert r"\sum_i \frac{\partial E}{\partial a_i} a_i" in everything  # softmax + half_sse
    assert (r"\text{(softmax layer: its Jacobian applied to } \partial E/\partial a = "
            r"\sum_m w_{mj} \delta_m\text{)}") in everything              # hidden softmax


def test_latex_for_softmax_networks_compiles(tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    body = "\n".join(softmax_latex_documents())
    (tmp_path / "explain.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body
        + "\n\\end{document}\n", encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "explain.tex"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors
    assert (tmp_path / "explain.pdf").stat().st_size > 0


def test_cli_explain_takes_a_recurrent_network(capsys):
    """Recurrent networks are explained through time (tests/test_hand_recurrent.py)."""
    assert main(["explain", "rnn", "w_11^(2)"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Explain ∂E/∂w₁₁⁽²⁾\n")
    assert "∂E/∂w₁₁⁽²⁾ = Σ_t δ₁⁽²⁾[t] · a₁⁽¹⁾[t]" in out
    assert out.rstrip().endswith("exactly equal to the value above.")
