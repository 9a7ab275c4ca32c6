"""MLflow's process-wide configuration: client defaults and the tracking URI, set in one place.

MLflow reads its client knobs from the environment at call time and keeps the tracking URI as
a process global; both are set here, the defaults once per process and the URI whenever a
registry for another server is opened (tests open several in one process).
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request

from occupancy.errors import RegistryError

# MLflow retries an unreachable server for minutes by default; a step should fail in seconds.
CLIENT_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    # Steps print their own progress; MLflow's INFO chatter would drown it.
    "MLFLOW_LOGGING_LEVEL": "ERROR",
}

_lock = threading.Lock()
_state: dict[str, str | None] = {"tracking_uri": None}


def configure(tracking_uri: str) -> None:
    """Apply the client defaults (operators' own values win) and point MLflow at `tracking_uri`."""
    with _lock:
        if _state["tracking_uri"] == tracking_uri:
            return
        for key, value in CLIENT_ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        _state["tracking_uri"] = tracking_uri


def check_reachable(tracking_uri: str, timeout: float = 5.0) -> None:
    """Fail fast, with one sentence, when an MLflow server does not answer."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    url = f"{tracking_uri.rstrip('/')}/health"
    try:
        # B310 (file: or custom schemes) cannot happen: the scheme is checked above, http(s) only.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec B310
            response.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryError(
            f"cannot reach MLflow at {tracking_uri} ({reason}): check MLFLOW_TRACKING_URI and that "
            "the tracking server is running"
        ) from None
