"""Trace records -> tables in plain text, GitHub Markdown, LaTeX or HTML.

Tables come from ``tabulate``; every number is pre-formatted (see
:mod:`neuronsim.render.numfmt`): ``digits`` significant digits, trailing zeros dropped.
Labels follow textbook numbering: the input layer is layer 1 and neurons
count from 1, so Python's ``net.layers[l].neurons[j]`` is neuron j+1 of
layer l+2.  Every rendering says which weight convention it prints
(see :mod:`neuronsim.core.labels`).

Sections of a step: forward (z, a, g'(z) with each z written out), loss,
backward (dE/da, g'(z), δ with the chain-rule product in numbers),
gradients (dE/dw = a_k δ_j) and, on a step that ends a batch, the update
(w − η·dE/dw).  An update by an optimizer, a penalty or clipping
(``StepRecord.rule``) is written per parameter instead: g (and the penalty's
share, and g as clipped), the optimizer's state before and after, and the new
value, each line in torch's order of operations and ending in the number the
core kept (:func:`optimizer_update_section`).

A batch step (:func:`render_batch`, records of ``Tracer(batches=True)``) is
each sample's step without an update, then the batch's own sections: the
loss E = (Σ_s E_s)/n, the accumulated gradient dE/dw = (Σ_s dE_s/dw)/n with
each sample's term, and the one update w ← w − η·(Σ_s dE_s/dw)/n (without
the ÷ n for ``reduction="sum"``).  The same ``sections`` names select them:
"loss", "gradients" and "update".
"""

import re
from dataclasses import dataclass

from tabulate import tabulate

from ..core import labels as lab
from ..core.summation import sum_in_order
from .numfmt import factor, format_number

FORMATS = {
    # format: (tabulate format, label style)
    "plain": ("simple", "text"),
    "markdown": ("github", "text"),
    "latex": ("latex_raw", "latex"),
    "html": ("unsafehtml", "html"),
}
SECTIONS = ("forward", "loss", "backward", "gradients", "update")

# Characters of headings and column titles, as LaTeX text mode writes them.
_LATEX_PROSE = [("_", r"\_"), ("a^(l-1)", r"$a^{(l-1)}$"), ("δ", r"$\delta$"),
                ("η", r"$\eta$"), ("·", r"$\cdot$"), ("−", "-"), ("g'(z)", "$g'(z)$"),
                ("Σ", r"$\Sigma$"), ("÷", r"$\div$"), ("…", r"\dots{}")]

# Sums longer than this are shown with their first terms and "…".
MAX_TERMS = 6

_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

# Numbers that LaTeX writes with math macros (exact fractions, infinities): a
# table cell is text, so each one there goes into $...$.
_LATEX_MATH_NUMBER = re.compile(r"-?\\frac\{\d+\}\{\d+\}|-?\\infty")


class _Writer:
    """Labels, numbers and operators for one output format."""

    def __init__(self, fmt, digits, convention, bias_as_weight):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
        lab.check_convention(convention)
        self.fmt = fmt
        self.tablefmt, self.style = FORMATS[fmt]
        self.digits = digits
        self.convention = convention
        self.bias_as_weight = bias_as_weight
        latex = self.style == "latex"
        self.times = r" \cdot " if latex else "·"
        self.minus = " - " if latex else " − "
        self.ellipsis = r"\dots" if latex else "…"
        self.ln = r"\ln" if latex else "ln"
        self.eta = r"\eta" if latex else "η"
        self.gets = r" \leftarrow " if latex else " ← "

    # labels --------------------------------------------------------------
    def a(self, layer, j):
        return lab.neuron_label("a", layer, j, self.style)

    def z(self, layer, j):
        return lab.neuron_label("z", layer, j, self.style)

    def delta(self, layer, j):
        return lab.neuron_label("delta", layer, j, self.style)

    def w(self, layer, j, k):
        return lab.weight_label(layer, j, k, self.convention, self.style)

    def b(self, layer, j):
        return lab.bias_label(layer, j, self.convention, self.style, self.bias_as_weight)

    def t(self, j):
        return lab.target_label(j, self.style)

    def gprime(self, layer, j):
        return f"g'({self.z(layer, j)})"

    def partial(self, label):
        return lab.partial_label(label, self.style)

    def loss_of_sample(self, s):
        """E_s, the loss of sample s (counted from 1) of a batch."""
        if self.style == "latex":
            return f"E_{{{s}}}"
        if self.style == "html":
            return f"E<sub>{s}</sub>"
        return "E" + str(s).translate(_SUBSCRIPT)

    def sample_partial(self, s, label):
        """dE_s/dx: sample s's own gradient (s None: Σ_s dE_s/dx written as a sum)."""
        if self.style == "latex":
            if s is None:
                return rf"\sum_s \frac{{\partial E_s}}{{\partial {label}}}"
            return rf"\frac{{\partial E_{{{s}}}}}{{\partial {label}}}"
        if self.style == "html":
            if s is None:
                return f"&Sigma;<sub>s</sub> &part;E<sub>s</sub>/&part;{label}"
            return f"&part;E<sub>{s}</sub>/&part;{label}"
        if s is None:
            return f"Σₛ dEₛ/d{label}"
        return f"d{self.loss_of_sample(s)}/d{label}"

    def parameter(self, p):
        """The label of a :class:`~neuronsim.trace.tracer.ParameterRecord` (a weight or
        a bias; a writer for other layer kinds adds their parameters)."""
        if p.kind == "weight":
            return self.w(p.layer, p.neuron, p.index)
        if p.kind == "bias":
            return self.b(p.layer, p.neuron)
        raise ValueError(f"no label for parameters of kind {p.kind!r}")

    def one(self):
        """a_0 = 1, the constant input of a bias shown as a weight."""
        return lab.symbol("a", (0,), None, self.style)

    # numbers -------------------------------------------------------------
    def num(self, x):
        return format_number(x, self.digits, self.style)

    def fac(self, x):
        return factor(x, self.digits, self.style)

    # cells and equations ---------------------------------------------------
    def cell(self, label):
        """A label as a table cell (LaTeX cells need math mode)."""
        return f"${label}$" if self.style == "latex" else label

    def equation(self, text):
        if self.style == "latex":
            return rf"\[ {text} \]"
        return text

    def sum_of(self, terms):
        if len(terms) > MAX_TERMS:
            count = (rf"\text{{ ({len(terms)} terms) }}" if self.style == "latex"
                     else f" ({len(terms)} terms)")
            terms = terms[:3] + [self.ellipsis + count] + terms[-1:]
        return " + ".join(terms)

    def prose(self, text):
        """Headings and column titles: LaTeX needs its own spelling of δ, η, ·, _ ..."""
        if self.style != "latex":
            return text
        for plain, latex in _LATEX_PROSE:
            text = text.replace(plain, latex)
        return text

    def table(self, rows, headers):
        headers = [self.prose(h) for h in headers]
        if self.style == "latex":
            rows = [[latex_text(cell) for cell in row] for row in rows]
        return tabulate(rows, headers=headers, tablefmt=self.tablefmt,
                        disable_numparse=True, stralign="left")


