"""Network.copy: one copy for every tool, with what each keeps pinned.

- ``net.copy()``: everything (the web app's steps, the widget's loss curve);
- ``net.copy(batch=False)``: a new batch, the optimizer and its state kept
  (the cross-check, gradcheck, explain --update and the worksheets' update);
- ``net.copy(batch=False, rule=False)``: a new batch and plain gradient descent
  (explain, explain through time and the early-update mistake).

Each is checked for the optimizer state, the batch sums, the tracer, the
schedule's position, a learned initial state and the number system.
"""

from fractions import Fraction

import pytest

from neuronsim import Network
from neuronsim.trace import Tracer

SEQUENCE = {"inputs": 2, "loss": "half_sse", "learning_rate": 0.2, "layers": [
    {"type": "lstm", "size": 2, "init": "uniform", "seed": 2, "learn_initial_state": True},
    {"type": "gru", "size": 2, "init": "uniform", "seed": 3, "learn_initial_state": True},
    {"type": "recurrent", "activation": "tanh", "size": 2, "init": "uniform", "seed": 4,
     "learn_initial_state": True},
    {"activation": "linear", "size": 1, "init": "uniform", "seed": 5}],
    "samples": [{"input": [[1, 0], [0, 1], [1, 1]], "target": [[1], [0], [0.5]]},
                {"input": [[1, 1], [0, 0]], "target": [1]}]}
DENSE = {"inputs": 2, "loss": "half_sse", "learning_rate": 0.3, "layers": [
    {"activation": "tanh", "size": 3, "init": "uniform", "seed": 1},
    {"activation": "sigmoid", "size": 1, "init": "uniform", "seed": 2}],
    "samples": [{"input": [1, 0], "target": [1]}, {"input": [0, 1], "target": [0]}]}


def trained(spec, numbers="float", rule=True, half_batch=True):
    """A traced network two updates into training (Adam, a step schedule at epoch 2,
    clipping, an L2 penalty), with one more sample back-propagated and not applied."""
    net = Network.from_spec(spec, numbers=numbers)
    if rule:
        net.set_optimizer("adam").set_schedule("step", step_size=1, gamma=0.5)
        net.set_penalty(l2=0.01).set_clip(max_norm=0.5)
    Tracer().attach(net)
    for sample in net.samples:
        net.forward_pass(sample["input"])
        net.back_prop(sample["target"])
        net.update_weights()
        net.end_epoch()
    if half_batch:
        net.forward_pass(net.samples[0]["input"])
        net.back_prop(net.samples[0]["target"])
    return net


def owners(net):
    """Every owner of an optimizer state: the neurons and a recurrent layer itself."""
    return [o for layer in net.layers
            for o in list(layer.neurons) + ([layer] if layer.is_recurrent else [])]


def states(net):
    return [o.optimizer_state for o in owners(net)]


def parameters(net):
    return [layer.parameters() for layer in net.layers]


def sums(net):
    return [layer.gradient_sums() for layer in net.layers]


def one_update(net, sample=1):
    """The next sample and the update; returns the parameters and states after it."""
    s = net.samples[sample]
    net.forward_pass(s["input"])
    net.back_prop(s["target"])
    net.update_weights()
    return repr((parameters(net), states(net)))


@pytest.mark.parametrize("spec", [DENSE, SEQUENCE], ids=["dense", "sequence"])
def test_a_copy_keeps_everything_and_shares_nothing_it_could_change(spec):
    net = trained(spec)
    before = repr((parameters(net), states(net), sums(net)))
    copy = net.copy()
    assert copy.tracer is None and net.tracer is not None
    assert parameters(copy) == parameters(net) and sums(copy) == sums(net)
    assert copy.samples_in_batch == net.samples_in_batch == 1
    assert states(copy) == states(net) and all(
        a is None or a is not b for a, b in zip(states(copy), states(net)))
    assert copy.schedule.last_epoch == net.schedule.last_epoch == 2
    assert (copy.optimizer.name, copy.clip.max_norm, copy.penalty.l2) == ("adam", 0.5, 0.01)
    assert copy.numbers is net.numbers
    if spec is SEQUENCE:
        assert [getattr(l, "initial_state", None) for l in copy.layers] == [
            getattr(l, "initial_state", None) for l in net.layers]
        assert copy.layers[0].initial_cell == net.layers[0].initial_cell
    assert one_update(copy) == one_update(net)   # the same step from the same state
    assert repr((parameters(net), states(net))) != before   # ... which did move both
    other = trained(spec)
    assert one_update(other.copy()) != before


