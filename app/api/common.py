"""What every API module shares: engine errors as JSON, the JSON body, paging arguments, PDF downloads."""
from __future__ import annotations

import functools

from flask import Response, request

from workflows.errors import EngineError, InvalidInput, Problem
from workflows.policy import PolicyError

from ..extensions import db


def engine_errors(view):
    """Turn engine errors into JSON responses with their status; roll back the session.

    A policy the request needs but cannot use (e.g. a profile with no version in effect yet) is the
    state of the configuration, not a bad request: 409, naming the profile; other policy errors are 422."""

    @functools.wraps(view)
    def wrapper(self, *args, **kwargs):
        try:
            return view(self, *args, **kwargs)
        except EngineError as err:
            db.session.rollback()
            return self.response(err.status, **err.to_dict())
        except PolicyError as err:
            db.session.rollback()
            status, code = (409, "conflict") if err.field == "profile" else (422, "invalid")
            return self.response(status, error=code, message=str(err),
                                 problems=[{"field": err.field, "message": err.message}])

    return wrapper


def json_body() -> dict:
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidInput(Problem("the request body must be a JSON object"))
    if not isinstance(body, dict):
        raise InvalidInput(Problem("the request body must be a JSON object, not " + type(body).__name__))
    return body


def page_args(default_limit: int = 50) -> tuple[int, int]:
    try:
        limit = max(min(int(request.args.get("limit", default_limit)), 200), 0)
        offset = max(int(request.args.get("offset", 0)), 0)
    except ValueError:
        raise InvalidInput(Problem("limit and offset must be whole numbers", field="limit")) from None
    return limit, offset


def pdf_response(document) -> Response:
    """A rendered document (app.services.printing.Document) as a download."""
    return Response(document.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename={document.filename}"})
