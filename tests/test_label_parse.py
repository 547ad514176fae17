"""Reading labels: textbook (plain and Unicode), numpy style, Python API; both conventions."""

import pytest
from catalogue import mazur

from neuronsim.files import load_example
from neuronsim.hand.label_parse import LabelError, Target, check_target, parse_label

W22_NIELSEN = Target("w", 0, 1, 1)   # net.layers[0].neurons[1].weights[1]


@pytest.mark.parametrize("text", [
    "w_22^(2)", "w_{22}^{(2)}", "w_2,2^(2)", "w_{2,2}^{(2)}", "(w_22)^(2)", "w^(2)_22",
    "w_22^2", "$w_{22}^{(2)}$", "W_22^(2)", " w_22^(2) ", "w₂₂⁽²⁾", "dE/dw_22^(2)",
    "∂C/∂w₂₂⁽²⁾", r"\frac{}{}w_{22}^{(2)}".replace(r"\frac{}{}", ""),
    "W2[1,1]", "W2[1][1]", "layers[0].neurons[1].weights[1]",
    "net.layers[0].neurons[1].weights[1]"])
def test_forms_of_one_weight(text):
    assert parse_label(text) == W22_NIELSEN


@pytest.mark.parametrize("text, target", [
    ("b_1^(3)", Target("b", 1, 0)), ("b₁⁽³⁾", Target("b", 1, 0)), ("b3[0]", Target("b", 1, 0)),
    ("δ_1^(2)", Target("delta", 0, 0)), ("δ₁⁽²⁾", Target("delta", 0, 0)),
    ("delta_1^(2)", Target("delta", 0, 0)), (r"\delta_1^{(2)}", Target("delta", 0, 0)),
    ("d_2^(3)", Target("delta", 1, 1)), ("z_1^(3)", Target("z", 1, 0)),
    ("a_2^(1)", Target("a", -1, 1)), ("a_1^(4)", Target("a", 2, 0)),
    ("layers[2].neurons[0].delta", Target("delta", 2, 0)),
    ("net.layers[1].neurons[0].bias", Target("b", 1, 0)),
    ("layers[1].neurons[1].output", Target("a", 1, 1)),
    ("layers[1].neurons[1].z", Target("z", 1, 1)),
    ("w_12,3^(2)", Target("w", 0, 11, 2)), ("w₁₂,₃⁽²⁾", Target("w", 0, 11, 2)),
])
def test_other_quantities(text, target):
    assert parse_label(text) == target


def test_ng_convention_moves_weights_and_biases_only():
    assert parse_label("w_22^(2)", "ng") == Target("w", 1, 1, 1)
    assert parse_label("W2[1,1]", "ng") == Target("w", 1, 1, 1)
    assert parse_label("b_1^(3)", "ng") == Target("b", 2, 0)
    assert parse_label("δ_1^(2)", "ng") == Target("delta", 0, 0)
    assert parse_label("layers[0].neurons[1].weights[1]", "ng") == W22_NIELSEN
    with pytest.raises(ValueError, match="unknown convention"):
        parse_label("w_22^(2)", "bishop")


@pytest.mark.parametrize("convention", ["nielsen", "ng"])
@pytest.mark.parametrize("style", ["text", "ascii", "latex"])
def test_every_printed_label_reads_back(convention, style):
    net = load_example("four-layer")
    targets = []
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            targets += [Target("w", l, j, k) for k in range(len(neuron.weights))]
            targets += [Target(kind, l, j) for kind in ("b", "delta", "z", "a")]
    for target in targets:
        text = target.label(convention, style)
        assert parse_label(text, convention, net) == target, text


@pytest.mark.parametrize("text", [
    "w_10^(3)", "w₁₀⁽³⁾", "w_1,0^(3)", "w_{10}^{(3)}", "$w_{10}^{(3)}$", "(w_10)^(3)",
    "w^(3)_10", "dE/dw_10^(3)", "∂C/∂w₁₀⁽³⁾", "b_1^(3)"])
def test_w_j0_is_the_bias(text):
    """w_j0^(l): the bias as the weight on a constant input a_0 = 1."""
    assert parse_label(text) == Target("b", 1, 0)
    assert parse_label(text).python() == "net.layers[1].neurons[0].bias"


