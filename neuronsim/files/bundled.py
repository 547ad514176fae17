"""The example networks that ship with neuronsim (``neuronsim demo NAME``).

Each is a network file in ``neuronsim/files/examples/``; ``example_path(name)``
gives its path so that it can be copied and edited.
"""

import os

from ..core.errors import SpecError

EXAMPLES = {
    "mazur": "mazur.json",
    "four-layer": "four-layer.json",
    "xor": "xor.json",
    "rnn": "rnn-parity.json",
    "long-range-elman": "long-range-elman.json",
    "long-range-lstm": "long-range-lstm.json",
}
# Other names of the examples: a file's own name (rnn-parity.json is "rnn").
ALIASES = {"rnn-parity": "rnn"}

# Mazur's names for the weights of his example, as (layer, neuron, input) in
# the 0-based Python API: w1 feeds h1 from i1, w2 feeds h1 from i2, ...
MAZUR_WEIGHT_NAMES = {
    "w1": (0, 0, 0), "w2": (0, 0, 1), "w3": (0, 1, 0), "w4": (0, 1, 1),
    "w5": (1, 0, 0), "w6": (1, 0, 1), "w7": (1, 1, 0), "w8": (1, 1, 1),
}


def example_path(name):
    """Path of the bundled network file called ``name``."""
    try:
        filename = EXAMPLES[ALIASES.get(name, name)]
    except KeyError:
        raise SpecError(f"unknown example {name!r} (known: {', '.join(bundled_names())})") from None
    return os.path.join(os.path.dirname(__file__), "examples", filename)


def network_file(text):
    """The file a SPEC argument names: a path, or else a bundled example's name.

    A file of that name in the working folder wins over a bundled example;
    a path that does not exist gives one line listing the bundled names.
    """
    if os.path.lexists(text):
        return text
    name = ALIASES.get(text, text)
    if name in EXAMPLES:
        return example_path(name)
    raise SpecError(f"{text}: cannot read (No such file or directory), and it is not the "
                    f"name of a bundled example ({', '.join(bundled_names())})")


def bundled_names():
    """Every name a bundled example answers to."""
    return list(EXAMPLES) + list(ALIASES)


def load_example(name, numbers="float"):
    """The bundled network ``name`` as a :class:`~neuronsim.core.network.Network`."""
    from ..core.network import Network

    return Network.from_spec(example_path(name), numbers=numbers)
