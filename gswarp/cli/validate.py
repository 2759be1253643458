"""``gswarp validate SPEC...``: check specs and print their normalized form."""

from __future__ import annotations

import click
import yaml

from gswarp.cli.options import EXIT_USAGE, echo_error
from gswarp.errors import SpecError
from gswarp.spec import load_spec


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
def validate(specs: tuple[str, ...]) -> None:
    """Check each SPEC; print it with every default filled in (YAML, on stdout).

    Exit status 0 when all are valid, 2 otherwise (each error names file:line:column).
    """
    failed = False
    for index, path in enumerate(specs):
        try:
            spec = load_spec(path)
        except SpecError as error:
            echo_error(str(error))
            failed = True
            continue
        text = yaml.safe_dump(spec.normalized(), sort_keys=False, default_flow_style=None)
        header = f"# {path}\n" if len(specs) > 1 else ""
        separator = "---\n" if index and len(specs) > 1 else ""
        click.echo(separator + header + text, nl=False)
    if failed:
        raise SystemExit(EXIT_USAGE)
