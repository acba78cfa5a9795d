"""Domain signals, so intake, visits and notifications stay decoupled.

``service_event_recorded``: sent with ``event=<ServiceEvent>`` after an intake (form, REST or
import) committed a service event or changed its status (e.g. a repair was completed or a complaint
closed). Receivers start the follow-up flows.
``notify``: sent with ``recipients=[usernames] | roles=[role names], subject=str, body=str,
link=str|None`` when someone must be told something (FLOW-02 notify, reminders, escalations).
"""
from blinker import Namespace

_signals = Namespace()
service_event_recorded = _signals.signal("service-event-recorded")
notify = _signals.signal("notify")
