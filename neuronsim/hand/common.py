"""What the hand-derivation tools share: the network's first sample, and a
writer of labels and numbers in plain text, Markdown and LaTeX (used by
:mod:`neuronsim.hand.explain`, :mod:`neuronsim.hand.explain_time`,
:mod:`neuronsim.hand.worksheet` and :mod:`neuronsim.hand.mistakes`).

The tools work on copies: ``net.copy(batch=False, rule=False)`` (a new batch,
plain gradient descent) to derive a gradient or a mistake, and
``net.copy(batch=False)`` (with the optimizer, its state, the schedule,
clipping and the penalty) to derive an update (:meth:`~neuronsim.core.network.Network.copy`).
"""

from ..core import labels as lab
from ..core.errors import NeuronsimError
from ..core.gates import GatedLayer
from ..render.numfmt import factor, format_number

FORMATS = ("plain", "markdown", "latex")

# g'(z) of each activation, as taught.
DERIVATIVE_FORMULAS = {
    "sigmoid": "a(1 − a)",
    "tanh": "1 − a²",
    "relu": "1 if z > 0, else 0",
    "leaky_relu": "1 if z > 0, else s",
    "linear": "1",
    "softmax": "a_i(δ_ij − a_j) (the softmax Jacobian)",
}


def first_sample(net, x=None, t=None, where="the network"):
    """(x, t): the given pair, or the network file's first sample."""
    if x is not None or t is not None:
        if x is None or t is None:
            raise NeuronsimError("give both an input x and a target t")
        return list(x), list(t)
    if not net.samples:
        raise NeuronsimError(f"{where} has no samples: give an input and a target")
    sample = net.samples[0]
    return list(sample["input"]), list(sample["target"])


def is_paired(net):
    """True when the output delta is the paired a - t (see neuronsim.core.losses)."""
    paired_with = net.loss.paired_with
    return paired_with is not None and paired_with == net.layers[-1].activation.name


def numbers_name(numbers):
    digits = getattr(numbers, "digits", None)
    return f"{numbers.name}:{digits}" if digits else numbers.name


class Writer:
    """Labels and numbers for one output format (plain, markdown, latex)."""

    def __init__(self, fmt, digits, convention, bias_as_weight=False):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
        self.fmt = fmt
        self.style = "latex" if fmt == "latex" else "text"
        self.digits = digits
        self.convention = convention
        self.bias_as_weight = bias_as_weight
        latex = fmt == "latex"
        self.times = r" \cdot " if latex else " · "
        self.minus = " - " if latex else " − "
        self.arrow = r" \to " if latex else " → "

    def num(self, x):
        return format_number(x, self.digits, self.style)

    def fac(self, x):
        return factor(x, self.digits, self.style)

    def label(self, kind, layer, j, k=None):
        if kind == "w":
            return lab.weight_label(layer, j, k, self.convention, self.style)
        if kind == "b":
            return lab.bias_label(layer, j, self.convention, self.style, self.bias_as_weight)
        if kind == "u":
            return lab.recurrent_weight_label(layer, j, k, self.style)
        return lab.neuron_label(kind, layer, j, self.style)

    def one(self):
        """a_0, the constant input 1 of a bias shown as the weight w_j0."""
        return lab.symbol("a", (0,), None, self.style)

    def t(self, i):
        return lab.target_label(i, self.style)

    def partial(self, top, bottom):
        if self.style == "latex":
            return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"
        return f"∂{top}/∂{bottom}"

    def math(self, text):
        """A displayed equation (LaTeX: an align* row is added by the caller)."""
        return text

    def text(self, text):
        """Prose: in LaTeX, escape _ and ^ and write the few symbols as math."""
        if self.style == "latex":
            text = text.replace("_", r"\_").replace("^", r"\^{}")
            for symbol, latex in LATEX_SYMBOLS.items():
                text = text.replace(symbol, latex)
        return text


LATEX_SYMBOLS = {"−": "-", "Σ": r"$\Sigma$", "δ": r"$\delta$", "σ": r"$\sigma$", "²": r"$^2$",
                  "∂": r"$\partial$", "·": r"$\cdot$", "→": r"$\to$", "…": r"\dots{}"}


