"""Finite-difference check of every weight and bias gradient.

For each parameter θ (every w_jk^(l) and b_j^(l)) the batch loss E of the
samples is evaluated at θ + ε and θ - ε, everything else fixed, in float64:

    numeric = (E(θ + ε) - E(θ - ε)) / (2ε)

and compared with the analytic dE/dθ that back_prop gives (the batch gradient
of ``net.gradient_arrays()``: the mean over the samples, or the sum for
``reduction="sum"``).  The central difference is off by about
ε²·|E'''| (truncation) plus 1e-16·|E| / ε (rounding), so an entry passes when

    |analytic - numeric| <= atol + tolerance · max(|analytic|, |numeric|)

with ``tolerance=1e-6`` and ``atol=1e-8`` by default.

ReLU kinks: if moving θ by ±ε moves some relu or leaky_relu input z across 0,
the loss has a corner inside [θ - ε, θ + ε] and the central difference
averages two different slopes.  Such a parameter is reported with status
``kink`` (not compared) instead of failing, or passing, by luck.
"""

import math

from ..core.labels import (bias_label, gate_bias_label, gate_recurrent_label,
                           gate_weight_label, gated_state_label, initial_state_label,
                           partial_label, recurrent_weight_label, weight_label)

# numpy and tabulate are imported where used, so that ``import neuronsim``
# (which exports gradcheck) stays free of them.

KINKED = ("relu", "leaky_relu")


class GradientEntry:
    """One parameter: its label, where it is (0-based), both values, the errors."""

    __slots__ = ("label", "layer", "neuron", "input", "analytic", "numeric",
                 "abs_error", "rel_error", "status", "excess", "name")

    def __init__(self, label, layer, neuron, input, analytic, numeric, status, excess,
                 name=None):
        self.label = label
        self.layer = layer
        self.neuron = neuron
        self.input = input          # None for a bias or an initial state
        # "weights", "recurrent_weights", "bias", "bias_ih", "bias_hh",
        # "initial_state" or "initial_cell"
        self.name = name or ("bias" if input is None else "weights")
        self.analytic = analytic
        self.numeric = numeric
        self.abs_error = abs(analytic - numeric)
        scale = max(abs(analytic), abs(numeric))
        self.rel_error = self.abs_error / scale if scale else 0.0
        self.status = status
        self.excess = excess

    def where(self):
        """The Python path of the parameter, e.g. ``layers[1].neurons[0].weights[1]``."""
        if self.name in ("initial_state", "initial_cell"):
            return f"layers[{self.layer}].{self.name}[{self.neuron}]"
        path = f"layers[{self.layer}].neurons[{self.neuron}]"
        return path + (f".{self.name}" if self.input is None else
                       f".{self.name}[{self.input}]")

    def __repr__(self):
        return (f"GradientEntry({self.label}: analytic {self.analytic!r}, "
                f"numeric {self.numeric!r}, {self.status})")


