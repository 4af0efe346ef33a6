"""``python -m jobqueue``: the same command line as the ``jobqueue`` script."""

from jobqueue.cli import main

main()
