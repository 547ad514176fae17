"""net.widget(): its buttons driven as a class would press them; every number it shows
(the diagram's values, the status line, the trace tables) equals the core's own."""

import sys
import xml.etree.ElementTree as ET

import pytest
from test_draw_layout import stack_spec

from neuronsim import Network
from neuronsim.core.errors import NeuronsimError
from neuronsim.files import load_example
from neuronsim.render.numfmt import format_number
from neuronsim.core.summation import sum_in_order

pytest.importorskip("ipywidgets", reason='the widget needs ipywidgets (pip install '
                                         '"neuronsim[notebook]")')

NS = "{http://www.w3.org/2000/svg}"


def shown_values(widget):
    """{(textbook layer, neuron): value} of the diagram's neurons, and of its edges
    {(layer, from, to): value}."""
    root = ET.fromstring(widget.diagram.value)
    neurons = {(int(c.get("data-layer")), int(c.get("data-neuron"))): float(c.get("data-value"))
               for c in root.iter() if c.get("class", "").startswith("neuron")
               and c.get("data-value") is not None}
    edges = {(int(e.get("data-layer")), int(e.get("data-from")), int(e.get("data-to"))):
             float(e.get("data-value"))
             for e in root.iter(f"{NS}line") if e.get("data-value") is not None}
    return neurons, edges


def core_values(net, quantity):
    """The same keys from the network itself (net.layers[l] is textbook layer l + 2)."""
    if net.is_sequential:
        last = net.history[-1]
        return {(l + 2, j + 1): float(getattr(last[l][j], quantity))
                for l, layer in enumerate(net.layers) for j in range(layer.size)}
    return {(l + 2, j + 1): float(getattr(n, quantity))
            for l, layer in enumerate(net.layers) for j, n in enumerate(layer.neurons)}


def core_weights(net):
    return {(l + 2, k + 1, j + 1): float(w) for l, layer in enumerate(net.layers)
            if not hasattr(layer, "gates")
            for j, n in enumerate(layer.neurons) for k, w in enumerate(n.weights)}


def without_inputs(values):
    return {key: v for key, v in values.items() if key[0] > 1}


def test_forward_backward_update_show_the_cores_numbers():
    net, reference = load_example("mazur"), load_example("mazur")
    widget = net.widget()
    x, t = [0.05, 0.1], [0.01, 0.99]
    assert widget.input.value == "0.05, 0.1" and widget.target.value == "0.01, 0.99"

    widget.buttons["Forward"].click()
    outputs = reference.forward_pass(x)
    neurons, edges = shown_values(widget)
    assert without_inputs(neurons) == core_values(reference, "output")
    assert neurons[(1, 1)] == 0.05 and edges == core_weights(reference)
    assert widget.status.value.endswith(
        f"forward pass: output {format_number(outputs[0], 6)}, "
        f"{format_number(outputs[1], 6)}</p>")
    assert "Forward pass" in widget.tables.value and "Backward pass" not in widget.tables.value

    widget.show.value = "delta"
    widget.buttons["Backward"].click()
    loss = reference.back_prop(t)
    neurons, _ = shown_values(widget)
    assert without_inputs(neurons) == core_values(reference, "delta")
    assert f"E = {format_number(loss, 6)}" in widget.status.value
    assert "Backward pass" in widget.tables.value
    assert format_number(reference.layers[1].neurons[0].delta, 6) in widget.tables.value

    widget.buttons["Update"].click()
    reference.update_weights(0.5)
    _, edges = shown_values(widget)
    assert edges == core_weights(reference)              # the new weights
    new = reference.layers[0].neurons[0].weights[0]     # Mazur's w1+ = 0.149780716
    assert new == pytest.approx(0.149780716, abs=1e-9)
    assert format_number(new, 6) in widget.tables.value and "Update" in widget.tables.value
    assert net.to_spec() == reference.to_spec()