def latex_text(text):
    """Text for LaTeX's text mode (a table cell, a heading): each \\frac or
    \\infty number outside $...$ is put in math mode."""
    parts = text.split("$")
    for i in range(0, len(parts), 2):     # the even parts are outside math mode
        parts[i] = _LATEX_MATH_NUMBER.sub(lambda match: f"${match.group(0)}$", parts[i])
    return "$".join(parts)


def _header(step, w, title=None):
    """"Step 3: input x = (…), target t = (…)" (``title`` replaces "Step 3")."""
    text = f"{title or f'Step {step.index}'}: input x = ({_vector_text(w, step.input)})"
    if step.target is not None:
        text += f", target t = ({_vector_text(w, step.target)})"
    return text


def _vector_text(w, values, shown=8):
    """A vector's first few entries: a 784-pixel input must not fill the screen."""
    text = ", ".join(w.num(v) for v in values[:shown])
    if len(values) > shown:
        text += f", … ({len(values)} values)"
    return text


def notation_note(w):
    """The sentence that says how labels map to Python and which convention is printed."""
    conv = w.convention
    if conv == "nielsen":
        weights = "w_jk^(l) feeds neuron j of layer l from neuron k of layer l-1"
    else:
        weights = ("w_jk^(l) feeds neuron j of layer l+1 from neuron k of layer l, and b_j^(l) "
                   "is the bias of neuron j of layer l+1")
    bias = (" Biases are shown as w_j0 on a constant input a_0 = 1." if w.bias_as_weight else "")
    if w.style == "latex":
        weights = (weights.replace("w_jk^(l)", r"$w_{jk}^{(l)}$")
                   .replace("b_j^(l)", r"$b_{j}^{(l)}$"))
        bias = bias.replace("w_j0", "$w_{j0}$").replace("a_0 = 1", "$a_0 = 1$")
    return (f"Textbook numbering: the input layer is layer 1 and neurons count from 1 "
            f"(Python net.layers[l].neurons[j] is neuron j+1 of layer l+2). "
            f"Weight convention {conv}: {weights}.{bias}")


def _selected(step, layers, neurons):
    for layer_records in step.layers:
        for record in layer_records:
            if layers is not None and record.layer not in layers:
                continue
            if neurons is not None and record.neuron not in neurons:
                continue
            yield record


def _layer_inputs_label(w, record, k):
    return w.a(record.layer - 1, k)


# ---------------------------------------------------------------- forward
def forward_section(step, w, records):
    rows = []
    equations = []
    for r in records:
        l, j = r.layer, r.neuron
        shown = [w.num(v) for v in r.inputs[:4]]
        if len(r.inputs) > 4:
            shown.append("…")
        rows.append([str(lab.textbook_layer(l)), w.cell(w.a(l, j)), step.activations[l],
                     ", ".join(shown), w.num(r.z), w.num(r.output), w.num(r.derivative)])
        symbolic = [f"{w.w(l, j, k)}{w.times}{w.a(l - 1, k)}" for k in range(len(r.inputs))]
        numeric = [f"{w.fac(wt)}{w.times}{w.fac(a)}" for wt, a in zip(r.weights, r.inputs)]
        if w.bias_as_weight:
            symbolic.insert(0, f"{w.b(l, j)}{w.times}{w.one()}")
            numeric.insert(0, f"{w.fac(r.bias)}{w.times}1")
        else:
            symbolic.append(w.b(l, j))
            numeric.append(w.fac(r.bias))
        equations.append(w.equation(
            f"{w.z(l, j)} = {w.sum_of(symbolic)} = {w.sum_of(numeric)} = {w.num(r.z)}"))
    headers = ["layer", "neuron", "g", "inputs a^(l-1)", "z", "a = g(z)", "g'(z)"]
    return w.table(rows, headers), equations


# ---------------------------------------------------------------- loss
def _loss_terms(name, outputs, targets, w, layer):
    """Symbolic and numeric terms of E for the output layer."""
    sym, numeric = [], []
    n = len(outputs)
    for j, (a, t) in enumerate(zip(outputs, targets)):
        al, tl = w.a(layer, j), w.t(j)
        if name in ("half_sse", "sse", "mse"):
            sym.append(f"({tl}{w.minus}{al})²" if w.style != "latex" else f"({tl}{w.minus}{al})^2")
            numeric.append(f"({w.num(t)}{w.minus}{w.fac(a)})²" if w.style != "latex"
                           else f"({w.num(t)}{w.minus}{w.fac(a)})^2")
        elif name == "binary_cross_entropy":
            sym.append(f"[{tl} {w.ln} {al} + (1{w.minus}{tl}) {w.ln}(1{w.minus}{al})]")
            numeric.append(f"[{w.num(t)} {w.ln} {w.num(a)} + (1{w.minus}{w.num(t)}) "
                           f"{w.ln}(1{w.minus}{w.num(a)})]")
        else:
            sym.append(f"{tl} {w.ln} {al}")
            numeric.append(f"{w.num(t)} {w.ln} {w.num(a)}")
    half = r"\tfrac{1}{2}" if w.style == "latex" else "½"
    prefix = {"half_sse": half, "sse": "", "mse": f"(1/{n})",
              "binary_cross_entropy": "−", "cross_entropy": "−"}[name]
    if w.style == "latex":
        prefix = prefix.replace("−", "-")
    return prefix, sym, numeric


def loss_section(step, w):
    layer = len(step.activations) - 1
    prefix, sym, numeric = _loss_terms(step.loss_name, step.outputs, step.target, w, layer)
    if step.loss_name == "half_sse":
        sym_text = w.sum_of([prefix + s for s in sym])
        num_text = w.sum_of([prefix + s for s in numeric])
    elif not prefix:
        sym_text, num_text = w.sum_of(sym), w.sum_of(numeric)
    elif len(sym) == 1 and step.loss_name != "mse":
        sym_text, num_text = prefix + sym[0], prefix + numeric[0]
    else:
        sym_text = f"{prefix}({w.sum_of(sym)})"
        num_text = f"{prefix}({w.sum_of(numeric)})"
    note = ""
    if step.paired_output:
        note = ("  (computed from z: −ln σ(z) = softplus(−z), −ln(1 − σ(z)) = softplus(z))"
                if step.loss_name == "binary_cross_entropy"
                else "  (computed from z: −ln a_j = logsumexp(z) − z_j)")
        if w.style == "latex":
            note = ""
    lines = [w.equation(f"E = {sym_text} = {num_text} = {w.num(step.loss)}") + note]
    if step.batch_size == 1:            # a batch's penalty is in its batch loss
        lines += penalty_lines(w, step.rule, step.loss)
    return lines


