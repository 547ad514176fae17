"""One module per ``neuronsim`` subcommand (see :mod:`neuronsim.cli`)."""
