"""``python -m turbocat_cli``: the same as the ``turbocat`` command."""

from turbocat_cli.interrupts import main

main()
