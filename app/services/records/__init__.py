"""Records (SOP_RULES §8): the hash-chained audit trail, crypto-shredding of its personal values, retention of
visits and the other record classes, legal holds, supervised destruction, filing deadlines and the file
borrowing register. Plugs into the engine and the session at start-up (``init_app``)."""
from __future__ import annotations

from ..engine import hooks
from . import audit, retention, shredding


def init_app(app) -> None:
    # A visit's submitted form data goes into wf_event sealed under the visit's trail key (RET-14).
    hooks(app).event_sealer = shredding.seal_engine_event
    audit.init_app(app)
    retention.init_app(app)