def penalty_lines(w, rule, data_loss):
    """With a penalty (``rule.penalty``): R = λ₁·Σ|w| + (λ₂/2)·Σw² over the weights
    the update starts from, with numbers, and the total E + R the update
    minimises; [] without one.  R is the core's (``net.penalty_value()``)."""
    if rule is None or rule.penalty is None or rule.penalty_value is None:
        return []
    latex = w.style == "latex"
    weights, sym, num = rule.penalty_weights, [], []
    l1, l2 = rule.penalty["l1"], rule.penalty["l2"]
    if l1:
        lam = r"\lambda_1" if latex else "λ₁"
        total = r"\sum |w|" if latex else "Σ|w|"
        sym.append(f"{lam}{w.times}{total}")
        num.append(f"{w.fac(l1)}{w.times}({w.sum_of([f'|{w.num(x)}|' for x in weights])})")
    if l2:
        lam = r"(\lambda_2/2)" if latex else "(λ₂/2)"
        total = r"\sum w^2" if latex else "Σw²"
        square = (lambda x: f"{w.fac(x)}^2") if latex else (lambda x: f"{w.fac(x)}²")
        sym.append(f"{lam}{w.times}{total}")
        num.append(f"({w.num(l2)}/2){w.times}({w.sum_of([square(x) for x in weights])})")
    value = rule.penalty_value
    if latex:     # one row per term: the sums are too long for one line of the page
        rows = [f"R &= {' + '.join(sym)}"] + [f"&{'=' if i == 0 else '+'} {term}"
                                               for i, term in enumerate(num)]
        r_line = ("\\begin{align*}\n" + " \\\\\n".join(rows + [f"&= {w.num(value)}"])
                  + "\n\\end{align*}")
    else:
        r_line = w.equation(f"R = {' + '.join(sym)} = {' + '.join(num)} = {w.num(value)}")
    return [r_line,
            w.equation(f"E + R = {w.fac(data_loss)} + {w.fac(value)} = "
                       f"{w.num(data_loss + value)}")]


# ---------------------------------------------------------------- backward
def _output_grad_equation(step, w, r, n_out):
    l, j = r.layer, r.neuron
    a, t = r.output, step.target[j]
    al, tl = w.a(l, j), w.t(j)
    name = step.loss_name
    lhs = w.partial(al)
    if name == "half_sse":
        sym, num = f"{al}{w.minus}{tl}", f"{w.num(a)}{w.minus}{w.fac(t)}"
    elif name == "sse":
        sym, num = f"2({al}{w.minus}{tl})", f"2({w.num(a)}{w.minus}{w.fac(t)})"
    elif name == "mse":
        sym = f"2({al}{w.minus}{tl})/{n_out}"
        num = f"2({w.num(a)}{w.minus}{w.fac(t)})/{n_out}"
    elif name == "binary_cross_entropy":
        sym = f"({al}{w.minus}{tl}) / ({al}(1{w.minus}{al}))"
        num = f"({w.num(a)}{w.minus}{w.fac(t)}) / ({w.num(a)}(1{w.minus}{w.num(a)}))"
    else:
        minus = "-" if w.style == "latex" else "−"
        sym, num = f"{minus}{tl} / {al}", f"{minus}{w.fac(t)} / {w.num(a)}"
    return w.equation(f"{lhs} = {sym} = {num} = {w.num(r.output_grad)}")


def _delta_equation(step, w, r, output_records):
    l, j = r.layer, r.neuron
    last = len(step.activations) - 1
    d = w.delta(l, j)
    if l == last:
        if step.paired_output:
            al, tl = w.a(l, j), w.t(j)
            t = step.target[j]
            if step.loss_name == "cross_entropy" and sum_in_order(step.target) != 1:
                total = w.num(sum_in_order(step.target))
                sum_t = r"\sum_i t_i" if w.style == "latex" else "Σt"
                return w.equation(
                    f"{d} = {al}{w.times}{sum_t}{w.minus}{tl} = {w.fac(r.output)}{w.times}{total}"
                    f"{w.minus}{w.fac(t)} = {w.num(r.delta)}")
            why = ("sigmoid with binary cross-entropy: g'(z) = a(1 − a) cancels dE/da's "
                   "denominator" if step.loss_name == "binary_cross_entropy"
                   else "softmax with cross-entropy: the softmax Jacobian and dE/da combine")
            text = (f"{d} = {w.partial(w.z(l, j))} = {al}{w.minus}{tl} = {w.num(r.output)}"
                    f"{w.minus}{w.fac(t)} = {w.num(r.delta)}")
            return w.equation(text) + ("" if w.style == "latex" else f"   ({why})")
        if step.activations[l] == "softmax":
            return _softmax_delta_equation(step, w, r, output_records)
        return w.equation(
            f"{d} = {w.partial(w.a(l, j))}{w.times}{w.gprime(l, j)} = "
            f"{w.fac(r.output_grad)}{w.times}{w.fac(r.derivative)} = {w.num(r.delta)}")
    if step.activations[l] == "softmax":
        return _softmax_delta_equation(step, w, r, output_records)
    sym = [f"{w.w(l + 1, k, j)}{w.times}{w.delta(l + 1, k)}" for k in range(len(r.downstream))]
    num = [f"{w.fac(wt)}{w.times}{w.fac(dl)}" for wt, dl in r.downstream]
    return w.equation(
        f"{d} = ({w.sum_of(sym)}){w.times}{w.gprime(l, j)} = "
        f"({w.sum_of(num)}){w.times}{w.fac(r.derivative)} = {w.num(r.delta)}")


def _softmax_delta_equation(step, w, r, output_records):
    """δ_j = a_j (dE/da_j − Σ_i dE/da_i a_i): the softmax Jacobian, in any layer."""
    l, j = r.layer, r.neuron
    size = step.sizes[l] if step.sizes else len(output_records)
    total = r.jacobian_sum
    if total is None:   # records made before jacobian_sum existed
        total = sum_in_order(o.output_grad * o.output for o in output_records)
    weighted = [f"{w.partial(w.a(l, i))}{w.times}{w.a(l, i)}" for i in range(size)]
    if r.downstream is None:     # output layer: dE/da_j comes from the loss
        grad_sym, grad_num = w.partial(w.a(l, j)), w.fac(r.output_grad)
    else:                        # hidden layer: dE/da_j = Σ_k w_kj δ_k
        grad_sym = "(" + w.sum_of([f"{w.w(l + 1, k, j)}{w.times}{w.delta(l + 1, k)}"
                                   for k in range(len(r.downstream))]) + ")"
        grad_num = "(" + w.sum_of([f"{w.fac(wt)}{w.times}{w.fac(dl)}"
                                   for wt, dl in r.downstream]) + ")"
    return w.equation(
        f"{w.delta(l, j)} = {w.a(l, j)}{w.times}({grad_sym}{w.minus}({w.sum_of(weighted)})) = "
        f"{w.fac(r.output)}{w.times}({grad_num}{w.minus}{w.fac(total)}) = {w.num(r.delta)}")


