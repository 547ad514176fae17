"""One parameter's update step, written out with its numbers: ``explain --update``.

After one forward and one backward pass on a sample (as :func:`neuronsim.hand.
explain.explain`), a weight or bias θ moves by the network's update rule.  This
module writes that move step by step, in torch.optim's order of operations:

1. the gradient g: dE/dθ of the sample (a_k·δ_j for a weight, δ_j for a bias;
   the batch is this one sample; for a network that reads sequences, dE/dθ of
   the sequence, summed over its time steps, for every w, u, b and learned
   a[0], whose derivation ``explain`` without --update writes), plus the penalty's share dR/dθ = λ₁·sign(θ) +
   λ₂·θ (weights only), then clipped by value or by the global norm N;
2. the optimizer's lines (:mod:`neuronsim.hand.update_step` computes each
   quantity again from the state before the step): for Adam t, m, v, m̂, v̂,
   the bias corrections, the step size, the denominator, the change Δ and
   the new θ; for SGD the momentum buffer (Nesterov's g); for RMSprop v, ḡ,
   s, the buffer; for Adagrad G and its rate; AdamW's decay θ·(1 − ηλ) first;
3. the simulator's own update on the same copy (``net.update_weights``), and
   whether each number above equals the simulator's: the new θ, the state the
   parameter keeps (t, m, v, ...) and the g it applied, bit for bit.

The network itself is not changed: everything runs on a copy with the same
optimizer, penalty, clipping, schedule and optimizer state.

    >>> from neuronsim import Network
    >>> net = Network.from_arrays([[[2.0]]], [[0.0]], activations="linear",
    ...                           loss="half_sse", learning_rate=0.1).set_optimizer("adam")
    >>> e = explain_update(net, "w_11^(2)", [1.0], [1.5])
    >>> e.chain["m"], e.simulator_new, e.mismatches
    (0.04999999999999999, 1.900000002, [])
"""

from dataclasses import dataclass, field

from ..core.errors import NeuronsimError
from ..render.numfmt import format_number
from .common import (
    Writer,
    convention_note,
    display,
    first_sample,
    heading,
    inline,
    numbers_name,
)
from .label_parse import parse_label
from .update_step import (
    STATE_QUANTITIES,
    count_updated,
    entry_of,
    gradient_chain,
    parameter_state,
    update_chain,
    update_rate,
)


@dataclass
class UpdateExplanation:
    """Everything :func:`render_update_explanation` writes, as data.

    ``grad``: the sample's dE/dθ; ``gradient``: how g is made from it
    (:func:`~neuronsim.hand.update_step.gradient_chain`); ``before``: the
    parameter's optimizer state before the step (``fresh``: none yet);
    ``chain``: every quantity of the step
    (:func:`~neuronsim.hand.update_step.update_chain`); ``simulator_*``: what
    the core's update left on the copy; ``mismatches``: (quantity, ours,
    simulator's) for every number that differs (empty: all equal, bit for bit).
    """

    target: object
    label_text: str
    convention: str
    numbers_name: str
    x: list
    t: list
    loss_name: str
    loss_value: object
    optimizer: object            # torch's name, or None for θ − η·g
    options: dict
    penalty: object
    clip: object
    learning_rate: object
    schedule: object
    theta: object
    grad: object
    grad_factors: tuple          # (a_k, δ_j) of a weight, (δ_j,) of a bias
    fixed: bool
    gradient: dict = field(default_factory=dict)
    before: dict = field(default_factory=dict)
    fresh: bool = True
    chain: dict = field(default_factory=dict)
    n_updated: int = 0
    simulator_new: object = None
    simulator_state: dict = None
    simulator_g: object = None
    simulator_norm: object = None
    state_where: str = ""
    mismatches: list = field(default_factory=list)
    numbers: object = None       # the network's number system
    sequential: bool = False     # the sample is a sequence (x[1], x[2], ...)
    where: str = ""              # the parameter in the Python API


