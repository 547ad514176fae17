"""``explain --update``: one weight's or bias's update step, line by line.

Every quantity the explanation computes (g with its penalty share and
clipping, t, m, v, v_max, m̂, v̂, the momentum buffer, ḡ, G, the new value) is
computed again by neuronsim.hand.update_step from the state before the step;
the tests check that each one the simulator keeps is the simulator's own, bit
for bit, for every optimizer and option, in float, precise and fraction
numbers, and that the network explained is left alone.
"""

import shutil
import subprocess

import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.core.errors import NeuronsimError
from neuronsim.files import load_example
from neuronsim.hand.explain_update import (
    _mismatches,
    explain_update,
    render_update_explanation,
)
from neuronsim.render.numfmt import factor, format_number

OPTIMIZERS = [
    (None, {}),
    ("sgd", {}),
    ("sgd", {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("adagrad", {"lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.2}),
    ("adam", {}),
    ("adam", {"amsgrad": True, "weight_decay": 0.1, "betas": (0.8, 0.99)}),
    ("adamw", {}),
    ("adamw", {"amsgrad": True, "weight_decay": 0.5}),
]
EXTRAS = [({}, {}), ({"l1": 0.01, "l2": 0.02}, {"max_norm": 0.01}),
          ({"l2": 0.1}, {"value": 0.001}), ({}, {"max_norm": 100.0})]


def configured(net, name, options, penalty=None, clip=None):
    if name is not None:
        net.set_optimizer(name, **options)
    if penalty:
        net.set_penalty(**penalty)
    if clip:
        net.set_clip(**clip)
    return net


def snapshot(net):
    """Every weight, bias and optimizer state of ``net``, as plain values."""
    return [(list(n.weights), n.bias, repr(n.optimizer_state))
            for layer in net.layers for n in layer.neurons]


def labels(net):
    """Every weight and bias of a feed-forward network, as textbook labels."""
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            for k in range(len(neuron.weights)):
                yield f"w_{j + 1}{k + 1}^({l + 2})"
            yield f"b_{j + 1}^({l + 2})"


@pytest.mark.parametrize("extra", range(len(EXTRAS)))
@pytest.mark.parametrize("case", range(len(OPTIMIZERS)))
def test_every_number_is_the_simulators_bit_for_bit(case, extra):
    name, options = OPTIMIZERS[case]
    penalty, clip = EXTRAS[extra]
    if name is None and not penalty and not clip:
        penalty = {"l2": 0.05}
    net = configured(load_example("four-layer"), name, options, penalty, clip)
    for steps in range(3):
        before = snapshot(net)
        for label in labels(net):
            e = explain_update(net, label)
            assert e.mismatches == [], (label, e.mismatches)
            assert "bit for bit" in render_update_explanation(e)
        assert snapshot(net) == before           # the network explained is left alone
        sample = net.samples[steps % len(net.samples)]
        net.step(sample["input"], sample["target"])


def test_the_state_and_new_value_are_those_the_network_then_keeps():
    net = configured(load_example("four-layer"), "adam", {"amsgrad": True},
                     {"l1": 0.01}, {"max_norm": 0.05})
    for _ in range(2):
        net.step(net.samples[0]["input"], net.samples[0]["target"])
    x, t = [0.5, -1, 0.25, 1], [0.3]
    e = explain_update(net, "w_21^(3)", x, t)
    net.step(x, t)
    neuron = net.layers[1].neurons[1]
    state = neuron.optimizer_state["weights"][0]
    assert e.chain["new"] == neuron.weights[0] and e.chain["t"] == state["step"] == 3
    assert (e.chain["m"], e.chain["v"], e.chain["vmax"]) == (
        state["exp_avg"], state["exp_avg_sq"], state["max_exp_avg_sq"])
    assert e.gradient["g"] == neuron.batch_grad["weights"][0]
    assert e.gradient["share"] == neuron.penalty_grad["weights"][0]
    assert e.gradient["norm"] == net.clip.last_norm


def test_first_adam_step_by_hand():
    """w = 2, x = 1, t = 1.5, E = ½(2 − 1.5)²: g = 0.5; m = 0.1·0.5, v = 0.001·0.25,
    m̂ = 0.5, v̂ = 0.25, w ← 2 − 0.1·0.5/(0.5 + 1e-8) (docs/optimizers.md)."""
    net = Network.from_arrays([[[2.0]]], [[0.0]], activations="linear", loss="half_sse",
                              learning_rate=0.1, update_biases=False).set_optimizer("adam")
    e = explain_update(net, "w_11^(2)", [1.0], [1.5])
    assert e.gradient["g"] == 0.5 and e.chain["t"] == 1
    assert e.chain["m"] == pytest.approx(0.05, rel=1e-15)
    assert e.chain["v"] == pytest.approx(0.00025, rel=1e-15)
    assert e.chain["mhat"] == pytest.approx(0.5, rel=1e-15)
    assert e.chain["vhat"] == pytest.approx(0.25, rel=1e-15)
    assert e.chain["new"] == 1.900000002
    text = render_update_explanation(e, digits=6)
    assert "m ← β₁·m + (1 − β₁)·g = m + (1 − β₁)·(g − m) = 0 + 0.1·(0.5 − 0) = 0.05" in text
    assert "v ← β₂·v + (1 − β₂)·g² = 0.999·0 + 0.001·0.5·0.5 = 0.00025" in text
    assert "m̂ = m/(1 − β₁ᵗ) = 0.05/0.1 = 0.5" in text
    assert "v̂ = v/(1 − β₂ᵗ) = 0.00025/0.001 = 0.25" in text
    assert "w₁₁⁽²⁾ ← w₁₁⁽²⁾ + Δ = 2 + (−0.1) = 1.9\n" in text
    assert "none yet (this parameter's first update)" in text
    fixed = render_update_explanation(explain_update(net, "b_1^(2)", [1.0], [1.5]))
    assert "The biases are fixed (update_biases is false)" in fixed


def test_plain_gradient_descent():
    net = load_example("mazur")
    e = explain_update(net, "w_11^(3)")
    assert e.optimizer is None and e.mismatches == [] and e.simulator_g is None
    text = render_update_explanation(e)
    assert "No optimizer: θ ← θ − η·g" in text and "Plain gradient descent keeps no state." in text
    assert f"w₁₁⁽³⁾ ← w₁₁⁽³⁾ − η·g = 0.4 − 0.5·{format_number(e.grad, 9)} = " in text


def test_sgd_momentum_lines_and_second_step():
    net = Network.from_arrays([[[2.0]]], [[0.0]], activations="linear", loss="half_sse",
                              learning_rate=0.1, update_biases=False)
    net.set_optimizer("sgd", momentum=0.9, dampening=0.5, nesterov=False)
    first = render_update_explanation(explain_update(net, "w_11^(2)", [1.0], [1.5]))
    assert "b ← g = 0.5   (the first step: torch's buffer starts as g)" in first
    net.step([1.0], [1.5])                         # w = 1.95, buffer 0.5
    e = explain_update(net, "w_11^(2)", [1.0], [1.5])
    text = render_update_explanation(e)
    assert "b ← μ·b + (1 − τ)·g = 0.9·0.5 + 0.5·0.45 = 0.675" in text
    assert "Δ = −η·b = −0.1·0.675 = −0.0675" in text and e.mismatches == []


@pytest.mark.parametrize("numbers", ["precise:40", "fraction"])
def test_exact_and_precise_numbers(numbers):
    spec = {"inputs": 2, "loss": "half_sse", "learning_rate": 0.5,
            "layers": [{"activation": "linear", "weights": [[0.5, -0.25], [0.125, 1]],
                        "biases": [0.5, 0]},
                       {"activation": "relu", "weights": [[1, -0.5]], "biases": [0.25]}],
            "samples": [{"input": [1, 2], "target": [0.5]}]}
    net = Network.from_spec(spec, numbers=numbers)
    if numbers == "fraction":
        configured(net, "sgd", {"momentum": 0.5, "nesterov": True}, {"l1": 0.25}, {"value": 0.3})
    else:
        configured(net, "adam", {"weight_decay": 0.1}, {"l2": 0.01}, {"max_norm": 0.1})
    net.step([1, 2], [0.5])
    for label in labels(net):
        e = explain_update(net, label)
        assert e.mismatches == [], (label, e.mismatches)
    if numbers == "fraction":
        text = render_update_explanation(explain_update(net, "w_11^(3)"))
        assert "/" in text and "bit for bit" in text


def test_a_difference_is_reported_not_hidden():
    net = configured(load_example("four-layer"), "adam", {})
    e = explain_update(net, "w_11^(2)")
    e.chain["m"] = e.chain["m"] * (1 + 1e-15) + 1e-300
    e.mismatches = _mismatches(e)
    assert [what for what, _, _ in e.mismatches] == ["exp_avg"]
    assert "THESE DIFFER from the lines above: exp_avg:" in render_update_explanation(e)


def test_what_it_refuses():
    net = configured(load_example("four-layer"), "adam", {})
    with pytest.raises(NeuronsimError, match="takes a weight or a bias"):
        explain_update(net, "δ_1^(2)")
    with pytest.raises(NeuronsimError, match="this initial state is fixed"):
        explain_update(load_example("rnn").set_optimizer("adam"), "a_1^(2)[0]")


def test_schedule_rate_is_the_one_used():
    net = configured(load_example("four-layer"), "sgd", {"momentum": 0.9})
    net.set_schedule("exponential", gamma=0.5)
    net.train(epochs=2, seed=0)
    e = explain_update(net, "w_11^(2)")
    assert e.learning_rate == net.schedule.lr and e.learning_rate != net.learning_rate
    assert e.mismatches == []
    assert "(the exponential schedule's rate now)" in render_update_explanation(e)


def latex_documents():
    for name, options in OPTIMIZERS:
        net = configured(load_example("four-layer"), name, options, {"l1": 0.01, "l2": 0.01},
                         {"max_norm": 0.01} if name != "sgd" else {"value": 0.001})
        net.step(net.samples[0]["input"], net.samples[0]["target"])
        for label, as_weight in (("w_21^(3)", False), ("b_1^(2)", True)):
            yield render_update_explanation(explain_update(net, label), "latex", digits=6,
                                            bias_as_weight=as_weight)
    from test_trace_optimizers_sequences import stack_spec

    net = configured(Network.from_spec(stack_spec()), "adam", {"amsgrad": True}, {"l2": 0.01})
    net.step(net.samples[0]["input"], net.samples[0]["target"], 0.1)
    for label in ("u_12^(3)", "a_1^(3)[0]", "w_11^(2)"):
        yield render_update_explanation(explain_update(net, label), "latex", digits=6)


def test_every_format_renders_and_latex_is_ascii():
    net = configured(load_example("four-layer"), "adam", {"amsgrad": True}, {"l2": 0.01})
    e = explain_update(net, "w_11^(2)")
    new = e.simulator_new
    for fmt in ("plain", "markdown", "latex"):
        text = render_update_explanation(e, fmt)
        style = "latex" if fmt == "latex" else "text"
        assert format_number(new, 9, style) in text
    for text in latex_documents():
        assert text.isascii(), sorted({c for c in text if not c.isascii()})


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles(tmp_path):
    body = "\n".join(latex_documents())
    (tmp_path / "update.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n"
        "\\usepackage[margin=1.5cm,landscape]{geometry}\n\\begin{document}\n" + body
        + "\n\\end{document}\n", encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "update.tex"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors


def test_cli(tmp_path, capsys):
    spec = tmp_path / "adam.json"
    spec.write_text('{"inputs": 2, "loss": "half_sse", "learning_rate": 0.1, '
                    '"optimizer": {"name": "adam"}, "penalty": {"l2": 0.01}, '
                    '"layers": [{"activation": "sigmoid", "weights": [[0.15, 0.2], [0.25, 0.3]],'
                    ' "biases": [0.35, 0.35]}, {"activation": "sigmoid", "weights": '
                    '[[0.4, 0.45]], "biases": [0.6]}], '
                    '"samples": [{"input": [0.05, 0.1], "target": [0.01]}]}')
    assert main(["explain", str(spec), "w_11^(3)", "--update"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Explain the update of w₁₁⁽³⁾ (adam)\n")
    assert "∂R/∂w₁₁⁽³⁾ = λ₁·sgn(w₁₁⁽³⁾) + λ₂·w₁₁⁽³⁾ = 0·1 + 0.01·0.4 = 0.004" in out
    assert main(["explain", str(spec), "W3[0,0]", "--update", "--format", "latex",
                 "--learning-rate", "0.2"]) == 0
    assert r"\hat{m}" in capsys.readouterr().out
    assert main(["explain", str(spec), "w_11^(3)", "--learning-rate", "0.2"]) == 2
    assert "--learning-rate: only with --update" in capsys.readouterr().err


def sequence_labels(net):
    """Every w, u, b and learned a[0] of a network that reads sequences."""
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            for k in range(len(neuron.weights)):
                yield f"w_{j + 1}{k + 1}^({l + 2})"
            for i in range(len(getattr(neuron, "recurrent_weights", None) or [])):
                yield f"u_{j + 1}{i + 1}^({l + 2})"
            yield f"b_{j + 1}^({l + 2})"
            if layer.is_recurrent and layer.learn_initial_state:
                yield f"a_{j + 1}^({l + 2})[0]"


@pytest.mark.parametrize("case", [1, 2, 5, 6, 8, 9])
@pytest.mark.parametrize("name", ["stack", "rnn"])
def test_sequence_networks_every_parameter_bit_for_bit(name, case):
    from test_trace_optimizers_sequences import stack_spec

    optimizer, options = OPTIMIZERS[case]
    net = Network.from_spec(stack_spec()) if name == "stack" else load_example("rnn")
    configured(net, optimizer, options, {"l1": 0.01, "l2": 0.01}, {"max_norm": 0.1})
    for sample in net.samples[:2]:
        net.step(sample["input"], sample["target"], 0.1)
    before = snapshot(net)
    seen = set()
    for label in sequence_labels(net):
        e = explain_update(net, label)
        assert e.mismatches == [], (label, e.mismatches)
        seen.add(label[0])
        text = render_update_explanation(e, digits=6)
        assert "(the batch is this one sequence)" in text and "bit for bit" in text
        assert text.isascii() is False and render_update_explanation(e, "latex").isascii()
    assert seen == ({"w", "u", "b", "a"} if name == "stack" else {"w", "u", "b"})
    assert snapshot(net) == before


def test_sequence_initial_state_lines():
    from test_trace_optimizers_sequences import stack_spec

    net = Network.from_spec(stack_spec()).set_optimizer("sgd", momentum=0.9)
    net.step(net.samples[0]["input"], net.samples[0]["target"], 0.1)
    e = explain_update(net, "a_2^(3)[0]")
    text = render_update_explanation(e, digits=6)
    assert "read as a₂⁽³⁾[0] = net.layers[1].initial_state[1]." in text
    state = net.layers[1].optimizer_state["initial_state"][1]["momentum_buffer"]
    assert f"b ← μ·b + (1 − τ)·g = 0.9·{factor(state, 6)} + 1·" in text
    assert "'neuronsim explain FILE a_2^(3)[0]' derives it" in text


def test_the_closing_sentence_names_only_what_was_compared():
    """Plain gradient descent keeps no g and no state: the sentence claims only the new value."""
    from neuronsim.files import load_example
    from neuronsim.hand.explain_update import explain_update, render_update_explanation

    net = load_example("mazur")
    text = render_update_explanation(explain_update(net, "w_11^(2)", [0.05, 0.1], [0.01, 0.99],
                                                    0.5))
    assert "compared bit for bit, the new value agrees." in text
    assert "state it keeps" not in text
    net = load_example("mazur")
    net.set_optimizer("adam")
    text = render_update_explanation(explain_update(net, "w_11^(2)", [0.05, 0.1], [0.01, 0.99],
                                                    0.5))
    assert ("compared bit for bit, the new value, the gradient g it applied and the state it "
            "keeps agree.") in text