def backward_section(step, w, records):
    last = len(step.activations) - 1
    output_records = step.layers[last]
    rows, equations = [], []
    ordered = sorted(records, key=lambda r: -r.layer)   # stable: output layer first
    for r in ordered:
        rows.append([str(lab.textbook_layer(r.layer)), w.cell(w.delta(r.layer, r.neuron)),
                     w.num(r.output_grad), w.num(r.derivative), w.num(r.delta)])
        if r.layer == last:
            equations.append(_output_grad_equation(step, w, r, len(step.outputs)))
        equations.append(_delta_equation(step, w, r, output_records))
    headers = ["layer", "neuron", "dE/da", "g'(z)", "δ = dE/dz"]
    softmax = [lab.textbook_layer(l) for l, name in enumerate(step.activations)
               if name == "softmax" and not (l == last and step.paired_output)
               and any(r.layer == l for r in records)]
    if softmax:
        layers = ", ".join(str(n) for n in softmax)
        equations.append(w.prose(
            f"(softmax layer {layers}: the g'(z) column shows only the diagonal "
            "a_j(1 − a_j) of the Jacobian; δ uses all of it, as written above)"))
    return w.table(rows, headers), equations


# ---------------------------------------------------------------- gradients
def gradients_section(step, w, records):
    rows = []
    for r in records:
        l, j = r.layer, r.neuron
        bias_row = [w.cell(w.b(l, j)), w.cell(w.one()) if w.bias_as_weight else "1",
                    "1", w.num(r.delta), w.num(r.bias_grad)]
        if w.bias_as_weight:
            rows.append(bias_row)
        for k, (a, g) in enumerate(zip(r.inputs, r.weight_grads)):
            rows.append([w.cell(w.w(l, j, k)), w.cell(w.a(l - 1, k)), w.num(a),
                         w.num(r.delta), w.num(g)])
        if not w.bias_as_weight:
            rows.append(bias_row)
    headers = ["parameter", "input", "value", "δ of its neuron", "dE/d(parameter) = input·δ"]
    return w.table(rows, headers)


def updated_parameters(step, w, records):
    """Each shown neuron's weights, then its bias (the bias first with
    ``bias_as_weight``), as :class:`UpdatedParameter`: the value before, the
    reduced gradient, g as applied (None: a fixed bias) and the new value; with
    an update rule (``step.rule``) g as the core applied it, the penalty's
    share and the optimizer state before and after the step."""
    rule = step.rule
    params = []
    for r in records:
        l, j = r.layer, r.neuron
        if rule is None:
            weights = [UpdatedParameter(w.w(l, j, k), old, grad, grad, new, None, None, None)
                       for k, (old, grad, new) in enumerate(zip(
                           r.weights, r.batch_weight_grads, r.new_weights))]
            bias = UpdatedParameter(w.b(l, j), r.bias, r.batch_bias_grad,
                                    r.batch_bias_grad if step.update_biases else None,
                                    r.new_bias, None, None, None)
        else:
            weights = [UpdatedParameter(w.w(l, j, k), old, grad, applied, new,
                                        None if r.penalty_weight_grads is None
                                        else r.penalty_weight_grads[k],
                                        _state_of(r.state_before, "weights", k, rule.initial),
                                        _state_of(r.state_after, "weights", k, rule.initial))
                       for k, (old, grad, applied, new) in enumerate(zip(
                           r.weights, r.batch_weight_grads, r.applied_weight_grads,
                           r.new_weights))]
            bias = UpdatedParameter(w.b(l, j), r.bias, r.batch_bias_grad, r.applied_bias_grad,
                                    r.new_bias, None,
                                    _state_of(r.state_before, "bias", None, rule.initial),
                                    _state_of(r.state_after, "bias", None, rule.initial))
        params += [bias] + weights if w.bias_as_weight else weights + [bias]
    return params


def gradient_header(record, theta, samples):
    """"dE/dθ", or for a batch "dE/dθ (mean over 4 samples)" (``samples``: the
    word for the batch's samples, "samples" or "sequences")."""
    if record.batch_size and record.batch_size > 1:
        return f"dE/d{theta} ({record.reduction} over {record.batch_size} {samples})"
    return f"dE/d{theta}"


def plain_update_table(w, params, learning_rate, grad_header, theta, biases_fixed,
                       mark_fixed=True):
    """The update θ ← θ − η·dE/dθ of a list of :class:`UpdatedParameter`: old,
    gradient, η, new.  ``biases_fixed`` says so in the header; ``mark_fixed``
    also writes "(fixed)" after each fixed bias's value."""
    eta = w.num(learning_rate)
    rows = [[w.cell(p.label), w.num(p.old), w.num(p.grad), eta,
             f"{w.num(p.new)} (fixed)" if mark_fixed and p.applied is None else w.num(p.new)]
            for p in params]
    headers = ["parameter", "old", grad_header, "η", f"new = old − η·dE/d{theta}"]
    if biases_fixed:
        headers[-1] += " (biases fixed)"
    return w.table(rows, headers)


def update_parts(record, w, heading, params, grad_header, theta, mark_fixed=True):
    """The update section of a record whose update followed, any layer kind: with
    an optimizer, a penalty or clipping (``record.rule``) the heading names the
    rule, then :func:`optimizer_update_table`'s table and lines; otherwise the
    plain table of :func:`plain_update_table`."""
    if record.rule is not None:
        table, eqs = optimizer_update_table(w, record.rule, record.learning_rate, params,
                                            grad_header)
        return [_heading(w, f"{heading}: {_rule_text(w, record.rule)}"), table,
                _equations(w, eqs)]
    return [_heading(w, heading),
            plain_update_table(w, params, record.learning_rate, grad_header, theta,
                               not record.update_biases, mark_fixed)]


# ---------------------------------------------------------------- optimizer updates
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")

# Symbols of the optimizer lines: (text and HTML, LaTeX).
_OPT_SYMBOLS = {
    "m": ("m", "m"), "v": ("v", "v"), "mhat": ("m̂", r"\hat{m}"), "vhat": ("v̂", r"\hat{v}"),
    "vmax": ("vₘₐₓ", r"v_{\max}"), "t": ("t", "t"), "beta1": ("β₁", r"\beta_1"),
    "beta2": ("β₂", r"\beta_2"), "eps": ("ε", r"\varepsilon"), "eta": ("η", r"\eta"),
    "lam": ("λ", r"\lambda"), "mu": ("μ", r"\mu"), "tau": ("τ", r"\tau"),
    "alpha": ("α", r"\alpha"), "G": ("G", "G"), "b": ("b", "b"), "gbar": ("ḡ", r"\bar{g}"),
    "s": ("s", "s"), "etat": ("ηₜ", r"\eta_t"), "g": ("g", "g"),
}


