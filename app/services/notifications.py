"""Notifications: the ``app.signals.notify`` receiver, reading/marking, and the e-mail outbox.

Transaction choice ("commit what the sender committed"): the receiver adds its rows to the
sender's ``db.session``. If the sender still has uncommitted work (pending objects or flushed
writes), the rows stay pending and are committed — or rolled back — together with that work, so a
rolled-back action never leaves a notification behind. If the sender already committed (intake
announces after commit), the receiver commits its own rows at once. Senders that notify before
committing must commit afterwards (visits do: ``_followup_step`` is followed by a commit).

E-mail: one ``MailOutbox`` row per recipient with an address, written only while MAIL_SERVER is
configured; ``send_pending_mail()`` (called by the worker, never in a request) delivers them.
"""
from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app, has_app_context
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.orm import Session

from workflows import clock

from ..extensions import db
from ..models.notification import MailOutbox, Notification
from ..signals import notify

log = logging.getLogger(__name__)
_FLUSHED = "huifang_notify_flushed"


def _now() -> datetime:
    return clock.now().astimezone(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


# ---------------------------------------------------------------- who gets it

def resolve_recipients(recipients=None, roles=None) -> list:
    """Active FAB users named in ``recipients`` or holding one of ``roles``, each once, in order.

    Unknown names are logged and skipped: a typo in one recipient must not lose the others' messages.
    """
    sm = current_app.appbuilder.sm
    user_model, role_model = sm.user_model, sm.role_model
    if isinstance(recipients, str):  # a lone username, not its characters
        recipients = [recipients]
    if isinstance(roles, str):
        roles = [roles]
    names = [n for n in (recipients or []) if n]
    users = []
    if names:
        found = {u.username: u for u in db.session.scalars(select(user_model).where(user_model.username.in_(names)))}
        for name in names:
            if name not in found:
                log.warning("notify: no user named %r", name)
            elif found[name] not in users:
                users.append(found[name])
    role_names = [r for r in (roles or []) if r]
    if role_names:
        query = (select(user_model).join(user_model.roles).where(role_model.name.in_(role_names))
                 .order_by(user_model.username))
        for user in db.session.scalars(query).unique():
            if user not in users:
                users.append(user)
    return [u for u in users if u.active]


def mail_enabled() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def create_notifications(recipients=None, roles=None, subject: str = "", body: str = "", link: str | None = None,
                         kind: str = "notify") -> list[Notification]:
    """Add one in-app row per resolved user (and an outbox row when e-mail is on) to the session."""
    now = _now()
    rows = []
    with_mail = mail_enabled()
    for user in resolve_recipients(recipients, roles):
        row = Notification(recipient=user.username, kind=kind or "notify", subject=(subject or "")[:300],
                           body=body or "", link=link, created_at=now)
        db.session.add(row)
        if with_mail and user.email:
            row.mails.append(MailOutbox(to_address=user.email, status="pending", attempts=0, next_attempt_at=now))
        rows.append(row)
    return rows


def _sender_has_uncommitted_work() -> bool:
    session = db.session()
    return bool(session.new or session.dirty or session.deleted or session.info.get(_FLUSHED))


def on_notify(sender, recipients=None, roles=None, subject="", body="", link=None, kind="notify",
              in_transaction=False, **_extra):
    """Receiver of ``app.signals.notify`` (see the module docstring for the transaction choice).
    ``in_transaction``: the sender is inside a transaction it will commit itself (a BPMN script during an
    engine step, whose writes the session does not see as pending) — never commit here then."""
    if not has_app_context():  # only inside the app (requests, CLI, worker) is there a database session
        log.warning("notify outside an app context dropped: %r", subject)
        return
    pending = in_transaction or _sender_has_uncommitted_work()
    create_notifications(recipients, roles, subject, body, link, kind)
    if not pending:
        db.session.commit()


def _track_flushes(session, _flush_context):
    session.info[_FLUSHED] = True


def _clear_flushes(session, transaction):
    if transaction.parent is None:  # the outermost transaction ended: committed, rolled back or closed
        session.info.pop(_FLUSHED, None)


_connected = []


def connect_signals() -> None:
    """Subscribe once per process (create_app may run several times, e.g. in tests)."""
    if _connected:
        return
    notify.connect(on_notify)

    event.listen(Session, "after_flush", _track_flushes)
    event.listen(Session, "after_transaction_end", _clear_flushes)
    _connected.append(True)


# ---------------------------------------------------------------- reading

def unread_count(username: str) -> int:
    return db.session.scalar(select(func.count(Notification.id))
                             .where(Notification.recipient == username, Notification.read_at.is_(None))) or 0


def my_notifications_query(username: str, unread_only: bool = False):
    """Unread first, then newest first."""
    query = select(Notification).where(Notification.recipient == username)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return query.order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc())