def test_w_j0_follows_the_weight_convention():
    # A bias label has the superscript of its neuron's weights: l (nielsen), l-1 (ng).
    assert parse_label("w_10^(3)", "nielsen") == Target("b", 1, 0)
    assert parse_label("w_10^(2)", "ng") == Target("b", 1, 0)
    assert parse_label("w₁₀⁽²⁾", "ng") == parse_label("b₁⁽²⁾", "ng") == Target("b", 1, 0)
    assert parse_label("w₁₀⁽²⁾", "nielsen") == Target("b", 0, 0)
    assert parse_label("w_12,0^(3)", "ng") == Target("b", 2, 11)
    assert Target("b", 1, 0).label("nielsen", bias_as_weight=True) == "w₁₀⁽³⁾"
    assert Target("b", 1, 0).label("ng", bias_as_weight=True) == "w₁₀⁽²⁾"
    assert Target("b", 1, 0).label("ng", "ascii", bias_as_weight=True) == "w_10^(2)"
    assert Target("b", 2, 11).label("nielsen", "latex", bias_as_weight=True) == \
        "w_{12,0}^{(4)}"
    assert Target("b", 1, 0).label("ng") == "b₁⁽²⁾"


@pytest.mark.parametrize("convention", ["nielsen", "ng"])
@pytest.mark.parametrize("style", ["text", "ascii", "latex"])
def test_every_bias_printed_as_a_weight_reads_back(convention, style):
    net = load_example("four-layer")
    for l, layer in enumerate(net.layers):
        for j in range(layer.size):
            text = Target("b", l, j).label(convention, style, bias_as_weight=True)
            assert text.startswith("w")
            assert parse_label(text, convention, net) == Target("b", l, j), text


@pytest.mark.parametrize("text, convention, message", [
    ("w_10^(4)", "nielsen", r"superscripts run from 2 to 3"),
    ("w_10^(3)", "ng", r"superscripts run from 1 to 2"),
    ("w_30^(2)", "nielsen", "has neurons 1 to 2")])
def test_w_j0_outside_the_network(text, convention, message):
    with pytest.raises(LabelError, match=message):
        parse_label(text, convention, mazur())


def test_python_locations():
    assert W22_NIELSEN.python() == "net.layers[0].neurons[1].weights[1]"
    assert Target("a", -1, 2).python() == "net.inputs[2]"
    assert Target("b", 1, 0).python() == "net.layers[1].neurons[0].bias"
    assert Target("w", 1, 0, 1).label("ng") == "w₁₂⁽²⁾"
    assert Target("w", 1, 0, 1).label("nielsen", "ascii") == "w_12^(3)"


@pytest.mark.parametrize("text, message", [
    ("", "empty label"), ("x_1^(2)", "cannot read the label"),
    ("w_123^(2)", "with a comma"), ("w_22", "superscript"), ("w_2^(2)", "two subscripts"),
    ("w_1,2,3^(2)", "two subscripts"), ("δ_1,2^(2)", "one subscript"),
    ("w_02^(2)", "count neurons from 1"), ("w_00^(2)", "count neurons from 1"),
    ("W2[1]", "two indices"), ("b2[1,1]", "one index"),
    ("w_22^(2)junk", "cannot read")])
def test_unreadable_labels(text, message):
    with pytest.raises(LabelError, match=message):
        parse_label(text)


@pytest.mark.parametrize("text, convention, message", [
    ("w_11^(4)", "nielsen", r"superscripts run from 2 to 3"),
    ("w_11^(1)", "nielsen", r"superscripts run from 2 to 3"),
    ("w_11^(3)", "ng", r"superscripts run from 1 to 2"),
    ("w_31^(2)", "nielsen", "has neurons 1 to 2"),
    ("w_13^(2)", "nielsen", "inputs k = 1 to 2"),
    ("δ_1^(1)", "nielsen", "layers with neurons are 2 to 3"),
    ("a_3^(1)", "nielsen", "input layer has neurons 1 to 2")])
def test_labels_outside_the_network(text, convention, message):
    with pytest.raises(LabelError, match=message):
        parse_label(text, convention, mazur())


def test_check_target_accepts_inputs():
    assert check_target(Target("a", -1, 1), mazur()) == Target("a", -1, 1)


# ---------------------------------------------------------------- recurrent networks
@pytest.mark.parametrize("convention", ["nielsen", "ng"])
@pytest.mark.parametrize("text", [
    "u_12^(2)", "u₁₂⁽²⁾", "u_1,2^(2)", "dE/du_12^(2)", "U_12^(2)", "U2[0,1]", "U2[0][1]",
    "layers[0].neurons[0].recurrent_weights[1]"])
