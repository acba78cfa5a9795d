"""Roles of SOP_RULES §1.1 and what each may do.

Permissions are FAB (permission, view) pairs. Views and APIs share a permission name per
resource, so a role that may not read tasks in the UI may not read them through the API
either. Admin gets everything from FAB itself.
"""
from __future__ import annotations

from flask_appbuilder.security.sqla.manager import SecurityManager

from .services.records import audit

# resource -> the actions that exist on it
RESOURCES = {
    "Task": ["read", "work", "reassign"],
    "ProcessInstance": ["read", "start", "cancel"],
    "ProcessModel": ["read", "deploy", "migrate"],  # migrate: move running instances to the newest version
    "EngineEvent": ["read"],
    "AuditEntry": ["read", "export"],  # the audit trail (issue 5): auditors only
    "Retention": ["read", "hold", "destroy", "file"],  # RET-14: legal holds, destruction; AMB-10 filing
    "FileLoan": ["read", "request", "decide"],  # RET-18…21: the borrowing/copying register
}

READ_ALL = [("Task", "read"), ("ProcessInstance", "read"), ("ProcessModel", "read")]
WORK = [("Task", "read"), ("Task", "work"), ("ProcessInstance", "read")]

ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    # 流程负责人: edits and deploys diagrams, sees which instances run on which version.
    "ProcessOwner": [("ProcessModel", "read"), ("ProcessModel", "deploy"), ("ProcessModel", "migrate"),
                     ("ProcessInstance", "read"), ("ProcessInstance", "start")],
    # 客服主管: plans, assigns, reviews, escalates.
    "Supervisor": WORK + [("Task", "reassign"), ("ProcessInstance", "start"), ("ProcessInstance", "cancel"),
                          ("ProcessModel", "read")],
    # 回访员 / 管理员 / 客户助理: works an inbox; records intake.
    "Agent": WORK + [("ProcessInstance", "start")],
    "DepartmentHead": WORK,
    "Manager": WORK + [("ProcessInstance", "start"), ("ProcessModel", "read"), ("Retention", "read"),
                       ("Retention", "hold")],
    "VP": WORK,
    "QualityDept": WORK,
    "Archivist": WORK + [("Retention", "read"), ("Retention", "hold"), ("Retention", "destroy"),
                         ("Retention", "file")],
    # 审计: read-only everywhere, including the trail.
    "Auditor": READ_ALL + [("EngineEvent", "read"), ("AuditEntry", "read"), ("AuditEntry", "export"),
                           ("Retention", "read")],
}

# RET-18…21: anyone working with files may ask; department heads and the project head decide.
for _role in ("Supervisor", "Agent", "DepartmentHead", "Manager", "VP", "QualityDept", "Archivist"):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("FileLoan", "request")]
for _role in ("DepartmentHead", "Manager"):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("FileLoan", "decide")]
for _role in ("Manager", "Archivist", "Auditor", "DepartmentHead"):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("FileLoan", "read")]

ROLES = ["Admin", *ROLE_PERMISSIONS]

# Every signed-in role may read the API documentation (FAB's own permission names).
API_DOCS = [("can_get", "OpenApi"), ("can_show", "SwaggerView")]

# FAB menu entries each role sees (menu_access on the category/menu names).
ROLE_MENUS: dict[str, list[str]] = {
    "ProcessOwner": ["Processes", "Modeler", "Process models", "Instances"],
    "Supervisor": ["Work", "My tasks", "Processes", "Process models", "Instances"],
    "Auditor": ["Work", "My tasks", "Processes", "Process models", "Instances", "Audit", "Engine events",
                "Audit trail", "Destruction register", "File loans", "Retention"],
}
for _role in ("Agent", "DepartmentHead", "Manager", "VP", "QualityDept", "Archivist"):
    ROLE_MENUS[_role] = ["Work", "My tasks", "Processes", "Instances"]

