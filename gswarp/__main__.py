"""``python -m gswarp``: the command line, as the ``gswarp`` script."""

from gswarp.cli import main

if __name__ == "__main__":
    main()
