"""Visits and their flows (SOP_RULES §1–§3, §5): starting the flow a service event needs, the Visit rows kept
with each task completion, numbered 回访记录表, repair sampling, the inbox, drafts, task forms and the paper
forms. Plugs into the engine at start-up (``init_app``)."""
from __future__ import annotations

from ..engine import hooks
from . import visits


def init_app(app) -> None:
    registered = hooks(app)
    registered.script_function("notify", visits.flow_notify)  # FLOW-04 reminders, overdue escalation
    registered.check_before_completing("followup_visit", ("plan", "visit"), visits.check_visitor_and_method)
    registered.check_before_completing("repair_followup", ("visit",), visits.check_visitor_and_method)
    registered.after_completing(visits.VISIT_PROCESSES, visits.after_task_completed)
    visits.connect_signals()
