"""The modeler area (issue 7): edit a diagram in the browser, validate, deploy, compare versions, migrate.

Thin: every action is a call into app/services/modeler.py. The page's buttons post JSON to the
endpoints below (CSRF token in the X-CSRFToken header); engine errors come back as JSON with status.
ProcessModel/read sees models, versions and diffs; /deploy edits and deploys; /migrate moves instances.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from flask import Response, abort, current_app, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import get_locale, gettext as _
from flask_wtf.csrf import generate_csrf

from workflows.errors import EngineError, InvalidInput, NotFound, Problem
from workflows.localtime import iso

from ..extensions import db
from ..services.engine import current_actor, known_roles
from ..services.modeling import modeler

BUNDLE = Path(__file__).resolve().parents[1] / "static" / "vendor" / "modeler" / "huifang-modeler.js"


def _json_errors(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except EngineError as err:
            db.session.rollback()
            return jsonify(err.to_dict()), err.status

    return wrapper


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(Problem("the request body must be a JSON object"))
    return body


def _locale() -> str:
    """The page's language for the modeler's own texts (palette, menus, properties panel): Flask-Babel's."""
    locale = get_locale()
    return locale.language if locale is not None else "en"


def _strings() -> dict:
    keys = ["Unsaved changes", "line", "The diagram cannot be shown", "Draft saved", "No problems: the diagram can "
            "be deployed.", "Problems found", "Say why you deploy this version (comment).", "Not deployed",
            "problems", "The file cannot be opened", "Opened", "No problems.", "Opened with warnings",
            "Select an element to edit its properties; validate before you deploy.",
            "It had no layout for {n} of {total} elements and was laid out automatically: check it, then save a "
            "draft or deploy."]
    return {key: _(key) for key in keys}