class GradcheckReport:
    """``entries`` worst first (kinks last), ``ok`` (at least one parameter checked
    and none fails: a NaN or infinity fails), ``failures``, ``kinks``;
    ``str(report)`` is the table (``to_text(limit)`` shows more or less)."""

    def __init__(self, entries, eps, tolerance, atol, n_samples, reduction, loss, note=None):
        self.note = note
        order = {"FAIL": 0, "ok": 1, "kink": 2}
        self.entries = sorted(entries, key=lambda e: (order[e.status], -_finite_or_inf(e.excess)))
        self.eps = eps
        self.tolerance = tolerance
        self.atol = atol
        self.n_samples = n_samples
        self.reduction = reduction
        self.loss = loss
        self.failures = [e for e in self.entries if e.status == "FAIL"]
        self.kinks = [e for e in self.entries if e.status == "kink"]
        self.ok = len(self.kinks) < len(self.entries) and not self.failures

    def to_text(self, limit=20):
        from tabulate import tabulate

        shown = self.entries if limit is None else self.entries[:limit]
        table = [[e.label, e.where(), f"{e.analytic:.12g}", f"{e.numeric:.12g}",
                  f"{e.rel_error:.3g}", e.status] for e in shown]
        lines = [
            f"gradient check: (E(θ + ε) - E(θ - ε)) / 2ε with ε = {self.eps:g}, "
            f"{self.n_samples} sample{'s' if self.n_samples != 1 else ''} "
            f"(reduction {self.reduction}), E = {self.loss:.12g}",
            f"pass: |analytic - numeric| <= {self.atol:g} + {self.tolerance:g} · "
            "max(|analytic|, |numeric|); labels as in the textbook, paths 0-based",
        ] + ([self.note] if self.note else []) + [
            "",
            tabulate(table, headers=["parameter", "where", "analytic", "numeric",
                                     "rel error", "status"],
                     tablefmt="simple", disable_numparse=True),
        ]
        if len(shown) < len(self.entries):
            lines.append(f"... {len(self.entries) - len(shown)} more (sorted worst first; "
                         "to_text(limit=None) or --top shows them)")
        lines.append("")
        counted = len(self.entries) - len(self.kinks)
        if self.failures:
            worst = self.failures[0]
            lines.append(f"{len(self.failures)} of {counted} checked parameters FAIL; worst "
                         f"{worst.label} ({worst.where()}): analytic {worst.analytic:.12g}, "
                         f"numeric {worst.numeric:.12g}")
        elif counted == 0:
            lines.append("nothing checked: every parameter is at a kink (below), and a check "
                         "that checks nothing fails; move the inputs off z = 0")
        else:
            lines.append(f"all {counted} checked parameters agree")
        if self.kinks:
            labels = ", ".join(e.label for e in self.kinks[:6])
            more = ", ..." if len(self.kinks) > 6 else ""
            lines.append(f"{len(self.kinks)} not checked: moving them by ±ε moves a ReLU input "
                         f"z across 0 (a kink), where a finite difference is meaningless: "
                         f"{labels}{more}")
        return "\n".join(lines)

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        return (f"GradcheckReport({len(self.entries)} parameters, "
                f"{len(self.failures)} fail, {len(self.kinks)} at kinks)")


def _finite_or_inf(value):
    """NaN sorts as the worst excess (a NaN never passes)."""
    return float("inf") if math.isnan(value) else value


def sample_pairs(net, samples):
    """Checked (input, target) pairs from pairs or {"input", "target"} dicts
    (default: the network's own samples); sequences for a recurrent network."""
    if samples is None:
        samples = net.samples
    if not samples:
        raise ValueError("gradcheck needs at least one sample")
    return net.sample_pairs(samples)


def _batch_loss(net, pairs):
    """E of the batch (mean or sum of sample losses) and the sign pattern of
    every relu/leaky_relu input z, at every step (to notice a kink being crossed)."""
    total = 0.0
    signs = []
    kinked = [l for l, layer in enumerate(net.layers) if layer.activation.name in KINKED]
    for x, t in pairs:
        total += net.loss_of(x, t)
        steps = net.history if net.is_sequential else [[layer.neurons for layer in net.layers]]
        for step in steps:
            for l in kinked:
                signs.extend(value.z > 0 for value in step[l])
    n = len(pairs) if net.reduction == "mean" else 1
    return total / n, signs


def parameter_places(net, convention="nielsen"):
    """Every parameter of every layer kind, in the order of ``gradient_arrays()``:
    (label, name, (layer, neuron, input), get, set, (layer, group, row, column)),
    where ``gradient_arrays()[layer][group][row][column]`` is its gradient
    (column None for a vector).  ``neuron`` is the index in ``layer.neurons``
    (for an LSTM or GRU a gate neuron, in torch's row order) or, for a learned
    initial state, the unit."""
    places = []
    for l, layer in enumerate(net.layers):
        label = _labels_of(layer, l, convention)
        for group, name in enumerate(layer.parameter_names()):
            if name in ("initial_state", "initial_cell"):
                if getattr(layer, name) is None:
                    setattr(layer, name, [0.0] * layer.size)
                for j in range(layer.size):
                    places.append((label(name, j, None), name, (l, j, None),
                                   lambda j=j, layer=layer, name=name: getattr(layer, name)[j],
                                   lambda v, j=j, layer=layer, name=name:
                                       getattr(layer, name).__setitem__(j, v),
                                   (l, group, j, None)))
                continue
            for j, neuron in enumerate(layer.neurons):
                values = getattr(neuron, name)
                if not isinstance(values, list):   # a bias
                    places.append((label(name, j, None), name, (l, j, None),
                                   lambda neuron=neuron, name=name: getattr(neuron, name),
                                   lambda v, neuron=neuron, name=name: setattr(neuron, name, v),
                                   (l, group, j, None)))
                    continue
                for k in range(len(values)):
                    places.append((label(name, j, k), name, (l, j, k),
                                   lambda neuron=neuron, name=name, k=k: getattr(neuron, name)[k],
                                   lambda v, neuron=neuron, name=name, k=k:
                                       getattr(neuron, name).__setitem__(k, v),
                                   (l, group, j, k)))
    return places