def explain_update(net, label, x=None, t=None, learning_rate=None, convention="nielsen"):
    """One parameter's update on one sample, step by step (see the module
    docstring).  ``label``: a weight or bias (``"w_22^(2)"``, ``"b_1^(3)"``,
    ``"W2[1,1]"``, ...) read in ``convention``; ``x``, ``t``: the sample (default
    the network's first); ``learning_rate``: η (default the network's, or its
    schedule's rate now).  Returns an :class:`UpdateExplanation`.
    """
    target = parse_label(label, convention, net)
    learned = target.kind == "a" and target.step == 0
    if target.kind not in ("w", "b", "u") and not learned:
        raise NeuronsimError(f"{label!r}: explain --update takes a weight or a bias "
                             "(for example w_22^(2), b_1^(3); with recurrent layers also "
                             "u_12^(2) or a learned initial state a_1^(2)[0])")
    if learned and not net.layers[target.layer].learn_initial_state:
        raise NeuronsimError(f"{label!r}: this initial state is fixed (the layer's "
                             "learn_initial_state is false): no update changes it")
    x, t = first_sample(net, x, t, net.name or "the network")
    work = net.copy(batch=False)
    rate = work.learning_rate if learning_rate is None else learning_rate
    if rate is None:
        raise NeuronsimError("no learning rate: give --learning-rate (the network file has "
                             "none)")
    used_rate = update_rate(work, rate)
    work.forward_pass(x)
    loss_value = work.back_prop(t)
    layer = work.layers[target.layer]
    if learned:
        owner, name, k = layer, "initial_state", target.neuron
    else:
        owner = layer.neurons[target.neuron]
        name, k = {"w": ("weights", target.input), "u": ("recurrent_weights", target.input),
                   "b": ("bias", None)}[target.kind]
    theta = getattr(owner, name) if k is None else getattr(owner, name)[k]
    total, _ = entry_of(work, owner, name)
    if work.is_sequential:
        factors = ()          # dE/dθ sums over the time steps: `explain` derives it
    elif k is not None:
        inputs = work.inputs if target.layer == 0 else work.layers[target.layer - 1].outputs
        factors = (inputs[k], owner.delta)
    else:
        factors = (owner.delta,)
    optimizer = work.optimizer
    e = UpdateExplanation(
        target=target, label_text=label, convention=convention,
        numbers_name=numbers_name(work.numbers), x=x, t=t,
        loss_name=work.loss.name, loss_value=loss_value,
        optimizer=None if optimizer is None else optimizer.name,
        options={} if optimizer is None else dict(optimizer._numeric),
        penalty=work.penalty, clip=work.clip, learning_rate=used_rate,
        schedule=None if work.schedule is None else work.schedule.name,
        theta=theta, grad=total if k is None else total[k],
        grad_factors=factors, fixed=name == "bias" and not work.update_biases,
        numbers=work.numbers, sequential=work.is_sequential)
    where = (f"net.layers[{target.layer}]" if learned
             else f"net.layers[{target.layer}].neurons[{target.neuron}]")
    e.where = f"{where}.{name}" + (f"[{k}]" if k is not None else "")
    e.state_where = f"{where}.optimizer_state[{name!r}]" + (f"[{k}]" if k is not None else "")
    if not e.fixed:
        e.gradient = gradient_chain(work, owner, name, k)
        e.fresh = not (owner.optimizer_state or {}).get(name)
        e.before = parameter_state(owner, name, k, optimizer)
        e.chain = update_chain(optimizer, theta, e.gradient["g"], e.before, used_rate)
        e.n_updated = count_updated(work)
    work.update_weights(rate)
    e.simulator_new = getattr(owner, name) if k is None else getattr(owner, name)[k]
    if not e.fixed:
        if owner.batch_grad is not None:      # plain gradient descent keeps no g
            applied = owner.batch_grad[name]
            e.simulator_g = applied[k] if k is not None else applied
        if work.clip is not None:
            e.simulator_norm = work.clip.last_norm
        if optimizer is not None:
            state = owner.optimizer_state[name]
            e.simulator_state = dict(state[k] if k is not None else state)
        e.mismatches = _mismatches(e)
    elif e.simulator_new != theta:
        e.mismatches = [("new", theta, e.simulator_new)]
    return e


def _same(a, b):
    """Equal and of the same type: bit for bit for floats."""
    return type(a) is type(b) and a == b