class _Lines:
    """The equations of one parameter's optimizer step, in one format: each
    "name ← formula = formula in numbers = value", the value read from the
    core's state after the step (never computed here)."""

    def __init__(self, w, label):
        self.w = w
        self.label = label
        self.latex = w.style == "latex"
        self.lines = []

    def s(self, name):
        return _OPT_SYMBOLS[name][1 if self.latex else 0]

    def n(self, x):
        return self.w.fac(x)

    def power(self, base, exponent):
        if self.latex:
            return f"{base}^{{{exponent}}}"
        return base + ("ᵗ" if exponent == "t" else str(exponent).translate(_SUPERSCRIPT))

    def square(self, x):
        return f"{x}^2" if self.latex else f"{x}²"

    def sqrt(self, x):
        if self.latex:
            return rf"\sqrt{{{x}}}"
        return f"√({x})" if " " in x else f"√{x}"

    def frac(self, a, b):
        return rf"\frac{{{a}}}{{{b}}}" if self.latex else f"{a}/{b}"

    def add(self, lhs, symbolic, numeric, value, assign=True):
        """One line: lhs ← symbolic = numeric = value (= instead of ← for a
        quantity that is shown, not kept)."""
        op = self.w.gets if assign else " = "
        if self.latex:    # three rows: with many digits one line is wider than the page
            self.lines.append(
                "\\begin{align*}\n"
                f"{self.label}\\colon\\ {lhs} &{op.strip()} {symbolic} \\\\\n"
                f"&= {numeric} \\\\\n&= {self.w.num(value)}\n\\end{{align*}}")
            return
        self.lines.append(self.w.equation(
            f"{self.label}: {lhs}{op}{symbolic} = {numeric} = {self.w.num(value)}"))


def _lerp_text(L, start, end, weight, start_num, end_num):
    """torch.lerp(start, end, weight) in its two branches, as the core computes it;
    ``weight`` is (symbol, number)."""
    t, m = L.w.times, L.w.minus
    w_sym, w_num = weight
    a, e = L.n(start_num), L.n(end_num)
    if abs(w_num) < 0.5:
        return (f"{start} + {w_sym}{t}({end}{m}{start})",
                f"{a} + {L.n(w_num)}{t}({e}{m}{a})")
    return (f"{end}{m}({end}{m}{start}){t}(1{m}{w_sym})",
            f"{e}{m}({e}{m}{a}){t}(1{m}{L.n(w_num)})")


def _decay_line(L, o, theta_label, theta, g):
    """g ← g + λ·θ (weight decay inside the gradient); returns the new g."""
    t = L.w.times
    lam = o["weight_decay"]
    if lam == 0:
        return g
    new = g + lam * theta
    L.add(L.s("g"), f"{L.s('g')} + {L.s('lam')}{t}{theta_label}",
          f"{L.n(g)} + {L.n(lam)}{t}{L.n(theta)}", new)
    return new


def _sgd_lines(L, o, th, theta, g, before, after, new, lr, optimizer):
    t, m, S = L.w.times, L.w.minus, L.s
    gs = S("g")
    if optimizer:
        g = _decay_line(L, o, th, theta, g)
        mu = o["momentum"]
        if mu != 0:
            buf = after["momentum_buffer"]
            if before.get("momentum_buffer") is None:
                L.add(S("b"), gs + (r"\ (\text{first step})" if L.latex else " (first step)"),
                      L.n(g), buf)
            else:
                L.add(S("b"), f"{S('mu')}{t}{S('b')} + (1{m}{S('tau')}){t}{gs}",
                      f"{L.n(mu)}{t}{L.n(before['momentum_buffer'])} + "
                      f"{L.n(1 - o['dampening'])}{t}{L.n(g)}", buf)
            if o["nesterov"]:
                nesterov = g + mu * buf
                L.add(gs, f"{gs} + {S('mu')}{t}{S('b')}", f"{L.n(g)} + {L.n(mu)}{t}{L.n(buf)}",
                      nesterov)
                g = nesterov
            else:
                g = buf
    L.add(th, f"{th}{m}{S('eta')}{t}{gs}", f"{L.n(theta)}{m}{L.n(lr)}{t}{L.n(g)}", new)


def _rmsprop_lines(L, o, th, theta, g, before, after, new, lr):
    t, m, S = L.w.times, L.w.minus, L.s
    gs, v_s, eps = S("g"), S("v"), S("eps")
    alpha = o["alpha"]
    g = _decay_line(L, o, th, theta, g)
    v = after["square_avg"]
    L.add(v_s, f"{S('alpha')}{t}{v_s} + (1{m}{S('alpha')}){t}{L.square(gs)}",
          f"{L.n(alpha)}{t}{L.n(before['square_avg'])} + {L.n(1 - alpha)}{t}"
          f"{L.n(g)}{t}{L.n(g)}", v)
    if o["centered"]:
        gbar = after["grad_avg"]
        sym, num = _lerp_text(L, S("gbar"), gs, (f"(1{m}{S('alpha')})", 1 - alpha),
                              before["grad_avg"], g)
        L.add(S("gbar"), sym, num, gbar)
        inner = L.sqrt(f"{v_s}{m}{L.square(S('gbar'))}")
        inner_num = L.sqrt(f"{L.n(v)}{m}{L.n(gbar)}{t}{L.n(gbar)}")
    else:
        inner, inner_num = L.sqrt(v_s), L.sqrt(L.n(v))
    denom, denom_num = f"({inner} + {eps})", f"({inner_num} + {L.n(o['eps'])})"
    if o["momentum"] > 0:
        buf = after["momentum_buffer"]
        L.add(S("b"), f"{S('mu')}{t}{S('b')} + {L.frac(gs, denom)}",
              f"{L.n(o['momentum'])}{t}{L.n(before['momentum_buffer'])} + "
              f"{L.frac(L.n(g), denom_num)}", buf)
        L.add(th, f"{th}{m}{S('eta')}{t}{S('b')}", f"{L.n(theta)}{m}{L.n(lr)}{t}{L.n(buf)}",
              new)
    else:
        L.add(th, f"{th}{m}{L.frac(S('eta') + t + gs, denom)}",
              f"{L.n(theta)}{m}{L.frac(L.n(lr) + t + L.n(g), denom_num)}", new)


def _adagrad_lines(L, o, th, theta, g, before, after, new, lr):
    t, m, S = L.w.times, L.w.minus, L.s
    gs = S("g")
    step = after["step"]
    g = _decay_line(L, o, th, theta, g)
    eta, eta_num = S("eta"), L.n(lr)
    if o["lr_decay"] != 0:
        eta = f"{S('eta')}/(1 + ({S('t')}{m}1){t}lr_decay)"
        eta_num = f"{L.n(lr)}/(1 + {step - 1}{t}{L.n(o['lr_decay'])})"
        if L.latex:
            eta = eta.replace("lr_decay", r"\text{lr\_decay}")
        eta, eta_num = f"({eta})", f"({eta_num})"
    total = after["sum"]
    L.add(S("G"), f"{S('G')} + {L.square(gs)}", f"{L.n(before['sum'])} + {L.n(g)}{t}{L.n(g)}",
          total)
    denom = f"({L.sqrt(S('G'))} + {S('eps')})"
    denom_num = f"({L.sqrt(L.n(total))} + {L.n(o['eps'])})"
    L.add(th, f"{th}{m}{eta}{t}{L.frac(gs, denom)}",
          f"{L.n(theta)}{m}{eta_num}{t}{L.frac(L.n(g), denom_num)}", new)


