"""Domain models of the web app (the engine's own tables live in workflows.models).

Each concern has its module; importing this package registers them all with FAB's metadata.
"""
from . import (
    audit,  # noqa: F401,E402  (AUDIT)
    inbox,  # noqa: F401,E402  (INBOX: task drafts)
    intake,  # noqa: F401,E402  (INTAKE)
    modeler,  # noqa: F401,E402  (MODELER, issue 7)
    notification,  # noqa: F401,E402  (NOTIFY)
    policy,  # noqa: F401,E402  (POLICY)
    retention,  # noqa: F401,E402  (AUDIT: retained records beyond visits)
    stats,  # noqa: F401,E402  (STATS: periodic reports, CAPA, themes, surveys)
    visit,  # noqa: F401,E402  (FLOWS)
)
