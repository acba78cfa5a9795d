"""Task forms between the browser and the engine: what the page's form renderer needs
(app/static/js/schema_form.js draws the fields from the JSON Schema and its UI hints), and posted
values turned back into typed data for the schema check."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def _properties(schema: dict | None) -> dict:
    return (schema or {}).get("properties") or {}


def coerce_form_data(schema: dict | None, posted, timezone_name: str = "Asia/Shanghai") -> dict:
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
        elif prop.get("format") == "date-time" and "+" not in raw and not raw.endswith("Z"):
            try:
                data[name] = datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(timezone_name)).isoformat()
            except ValueError:
                data[name] = raw
        else:
            data[name] = raw
    return data


def form_spec(form: dict, values: dict, errors: dict, timezone_name: str = "Asia/Shanghai") -> dict:
    """Everything the form renderer draws: schema, UI hints, current values (date-times in the
    company's local time, as a datetime-local field shows them) and the server's field errors."""
    schema = form.get("schema") or {"type": "object", "properties": {}}
    shown = dict(values)
    for name, prop in _properties(schema).items():
        if prop.get("format") == "date-time" and isinstance(shown.get(name), str):
            shown[name] = _local_input(shown[name], timezone_name)
    return {"schema": schema, "ui": form.get("ui_schema") or {}, "values": shown, "errors": errors}


def _local_input(value: str, timezone_name: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M")
    return moment.astimezone(ZoneInfo(timezone_name)).strftime("%Y-%m-%dT%H:%M")
