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

from ..core.labels import bias_label, partial_label, weight_label

# numpy and tabulate are imported where used, so that ``import neuronsim``
# (which exports gradcheck) stays free of them.

KINKED = ("relu", "leaky_relu")


class GradientEntry:
    """One parameter: its label, where it is (0-based), both values, the errors."""

    __slots__ = ("label", "layer", "neuron", "input", "analytic", "numeric",
                 "abs_error", "rel_error", "status", "excess")

    def __init__(self, label, layer, neuron, input, analytic, numeric, status, excess):
        self.label = label
        self.layer = layer
        self.neuron = neuron
        self.input = input          # None for a bias
        self.analytic = analytic
        self.numeric = numeric
        self.abs_error = abs(analytic - numeric)
        scale = max(abs(analytic), abs(numeric))
        self.rel_error = self.abs_error / scale if scale else 0.0
        self.status = status
        self.excess = excess

    def where(self):
        """The Python path of the parameter, e.g. ``layers[1].neurons[0].weights[1]``."""
        path = f"layers[{self.layer}].neurons[{self.neuron}]"
        return path + (".bias" if self.input is None else f".weights[{self.input}]")

    def __repr__(self):
        return (f"GradientEntry({self.label}: analytic {self.analytic!r}, "
                f"numeric {self.numeric!r}, {self.status})")


class GradcheckReport:
    """``entries`` worst first (kinks last), ``ok`` (at least one parameter checked
    and none fails: a NaN or infinity fails), ``failures``, ``kinks``;
    ``str(report)`` is the table (``to_text(limit)`` shows more or less)."""

    def __init__(self, entries, eps, tolerance, atol, n_samples, reduction, loss):
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


def sample_batch(net, samples):
    """(X, Y) arrays from (input, target) pairs or {"input", "target"} dicts."""
    from .compare import batch_arrays

    if samples is None:
        samples = net.samples
    inputs, targets = [], []
    for sample in samples:
        if isinstance(sample, dict):
            inputs.append(sample.get("input"))
            targets.append(sample.get("target"))
        else:
            x, t = sample
            inputs.append(x)
            targets.append(t)
    if not inputs:
        raise ValueError("gradcheck needs at least one sample")
    return batch_arrays(net, inputs, targets)


def _batch_loss(net, pairs):
    """E of the batch (mean or sum of sample losses) and the sign pattern of
    every relu/leaky_relu input z (to notice a kink being crossed)."""
    total = 0.0
    signs = []
    for x, t in pairs:
        total += net.loss_of(x, t)
        for layer in net.layers:
            if layer.activation.name in KINKED:
                signs.extend(neuron.z > 0 for neuron in layer.neurons)
    n = len(pairs) if net.reduction == "mean" else 1
    return total / n, signs


def gradcheck(net, samples=None, eps=1e-6, tolerance=1e-6, atol=1e-8, convention="nielsen"):
    """Compare back_prop's gradient with central differences for every parameter.

    ``samples``: (input, target) pairs or dicts (default: the network's own).
    Works on a copy; ``net`` is not changed.  Returns a :class:`GradcheckReport`.
    """
    from .results import copy_network

    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    X, Y = sample_batch(net, samples)
    pairs = [(x.tolist(), t.tolist()) for x, t in zip(X, Y)]

    analytic = copy_network(net)
    for x, t in pairs:
        analytic.forward_pass(x)
        analytic.back_prop(t)
    gradients = analytic.gradient_arrays()

    probe = copy_network(net)
    loss, _ = _batch_loss(probe, pairs)
    entries = []

    def check(label, where, get, set_, exact):
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
        entries.append(GradientEntry(label, *where, float(exact), numeric, status, excess))

    for l, layer in enumerate(probe.layers):
        dW, db = gradients[l]
        for j, neuron in enumerate(layer.neurons):
            for k in range(len(neuron.weights)):
                def get(neuron=neuron, k=k):
                    return neuron.weights[k]

                def set_(value, neuron=neuron, k=k):
                    neuron.weights[k] = value

                check(partial_label(weight_label(l, j, k, convention)), (l, j, k),
                      get, set_, dW[j, k])

            def get_bias(neuron=neuron):
                return neuron.bias

            def set_bias(value, neuron=neuron):
                neuron.bias = value

            check(partial_label(bias_label(l, j, convention)), (l, j, None),
                  get_bias, set_bias, db[j])
    return GradcheckReport(entries, eps, tolerance, atol, len(pairs), net.reduction, loss)
