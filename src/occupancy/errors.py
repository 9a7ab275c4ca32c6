"""Errors the product raises on purpose, each carrying one sentence a user can act on.

    OccupancyError
    ├── ConfigError          a setting is missing or malformed
    ├── LakeError            the data lake (file:// or s3://) cannot be read or written
    │   └── UriError         a URI is malformed, or names a directory where a file is needed
    ├── DataError            input data breaks the contract
    │   ├── SchemaError      required columns are missing or the file is not a listings CSV
    │   └── QualityError     too many rows are invalid
    ├── RegistryError        MLflow cannot be reached or refuses a request
    │   ├── UntrustedModelError  a model artifact would need pickle or a type we do not trust
    │   └── ChampionError        the champion fits the data's schema but fails to score it
    ├── NotFoundError        something a step needs does not exist yet (a run, a champion)
    ├── PipelineError        a DAG run failed (carries the failing step's reason)
    ├── SkippedError         a step has nothing to do for this input (a source that failed before)
    ├── ListenError          `occupancy serve` cannot listen: another process holds the port
    ├── ModelInputError      a listing given for scoring is invalid (the API answers 422)
    └── ApiError             the prediction API refuses a request for a reason of its own
        ├── NotReadyError        no model is loaded yet, or the server is draining (503)
        ├── UnauthorizedError    the admin bearer token is missing or wrong (401)
        └── ReloadDisabledError  model reload is off: no admin token is configured (403)

The CLI prints `error: <message>` and exits with the class's `exit_code` (DESIGN.md section 5):
`EXIT_BAD_INPUT` (2) when the input, a setting or a contract is wrong, which no retry can fix (a
DAG task fails at once), `EXIT_SKIPPED` (3) when there is nothing to do (the task is skipped),
and 1 for anything else, possibly transient (the task is retried). The
API maps each class to a status in one table (`occupancy.api.errors`).
"""

from __future__ import annotations

# = dags/occupancy_airflow/config.py EXIT_BAD_INPUT (tests/dags/test_contracts.py): the runners
# fail a task at once on it instead of retrying.
EXIT_BAD_INPUT = 2
# = dags/occupancy_airflow/config.py EXIT_SKIPPED: the runners mark the task skipped.
EXIT_SKIPPED = 3


class OccupancyError(Exception):
    """Root of every error raised on purpose by occupancy."""

    exit_code = 1  # possibly transient: the same command may succeed later


class ConfigError(OccupancyError):
    """A setting is missing or malformed."""

    exit_code = EXIT_BAD_INPUT


class LakeError(OccupancyError):
    """The data lake cannot be read or written."""


class UriError(LakeError):
    """A URI has an unsupported form, or names something that cannot be read as a file."""

    exit_code = EXIT_BAD_INPUT  # the same URI fails the same way on every try


class DataError(OccupancyError):
    """Input data breaks the data contract."""

    exit_code = EXIT_BAD_INPUT


class SchemaError(DataError):
    """Required columns are missing, or the input is not a listings CSV at all."""


class QualityError(DataError):
    """Too many rows are invalid to continue."""


class RegistryError(OccupancyError):
    """MLflow cannot be reached or refused a request."""


class UntrustedModelError(RegistryError):
    """A model artifact is not skops, or needs a type outside the product's trusted list."""

    exit_code = EXIT_BAD_INPUT


class ChampionError(RegistryError):
    """The champion's logged schema fits the new data, yet it fails to score it: never replaced."""

    exit_code = EXIT_BAD_INPUT  # the same artifact fails the same way: a person must look


class NotFoundError(OccupancyError):
    """Something a step needs does not exist yet."""

    exit_code = EXIT_BAD_INPUT  # the run's input is missing: a retry finds it missing again


class SkippedError(OccupancyError):
    """A step has nothing to do: its input failed upstream, and the run goes on without it."""

    exit_code = EXIT_SKIPPED


class PipelineError(OccupancyError):
    """A pipeline run orchestrated by Airflow failed (the message carries the step's reason).

    `exit_code` is the failing step's verdict: 2 when it refused its input, else 1.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ListenError(OccupancyError):
    """The API cannot listen on its port because another process holds it (may be free later)."""


class ModelInputError(OccupancyError):
    """A listing given for scoring is invalid; `details` locate each problem (API 422 body)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class ApiError(OccupancyError):
    """The prediction API refuses a request for a reason of its own (not the listing's values)."""


class NotReadyError(ApiError):
    """No model is loaded yet, or the server is draining before shutdown."""


class UnauthorizedError(ApiError):
    """The admin bearer token is missing or wrong."""


class ReloadDisabledError(ApiError):
    """Model reload is disabled because no admin token (OCCUPANCY_API_TOKEN) is configured."""
