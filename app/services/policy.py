"""Policy profiles in the database: seeding, immutable versions, project overrides, effective policy.

The shipped JSON files (workflows/policy/profiles) are only the seed; from then on the database
versions are authoritative, so an edit made in the admin UI survives ``flask huifang init``.
"""
from __future__ import annotations

import re
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from workflows import clock
from workflows.policy import PolicyError, explain, load_profiles, merge, validate_params

from .. import signals
from ..extensions import db
from ..models.intake import Project
from ..models.policy import PolicyProfile, PolicyProfileVersion, ProjectPolicyVersion

# AMB defaults are collected in P000-3 (the intake Project default agrees).
DEFAULT_PROFILE = "P000-3"


def seed_profiles(actor: str = "system") -> list[str]:
    """Create every shipped profile that is not in the database yet (idempotent). Returns new codes."""
    created = []
    existing = set(db.session.scalars(select(PolicyProfile.code)))
    for code, params in load_profiles().items():
        if code in existing:
            continue
        profile = PolicyProfile(code=code, name=params["name"], domain=params["domain"], source=params["source"])
        db.session.add(profile)
        db.session.flush()
        now = clock.now()
        db.session.add(PolicyProfileVersion(profile_id=profile.id, number=1, params=params, effective_from=now,
                                            created_by=actor, created_at=now, reason="shipped seed (SOP_RULES §0.3)"))
        created.append(code)
    db.session.commit()
    return created


def get_profile(code: str) -> PolicyProfile:
    profile = db.session.scalar(select(PolicyProfile).where(PolicyProfile.code == code))
    if profile is None:
        raise PolicyError("profile", f"unknown policy profile {code!r}")
    return profile


def current_version(code: str) -> PolicyProfileVersion:
    """The newest version already in effect (effective_from ≤ now)."""
    profile = get_profile(code)
    version = db.session.scalar(
        select(PolicyProfileVersion)
        .where(PolicyProfileVersion.profile_id == profile.id, PolicyProfileVersion.effective_from <= clock.now())
        .order_by(PolicyProfileVersion.number.desc()).limit(1))
    if version is None:
        raise PolicyError("profile", f"policy profile {code!r} has no version in effect yet")
    return version


def _require_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise PolicyError("reason", "a reason is required for every policy change")
    return reason


def create_profile_version(code: str, params: dict, user: str, reason: str,
                           effective_from: datetime | None = None) -> PolicyProfileVersion:
    """A new immutable version of a profile; invalid params are refused naming the field."""
    reason = _require_reason(reason)
    if not isinstance(params, dict):
        raise PolicyError("params", "must be a JSON object")
    profile = get_profile(code)
    validate_params(params)
    if params["code"] != code:
        raise PolicyError("code", f"must stay {code!r}")
    number = (db.session.scalar(select(func.max(PolicyProfileVersion.number))
                                .where(PolicyProfileVersion.profile_id == profile.id)) or 0) + 1
    now = clock.now()
    version = PolicyProfileVersion(profile_id=profile.id, number=number, params=params,
                                   effective_from=effective_from or now, created_by=user, created_at=now,
                                   reason=reason)
    profile.name, profile.domain, profile.source = params["name"], params["domain"], params["source"]
    db.session.add(version)
    db.session.commit()
    _policy_changed(f"profile {code} v{number}: {reason}")
    return version


def set_project_policy(project_key: str, profile_code: str, overrides: dict | None, user: str,
                       reason: str) -> ProjectPolicyVersion:
    """A project's profile choice and overrides, as a new numbered version; the merge must validate."""
    reason = _require_reason(reason)
    if not (project_key or "").strip():
        raise PolicyError("project_key", "is required")
    overrides = overrides or {}
    if not isinstance(overrides, dict):
        raise PolicyError("overrides", "must be a JSON object")
    if "code" in overrides:
        raise PolicyError("overrides.code", "choose the profile with profile_code, not an override")
    base = current_version(profile_code)
    try:
        validate_params(merge(base.params, overrides))
    except PolicyError as err:
        raise PolicyError(f"overrides.{err.field}", err.message) from None
    number = (db.session.scalar(select(func.max(ProjectPolicyVersion.number))
                                .where(ProjectPolicyVersion.project_key == project_key)) or 0) + 1
    row = ProjectPolicyVersion(project_key=project_key, profile_code=profile_code, overrides=overrides,
                               number=number, created_by=user, created_at=clock.now(), reason=reason)
    db.session.add(row)
    db.session.commit()
    _policy_changed(f"project {project_key} policy v{number}: {reason}")
    return row


def _policy_changed(reason: str) -> None:
    signals.policy_changed.send(current_app._get_current_object(), reason=reason)


def _project_default_code(project_key: str) -> str:
    """The intake Project's profile code, else the AMB default."""
    code = db.session.scalar(select(Project.policy_profile).where(Project.key == project_key))
    return code or DEFAULT_PROFILE


def effective_policy(project_key: str | None) -> dict:
    """{"profile", "profile_version_id", "project_policy_version_id", "params"} for a project.

    The project's latest ProjectPolicyVersion wins; without one, the intake Project's
    policy_profile (default P000-3) with no overrides.
    """
    project_row = None
    if project_key:
        project_row = db.session.scalar(
            select(ProjectPolicyVersion).where(ProjectPolicyVersion.project_key == project_key)
            .order_by(ProjectPolicyVersion.number.desc()).limit(1))
    code = project_row.profile_code if project_row else (_project_default_code(project_key) if project_key
                                                          else DEFAULT_PROFILE)
    version = current_version(code)
    return {"profile": code, "profile_version_id": version.id,
            "project_policy_version_id": project_row.id if project_row else None,
            "params": merge(version.params, project_row.overrides if project_row else None)}


def parse_trigger(text: str | None, field: str = "trigger") -> datetime:
    if not text:
        raise PolicyError(field, "is required (ISO 8601 with offset, e.g. 2024-01-31T10:00:00+08:00)")
    try:
        text = text.strip()
        # An unencoded "+08:00" in a query string arrives as " 08:00".
        if re.search(r"T[\d:.]+ \d{2}:?\d{2}$", text):
            text = text[::-1].replace(" ", "+", 1)[::-1]
        value = datetime.fromisoformat(text)
    except ValueError:
        raise PolicyError(field, f"{text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise PolicyError(field, f"{text!r} has no UTC offset; write e.g. 2024-01-31T10:00:00+08:00")
    return value


def parse_count(text) -> int | None:
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise PolicyError("count", f"{text!r} is not a whole number") from None
    if value < 0:
        raise PolicyError("count", "must not be negative")
    return value


def explain_request(profile: str | None, category: str | None, trigger: str | None, severity: str | None = None,
                    count=None, project: str | None = None, subtype: str | None = None) -> dict:
    """The shared body of `flask policy explain` and GET /api/v1/policy/explain."""
    if project:
        policy = effective_policy(project)
        if profile and profile != policy["profile"]:
            raise PolicyError("profile", f"project {project!r} uses {policy['profile']}, not {profile}")
        params, version_id = policy["params"], policy["profile_version_id"]
    else:
        if not profile:
            raise PolicyError("profile", "is required (or give project)")
        version = current_version(profile)
        params, version_id = version.params, version.id
    if not category:
        raise PolicyError("category", "is required")
    when = parse_trigger(trigger)
    result = explain(params, category, when, severity=severity or None, count=parse_count(count),
                     subtype=subtype or None)
    result["profile_version_id"] = version_id
    if project:
        result["project"] = project
    return result
