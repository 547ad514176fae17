"""The writer of every table: labels, numbers and operators in one output format.

Tables come from ``tabulate`` (imported where a table needs it: a plain-text table of
one-column characters is drawn by :mod:`neuronsim.render.plain_table`, byte for byte as
tabulate would); every number is pre-formatted (see
:mod:`neuronsim.render.numfmt`): ``digits`` significant digits, trailing zeros
dropped.  Labels follow textbook numbering: the input layer is layer 1 and
neurons count from 1, so Python's ``net.layers[l].neurons[j]`` is neuron j+1 of
layer l+2.  Every rendering says which weight convention it prints
(:func:`notation_note`, :mod:`neuronsim.core.labels`).

One :class:`_Writer` serves every kind of record (a feed-forward step, a
sequence, a batch of either); headings, equation lists, paragraphs and the
HTML/LaTeX document around a rendering are here too, the same for all.
"""

import re

from ..core import labels as lab
from .numfmt import factor, format_number
from .plain_table import plain_table


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

# Symbols of the notes that LaTeX's text mode spells otherwise (before _Writer.prose).
_LATEX_NOTE = [("δ̃", r"$\tilde{\delta}$"), ("∂", r"$\partial$"), ("—", "--"), ("≥", r"$\geq$"),
               (">=", r"$\geq$"), ("<=", r"$\leq$"),
               ("θ", r"$\theta$")]

# Sums longer than this are shown with their first terms and "…".
MAX_TERMS = 6

#: a term of :meth:`_Writer.terms_row` that stands for the terms left out ("…")
SKIPPED = object()

_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")

# Numbers that LaTeX writes with math macros (exact fractions, infinities): a
# table cell is text, so each one there goes into $...$.  (A pattern that re compiles
# on first use and keeps, not at import: only LaTeX needs it.)
_LATEX_MATH_NUMBER = r"-?\\frac\{\d+\}\{\d+\}|-?\\infty"