def test_buttons_out_of_turn_and_bad_text_say_why_in_the_status_line():
    net = load_example("mazur")
    before = net.to_spec()
    widget = net.widget()
    for name, message in (("Backward", "Backward needs a forward pass first"),
                          ("Update", "Update needs gradients first")):
        widget.buttons[name].click()
        assert message in widget.status.value and "#b00020" in widget.status.value
    widget.input.value = "1, two"
    widget.buttons["Step"].click()
    assert "input x: " in widget.status.value
    widget.input.value = "1"
    widget.buttons["Forward"].click()
    assert "input x: expected 2 numbers, got 1" in widget.status.value
    widget.input.value = "0.05, 0.1"
    widget.rate.value = "-1"
    widget.buttons["Step"].click()
    assert "η: expected a learning rate above 0" in widget.status.value
    widget.value.value = "1e999"
    widget.set_button.click()
    assert "#b00020" in widget.status.value
    widget.target.value = "<script>"
    widget.buttons["Step"].click()
    assert "<script>" not in widget.status.value          # user text is escaped
    assert net.to_spec() == before                        # nothing half-done


def test_an_edited_weight_input_and_rate_step_as_the_core_does():
    net, reference = load_example("four-layer"), load_example("four-layer")
    widget = net.widget()
    labels = [label for label, _ in widget.parameter.options]
    widget.parameter.value = labels.index("w₁₂⁽³⁾")
    assert widget.value.value == repr(reference.layers[1].neurons[0].weights[1])
    widget.value.value = "-3/4"
    widget.set_button.click()
    assert "w₁₂⁽³⁾ = −0.75" in widget.status.value
    reference.layers[1].neurons[0].weights[1] = -0.75
    widget.sample.value = 0                                # typed input
    widget.input.value = "1/2, -1, 0.25, 2"
    widget.target.value = "0.3"
    widget.rate.value = "0.1"
    widget.show.value = "z"
    widget.buttons["Step"].click()
    loss = reference.step([0.5, -1, 0.25, 2], [0.3], 0.1)
    assert f"E = {format_number(loss, 6)}" in widget.status.value
    neurons, edges = shown_values(widget)
    assert without_inputs(neurons) == core_values(reference, "z")
    assert edges == core_weights(reference)
    assert net.to_spec() == reference.to_spec()


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_the_optimizer_choice_updates_as_the_core_does(optimizer):
    net, reference = load_example("xor"), load_example("xor")
    widget = net.widget()
    widget.optimizer.value = optimizer
    reference.set_optimizer(optimizer)
    rate = reference.learning_rate
    for number in (1, 2, 3):
        widget.sample.value = number
        widget.buttons["Step"].click()
        sample = reference.samples[number - 1]
        reference.step(sample["input"], sample["target"], rate)
    assert net.to_spec() == reference.to_spec()
    assert shown_values(widget)[1] == core_weights(reference)


def test_epoch_is_one_pass_of_train_in_file_order():
    net, reference = load_example("xor"), load_example("xor")
    widget = net.widget()
    widget.buttons["Epoch"].click()
    widget.buttons["Epoch"].click()
    losses = [reference.train(epochs=1, learning_rate=reference.learning_rate,
                              shuffle=False)[0] for _ in range(2)]
    assert widget.epochs == losses
    assert f"epoch 2 (4 samples, online, in file order): loss {format_number(losses[1], 6)}" \
        in widget.status.value
    assert net.to_spec() == reference.to_spec()
    assert net.tracer is widget.tracer                  # traced again after the epoch


