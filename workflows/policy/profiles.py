"""Policy profiles are data (SOP_RULES §0.3): one JSON file per profile under profiles/,
validated against profile.schema.json whenever it is loaded or edited."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema

HERE = Path(__file__).resolve().parent
PROFILE_DIR = HERE / "profiles"
CATEGORIES = ("complaint", "repair", "special_service", "help", "emergency_patient", "publication_event",
              "decoration", "survey_item", "other")
SEVERITIES = ("MAJOR", "IMPORTANT", "MINOR")


class PolicyError(ValueError):
    """Bad profile parameters or an explain request that cannot be answered; names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@lru_cache(maxsize=1)
def _validator():
    schema = json.loads((HERE / "profile.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def validate_params(params: dict) -> dict:
    """Raise PolicyError naming the first invalid field (as a dotted path); return params."""
    errors = sorted(_validator().iter_errors(params), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        field = ".".join(str(p) for p in err.absolute_path) or "params"
        raise PolicyError(field, err.message)
    try:
        ZoneInfo(params["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError("timezone", f"unknown time zone {params['timezone']!r}") from None
    return params


def load_profiles(directory: Path = PROFILE_DIR) -> dict[str, dict]:
    """Every shipped profile by code, each validated; a bad file is named in the error."""
    result = {}
    for path in sorted(directory.glob("*.json")):
        params = json.loads(path.read_text(encoding="utf-8"))
        try:
            validate_params(params)
        except PolicyError as err:
            raise PolicyError(f"{path.name}: {err.field}", err.message) from None
        if params["code"] != path.stem:
            raise PolicyError(f"{path.name}: code", f"{params['code']!r} does not match the file name")
        result[params["code"]] = params
    return result


def merge(params: dict, overrides: dict | None) -> dict:
    """Deep-merge project overrides into profile params (dicts merge, anything else replaces)."""
    if not overrides:
        return json.loads(json.dumps(params))
    out = json.loads(json.dumps(params))

    def _merge(base, extra):
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                _merge(base[key], value)
            else:
                base[key] = value
    _merge(out, overrides)
    return out