class ModelerView(BaseView):
    route_base = "/modeler"
    class_permission_name = "ProcessModel"
    method_permission_name = {
        "index": "read", "versions": "read", "diff": "read", "download": "read",
        "edit": "deploy", "save_draft": "deploy", "discard_draft": "deploy", "validate": "deploy",
        "deploy": "deploy", "upload": "deploy",
        "migration": "migrate", "migrate": "migrate",
    }
    default_view = "index"

    def _can(self, action: str) -> bool:
        return self.appbuilder.sm.has_access(f"can_{action}", "ProcessModel")

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("modeler_index.html", models=modeler.models(), can_deploy=self._can("deploy"),
                                    can_edit_policy=self.appbuilder.sm.has_access("can_edit", "PolicyProfile"),
                                    title=_("Modeler"))

    @expose("/<key>/edit")
    @has_access
    def edit(self, key):
        actor = current_actor()
        try:
            modeler.check_key(key)
        except InvalidInput:
            abort(404)
        version_id = request.args.get("version", type=int)
        draft = None if version_id or request.args.get("draft") == "0" else modeler.get_draft(key, actor.username)
        version = None
        if version_id:
            try:
                version = modeler.get_version(version_id, key)
            except NotFound:
                abort(404)
        elif draft is None:
            try:
                version = modeler.get_engine().latest_version(key)
            except NotFound:
                version = None
        if draft is not None:
            xml, forms, base = draft.bpmn_xml, draft.forms or {}, draft.base_version_id
        elif version is not None:
            xml, forms, base = version.bpmn_xml, version.forms or {}, version.id
        else:
            xml, forms, base = modeler.EMPTY_DIAGRAM.format(key=key), {}, None
        base_version = modeler.get_version(base) if base else None
        config = {
            "key": key, "xml": xml, "forms": forms, "baseVersionId": base, "roles": sorted(known_roles()),
            "csrf": self._csrf(), "strings": _strings(),
            "urls": {"draft": url_for("ModelerView.save_draft", key=key), "validate": url_for("ModelerView.validate"),
                     "deploy": url_for("ModelerView.deploy", key=key), "upload": url_for("ModelerView.upload")},
        }
        return self.render_template(
            "modeler_edit.html", key=key, draft=draft, version=version, base_version=base_version,
            config=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"), bundle_ready=BUNDLE.exists(),
            locale=_locale(), title=_("Modeler: %(key)s", key=key))

    @staticmethod
    def _csrf() -> str:
        return generate_csrf()

    @expose("/<key>/draft", methods=["POST"])
    @has_access
    @_json_errors
    def save_draft(self, key):
        body = _body()
        draft = modeler.save_draft(key, current_actor(), body.get("bpmn_xml"), body.get("forms"),
                                   body.get("base_version_id"))
        return jsonify(result={"id": draft.id, "updated_at": iso(draft.updated_at),
                               "updated_at_local": self._local(draft.updated_at)})

    @expose("/<key>/draft/discard", methods=["POST"])
    @has_access
    def discard_draft(self, key):
        if modeler.discard_draft(key, current_actor()):
            flash(_("Draft discarded."), "info")
        return redirect(url_for("ModelerView.edit", key=key))

    @staticmethod
    def _local(value) -> str:
        return current_app.jinja_env.filters["localtime"](value)

    @expose("/validate", methods=["POST"])
    @has_access
    @_json_errors
    def validate(self):
        body = _body()
        problems = modeler.problems_of(body.get("bpmn_xml"), body.get("forms"))
        return jsonify(valid=not problems, problems=[p.to_dict() for p in problems])

    @expose("/<key>/deploy", methods=["POST"])
    @has_access
    @_json_errors
    def deploy(self, key):
        body = _body()
        version, created = modeler.deploy(key, current_actor(), body.get("bpmn_xml"), body.get("forms"),
                                          body.get("comment"))
        message = (_("Deployed as version %(number)s.", number=version.number) if created else
                   _("Nothing to deploy: the diagram is identical to version %(number)s.", number=version.number))
        return jsonify(message=message, created=created,
                       result={"id": version.id, "number": version.number, "process": key}), 201 if created else 200

    @expose("/upload", methods=["POST"])
    @has_access
    @_json_errors
    def upload(self):
        file = request.files.get("file")
        if file is None:
            raise InvalidInput(Problem(_("choose a .bpmn file to upload"), field="file"))
        forms = None
        if request.form.get("forms"):
            try:
                forms = json.loads(request.form["forms"])
            except ValueError:
                forms = None
        result = modeler.read_upload(file.read(), file.filename, forms if isinstance(forms, dict) else None)
        return jsonify(result.to_dict())

    @expose("/version/<int:version_id>/download")
    @has_access
    def download(self, version_id):
        try:
            version = modeler.get_version(version_id)
        except NotFound:
            abort(404)
        name, data = modeler.download(version, current_actor())
        return Response(data, mimetype="application/xml",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @expose("/<key>/versions")
    @has_access
    def versions(self, key):
        try:
            rows = modeler.versions(key)
        except NotFound:
            abort(404)
        drafts = modeler.get_draft(key, current_actor().username)
        return self.render_template("modeler_versions.html", key=key, rows=rows, draft=drafts,
                                    can_deploy=self._can("deploy"), can_migrate=self._can("migrate"),
                                    title=_("Versions of %(key)s", key=key))

    @expose("/<key>/diff")
    @has_access
    def diff(self, key):
        a, b = request.args.get("a", type=int), request.args.get("b", type=int)
        if not a or not b:
            flash(_("Choose two versions to compare."), "warning")
            return redirect(url_for("ModelerView.versions", key=key))
        try:
            result = modeler.diff(key, a, b)
            version_a, version_b = modeler.get_version(a, key), modeler.get_version(b, key)
        except NotFound:
            abort(404)
        config = {"a": {"xml": version_a.bpmn_xml, "marks": result["marks"]["a"]},
                  "b": {"xml": version_b.bpmn_xml, "marks": result["marks"]["b"]},
                  "strings": {"laidOut": _("Laid out automatically: this version has no layout of its own.")}}
        return self.render_template("modeler_diff.html", key=key, diff=result, a=version_a, b=version_b,
                                    config=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"),
                                    bundle_ready=BUNDLE.exists(), locale=_locale(),
                                    title=_("%(key)s: v%(a)s → v%(b)s", key=key, a=version_a.number, b=version_b.number))

    @expose("/<key>/migration")
    @has_access
    def migration(self, key):
        try:
            preview = modeler.migration_preview(key, request.args.get("from", type=int))
        except NotFound:
            abort(404)
        return self.render_template("modeler_migrate.html", key=key, preview=preview,
                                    title=_("Migrate %(key)s instances", key=key))

    @expose("/<key>/migrate", methods=["POST"])
    @has_access
    def migrate(self, key):
        ids = [int(i) for i in request.form.getlist("instance_id") if i.isdigit()]
        try:
            result = modeler.migrate(key, current_actor(), ids)
        except EngineError as err:
            db.session.rollback()
            flash(str(err), "danger")
            return redirect(url_for("ModelerView.migration", key=key))
        if result["migrated"]:
            flash(_("%(n)s instance(s) now run on version %(v)s.", n=len(result["migrated"]),
                    v=result["to_version"]["number"]), "success")
        for refused in result["refused"]:
            flash(_("Instance %(id)s stays: %(why)s", id=refused["instance_id"], why="; ".join(refused["reasons"])),
                  "warning")
        return redirect(url_for("ModelerView.versions", key=key))
