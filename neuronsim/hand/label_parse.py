"""Read a quantity's label as a student writes it: ``w_22^(2)``, ``δ₁⁽²⁾``, ``W2[1,1]``.

The result is a :class:`Target`: the kind of quantity and its 0-based Python
indices, so ``Target("w", 0, 1, 1)`` is ``net.layers[0].neurons[1].weights[1]``.

Accepted forms (spaces, ``$``, ``\\`` and braces are ignored):

=============================================  ==========================================
textbook, plain text                           ``w_22^(2)``, ``w_2,2^(2)``, ``w_{12,3}^{(2)}``,
                                               ``(w_22)^(2)``, ``w^(2)_22``, ``w_22^2``
textbook, Unicode (as neuronsim prints it)     ``w₂₂⁽²⁾``, ``b₁⁽³⁾``, ``δ₁⁽²⁾``, ``z₁⁽³⁾``
a bias as the weight w_j0 on a_0 = 1           ``w_10^(3)``, ``w₁₀⁽³⁾``, ``w_12,0^(3)``
derivative names                               ``dE/dw_22^(2)``, ``∂C/∂b_1^(3)``
kinds                                          ``w`` weight, ``b`` bias, ``δ``/``delta``/``d``
                                               delta (dE/dz), ``z``, ``a``
numpy style, 0-based indices                   ``W2[1,1]``, ``W2[1][1]``, ``b3[0]``
Python API, 0-based, no convention             ``layers[0].neurons[1].weights[1]``,
                                               ``net.layers[1].neurons[0].bias``, ``... .delta``,
                                               ``... .z``, ``... .output``
recurrent weights u_ji^(l) (recurrent layers)  ``u_12^(2)``, ``u₁₂⁽²⁾``, ``dE/du_12^(2)``,
                                               ``U2[0,1]``, ``layers[0].neurons[0].recurrent_weights[1]``
a time step t (networks that read sequences)   ``δ_1^(2)[3]``, ``z₂⁽³⁾[1]``, ``a_1^(2)[2]``,
                                               ``net.history[2][0][0].delta`` (history[t-1])
an initial state a[0] (recurrent layers)       ``a_1^(2)[0]``, ``a₁⁽²⁾[0]``, ``layers[0].initial_state[0]``
a gate's parameter (LSTM and GRU layers)       ``w_f,12^(2)``, ``u_i,21^(2)``, ``b_xo,1^(2)`` (input-side
                                               bias, torch's b_io), ``b_ho,1^(2)`` (recurrent side),
                                               ``b_ih,o,1^(2)``, ``w_f,12⁽²⁾``, ``dE/dw_f,12^(2)``,
                                               ``layers[0].gates["forget"][0].weights[1]``,
                                               ``layers[0].neurons[4].bias_hh`` (a torch row)
a gate's z, a or δ at step t                   ``δ_f,1^(2)[3]``, ``z_o,2^(2)[1]``, ``a_z,1^(3)[2]``,
                                               ``net.history[2][0][0].gates["forget"].delta``
a unit's h and c at step t (dE/dh, dE/dc)      ``h_1^(2)[3]``, ``dE/dh_1^(2)[3]``, ``c_1^(2)[3]``,
                                               ``dE/dc_1^(2)[3]``, ``net.history[2][0][0].cell``
an initial state h[0], c[0] (LSTM, GRU)        ``h_1^(2)[0]``, ``c₁⁽²⁾[0]``, ``layers[0].initial_cell[0]``
=============================================  ==========================================

Textbook labels count layers and neurons from 1 (the input layer is layer 1);
the Python forms count from 0.  A weight's two subscripts may be written
together only when both are single digits (``w_22``); otherwise separate them
with a comma (``w_12,3``).  A weight with k = 0, w_j0^(l), is the bias
b_j^(l): the bias written as the weight on a constant input a_0 = 1 (as
``--bias-as-weight`` prints it).

The superscript of a weight or bias depends on the convention
(:mod:`neuronsim.core.labels`): with ``"nielsen"`` (the default) w_jk^(l) feeds
layer l, so ``w_22^(2)`` is ``net.layers[0].neurons[1].weights[1]``; with
``"ng"`` it feeds layer l+1, so the same text is ``net.layers[1]...``.  The
number after ``W`` or ``b`` in the numpy style is that same superscript:
``W2[1,1]`` is ``w_22^(2)`` in either convention.  A bias b_j^(l) or w_j0^(l)
carries the superscript of its neuron's weights: layer l in ``"nielsen"``,
l-1 in ``"ng"``.  Superscripts of z, a and δ are always the textbook layer.

A recurrent weight u_ji^(l) feeds neuron j of layer l from neuron i of the
same layer at the step before (:func:`neuronsim.core.labels.recurrent_weight_label`):
its superscript is the layer's own number in both conventions, and so is the
number after ``U`` (``U2[0,1]`` is ``u_12^(2)``).  In a network that reads
sequences z, a and δ belong to a time step, written after the label in
brackets: ``δ_1^(2)[3]`` is δ of neuron 1 of layer 2 at t = 3 (steps count
from 1, as in the trace tables), and ``a_1^(2)[0]`` is the initial state of
a recurrent layer.  Weights, biases and u carry no step: their gradient is a
sum over every step.

An LSTM or GRU layer is made of gate neurons (:mod:`neuronsim.core.gates`):
gate q of unit j, q one of torch's letters i, f, g, o (LSTM) or r, z, n (GRU).
A gate's label puts the letter first in the subscript, then a comma, as
:mod:`neuronsim.core.labels` prints it (and gradcheck with it): ``w_f,12^(2)``
(gate f of unit 1, from input 2), ``u_i,21^(2)`` (gate i of unit 2, from
h_1[t-1]), ``b_xo,1^(2)`` and ``b_ho,1^(2)`` (the two biases: x the input
side, torch's ``bias_ih``; h the recurrent side, ``bias_hh``; ``b_ih,o,1^(2)``
and ``b_hh,o,1^(2)`` read the same), ``δ_f,1^(2)[3]``, ``z_f,1^(2)[3]`` and
``a_f,1^(2)[3]`` at a step.  A unit's states are ``h_1^(2)[t]`` and
``c_1^(2)[t]`` (LSTM only), ``h_1^(2)[0]`` and ``c_1^(2)[0]`` the initial
states; ``a_1^(2)[t]`` of a gated layer is its h.  Where a label names a
derivative (explain, the dE/d cells of a worksheet), ``h_1^(2)[3]`` and
``dE/dh_1^(2)[3]`` both name dE/dh_1^(2)[3].  A label of a gated layer that
names no gate (``w_12^(2)``) is refused with the accepted forms.  A Python
``neurons[r]`` of a gated layer is torch's row r: gate r // n of unit r % n.

    >>> parse_label("w_22^(2)")
    Target(kind='w', layer=0, neuron=1, input=1)
    >>> parse_label("w₂₂⁽²⁾", convention="ng").python()
    'net.layers[1].neurons[1].weights[1]'
    >>> parse_label("W2[1,1]") == parse_label("w_22^(2)")
    True
    >>> parse_label("δ_1^(2)").label()
    'δ₁⁽²⁾'
    >>> parse_label("w_10^(3)") == parse_label("b_1^(3)") == Target("b", 1, 0)
    True
    >>> parse_label("w₁₀⁽²⁾", convention="ng").label("ng", bias_as_weight=True)
    'w₁₀⁽²⁾'
    >>> parse_label("u_12^(2)", convention="ng") == parse_label("U2[0,1]") == Target("u", 0, 0, 1)
    True
    >>> parse_label("δ₁⁽²⁾[3]")
    Target(kind='delta', layer=0, neuron=0, input=None, step=3)
    >>> parse_label("a_1^(2)[0]").label()
    'a₁⁽²⁾[0]'
    >>> parse_label("w_f,12^(2)")
    Target(kind='w', layer=0, neuron=0, input=1, gate='forget')
    >>> parse_label("b_ih,o,1^(2)") == parse_label("b_xo,1⁽²⁾") == Target("b", 0, 0, gate="output", side="ih")
    True
    >>> parse_label("dE/dc_2^(3)[4]").python()
    'net.history[3][1][1].cell'
    >>> parse_label("δ_z,1^(2)[3]").label(style="ascii")
    'delta_z,1^(2)[3]'
"""

