"""Notifications (FLOW-02 notify, reminders, escalations): in-app rows and an e-mail outbox.

E-mail is never sent inside the user's request: the `notify` receiver writes one ``MailOutbox``
row per recipient in the sender's transaction, and the worker (`flask huifang worker`) delivers
them with retries. Rows survive restarts because they are ordinary table rows.
"""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.localtime import UtcDateTime

MAIL_STATUSES = ["pending", "sent", "failed"]


class Notification(Model):
    """One message for one user; ``read_at`` is null while unread."""
    __tablename__ = "notification"
    # The menu badge counts a user's unread rows on every page: index exactly that question.
    __table_args__ = (Index("ix_notification_recipient_read", "recipient", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(100))  # FAB username (ab_user.username)
    kind: Mapped[str] = mapped_column(String(40), default="notify")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    mails: Mapped[list["MailOutbox"]] = relationship(back_populates="notification")

    def __repr__(self) -> str:
        return self.subject


class MailOutbox(Model):
    """The e-mail for one notification; the worker sends pending rows and retries failed ones."""
    __tablename__ = "notification_mail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", name="fk_notification_mail_notification", ondelete="CASCADE"), index=True)
    to_address: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    notification: Mapped[Notification] = relationship(back_populates="mails")