def _adam_lines(L, o, th, theta, g, before, after, new, lr, decoupled):
    t, m, S = L.w.times, L.w.minus, L.s
    gs, eps, eta = S("g"), S("eps"), S("eta")
    step = after["step"]
    beta1, beta2 = o["betas"]
    lam = o["weight_decay"]
    if decoupled and lam != 0:
        shrunk = theta * (1 - lr * lam)
        L.add(th, f"{th}{t}(1{m}{eta}{t}{S('lam')})",
              f"{L.n(theta)}{t}(1{m}{L.n(lr)}{t}{L.n(lam)})", shrunk)
        theta = shrunk
    elif not decoupled:
        g = _decay_line(L, o, th, theta, g)
    m_new, v_new = after["exp_avg"], after["exp_avg_sq"]
    sym, num = _lerp_text(L, S("m"), gs, (f"(1{m}{S('beta1')})", 1 - beta1),
                          before["exp_avg"], g)
    L.add(S("m"), sym, num, m_new)
    L.add(S("v"), f"{S('beta2')}{t}{S('v')} + (1{m}{S('beta2')}){t}{L.square(gs)}",
          f"{L.n(beta2)}{t}{L.n(before['exp_avg_sq'])} + {L.n(1 - beta2)}{t}"
          f"{L.n(g)}{t}{L.n(g)}", v_new)
    v_used, v_name = v_new, S("v")
    if o["amsgrad"]:
        v_used = after["max_exp_avg_sq"]
        fmax = r"\max" if L.latex else "max"
        L.add(S("vmax"), f"{fmax}({S('vmax')}, {S('v')})",
              f"{fmax}({L.n(before['max_exp_avg_sq'])}, {L.n(v_new)})", v_used)
        v_name = S("vmax")
    b1t, b2t = L.power(S("beta1"), S("t")), L.power(S("beta2"), S("t"))
    b1n, b2n = L.power(L.n(beta1), step), L.power(L.n(beta2), step)
    # m̂ and v̂ are shown for reading; the step below is torch's, with m and v
    L.add(S("mhat"), L.frac(S("m"), f"(1{m}{b1t})"), L.frac(L.n(m_new), f"(1{m}{b1n})"),
          m_new / (1 - beta1 ** step), assign=False)
    L.add(S("vhat"), L.frac(v_name, f"(1{m}{b2t})"), L.frac(L.n(v_used), f"(1{m}{b2n})"),
          v_used / (1 - beta2 ** step), assign=False)
    step_size = f"({L.frac(eta, f'(1{m}{b1t})')})"
    step_size_num = f"({L.frac(L.n(lr), f'(1{m}{b1n})')})"
    denom = f"({L.frac(L.sqrt(v_name), L.sqrt(f'1{m}{b2t}'))} + {eps})"
    denom_num = f"({L.frac(L.sqrt(L.n(v_used)), L.sqrt(f'1{m}{b2n}'))} + {L.n(o['eps'])})"
    L.add(th, f"{th}{m}{step_size}{t}{L.frac(S('m'), denom)}",
          f"{L.n(theta)}{m}{step_size_num}{t}{L.frac(L.n(m_new), denom_num)}", new)


def _optimizer_lines(w, rule, label, theta, g, before, after, new, lr):
    """The equations of one parameter's step: ``before``/``after`` its state
    (dicts, as the core kept them), ``new`` its value after the step."""
    L = _Lines(w, label)
    o, name, th = rule.options, rule.optimizer, label
    if name in (None, "sgd"):
        _sgd_lines(L, o, th, theta, g, before, after, new, lr, name is not None)
        return L.lines
    L.lines.append(w.equation(f"{label}: {L.s('t')} = {after['step']}"))
    if name == "rmsprop":
        _rmsprop_lines(L, o, th, theta, g, before, after, new, lr)
    elif name == "adagrad":
        _adagrad_lines(L, o, th, theta, g, before, after, new, lr)
    else:
        _adam_lines(L, o, th, theta, g, before, after, new, lr, name == "adamw")
    return L.lines


def _rule_text(w, rule):
    """"adam (betas 0.9, 0.999, eps 1e-08, …); penalty …; clipping …" for the heading."""
    def option(value):
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, tuple):
            return ", ".join(w.num(x) for x in value)
        return w.num(value)

    parts = []
    if rule.optimizer is not None:
        options = ", ".join(f"{key} {option(value)}" for key, value in rule.options.items())
        parts.append(f"{rule.optimizer} ({options})")
    if rule.penalty is not None:
        parts.append(f"penalty l1 {rule.penalty['l1']}, l2 {rule.penalty['l2']} (weights only)")
    if rule.clip is not None:
        if "max_norm" in rule.clip:
            norm = "" if rule.clip_norm is None else f", N = {w.num(rule.clip_norm)}"
            parts.append(f"clipping by global norm (max_norm {rule.clip['max_norm']}{norm})")
        else:
            parts.append(f"clipping each g to [−{rule.clip['value']}, {rule.clip['value']}]")
    return "; ".join(parts)


def optimizer_update_section(step, w, records):
    """The update by an optimizer, a penalty or clipping: a table (θ, dE/dθ,
    the penalty's share, g as applied, θ new) and each parameter's lines, read
    from the core's state before and after the step (``StepRecord.rule``)."""
    return optimizer_update_table(w, step.rule, step.learning_rate,
                                  updated_parameters(step, w, records),
                                  gradient_header(step, "w", "samples"))


@dataclass
class UpdatedParameter:
    """One parameter of an optimizer's, penalty's or clipping's update:
    ``label``, ``old``, the reduced gradient ``grad``, g as ``applied`` (None:
    not updated, a fixed bias), ``new``, the penalty's ``share`` and the
    optimizer state ``before``/``after`` the step (dicts with torch's names)."""

    label: str
    old: object
    grad: object
    applied: object
    new: object
    share: object
    before: dict
    after: dict


def optimizer_update_table(w, rule, learning_rate, params, grad_header):
    """The table and the per-parameter lines of an update by ``rule`` (an
    :class:`~neuronsim.trace.tracer.UpdateRule`) for a list of
    :class:`UpdatedParameter` in the order given; any layer kind's tracer
    calls it with its own labels."""
    penalty, clip = rule.penalty is not None, rule.clip is not None
    rows, equations = [], []
    for p in params:
        fixed = p.applied is None
        row = [w.cell(p.label), w.num(p.old), w.num(p.grad)]
        if penalty:
            row.append(w.num(p.share))
        if clip:
            row.append("" if fixed else w.num(p.applied))
        row.append(f"{w.num(p.new)} (fixed)" if fixed else w.num(p.new))
        rows.append(row)
        if fixed:
            continue
        equations += _optimizer_lines(w, rule, p.label, p.old, p.applied, p.before, p.after,
                                      p.new, learning_rate)
    headers = ["parameter", "old", grad_header]
    if penalty:
        headers.append("+ penalty dR/dw")
    if clip:
        headers.append("g (clipped)")
    headers.append("new")
    return w.table(rows, headers), equations