import re
from dataclasses import dataclass, replace

from ..core import labels as lab
from ..core.errors import NeuronsimError

KINDS = ("w", "u", "b", "delta", "z", "a", "h", "c")
#: the kinds that belong to a time step (z, a, δ; h and c of a gated unit)
PER_STEP = ("z", "a", "delta", "h", "c")

_KIND_NAMES = {"w": "w", "u": "u", "b": "b", "delta": "delta", "δ": "delta", "d": "delta",
               "z": "z", "a": "a", "output": "a", "h": "h", "c": "c"}
#: a gate's letter (i, f, g, o of an LSTM; r, z, n of a GRU, torch's) -> the gate's name
GATE_NAMES = {letter: name for name, letter in lab.GATE_LETTERS.items()}
#: the symbol of a per-step gate quantity in each label style
_GATE_KIND = {"text": {"delta": "δ"}, "latex": {"delta": r"\delta"},
              "html": {"delta": "&delta;"}, "ascii": {}}
# "_f," (a gate), "_xo," / "_ho," (a gate's input- or recurrent-side bias), "_ih,o,"
_GATE_PREFIX = re.compile(r"^_(?:(?P<torch>ih|hh),|(?P<side>[xh])(?=[a-z],))?(?P<gate>[a-z]),")
GATE_FORMS = ("w_f,12^(2), u_i,21^(2), b_xo,1^(2) or b_ho,1^(2) (the input- and "
              "recurrent-side biases), δ_f,1^(2)[t], z_f,1^(2)[t], a_f,1^(2)[t], h_1^(2)[t], "
              "c_1^(2)[t]")
