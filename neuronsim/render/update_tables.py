"""The update of any kind of record: the plain table θ ← θ − η·dE/dθ, and an optimizer's lines.

Every layer kind lists its parameters as :class:`UpdatedParameter` (a
feed-forward neuron's w and b, an Elman neuron's w, u, b and a learned a[0], an
LSTM or GRU gate's w, u, b^x, b^h, a learned h[0] and c[0]); the writers here are
the same for all of them:

* :func:`plain_update_table`: old, dE/dθ, η and the new value, a fixed bias
  marked "(fixed)" in its row and "(biases fixed)" in the header;
* an update by an optimizer, a penalty or clipping (the record's ``rule``, an
  :class:`~neuronsim.trace.records.UpdateRule`): :func:`optimizer_update_table`
  writes g (and the penalty's share, and g as clipped), the optimizer's state
  before and after, and the new value, each line in torch's order of operations
  and ending in the number the core kept (never computed here);
* :func:`penalty_lines`: R = λ₁·Σ|w| + (λ₂/2)·Σw² and E + R, in the loss section.
"""

from ..trace.records import Record
from .writer import _equations, _heading


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


class UpdatedParameter(Record):
    """One parameter of an optimizer's, penalty's or clipping's update:
    ``label``, ``old``, the reduced gradient ``grad``, g as ``applied`` (None:
    not updated, a fixed bias), ``new``, the penalty's ``share`` and the
    optimizer state ``before``/``after`` the step (dicts with torch's names)."""

    # A Record (==, repr, as_dict), not a dataclass: see neuronsim/trace/records.py.
    _fields = __slots__ = ("label", "old", "grad", "applied", "new", "share", "before", "after")

    def __init__(self, label, old, grad, applied, new, share, before, after):
        self.label, self.old, self.grad, self.applied = label, old, grad, applied
        self.new, self.share, self.before, self.after = new, share, before, after


def updated_parameter(rule, label, name, k, old, grad, new, applied, share, before, after):
    """One parameter of an update as :class:`UpdatedParameter`, any layer kind.

    ``name``/``k``: the parameter's attribute on its owner (``"weights"`` and
    the index k, ``"bias"`` and None, ...), under which the core keeps its
    optimizer state; ``applied``: g as the core applied it, None for a fixed
    bias; ``share``: the penalty's share of g; ``before``/``after``: the
    owner's ``optimizer_state`` copies.  Without an update rule only the
    value, the gradient, g and the new value are kept."""
    if rule is None:
        return UpdatedParameter(label, old, grad, applied, new, None, None, None)
    return UpdatedParameter(label, old, grad, applied, new, share,
                            _state_of(before, name, k, rule.initial),
                            _state_of(after, name, k, rule.initial))


def gradient_header(record, theta, samples):
    """"dE/dθ", or for a batch "dE/dθ (mean over 4 samples)" (``samples``: the
    word for the batch's samples, "samples" or "sequences")."""
    if record.batch_size and record.batch_size > 1:
        return f"dE/d{theta} ({record.reduction} over {record.batch_size} {samples})"
    return f"dE/d{theta}"


def plain_update_table(w, params, learning_rate, grad_header, theta, biases_fixed):
    """The update θ ← θ − η·dE/dθ of a list of :class:`UpdatedParameter`: old,
    gradient, η, new; a fixed bias (``applied`` None) is marked "(fixed)" after
    its value, and ``biases_fixed`` says so in the header."""
    eta = w.num(learning_rate)
    rows = [[w.cell(p.label), w.num(p.old), w.num(p.grad), eta,
             f"{w.num(p.new)} (fixed)" if p.applied is None else w.num(p.new)]
            for p in params]
    headers = ["parameter", "old", grad_header, "η", f"new = old − η·dE/d{theta}"]
    if biases_fixed:
        headers[-1] += " (biases fixed)"
    return w.table(rows, headers)


def update_parts(record, w, heading, params, grad_header, theta):
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
                               not record.update_biases)]


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
