"""A MISTAKE, shown on purpose: updating each layer as soon as its deltas exist.

The correct step computes every delta with the weights the forward pass
used, and only then changes any weight:

    δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l))      with the OLD W^(l+1)
    W ← W − η · dE/dW                           after the whole backward pass

:func:`early_update_step` makes the mistake textbooks warn about: during the
backward pass it updates layer l+1 as soon as δ^(l+1) is known, and then
back-propagates through the NEW W^(l+1) to get δ^(l).  The output layer's
deltas and update are still right; every earlier layer gets deltas of a
network that never produced the forward pass, so its update is not the
gradient step.  :func:`compare_early_update` runs both on copies of a
network and lists the difference neuron by neuron.

This lives outside the core on purpose: ``Network``, ``Layer`` and
``Neuron`` have no option for it, and it reuses their methods in the wrong
order (``Layer.apply_update`` before ``Layer.input_grads``).  Nothing else in
neuronsim calls it.

    >>> from neuronsim.files import load_example
    >>> c = compare_early_update(load_example("four-layer"))
    >>> c.rows[-1].delta_true == c.rows[-1].delta_early      # output layer: same
    True
    >>> c.first_difference().layer                         # textbook layer 3 differs
    1
"""

import sys
from dataclasses import dataclass

from ..core import labels as lab
from ..core.errors import NumericalError, ShapeError
from ..render.numfmt import format_number
from .explain import copy_network, first_sample, is_paired

FORMATS = ("plain", "markdown", "latex")


def early_update_step(net, x, target, learning_rate=None):
    """THE EARLY-UPDATE MISTAKE: one online step that updates each layer
    during the backward pass, before the deltas of the layer below use it.

    Changes ``net``'s weights; returns the sample's loss.  For teaching
    only: use ``net.step`` for the correct step.
    """
    rate = net.learning_rate if learning_rate is None else learning_rate
    if rate is None:
        raise ValueError("no learning rate: pass one or set learning_rate in the network file")
    rate = net.numbers.convert(rate)
    outputs = net.forward_pass(x)
    target = [net.numbers.convert(v) for v in target]
    if len(target) != net.n_outputs:
        raise ShapeError(f"target: expected {net.n_outputs} numbers, got {len(target)}")
    loss = net.loss
    output_layer = net.layers[-1]
    output_grads = loss.output_grads(outputs, target)
    if is_paired(net):
        value = loss.paired_value([n.z for n in output_layer.neurons], target)
        output_layer.set_deltas(loss.paired_delta(outputs, target), output_grads, False)
    else:
        value = loss.value(outputs, target)
        output_layer.back_prop(output_grads, False)
    for index in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[index]
        layer.apply_update(rate, 1, net.update_biases)   # THE MISTAKE: too early
        if index > 0:
            grads = layer.input_grads()                   # uses the weights just changed
            net.layers[index - 1].back_prop(grads, False)
            _check_exact_length(net, index - 1)
    return value


def _check_exact_length(net, index):
    """Stop, naming the layer, once an exact delta of ``net.layers[index]`` is
    longer than Python writes (sys.get_int_max_str_digits()): with exact
    fractions the early update about doubles the deltas' length at every
    layer, so a deep network's next layer would take minutes."""
    most = sys.get_int_max_str_digits()
    if not getattr(net.numbers, "exact", False) or not most:
        return
    for j, neuron in enumerate(net.layers[index].neurons):
        value = neuron.delta
        bits = max(value.numerator.bit_length(), value.denominator.bit_length())
        if bits * 0.30103 > most:
            raise NumericalError(
                f"early-update: the exact delta of layer {index + 2}, neuron {j + 1} has about "
                f"{int(bits * 0.30103):,} digits, more than can be written ({most:,}): the "
                "early update about doubles the deltas' length at every layer; use --numbers "
                "precise:50 (docs/number-modes.md)")


@dataclass
class NeuronComparison:
    """One neuron after the true step and after the early-update mistake."""

    layer: int
    neuron: int
    delta_true: object
    delta_early: object
    weights_true: list
    weights_early: list
    bias_true: object
    bias_early: object

    @property
    def differs(self):
        return (self.delta_true != self.delta_early or self.weights_true != self.weights_early
                or self.bias_true != self.bias_early)


