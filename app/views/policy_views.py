"""Policy pages: the profile list, a profile's versions, and editing (a new version with a reason).

Everyone with PolicyProfile/read sees them; only PolicyProfile/edit (ProcessOwner) may save.
"""
from __future__ import annotations

import json

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from sqlalchemy import select

from workflows.policy import PolicyError

from ..extensions import db
from ..models.policy import PolicyProfile, ProjectPolicyVersion
from ..services.engine import current_actor
from ..services.policy import create_profile_version, current_version, effective_policy, get_profile, set_project_policy


class PolicyView(BaseView):
    route_base = "/policy"
    class_permission_name = "PolicyProfile"
    method_permission_name = {"index": "read", "profile": "read", "project": "read"}
    default_view = "index"

    def _can_edit(self) -> bool:
        return self.appbuilder.sm.has_access("can_edit", "PolicyProfile")

    @expose("/")
    @has_access
    def index(self):
        profiles = db.session.scalars(select(PolicyProfile).order_by(PolicyProfile.code)).all()
        rows = [(p, current_version(p.code)) for p in profiles]
        projects = db.session.scalars(select(ProjectPolicyVersion.project_key).distinct()
                                      .order_by(ProjectPolicyVersion.project_key)).all()
        return self.render_template("policy_index.html", rows=rows, projects=projects, title=_("Policy profiles"))

    @expose("/profile/<code>", methods=["GET", "POST"])
    @has_access
    def profile(self, code):
        try:
            profile = get_profile(code)
        except PolicyError:
            abort(404)
        text, reason, error_field = None, "", None
        if request.method == "POST":
            if not self._can_edit():
                abort(403)
            text, reason = request.form.get("params", ""), request.form.get("reason", "")
            try:
                try:
                    params = json.loads(text)
                except ValueError as err:
                    raise PolicyError("params", _("not valid JSON: %(error)s", error=str(err))) from None
                version = create_profile_version(code, params, current_actor().username, reason)
                flash(_("Saved as version %(number)s.", number=version.number), "success")
                return redirect(url_for("PolicyView.profile", code=code))
            except PolicyError as err:
                db.session.rollback()
                error_field = err.field
                flash(_("Not saved — %(field)s: %(message)s", field=err.field, message=err.message), "danger")
        current = current_version(code)
        if text is None:
            text = json.dumps(current.params, ensure_ascii=False, indent=2)
        return self.render_template("policy_profile.html", profile=profile, current=current,
                                    versions=list(reversed(profile.versions)), params_text=text, reason=reason,
                                    error_field=error_field, can_edit=self._can_edit(),
                                    title=_("Policy profile %(code)s", code=code))

    @expose("/project/<key>", methods=["GET", "POST"])
    @has_access
    def project(self, key):
        profile_code, text, reason, error_field = None, None, "", None
        if request.method == "POST":
            if not self._can_edit():
                abort(403)
            profile_code = request.form.get("profile", "")
            text, reason = request.form.get("overrides", "") or "{}", request.form.get("reason", "")
            try:
                try:
                    overrides = json.loads(text)
                except ValueError as err:
                    raise PolicyError("overrides", _("not valid JSON: %(error)s", error=str(err))) from None
                row = set_project_policy(key, profile_code, overrides, current_actor().username, reason)
                flash(_("Saved as version %(number)s.", number=row.number), "success")
                return redirect(url_for("PolicyView.project", key=key))
            except PolicyError as err:
                db.session.rollback()
                error_field = err.field
                flash(_("Not saved — %(field)s: %(message)s", field=err.field, message=err.message), "danger")
        effective = effective_policy(key)
        history = db.session.scalars(select(ProjectPolicyVersion).where(ProjectPolicyVersion.project_key == key)
                                     .order_by(ProjectPolicyVersion.number.desc())).all()
        if text is None:
            text = json.dumps(history[0].overrides if history else {}, ensure_ascii=False, indent=2)
        codes = db.session.scalars(select(PolicyProfile.code).order_by(PolicyProfile.code)).all()
        return self.render_template("policy_project.html", key=key, effective=effective, history=history,
                                    codes=codes, profile_code=profile_code or effective["profile"],
                                    overrides_text=text, reason=reason, error_field=error_field,
                                    can_edit=self._can_edit(), title=_("Project policy %(key)s", key=key))
