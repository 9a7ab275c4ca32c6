"""The only package that talks to MLflow: runs, logged models, the registry and the alias.

Pipeline runs map to MLflow like this: one parent run per pipeline run id (tag
`occupancy.run_id`), one child run per model family (tag `occupancy.family`), one registered
version per promoted challenger, and the alias (default `@champion`) on the version being served.

    environment   MLflow's process-wide client settings and tracking URI; reachability
    store         `Registry`: experiment, runs, versions, alias, promotion records
    family_run    what the train step logs into a family's run
    artifacts     logging a pipeline with skops and loading it back
    schema        whether a logged model's input schema can take a frame (promotion's proof)
    tags          the tag names the mapping above uses
"""

from occupancy.registry.artifacts import LoadedModel
from occupancy.registry.family_run import FamilyRun
from occupancy.registry.store import Registry
from occupancy.registry.tags import DECISION_TAG, FAMILY_TAG, MODEL_ID_TAG, ROLE_TAG, RUN_ID_TAG

__all__ = [
    "DECISION_TAG",
    "FAMILY_TAG",
    "MODEL_ID_TAG",
    "ROLE_TAG",
    "RUN_ID_TAG",
    "FamilyRun",
    "LoadedModel",
    "Registry",
]