@dataclass
class EarlyUpdateComparison:
    rows: list                 # NeuronComparison, forward order
    x: list
    t: list
    learning_rate: object
    loss: object

    def first_difference(self):
        """The neuron nearest the output whose delta differs (the first to go wrong)."""
        for row in sorted(self.rows, key=lambda r: (-r.layer, r.neuron)):
            if row.delta_true != row.delta_early:
                return row
        return None


def compare_early_update(net, x=None, t=None, learning_rate=None):
    """The true step and the early-update mistake on copies of ``net``."""
    x, t = first_sample(net, x, t, net.name or "the network")
    rate = net.learning_rate if learning_rate is None else learning_rate
    right, wrong = copy_network(net), copy_network(net)
    right.forward_pass(x)
    value = right.back_prop(t)
    deltas = [[n.delta for n in layer.neurons] for layer in right.layers]
    right.update_weights(rate)
    early_update_step(wrong, x, t, rate)
    rows = []
    for l, (good, bad) in enumerate(zip(right.layers, wrong.layers)):
        for j, (n_good, n_bad) in enumerate(zip(good.neurons, bad.neurons)):
            rows.append(NeuronComparison(l, j, deltas[l][j], n_bad.delta, list(n_good.weights),
                                         list(n_bad.weights), n_good.bias, n_bad.bias))
    return EarlyUpdateComparison(rows, right.inputs, right.target,
                                 right.numbers.convert(rate), value)


def render_comparison(comparison, format="plain", digits=9, convention="nielsen"):
    """Neuron by neuron: δ, each new weight and the new bias, true vs mistaken."""
    from tabulate import tabulate

    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    style = "latex" if format == "latex" else "text"
    tablefmt = {"plain": "simple", "markdown": "github", "latex": "latex_raw"}[format]

    def num(v):
        return format_number(v, digits, style)

    def cell(label):
        return f"${label}$" if style == "latex" else label

    rows = []
    for r in comparison.rows:
        l, j = r.layer, r.neuron
        entries = [(lab.neuron_label("delta", l, j, style), r.delta_true, r.delta_early)]
        entries += [("new " + lab.weight_label(l, j, k, convention, style), good, bad)
                    for k, (good, bad) in enumerate(zip(r.weights_true, r.weights_early))]
        entries.append(("new " + lab.bias_label(l, j, convention, style), r.bias_true,
                        r.bias_early))
        for label, good, bad in entries:
            rows.append([str(l + 2), str(j + 1), cell(label), num(good), num(bad),
                         num(bad - good), "" if good == bad else "differs"])
    table = tabulate(rows, headers=["layer", "neuron", "quantity", "true step",
                                    "early update (MISTAKE)", "difference", ""],
                     tablefmt=tablefmt, disable_numparse=True, stralign="left")
    return _intro(comparison, convention) + "\n\n" + table + "\n\n" + _summary(comparison) + "\n"


def _intro(comparison, convention):
    return ("THE EARLY-UPDATE MISTAKE (shown on purpose): during the backward pass each layer "
            "is updated as soon as its deltas exist, so the deltas of the layer before it are "
            "computed with the already-changed weights.  The true step computes every delta "
            "with the weights of the forward pass and updates afterwards.  One online step, "
            f"learning rate {format_number(comparison.learning_rate)}.  Textbook numbering "
            f"(input layer = layer 1, neurons from 1); weight convention {convention}.")


def _summary(comparison):
    first = comparison.first_difference()
    if first is None:
        n_layers = max(r.layer for r in comparison.rows) + 1
        if n_layers == 1:
            return ("No delta differs: with a single layer of weights there is no layer "
                    "below the output to receive a wrong delta, so the mistake changes "
                    "nothing here.")
        return ("No delta differs: the deltas and updates of the layers below the output "
                "happen to be unaffected on this sample (for example when the output deltas "
                "are zero, the output weights do not change before they are used), so the "
                "mistake changes nothing here (on other samples it can).")
    changed = sum(1 for r in comparison.rows if r.differs)
    layer = first.layer + 2
    return (f"The output layer's deltas and updates agree.  The first delta that differs is "
            f"{lab.neuron_label('delta', first.layer, first.neuron)}: it was computed with the "
            f"weights of layer {layer + 1} after their update.  {changed} of "
            f"{len(comparison.rows)} neurons end the step with different weights or deltas.")