_SUBSCRIPT = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789"))
_SUPERSCRIPT = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾", "0123456789()"))

_PYTHON_FORM = re.compile(
    r"^(?:net\.)?layers\[(\d+)\]\.neurons\[(\d+)\]\."
    r"(?:(weights|recurrent_weights)\[(\d+)\]|(bias|bias_ih|bias_hh|delta|z|output|a))$")
_PYTHON_HISTORY = re.compile(r"^(?:net\.)?history\[(\d+)\]\[(\d+)\]\[(\d+)\]\.(delta|z|output|cell)$")
_PYTHON_INITIAL = re.compile(r"^(?:net\.)?layers\[(\d+)\]\."
                             r"(initial_state|start_state|initial_cell|start_cell)\[(\d+)\]$")
_PYTHON_GATE = re.compile(
    r"^(?:net\.)?layers\[(\d+)\]\.gates\[[\"']?([a-z]+)[\"']?\]\[(\d+)\]\."
    r"(?:(weights|recurrent_weights)\[(\d+)\]|bias_(ih|hh))$")
_PYTHON_GATE_HISTORY = re.compile(
    r"^(?:net\.)?history\[(\d+)\]\[(\d+)\]\[(\d+)\]\.gates\[[\"']?([a-z]+)[\"']?\]\."
    r"(delta|z|output)$")
_NUMPY_FORM = re.compile(r"^([WUb])(\d+)\[(\d+)(?:(?:\]\[|,)(\d+))?\]$")
_STEP = re.compile(r"\[(?P<step>\d+)\]$")
_TEXTBOOK = re.compile(r"^(?P<name>[a-zδ]+)(?P<rest>.*)$")
_SUB = re.compile(r"_(?P<sub>\d+(?:,\d+)*)")
_SUP = re.compile(r"\^\(?(?P<sup>\d+)\)?")
_DERIVATIVE = re.compile(r"^(?:d|∂)[a-z]+/(?:d|∂)")


class LabelError(NeuronsimError, ValueError):
    """A label that cannot be read, or that names no quantity of the network."""