def loss_derivative(w, loss_name, a, t, n_outputs):
    """dE/da as taught, for the output neuron with labels a and t."""
    m = w.minus
    if loss_name == "half_sse":
        return f"({a}{m}{t})"
    if loss_name == "sse":
        return f"2({a}{m}{t})"
    if loss_name == "mse":
        return f"2({a}{m}{t})/{n_outputs}"
    if loss_name == "binary_cross_entropy":
        return f"({a}{m}{t})/({a}(1{m}{a}))"
    return f"(−{t}/{a})" if w.style != "latex" else f"(-{t}/{a})"


def convention_note(convention, bias_as_weight=False):
    """The sentences every explain output carries about the weight labels."""
    if convention == "nielsen":
        rule = ("w_jk^(l) feeds neuron j of layer l from neuron k of layer l-1; "
                "b_j^(l) is the bias of neuron j of layer l")
    else:
        rule = ("w_jk^(l) feeds neuron j of layer l+1 from neuron k of layer l; "
                "b_j^(l) feeds z_j^(l+1)")
    bias = ("  Biases are shown as weights w_j0^(l) = b_j^(l) on a constant input a_0 = 1."
            if bias_as_weight else "")
    return (f"Weight convention {convention}: {rule}.{bias}  Textbook numbering: the input "
            f"layer is layer 1 and neurons count from 1; Python indices count from 0.")


def heading(w, text):
    if w.fmt == "markdown":
        return "### " + text
    if w.fmt == "latex":
        return r"\subsection*{" + text + "}"
    return text + "\n" + "=" * len(text)


def inline(w, label):
    return f"${label}$" if w.style == "latex" else label


def display(w, equations):
    if w.fmt == "latex":
        return "\\begin{align*}\n" + " \\\\\n".join(equations) + "\n\\end{align*}"
    if w.fmt == "markdown":
        return "\n".join(f"    {e}" for e in equations)
    return "\n".join(f"  {e}" for e in equations)


def derivative_legend(w, e, first_layer):
    """"layers 2, 3: g = sigmoid, g'(z) = a(1 − a); ..." for the activations on
    the paths (a paired output layer only beside a hidden layer with the same g);
    leaky_relu shows its slope s, layers with different slopes listed apart."""
    last = len(e.activations) - 1
    groups = {}                       # (name, g'(z) text) -> textbook layers
    for index in range(first_layer, last + 1):
        if isinstance(e.net.layers[index], GatedLayer):
            continue                  # its gates: neuronsim.hand.explain_gates.legend
        name = e.activations[index]
        formula = DERIVATIVE_FORMULAS[name]
        if name == "leaky_relu":
            slope = e.net.layers[index].activation.params["slope"]
            formula = f"1 if z > 0, else s = {format_number(slope, w.digits)}"
        if e.paired and index == last:
            if (name, formula) in groups:          # listed with the layers it shares g with
                groups[name, formula].append(str(index + 2))
            continue
        groups.setdefault((name, formula), []).append(str(index + 2))
    if not groups:
        return ""
    parts = [f"layer{'s' if len(layers) > 1 else ''} {', '.join(layers)}: "
             f"g = {name}, g'(z) = {formula}" for (name, formula), layers in groups.items()]
    return "Activations on the paths: " + "; ".join(parts) + "."


def sum_over_t(w, steps, times):
    """The terms of dE/dθ = Σ_t δ[t]·x[t] written three ways: (symbols, numbers,
    products), one entry per step.  ``steps``: (δ label, the factor's label or None
    for a bias, δ, the factor, the product) per step; δ None = nothing reached that
    step, written 0."""
    symbolic, numeric, products = [], [], []
    for d, factor_label, delta, value, product in steps:
        symbolic.append(d if factor_label is None else f"{d}{times}{factor_label}")
        if delta is None:
            numeric.append("0")
            products.append("0")
            continue
        numeric.append(w.fac(delta) if factor_label is None
                       else f"{w.fac(delta)}{times}{w.fac(value)}")
        products.append(w.fac(product))
    return symbolic, numeric, products