@pytest.mark.parametrize("spec", [DENSE, SEQUENCE], ids=["dense", "sequence"])
def test_a_copy_with_a_new_batch_keeps_the_rule_and_drops_the_half_done_batch(spec):
    net = trained(spec)
    copy = net.copy(batch=False)
    assert copy.samples_in_batch == 0 and net.samples_in_batch == 1
    assert all(v == 0 for layer in sums(copy) for group in layer for v in
               (group if isinstance(group[0], (int, float)) else
                [x for row in group for x in (row if isinstance(row, list) else [row])]))
    assert all(o.batch_grad is None and o.penalty_grad is None for o in owners(copy))
    assert copy.clip.last_norm is None and net.clip.last_norm is not None
    assert states(copy) == states(net) and copy.schedule.last_epoch == 2
    # the copy steps as the same network would without the half-done batch
    assert one_update(copy) == one_update(trained(spec, half_batch=False))
    assert net.samples_in_batch == 1 and sums(net) == sums(trained(spec))


@pytest.mark.parametrize("spec", [DENSE, SEQUENCE], ids=["dense", "sequence"])
def test_a_plain_copy_updates_by_gradient_descent_alone(spec):
    net = trained(spec)
    copy = net.copy(batch=False, rule=False)
    assert (copy.optimizer, copy.schedule, copy.clip, copy.penalty) == (None,) * 4
    assert all(o.optimizer_state is None and o.batch_grad is None for o in owners(copy))
    assert copy.samples_in_batch == 0 and parameters(copy) == parameters(net)
    assert net.optimizer is not None and all(s is not None for s in states(net))
    s = copy.samples[1]
    copy.forward_pass(s["input"])
    copy.back_prop(s["target"])
    neuron = copy.layers[-1].neurons[0]
    w, g = neuron.weights[0], neuron.weight_grad_sum[0]
    copy.update_weights()
    assert neuron.weights[0] == w - copy.learning_rate * (g / 1)
    assert copy.learning_rate == net.learning_rate   # no schedule: the rate itself


def test_a_copy_keeps_exact_fractions_and_their_number_system():
    spec = {"inputs": 1, "loss": "half_sse", "learning_rate": "1/4", "layers": [
        {"activation": "linear", "size": 1, "weights": [["1/2"]], "biases": ["1/3"]}],
        "samples": [{"input": [1], "target": [2]}]}
    net = Network.from_spec(spec, numbers="fraction")
    net.forward_pass([1])
    net.back_prop([2])
    for copy in (net.copy(), net.copy(batch=False), net.copy(batch=False, rule=False)):
        assert copy.numbers is net.numbers
        assert copy.layers[0].neurons[0].weights == [Fraction(1, 2)]
    copy = net.copy()
    copy.update_weights()
    assert copy.layers[0].neurons[0].weights == [Fraction(1, 2) - Fraction(1, 4) * Fraction(-7, 6)]


def test_precise_networks_copy_and_gradcheck_runs_on_them():
    """deepcopy of a precise network failed on its mpmath context (TypeError from
    mpq.__new__): gradcheck, compare and the web app copy with Network.copy."""
    pytest.importorskip("mpmath")
    from neuronsim.crosscheck.gradcheck import gradcheck

    net = Network.from_spec(DENSE, numbers="precise:30")
    net.forward_pass([1, 0])
    net.back_prop([1])
    copy = net.copy(batch=False)
    assert copy.numbers is net.numbers and copy.samples_in_batch == 0
    report = gradcheck(net)
    assert report.entries and all(e.status == "ok" for e in report.entries)
    assert net.samples_in_batch == 1


def test_the_tools_leave_the_network_and_its_half_done_batch_alone():
    from neuronsim.crosscheck.gradcheck import gradcheck
    from neuronsim.hand.explain import explain
    from neuronsim.hand.explain_update import explain_update
    from neuronsim.serve.actions import trace_copy

    net = trained(DENSE)
    before = repr((parameters(net), states(net), sums(net), net.samples_in_batch,
                   net.schedule.last_epoch))
    tracer = net.tracer
    gradcheck(net)
    explain(net, "w_11^(3)")
    e = explain_update(net, "w_11^(3)")
    assert e.optimizer == "adam" and not e.mismatches
    work, record, refusal = trace_copy(net, ([1, 0], [1]), "updated")
    assert record is not None and refusal is None and work is not net
    assert net.tracer is tracer
    assert repr((parameters(net), states(net), sums(net), net.samples_in_batch,
                 net.schedule.last_epoch)) == before


def test_a_fresh_copy_has_no_pass_under_way_and_a_full_copy_keeps_it():
    net = trained(SEQUENCE)
    assert net.history is not None
    fresh = net.copy(batch=False)
    assert (fresh.history, fresh.inputs, fresh.targets, fresh.step_losses) == (None,) * 4
    with pytest.raises(RuntimeError, match="needs a forward_pass"):
        fresh.back_prop(net.samples[0]["target"])
    full = net.copy()
    assert full.history is not net.history
    assert repr(full.history) == repr(net.history)
    assert full.states_of(0) == net.states_of(0)
