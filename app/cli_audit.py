"""`flask audit seal|verify`: chain the trail, prove it unchanged (issue 5)."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from .services.records.audit import seal, verify


@click.group()
def audit():
    """The tamper-evident audit trail."""


@audit.command("seal")
@with_appcontext
def seal_cmd():
    """Chain every committed entry not chained yet (the worker does this on every sweep)."""
    total = 0
    while True:
        sealed = seal()
        total += sealed
        if not sealed:
            break
    click.echo(f"sealed {total} entr{'y' if total == 1 else 'ies'}")


@audit.command("verify")
@with_appcontext
def verify_cmd():
    """Recompute every entry's hash and link; exit 1 and name the first broken link if any."""
    result = verify()
    click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
    if not result["ok"]:
        broken = result["first_broken"]
        click.echo(f"BROKEN at entry {broken['id']} (seq {broken['seq']}): {broken['problem']}", err=True)
        sys.exit(1)
