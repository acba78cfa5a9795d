"""`flask huifang …`: set up, demo data, the timer worker. Every command is idempotent."""
from __future__ import annotations

import os
import secrets
import signal
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from workflows.actor import Actor
from workflows.errors import EngineError

from .demo import load_demo
from .extensions import db
from .security import ROLES, sync_roles
from .services.engine import BPMN_DIR, get_engine, load_bundle
from .services.flows.repair_sampling import draw_due_repair_samples
from .services.notifications import send_pending_mail
from .services.policy import seed_profiles
from .services.records.audit import seal
from .services.records.retention import start_due_filings
from .services.reporting.reports import start_due_reports
from .services.reporting.surveys import issue_due_surveys


@click.group()
def huifang():
    """Huifang administration."""


@huifang.command("init")
@with_appcontext
def init():
    """Roles, permissions, the shipped process models and the first admin."""
    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    for role in ROLES:
        sm.find_role(role) or sm.add_role(role)
    appbuilder.add_permissions(update_perms=True)
    sync_roles(sm)
    deployed = deploy_shipped_models(Actor("system"))
    click.echo(f"policy profiles seeded: {', '.join(seed_profiles()) or 'none new'}")  # POLICY
    click.echo(f"roles: {', '.join(ROLES)}")
    for key, number in deployed:
        click.echo(f"process model {key}: version {number}")
    if sm.find_user(username="admin") is None:
        password = os.environ.get("HUIFANG_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = sm.add_user("admin", "Huifang", "Admin", "admin@huifang.local", sm.find_role("Admin"), password)
        if not user:
            raise click.ClickException("could not create the admin user")
        if os.environ.get("HUIFANG_ADMIN_PASSWORD"):
            click.echo("admin user created (password from HUIFANG_ADMIN_PASSWORD)")
        else:
            click.echo(f"admin user created: login admin / {password}  (shown once; change it after logging in)")
    else:
        click.echo("admin user exists")


def deploy_shipped_models(actor: Actor) -> list[tuple[str, int]]:
    """Deploy every bpmn/<key>.bpmn whose content is not deployed yet (called processes first)."""
    engine = get_engine()
    roles = set(ROLES)
    result = []
    pending = sorted(path.stem for path in BPMN_DIR.glob("*.bpmn"))
    for _attempt in range(len(pending) + 1):  # a diagram calling another waits until that one is deployed
        failed = []
        for key in pending:
            xml, forms = load_bundle(key)
            try:
                version = engine.deploy(key, xml, forms, actor, comment="shipped with Huifang", known_roles=roles)
                result.append((key, version.number))
            except EngineError as err:
                failed.append((key, err))
        if not failed:
            return result
        if len(failed) == len(pending):
            raise click.ClickException("; ".join(f"{key}: {err}" for key, err in failed))
        pending = [key for key, _ in failed]
    return result


@huifang.command("add-user")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="role name; repeat for several")
@click.option("--password", envvar="HUIFANG_USER_PASSWORD", required=True)
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@with_appcontext
def add_user(username, roles, password, first_name, last_name):
    """Create a user with roles (nothing happens if the user exists)."""
    sm = current_app.appbuilder.sm
    if sm.find_user(username=username):
        click.echo(f"user {username} exists")
        return
    role_objs = []
    for name in roles:
        role = sm.find_role(name)
        if role is None:
            raise click.BadParameter(f"no role named {name}; roles are {', '.join(ROLES)}", param_hint="--role")
        role_objs.append(role)
    sm.add_user(username, first_name or username, last_name or "-", f"{username}@huifang.local", role_objs, password)
    click.echo(f"user {username} created with roles {', '.join(roles)}")


@huifang.command("worker")
@click.option("--once", is_flag=True, help="fire what is due now and exit")
@click.option("--poll", type=float, default=None, help="seconds between sweeps when idle")
@with_appcontext
def worker(once, poll):
    """Fire due timers. Several workers may run against one PostgreSQL database."""
    engine = get_engine()
    poll = poll if poll is not None else current_app.config["WORKER_POLL_SECONDS"]
    stopping = []
    previous = {sig: signal.signal(sig, lambda *_: stopping.append(True)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            try:
                fired = engine.fire_due_timers()
            except Exception as err:  # e.g. the database restarting: keep the worker alive
                engine.session.rollback()
                click.echo(f"sweep failed, retrying: {type(err).__name__}: {err}", err=True)
                if once:
                    raise
                time.sleep(poll)
                continue
            if fired:
                click.echo(f"fired {fired} timer(s)")
            for name, step in _SWEEP_STEPS:
                _run_step(name, step)
            if once:
                break
            if not fired:
                time.sleep(poll)
    finally:
        for sig, handler in previous.items():  # leave the caller's handlers as they were
            signal.signal(sig, handler)
    click.echo("worker stopped")


def _run_step(name: str, step) -> None:
    """One step of a sweep; a failure is reported and retried on the next sweep, the worker stays up."""
    try:
        for line in step():
            click.echo(line)
    except Exception as err:  # e.g. the database restarting
        db.session.rollback()
        click.echo(f"{name} failed, retrying: {type(err).__name__}: {err}", err=True)


def _repair_samples():
    """SMP-01/SMP-04: the repair samples that are due (idempotent)."""
    return [f"drew the repair sample of {row.project_key} {row.period}: {len(row.sample)} visit(s)"
            for row in draw_due_repair_samples()]


def _filings():
    """RET-02/AMB-09: each project's filing task of the current period (idempotent)."""
    return [f"filing task started: {key}" for key in start_due_filings()]


def _reports():
    """§4.2/§4.4/§6: each project's periodic report flows (exactly once per period; they wait on their timer
    start events until compiling opens)."""
    return [f"report flow started: {row.kind} {row.project_key} {row.period}" for row in start_due_reports()]


def _surveys():
    """§9/AMB-11: each project's satisfaction survey of the current period (once per period)."""
    return [f"survey issued: {survey.project_key} {survey.period}" for survey in issue_due_surveys()]


def _audit_seal():
    """Chain what was recorded since the last sweep."""
    seal()
    return []


def _mail():
    """NOTIFY: e-mail leaves from the worker, never from a user's request."""
    mailed = send_pending_mail()
    return [f"mail: {mailed['sent']} sent, {mailed['failed']} failed"] if mailed["sent"] or mailed["failed"] else []


_SWEEP_STEPS = [("repair sampling", _repair_samples), ("starting filing tasks", _filings),
                ("starting report flows", _reports), ("issuing surveys", _surveys),
                ("audit sealing", _audit_seal), ("mail sweep", _mail)]


@huifang.command("demo")
@with_appcontext
def demo():
    """A realistic month of a property project: users per role and visits in every state."""
    for line in load_demo():
        click.echo(line)
