"""Optimizers compared on one problem: the same network, the same samples, the
same start, one optimizer each (``neuronsim demo optimizers``).

Each run trains a fresh copy of the bundled XOR network (2-2-1, tanh hidden,
sigmoid output, binary cross-entropy) full batch, so no shuffling enters: the
four samples make one batch and one update per epoch, and an epoch's loss is
the mean loss before its update.  Every optimizer has its own learning rate
(a rate good for SGD makes Adam's steps, which are about η each, far too
large), listed with it.  The result is each loss curve and the number of
steps each needs to reach a loss.

    >>> runs = race(epochs=50)
    >>> [run.label for run in runs]
    ['SGD', 'momentum', 'RMSprop', 'Adagrad', 'Adam', 'AdamW']
    >>> runs[0].losses[0] == runs[4].losses[0]      # the same start
    True
"""

from dataclasses import dataclass

from ..files.bundled import load_example

# (label, optimizer, its options, learning rate): torch's names and defaults
# but for the options given.
CONTESTANTS = [
    ("SGD", "sgd", {}, 0.5),
    ("momentum", "sgd", {"momentum": 0.9}, 0.1),
    ("RMSprop", "rmsprop", {}, 0.02),
    ("Adagrad", "adagrad", {}, 0.3),
    ("Adam", "adam", {}, 0.05),
    ("AdamW", "adamw", {"weight_decay": 0.01}, 0.05),
]
EPOCHS = 500
TARGETS = (0.5, 0.1, 0.05, 0.01)
PROBLEM = "xor"


@dataclass
class Run:
    """One optimizer's run: ``losses[e]`` is the loss of epoch e + 1."""

    label: str
    optimizer: str
    options: dict
    learning_rate: float
    losses: list

    def steps_to(self, loss):
        """The first epoch (= update: full batch) whose loss is <= ``loss``, or None."""
        return next((epoch for epoch, value in enumerate(self.losses, 1) if value <= loss),
                    None)


def race(epochs=EPOCHS, contestants=CONTESTANTS, problem=PROBLEM):
    """Train a fresh copy of the bundled ``problem`` with each contestant for
    ``epochs`` full-batch epochs; returns a :class:`Run` per contestant."""
    runs = []
    for label, name, options, rate in contestants:
        net = load_example(problem).set_optimizer(name, **options)
        losses = net.train(epochs=epochs, learning_rate=rate, batch_size=None, shuffle=False)
        runs.append(Run(label, name, dict(options), rate, losses))
    return runs


def steps_table(runs, targets=TARGETS):
    """Rows [label, optimizer with options, η, steps to each target loss (None:
    not reached), final loss]."""
    rows = []
    for run in runs:
        options = ", ".join(f"{key} {value}" for key, value in run.options.items())
        rows.append([run.label, run.optimizer + (f" ({options})" if options else ""),
                     run.learning_rate] + [run.steps_to(t) for t in targets]
                    + [run.losses[-1]])
    return rows
