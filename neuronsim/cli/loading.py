"""The SPEC argument of every command: a network file, or a bundled example's name.

:func:`load_network_argument` is the one place commands read a network:

1. the argument names a file, or else a bundled example (``mazur``,
   ``four-layer``, ``xor``, ``rnn``/``rnn-parity``); a name that is neither
   gets one line listing the bundled names;
2. the file is read (a regular file, at most budgets.NETWORK_FILE_BYTES) and
   parsed;
3. the command's work budget is checked against the size the file
   describes, before a single neuron is built (neuronsim.cli.budgets);
4. the network is built and checked; every error names the file.
"""

from ..core.errors import NeuronsimError
from ..core.numbers import get_numbers
from ..files.bundled import network_file
from ..files.spec import load_network, read_spec_file
from .budgets import NETWORK_FILE_BYTES, NetworkSize, check_network

def load_network_argument(text, numbers="float", budget=None):
    """The network ``text`` names, in ``numbers``.

    Every command takes every network (any stack of layer kinds).
    ``budget(size, numbers)``: the command's check of a
    :class:`~neuronsim.cli.budgets.NetworkSize`; it raises to refuse.  Every
    network, budget or not, is held to budgets.PARAMETERS.
    """
    numbers = get_numbers(numbers)   # an unknown --numbers is reported before the file is read
    path = network_file(text)
    spec = read_spec_file(path, NETWORK_FILE_BYTES)
    size = NetworkSize.of_spec(spec)
    if size is not None:
        check_network(getattr(budget, "command", "neuronsim"), size)
        if budget is not None:
            budget(size, numbers)
    try:
        net = load_network(spec, numbers)
    except NeuronsimError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    if budget is not None and size is None:
        budget(NetworkSize.of_network(net), numbers)
    return net
