"""The cells of an LSTM or GRU layer in the worksheet of one sequence step.

:mod:`neuronsim.hand.worksheet_time` lays out one sequence step cell by cell;
a gated layer (:mod:`neuronsim.core.lstm`, :mod:`neuronsim.core.gru`) has, per
unit j and step t, in the order they are computed by hand:

forward (t = 1..T)
    z and a of each gate q in torch's order (z_q,j[t] = Σ_k w_q,jk a_k[t] + b_xq,j
    + Σ_m u_q,jm h_m[t-1] + b_hq,j; the GRU's new gate scales its recurrent
    side by a_r,j[t]), then c_j[t] = f·c[t-1] + i·g and h_j[t] = o·tanh(c)
    (LSTM), or h_j[t] = (1 − z)·n + z·h_j[t-1] (GRU);
backward (t = T down to 1)
    dE/dh_j[t] = e + r (the layer above at t, or the loss; and step t+1 through
    every gate's u, plus z_j[t+1]·dE/dh_j[t+1] in a GRU), then the gates' δ:
    LSTM δ_o, dE/dc_j[t] = dE/dh·o·tanh'(c) + f[t+1]·dE/dc[t+1], δ_i, δ_f, δ_g;
    GRU δ_n, δ_z, δ_r (the formulas of :mod:`neuronsim.hand.explain_gates`);
gradients, summed over the steps
    dE/dw_q,jk = Σ_t a_k[t] δ_q,j[t], dE/du_q,jm = Σ_t h_m[t-1] δ^h_q,j[t],
    dE/db_xq,j = Σ_t δ_q,j[t], dE/db_hq,j = Σ_t δ^h_q,j[t] (δ^h = δ, except
    r·δ for the GRU's new gate), and a learned h[0] (c[0]);
the update
    θ − η·dE/dθ (with an optimizer, a penalty or clipping the update cells of
    :mod:`neuronsim.hand.worksheet_update`, which the sequence step computes
    for these parameters as for any other).

:class:`GatedCells` answers for these cells what
:class:`~neuronsim.hand.worksheet_time.SequenceStep` answers for the others:
the cells, their true values (the simulator's own), :meth:`GatedCells.compute`
(each cell from the values of the cells above it, in the core's order of
operations, so the true values reproduce exactly), where Python keeps them
and their formulas.
"""


from ..core import labels as lab
from ..core.gates import GatedLayer
from .cells import Cell
from .label_parse import Target

# per unit and step, after the gates: the states
_STATES = {"lstm": ("c", "h"), "gru": ("h",)}
# the backward cells of a unit at one step, in computation order: (quantity, gate)
_BACKWARD = {"lstm": (("dE/dh", None), ("delta", "output"), ("dE/dc", None),
                      ("delta", "input"), ("delta", "forget"), ("delta", "cell")),
             "gru": (("dE/dh", None), ("delta", "new"), ("delta", "update"),
                     ("delta", "reset"))}


def is_gated(layer):
    return isinstance(layer, GatedLayer)


def _letter(gate):
    return lab.GATE_LETTERS[gate]


# ---------------------------------------------------------------- the cells
def forward_cells(layer, l, t):
    """z and a of every gate, then c and h, unit by unit."""
    cells = []
    for j in range(layer.size):
        for gate in layer.GATES:
            cells.append(Cell("z", Target("z", l, j, None, t, gate=gate)))
            cells.append(Cell("a", Target("a", l, j, None, t, gate=gate)))
        for kind in _STATES[layer.kind]:
            cells.append(Cell(kind, Target(kind, l, j, None, t)))
    return cells


def backward_cells(layer, l, t):
    """dE/dh, (dE/dc,) and every gate's δ, unit by unit."""
    cells = []
    for j in range(layer.size):
        for quantity, gate in _BACKWARD[layer.kind]:
            if quantity == "delta":
                cells.append(Cell("delta", Target("delta", l, j, None, t, gate=gate)))
            else:
                cells.append(Cell(quantity, Target(quantity[-1], l, j, None, t)))
    return cells


def parameter_cells(layer, l, prefix):
    """dE/dθ (``prefix`` "dE/d") or new θ ("new ") of every gate neuron in torch's
    row order (w, u, b_x, b_h), then a learned h[0] (and c[0])."""
    cells = []
    for gate in layer.GATES:
        for j, neuron in enumerate(layer.gates[gate]):
            cells += [Cell(prefix + "w", Target("w", l, j, k, gate=gate))
                      for k in range(len(neuron.weights))]
            cells += [Cell(prefix + "u", Target("u", l, j, m, gate=gate))
                      for m in range(layer.size)]
            cells += [Cell(prefix + "b", Target("b", l, j, gate=gate, side=side))
                      for side in ("ih", "hh")]
    if layer.learn_initial_state:
        for kind in _STATES[layer.kind][::-1]:        # h[0], then c[0]
            cells += [Cell(f"{prefix}{kind}[0]", Target(kind, l, j, None, 0))
                      for j in range(layer.size)]
    return cells


