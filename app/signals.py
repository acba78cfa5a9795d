"""Domain signals, so intake, visits and notifications stay decoupled.

``service_event_recorded``: sent with ``event=<ServiceEvent>`` after an intake (form, REST or
import) committed a service event or changed its status (e.g. a repair was completed or a complaint
closed). Receivers start the follow-up flows.
``notify``: sent with ``recipients=[usernames] | roles=[role names], subject=str, body=str,
link=str|None[, kind=str, in_transaction=bool]`` when someone must be told something (FLOW-02 notify,
reminders, escalations); ``in_transaction=True`` when the sender commits the surrounding transaction itself.
``audited``: sent with ``action=str`` (dotted, e.g. ``"pdf.printed"``, ``"process.deployed"``,
``"instance.migrated"``, ``"export.csv"``), ``target_type=str``, ``target_id=str|None``,
``details=dict`` (JSON-able; for updates ``{"before": {...}, "after": {...}}`` of the changed fields)
and ``actor=<username>|None`` whenever something an auditor must see happens outside the engine's own
event trail. Send it *before* the caller commits: the receiver writes the audit trail in the same
database session, so the action and its trail entry commit or roll back together.
``policy_changed``: sent with ``reason=str`` after a profile version or a project's policy version was
committed; receivers bring what follows from the policy in line (filed records' removal dates).
"""
from blinker import Namespace

_signals = Namespace()
service_event_recorded = _signals.signal("service-event-recorded")
notify = _signals.signal("notify")
audited = _signals.signal("audited")
policy_changed = _signals.signal("policy-changed")