def _mismatches(e):
    found = []
    if not _same(e.chain["new"], e.simulator_new):
        found.append(("new", e.chain["new"], e.simulator_new))
    if e.simulator_g is not None and not _same(e.gradient["g"], e.simulator_g):
        found.append(("g", e.gradient["g"], e.simulator_g))
    if "norm" in e.gradient and not _same(e.gradient["norm"], e.simulator_norm):
        found.append(("N", e.gradient["norm"], e.simulator_norm))
    for key, value in (e.simulator_state or {}).items():
        quantity = STATE_QUANTITIES[key]
        ours = e.chain.get(quantity)
        if not _same(ours, value):
            found.append((key, ours, value))
    return found


# ---------------------------------------------------------------- rendering
# Symbols: (plain text, LaTeX).
_SYMBOLS = {
    "m": ("m", "m"), "v": ("v", "v"), "mhat": ("m̂", r"\hat{m}"), "vhat": ("v̂", r"\hat{v}"),
    "vmax": ("vₘₐₓ", r"v_{\max}"), "t": ("t", "t"), "beta1": ("β₁", r"\beta_1"),
    "beta2": ("β₂", r"\beta_2"), "eps": ("ε", r"\varepsilon"), "eta": ("η", r"\eta"),
    "lam": ("λ", r"\lambda"), "mu": ("μ", r"\mu"), "tau": ("τ", r"\tau"),
    "alpha": ("α", r"\alpha"), "G": ("G", "G"), "b": ("b", "b"), "gbar": ("ḡ", r"\bar{g}"),
    "s": ("s", "s"), "etat": ("ηₜ", r"\eta_t"), "g": ("g", "g"), "Delta": ("Δ", r"\Delta"),
    "lam1": ("λ₁", r"\lambda_1"), "lam2": ("λ₂", r"\lambda_2"), "N": ("N", "N"),
    "c": ("c", "c"),
}
# Prose in LaTeX: the symbols hand.common.Writer.text leaves, as math.
_LATEX_PROSE = {"λ₁": r"$\lambda_1$", "λ₂": r"$\lambda_2$", "λ": r"$\lambda$",
                "β₁": r"$\beta_1$", "β₂": r"$\beta_2$", "ε": r"$\varepsilon$",
                "η": r"$\eta$", "θ": r"$\theta$", "m̂": r"$\hat{m}$", "v̂": r"$\hat{v}$",
                "vₘₐₓ": r"$v_{\max}$", "ḡ": r"$\bar{g}$", "ᵗ": r"$^t$", "√": r"$\sqrt{}$",
                "←": r"$\leftarrow$", "≥": r"$\geq$", "⁻⁶": r"$^{-6}$"}
# torch's state names and their symbols in the lines.
_STATE_SYMBOLS = {"step": "t", "exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "vₘₐₓ",
                  "momentum_buffer": "b", "square_avg": "v", "grad_avg": "ḡ", "sum": "G"}
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


class _Pen:
    """Symbols, numbers and lines of one format."""

    def __init__(self, w):
        self.w = w
        self.latex = w.style == "latex"
        self.times = w.times if self.latex else "·"
        self.minus = w.minus
        self.gets = r"\leftarrow" if self.latex else "←"
        self.rows = []

    def s(self, name):
        return _SYMBOLS[name][1 if self.latex else 0]

    def n(self, x):
        return self.w.fac(x)

    def power(self, base, exponent):
        if self.latex:
            return f"{base}^{{{exponent}}}"
        return base + ("ᵗ" if exponent == "t" else str(exponent).translate(_SUPERSCRIPT))

    def sqrt(self, x):
        if self.latex:
            return rf"\sqrt{{{x}}}"
        return f"√({x})" if any(c in x for c in " +−/·") else f"√{x}"

    def square(self, x):
        return f"{x}^2" if self.latex else f"{x}²"

    def line(self, lhs, symbolic, numeric, value, assign=True, note=""):
        """lhs ← symbolic = numeric = value (``=`` for a quantity shown, not kept)."""
        op = self.gets if assign else "="
        parts = [symbolic] if symbolic else []
        if numeric:
            parts.append(numeric)
        parts.append(self.w.num(value))
        if note and self.latex:
            note = rf"\quad\text{{({_prose(self.w, note)})}}"
        elif note:
            note = f"   ({note})"
        if self.latex:
            if len(parts) > 1:
                self.rows.append(f"{lhs} &{op} {parts[0]}")
                self.rows.append("&= " + " = ".join(parts[1:]) + note)
            else:
                self.rows.append(f"{lhs} &{op} {parts[0]}{note}")
        else:
            self.rows.append(f"{lhs} {op} " + " = ".join(parts) + note)