@dataclass(frozen=True, repr=False)
class Target:
    """One quantity of a network, by 0-based Python indices.

    ``kind``: "w" (a weight), "u" (a recurrent weight), "b" (a bias),
    "delta" (δ = dE/dz), "z" or "a".
    ``layer``: index into ``net.layers`` (-1 only for an input a_k^(1)).
    ``neuron``: index into ``layer.neurons``.  ``input``: weights only, the k
    of w_jk (the i of u_ji).  ``step``: z, a and δ of a network that reads
    sequences, the time step t = 1..T (0: the initial state a[0]); None
    otherwise.

    LSTM and GRU layers: ``gate`` is the gate's name ("forget", "update", ...)
    of a gate's w, u, b, z, a or δ, and ``neuron`` the unit j
    (``layer.gates[gate][neuron]``); ``side`` is "ih" (b^x, torch's
    ``bias_ih``) or "hh" (b^h) for a gate's bias.  Kinds "h" and "c" are a
    unit's hidden and cell state at ``step`` (0: the initial state).
    """

    kind: str
    layer: int
    neuron: int
    input: int = None
    step: int = None
    gate: str = None
    side: str = None

    def __repr__(self):
        step = "" if self.step is None else f", step={self.step}"
        gate = "" if self.gate is None else f", gate={self.gate!r}"
        side = "" if self.side is None else f", side={self.side!r}"
        return (f"Target(kind={self.kind!r}, layer={self.layer}, neuron={self.neuron}, "
                f"input={self.input}{step}{gate}{side})")

    def python(self):
        """Where the value lives in the Python API (0-based)."""
        if self.gate is not None:
            return self._gate_python()
        if self.kind in ("h", "c"):
            if self.step == 0:
                name = "start_state" if self.kind == "h" else "start_cell"
                return f"net.layers[{self.layer}].{name}[{self.neuron}]"
            name = "output" if self.kind == "h" else "cell"
            return f"net.history[{self.step - 1}][{self.layer}][{self.neuron}].{name}"
        if self.kind == "a" and self.layer == -1:
            if self.step is not None:
                return f"net.inputs[{self.step - 1}][{self.neuron}]"
            return f"net.inputs[{self.neuron}]"
        attribute = {"w": f"weights[{self.input}]", "u": f"recurrent_weights[{self.input}]",
                     "b": "bias", "delta": "delta", "z": "z", "a": "output"}[self.kind]
        if self.step == 0:
            return f"net.layers[{self.layer}].start_state[{self.neuron}]"
        if self.step is not None:
            return f"net.history[{self.step - 1}][{self.layer}][{self.neuron}].{attribute}"
        return f"net.layers[{self.layer}].neurons[{self.neuron}].{attribute}"

    def _gate_python(self):
        gate = f'gates["{self.gate}"]'
        if self.kind in ("w", "u", "b"):
            attribute = {"w": f"weights[{self.input}]", "u": f"recurrent_weights[{self.input}]",
                         "b": f"bias_{self.side}"}[self.kind]
            return f"net.layers[{self.layer}].{gate}[{self.neuron}].{attribute}"
        attribute = {"delta": "delta", "z": "z", "a": "output"}[self.kind]
        return f"net.history[{self.step - 1}][{self.layer}][{self.neuron}].{gate}.{attribute}"

    def label(self, convention="nielsen", style="text", bias_as_weight=False):
        """The textbook label in ``convention`` (w₂₂⁽²⁾, b₁⁽³⁾, δ₁⁽²⁾, u₁₂⁽²⁾,
        δ₁⁽²⁾[3], ...); a bias as w_j0 (w₁₀⁽³⁾) with ``bias_as_weight`` (not
        a gate's: it has two).  Gates: w_f,12⁽²⁾, b_xo,1⁽²⁾, δ_f,1⁽²⁾[3]; h₁⁽²⁾[3]."""
        if self.gate is not None:
            return self._gate_label(convention, style)
        if self.kind in ("h", "c"):
            return lab.symbol(self.kind, (self.neuron + 1,), self.layer + 2, style) + \
                f"[{self.step}]"
        if self.kind == "w":
            return lab.weight_label(self.layer, self.neuron, self.input, convention, style)
        if self.kind == "u":
            return lab.recurrent_weight_label(self.layer, self.neuron, self.input, style)
        if self.kind == "b":
            return lab.bias_label(self.layer, self.neuron, convention, style, bias_as_weight)
        text = lab.neuron_label(self.kind, self.layer, self.neuron, style)
        return text if self.step is None else f"{text}[{self.step}]"

    def _gate_label(self, convention, style):
        if self.kind == "w":
            return lab.gate_weight_label(self.layer, self.gate, self.neuron, self.input,
                                         convention, style)
        if self.kind == "u":
            return lab.gate_recurrent_label(self.layer, self.gate, self.neuron, self.input, style)
        if self.kind == "b":
            return lab.gate_bias_label(self.layer, self.gate, self.neuron, self.side, convention,
                                       style)
        symbol = _GATE_KIND[style].get(self.kind, self.kind)
        text = lab.gate_symbol(symbol, lab.GATE_LETTERS[self.gate], (self.neuron + 1,),
                               self.layer + 2, style)
        return text if self.step is None else f"{text}[{self.step}]"

    def at(self, step):
        """The same neuron quantity at time step ``step``."""
        return replace(self, step=step)


