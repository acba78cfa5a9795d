"""Task forms between the browser and the engine: what the page's form renderer needs
(app/static/js/schema_form.js draws the fields from the JSON Schema and its UI hints), and posted
values turned back into typed data for the schema check."""
from __future__ import annotations

from datetime import datetime

from workflows import localtime


def _properties(schema: dict | None) -> dict:
    return (schema or {}).get("properties") or {}


def coerce_form_data(schema: dict | None, posted) -> dict:
    """Typed values from a posted HTML form; empty optional fields are left out.

    A value that does not parse is kept as posted, so the schema check reports it by field name.
    A browser's datetime-local value has no offset: it is read in the company's time zone.
    """
    data = {}
    for name, prop in _properties(schema).items():
        raw = posted.get(name)
        if raw is None or raw == "":
            continue
        kind = prop.get("type", "string")
        if kind == "array":  # a list of strings is one line each (e.g. the findings sent to CAPA)
            data[name] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif kind == "boolean":
            data[name] = raw in ("true", "on", "1", "yes")
        elif kind in ("integer", "number"):
            try:
                data[name] = int(raw) if kind == "integer" else float(raw)
            except ValueError:
                data[name] = raw
        elif prop.get("format") == "date-time":
            try:
                data[name] = localtime.from_local_input(raw).isoformat()
            except ValueError:
                data[name] = raw
        else:
            data[name] = raw
    return data


def form_spec(form: dict, values: dict, errors: dict) -> dict:
    """Everything the form renderer draws: schema, UI hints, current values (date-times in the
    company's local time, as a datetime-local field shows them) and the server's field errors."""
    schema = form.get("schema") or {"type": "object", "properties": {}}
    shown = dict(values)
    for name, prop in _properties(schema).items():
        if prop.get("format") == "date-time" and isinstance(shown.get(name), str):
            shown[name] = _local_input(shown[name])
    return {"schema": schema, "ui": form.get("ui_schema") or {}, "values": shown, "errors": errors}


def _local_input(value: str) -> str:
    """A stored date-time as a datetime-local field shows it: local wall time, to the minute."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M")
    return localtime.local(moment).strftime("%Y-%m-%dT%H:%M")