def render_update_explanation(e, format="plain", digits=9, bias_as_weight=False):
    """An :class:`UpdateExplanation` as text (plain, markdown or latex)."""
    w = Writer(format, digits, e.convention, bias_as_weight)
    target = e.target
    theta = (target.label(e.convention, w.style) if target.kind == "a"
             else w.label(target.kind, target.layer, target.neuron, target.input))
    rule = e.optimizer or "θ ← θ − η·g"
    title = f"Explain the update of {theta} ({rule})" if w.style != "latex" else \
        f"Explain the update of ${theta}$ ({e.optimizer or 'gradient descent'})"
    parts = [heading(w, title), _prose(w, convention_note(e.convention, bias_as_weight))]
    parts.append(_prose(w, f"Label {e.label_text!r} read as ") + inline(w, theta)
                 + _prose(w, f" = {e.where}."))
    x, t = _sample_text(w, e.x), _sample_text(w, e.t)
    parts.append(_prose(
        w, f"Sample x = {x}, t = {t}; loss {e.loss_name}, E = {_pnum(w, e.loss_value)}; "
        f"numbers {e.numbers_name}.  One forward pass, one backward pass and one update on "
        "a copy of the network (the network itself is not changed)."))
    parts.append(_prose(w, _rule_sentence(w, e)))
    if e.fixed:
        parts.append(_prose(w, "The biases are fixed (update_biases is false): the update "
                               "leaves ")
                     + inline(w, theta) + _prose(w, f" at {_pnum(w, e.theta)}."))
        return "\n\n".join(parts) + "\n"
    parts.append(_prose(w, _state_sentence(w, e)))
    pen = _Pen(w)
    _gradient_lines(pen, e, theta)
    one = "sequence" if e.sequential else "sample"
    parts.append(_prose(w, f"1. The gradient g this update applies (the batch is this one "
                           f"{one}):"))
    parts.append(display(w, pen.rows))
    pen.rows = []
    _optimizer_lines(pen, e, theta)
    how = ("torch.optim's formula in torch's order of operations; the state before the step "
           "is the one above" if e.optimizer else "plain gradient descent")
    parts.append(_prose(w, f"2. The step ({how}):"))
    parts.append(display(w, pen.rows))
    if e.optimizer in ("adam", "adamw"):
        parts.append(_prose(w, _textbook_note(w, e)))
    parts.append(_prose(w, _agreement(w, e, theta)))
    return "\n\n".join(parts) + "\n"


def _sample_text(w, values):
    """(1, 0.5) for a vector; ((1, 0), (0, 1)) for a sequence; none for a step
    without a target."""
    if values is None:
        return "none"
    if isinstance(values, (list, tuple)):
        return "(" + ", ".join(_sample_text(w, v) for v in values) + ")"
    return _pnum(w, values)


def _pnum(w, x):
    """A number in prose (plain digits; LaTeX prose maps its minus sign)."""
    return format_number(x, w.digits)


def _prose(w, text):
    """Prose in ``w``'s format: in LaTeX, _ ^ and the symbols as math."""
    text = w.text(text)
    if w.style == "latex":
        for symbol, latex in _LATEX_PROSE.items():
            text = text.replace(symbol, latex)
    return text


def _option_text(w, value):
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, tuple):
        return ", ".join(_pnum(w, x) for x in value)
    return _pnum(w, value)


