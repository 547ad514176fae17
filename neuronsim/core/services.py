"""What the core's Network offers but the rest of the package implements.

The core imports nothing outside ``neuronsim.core`` (docs/architecture.md).
Yet users look for ``Network.from_spec``, ``net.save``, ``Network.from_torch``,
``net.draw`` and ``net.widget`` on the network itself.  So the packages that
implement them (``neuronsim.files``, ``neuronsim.crosscheck``, ``neuronsim.render``,
``neuronsim.classroom``) are
registered here by ``neuronsim/__init__.py``, which Python runs before any
module of the package, and the core's methods call them by name.
"""

_PROVIDERS = {}


def provide(name, function):
    """Register ``function`` as the implementation of the service ``name``."""
    _PROVIDERS[name] = function


def service(name):
    """The function registered for ``name``."""
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise RuntimeError(f"{name!r} is implemented outside neuronsim.core and was not "
                           "registered (import the neuronsim package)") from None