def test_a_network_that_reads_sequences():
    net, reference = load_example("rnn-parity"), load_example("rnn-parity")
    widget = net.widget()
    sample = reference.samples[0]
    assert widget.input.value.startswith("[[") and widget.target.value.startswith("[")
    widget.buttons["Forward"].click()
    reference.forward_pass(sample["input"])
    assert without_inputs(shown_values(widget)[0]) == core_values(reference, "output")
    widget.buttons["Backward"].click()
    widget.buttons["Update"].click()
    reference.back_prop(sample["target"])
    reference.update_weights(reference.learning_rate)
    assert net.to_spec() == reference.to_spec()
    assert "t = 1" in widget.tables.value or "[1]" in widget.tables.value
    widget.input.value = "[[1], [0]]"
    widget.target.value = "[[0], null]"
    widget.buttons["Step"].click()
    loss = reference.step([[1], [0]], [[0], None], reference.learning_rate)
    assert f"E = {format_number(loss, 6)}" in widget.status.value
    widget.input.value = "[[1, 2]]"
    widget.buttons["Step"].click()
    assert "input x: time step 1: expected a list of 1 numbers" in widget.status.value
    assert net.to_spec() == reference.to_spec()


def test_lstm_and_gru_networks_step_and_show_h():
    net, reference = Network.from_spec(stack_spec()), Network.from_spec(stack_spec())
    widget = net.widget()
    labels = [label for label, _ in widget.parameter.options]
    assert "w_f,11⁽³⁾" in labels and "b_hn,2⁽⁴⁾" in labels
    widget.parameter.value = labels.index("u_o,12⁽³⁾")
    widget.value.value = "0.5"
    widget.set_button.click()
    reference.layers[1].gates["output"][0].recurrent_weights[1] = 0.5
    widget.buttons["Forward"].click()
    sample = reference.samples[0]
    reference.forward_pass(sample["input"])
    assert without_inputs(shown_values(widget)[0]) == core_values(reference, "output")
    # the trace tables, gate by gate, with the network's own numbers
    gate = reference.history[0][1][0].gates["forget"]
    assert format_number(gate.z, 6, "html") in widget.tables.value
    widget.buttons["Backward"].click()
    widget.buttons["Update"].click()
    reference.back_prop(sample["target"])
    reference.update_weights(reference.learning_rate)
    assert net.to_spec() == reference.to_spec()


def test_net_widget_is_reached_through_the_services_and_closes_cleanly():
    from neuronsim.classroom.widget import NetworkWidget

    net = load_example("mazur")
    widget = net.widget(digits=4, width=500)
    assert isinstance(widget, NetworkWidget) and net.tracer is widget.tracer
    assert 'width="500"' in widget.diagram.value
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    widget.close()
    assert net.tracer is None


def test_without_ipywidgets_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(NeuronsimError, match=r'pip install "neuronsim\[notebook\]"'):
        load_example("mazur").widget()


def curve_points(widget):
    """The loss curve's polyline, as the number of its points."""
    root = ET.fromstring(widget.curve.value)
    line = next(root.iter(f"{NS}polyline"))
    return len(line.get("points").split())


def test_play_steps_through_the_samples_and_draws_the_loss_curve():
    net, reference = load_example("xor"), load_example("xor")
    widget = net.widget()
    assert "starts at the first update" in widget.curve.value
    pairs = reference.sample_pairs(reference.samples)
    for tick in range(1, 7):               # what the Play widget's timer does
        widget.play.value = tick
        x, t = pairs[tick % 4]              # from sample 1, the next sample each tick
        reference.step(x, t, reference.learning_rate)
        losses = [reference.loss_of(x, t) for x, t in pairs]
        assert widget.losses[-1] == (tick, sum_in_order(losses) / 4)
    assert widget.sample.value == 3          # tick 6 stepped on sample 6 % 4 + 1
    assert net.to_spec() == reference.to_spec()
    assert curve_points(widget) == 6
    # the diagram still shows the step's values (the curve's passes ran on a copy)
    assert without_inputs(shown_values(widget)[0]) == core_values(net, "output")


def test_play_stops_with_the_reason_when_a_step_cannot_run():
    net = load_example("xor")
    widget = net.widget()
    widget.rate.value = "-1"
    widget.play.playing = True
    widget.play.value = 1
    assert widget.play.playing is False
    assert "η: expected a learning rate above 0" in widget.status.value
    assert widget.losses == []
