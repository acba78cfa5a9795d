"""Extension objects, created unbound and initialised in the app factory."""
from flask_appbuilder import Model
from flask_appbuilder.utils.legacy import get_sqla_class
from flask_migrate import Migrate

from workflows.models import Base as WorkflowBase

db = get_sqla_class()(metadata=Model.metadata)
migrate = Migrate()

# Alembic compares the database with both FAB's tables and the engine's.
TARGET_METADATA = [Model.metadata, WorkflowBase.metadata]