def _normalise(text):
    """Unicode sub/superscripts to _22 and ^(2); drop spaces, $, \\ and braces."""
    out = []
    mode = None
    for char in text.strip():
        if char in _SUBSCRIPT or (char == "," and mode == "sub"):
            if mode != "sub":
                out.append("_")
                mode = "sub"
            out.append(_SUBSCRIPT.get(char, char))
        elif char in _SUPERSCRIPT:
            if mode != "sup":
                out.append("^")
                mode = "sup"
            out.append(_SUPERSCRIPT[char])
        else:
            mode = None
            out.append(char)
    text = "".join(out)
    for junk in (" ", "$", "\\", "{", "}"):
        text = text.replace(junk, "")
    return text.replace("∂", "d")


# A label is typed by people: bounded, so that no index can ask for a gigantic integer.
MAX_LABEL_CHARS = 100


def parse_label(text, convention="nielsen", net=None):
    """The :class:`Target` a label names (see the module docstring for forms).

    With ``net`` the indices are also checked against the network's shape.
    Raises :class:`LabelError` with a sentence saying what was expected.
    """
    lab.check_convention(convention)
    if not isinstance(text, str) or not text.strip():
        raise LabelError("empty label: expected something like w_22^(2), b_1^(3) or δ_1^(2)")
    if len(text) > MAX_LABEL_CHARS:
        raise LabelError(f"a label of {len(text):,} characters; labels have at most "
                         f"{MAX_LABEL_CHARS} (e.g. w_22^(2), layers[0].neurons[1].weights[1])")
    cleaned = _normalise(text)
    target = _python_form(cleaned, text)
    rows = target is not None
    if target is None:
        target = _numpy_form(cleaned, convention)
    if target is None:
        target = _textbook_form(cleaned, text, convention)
    if net is not None:
        target = resolve_target(target, net, rows)
        check_target(target, net, text, convention)
    return target