def mark_read(username: str, notification_id: int) -> Notification | None:
    """Mark one of the user's notifications read; None when it is not theirs (or does not exist)."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.recipient != username:
        return None
    if row.read_at is None:
        row.read_at = _now()
    db.session.commit()
    return row


def mark_all_read(username: str) -> int:
    result = db.session.execute(update(Notification)
                                .where(Notification.recipient == username, Notification.read_at.is_(None))
                                .values(read_at=_now()))
    db.session.commit()
    return result.rowcount


def to_dict(row: Notification) -> dict:
    return {"id": row.id, "kind": row.kind, "subject": row.subject, "body": row.body, "link": row.link,
            "created_at": _aware(row.created_at).isoformat(),
            "read_at": _aware(row.read_at).isoformat() if row.read_at else None, "read": row.read_at is not None}


# ---------------------------------------------------------------- e-mail

def build_message(mail: MailOutbox) -> EmailMessage:
    """UTF-8 message: EmailMessage encodes Chinese subjects (RFC 2047) and bodies for us."""
    config = current_app.config
    note = mail.notification
    message = EmailMessage()
    message["From"] = config.get("MAIL_FROM") or "huifang@localhost"
    message["To"] = formataddr((note.recipient, mail.to_address))
    message["Subject"] = note.subject
    message["Message-ID"] = make_msgid(domain="huifang")
    text = note.body or ""
    link = note.link
    if link and link.startswith("/") and config.get("PUBLIC_BASE_URL"):
        link = config["PUBLIC_BASE_URL"] + link  # the in-app link is relative to the site
    if link:
        text = f"{text}\n\n{link}" if text else link
    message.set_content(text, charset="utf-8")
    return message


def _smtp():
    config = current_app.config
    client = smtplib.SMTP(config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 25),
                          timeout=float(config.get("MAIL_TIMEOUT") or 10))
    try:
        if config.get("MAIL_USE_TLS"):
            client.starttls()
        if config.get("MAIL_USERNAME"):
            client.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    except Exception:
        client.close()
        raise
    return client


def send_pending_mail(limit: int = 100) -> dict:
    """Send due outbox rows (pending, or failed with attempts left). Returns {"sent": n, "failed": n}.

    Nothing is attempted while MAIL_SERVER is empty. Rows are locked with SKIP LOCKED on PostgreSQL
    so several workers never send one message twice. A failure records the error, counts the attempt
    and schedules the next one after MAIL_RETRY_SECONDS × 2^(attempts-1); after MAIL_MAX_ATTEMPTS the
    row stays failed.
    """
    result = {"sent": 0, "failed": 0}
    if not mail_enabled():
        return result
    config = current_app.config
    max_attempts = int(config.get("MAIL_MAX_ATTEMPTS") or 5)
    retry = float(config.get("MAIL_RETRY_SECONDS") or 60)
    now = _now()
    rows = db.session.scalars(
        select(MailOutbox)
        .where(or_(MailOutbox.status == "pending",
                   (MailOutbox.status == "failed") & (MailOutbox.attempts < max_attempts)),
               MailOutbox.next_attempt_at <= now)
        .order_by(MailOutbox.next_attempt_at, MailOutbox.id).limit(limit)
        .with_for_update(skip_locked=True, of=MailOutbox)).all()
    if not rows:
        db.session.commit()
        return result
    client, connect_error = None, None
    try:
        client = _smtp()
    except Exception as err:  # server down: every row of this batch fails with that reason
        connect_error = err
    try:
        for mail in rows:
            mail.attempts += 1
            try:
                if connect_error is not None:
                    raise connect_error
                client.send_message(build_message(mail), to_addrs=[mail.to_address])
            except Exception as err:
                mail.status = "failed"
                mail.last_error = f"{type(err).__name__}: {err}"[:2000]
                mail.next_attempt_at = now + timedelta(seconds=retry * 2 ** (mail.attempts - 1))
                result["failed"] += 1
            else:
                mail.status, mail.sent_at, mail.last_error = "sent", now, None
                result["sent"] += 1
    finally:
        if client is not None:
            try:
                client.quit()
            except Exception:  # the messages are already accepted or recorded as failed
                pass
        db.session.commit()
    return result
