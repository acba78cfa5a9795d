"""REST API for policy profiles: explain, profiles and their versions, project overrides.

Errors are 422 with the offending parameter in ``field`` (and in ``problems`` like the engine API).
"""
from __future__ import annotations

import functools

from flask import request
from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect
from sqlalchemy import select

from workflows.localtime import iso
from workflows.policy import PolicyError

from ..extensions import db
from ..models.policy import PolicyProfile, PolicyProfileVersion, ProjectPolicyVersion
from ..services.engine import current_actor
from ..services.policy import (
    create_profile_version,
    current_version,
    effective_policy,
    explain_request,
    get_profile,
    parse_trigger,
    set_project_policy,
)


def policy_errors(view):
    @functools.wraps(view)
    def wrapper(self, *args, **kwargs):
        try:
            return view(self, *args, **kwargs)
        except PolicyError as err:
            db.session.rollback()
            status = 404 if err.field == "profile" and "unknown" in err.message and kwargs.get("code") else 422
            return self.response(status, error="invalid" if status == 422 else "not_found", message=str(err),
                                 field=err.field, problems=[{"field": err.field, "message": err.message}])
        except ValueError as err:  # e.g. a naive trigger reaching the pure module
            db.session.rollback()
            return self.response(422, error="invalid", message=str(err), field="trigger",
                                 problems=[{"field": "trigger", "message": str(err)}])
    return wrapper


def version_dict(v: PolicyProfileVersion) -> dict:
    return {"id": v.id, "profile": v.profile.code, "number": v.number, "params": v.params,
            "effective_from": iso(v.effective_from), "created_by": v.created_by, "created_at": iso(v.created_at),
            "reason": v.reason}


def project_dict(p: ProjectPolicyVersion) -> dict:
    return {"id": p.id, "project_key": p.project_key, "profile": p.profile_code, "overrides": p.overrides,
            "number": p.number, "created_by": p.created_by, "created_at": iso(p.created_at), "reason": p.reason}


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise PolicyError("body", "the request body must be a JSON object")
    return body


class PolicyApi(BaseApi):
    resource_name = "policy"
    class_permission_name = "PolicyProfile"
    method_permission_name = {"explain": "read", "list_profiles": "read", "get_profile_": "read",
                              "add_version": "edit", "get_project": "read", "set_project": "edit"}
    openapi_spec_tag = "Policy"

    @expose("/explain", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @policy_errors
    def explain(self):
        """What a profile says about one visit (same JSON as `flask policy explain`).
        ---
        get:
          summary: Visit window, rate, sample size, visitor and deadlines for a trigger
          parameters:
          - {in: query, name: profile, schema: {type: string}}
          - {in: query, name: category, required: true, schema: {type: string}}
          - {in: query, name: trigger, required: true, schema: {type: string, example: "2024-01-31T10:00:00+08:00"}}
          - {in: query, name: severity, schema: {type: string, enum: [MAJOR, IMPORTANT, MINOR]}}
          - {in: query, name: count, schema: {type: integer}}
          - {in: query, name: project, schema: {type: string}}
          - {in: query, name: subtype, schema: {type: string}}
          responses:
            200: {description: the explanation}
            422: {description: a parameter is invalid; field names it}
        """
        a = request.args
        return self.response(200, **explain_request(a.get("profile"), a.get("category"), a.get("trigger"),
                                                    a.get("severity"), a.get("count"), a.get("project"),
                                                    a.get("subtype")))

    @expose("/profiles", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @policy_errors
    def list_profiles(self):
        """Every profile with its current version number.
        ---
        get:
          responses:
            200: {description: profiles}
        """
        rows = db.session.scalars(select(PolicyProfile).order_by(PolicyProfile.code)).all()
        result = []
        for p in rows:
            v = current_version(p.code)
            result.append({"code": p.code, "name": p.name, "domain": p.domain, "source": p.source,
                           "version": v.number, "version_id": v.id})
        return self.response(200, result=result)

    @expose("/profiles/<code>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @policy_errors
    def get_profile_(self, code):
        """A profile's current params and its version history.
        ---
        get:
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          responses:
            200: {description: the profile}
            404: {description: unknown profile}
        """
        profile = get_profile(code)
        return self.response(200, profile=profile.code, name=profile.name, current=version_dict(current_version(code)),
                             versions=[version_dict(v) for v in profile.versions])

    @expose("/profiles/<code>/versions", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @policy_errors
    def add_version(self, code):
        """Edit a profile: a new immutable version (ProcessOwner). Body {params, reason, effective_from?}.
        ---
        post:
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          responses:
            201: {description: the new version}
            422: {description: invalid params or missing reason; field names it}
        """
        body = _body()
        effective = parse_trigger(body["effective_from"], "effective_from") if body.get("effective_from") else None
        version = create_profile_version(code, body.get("params"), current_actor().username, body.get("reason"),
                                         effective)
        return self.response(201, **version_dict(version))

    @expose("/projects/<key>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @policy_errors
    def get_project(self, key):
        """A project's effective policy and its override history.
        ---
        get:
          parameters:
          - {in: path, name: key, required: true, schema: {type: string}}
          responses:
            200: {description: effective policy}
        """
        history = db.session.scalars(select(ProjectPolicyVersion).where(ProjectPolicyVersion.project_key == key)
                                     .order_by(ProjectPolicyVersion.number)).all()
        return self.response(200, effective=effective_policy(key), versions=[project_dict(p) for p in history])

    @expose("/projects/<key>", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @policy_errors
    def set_project(self, key):
        """Choose a project's profile and overrides (new version). Body {profile, overrides, reason}.
        ---
        post:
          parameters:
          - {in: path, name: key, required: true, schema: {type: string}}
          responses:
            201: {description: the new project policy version}
            422: {description: invalid; field names it}
        """
        body = _body()
        row = set_project_policy(key, body.get("profile") or "", body.get("overrides"), current_actor().username,
                                 body.get("reason"))
        return self.response(201, **project_dict(row))
