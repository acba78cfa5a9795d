"""Domain models of the web app (the engine's own tables live in workflows.models).

Each concern has its module; importing this package registers them all with FAB's metadata.
"""
from . import intake  # noqa: F401,E402  (INTAKE)
from . import visit  # noqa: F401,E402  (FLOWS)
from . import policy  # noqa: F401,E402  (POLICY)
from . import notification  # noqa: F401,E402  (NOTIFY)
from . import audit  # noqa: F401,E402  (AUDIT)
from . import inbox  # noqa: F401,E402  (INBOX: task drafts)
from . import retention  # noqa: F401,E402  (AUDIT: retained records beyond visits)
from . import modeler  # noqa: F401,E402  (MODELER, issue 7)
from . import stats  # noqa: F401,E402  (STATS: periodic reports, CAPA, themes, surveys)
