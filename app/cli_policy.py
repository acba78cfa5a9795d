"""`flask policy explain …`: what a profile says about one visit, as one JSON object."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from workflows.policy import PolicyError

from .services.policy import explain_request


@click.group("policy")
def policy():
    """Policy profiles (SOP_RULES §0.3)."""


@policy.command("explain")
@click.option("--profile", default=None, help="profile code, e.g. P000-2")
@click.option("--category", required=True, help="complaint, repair, special_service, …")
@click.option("--trigger", required=True, help="ISO 8601 with offset, e.g. 2024-01-31T10:00:00+08:00")
@click.option("--severity", default=None, type=click.Choice(["MAJOR", "IMPORTANT", "MINOR"]))
@click.option("--count", default=None, help="eligible events in the period (gives sample_size/min_home)")
@click.option("--project", default=None, help="project key: use its effective policy and overrides")
@click.option("--subtype", default=None, help="a sub-type with its own window, e.g. safety or leak (P004-6 repair)")
@with_appcontext
def explain_cmd(profile, category, trigger, severity, count, project, subtype):
    """Print the window, rate, sample size, visitor and deadlines for one trigger."""
    try:
        result = explain_request(profile, category, trigger, severity, count, project, subtype)
    except (PolicyError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
