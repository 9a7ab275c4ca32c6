"""Typed settings from 12-factor environment variables (DESIGN.md section 4).

Nothing is read at import: call `get_settings()` (cached) or build `Settings()` directly in tests.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from occupancy.errors import ConfigError

DEFAULT_MODEL_NAME = "airbnb-occupancy-classifier"
DEFAULT_MODEL_ALIAS = "champion"


# What MLflow 3 can track to: a server, or a database or directory it opens itself (a bare
# path, without a scheme, is a directory too).
TRACKING_SCHEMES = (
    *("http", "https", "file", "sqlite", "postgresql", "mysql", "mssql"),
    *("databricks", "databricks-uc", "uc"),
)


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every knob of the product. Local defaults live under `<cwd>/.occupancy`."""

    model_config = SettingsConfigDict(env_prefix="OCCUPANCY_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=lambda: Path.cwd() / ".occupancy")
    lake_uri: str = ""
    raw_uri: str = ""
    mlflow_tracking_uri: str = Field(default="", validation_alias=_env("MLFLOW_TRACKING_URI"))
    experiment_name: str = "occupancy"
    model_name: str = DEFAULT_MODEL_NAME
    model_alias: str = DEFAULT_MODEL_ALIAS
    api_token: SecretStr | None = None
    # How often the API checks the alias for a new version (`occupancy serve --poll-seconds`).
    poll_seconds: float = Field(default=30.0, gt=0.0)
    # On SIGTERM the API keeps answering this long with readiness 503, so load balancers stop
    # routing to it before it closes its socket (Kubernetes removes endpoints asynchronously).
    api_drain_seconds: float = Field(default=5.0, ge=0.0, le=300.0)
    # The API's prediction log (`occupancy.api.prediction_log`): on, every scored listing is
    # appended to `<prediction_log_uri>/predictions/` within `prediction_log_flush_seconds`.
    # Default: the lake. Compose and the chart give it a bucket of its own, which the API's S3
    # identity may only write to and the monitoring steps' (the lake's) may only read.
    prediction_log: bool = True
    prediction_log_uri: str = ""
    prediction_log_flush_seconds: float = Field(default=30.0, gt=0.0, le=3600.0)
    # monitoring_dag asks for retraining when one of these is crossed (occupancy.monitoring.
    # thresholds): a feature's or the predicted levels' PSI over its maximum, measured on at
    # least `monitoring_min_rows` predictions, or the live macro-F1 more than `monitoring_max_f1_drop`
    # under the champion's test macro-F1, over at least `monitoring_min_matched` listings.
    monitoring_max_feature_psi: float = Field(default=0.25, gt=0.0)
    monitoring_max_prediction_psi: float = Field(default=0.25, gt=0.0)
    monitoring_min_rows: int = Field(default=200, ge=1)
    monitoring_max_f1_drop: float = Field(default=0.10, ge=0.0, le=1.0)
    monitoring_min_matched: int = Field(default=200, ge=1)
    # Raw files at http(s):// URLs (occupancy.download): the size limit, the timeout for the
    # connection and between two blocks of the body, and the tries on a transient failure.
    download_max_bytes: int = Field(default=2 << 30, ge=1)
    download_timeout_seconds: float = Field(default=60.0, gt=0.0, le=3600.0)
    download_attempts: int = Field(default=4, ge=1, le=20)
    max_bad_row_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    # The promotion gate per source (steps.promote): a challenger that beats the champion overall
    # is still kept out when it loses more than this macro-F1 on a source with enough test rows.
    promotion_max_source_drop: float = Field(default=0.05, ge=0.0, le=1.0)
    promotion_min_source_rows: int = Field(default=200, ge=1)
    # A run of several raw files (data_treatment_dag's `raw_uris`): when one fails, `fail` fails
    # the run, `continue` trains on the others and reports the failed ones (steps.combine);
    # locally (`occupancy treat`) at most `max_parallel_sources` sources at a time.
    source_failures: Literal["fail", "continue"] = "fail"
    max_parallel_sources: int = Field(default=2, ge=1, le=64)
    # batch_scoring_dag cuts its input into chunks of this many rows, one scoring task (pod) each.
    score_chunk_rows: int = Field(default=250_000, ge=1)
    # Above this, training uses a deterministic sample of the train split (2-core machines).
    max_train_rows: int = Field(default=300_000, ge=100)
    seed: int = 42
    # The S3 endpoint every lake and input is opened with (and named in its errors); unset, boto3
    # resolves the AWS default. Credentials stay boto3's own (AWS_ACCESS_KEY_ID, …).
    s3_endpoint_url: str | None = Field(default=None, validation_alias=_env("AWS_ENDPOINT_URL"))
    # The code version recorded on runs and versions; images set it, a checkout asks git.
    git_sha: str | None = None
    # Where `occupancy demo` finds the DAG files; default: `dags/` of the running checkout.
    dags_folder: Path | None = None

    @field_validator("api_token", mode="after")
    @classmethod
    def _blank_token_disables_reload(cls, value: SecretStr | None) -> SecretStr | None:
        # OCCUPANCY_API_TOKEN="" (an unfilled Secret) must not become the secret "Bearer ".
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        # Defaults that depend on other settings; frozen models need object.__setattr__.
        home = self.home.resolve()
        object.__setattr__(self, "home", home)
        if not self.lake_uri:
            object.__setattr__(self, "lake_uri", (home / "lake").as_uri())
        object.__setattr__(self, "lake_uri", self.lake_uri.rstrip("/"))
        if not self.raw_uri:
            object.__setattr__(self, "raw_uri", f"{self.lake_uri}/raw/listings_big.csv")
        object.__setattr__(
            self, "prediction_log_uri", (self.prediction_log_uri or self.lake_uri).rstrip("/")
        )
        if not self.mlflow_tracking_uri:
            object.__setattr__(self, "mlflow_tracking_uri", f"sqlite:///{home / 'mlflow.db'}")
        scheme = self.mlflow_tracking_uri.partition(":")[0].partition("+")[0].lower()
        if ":" in self.mlflow_tracking_uri and scheme not in TRACKING_SCHEMES:
            # Caught here, MLflow would say so only at its first call, as a registry failure.
            raise ValueError(
                "MLFLOW_TRACKING_URI must be a tracking server (http://host:port) or a store "
                f"(sqlite:///…, postgresql://…, file:///…), got {self.mlflow_tracking_uri!r}"
            )
        for name, uri in (
            ("LAKE_URI", self.lake_uri),
            ("PREDICTION_LOG_URI", self.prediction_log_uri),
        ):
            if not uri.startswith(("file://", "s3://")):
                raise ValueError(f"OCCUPANCY_{name} must start with file:// or s3://, got {uri!r}")
        return self

    @property
    def is_local_tracking(self) -> bool:
        """True when MLflow runs embedded on SQLite or files (no tracking server)."""
        return not self.mlflow_tracking_uri.startswith(("http://", "https://"))

    @property
    def local_artifact_root(self) -> Path:
        """Where embedded MLflow keeps artifacts (unused with a tracking server)."""
        return self.home / "mlartifacts"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