class _Writer:
    """Labels, numbers and operators for one output format: a feed-forward step's
    (a, z, δ, w, b), and a sequence's (a label at step t, u, a[0]; an LSTM's or GRU's
    h, c, gates), for every kind of record."""

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

    def terms_row(self, label, terms, totals):
        """One row of a gradient written as a Σ of terms, for every kind of record (a
        sequence's term at each time step, a batch's term of each sample): the label,
        each term (None: nothing reached it, "—"; :data:`SKIPPED`: the terms left
        out, "…"), then the totals (Σ, and Σ/n for a batch's mean)."""
        cells = ["—" if v is None else self.ellipsis if v is SKIPPED else self.num(v)
                 for v in terms]
        return [self.cell(label)] + cells + [self.num(v) for v in totals]

    def prose(self, text):
        """Headings and column titles: LaTeX needs its own spelling of δ, η, ·, _ ..."""
        if self.style != "latex":
            return text
        for plain, latex in _LATEX_PROSE:
            text = text.replace(plain, latex)
        return text

    # time steps and recurrent weights -----------------------------------------
    def at(self, label, t):
        """A label at time step t: a₁⁽²⁾[3]."""
        return f"{label}[{t}]"

    def x(self, k, t):
        """Input k at step t: a_k^(1)[t], the input layer's activation."""
        return self.at(self.a(-1, k), t)

    def u(self, layer, j, i):
        """u_ji^(l): into recurrent neuron j of ``net.layers[layer]`` from neuron i
        of the same layer, one step earlier.  The superscript is the layer's own
        number in both conventions (u feeds layer l and comes from layer l at t-1)."""
        return lab.recurrent_weight_label(layer, j, i, self.style)

    def a0(self, layer, i):
        """a_i^(l)[0], the initial state."""
        return lab.initial_state_label(layer, i, self.style)

    def carried_delta(self, layer, i, truncated):
        """δ_i of the layer, or δ̃_i (the part truncated BPTT carries one step further back)."""
        label = self.delta(layer, i)
        if not truncated:
            return label
        tilde = {"text": ("δ", "δ̃"), "latex": (r"\delta", r"\tilde{\delta}"),
                 "html": ("&delta;", "&delta;&#771;")}[self.style]
        return label.replace(*tilde, 1)

    def error(self, t):
        return f"E_{t}" if self.style == "latex" else f"E[{t}]"

    # gated layers (neuronsim.trace.gated) ------------------------------------
    def h(self, layer, j):
        """h_j^(l), the hidden state of unit j of an LSTM or GRU layer."""
        return lab.symbol("h", (j + 1,), layer + 2, self.style)

    def c(self, layer, j):
        """c_j^(l), the cell state of unit j of an LSTM layer."""
        return lab.symbol("c", (j + 1,), layer + 2, self.style)

    def gate_a(self, layer, gate, j):
        """The gate's activation by its letter: i_j^(l), f_j^(l), ..., n_j^(l)."""
        letter, sub, sup = lab.GATE_LETTERS[gate], str(j + 1), f"({layer + 2})"
        if self.style == "latex":
            return f"{letter}_{{{sub}}}^{{{sup}}}"
        if self.style == "html":
            return f"{letter}<sub>{sub}</sub><sup>{sup}</sup>"
        return letter + sub.translate(_SUB) + sup.translate(_SUP)

    def gate_z(self, layer, gate, j):
        """z_q,j^(l), the gate's weighted input."""
        return lab.gate_symbol("z", lab.GATE_LETTERS[gate], (j + 1,), layer + 2, self.style)

    def gate_delta(self, layer, gate, j):
        """δ_q,j^(l) = dE/dz_q,j^(l)."""
        delta = {"text": "δ", "latex": r"\delta", "html": "&delta;"}[self.style]
        return lab.gate_symbol(delta, lab.GATE_LETTERS[gate], (j + 1,), layer + 2, self.style)

    def gate_weight(self, layer, gate, j, k):
        return lab.gate_weight_label(layer, gate, j, k, self.convention, self.style)

    def gate_recurrent(self, layer, gate, j, m):
        return lab.gate_recurrent_label(layer, gate, j, m, self.style)

    def gate_bias(self, layer, gate, j, side):
        return lab.gate_bias_label(layer, gate, j, side, self.convention, self.style)

    def gated_initial(self, name, layer, j):
        """h_j^(l)[0] or c_j^(l)[0]."""
        return lab.gated_state_label(name, layer, j, self.style)

    def carried(self, label, truncated):
        """A δ label, or δ̃ (the part truncated BPTT carries one step further back)."""
        if not truncated:
            return label
        tilde = {"text": ("δ", "δ̃"), "latex": (r"\delta", r"\tilde{\delta}"),
                 "html": ("&delta;", "&delta;&#771;")}[self.style]
        return label.replace(*tilde, 1)

    @property
    def sigma(self):
        return r"\sigma" if self.style == "latex" else "σ"

    @property
    def gap(self):
        """Between two equations on one line."""
        return r" \qquad " if self.style == "latex" else ";  "

    def squared(self, x):
        return f"{x}^2" if self.style == "latex" else f"{x}²"

    def parameter(self, p):
        """A batch parameter's label: w, b, and u_ji^(l) or a learned a_i^(l)[0];
        an LSTM's or GRU's gate parameters and learned h[0], c[0]."""
        if p.kind.startswith("gate_"):
            if p.kind == "gate_weight":
                return self.gate_weight(p.layer, p.gate, p.neuron, p.index)
            if p.kind == "gate_recurrent_weight":
                return self.gate_recurrent(p.layer, p.gate, p.neuron, p.index)
            if p.kind in ("gate_bias_ih", "gate_bias_hh"):
                return self.gate_bias(p.layer, p.gate, p.neuron, p.kind[-2:])
            return self.gated_initial(p.kind[len("gate_"):], p.layer, p.neuron)
        if p.kind == "recurrent_weight":
            return self.u(p.layer, p.neuron, p.index)
        if p.kind == "initial_state":
            return self.a0(p.layer, p.neuron)
        if p.kind == "weight":
            return self.w(p.layer, p.neuron, p.index)
        if p.kind == "bias":
            return self.b(p.layer, p.neuron)
        raise ValueError(f"no label for parameters of kind {p.kind!r}")

    def text(self, sentence):
        """A note in prose: LaTeX text mode gets ASCII spellings of its symbols."""
        if self.style != "latex":
            return sentence
        for plain, latex in _LATEX_NOTE:
            sentence = sentence.replace(plain, latex)
        return self.prose(sentence)

    def table(self, rows, headers):
        """A table; in LaTeX the column titles and the "—" cells in ASCII spellings."""
        if self.style == "latex":
            for plain, latex in _LATEX_NOTE:
                headers = [h.replace(plain, latex) for h in headers]
            rows = [[latex_text("--" if cell == "—" else cell) for cell in row] for row in rows]
        headers = [self.prose(h) for h in headers]
        if self.tablefmt == "simple":
            return plain_table(rows, headers)
        from tabulate import tabulate

        return tabulate(rows, headers=headers, tablefmt=self.tablefmt,
                        disable_numparse=True, stralign="left")


#: the writer of a network that reads sequences, by its older name
_TimeWriter = _Writer


def latex_text(text):
    """Text for LaTeX's text mode (a table cell, a heading): each \\frac or
    \\infty number outside $...$ is put in math mode."""
    parts = text.split("$")
    for i in range(0, len(parts), 2):     # the even parts are outside math mode
        parts[i] = re.sub(_LATEX_MATH_NUMBER, lambda match: f"${match.group(0)}$", parts[i])
    return "$".join(parts)


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


def _paragraph(w, text):
    return f"<p>{text}</p>" if w.fmt == "html" else text


def assemble(w, title, sections, writers):
    """One record's text, any kind of record: its heading ``title``, then each of
    ``SECTIONS`` (forward, loss, backward, gradients, update), in that order, that
    ``sections`` asks for.  ``writers[name]()`` gives a section's parts (its heading,
    tables and equations), [] when the record has none (no loss yet, no update)."""
    parts = [_heading(w, title, level=1)]
    for name in SECTIONS:
        if name in sections:
            parts += writers[name]()
    return "\n\n".join(p for p in parts if p)


def _check_sections(sections):
    for name in sections:
        if name not in SECTIONS:
            raise ValueError(f"unknown section {name!r} (known: {', '.join(SECTIONS)})")


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
