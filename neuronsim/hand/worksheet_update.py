"""The update cells of a worksheet (``worksheet --update``), for every layer kind.

With an optimizer, a penalty or clipping the update of a parameter θ is no
longer θ − η·dE/dθ.  ``worksheet --update`` lists it cell by cell: N (the
global norm, clipping by norm), then per parameter, in the core's order
(each layer's ``update_entries``: a neuron's w, then its u, then its bias;
an LSTM or GRU gate neuron's w, u, b^x, b^h in torch's row order; then a
learned initial state a[0], h[0], c[0]):

* g = dE/dθ (+ the penalty's share λ₁·sign(θ) + λ₂·θ for a weight w or u),
  clipped;
* the optimizer's quantities (m, v, v_max, m̂, v̂; the momentum buffer; ḡ; G);
* the new value.

Every formula is :mod:`neuronsim.hand.update_step`'s (the core's order of
operations); the true values are the simulator's own (its g in
``batch_grad``, its N in ``clip.last_norm``, the state it keeps; m̂ and v̂,
which it does not keep, from its m and v).

:class:`UpdateCells` holds what a worksheet step (feed-forward
:class:`neuronsim.hand.worksheet.Step`, sequence
:class:`neuronsim.hand.worksheet_time.SequenceStep`) does with these cells;
the step provides ``before`` (``net.copy(batch=False)``, a copy of the
network with its optimizer and state), ``numbers``, ``rate``, ``cells``, ``update`` and
``old_value(cell)`` (the parameter before the step).
"""

from ..core.gates import GatedLayer
from ..core.summation import sum_in_order
from .cells import UPDATE_QUANTITIES, Cell
from .label_parse import Target
from .update_step import gradient_chain, parameter_state, update_chain