def _state_of(state, name, k, initial):
    """One parameter's optimizer state in a neuron's ``optimizer_state`` (the
    initial state when the neuron had none yet)."""
    if state is None or name not in state:
        return dict(initial)
    return state[name][k] if k is not None else state[name]


# ---------------------------------------------------------------- assembly
def _heading(w, text, level=2):
    text = w.prose(text)
    if w.style == "latex":
        text = latex_text(text)
    if w.fmt == "markdown":
        return "#" * (level + 1) + " " + text
    if w.fmt == "latex":
        return (r"\subsection*{" if level == 1 else r"\subsubsection*{") + text + "}"
    if w.fmt == "html":
        return f"<h{level + 1}>{text}</h{level + 1}>"
    return text + "\n" + ("=" if level == 1 else "-") * len(text)


def _equations(w, equations):
    if not equations:
        return ""
    if w.fmt == "markdown":
        return "\n".join(f"- {e}" for e in equations)
    if w.fmt == "html":
        return "\n".join(f'<p class="equation">{e}</p>' for e in equations)
    if w.fmt == "latex":
        return "\n".join(equations)
    return "\n".join(f"  {e}" for e in equations)


def _check_sections(sections):
    for name in sections:
        if name not in SECTIONS:
            raise ValueError(f"unknown section {name!r} (known: {', '.join(SECTIONS)})")


def render_step(step, format="plain", digits=9, layers=None, neurons=None,
                bias_as_weight=False, convention="nielsen", sections=SECTIONS, title=None):
    """One :class:`~neuronsim.trace.tracer.StepRecord` as text in ``format``.

    ``layers``/``neurons``: optional 0-based indices to show (the CLI's
    ``--layer``/``--neuron`` take textbook numbers and convert).  ``title``
    replaces "Step N" in the heading.
    """
    w = _Writer(format, digits, convention, bias_as_weight)
    _check_sections(sections)
    records = list(_selected(step, layers, neurons))
    parts = [_heading(w, _header(step, w, title), level=1)]
    if "forward" in sections:
        table, eqs = forward_section(step, w, records)
        parts += [_heading(w, "Forward pass"), table, _equations(w, eqs)]
    if "loss" in sections and step.loss is not None:
        parts += [_heading(w, f"Loss ({step.loss_name})"), _equations(w, loss_section(step, w))]
    if "backward" in sections and step.loss is not None:
        table, eqs = backward_section(step, w, records)
        parts += [_heading(w, "Backward pass (δ = dE/dz, output layer first)"), table,
                  _equations(w, eqs)]
    if "gradients" in sections and step.loss is not None:
        parts += [_heading(w, "Gradients of this sample"), gradients_section(step, w, records)]
    if "update" in sections and step.updated:
        parts += update_parts(step, w, f"Update (learning rate η = {w.num(step.learning_rate)})",
                              updated_parameters(step, w, records),
                              gradient_header(step, "w", "samples"), "w")
    return "\n\n".join(p for p in parts if p)


def render_trace(steps, format="plain", digits=9, layers=None, neurons=None,
                 bias_as_weight=False, convention="nielsen", sections=SECTIONS):
    """Every step, preceded by the notation note; ready to print or save."""
    w = _Writer(format, digits, convention, bias_as_weight)
    note = notation_note(w)
    if format == "html":
        note = f"<p>{note}</p>"
    body = [note] + [render_step(s, format, digits, layers, neurons, bias_as_weight,
                                 convention, sections) for s in steps]
    return "\n\n".join(body) + "\n"


# ---------------------------------------------------------------- batch steps
def _parameter_label(w, p):
    """The label of a :class:`~neuronsim.trace.tracer.ParameterRecord`."""
    return w.parameter(p)


def _selected_parameters(batch, w, layers, neurons):
    """The parameters the filters keep; a bias shown as w_j0 comes first in its neuron."""
    kept = [p for p in batch.parameters
            if (layers is None or p.layer in layers) and (neurons is None or p.neuron in neurons)]
    if w.bias_as_weight:
        kept.sort(key=lambda p: (p.layer, p.neuron, p.kind != "bias"))   # stable
    return kept


def _sample_numbers(batch):
    """Each recorded sample's number in its batch, from 1 (after any unseen ones)."""
    return range(batch.unseen + 1, batch.size + 1)


def _shown_samples(count):
    """Positions (0-based) of the sample columns; None marks the "…" column."""
    if count <= MAX_TERMS:
        return list(range(count))
    return [0, 1, 2, None, count - 1]


def batch_loss_section(batch, w):
    """E = (E_1 + ... + E_n)/n (mean) or E_1 + ... + E_n (sum), with numbers."""
    if batch.loss is None:
        return [w.prose(_unseen_note(batch) + ": the batch loss needs every sample's E")]
    names = [w.loss_of_sample(s) for s in _sample_numbers(batch)]
    values = [w.fac(v) for v in batch.losses]
    if batch.reduction == "mean":
        sym = f"({w.sum_of(names)})/{batch.size}"
        num = f"({w.sum_of(values)})/{batch.size}"
    else:
        sym, num = w.sum_of(names), w.sum_of(values)
    lines = [w.equation(f"E = {sym} = {num} = {w.num(batch.loss)}")]
    rule = getattr(batch.samples[-1], "rule", None) if batch.samples else None
    return lines + penalty_lines(w, rule, batch.loss)


def accumulated_section(batch, w, parameters):
    """Per parameter: dE_s/dp of each sample, Σ_s, and Σ/n; then each sum written out."""
    numbers = list(_sample_numbers(batch))
    shown = _shown_samples(len(numbers))
    mean = batch.reduction == "mean"
    rows, equations = [], []
    for p in parameters:
        label = _parameter_label(w, p)
        row = [w.cell(label)]
        row += [w.ellipsis if i is None else w.num(p.terms[i]) for i in shown]
        row.append(w.num(p.total))
        if mean:
            row.append(w.num(p.gradient))
        rows.append(row)
        sym = w.sum_of([w.sample_partial(s, label) for s in numbers])
        num = w.sum_of([w.fac(t) for t in p.terms])
        if batch.unseen:
            sym += f" + ({batch.unseen} unseen)"
            num += f" + ({batch.unseen} unseen)"
        if mean:
            sym, num = f"({sym})/{batch.divisor}", f"({num})/{batch.divisor}"
        equations.append(w.equation(
            f"{w.partial(label)} = {sym} = {num} = {w.num(p.gradient)}"))
    headers = ["parameter"] + [w.ellipsis if i is None else f"sample {numbers[i]}"
                               for i in shown]
    headers.append(f"Σ over {_samples(batch.size)}")
    if mean:
        headers.append(f"dE/d(parameter) = Σ/{batch.divisor}")
    else:
        headers[-1] += " = dE/d(parameter)"
    if batch.unseen:
        equations.append(w.prose(f"({_unseen_note(batch)}: Σ includes their terms)"))
    return w.table(rows, headers), equations


