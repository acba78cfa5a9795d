"""Turning a task's JSON Schema into HTML form fields and posted values back into typed data."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def form_fields(schema: dict | None) -> list[dict]:
    """Flat fields of an object schema, in declaration order, with what the template needs."""
    if not schema:
        return []
    required = set(schema.get("required", []))
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type", "string")
        widget = "text"
        if "enum" in prop:
            widget = "select"
        elif kind == "boolean":
            widget = "boolean"
        elif kind in ("integer", "number"):
            widget = "number"
        elif prop.get("format") == "date":
            widget = "date"
        elif prop.get("format") == "date-time":
            widget = "datetime"
        elif kind == "array" or prop.get("maxLength", 0) > 200 or prop.get("x-widget") == "textarea":
            # a list of strings is one line each (e.g. the findings a manager sends to CAPA)
            widget = "textarea"
        fields.append({"name": name, "title": prop.get("title", name), "description": prop.get("description"),
                       "widget": widget, "options": prop.get("enum", []), "required": name in required})
    return fields


def coerce_form_data(schema: dict | None, posted, timezone_name: str = "Asia/Shanghai") -> dict:
    """Typed values from a posted HTML form; empty optional fields are left out.

    A browser's datetime-local value has no offset: it is read in the company's time zone.
    """
    data = {}
    for field in form_fields(schema):
        raw = posted.get(field["name"])
        if raw is None or raw == "":
            continue
        prop = schema["properties"][field["name"]]
        kind = prop.get("type", "string")
        if kind == "array":
            data[field["name"]] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif kind == "boolean":
            data[field["name"]] = raw in ("true", "on", "1", "yes")
        elif kind == "integer":
            try:
                data[field["name"]] = int(raw)
            except ValueError:
                data[field["name"]] = raw  # the schema check reports it by name
        elif kind == "number":
            try:
                data[field["name"]] = float(raw)
            except ValueError:
                data[field["name"]] = raw
        elif field["widget"] == "datetime" and "+" not in raw and not raw.endswith("Z"):
            try:
                local = datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(timezone_name))
                data[field["name"]] = local.isoformat()
            except ValueError:
                data[field["name"]] = raw
        else:
            data[field["name"]] = raw
    return data
