"""The cells of a worksheet: one number of a step each, and reading a cell's label.

Cells are named by their ASCII labels (``z_1^(2)``, ``delta_1^(4)``,
``dE/dw_12^(3)``, ``new b_1^(2)``; in a network that reads sequences also
``z_1^(2)[3]``, ``E[3]``, ``dE/du_12^(2)``, ``new a_1^(2)[0]``; in an LSTM or
GRU layer ``z_f,1^(2)[3]``, ``c_1^(2)[3]``, ``h_1^(2)[3]``, ``dE/dh_1^(2)[3]``,
``dE/dc_1^(2)[3]``, ``delta_f,1^(2)[3]``, ``dE/db_xo,1^(2)``, ``new h_1^(2)[0]``),
in the chosen weight convention.
"""

import re
from dataclasses import dataclass, replace

from ..core import labels as lab
from .label_parse import LabelError, Target, parse_label

QUANTITIES = ("z", "a", "E", "delta", "dE/dw", "dE/du", "dE/db", "dE/da[0]",
              "new w", "new u", "new b", "new a[0]",
              # LSTM and GRU units (neuronsim.hand.worksheet_gates)
              "c", "h", "dE/dh", "dE/dc", "dE/dh[0]", "dE/dc[0]", "new h[0]", "new c[0]")
#: per-step derivatives of a gated unit: backward cells, not parameter gradients
_BACKWARD = ("delta", "dE/dh", "dE/dc")

# The update cells of a step by an optimizer, a penalty or clipping (``worksheet
# --update``): the global norm N (clipping by norm; no target) and, per weight
# or bias, the g the optimizer is given, then the optimizer's quantities (names
# of neuronsim.hand.update_step), labelled "m w_12^(3)", "vhat b_1^(2)", "N";
# with recurrent layers also of u, a learned a[0] ("m a_1^(2)[0]") and an LSTM
# or GRU gate's parameters ("v b_xf,1^(2)", "buf h_1^(2)[0]").
UPDATE_QUANTITIES = ("N", "g", "m", "v", "vmax", "mhat", "vhat", "buf", "gbar", "G")
# Their symbols in text and LaTeX labels.
UPDATE_SYMBOLS = {"N": ("N", "N"), "g": ("g", "g"), "m": ("m", "m"), "v": ("v", "v"),
                  "vmax": ("vₘₐₓ", r"v_{\max}"), "mhat": ("m̂", r"\hat{m}"),
                  "vhat": ("v̂", r"\hat{v}"), "buf": ("buf", r"\text{buf}"),
                  "gbar": ("ḡ", r"\bar{g}"), "G": ("G", "G")}


@dataclass(frozen=True)
class Cell:
    """One number of the step: ``quantity`` (one of QUANTITIES) and, except
    for E, the 0-based :class:`~neuronsim.hand.label_parse.Target` it belongs to.

    In a network that reads sequences z, a and δ carry their time step in the
    target (``Target("delta", 0, 1, step=3)``, δ_2^(2)[3]), the loss of one
    step is ``Cell("E", step=t)`` (E[t]), and the gradients and updates of
    recurrent weights and learned initial states are "dE/du", "new u"
    (target kind "u") and "dE/da[0]", "new a[0]" (target ``Target("a", l, j,
    step=0)``).  An LSTM or GRU layer's gate cells carry the gate in the
    target (``Target("z", 0, 0, step=2, gate="forget")``); a unit's c, h,
    dE/dh and dE/dc at a step are quantities "c", "h", "dE/dh", "dE/dc"
    (target kind "h" or "c"), and its learned initial states "dE/dh[0]",
    "dE/dc[0]", "new h[0]", "new c[0]".
    """

    quantity: str
    target: Target = None
    step: int = None

    @property
    def section(self):
        if self.quantity in _BACKWARD:
            return "backward"
        if self.quantity.startswith("dE/"):
            return "gradients"
        return {"z": "forward", "a": "forward", "c": "forward", "h": "forward",
                "E": "loss"}.get(self.quantity, "update")

    def label(self, convention="nielsen", style="ascii", bias_as_weight=False):
        """``z_1^(2)``, ``dE/dw_12^(3)``, ``new b_1^(2)``, ``m w_12^(3)`` (in
        ``style``); ``new w_10^(2)`` for a bias with ``bias_as_weight``."""
        if self.quantity == "E":
            return "E" if self.step is None else f"E[{self.step}]"
        if self.quantity == "N":
            return "N"
        t = self.target
        if bias_as_weight and t.kind == "b" and t.gate is None:   # a gate has two biases
            text = lab.bias_label(t.layer, t.neuron, convention, style, as_weight=True)
        else:
            text = t.label(convention, style)
        if self.quantity.startswith("dE/"):
            if style == "latex":
                return rf"\partial E/\partial {text}"
            return f"dE/d{text}" if style == "ascii" else f"∂E/∂{text}"
        if self.quantity.startswith("new "):
            return rf"\text{{new }} {text}" if style == "latex" else f"new {text}"
        if self.quantity in UPDATE_SYMBOLS:
            if style == "ascii":
                return f"{self.quantity} {text}"
            symbol = UPDATE_SYMBOLS[self.quantity][style == "latex"]
            return rf"{symbol}\,{text}" if style == "latex" else f"{symbol} {text}"
        return text

    def python(self):
        """Where the simulator keeps this number (0-based Python indices)."""
        if self.quantity == "E":
            return "net.back_prop(t) (its return value)"
        t = self.target
        base = f"net.layers[{t.layer}].neurons[{t.neuron}]"
        return {"z": f"{base}.z", "a": f"{base}.output", "delta": f"{base}.delta",
                "dE/dw": f"{base}.weight_grads[{t.input}]", "dE/db": f"{base}.bias_grad",
                "new w": f"{base}.weights[{t.input}] after the update",
                "new b": f"{base}.bias after the update"}[self.quantity]