def _rule_sentence(w, e):
    parts = []
    if e.optimizer is not None:
        options = ", ".join(f"{key} {_option_text(w, value)}" for key, value in e.options.items())
        parts.append(f"Optimizer {e.optimizer} ({options})")
    else:
        parts.append("No optimizer: θ ← θ − η·g")
    rate = f"learning rate η = {_pnum(w, e.learning_rate)}"
    if e.schedule is not None:
        rate += f" (the {e.schedule} schedule's rate now)"
    parts.append(rate)
    if e.penalty is not None:
        parts.append(f"penalty λ₁ = {e.penalty.l1}, λ₂ = {e.penalty.l2} "
                     "(R = λ₁·Σ|w| + (λ₂/2)·Σw², weights only)")
    if e.clip is not None:
        parts.append(f"clipping by global norm, max_norm {e.clip.max_norm}"
                     if e.clip.max_norm is not None else f"clipping by value {e.clip.value}")
    return "; ".join(parts) + "."


def _state_sentence(w, e):
    if e.optimizer is None:
        return "Plain gradient descent keeps no state."
    names = ", ".join(f"{key} ({_STATE_SYMBOLS[key]}) = "
                      f"{_pnum(w, value) if value is not None else 'none'}"
                      for key, value in e.before.items())
    if e.fresh:
        return (f"State before the step: none yet (this parameter's first update), so torch "
                f"starts from {names}.")
    return f"State before the step ({e.state_where}, torch's names): {names}."


def _gradient_lines(pen, e, theta):
    w, S, t = pen.w, pen.s, pen.times
    target = e.target
    layer, j = target.layer, target.neuron
    d = w.label("delta", layer, j)
    grad = w.partial("E", theta)
    if e.sequential:
        pen.line(grad, "", "", e.grad, assign=False,
                 note=f"summed over the time steps; 'neuronsim explain FILE {e.label_text}' "
                      "derives it")
    elif target.kind == "w":
        a = w.label("a", layer - 1, target.input)
        pen.line(grad, f"{a}{t}{d}", f"{pen.n(e.grad_factors[0])}{t}{pen.n(e.grad_factors[1])}",
                 e.grad, assign=False)
    else:
        pen.line(grad, d, "", e.grad, assign=False)
    gc = e.gradient
    pen.line(S("g"), grad, "", gc["mean"], assign=False)
    if "share" in gc:
        l1, l2 = e.penalty._l1, e.penalty._l2
        sign = "sgn" if not pen.latex else r"\operatorname{sgn}"
        sign_value = (e.theta > 0) - (e.theta < 0)
        pen.line(w.partial("R", theta), f"{S('lam1')}{t}{sign}({theta}) + {S('lam2')}{t}{theta}",
                 f"{pen.n(l1)}{t}{pen.n(sign_value)} + {pen.n(l2)}{t}{pen.n(e.theta)}", gc["share"],
                 assign=False)
        pen.line(S("g"), f"{S('g')} + {w.partial('R', theta)}",
                 f"{pen.n(gc['mean'])} + {pen.n(gc['share'])}", gc["penalized"])
    before_clip = gc.get("penalized", gc["mean"])
    if "norm" in gc:
        pen.line(S("N"), pen.sqrt("Σ " + pen.square("g")) if not pen.latex
                 else r"\sqrt{\textstyle\sum g^2}", "", gc["norm"], assign=False,
                 note=f"over the {e.n_updated} numbers the update changes, each g with its "
                      "penalty share")
        pen.line(S("c"), f"max_norm/({S('N')} + 10⁻⁶)" if not pen.latex
                 else r"\text{max\_norm}/(N + 10^{-6})",
                 f"{pen.n(e.clip.max_norm)}/({pen.n(gc['norm'])} + 1e-06)" if not pen.latex
                 else f"{pen.n(e.clip.max_norm)}/({pen.n(gc['norm'])} + 10^{{-6}})",
                 gc["coef"], assign=False)
        if gc["coef"] < 1:
            pen.line(S("g"), f"{S('c')}{t}{S('g')}", f"{pen.n(gc['coef'])}{t}{pen.n(before_clip)}",
                     gc["g"], note="c < 1: clipped")
        else:
            pen.line(S("g"), S("g"), "", gc["g"], note="c ≥ 1: not clipped")
    elif e.clip is not None:
        v = e.clip.value
        fmin, fmax = (r"\min", r"\max") if pen.latex else ("min", "max")
        pen.line(S("g"), f"{fmin}({fmax}({S('g')}, −{v}), {v})".replace("−", "-" if pen.latex
                                                                           else "−"),
                 f"{fmin}({fmax}({pen.n(before_clip)}, {'-' if pen.latex else '−'}{v}), {v})",
                 gc["g"])


