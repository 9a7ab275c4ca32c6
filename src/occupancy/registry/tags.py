"""The tags that map pipeline runs onto MLflow runs (see the package docstring)."""

RUN_ID_TAG = "occupancy.run_id"
MODEL_ID_TAG = "occupancy.model_id"
FAMILY_TAG = "occupancy.family"
ROLE_TAG = "occupancy.role"
# On a parent run: the pipeline runs, comma-separated, that published before this one was trained
# and were never trained themselves (coalesced Asset events, dags/occupancy_airflow/coalesce.py).
SUPERSEDED_TAG = "occupancy.superseded_runs"
# Promotion: the parent run and the registered version both carry every `promotion.*` tag.
PROMOTION_PREFIX = "promotion."
DECISION_TAG = "promotion.decision"
REASON_TAG = "promotion.reason"
VERSION_TAG = "promotion.version"
# Set only when a champion was replaced without being scored; its value says why (schema_change).
CHAMPION_REPLACED_TAG = "promotion.champion_replaced"
# On a monitoring run: the model version it measured, and the digest of what it was made from.
MONITORED_VERSION_TAG = "occupancy.monitored_version"
MONITORING_DIGEST_TAG = "occupancy.monitoring_digest"
