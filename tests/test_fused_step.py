"""Network.step's fused online step (Layer.back_prop_and_update) gives the numbers of
forward_pass, back_prop and update_weights called one after the other, bit for bit.

The two are compared by ``repr`` (so -0.0 and 0.0 differ) on every weight, bias, δ
and dE/da after several steps, for each activation and loss the fused path takes,
both reductions, fixed biases, a schedule and exact fractions; and the cases it
must not take (a batch under way, an optimizer, a filtered tracer, softmax
without its paired loss) still give the same numbers.  A tracer records the
same numbers from a fused step as from the three separate calls."""

import random

import pytest

from neuronsim import Network
from neuronsim.core import network as network_module
from neuronsim.trace import Tracer


def build(sizes, hidden, output, loss, seed=3, **options):
    rng = random.Random(seed)
    weights = [[[rng.uniform(-1, 1) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [[rng.uniform(-0.5, 0.5) for _ in range(n_out)] for n_out in sizes[1:]]
    # a zero bias and a zero weight: the sign of a 0.0 after the update must agree too
    biases[0][0] = -0.0
    weights[-1][0][0] = 0.0
    acts = [hidden] * (len(sizes) - 2) + [output]
    return Network.from_arrays(weights, biases, acts, loss, **options)


def samples(sizes, count=6, seed=5):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        x = [rng.uniform(-2, 2) for _ in range(sizes[0])]
        t = [rng.random() for _ in range(sizes[-1])]
        if sizes[-1] > 1:
            total = sum(t)   # (test data) a distribution, for cross_entropy
            t = [v / total for v in t]
        out.append((x, t))
    return out


def numbers_of(net):
    neurons = [n for layer in net.layers for n in layer.neurons]
    values = []
    for n in neurons:
        values += list(n.weights) + [n.bias, n.delta, n.output_grad, n.bias_grad_sum]
    return list(map(repr, values)) + [repr(net.last_loss), net.samples_in_batch]


def separate_steps(net, x, t, rate):
    net.forward_pass(x)
    value = net.back_prop(t)
    net.update_weights(rate)
    return value


def count_fused_steps(monkeypatch):
    """A list that gets an item each time Network._fused_step runs."""
    calls = []
    original = network_module.Network._fused_step

    def counting(self, *arguments):
        calls.append(1)
        return original(self, *arguments)

    monkeypatch.setattr(network_module.Network, "_fused_step", counting)
    return calls


CASES = [
    ("relu", "linear", "half_sse", {}),
    ("sigmoid", "sigmoid", "binary_cross_entropy", {}),        # paired δ = a - t
    ("tanh", "softmax", "cross_entropy", {}),                  # paired, softmax output
    ("leaky_relu", "tanh", "mse", {"reduction": "sum"}),
    ("relu", "sigmoid", "sse", {"update_biases": False}),
    ("softmax", "softmax", "cross_entropy", {}),   # a hidden softmax needs its Jacobian
    ("softmax", "sigmoid", "binary_cross_entropy", {}),
]


@pytest.mark.parametrize("hidden,output,loss,options", CASES)
@pytest.mark.parametrize("sizes", [[2, 3, 2], [3, 2, 2, 2], [20, 18, 2]])
@pytest.mark.parametrize("rate", [0.3, 1e-3])
def test_fused_step_is_bit_identical(sizes, hidden, output, loss, options, rate):
    fused, plain = (build(sizes, hidden, output, loss, **options) for _ in range(2))
    for x, t in samples(sizes):
        a = fused.step(x, t, rate)
        b = separate_steps(plain, x, t, rate)
        assert repr(a) == repr(b)
        assert numbers_of(fused) == numbers_of(plain)


def test_fused_step_runs_and_is_skipped_where_it_must_be(monkeypatch):
    calls = count_fused_steps(monkeypatch)
    sizes = [2, 2, 2]
    (x, t), = samples(sizes, count=1)
    net = build(sizes, "relu", "linear", "half_sse")
    net.step(x, t, 0.1)
    assert calls == [1]
    Tracer(enabled=False).attach(net)
    net.step(x, t, 0.1)
    assert calls == [1, 1]       # a disabled tracer records nothing: fused
    Tracer(keep=False).attach(net)
    net.step(x, t, 0.1)
    assert calls == [1, 1, 1]    # a tracer of every neuron follows the fused step
    for setup in (lambda n: Tracer(neurons=[0]).attach(n),         # a filtered tracer
                  lambda n: Tracer(batches=True).attach(n),        # a batch recorder
                  lambda n: n.set_optimizer("adam"),
                  lambda n: (n.forward_pass(x), n.back_prop(t)),   # a batch under way
                  lambda n: n.set_penalty(l2=0.1)):
        fused, plain = build(sizes, "relu", "linear", "half_sse"), build(sizes, "relu",
                                                                          "linear",
                                                                          "half_sse")
        setup(fused)
        setup(plain)
        before = len(calls)
        assert repr(fused.step(x, t, 0.1)) == repr(separate_steps(plain, x, t, 0.1))
        assert numbers_of(fused) == numbers_of(plain)
        assert len(calls) == before
    # softmax that is not a paired output: the forward pass hands over to back_prop
    for hidden, output, loss in (("softmax", "linear", "half_sse"),
                                 ("relu", "softmax", "half_sse")):
        fused, plain = (build([2, 3, 2], hidden, output, loss) for _ in range(2))
        for x, t in samples([2, 3, 2], count=3):
            assert repr(fused.step(x, t, 0.1)) == repr(separate_steps(plain, x, t, 0.1))
            assert numbers_of(fused) == numbers_of(plain)


def test_fused_step_with_a_schedule_and_fractions():
    sizes = [2, 2, 1]
    for options in ({"numbers": "fraction"}, {}):
        fused, plain = (build(sizes, "relu", "linear", "half_sse", **options)
                        for _ in range(2))
        for net in (fused, plain):
            net.set_schedule("step", step_size=1, gamma=0.5)
        for x, t in samples(sizes, count=3):
            assert repr(fused.step(x, t, 0.5)) == repr(separate_steps(plain, x, t, 0.5))
            fused.end_epoch()
            plain.end_epoch()
            assert numbers_of(fused) == numbers_of(plain)


def test_a_bad_learning_rate_fails_as_before():
    net = build([2, 2, 1], "relu", "linear", "half_sse")
    with pytest.raises(ValueError, match="learning_rate must be a finite number above 0"):
        net.step([1.0, 2.0], [0.5], -1.0)
    assert net.samples_in_batch == 1     # back_prop ran, as in the separate steps


def test_a_bad_target_fails_as_before():
    fused, plain = (build([2, 2, 1], "relu", "linear", "half_sse") for _ in range(2))
    fused.step([1.0, 2.0], [0.5], 0.1)
    separate_steps(plain, [1.0, 2.0], [0.5], 0.1)
    with pytest.raises(Exception, match="target") as fused_error:
        fused.step([0.5, 1.0], [0.5, 0.2], 0.1)
    with pytest.raises(Exception, match="target") as plain_error:
        separate_steps(plain, [0.5, 1.0], [0.5, 0.2], 0.1)
    assert str(fused_error.value) == str(plain_error.value)
    # back_prop consumed the failed step's forward pass in both
    for net in (fused, plain):
        with pytest.raises(RuntimeError, match="needs a forward_pass"):
            net.back_prop([0.3])
    assert numbers_of(fused) == numbers_of(plain)


# ----------------------------------------------------------------------
# A tracer that follows the fused step records what it records from
# forward_pass, back_prop and update_weights: every field of every record.
# ----------------------------------------------------------------------
RECORD_FIELDS = ("layer", "neuron", "inputs", "weights", "bias", "z", "output", "derivative",
                 "output_grad", "delta", "downstream", "weight_grads", "bias_grad",
                 "batch_weight_grads", "batch_bias_grad", "new_weights", "new_bias",
                 "jacobian_sum", "applied_weight_grads", "applied_bias_grad",
                 "penalty_weight_grads", "state_before", "state_after")
STEP_FIELDS = ("index", "input", "activations", "loss_name", "target", "outputs", "loss",
               "paired_output", "learning_rate", "batch_size", "reduction", "update_biases",
               "updated", "activation_params", "sizes", "rule")


def recorded(tracer):
    """Every field of every finished step and neuron record, by repr."""
    out = []
    for step in tracer.steps:
        out.append([repr(getattr(step, name)) for name in STEP_FIELDS])
        for record in step.neurons():
            out.append([repr(getattr(record, name)) for name in RECORD_FIELDS])
    return out


@pytest.mark.parametrize("hidden,output,loss,options", CASES + [
    ("relu", "linear", "half_sse", {"numbers": "fraction"})])
@pytest.mark.parametrize("sizes", [[2, 3, 2], [3, 2, 2, 2], [20, 18, 2]])
def test_a_tracer_records_the_same_from_a_fused_step(sizes, hidden, output, loss, options,
                                                      monkeypatch):
    fused, plain = (build(sizes, hidden, output, loss, **options) for _ in range(2))
    fused.set_schedule("step", step_size=1, gamma=0.5)
    plain.set_schedule("step", step_size=1, gamma=0.5)
    seen = []
    fused_tracer = Tracer(sink=seen.append).attach(fused)
    plain_tracer = Tracer().attach(plain)
    calls = count_fused_steps(monkeypatch)
    rate = 0.3 if "numbers" not in options else 0.5
    for x, t in samples(sizes, count=4):
        a = fused.step(x, t, rate)
        b = separate_steps(plain, x, t, rate)
        fused.end_epoch()
        plain.end_epoch()
        assert repr(a) == repr(b)
    assert len(calls) == 4
    assert numbers_of(fused) == numbers_of(plain)
    assert recorded(fused_tracer) == recorded(plain_tracer)
    assert seen == fused_tracer.steps and len(seen) == 4
    assert fused_tracer.current is None and plain_tracer.current is None
    for step in fused_tracer.steps:     # what the derived lists are made of
        for record in step.neurons():
            assert record.weight_grads == [a * record.delta for a in record.inputs]
            assert record.batch_weight_grads == [g / 1 for g in record.weight_grads]


def test_a_fused_traced_step_renders_as_the_separate_calls():
    from neuronsim.render.tables import render_records

    fused, plain = (build([3, 2, 2, 2], "tanh", "softmax", "cross_entropy") for _ in range(2))
    fused_tracer, plain_tracer = Tracer().attach(fused), Tracer().attach(plain)
    for x, t in samples([3, 2, 2, 2], count=2):
        fused.step(x, t, 0.3)
        separate_steps(plain, x, t, 0.3)
    for format in ("plain", "markdown", "latex", "html"):
        assert (render_records(fused_tracer.steps, format=format)
                == render_records(plain_tracer.steps, format=format))
