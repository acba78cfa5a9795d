"""REST API for retention (issue 5, RET-14): legal holds, expired records, starting a destruction."""
from __future__ import annotations

from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect

from ..services import retention
from ..services.engine import current_actor, iso
from .common import engine_errors, json_body


class RetentionApi(BaseApi):
    resource_name = "retention"
    class_permission_name = "Retention"
    method_permission_name = {"hold": "hold", "release": "hold", "expired": "read", "destroy": "destroy"}
    openapi_spec_tag = "Retention"

    @expose("/visits/<int:visit_id>/hold", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def hold(self, visit_id):
        """Place a legal hold on a visit record.
        ---
        post:
          summary: 'Legal hold: {"reason"} — blocks destruction until released'
          responses:
            200: {description: held}
            422: {description: no reason}
        """
        retention.place_hold(visit_id, json_body().get("reason"))
        return self.response(200, result={"visit_id": visit_id, "legal_hold": True})

    @expose("/visits/<int:visit_id>/release", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def release(self, visit_id):
        """Release a legal hold.
        ---
        post:
          summary: 'Release a legal hold: {"reason"}'
          responses:
            200: {description: released}
            409: {description: not on hold}
        """
        retention.release_hold(visit_id, json_body().get("reason"))
        return self.response(200, result={"visit_id": visit_id, "legal_hold": False})

    @expose("/expired", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def expired(self):
        """Filed records whose retention ended (not on hold, not destroyed).
        ---
        get:
          responses:
            200: {description: the records}
        """
        rows = retention.expired_visits()
        return self.response(200, count=len(rows), result=[
            {"visit_id": v.id, "serial": v.serial, "category": v.category, "archived_at": iso(v.archived_at),
             "retain_until": iso(v.retain_until)} for v in rows])

    @expose("/destruction", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def destroy(self):
        """Start the destruction flow (archivist proposes → manager approves → supervisor witnesses).
        ---
        post:
          responses:
            201: {description: the destruction instance}
            409: {description: nothing has expired}
        """
        return self.response(201, result={"instance_id": retention.propose_destruction(current_actor())})