# ---- INTAKE (SOP_RULES §5.5). "unmask" shows full phone and ID numbers: only roles that must
# call or identify customers in person have it (Supervisor, Manager; Admin has everything).
RESOURCES.update({
    "Project": ["read", "write"],
    "Household": ["read", "write", "unmask"],  # customers are part of their household's file
    "ServiceEvent": ["read", "record", "complete"],
    "WorkOrder": ["read", "import"],
})
_INTAKE_READ = [("Project", "read"), ("Household", "read"), ("ServiceEvent", "read"), ("WorkOrder", "read")]
_INTAKE_RECORD = _INTAKE_READ + [("Household", "write"), ("ServiceEvent", "record"), ("ServiceEvent", "complete"),
                                 ("WorkOrder", "import")]
_INTAKE_GRANTS = {
    "ProcessOwner": _INTAKE_READ + [("Project", "write")],  # picks each project's policy profile
    "Supervisor": _INTAKE_RECORD + [("Household", "unmask"), ("Project", "write")],
    "Agent": _INTAKE_RECORD,  # first-contact person (FC-04) records and tracks
    "DepartmentHead": _INTAKE_READ + [("ServiceEvent", "complete")],  # FC-07: handling dept reports completion
    "Manager": _INTAKE_RECORD + [("Household", "unmask"), ("Project", "write")],
    "VP": _INTAKE_READ,
    "QualityDept": _INTAKE_READ,
    "Archivist": _INTAKE_READ,
    "Auditor": _INTAKE_READ,
}
_INTAKE_MENUS = ["Intake", "Service events", "Households", "Customers", "Projects", "Work orders"]
for _role, _pairs in _INTAKE_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _pairs
    ROLE_MENUS[_role] = ROLE_MENUS.get(_role, []) + _INTAKE_MENUS
    if ("WorkOrder", "import") in _pairs:
        ROLE_MENUS[_role] = ROLE_MENUS[_role] + ["Import work orders"]


# RET-14, RET-18…21: the registers under Audit for those who keep or decide them.
for _role, _menus in {"Archivist": ["Audit", "Destruction register", "File loans", "Retention"],
                      "Manager": ["Audit", "Destruction register", "File loans", "Retention"],
                      "DepartmentHead": ["Audit", "File loans"]}.items():
    ROLE_MENUS[_role] = ROLE_MENUS.get(_role, []) + _menus


def permission_name(action: str) -> str:
    return f"can_{action}"


def sync_roles(sm) -> None:
    """Create every role with exactly its permissions (idempotent; removes extras)."""
    for role_name, pairs in ROLE_PERMISSIONS.items():
        role = sm.find_role(role_name) or sm.add_role(role_name)
        wanted = []
        for resource, action in pairs:
            pv = sm.add_permission_view_menu(permission_name(action), resource)
            wanted.append(pv)
        for perm, view in API_DOCS:
            wanted.append(sm.add_permission_view_menu(perm, view))
        for menu in ROLE_MENUS.get(role_name, []):
            wanted.append(sm.add_permission_view_menu("menu_access", menu))
        for pv in list(role.permissions):
            if pv not in wanted:
                sm.del_permission_role(role, pv)
        for pv in wanted:
            if pv not in role.permissions:
                sm.add_permission_role(role, pv)


# POLICY (SOP_RULES §0.3): everyone reads profiles and explains; ProcessOwner edits profiles and
# project overrides (each edit is a new version with a reason).
RESOURCES["PolicyProfile"] = ["read", "edit"]
for _role in ROLE_PERMISSIONS:
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("PolicyProfile", "read")]
    ROLE_MENUS[_role] = ROLE_MENUS.get(_role, []) + (["Processes"] if "Processes" not in ROLE_MENUS.get(_role, [])
                                                     else []) + ["Policy profiles"]
ROLE_PERMISSIONS["ProcessOwner"] = ROLE_PERMISSIONS["ProcessOwner"] + [("PolicyProfile", "edit")]


