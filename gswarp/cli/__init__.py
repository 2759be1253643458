"""The ``gswarp`` command line. The library knows nothing of click; this package only parses
arguments, calls library functions and reports."""

from gswarp.cli.main import main

__all__ = ["main"]