def _lerp(pen, new, old, weight, g_num, old_num):
    """torch's lerp(old, g, weight) in the branch it takes; returns (symbolic, numeric)."""
    t, m = pen.times, pen.minus
    w_sym, w_num = weight
    if abs(w_num) < 0.5:
        return (f"{old} + {w_sym}{t}({pen.s('g')}{m}{old})",
                f"{pen.n(old_num)} + {pen.n(w_num)}{t}({pen.n(g_num)}{m}{pen.n(old_num)})")
    return (f"{pen.s('g')}{m}({pen.s('g')}{m}{old}){t}(1{m}{w_sym})",
            f"{pen.n(g_num)}{m}({pen.n(g_num)}{m}{pen.n(old_num)}){t}(1{m}{pen.n(w_num)})")


def _optimizer_lines(pen, e, theta):
    """The lines of every quantity of the step, in the order the chain computed them."""
    S, t, m, n = pen.s, pen.times, pen.minus, pen.n
    c, o, before = e.chain, e.options, e.before
    lr, name = e.learning_rate, e.optimizer
    g = e.gradient["g"]          # the g the step uses so far (after decay, Nesterov, ...)
    th = e.theta                 # θ so far (after AdamW's decay)
    gs, eta = S("g"), S("eta")
    v_key = "exp_avg_sq" if name in ("adam", "adamw") else "square_avg"
    v_used, v_name = None, S("v")
    if name is None:
        pen.line(theta, f"{theta}{m}{eta}{t}{gs}", f"{n(th)}{m}{n(lr)}{t}{n(g)}", c["new"])
        return
    for key, value in c.items():
        if key == "t":
            pen.line(S("t"), f"{S('t')} + 1", f"{before['step']} + 1", value)
        elif key == "gd":
            pen.line(gs, f"{gs} + {S('lam')}{t}{theta}", f"{n(g)} + {n(o['weight_decay'])}{t}"
                     f"{n(th)}", value, note="weight decay, coupled")
            g = value
        elif key == "theta_d":
            pen.line(theta, f"{theta}{t}(1{m}{eta}{t}{S('lam')})",
                     f"{n(th)}{t}(1{m}{n(lr)}{t}{n(o['weight_decay'])})", value,
                     note="decoupled weight decay, first")
            th = value
        elif key == "buf" and name == "sgd":
            old = before.get("momentum_buffer")
            if old is None:
                pen.line(S("b"), gs, "", value, note="the first step: torch's buffer starts "
                                                     "as g")
            else:
                pen.line(S("b"), f"{S('mu')}{t}{S('b')} + (1{m}{S('tau')}){t}{gs}",
                         f"{n(o['momentum'])}{t}{n(old)} + {n(1 - o['dampening'])}{t}{n(g)}",
                         value)
            if not o["nesterov"]:
                g = value
        elif key == "gn":
            pen.line(gs, f"{gs} + {S('mu')}{t}{S('b')}", f"{n(g)} + {n(o['momentum'])}{t}"
                     f"{n(c['buf'])}", value, note="Nesterov")
            g = value
        elif key == "m":
            textbook = f"{S('beta1')}{t}{S('m')} + (1{m}{S('beta1')}){t}{gs}"
            sym, num = _lerp(pen, S("m"), S("m"), (f"(1{m}{S('beta1')})", 1 - o["betas"][0]),
                             g, before["exp_avg"])
            pen.line(S("m"), f"{textbook} = {sym}", num, value, note="torch's lerp")
        elif key == "v":
            beta, beta_name = ((o["betas"][1], S("beta2")) if name in ("adam", "adamw")
                               else (o["alpha"], S("alpha")))
            pen.line(S("v"), f"{beta_name}{t}{S('v')} + (1{m}{beta_name}){t}{pen.square(gs)}",
                     f"{n(beta)}{t}{n(before[v_key])} + {n(1 - beta)}{t}{n(g)}{t}{n(g)}", value)
            v_used = value
        elif key == "vmax":
            fmax = r"\max" if pen.latex else "max"
            pen.line(S("vmax"), f"{fmax}({S('vmax')}, {S('v')})",
                     f"{fmax}({n(before['max_exp_avg_sq'])}, {n(c['v'])})", value,
                     note="amsgrad: used for v below")
            v_used, v_name = value, S("vmax")
        elif key == "gbar":
            sym, num = _lerp(pen, S("gbar"), S("gbar"), (f"(1{m}{S('alpha')})", 1 - o["alpha"]),
                             g, before["grad_avg"])
            pen.line(S("gbar"), sym, num, value, note="centered")
        elif key == "s":
            if "gbar" in c:
                pen.line(S("s"), pen.sqrt(f"{S('v')}{m}{pen.square(S('gbar'))}"),
                         pen.sqrt(f"{n(c['v'])}{m}{n(c['gbar'])}{t}{n(c['gbar'])}"), value,
                         assign=False)
            else:
                pen.line(S("s"), pen.sqrt(S("v")), pen.sqrt(n(c["v"])), value, assign=False)
        elif key == "s_eps":
            pen.line(S("s"), f"{S('s')} + {S('eps')}", f"{n(c['s'])} + {n(o['eps'])}", value)
        elif key == "buf":        # RMSprop with momentum
            pen.line(S("b"), f"{S('mu')}{t}{S('b')} + {gs}/{S('s')}",
                     f"{n(o['momentum'])}{t}{n(before['momentum_buffer'])} + "
                     f"{n(g)}/{n(c['s_eps'])}", value)
        elif key == "clr":
            decay = r"\text{lr\_decay}" if pen.latex else "lr_decay"
            pen.line(S("etat"), f"{eta}/(1 + ({S('t')}{m}1){t}{decay})",
                     f"{n(lr)}/(1 + {c['t'] - 1}{t}{n(o['lr_decay'])})", value, assign=False)
        elif key == "G":
            pen.line(S("G"), f"{S('G')} + {pen.square(gs)}",
                     f"{n(before['sum'])} + {n(g)}{t}{n(g)}", value)
        elif key == "std":
            pen.line(f"{pen.sqrt(S('G'))} + {S('eps')}", "",
                     f"{pen.sqrt(n(c['G']))} + {n(o['eps'])}", value, assign=False)
        elif key in ("bc1", "bc2"):
            beta = S("beta1") if key == "bc1" else S("beta2")
            number = o["betas"][0 if key == "bc1" else 1]
            pen.line(f"1{m}{pen.power(beta, S('t'))}", "",
                     f"1{m}{pen.power(n(number), c['t'])}", value, assign=False)
        elif key == "mhat":
            pen.line(S("mhat"), f"{S('m')}/(1{m}{pen.power(S('beta1'), S('t'))})",
                     f"{n(c['m'])}/{n(c['bc1'])}", value, assign=False, note="for reading")
        elif key == "vhat":
            pen.line(S("vhat"), f"{v_name}/(1{m}{pen.power(S('beta2'), S('t'))})",
                     f"{n(v_used)}/{n(c['bc2'])}", value, assign=False, note="for reading")
        elif key == "step_size":
            pen.line(f"{eta}/(1{m}{pen.power(S('beta1'), S('t'))})", "",
                     f"{n(lr)}/{n(c['bc1'])}", value, assign=False, note="the step size")
        elif key == "bc2_sqrt":
            pen.line(pen.sqrt(f"1{m}{pen.power(S('beta2'), S('t'))}"), "",
                     pen.sqrt(n(c["bc2"])), value, assign=False)
        elif key == "denom":
            bc2 = pen.sqrt(f"1{m}{pen.power(S('beta2'), S('t'))}")
            pen.line(f"{pen.sqrt(v_name)}/{bc2} + {S('eps')}", "",
                     f"{pen.sqrt(n(v_used))}/{n(c['bc2_sqrt'])} + {n(o['eps'])}", value,
                     assign=False, note="the denominator: ε after the division, as torch")
        elif key == "delta":
            sym, num = _delta_text(pen, e, g)
            pen.line(S("Delta"), sym, num, value, assign=False)
        elif key == "new":
            pen.line(theta, f"{theta} + {S('Delta')}", f"{n(th)} + {n(c['delta'])}", value)