def batch_update_section(batch, w, parameters):
    """p ← p − η·(Σ_s dE_s/dp)/n for each parameter, once for the whole batch."""
    rows, equations = [], []
    rate = w.num(batch.learning_rate)
    for p in parameters:
        label = _parameter_label(w, p)
        new = w.num(p.new)
        rows.append([w.cell(label), w.num(p.old), w.num(p.gradient), rate,
                     new if p.updated else f"{new} (fixed)"])
        if not p.updated:
            equations.append(w.equation(f"{label} = {w.num(p.old)}") + " "
                             + w.prose("(biases fixed: update_biases is false)"))
            continue
        total = w.sample_partial(None, label)
        if batch.reduction == "mean":
            sym = f"{label}{w.minus}{w.eta}{w.times}({total})/{batch.divisor}"
            num = (f"{w.num(p.old)}{w.minus}{w.fac(batch.learning_rate)}{w.times}"
                   f"{w.fac(p.total)}/{batch.divisor}")
        else:
            sym = f"{label}{w.minus}{w.eta}{w.times}{total}"
            num = f"{w.num(p.old)}{w.minus}{w.fac(batch.learning_rate)}{w.times}{w.fac(p.total)}"
        equations.append(w.equation(f"{label}{w.gets}{sym} = {num} = {new}"))
    grad = (f"dE/d(parameter) ({batch.reduction} over {_samples(batch.size)})")
    headers = ["parameter", "old", grad, "η", "new = old − η·dE/d(parameter)"]
    if not batch.update_biases:
        headers[-1] += " (biases fixed)"
    return w.table(rows, headers), equations


def _samples(count):
    return f"{count} sample" + ("" if count == 1 else "s")


def _unseen_note(batch):
    verb = "was" if batch.unseen == 1 else "were"
    return (f"{_samples(batch.unseen)} of this batch {verb} back-propagated before the "
            f"tracer saw {'it' if batch.unseen == 1 else 'them'}")


def render_batch(batch, format="plain", digits=9, layers=None, neurons=None,
                 bias_as_weight=False, convention="nielsen", sections=SECTIONS,
                 render_sample=None, writer=None, render_update=None):
    """One :class:`~neuronsim.trace.tracer.BatchRecord` as text in ``format``.

    Each sample's step (every section but the update, which no single sample
    has), then the batch loss, the accumulated gradient and the one update,
    as ``sections`` selects them.  Options as in :func:`render_step`.
    ``render_sample`` writes one sample's record (default :func:`render_step`;
    a network whose samples are sequences passes its per-time-step renderer,
    called with the same arguments and ``title``, and its ``writer``: a
    :class:`_Writer` subclass that labels its kinds of parameters, and its
    ``render_update(record, w, layers, neurons)``: the (table, lines) of an
    optimizer's update from the last sample's record, default
    :func:`optimizer_update_section` of the kept neurons).
    """
    render_sample = render_step if render_sample is None else render_sample
    w = (_Writer if writer is None else writer)(format, digits, convention, bias_as_weight)
    _check_sections(sections)
    n, b = batch.size, batch.index
    title = f"Batch step {b}: {_samples(n)}, every δ with the same weights, then one update"
    parts = [_heading(w, title, level=1)]
    if batch.unseen:
        parts.append(_paragraph(w, w.prose(_unseen_note(batch) + "; only the others are shown")))
    per_sample = [name for name in sections if name != "update"]
    if per_sample:
        for number, sample in zip(_sample_numbers(batch), batch.samples):
            parts.append(render_sample(sample, format, digits, layers, neurons, bias_as_weight,
                                       convention, per_sample,
                                       title=f"Batch step {b}, sample {number} of {n}"))
    parameters = _selected_parameters(batch, w, layers, neurons)
    summary = []
    if "loss" in sections:
        how = "mean" if batch.reduction == "mean" else "sum"
        losses = "the sample's loss" if n == 1 else f"the {n} sample losses"
        summary += [_heading(w, f"Batch loss (the {how} of {losses})"),
                    _equations(w, batch_loss_section(batch, w))]
    if "gradients" in sections:
        how = (f"Σ over the {_samples(n)}, then ÷ {n}: reduction mean" if batch.reduction == "mean"
               else f"Σ over the {_samples(n)}: reduction sum")
        table, eqs = accumulated_section(batch, w, parameters)
        summary += [_heading(w, f"Accumulated gradient ({how})"), table, _equations(w, eqs)]
    # an optimizer's, penalty's or clipping's update: the last sample's record holds it
    last = batch.samples[-1] if batch.samples else None
    rule = getattr(last, "rule", None)
    if "update" in sections and batch.updated and rule is not None:
        if render_update is None:
            table, eqs = optimizer_update_section(last, w,
                                                  list(_selected(last, layers, neurons)))
        else:
            table, eqs = render_update(last, w, layers, neurons)
        summary += [_heading(w, f"Update, once for the batch (learning rate η = "
                                f"{w.num(batch.learning_rate)}): {_rule_text(w, rule)}"),
                    table, _equations(w, eqs)]
    elif "update" in sections and batch.updated:
        table, eqs = batch_update_section(batch, w, parameters)
        summary += [_heading(w, f"Update, once for the batch (learning rate η = "
                                f"{w.num(batch.learning_rate)})"), table, _equations(w, eqs)]
    if summary:
        parts += [_heading(w, f"Batch step {b}: the sums and the one update", level=1)] + summary
    return "\n\n".join(p for p in parts if p)


def render_batches(batches, format="plain", digits=9, layers=None, neurons=None,
                   bias_as_weight=False, convention="nielsen", sections=SECTIONS):
    """Every batch step, preceded by the notation note; ready to print or save."""
    w = _Writer(format, digits, convention, bias_as_weight)
    _check_sections(sections)
    body = [_paragraph(w, notation_note(w))]
    body += [render_batch(b, format, digits, layers, neurons, bias_as_weight, convention,
                          sections) for b in batches]
    return "\n\n".join(body) + "\n"


def _paragraph(w, text):
    return f"<p>{text}</p>" if w.fmt == "html" else text


def html_document(body, title="neuronsim trace"):
    """Wrap rendered HTML in a complete, self-contained page."""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #999;padding:2px 8px;text-align:right}"
            "p.equation{font-family:serif}"
            f"</style></head><body>\n{body}\n</body></html>\n")


def latex_document(body):
    """Wrap rendered LaTeX in a compilable article."""
    return ("\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage{amsmath}\n"
            "\\usepackage[margin=1.5cm,landscape]{geometry}\n"
            "\\begin{document}\n" + body + "\n\\end{document}\n")
