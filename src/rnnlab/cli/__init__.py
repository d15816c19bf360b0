"""rnnlab.cli: the ``rnnlab`` command. One module per subcommand (``add_arguments`` + ``run``)."""