_BIAS_AS_WEIGHT = re.compile(r"w_(\d),?0(?=\^)|w_(\d+),0(?=\^)")


def parse_cell(text, convention="nielsen"):
    """A worksheet cell from its label: "z_1^(2)", "δ₁⁽⁴⁾", "dE/dw_12^(3)", "new b_1^(2)".

    A bias written as the weight on a_0 = 1 (``w_10^(2)``, ``new w_1,0^(2)``)
    is read as the bias b_1^(2): textbook weights otherwise count k from 1.
    """
    text = _BIAS_AS_WEIGHT.sub(lambda m: f"b_{m.group(1) or m.group(2)}", text.strip())
    if text == "E":
        return Cell("E")
    if text == "N":
        return Cell("N")
    first, _, rest = text.partition(" ")
    first = _UPDATE_NAMES.get(first, first)
    if first in UPDATE_QUANTITIES and rest.strip():
        target = parse_label(rest.strip(), convention)
        parameter = (target.kind in ("w", "u", "b") and target.step is None
                     or target.kind in ("a", "h", "c") and target.step == 0)
        if not parameter:
            raise LabelError(f"{text!r}: the update cell {first} belongs to a weight or a "
                             "bias (for example m w_12^(3), vhat b_1^(2); also m u_11^(2), "
                             "m a_1^(2)[0] with recurrent layers)")
        return Cell(first, target)
    loss_at = _LOSS_AT_STEP.match(text)
    if loss_at:
        return Cell("E", None, int(loss_at.group(1) or loss_at.group(2)))
    quantity = None
    lowered = text.lower()
    if lowered.startswith("new "):
        target = parse_label(text[4:], convention)
        quantity = _NEW.get((target.kind, target.step == 0))
    elif lowered.startswith(("de/d", "∂e/∂", "dc/d")):
        target = parse_label(text, convention)
        quantity = _GRADIENT.get((target.kind, target.step == 0))
        if target.kind == "z":
            target = replace(target, kind="delta")
    else:
        target = parse_label(text, convention)
        quantity = target.kind if target.kind in ("z", "a", "delta", "c", "h") else None
    if quantity is None:
        raise LabelError(f"{text!r} is not a worksheet cell (cells are z, a, E, δ, dE/dw, "
                         "dE/db, new w and new b; with recurrent layers also E[t], dE/du, "
                         "new u, dE/da[0] and new a[0]; with LSTM and GRU layers c, h, dE/dh, "
                         "dE/dc, dE/dh[0], dE/dc[0], new h[0], new c[0] and the gates' z, a, δ, "
                         "dE/dw, dE/du, dE/db_x and dE/db_h; update cells N, g w_12^(3), "
                         "m w_12^(3), v, vmax, mhat, vhat, buf, gbar, G)")
    return Cell(quantity, target)


# An update cell's name as written in text labels ("m̂ w₁₂⁽³⁾") → its quantity.
_UPDATE_NAMES = {text: q for q, (text, _) in UPDATE_SYMBOLS.items()}
_LOSS_AT_STEP = re.compile(r"^E(?:\[(\d+)\]|_(\d+))$")
_NEW = {("w", False): "new w", ("u", False): "new u", ("b", False): "new b",
        ("a", True): "new a[0]", ("h", True): "new h[0]", ("c", True): "new c[0]"}
_GRADIENT = {("w", False): "dE/dw", ("u", False): "dE/du", ("b", False): "dE/db",
             ("z", False): "delta", ("a", True): "dE/da[0]",
             ("h", False): "dE/dh", ("c", False): "dE/dc", ("h", True): "dE/dh[0]",
             ("c", True): "dE/dc[0]"}