def _delta_text(pen, e, g):
    """Δ's formula and numbers for each optimizer (g: the gradient the step uses)."""
    S, t, m, n = pen.s, pen.times, pen.minus, pen.n
    c, o, lr = e.chain, e.options, e.learning_rate
    neg = "-" if pen.latex else "−"
    if e.optimizer in ("adam", "adamw"):
        v = S("vmax") if "vmax" in c else S("v")
        bc = f"(1{m}{pen.power(S('beta1'), S('t'))})"
        root = pen.sqrt(f"1{m}{pen.power(S('beta2'), S('t'))}")
        denom = f"{pen.sqrt(v)}/{root}"
        return (f"{neg}({S('eta')}/{bc}){t}{S('m')}/({denom} + {S('eps')})",
                f"{neg}{n(c['step_size'])}{t}{n(c['m'])}/{n(c['denom'])}")
    if e.optimizer == "adagrad":
        return (f"{neg}{S('etat')}{t}{S('g')}/({pen.sqrt(S('G'))} + {S('eps')})",
                f"{neg}{n(c['clr'])}{t}{n(g)}/{n(c['std'])}")
    if e.optimizer == "rmsprop":
        if "buf" in c:
            return f"{neg}{S('eta')}{t}{S('b')}", f"{neg}{n(lr)}{t}{n(c['buf'])}"
        return (f"{neg}{S('eta')}{t}{S('g')}/{S('s')}",
                f"{neg}{n(lr)}{t}{n(g)}/{n(c['s_eps'])}")
    if e.optimizer == "sgd" and "buf" in c and not o["nesterov"]:
        return f"{neg}{S('eta')}{t}{S('b')}", f"{neg}{n(lr)}{t}{n(c['buf'])}"
    return f"{neg}{S('eta')}{t}{S('g')}", f"{neg}{n(lr)}{t}{n(g)}"


