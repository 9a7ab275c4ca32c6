"""The tags that map pipeline runs onto MLflow runs (see the package docstring)."""

RUN_ID_TAG = "occupancy.run_id"
MODEL_ID_TAG = "occupancy.model_id"
FAMILY_TAG = "occupancy.family"
ROLE_TAG = "occupancy.role"
DECISION_TAG = "promotion.decision"