# ---------------------------------------------------------------- true values
def step_values(work, l, t, records, values):
    """The simulator's forward and backward values of gated layer l at step t."""
    for j, record in enumerate(records):
        for gate, saved in record.gates.items():
            values[Cell("z", Target("z", l, j, None, t, gate=gate))] = saved.z
            values[Cell("a", Target("a", l, j, None, t, gate=gate))] = saved.output
            if saved.delta is not None:
                values[Cell("delta", Target("delta", l, j, None, t, gate=gate))] = saved.delta
        values[Cell("h", Target("h", l, j, None, t))] = record.output
        values[Cell("dE/dh", Target("h", l, j, None, t))] = record.output_grad
        if work.layers[l].kind == "lstm":
            values[Cell("c", Target("c", l, j, None, t))] = record.cell
            values[Cell("dE/dc", Target("c", l, j, None, t))] = record.cell_grad


def parameter_values(layer, l, prefix, values, gradients):
    """The gradient sums (``gradients``) or the parameters after the update."""
    numbers = layer.gradient_sums() if gradients else layer.parameters()
    n = layer.size
    for row in range(len(layer.neurons)):
        gate, j = layer.GATES[row // n], row % n
        for k, value in enumerate(numbers[0][row]):
            values[Cell(prefix + "w", Target("w", l, j, k, gate=gate))] = value
        for m, value in enumerate(numbers[1][row]):
            values[Cell(prefix + "u", Target("u", l, j, m, gate=gate))] = value
        values[Cell(prefix + "b", Target("b", l, j, gate=gate, side="ih"))] = numbers[2][row]
        values[Cell(prefix + "b", Target("b", l, j, gate=gate, side="hh"))] = numbers[3][row]
    if layer.learn_initial_state:
        for name, states in zip(layer.STATES, numbers[4:]):
            kind = "h" if name == "initial_state" else "c"
            for j, value in enumerate(states):
                values[Cell(f"{prefix}{kind}[0]", Target(kind, l, j, None, 0))] = value


# ---------------------------------------------------------------- formulas with numbers
class GatedCells:
    """The formulas of one gated layer's cells, evaluated from a dict of values.

    ``step``: the :class:`~neuronsim.hand.worksheet_time.SequenceStep` (its
    network before the step, sequence, targets, η and numbers); ``out(l, k, t,
    values)``: the output of unit or neuron k of layer l at step t (the
    step's own accessor, so that x[t], a[0] and h[0] are read as given).
    """

    def __init__(self, step, out, above):
        self.step = step
        self.out = out
        self.above = above          # above(l, t, values): e of every unit of layer l at t

    # the values a formula reads
    @staticmethod
    def gate_value(values, l, gate, j, t, kind="a"):
        return values[Cell(kind, Target(kind, l, j, None, t, gate=gate))]

    @staticmethod
    def delta(values, l, gate, j, t):
        return values[Cell("delta", Target("delta", l, j, None, t, gate=gate))]

    @staticmethod
    def grad(values, kind, l, j, t):
        return values[Cell("dE/d" + kind, Target(kind, l, j, None, t))]

    def cell_state(self, values, l, j, t):
        if t == 0:
            return self.step.initial_cell(l)[j]
        return values[Cell("c", Target("c", l, j, None, t))]

    def hidden_delta(self, values, l, gate, j, t):
        """δ^h: δ, or r·δ for the GRU's new gate (the core's hidden_factor · δ)."""
        delta = self.delta(values, l, gate, j, t)
        if gate == "new":
            return self.gate_value(values, l, "reset", j, t) * delta
        return delta

    def compute(self, cell, values):
        """The value of one of this layer's cells from the cells above it."""
        q, target = cell.quantity, cell.target
        l, j = target.layer, target.neuron
        layer = self.step.before.layers[l]
        t = target.step
        if q == "z":
            return self._z(values, layer, l, target.gate, j, t)
        if q == "a":
            neuron = layer.gates[target.gate][j]
            return neuron.activation.function(self.gate_value(values, l, target.gate, j, t, "z"))
        if q == "c":
            f, i, g = (self.gate_value(values, l, name, j, t) for name in ("forget", "input",
                                                                           "cell"))
            return f * self.cell_state(values, l, j, t - 1) + i * g
        if q == "h":
            if layer.kind == "lstm":
                return (self.gate_value(values, l, "output", j, t)
                        * layer.activation.function(self.cell_state(values, l, j, t)))
            z = self.gate_value(values, l, "update", j, t)
            return (1 - z) * self.gate_value(values, l, "new", j, t) + z * self.out(l, j, t - 1,
                                                                                values)
        if q == "dE/dh":
            return self.above(l, t, values)[j] + self._recurrent_path(values, layer, l, j, t)
        if q == "dE/dc":
            c = self.cell_state(values, l, j, t)
            tanh = layer.activation
            path = 0
            if t < len(self.step.xs):
                path = (self.grad(values, "c", l, j, t + 1)
                        * self.gate_value(values, l, "forget", j, t + 1))
            return (self.grad(values, "h", l, j, t) * self.gate_value(values, l, "output", j, t)
                    * tanh.derivative(c, tanh.function(c)) + path)
        if q == "delta":
            return self._delta(values, layer, l, target.gate, j, t)
        if q in ("dE/dw", "dE/du", "dE/db"):
            return self._gradient(values, q, target)
        if q in ("dE/dh[0]", "dE/dc[0]"):
            return self._initial_gradient(values, layer, l, j, q)
        return self._update(values, cell, layer)

    def _z(self, values, layer, l, gate, j, t):
        neuron = layer.gates[gate][j]
        inputs = [self.out(l - 1, k, t, values) for k in range(layer.n_inputs)]
        previous = [self.out(l, m, t - 1, values) for m in range(layer.size)]
        # the core's own two sums (GateNeuron.input_part, recurrent_part), on these values
        input_part = neuron.input_part(inputs)
        recurrent_part = neuron.recurrent_part(previous)
        if gate == "new":
            return input_part + self.gate_value(values, l, "reset", j, t) * recurrent_part
        return input_part + recurrent_part

    def _recurrent_path(self, values, layer, l, j, t):
        """r_j[t]: from step t+1 through every gate's u (and z·dE/dh in a GRU); 0 at T."""
        if t >= len(self.step.xs):
            return 0
        n = layer.size
        total = 0
        for row, neuron in enumerate(layer.neurons):
            gate, m = layer.GATES[row // n], row % n
            total = total + neuron.recurrent_weights[j] * self.hidden_delta(values, l, gate, m,
                                                                            t + 1)
        if layer.kind == "gru":
            return (self.gate_value(values, l, "update", j, t + 1)
                    * self.grad(values, "h", l, j, t + 1) + total)
        return total

    def _delta(self, values, layer, l, gate, j, t):
        """δ_q,j[t] = dE/da_q,j[t] · g'(z_q,j[t]) (see the module docstring)."""
        neuron = layer.gates[gate][j]
        z = self.gate_value(values, l, gate, j, t, "z")
        a = self.gate_value(values, l, gate, j, t)
        derivative = neuron.activation.derivative(z, a)
        dh = self.grad(values, "h", l, j, t)
        if layer.kind == "lstm":
            if gate == "output":
                c = self.cell_state(values, l, j, t)
                return dh * layer.activation.function(c) * derivative
            dc = self.grad(values, "c", l, j, t)
            other = {"input": lambda: self.gate_value(values, l, "cell", j, t),
                     "forget": lambda: self.cell_state(values, l, j, t - 1),
                     "cell": lambda: self.gate_value(values, l, "input", j, t)}[gate]()
            return dc * other * derivative
        if gate == "new":
            return dh * (1 - self.gate_value(values, l, "update", j, t)) * derivative
        if gate == "update":
            return (dh * (self.out(l, j, t - 1, values) - self.gate_value(values, l, "new", j, t))
                    * derivative)
        return self.delta(values, l, "new", j, t) * self._new_hidden_part(values, layer, l, j,
                                                                          t) * derivative

    def _new_hidden_part(self, values, layer, l, j, t):
        """s_j[t] = Σ_m u_n,jm h_m[t-1] + b_hn,j."""
        neuron = layer.gates["new"][j]
        previous = [self.out(l, m, t - 1, values) for m in range(layer.size)]
        return neuron.recurrent_part(previous)

    def _gradient(self, values, q, target):
        """Σ_t of the per-step products, from t = T down (as BPTT adds them)."""
        l, j, gate = target.layer, target.neuron, target.gate
        hidden = q == "dE/du" or target.side == "hh"
        total = 0
        for t in range(len(self.step.xs), 0, -1):
            d = (self.hidden_delta(values, l, gate, j, t) if hidden
                 else self.delta(values, l, gate, j, t))
            if q == "dE/dw":
                total = total + self.out(l - 1, target.input, t, values) * d
            elif q == "dE/du":
                total = total + self.out(l, target.input, t - 1, values) * d
            else:
                total = total + d
        return total

    def _initial_gradient(self, values, layer, l, i, q):
        """dE/dh_i[0] = Σ_q Σ_j u_q,ji δ^h_q,j[1] (+ z_i[1]·dE/dh_i[1]); dE/dc_i[0] =
        dE/dc_i[1]·f_i[1]."""
        if q == "dE/dc[0]":
            return 0 + self.grad(values, "c", l, i, 1) * self.gate_value(values, l, "forget", i, 1)
        n = layer.size
        total = 0
        for row, neuron in enumerate(layer.neurons):
            total = total + neuron.recurrent_weights[i] * self.hidden_delta(
                values, l, layer.GATES[row // n], row % n, 1)
        if layer.kind == "gru":
            total = (self.gate_value(values, l, "update", i, 1) * self.grad(values, "h", l, i, 1)
                     + total)
        return 0 + total

    def _update(self, values, cell, layer):
        """θ − η · dE/dθ (batch of one sequence); biases stay if they are fixed."""
        q, target = cell.quantity, cell.target
        eta = self.step.learning_rate
        grad = values[Cell("dE/d" + q[4:], target)]
        old = self.old_value(cell)
        if q == "new b" and not self.step.before.update_biases:
            return old
        return old - eta * (grad / 1)

    def old_value(self, cell):
        """The parameter before the step."""
        q, target = cell.quantity, cell.target
        l, j = target.layer, target.neuron
        if q == "new h[0]":
            return self.step.initial_state(l)[j]
        if q == "new c[0]":
            return self.step.initial_cell(l)[j]
        neuron = self.step.before.layers[l].gates[target.gate][j]
        if q == "new w":
            return neuron.weights[target.input]
        if q == "new u":
            return neuron.recurrent_weights[target.input]
        return getattr(neuron, f"bias_{target.side}")


# ---------------------------------------------------------------- shown text
def python(cell):
    """Where the simulator keeps a gated cell's number (0-based Python indices)."""
    q, target = cell.quantity, cell.target
    l, j = target.layer, target.neuron
    if q in ("z", "a", "delta", "c", "h"):
        return target.python()
    if q in ("dE/dh", "dE/dc"):
        name = "output_grad" if q == "dE/dh" else "cell_grad"
        return f"net.history[{target.step - 1}][{l}][{j}].{name}"
    if q.endswith("[0]"):
        name = "initial_state" if target.kind == "h" else "initial_cell"
        if q.startswith("dE/"):
            return f'net.layers[{l}].initial_grads["{name}"][{j}]'
        return f"net.layers[{l}].{name}[{j}] after the update"
    base = f'net.layers[{l}].gates["{target.gate}"][{j}]'
    if q.startswith("dE/"):
        return base + {"dE/dw": f".weight_grad_sum[{target.input}]",
                       "dE/du": f".recurrent_grad_sum[{target.input}]",
                       "dE/db": f".bias_{target.side}_grad_sum"}[q]
    return base + {"new w": f".weights[{target.input}]",
                   "new u": f".recurrent_weights[{target.input}]",
                   "new b": f".bias_{target.side}"}[q] + " after the update"


def formula(step, cell):
    """The formula of a gated cell as text (the symbols the worksheet renders)."""
    q, target = cell.quantity, cell.target
    net = step.before
    l = target.layer
    layer = net.layers[l]
    gate = target.gate
    letter = _letter(gate) if gate else None
    if q == "z":
        recurrent = f"Σ_m u_{letter},jm h_m[t−1] + b_h{letter},j"
        if gate == "new":
            recurrent = f"a_r,j[t] · ({recurrent})"
        return f"Σ_k w_{letter},jk a_k[t] + b_x{letter},j + {recurrent}"
    if q == "a":
        return f"{layer.GATE_ACTIVATIONS[gate]}(z_{letter},j[t])"
    if q == "c":
        return "a_f,j[t] · c_j[t−1] + a_i,j[t] · a_g,j[t]"
    if q == "h":
        if layer.kind == "lstm":
            return "a_o,j[t] · tanh(c_j[t])"
        return "(1 − a_z,j[t]) · a_n,j[t] + a_z,j[t] · h_j[t−1]"
    t = target.step
    last = t is not None and t >= len(step.xs)
    if q == "dE/dh":
        return _dh_formula(step, layer, l, t, last)
    if q == "dE/dc":
        path = "" if last else " + a_f,j[t+1] · dE/dc_j[t+1]"
        return f"dE/dh_j[t] · a_o,j[t] · (1 − tanh²(c_j[t])){path}"
    if q == "delta":
        return {"output": "dE/dh_j[t] · tanh(c_j[t]) · a_o(1 − a_o)",
                "input": "dE/dc_j[t] · a_g,j[t] · a_i(1 − a_i)",
                "forget": "dE/dc_j[t] · c_j[t−1] · a_f(1 − a_f)",
                "cell": "dE/dc_j[t] · a_i,j[t] · (1 − a_g²)",
                "new": "dE/dh_j[t] · (1 − a_z,j[t]) · (1 − a_n²)",
                "update": "dE/dh_j[t] · (h_j[t−1] − a_n,j[t]) · a_z(1 − a_z)",
                "reset": "δ_n,j[t] · (Σ_m u_n,jm h_m[t−1] + b_hn,j) · a_r(1 − a_r)"}[gate]
    scaled = gate == "new"
    if q == "dE/dw":
        return f"Σ_t a_k[t] · δ_{letter},j[t]"
    if q == "dE/du":
        return ("Σ_t h_m[t−1] · a_r,j[t] · δ_n,j[t]" if scaled
                else f"Σ_t h_m[t−1] · δ_{letter},j[t]")
    if q == "dE/db":
        if target.side == "hh" and scaled:
            return "Σ_t a_r,j[t] · δ_n,j[t]"
        return f"Σ_t δ_{letter},j[t]"
    if q == "dE/dh[0]":
        if layer.kind == "gru":
            return ("a_z,i[1] · dE/dh_i[1] + Σ_q Σ_j u_q,ji · δ_q,j[1] "
                    "(a_r,j[1] · δ_n,j[1] for the new gate)")
        return "Σ_q Σ_j u_q,ji · δ_q,j[1]"
    if q == "dE/dc[0]":
        return "a_f,i[1] · dE/dc_i[1]"
    if q in ("new h[0]", "new c[0]"):
        kind = q[4]
        return f"{kind}[0] − η · dE/d{kind}[0]"
    if q == "new b" and not net.update_biases:
        return "b (biases fixed)"
    return {"new w": "w − η · dE/dw", "new u": "u − η · dE/du", "new b": "b − η · dE/db"}[q]


def _dh_formula(step, layer, l, t, last):
    net = step.before
    top = l == len(net.layers) - 1
    if top:
        e = "0 (no target at t)" if step.targets[t - 1] is None else "dE_t/dh_j[t]"
        if net.step_loss == "mean" and step.targets[t - 1] is not None:
            e += " / n_T"
    elif is_gated(net.layers[l + 1]):
        e = "Σ_q Σ_m w_q,mj δ_q,m[t]"
    else:
        e = "Σ_m w_mj δ_m[t]"
    if last:
        return f"{e} (t = T: no later step)"
    if layer.kind == "gru":
        return (f"{e} + a_z,j[t+1] · dE/dh_j[t+1] + Σ_q Σ_m u_q,mj δ_q,m[t+1] "
                "(a_r,m[t+1] · δ_n,m[t+1] for the new gate)")
    return f"{e} + Σ_q Σ_m u_q,mj δ_q,m[t+1]"


def given(layer, l, convention, initial_state, initial_cell):
    """(label, python, number) of a gated layer's given numbers."""
    rows = []
    for gate in layer.GATES:
        for j, n in enumerate(layer.gates[gate]):
            base = f'net.layers[{l}].gates["{gate}"][{j}]'
            for k, w in enumerate(n.weights):
                rows.append((lab.gate_weight_label(l, gate, j, k, convention, "ascii"),
                             f"{base}.weights[{k}]", w))
            for m, u in enumerate(n.recurrent_weights):
                rows.append((lab.gate_recurrent_label(l, gate, j, m, "ascii"),
                             f"{base}.recurrent_weights[{m}]", u))
            for side in ("ih", "hh"):
                rows.append((lab.gate_bias_label(l, gate, j, side, convention, "ascii"),
                             f"{base}.bias_{side}", getattr(n, f"bias_{side}")))
    for name, values in (("initial_state", initial_state), ("initial_cell", initial_cell)):
        if values is None:
            continue
        for j, v in enumerate(values):
            rows.append((lab.gated_state_label(name, l, j, "ascii"),
                         f"net.layers[{l}].{name}[{j}]", v))
    return rows
