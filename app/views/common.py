"""What the pages share: an engine error shown as a flash message, with nothing changed."""
from __future__ import annotations

from flask import flash

from workflows.errors import EngineError, InvalidInput

from ..extensions import db


def attempt(action, success: str | None = None):
    """Run ``action``; on an engine error roll back and flash it (bad input names each field).
    Returns the action's result, or None when it failed."""
    try:
        result = action()
    except InvalidInput as err:
        db.session.rollback()
        flash("; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in err.problems), "danger")
        return None
    except EngineError as err:
        db.session.rollback()
        flash(str(err), "danger")
        return None
    if success:
        flash(success, "success")
    return result
