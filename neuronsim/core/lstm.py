"""LSTM layers, gate by gate (torch.nn.LSTM's formulation and layout).

Unit j of an LSTM layer has four gate neurons (:class:`~neuronsim.core.gates.GateNeuron`),
in torch's order i, f, g, o: the input gate i, the forget gate f, the cell
candidate g and the output gate o.  It carries two states from step to step,
the cell state c and the hidden state h (h is what the layer above sees).

Forward at step t (x[t] from the layer below; h[0], c[0] the initial state):

    z_qj[t] = Σ_k w_qj,k x_k[t] + b^x_qj + Σ_m u_qj,m h_m[t-1] + b^h_qj    for q = i, f, g, o
    i_j = σ(z_ij),  f_j = σ(z_fj),  g_j = tanh(z_gj),  o_j = σ(z_oj)
    c_j[t] = f_j c_j[t-1] + i_j g_j
    h_j[t] = o_j tanh(c_j[t])

Backward at step t, step by step (the order of the code below):

    1. dE/dh_j[t] = e_j[t] + r_j[t]
           e_j[t]: from the layer above at step t (the output path)
           r_j[t] = Σ_q Σ_m u_qm,j δ_qm[t+1]: from every gate at step t+1
                    (the recurrent path; 0 at t = T)
    2. the output gate:   dE/do_j = dE/dh_j[t] · tanh(c_j[t]);   δ_oj = dE/do_j · σ'(z_oj)
    3. the cell state:    dE/dc_j[t] = dE/dh_j[t] · o_j · tanh'(c_j[t]) + f_j[t+1] · dE/dc_j[t+1]
           (the second term is the cell path: c[t] reaches c[t+1] through the
           forget gate of step t+1; 0 at t = T)
    4. the other gates:   dE/di_j = dE/dc_j[t] · g_j      δ_ij = dE/di_j · σ'(z_ij)
                          dE/df_j = dE/dc_j[t] · c_j[t-1]  δ_fj = dE/df_j · σ'(z_fj)
                          dE/dg_j = dE/dc_j[t] · i_j      δ_gj = dE/dg_j · tanh'(z_gj)
    5. sent back to step t-1: f_j[t] · dE/dc_j[t] (its cell path) and
       Σ_q u_q·,j δ_q·[t] (its recurrent path); to the layer below at step t:
       dE/dx_k[t] = Σ_q Σ_j w_qj,k δ_qj[t]

The gradients are each gate neuron's sums over t (neuronsim.core.gates);
with a learned initial state dE/dh_j[0] = r_j[0] and
dE/dc_j[0] = f_j[1] · dE/dc_j[1].  Truncated BPTT with k steps holds h[t-k]
*and* c[t-k] constant: every part of age a sends its cell path and its
recurrent path back as parts of age a + 1 (neuronsim.core.through_time).
"""

from .activations import get_activation
from .gates import GatedLayer, GateStep, add_part, keep_part
from .numbers import FLOAT
from .through_time import StepValues


class LSTMStep(StepValues):
    """Unit j's values at step t (``net.history[t - 1][l][j]``).

    Forward: ``inputs`` (x[t]), ``previous`` (h[t-1] of the layer),
    ``previous_cell`` (c_j[t-1]), ``gates`` ({"input", "forget", "cell",
    "output"}: a :class:`~neuronsim.core.gates.GateStep` each), ``cell``
    (c_j[t]), ``cell_tanh`` (tanh c_j[t]), ``cell_derivative`` (tanh'(c_j[t])),
    ``output`` (h_j[t]).  Backward: ``output_path`` (e_j[t]),
    ``recurrent_path`` (r_j[t]), ``output_grad`` (dE/dh_j[t] = e + r),
    ``cell_path`` (f_j[t+1] · dE/dc_j[t+1]) and ``cell_grad`` (dE/dc_j[t]);
    truncated BPTT only: ``cell_grad_parts[a]``, the part of dE/dc_j[t] of age a.
    """

    __slots__ = ("inputs", "previous", "previous_cell", "gates", "cell", "cell_tanh",
                 "cell_derivative", "output", "output_path", "recurrent_path", "output_grad",
                 "cell_path", "cell_grad", "cell_grad_parts")

    def __init__(self, inputs, previous, previous_cell, gates, cell, cell_tanh, cell_derivative,
                 output, output_path=None, recurrent_path=None, output_grad=None,
                 cell_path=None, cell_grad=None, cell_grad_parts=None):
        self.inputs = inputs
        self.previous = previous
        self.previous_cell = previous_cell
        self.gates = gates
        self.cell = cell
        self.cell_tanh = cell_tanh
        self.cell_derivative = cell_derivative
        self.output = output
        self.output_path = output_path
        self.recurrent_path = recurrent_path
        self.output_grad = output_grad
        self.cell_path = cell_path
        self.cell_grad = cell_grad
        self.cell_grad_parts = cell_grad_parts


