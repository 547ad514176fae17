"""GRU layers, gate by gate (torch.nn.GRU's formulation and layout).

Unit j of a GRU layer has three gate neurons (:class:`~neuronsim.core.gates.GateNeuron`),
in torch's order r, z, n: the reset gate r, the update gate z and the new
gate n.  It carries the hidden state h from step to step.

Forward at step t (x[t] from the layer below; h[0] the initial state):

    r_j = σ(Σ_k w_rj,k x_k + b^x_rj + Σ_m u_rj,m h_m[t-1] + b^h_rj)
    z_j = σ(Σ_k w_zj,k x_k + b^x_zj + Σ_m u_zj,m h_m[t-1] + b^h_zj)
    n_j = tanh(Σ_k w_nj,k x_k + b^x_nj + r_j · (Σ_m u_nj,m h_m[t-1] + b^h_nj))
    h_j[t] = (1 - z_j) · n_j + z_j · h_j[t-1]

(b^h_n inside the reset gate's product, as in torch.)  Write
s_j = Σ_m u_nj,m h_m[t-1] + b^h_nj, the new gate's recurrent part.

Backward at step t, step by step (the order of the code below):

    1. dE/dh_j[t] = e_j[t] + r_j[t]   (the output path from the layer above, and
       the recurrent path from step t+1: 0 at t = T; see 5)
    2. the new gate:     dE/dn_j = dE/dh_j[t] · (1 - z_j);        δ_nj = dE/dn_j · tanh'(z_nj)
    3. the update gate:  dE/dz_j = dE/dh_j[t] · (h_j[t-1] - n_j); δ_zj = dE/dz_j · σ'(z_zj)
    4. the reset gate:   dE/dr_j = δ_nj · s_j;                    δ_rj = dE/dr_j · σ'(z_rj)
       (the new gate's recurrent side sees δ^h_nj = r_j · δ_nj: it gives
       dE/du_nj,m = r_j δ_nj h_m[t-1] and dE/db^h_nj = r_j δ_nj)
    5. sent back to step t-1: dE/dh_j[t-1] = z_j · dE/dh_j[t]
                                          + Σ_m (u_rm,j δ_rm + u_zm,j δ_zm + u_nm,j r_m δ_nm);
       to the layer below: dE/dx_k[t] = Σ_q Σ_j w_qj,k δ_qj[t]

With a learned initial state dE/dh_j[0] is what step 1 sends back.
Truncated BPTT with k steps holds h[t-k] constant (both the direct path
z ⊙ h[t-1] and the gates' recurrent weights are crossings of one step).
"""

from .activations import get_activation
from .gates import GatedLayer, GateStep, add_part, keep_part
from .numbers import FLOAT
from .through_time import StepValues


class GRUStep(StepValues):
    """Unit j's values at step t (``net.history[t - 1][l][j]``).

    Forward: ``inputs`` (x[t]), ``previous`` (h[t-1] of the layer), ``gates``
    ({"reset", "update", "new"}: a :class:`~neuronsim.core.gates.GateStep`
    each; the new gate's ``hidden_part`` is s_j), ``output`` (h_j[t]).
    Backward: ``output_path`` (e_j[t]), ``recurrent_path`` (r_j[t]) and
    ``output_grad`` (dE/dh_j[t] = e + r); truncated BPTT only:
    ``output_grad_parts[a]``, the part of dE/dh_j[t] of age a.
    """

    __slots__ = ("inputs", "previous", "gates", "output", "output_path", "recurrent_path",
                 "output_grad", "output_grad_parts")

    def __init__(self, inputs, previous, gates, output, output_path=None, recurrent_path=None,
                 output_grad=None, output_grad_parts=None):
        self.inputs = inputs
        self.previous = previous
        self.gates = gates
        self.output = output
        self.output_path = output_path
        self.recurrent_path = recurrent_path
        self.output_grad = output_grad
        self.output_grad_parts = output_grad_parts