# FLOWS: visits and the 回访记录表 register. Everyone who works visits reads them; supervisors and
# managers start and merge visits (SMP-08/AMB-40) and void forms (FLOW-03).
RESOURCES["Visit"] = ["read", "start", "merge"]
RESOURCES["VisitForm"] = ["read", "void"]
for _role in ROLE_PERMISSIONS:
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("Visit", "read"), ("VisitForm", "read")]
    ROLE_MENUS[_role] = ROLE_MENUS.get(_role, []) + (["Work"] if "Work" not in ROLE_MENUS.get(_role, [])
                                                     else []) + ["Visits", "Visit forms"]
for _role in ("Supervisor", "Manager"):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("Visit", "start"), ("Visit", "merge"),
                                                         ("VisitForm", "void")]


# NOTIFY: every role reads its own notifications (the API and page filter by the signed-in user).
RESOURCES["Notification"] = ["read"]
for _role in ROLE_PERMISSIONS:
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("Notification", "read")]
    ROLE_MENUS[_role] = ROLE_MENUS.get(_role, []) + (["Work"] if "Work" not in ROLE_MENUS.get(_role, [])
                                                     else []) + ["Notifications"]


# INBOX and PRINT (issue 4): everyone who works visits prints the 回访记录表 (blank to sign it out,
# filled for the file) and the sign-out sheet; supervisors see the team's workload ("reassign").
RESOURCES["VisitForm"] = RESOURCES["VisitForm"] + ["print"]
for _role in ("Supervisor", "Agent", "DepartmentHead", "Manager", "VP", "QualityDept", "Archivist"):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("VisitForm", "print")]
for _role in ("Supervisor", "Manager"):
    if ("Task", "reassign") not in ROLE_PERMISSIONS[_role]:
        ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("Task", "reassign")]
    ROLE_MENUS[_role] = ROLE_MENUS[_role] + ["Team workload"]
for _role in ("Supervisor", "Agent", "Manager", "Archivist"):
    ROLE_MENUS[_role] = ROLE_MENUS[_role] + ["Print forms"]
# STATS (issue 6): dashboards for those who run the company on the numbers (Manager, VP, QualityDept,
# Supervisor) and the auditor; CAPAs are started by the supervisor, manager or quality dept; themes and
# surveys are issued by the supervisor and manager; survey answers are recorded by whoever collects them.
RESOURCES["Statistics"] = ["read", "export", "capa", "manage", "survey"]
_STATS_READERS = ("Supervisor", "Manager", "VP", "QualityDept", "Auditor")
for _role in _STATS_READERS:
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("Statistics", "read"), ("Statistics", "export")]
    ROLE_MENUS[_role] = ROLE_MENUS.get(_role, []) + ["Statistics", "Dashboard", "CAPA", "Periodic reports"]
for _role in ("Supervisor", "Manager", "QualityDept"):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("Statistics", "capa")]
for _role in ("Supervisor", "Manager"):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("Statistics", "manage")]
for _role in ("Supervisor", "Manager", "Agent"):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [("Statistics", "survey")]


def security_manager_class():
    """FAB's security manager, recording logins and failed logins in the audit trail (issue 5)."""
    class AuditedSecurityManager(SecurityManager):
        def on_user_login(self, user):
            super().on_user_login(user)
            self._audit("login", user.username, {})

        def on_user_login_failed(self, user):
            super().on_user_login_failed(user)
            self._audit("login_failed", user.username, {"reason": "wrong password or inactive user"})

        def auth_user_db(self, username, password):
            user = super().auth_user_db(username, password)
            if user is None and username and self.find_user(username=username) is None:
                self._audit("login_failed", username, {"reason": "no such user"})
            return user

        def _audit(self, action: str, username: str, details: dict) -> None:
            audit.record(action, actor=username, target_type="ab_user", target_id=username, details=details,
                         session=self.session)
            self.session.commit()

    return AuditedSecurityManager