# torch's state names → the update cells (per optimizer: v is exp_avg_sq or square_avg).
STATE_OF = {
    "sgd": {"momentum_buffer": "buf"},
    "rmsprop": {"step": "t", "square_avg": "v", "grad_avg": "gbar", "momentum_buffer": "buf"},
    "adagrad": {"step": "t", "sum": "G"},
    "adam": {"step": "t", "exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "vmax"},
    "adamw": {"step": "t", "exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "vmax"},
}


def has_rule(net):
    """Does ``net`` update by an optimizer, a penalty or clipping (not θ − η·g)?"""
    return net.optimizer is not None or net.penalty is not None or net.clip is not None


# ---------------------------------------------------------------- the parameters
def parameter_targets(net):
    """The :class:`Target` of every parameter, in the order the core updates
    them (a fixed bias included): per neuron w, u, b; per gate neuron (torch's
    row order) w, u, b^x, b^h; then a learned initial state (a[0]; h[0], c[0])."""
    targets = []
    for l, layer in enumerate(net.layers):
        if isinstance(layer, GatedLayer):
            n = layer.size
            for row, neuron in enumerate(layer.neurons):
                gate, j = layer.GATES[row // n], row % n
                targets += [Target("w", l, j, k, gate=gate) for k in range(len(neuron.weights))]
                targets += [Target("u", l, j, m, gate=gate) for m in range(n)]
                targets += [Target("b", l, j, gate=gate, side=side) for side in ("ih", "hh")]
            if layer.learn_initial_state:
                for name in layer.STATES:
                    kind = "h" if name == "initial_state" else "c"
                    targets += [Target(kind, l, j, None, 0) for j in range(n)]
            continue
        for j, neuron in enumerate(layer.neurons):
            targets += [Target("w", l, j, k) for k in range(len(neuron.weights))]
            if layer.is_recurrent:
                targets += [Target("u", l, j, i) for i in range(layer.size)]
            targets.append(Target("b", l, j))
        if layer.is_recurrent and layer.learn_initial_state:
            targets += [Target("a", l, j, None, 0) for j in range(layer.size)]
    return targets


def locate(net, target):
    """(owner, attribute, k) of a parameter: ``getattr(owner, attribute)[k]``
    is it (k None: a single number).  The owner is a neuron, a gate neuron,
    or the layer for a learned initial state."""
    layer = net.layers[target.layer]
    if target.step == 0:
        return layer, "initial_cell" if target.kind == "c" else "initial_state", target.neuron
    if target.gate is not None:
        owner = layer.gates[target.gate][target.neuron]
    else:
        owner = layer.neurons[target.neuron]
    if target.kind == "b":
        return owner, "bias" if target.gate is None else f"bias_{target.side}", None
    return owner, "weights" if target.kind == "w" else "recurrent_weights", target.input


def owner_path(target):
    """Where Python keeps a parameter's owner (0-based)."""
    l, j = target.layer, target.neuron
    if target.step == 0:
        return f"net.layers[{l}]"
    if target.gate is not None:
        return f'net.layers[{l}].gates["{target.gate}"][{j}]'
    return f"net.layers[{l}].neurons[{j}]"


def suffix(target):
    """"w", "u", "b", "a[0]", "h[0]" or "c[0]": the parameter in dE/dθ and new θ."""
    return f"{target.kind}[0]" if target.step == 0 else target.kind


def gradient_cell(target):
    return Cell("dE/d" + suffix(target), target)


def new_cell(target):
    return Cell("new " + suffix(target), target)


def is_penalized(target):
    """The penalty reaches weights w and u, not biases or initial states."""
    return target.kind in ("w", "u") and target.step is None


def is_bias(target):
    return target.kind == "b"


# ---------------------------------------------------------------- the cells
def optimizer_quantities(net):
    """The optimizer's cells of each parameter, in the order it computes them."""
    optimizer = net.optimizer
    if optimizer is None:
        return ()
    o = optimizer.options
    if optimizer.name == "sgd":
        return ("buf",) if o["momentum"] != 0 else ()
    if optimizer.name == "rmsprop":
        return (("v",) + (("gbar",) if o["centered"] else ())
                + (("buf",) if o["momentum"] > 0 else ()))
    if optimizer.name == "adagrad":
        return ("G",)
    return ("m", "v") + (("vmax",) if o["amsgrad"] else ()) + ("mhat", "vhat")


def update_cells(net):
    """The update cells: N (clipping by norm), then per parameter in the
    core's order (:func:`parameter_targets`): g (with a penalty's share or
    clipping), the optimizer's quantities (m, v, v_max, m̂, v̂; the momentum
    buffer; ḡ; G) and the new value.  A fixed bias (update_biases false)
    keeps only its new value."""
    cells = [Cell("N")] if net.clip is not None and net.clip.max_norm is not None else []
    quantities = optimizer_quantities(net)
    for target in parameter_targets(net):
        if is_bias(target) and not net.update_biases:
            cells.append(new_cell(target))
            continue
        if net.clip is not None or (is_penalized(target) and net.penalty is not None):
            cells.append(Cell("g", target))
        cells += [Cell(q, target) for q in quantities]
        cells.append(new_cell(target))
    return cells


# ---------------------------------------------------------------- a step's update cells
class UpdateCells:
    """The update cells of a worksheet step: their true values, their
    formulas evaluated on any earlier values, where Python keeps them, and
    the given numbers of the rule (options, penalty, clipping, state before)."""

    def _simulated_update(self, work, values):
        """The update cells as the core left them in ``work`` (after its update):
        g (``batch_grad``), N (``clip.last_norm``), the state each parameter
        keeps; m̂ and v̂, which the core does not keep, from its m and v."""
        optimizer = work.optimizer
        for cell in self.cells:
            q, target = cell.quantity, cell.target
            if q == "N":
                values[cell] = work.clip.last_norm
                continue
            if q not in UPDATE_QUANTITIES:
                continue
            owner, name, k = locate(work, target)
            if q == "g":
                g = owner.batch_grad[name]
                values[cell] = g[k] if k is not None else g
                continue
            state = parameter_state(owner, name, k, optimizer)
            kept = {STATE_OF[optimizer.name].get(key, key): value
                    for key, value in state.items()}
            if q in ("mhat", "vhat"):        # as update_chain: bc = 1 − βᵗ, then m/bc
                beta1, beta2 = optimizer._numeric["betas"]
                t = kept["t"]
                values[cell] = (kept["m"] / (1 - beta1 ** t) if q == "mhat"
                                else kept.get("vmax", kept["v"]) / (1 - beta2 ** t))
            else:
                values[cell] = kept[q]

    def _state_before(self, target):
        owner, name, k = locate(self.before, target)
        return parameter_state(owner, name, k, self.before.optimizer)

    def update_python(self, cell):
        """Where the simulator keeps an update cell's number."""
        q = cell.quantity
        if q == "N":
            return "net.clip.last_norm after the update"
        target = cell.target
        _, name, k = locate(self.before, target)
        base = owner_path(target)
        index = "" if k is None else f"[{k}]"
        if q == "g":
            return f"{base}.batch_grad[{name!r}]{index} after the update"
        if q in ("mhat", "vhat"):
            return "not kept (computed from m or v)"
        key = {value: key for key, value in STATE_OF[self.before.optimizer.name].items()}[q]
        return f"{base}.optimizer_state[{name!r}]{index}[{key!r}] after the update"

    def _given_rule(self, convention, bias_as_weight):
        """The optimizer's options, the penalty, clipping, the rate in use and
        every parameter's state before the step (when it has one)."""
        net = self.before
        rows = []
        if self.rate != self.learning_rate:
            rows.append(("eta (the schedule's rate now)", "net.schedule.lr", self.rate))
        optimizer = net.optimizer
        if optimizer is not None:
            for key, value in optimizer._numeric.items():
                if isinstance(value, tuple):
                    rows += [(f"{key}[{i}] ({'beta1' if i == 0 else 'beta2'})",
                              f"net.optimizer.options[{key!r}][{i}]", v)
                             for i, v in enumerate(value)]
                elif not isinstance(value, bool):
                    rows.append((key, f"net.optimizer.options[{key!r}]", value))
                elif value:
                    rows.append((key, f"net.optimizer.options[{key!r}] (true)", 1))
        if net.penalty is not None:
            rows += [("lambda1 (penalty l1)", "net.penalty.l1", net.penalty._l1),
                     ("lambda2 (penalty l2)", "net.penalty.l2", net.penalty._l2)]
        if net.clip is not None:
            if net.clip.max_norm is not None:
                rows.append(("max_norm (clipping)", "net.clip.max_norm",
                             net.numbers.convert(net.clip.max_norm)))
            else:
                rows.append(("clip value", "net.clip.value", net.numbers.convert(net.clip.value)))
        if optimizer is None:
            return rows
        for target in parameter_targets(net):
            owner, name, k = locate(net, target)
            if not owner.optimizer_state or name not in owner.optimizer_state:
                continue
            label = target.label(convention, "ascii", bias_as_weight and target.gate is None)
            index = f"[{k}]" if k is not None else ""
            for key, value in parameter_state(owner, name, k, optimizer).items():
                if value is None:
                    continue
                symbol = STATE_OF[optimizer.name].get(key, key)
                rows.append((f"{symbol} {label} before",
                             f"{owner_path(target)}.optimizer_state[{name!r}]{index}[{key!r}]",
                             value))
        return rows

    # ------------------------------------------------------------ formulas
    def _norm_from(self, values):
        """N = √(Σ g²) from the dE/dθ in ``values``, each weight's with its
        penalty share, summed as the core sums it (entry by entry: a
        neuron's w, its u, its bias; a learned initial state as one entry)."""
        net = self.before
        entries = {}             # (owner, attribute) → [targets], in the core's order
        for target in parameter_targets(net):
            if is_bias(target) and not net.update_biases:
                continue
            owner, name, k = locate(net, target)
            entries.setdefault((id(owner), name), (owner, name, k is None, []))[3].append(target)
        total = 0
        for owner, name, single, targets in entries.values():
            g = [values[gradient_cell(target)] / 1 for target in targets]
            if not single:          # a list: Σ over it first, as the core sums
                if net.penalty is not None and is_penalized(targets[0]):
                    g = [a + b for a, b in zip(g, net.penalty.gradient(getattr(owner, name)))]
                total += sum_in_order(x * x for x in g)
            else:
                total += g[0] * g[0]
        return self.numbers.sqrt(total)

    def _update_from(self, cell, values):
        """An update cell from ``values``: g from dE/dθ (and N), then the
        optimizer's quantities from g and this parameter's cells before
        ``cell`` (each one the student's own where given)."""
        net, target = self.before, cell.target
        owner, name, k = locate(net, target)
        theta = self.old_value(new_cell(target))
        if is_bias(target) and not net.update_biases:
            return theta
        given = {"mean": values[gradient_cell(target)] / 1}
        if net.clip is not None and net.clip.max_norm is not None:
            given["norm"] = (values[Cell("N")] if Cell("N") in values
                             else self._norm_from(values))
        if cell.quantity != "g" and Cell("g", target) in values:
            given["g"] = values[Cell("g", target)]
        g = gradient_chain(net, owner, name, k, given)["g"]
        if cell.quantity == "g":
            return g
        own = {q: values[Cell(q, target)] for q in UPDATE_QUANTITIES[2:]
               if q != cell.quantity and Cell(q, target) in values}
        chain = update_chain(net.optimizer, theta, g, self._state_before(target), self.rate,
                             given=own)
        return chain["new" if cell.quantity.startswith("new ") else cell.quantity]


# ---------------------------------------------------------------- formulas shown
def update_formula(cell, step, bias_as_weight=False):
    """The formula of an update cell (or of a new parameter by an optimizer,
    a penalty or clipping), in torch's order of operations: what
    :meth:`UpdateCells._update_from` evaluates."""
    net = step.before
    q = cell.quantity
    if q == "N":
        return ("√(Σ g²) over every weight and bias updated, g = dE/dθ (+ λ₁·sign(w) + λ₂·w "
                "for a weight)" if net.penalty is not None else
                "√(Σ g²) over every weight and bias updated, g = dE/dθ")
    target = cell.target
    penalized = is_penalized(target)
    p = "w" if bias_as_weight and is_bias(target) and target.gate is None else suffix(target)
    if q.startswith("new ") and is_bias(target) and not net.update_biases:
        return "b (biases fixed)"
    if q == "g":
        text = f"dE/d{p}"
        if penalized and net.penalty is not None:
            text += f" + λ₁·sign({p}) + λ₂·{p}"
        if net.clip is not None and net.clip.max_norm is not None:
            text = f"c·({text}) if c = max_norm/(N + 1e-6) < 1, else {text}"
        elif net.clip is not None:
            text = f"min(max({text}, −v), v), v = clip value"
        return text
    optimizer = net.optimizer
    g = "g" if Cell("g", target) in step.cells or not step.update else _g_text(net, penalized, p)
    t = _step_number(step, target)
    if optimizer is None:
        return f"{p} − η · {g}"
    o, name = optimizer.options, optimizer.name
    decay = o["weight_decay"] != 0 and name != "adamw"
    gd = f"({g} + λ·{p})" if decay else g
    square = f"{gd}²" if gd == "g" or gd.startswith("(") else f"({gd})²"
    if name == "sgd":
        if q == "buf":
            return (f"{gd} (the first step: buf starts as g)" if t == 1
                    else f"μ·buf + (1 − τ)·{gd}")
        if o["momentum"] == 0:
            return f"{p} − η·{gd}"
        if o["nesterov"]:
            return f"{p} − η·({gd} + μ·buf)"
        return f"{p} − η·buf"
    if name == "rmsprop":
        s = "√(v − ḡ²) + ε" if o["centered"] else "√v + ε"
        return {"v": f"α·v + (1 − α)·{square} (α = alpha)",
                "gbar": f"α·ḡ + (1 − α)·{gd}",
                "buf": f"μ·buf + {gd}/({s})"}.get(
            q, f"{p} − η·buf" if o["momentum"] > 0 else f"{p} − η·{gd}/({s})")
    if name == "adagrad":
        rate = "η/(1 + (t − 1)·lr_decay)" if o["lr_decay"] else "η"
        return {"G": f"G + {square}"}.get(q, f"{p} − {rate}·{gd}/(√G + ε), t = {t}")
    v = "vmax" if o["amsgrad"] else "v"
    start = f"{p}·(1 − η·λ)" if name == "adamw" and o["weight_decay"] != 0 else p
    return {"m": f"β₁·m + (1 − β₁)·{gd}",
            "v": f"β₂·v + (1 − β₂)·{square}",
            "vmax": "max(vmax, v)",
            "mhat": f"m/(1 − β₁^t), t = {t}",
            "vhat": f"{v}/(1 − β₂^t), t = {t}"}.get(
        q, f"{start} − (η/(1 − β₁^t))·m/(√{v}/√(1 − β₂^t) + ε), t = {t}")


def _g_text(net, penalized, p):
    """g written out where the sheet has no g cell."""
    return f"(dE/d{p} + λ₁·sign({p}) + λ₂·{p})" if penalized and net.penalty is not None \
        else f"dE/d{p}"


def _step_number(step, target):
    """t of this update of the parameter (1 at its first)."""
    state = step._state_before(target)
    if "step" in state:
        return state["step"] + 1
    return 1 if state.get("momentum_buffer") is None else 2