def _labels_of(layer, l, convention):
    """label(name, j, k) of ``layers[l]``'s parameter ``name`` of neuron j, input k."""
    gates = getattr(layer, "gates", None)
    if gates is None:   # a dense or Elman layer: its neurons are the units
        def label(name, j, k):
            if name == "initial_state":
                return initial_state_label(l, j)
            if name == "bias":
                return bias_label(l, j, convention)
            if name == "recurrent_weights":
                return recurrent_weight_label(l, j, k)
            return weight_label(l, j, k, convention)
        return label

    n = layer.size

    def gated(name, j, k):   # j: the row in torch's layout, gate j // n of unit j % n
        if name in ("initial_state", "initial_cell"):
            return gated_state_label(name, l, j)
        gate, unit = layer.GATES[j // n], j % n
        if name in ("bias_ih", "bias_hh"):
            return gate_bias_label(l, gate, unit, name[-2:], convention)
        if name == "recurrent_weights":
            return gate_recurrent_label(l, gate, unit, k)
        return gate_weight_label(l, gate, unit, k, convention)
    return gated


def gradcheck(net, samples=None, eps=1e-6, tolerance=1e-6, atol=1e-8, convention="nielsen"):
    """Compare back_prop's gradient with central differences for every parameter
    of every layer kind (weights, recurrent weights, biases, a learned a[0]).

    ``samples``: (input, target) pairs or dicts (default: the network's own;
    sequences for a network with a recurrent layer).  Works on a copy; ``net``
    is not changed.  Returns a :class:`GradcheckReport`.

    Backpropagation through time is checked in full: a truncated gradient
    (``truncation`` k) is by definition not the derivative of E, so the
    analytic side here runs with ``truncation=None``.
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    pairs = sample_pairs(net, samples)

    analytic = net.copy(batch=False)
    for x, t in pairs:
        analytic.forward_pass(x)
        if analytic.is_sequential:
            analytic.back_prop(t, truncation=None)
        else:
            analytic.back_prop(t)
    gradients = analytic.gradient_arrays()

    probe = net.copy(batch=False)
    places = parameter_places(probe, convention)
    loss, _ = _batch_loss(probe, pairs)
    entries = []
    for label, name, where, get, set_, (l, group, row, column) in places:
        exact = gradients[l][group][row] if column is None else gradients[l][group][row, column]
        value = get()
        set_(value + eps)
        plus, plus_signs = _batch_loss(probe, pairs)
        set_(value - eps)
        minus, minus_signs = _batch_loss(probe, pairs)
        set_(value)
        numeric = (plus - minus) / (2 * eps)
        excess = abs(exact - numeric) / (atol + tolerance * max(abs(exact), abs(numeric)))
        if plus_signs != minus_signs:
            status = "kink"
        else:
            status = "ok" if excess <= 1.0 else "FAIL"
        entries.append(GradientEntry(partial_label(label), *where, float(exact), numeric,
                                     status, excess, name))
    note = None
    if net.is_sequential and net.truncation is not None:
        note = (f"backpropagation through time in full: the network's truncation "
                f"k = {net.truncation} gives a gradient that is not dE/dθ, so it is not "
                "what finite differences measure")
    return GradcheckReport(entries, eps, tolerance, atol, len(pairs), net.reduction, loss,
                           note)
