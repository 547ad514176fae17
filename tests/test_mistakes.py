"""The early-update mistake: wrong on purpose, outside the core, compared neuron by neuron."""

from fractions import Fraction as F

import pytest
from catalogue import mazur

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.files import load_example
from neuronsim.hand.mistakes import (
    compare_early_update,
    early_update_step,
    render_comparison,
)


def hand_network():
    return Network.from_arrays([[["1/2", -1], ["3/4", "1/4"]], [[1, "-1/2"]]],
                               [[1, "-1/2"], ["1/4"]], ["relu", "linear"], "half_sse",
                               numbers="fraction", learning_rate="1/8",
                               samples=[([2, 1], [1])])


def test_hand_example_exactly():
    """The output layer is updated first (w_11^(3) = 67/64, w_12^(3) = -113/256), then
    the hidden deltas use those new weights: δ^(2) = (w_new δ^(3)) g'(z)."""
    net = hand_network()
    loss = early_update_step(net, [2, 1], [1])
    assert loss == F(9, 128)
    hidden, out = net.layers
    assert out.neurons[0].delta == F(-3, 8)
    assert out.neurons[0].weights == [F(67, 64), F(-113, 256)]      # same as the true step
    assert [n.delta for n in hidden.neurons] == [F(67, 64) * F(-3, 8), F(-113, 256) * F(-3, 8)]
    assert [n.delta for n in hidden.neurons] == [F(-201, 512), F(339, 2048)]
    assert hidden.neurons[0].weights == [F(1, 2) - F(1, 8) * 2 * F(-201, 512),
                                         -1 - F(1, 8) * 1 * F(-201, 512)]


def test_comparison_four_layer():
    net = load_example("four-layer")
    comparison = compare_early_update(net)
    true_net = net.copy(batch=False, rule=False)
    true_net.step([1.0, 0.5, -1.0, 2.0], [1.0])
    by_layer = {}
    for row in comparison.rows:
        by_layer.setdefault(row.layer, []).append(row)
        neuron = true_net.layers[row.layer].neurons[row.neuron]
        assert row.weights_true == neuron.weights and row.bias_true == neuron.bias
    assert not any(r.differs for r in by_layer[2])                 # output layer: right
    assert all(r.delta_true != r.delta_early for r in by_layer[1] + by_layer[0])
    # δ^(3) of the mistake is computed with the already-updated W^(4):
    out_new = by_layer[2][0]
    early = net.copy(batch=False, rule=False)
    early.forward_pass([1.0, 0.5, -1.0, 2.0])
    for row in by_layer[1]:
        g = early.layers[1].neurons[row.neuron].derivative
        assert row.delta_early == pytest.approx(
            out_new.weights_true[row.neuron] * out_new.delta_true * g, rel=1e-12)
    assert comparison.first_difference().layer == 1
    assert net.to_spec() == load_example("four-layer").to_spec()     # net itself untouched


def test_core_step_is_unaffected():
    net, reference = load_example("four-layer"), load_example("four-layer")
    early_update_step(net.copy(batch=False, rule=False), [1.0, 0.5, -1.0, 2.0], [1.0])
    net.step([1.0, 0.5, -1.0, 2.0], [1.0])
    compare = compare_early_update(reference)
    assert [n.weights for layer in net.layers for n in layer.neurons] == \
        [r.weights_true for r in compare.rows]


def test_one_layer_network_has_nothing_to_get_wrong():
    net = Network.from_arrays([[[0.5, -0.5]]], [[0.1]], "sigmoid", "half_sse",
                              learning_rate=0.5, samples=[([1, 2], [1])])
    comparison = compare_early_update(net)
    assert comparison.first_difference() is None
    assert "No delta differs" in render_comparison(comparison)


def test_render_is_clearly_labelled():
    text = render_comparison(compare_early_update(mazur(learning_rate=0.5),
                                                  [0.05, 0.1], [0.01, 0.99]))
    assert text.startswith("THE EARLY-UPDATE MISTAKE (shown on purpose)")
    assert "early update (MISTAKE)" in text and "weight convention nielsen" in text
    assert "The first delta that differs is δ₁⁽²⁾" in text
    latex = render_comparison(compare_early_update(hand_network()), "latex")
    assert r"-\frac{201}{512}" in latex


def test_cli_early_update(capsys):
    assert main(["early-update", "four-layer", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| 3       | 1        | δ₁⁽³⁾" in out and "differs" in out
    assert main(["early-update", "mazur", "--learning-rate", "1/2", "--numbers",
                 "precise:30"]) == 0
    assert "THE EARLY-UPDATE MISTAKE" in capsys.readouterr().out


def test_two_layers_with_zero_output_delta_say_why_nothing_differs():
    # z = (1/2 - 1, 1/4 + 1) = (-1/2, 5/4), a = z; output 5/4 - 1/2 = 3/4 = t, so δ^(3) = 0
    net = Network.from_arrays([[["1/2", "-1/2"], ["1/4", "1/2"]], [[1, 1]]],
                              [[0, 0], [0]], ["linear", "linear"], "half_sse",
                              numbers="fraction", learning_rate="1/2",
                              samples=[([1, 2], ["3/4"])])
    comparison = compare_early_update(net)
    assert comparison.rows[-1].delta_true == 0
    assert comparison.first_difference() is None
    summary = render_comparison(comparison).rstrip("\n").split("\n\n")[-1]
    assert summary == (
        "No delta differs: the deltas and updates of the layers below the output happen to be "
        "unaffected on this sample (for example when the output deltas are zero, the output "
        "weights do not change before they are used), so the mistake changes nothing here "
        "(on other samples it can).")
    one_layer = Network.from_arrays([[[0.5, -0.5]]], [[0.1]], "sigmoid", "half_sse",
                                    learning_rate=0.5, samples=[([1, 2], [1])])
    summary = render_comparison(compare_early_update(one_layer)).rstrip("\n").split("\n\n")[-1]
    assert summary == ("No delta differs: with a single layer of weights there is no layer "
                       "below the output to receive a wrong delta, so the mistake changes "
                       "nothing here.")


def test_cli_shows_the_mistake_through_time_for_a_recurrent_network(capsys):
    """Recurrent networks: tests/test_hand_recurrent.py checks the numbers."""
    assert main(["early-update", "rnn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("THE EARLY-UPDATE MISTAKE THROUGH TIME (shown on purpose)")
    assert ("the first delta that differs is δ₁⁽²⁾[4]: BPTT computed it through the "
            "weights of layer 3, already updated at step 4.") in out