class LSTMLayer(GatedLayer):
    """An LSTM layer: ``gates`` {"input", "forget", "cell", "output"} of n
    gate neurons each (``neurons``: all of them in that order, torch's rows).

    ``initial_state`` is h[0] and ``initial_cell`` c[0] (None: zeros); with
    ``learn_initial_state`` both are parameters (their last gradients in
    ``initial_grads``, their batch sums in ``initial_grad_sums``).  During a
    sequence ``state`` is h[t] and ``cell`` c[t].
    """

    kind = "lstm"
    GATES = ("input", "forget", "cell", "output")
    GATE_ACTIVATIONS = {"input": "sigmoid", "forget": "sigmoid", "cell": "tanh",
                        "output": "sigmoid"}
    STATES = ("initial_state", "initial_cell")

    @classmethod
    def from_arrays(cls, weight_ih, weight_hh, bias_ih, bias_hh, numbers=FLOAT, **options):
        """Torch's ``weight_ih_l0`` (4n × n_in), ``weight_hh_l0`` (4n × n),
        ``bias_ih_l0``, ``bias_hh_l0`` (4n) as nested lists; options
        ``initial_states`` ({"initial_state": h0, "initial_cell": c0}) and
        ``learn_initial_state``."""
        activations = {name: get_activation(name, numbers) for name in ("sigmoid", "tanh")}
        return cls.from_weights(weight_ih, weight_hh, bias_ih, bias_hh, activations, **options)

    # ------------------------------------------------------------ forward
    def start_sequence(self, initial_state=None):
        """h[0]: ``initial_state`` if given, else the layer's own; c[0] the layer's
        own (zeros if None)."""
        state = initial_state if initial_state is not None else self.initial_value(
            "initial_state")
        self.state = self.start_state = list(state)
        self.cell = self.start_cell = list(self.initial_value("initial_cell"))

    def forward_pass(self, inputs):
        """Every gate, then c[t] = f ⊙ c[t-1] + i ⊙ g and h[t] = o ⊙ tanh(c[t]).
        Returns h[t]."""
        previous, previous_cell = self.state, self.cell
        gate_outputs = {}
        for name, neurons in self.gates.items():
            gate_outputs[name] = [
                n.activate(inputs, previous, n.input_part(inputs) + n.recurrent_part(previous),
                           None) for n in neurons]
        i, f, g, o = (gate_outputs[name] for name in self.GATES)
        tanh = self.activation
        cell = [f_j * c_j + i_j * g_j for f_j, c_j, i_j, g_j in zip(f, previous_cell, i, g)]
        cell_tanh = [tanh.function(c) for c in cell]
        self._cell_derivative = [tanh.derivative(c, a) for c, a in zip(cell, cell_tanh)]
        self._inputs, self._previous, self._previous_cell = inputs, previous, previous_cell
        self._cell_tanh = cell_tanh
        self.cell = cell
        self.state = [o_j * a for o_j, a in zip(o, cell_tanh)]
        return self.state

    def remember_step(self):
        """One :class:`LSTMStep` per unit, with a GateStep per gate."""
        records = []
        for j in range(self.size):
            gates = {name: GateStep(n.z, n.output, n.derivative)
                     for name, n in ((name, self.gates[name][j]) for name in self.GATES)}
            records.append(LSTMStep(self._inputs, self._previous, self._previous_cell[j], gates,
                                    self.cell[j], self._cell_tanh[j],
                                    self._cell_derivative[j], self.state[j]))
        return records

    def recall_step(self, records):
        """Give every gate neuron back its values of one step, and the layer its
        h[t] (``outputs``: what the loss reads at a gated output layer)."""
        self.state = [record.output for record in records]
        for j, record in enumerate(records):
            for name in self.GATES:
                neuron, saved = self.gates[name][j], record.gates[name]
                neuron.inputs, neuron.previous = record.inputs, record.previous
                neuron.z, neuron.output, neuron.derivative = (saved.z, saved.output,
                                                              saved.derivative)

    # ------------------------------------------------------------ backward
    def back_prop_step(self, output_grads, need_input_grads, age, records, output_deltas=None):
        """Steps 1-5 of the module docstring at one time step (or for its part of
        age ``age``); stores them in ``records``; returns dE/dx[t] of the layer
        below, or None if not needed."""
        if output_deltas is not None:
            raise ValueError("an LSTM layer's output h is not paired with a loss")
        size = self.size
        carried = self.carried(age)
        recurrent_paths, cell_paths = carried if carried is not None else ([0] * size,) * 2
        if output_grads is None:
            output_grads = [0] * size
        i, f, g, o = (self.gates[name] for name in self.GATES)
        sent_cell = []
        for j, record in enumerate(records):
            # 1. dE/dh[t]: the output path and the recurrent path
            output_grad = output_grads[j] + recurrent_paths[j]
            # 2. the output gate: h = o · tanh(c)
            o[j].back_prop(output_grad * record.cell_tanh)
            # 3. the cell state: through tanh(c) to h, and to c[t+1] through its forget gate
            cell_grad = output_grad * o[j].output * record.cell_derivative + cell_paths[j]
            # 4. c = f · c[t-1] + i · g
            i[j].back_prop(cell_grad * g[j].output)
            f[j].back_prop(cell_grad * record.previous_cell)
            g[j].back_prop(cell_grad * i[j].output)
            # 5. the cell path to step t-1, through this step's forget gate
            sent_cell.append(cell_grad * f[j].output)
            add_part(record, age, output_path=output_grads[j], recurrent_path=recurrent_paths[j],
                     output_grad=output_grad, cell_path=cell_paths[j], cell_grad=cell_grad)
            keep_part(record, age, "cell_grad_parts", cell_grad)
            for name in self.GATES:
                n = self.gates[name][j]
                record.gates[name].add_backward(age, n.output_grad, n.delta, n.hidden_delta)
        # 5. the recurrent path to step t-1: Σ_q U_qᵀ δ_q
        self._step.append((self.recurrent_paths(), sent_cell))
        return self.input_grads() if need_input_grads else None