def resolve_target(target, net, rows=False):
    """``target`` as it names a quantity of ``net``'s LSTM or GRU layer: a unit's
    a is its h; with ``rows`` (a Python ``neurons[r]`` form) r is torch's row,
    gate r // n of unit r % n.  Any other target is returned as it is."""
    if not 0 <= target.layer < len(net.layers) or target.gate is not None:
        return target
    layer = net.layers[target.layer]
    gates = getattr(layer, "GATES", ())
    if not gates:
        return target
    if target.kind == "a":
        return replace(target, kind="h")
    if rows and target.kind in ("w", "u", "b", "z", "delta") \
            and 0 <= target.neuron < len(layer.neurons):
        n = layer.size
        return replace(target, gate=gates[target.neuron // n], neuron=target.neuron % n)
    return target


def _gate_name(name, original):
    if name not in lab.GATE_LETTERS:
        raise LabelError(f"{original!r}: there is no gate {name!r} (an LSTM's gates are "
                         "input, forget, cell, output; a GRU's reset, update, new)")
    return name


def _python_form(text, original):
    match = _PYTHON_GATE_HISTORY.match(text)
    if match:
        t, layer, unit, gate, attribute = match.groups()
        return Target({"output": "a"}.get(attribute, attribute), int(layer), int(unit), None,
                      int(t) + 1, gate=_gate_name(gate, original))
    match = _PYTHON_GATE.match(text)
    if match:
        layer, gate, unit, weights, k, side = match.groups()
        gate = _gate_name(gate, original)
        if weights:
            return Target("w" if weights == "weights" else "u", int(layer), int(unit), int(k),
                          gate=gate)
        return Target("b", int(layer), int(unit), gate=gate, side=side)
    match = _PYTHON_HISTORY.match(text)
    if match:
        t, layer, neuron, attribute = match.groups()
        kind = {"output": "a", "cell": "c"}.get(attribute, attribute)
        return Target(kind, int(layer), int(neuron), None, int(t) + 1)
    match = _PYTHON_INITIAL.match(text)
    if match:
        layer, name, j = match.groups()
        return Target("c" if name.endswith("cell") else "a", int(layer), int(j), None, 0)
    match = _PYTHON_FORM.match(text)
    if not match:
        return None
    layer, neuron, weights, k, attribute = match.groups()
    if weights:
        return Target("w" if weights == "weights" else "u", int(layer), int(neuron), int(k))
    if attribute in ("bias_ih", "bias_hh"):
        return Target("b", int(layer), int(neuron), side=attribute[-2:])
    kind = {"bias": "b", "output": "a"}.get(attribute, attribute)
    return Target(kind, int(layer), int(neuron))


def _numpy_form(text, convention):
    match = _NUMPY_FORM.match(text)
    if not match:
        return None
    letter, sup, j, k = match.groups()
    if letter == "U":      # u's superscript is its layer's own number in both conventions
        if k is None:
            raise LabelError(f"{text}: a recurrent weight needs two indices, U{sup}[j,i] "
                             "(0-based)")
        return Target("u", int(sup) - 2, int(j), int(k))
    layer = _weight_layer(int(sup), convention)
    if letter == "W":
        if k is None:
            raise LabelError(f"{text}: a weight needs two indices, W{sup}[j,k] (0-based)")
        return Target("w", layer, int(j), int(k))
    if k is not None:
        raise LabelError(f"{text}: a bias has one index, b{sup}[j] (0-based)")
    return Target("b", layer, int(j))


def _weight_layer(superscript, convention):
    """Superscript of a weight or bias -> index into net.layers."""
    return superscript - 2 if convention == "nielsen" else superscript - 1


def _textbook_form(cleaned, original, convention):
    step = _STEP.search(cleaned)
    text = cleaned[:step.start()] if step else cleaned
    target = _textbook_quantity(text, original, convention)
    if step is None:
        return target
    if target.kind not in PER_STEP:
        raise LabelError(f"{original!r}: a weight or bias has no time step (its gradient "
                         "sums over every step): write it without [t]")
    return target.at(int(step.group("step")))


def _textbook_quantity(cleaned, original, convention):
    text = cleaned
    if text.startswith("(") and ")" in text:      # (w_22)^(2)
        inner, _, after = text[1:].partition(")")
        text = inner + after
    text = _DERIVATIVE.sub("", text.lower() if not text.startswith("δ") else text)
    match = _TEXTBOOK.match(text)
    name = match.group("name") if match else ""
    rest = match.group("rest") if match else text
    if name.startswith("delta"):
        name, rest = "delta", name[5:] + rest
    kind = _KIND_NAMES.get(name)
    if kind is None:
        raise LabelError(
            f"cannot read the label {original!r}: expected w_jk^(l), u_ji^(l), b_j^(l), "
            "δ_j^(l), z_j^(l) or a_j^(l), with [t] for a time step (textbook numbering), "
            "W2[j,k] or b2[j] (0-based indices), or "
            f"layers[l].neurons[j].weights[k]; in LSTM and GRU layers {GATE_FORMS} "
            "(docs/explain.md lists every form)")
    gate = side = None
    prefix = _GATE_PREFIX.match(rest)
    if prefix:
        gate, side = _gate_of(prefix, kind, original)
        rest = "_" + rest[prefix.end():]
    sub = _SUB.search(rest)
    sup = _SUP.search(rest)
    leftover = rest
    for found in (sub, sup):
        if found:
            leftover = leftover.replace(found.group(0), "", 1)
    if leftover or sub is None:
        raise LabelError(f"cannot read the label {original!r}: expected a subscript and a "
                         f"superscript such as {name}_{'22' if kind == 'w' else '1'}^(2)")
    if sup is None:
        raise LabelError(f"{original!r}: give the layer as a superscript, for example "
                         f"{name}_{sub.group('sub')}^(2)")
    superscript = int(sup.group("sup"))
    indices = _subscripts(sub.group("sub"), kind, original)
    if kind in ("w", "b"):
        layer = _weight_layer(superscript, convention)
    else:
        layer = superscript - 2          # textbook layer l -> net.layers[l - 2] (u too)
    if indices[0] < 1 or (kind == "u" and indices[1] < 1):
        raise LabelError(f"{original!r}: textbook labels count neurons from 1")
    if gate is not None:
        if kind == "w" and indices[1] == 0:
            raise LabelError(f"{original!r}: a gate has two biases, not one weight w_j0: "
                             f"b_x{lab.GATE_LETTERS[gate]},{indices[0]}^(l) (input side) or "
                             f"b_h{lab.GATE_LETTERS[gate]},{indices[0]}^(l) (recurrent side)")
        return Target(kind, layer, indices[0] - 1,
                      indices[1] - 1 if kind in ("w", "u") else None, gate=gate, side=side)
    if kind == "u":
        return Target("u", layer, indices[0] - 1, indices[1] - 1)
    if kind == "w" and indices[1] == 0:   # w_j0: the bias, the weight on a_0 = 1
        return Target("b", layer, indices[0] - 1)
    if kind == "w":
        return Target("w", layer, indices[0] - 1, indices[1] - 1)
    return Target(kind, layer, indices[0] - 1)


def _gate_of(prefix, kind, original):
    """(gate name, bias side) from a label's "_f," / "_xo," / "_ih,o," prefix."""
    letter = prefix.group("gate")
    if letter not in GATE_NAMES:
        raise LabelError(f"{original!r}: {letter!r} is not a gate: an LSTM's gates are i, f, "
                         "g, o and a GRU's r, z, n (as in w_f,12^(2))")
    side = prefix.group("side") or prefix.group("torch")
    side = {"x": "ih", "h": "hh"}.get(side, side)
    if kind == "b" and side is None:
        raise LabelError(f"{original!r}: a gate has two biases: b_x{letter},j^(l) (input side, "
                         f"torch's b_i{letter}) or b_h{letter},j^(l) (recurrent side, b_h{letter})")
    if kind != "b" and side is not None:
        raise LabelError(f"{original!r}: only a gate's bias has a side (b_x{letter} or "
                         f"b_h{letter}); write {kind}_{letter},...")
    if kind in ("h", "c"):
        raise LabelError(f"{original!r}: h and c belong to the unit, not to a gate: "
                         f"{kind}_j^(l)[t]")
    return GATE_NAMES[letter], side


def _subscripts(sub, kind, original):
    parts = sub.split(",")
    if kind in ("w", "u"):
        pair = "j and k" if kind == "w" else "j and i"
        if len(parts) == 1:
            if len(sub) != 2:
                raise LabelError(f"{original!r}: a weight has two subscripts {pair}, written "
                                 f"together when both are single digits ({kind}_22^(2)) and "
                                 f"with a comma otherwise ({kind}_12,3^(2))")
            parts = [sub[0], sub[1]]
        if len(parts) != 2:
            raise LabelError(f"{original!r}: a weight has two subscripts, {pair}")
    elif len(parts) != 1:
        raise LabelError(f"{original!r}: {kind} has one subscript, the neuron j")
    return [int(p) for p in parts]


def check_target(target, net, text=None, convention="nielsen", steps=None):
    """Raise :class:`LabelError` unless ``target`` exists in ``net``.

    ``steps``: the length T of the sequence the quantity belongs to, when
    known (then a step must be 1..T, or 0 for an initial state).
    """
    shown = repr(text) if text is not None else target.python()
    n_layers = len(net.layers)
    _check_step(target, net, shown, steps)
    if target.kind == "a" and target.layer == -1:
        if not 0 <= target.neuron < net.n_inputs:
            raise LabelError(f"{shown}: the input layer has neurons 1 to {net.n_inputs}")
        return target
    if not 0 <= target.layer < n_layers:
        if target.kind in ("w", "b"):
            first, last = (2, n_layers + 1) if convention == "nielsen" else (1, n_layers)
            raise LabelError(f"{shown}: in the {convention} convention weight and bias "
                             f"superscripts run from {first} to {last} for this network "
                             f"(net.layers[0] to net.layers[{n_layers - 1}])")
        raise LabelError(f"{shown}: layers with neurons are 2 to {n_layers + 1} "
                         "(layer 1 is the input layer)")
    layer = net.layers[target.layer]
    _check_gates(target, net, layer, shown)
    if target.kind == "u" and not layer.is_recurrent:
        raise LabelError(f"{shown}: textbook layer {target.layer + 2} is a {layer.kind} layer; "
                         f"recurrent weights u belong to recurrent layers "
                         f"({_recurrent_layer_names(net)})")
    if target.step == 0 and not layer.is_recurrent:
        raise LabelError(f"{shown}: textbook layer {target.layer + 2} is a {layer.kind} layer; "
                         f"only a recurrent layer has an initial state a[0] "
                         f"({_recurrent_layer_names(net)})")
    if not 0 <= target.neuron < layer.size:
        raise LabelError(f"{shown}: textbook layer {target.layer + 2} has neurons 1 to "
                         f"{layer.size} (Python neurons[0] to neurons[{layer.size - 1}])")
    if target.kind == "w" and not 0 <= target.input < layer.n_inputs:
        raise LabelError(f"{shown}: neurons of textbook layer {target.layer + 2} have inputs "
                         f"k = 1 to {layer.n_inputs} (Python weights[0] to "
                         f"weights[{layer.n_inputs - 1}])")
    if target.kind == "u" and not 0 <= target.input < layer.size:
        raise LabelError(f"{shown}: recurrent weights of textbook layer {target.layer + 2} "
                         f"come from neurons i = 1 to {layer.size} of the same layer")
    return target


def _check_gates(target, net, layer, shown):
    """A gate, h or c only in an LSTM or GRU layer, and there every gate quantity
    names its gate."""
    gates = getattr(layer, "GATES", ())
    number = target.layer + 2
    if not gates:
        if target.gate is not None or target.kind in ("h", "c") or target.side is not None:
            what = "h and c" if target.kind in ("h", "c") else "gate labels"
            raise LabelError(f"{shown}: textbook layer {number} is a {layer.kind} layer; "
                             f"{what} belong to LSTM and GRU layers ({_gated_layer_names(net)})")
        return
    kind = "an LSTM" if layer.kind == "lstm" else "a GRU"
    letters = ", ".join(lab.GATE_LETTERS[g] for g in gates)
    if target.gate is not None and target.gate not in gates:
        raise LabelError(f"{shown}: textbook layer {number} is {kind} layer, whose gates are "
                         f"{letters} ({', '.join(gates)})")
    if target.kind == "c" and "cell" not in gates:
        raise LabelError(f"{shown}: textbook layer {number} is {kind} layer: its units have "
                         "no cell state c, only h")
    if target.gate is None and target.kind in ("w", "u", "b", "z", "delta"):
        raise LabelError(f"{shown}: textbook layer {number} is {kind} layer: name the gate "
                         f"q ({letters}), as in {GATE_FORMS}")
    if target.kind == "b" and target.side is None:
        raise LabelError(f"{shown}: a gate neuron has two biases, bias_ih (b_xq) and bias_hh "
                         "(b_hq)")


def _gated_layer_names(net):
    numbers = [str(index + 2) for index, layer in enumerate(net.layers)
               if getattr(layer, "GATES", ())]
    if not numbers:
        return "this network has none"
    return f"layer{'s' if len(numbers) > 1 else ''} {', '.join(numbers)} here"


def _recurrent_layer_names(net):
    numbers = [str(index + 2) for index, layer in enumerate(net.layers) if layer.is_recurrent]
    if not numbers:
        return "this network has none"
    return f"layer{'s' if len(numbers) > 1 else ''} {', '.join(numbers)} here"


def _check_step(target, net, shown, steps):
    """A time step where the network has time steps, and only there."""
    per_step = target.kind in PER_STEP
    if not net.is_sequential:
        if target.step is not None:
            raise LabelError(f"{shown}: this network is feed-forward and has no time steps: "
                             f"write the label without [t]")
        return
    if per_step and target.step is None:
        raise LabelError(f"{shown}: this network reads sequences: give the time step, for "
                         f"example {target.at(1).label()} for t = 1")
    if target.step == 0 and (target.kind not in ("a", "h", "c") or target.gate is not None):
        raise LabelError(f"{shown}: step 0 holds only the initial state a[0]; z and δ start "
                         "at t = 1 (in an LSTM or GRU layer: h[0] and c[0]; its gates start at "
                         "t = 1 too)")
    if target.step == 0 and target.layer == -1:
        raise LabelError(f"{shown}: the inputs x[t] start at t = 1")
    if steps is not None and target.step is not None and target.step > steps:
        raise LabelError(f"{shown}: the sequence has time steps t = 1 to {steps}")