def _textbook_note(w, e):
    """The textbook's θ − η·m̂/(√v̂ + ε) next to torch's form, in numbers."""
    c, o = e.chain, e.options
    theta = c.get("theta_d", e.theta)
    textbook = theta - e.learning_rate * c["mhat"] / (e.numbers.sqrt(c["vhat"]) + o["eps"])
    if textbook == c["new"]:
        how = "the same number here"
    else:
        how = (f"{format_number(textbook, 17)}, which differs from torch's in the last digits "
               f"(by {format_number(abs(textbook - c['new']), 2)}): torch adds ε after "
               "dividing by √(1 − β₂ᵗ)")
    return (f"The textbook writes the same step as θ − η·m̂/(√v̂ + ε); in numbers that is "
            f"{how}.")


def _agreement(w, e, theta):
    where = e.where
    parts = [f"The simulator (net.update_weights on the copy) gives {where} = "
             f"{_pnum(w, e.simulator_new)}"]
    if e.simulator_state is not None:
        state = ", ".join(f"{key} {_pnum(w, value) if value is not None else 'none'}"
                          for key, value in e.simulator_state.items())
        parts.append(f" and keeps {e.state_where} = {{{state}}}")
    if not e.mismatches:
        # name only what was compared: plain gradient descent keeps no g and no state
        compared = ["the new value"]
        if e.simulator_g is not None:
            compared.append("the gradient g it applied")
        if e.simulator_state is not None:
            compared.append("the state it keeps")
        listed = (", ".join(compared[:-1]) + " and " + compared[-1] if len(compared) > 1
                  else compared[0])
        return "".join(parts) + (f": compared bit for bit, {listed} "
                                 f"agree{'s' if len(compared) == 1 else ''}.")
    listed = "; ".join(f"{what}: {format_number(ours, 17)} here, {format_number(theirs, 17)} "
                       "in the simulator" for what, ours, theirs in e.mismatches)
    return "".join(parts) + f".  THESE DIFFER from the lines above: {listed}."