def test_forms_of_one_recurrent_weight(text, convention):
    """u's superscript is its layer's own number in both conventions."""
    assert parse_label(text, convention, load_example("rnn")) == Target("u", 0, 0, 1)


@pytest.mark.parametrize("text, target", [
    ("δ_1^(2)[3]", Target("delta", 0, 0, None, 3)), ("δ₁⁽²⁾[3]", Target("delta", 0, 0, None, 3)),
    ("delta_2^(2)[1]", Target("delta", 0, 1, None, 1)), ("z_1^(3)[4]", Target("z", 1, 0, None, 4)),
    ("z₁⁽³⁾[4]", Target("z", 1, 0, None, 4)), ("a_3^(2)[2]", Target("a", 0, 2, None, 2)),
    ("a_1^(2)[0]", Target("a", 0, 0, None, 0)), ("a₁⁽²⁾[0]", Target("a", 0, 0, None, 0)),
    ("a_1^(1)[2]", Target("a", -1, 0, None, 2)),
    ("net.history[2][0][1].delta", Target("delta", 0, 1, None, 3)),
    ("history[0][1][0].output", Target("a", 1, 0, None, 1)),
    ("layers[0].initial_state[1]", Target("a", 0, 1, None, 0)),
])
def test_quantities_at_a_time_step(text, target):
    assert parse_label(text, net=load_example("rnn")) == target


@pytest.mark.parametrize("style", ["text", "ascii", "latex"])
def test_every_recurrent_label_reads_back(style):
    net = load_example("rnn")
    targets = [Target("u", 0, j, i) for j in range(4) for i in range(4)]
    targets += [Target(kind, l, j, None, t) for l, layer in enumerate(net.layers)
                for j in range(layer.size) for kind in ("z", "a", "delta") for t in (1, 4)]
    targets += [Target("a", 0, j, None, 0) for j in range(4)]
    for target in targets:
        text = target.label("nielsen", style)
        assert parse_label(text, "nielsen", net) == target, text


@pytest.mark.parametrize("text, message", [
    ("u_11^(3)", "'u_11^(3)': textbook layer 3 is a dense layer; recurrent weights u belong to "
                 "recurrent layers (layer 2 here)"),
    ("a_1^(3)[0]", "'a_1^(3)[0]': textbook layer 3 is a dense layer; only a recurrent layer has "
                   "an initial state a[0] (layer 2 here)"),
    ("δ_1^(2)", "'δ_1^(2)': this network reads sequences: give the time step, for example "
                "δ₁⁽²⁾[1] for t = 1"),
    ("δ_1^(2)[0]", "'δ_1^(2)[0]': step 0 holds only the initial state a[0]; z and δ start at "
                   "t = 1"),
    ("w_11^(2)[2]", "'w_11^(2)[2]': a weight or bias has no time step (its gradient sums over "
                    "every step): write it without [t]"),
    ("u_15^(2)", "'u_15^(2)': recurrent weights of textbook layer 2 come from neurons i = 1 to "
                 "4 of the same layer"),
    ("u_10^(2)", "'u_10^(2)': textbook labels count neurons from 1"),
    ("δ_5^(2)[1]", "'δ_5^(2)[1]': textbook layer 2 has neurons 1 to 4"),
    ("a_1^(1)[0]", "'a_1^(1)[0]': the inputs x[t] start at t = 1"),
    ("U2[0]", "U2[0]: a recurrent weight needs two indices, U2[j,i] (0-based)"),
])
def test_recurrent_labels_that_name_nothing(text, message):
    with pytest.raises(LabelError) as info:
        parse_label(text, net=load_example("rnn"))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_steps_beyond_the_sequence_and_steps_on_a_feed_forward_network():
    with pytest.raises(LabelError, match=r"^'δ_1\^\(2\)\[5\]': the sequence has time steps "
                                         r"t = 1 to 4$"):
        check_target(parse_label("δ_1^(2)[5]"), load_example("rnn"), "δ_1^(2)[5]", steps=4)
    with pytest.raises(LabelError, match="feed-forward and has no time steps"):
        parse_label("δ_1^(2)[1]", net=mazur())
    with pytest.raises(LabelError, match="layer 2 is a dense layer; recurrent weights u belong "
                                         r"to recurrent layers \(this network has none\)"):
        parse_label("u_11^(2)", net=mazur())