class GRULayer(GatedLayer):
    """A GRU layer: ``gates`` {"reset", "update", "new"} of n gate neurons each
    (``neurons``: all of them in that order, torch's rows).  ``initial_state``
    is h[0] (None: zeros), learned with ``learn_initial_state``; during a
    sequence ``state`` is h[t]."""

    kind = "gru"
    GATES = ("reset", "update", "new")
    GATE_ACTIVATIONS = {"reset": "sigmoid", "update": "sigmoid", "new": "tanh"}
    STATES = ("initial_state",)

    @classmethod
    def from_arrays(cls, weight_ih, weight_hh, bias_ih, bias_hh, numbers=FLOAT, **options):
        """Torch's ``weight_ih_l0`` (3n × n_in), ``weight_hh_l0`` (3n × n),
        ``bias_ih_l0``, ``bias_hh_l0`` (3n) as nested lists; options
        ``initial_states`` ({"initial_state": h0}) and ``learn_initial_state``."""
        activations = {name: get_activation(name, numbers) for name in ("sigmoid", "tanh")}
        return cls.from_weights(weight_ih, weight_hh, bias_ih, bias_hh, activations, **options)

    # ------------------------------------------------------------ forward
    def start_sequence(self, initial_state=None):
        """h[0]: ``initial_state`` if given, else the layer's own (zeros if None)."""
        state = initial_state if initial_state is not None else self.initial_value(
            "initial_state")
        self.state = self.start_state = list(state)

    def forward_pass(self, inputs):
        """r and z, then n with r ⊙ s, then h[t] = (1 - z) ⊙ n + z ⊙ h[t-1].  Returns h[t]."""
        previous = self.state
        r = [n.activate(inputs, previous, n.input_part(inputs) + n.recurrent_part(previous), None)
             for n in self.gates["reset"]]
        z = [n.activate(inputs, previous, n.input_part(inputs) + n.recurrent_part(previous), None)
             for n in self.gates["update"]]
        new = []
        for neuron, r_j in zip(self.gates["new"], r):
            s_j = neuron.recurrent_part(previous)
            new.append(neuron.activate(inputs, previous, neuron.input_part(inputs) + r_j * s_j,
                                       s_j))
        self._inputs, self._previous = inputs, previous
        self.state = [(1 - z_j) * n_j + z_j * h_j for z_j, n_j, h_j in zip(z, new, previous)]
        return self.state

    def remember_step(self):
        """One :class:`GRUStep` per unit, with a GateStep per gate."""
        records = []
        for j in range(self.size):
            gates = {}
            for name in self.GATES:
                n = self.gates[name][j]
                gates[name] = GateStep(n.z, n.output, n.derivative, n.hidden_part)
            records.append(GRUStep(self._inputs, self._previous, gates, self.state[j]))
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
                neuron.hidden_part = saved.hidden_part

    # ------------------------------------------------------------ backward
    def back_prop_step(self, output_grads, need_input_grads, age, records, output_deltas=None):
        """Steps 1-5 of the module docstring at one time step (or for its part of
        age ``age``); stores them in ``records``; returns dE/dx[t] of the layer
        below, or None if not needed."""
        if output_deltas is not None:
            raise ValueError("a GRU layer's output h is not paired with a loss")
        size = self.size
        carried = self.carried(age)
        recurrent_paths = carried[0] if carried is not None else [0] * size
        if output_grads is None:
            output_grads = [0] * size
        r, z, new = (self.gates[name] for name in self.GATES)
        direct = []
        for j, record in enumerate(records):
            # 1. dE/dh[t]: the output path and the recurrent path
            output_grad = output_grads[j] + recurrent_paths[j]
            # 2. the new gate: h = (1 - z) · n + z · h[t-1]; its recurrent side sees r · δ_n
            delta_new = new[j].back_prop(output_grad * (1 - z[j].output), r[j].output)
            # 3. the update gate
            z[j].back_prop(output_grad * (record.previous[j] - new[j].output))
            # 4. the reset gate: z_n = ... + r · s
            r[j].back_prop(delta_new * new[j].hidden_part)
            # 5. the direct path to h[t-1]
            direct.append(z[j].output * output_grad)
            add_part(record, age, output_path=output_grads[j], recurrent_path=recurrent_paths[j],
                     output_grad=output_grad)
            keep_part(record, age, "output_grad_parts", output_grad)
            for name in self.GATES:
                n = self.gates[name][j]
                record.gates[name].add_backward(age, n.output_grad, n.delta, n.hidden_delta)
        # 5. and through every gate's recurrent weights: Σ_q U_qᵀ δ^h_q
        sent = [d + p for d, p in zip(direct, self.recurrent_paths())]
        self._step.append((sent,))
        return self.input_grads() if need_input_grads else None
