"""`Registry`: the product's experiment, pipeline and family runs, registered versions, the alias."""

from __future__ import annotations

import functools
import json
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from occupancy.config import Settings
from occupancy.errors import NotFoundError, RegistryError
from occupancy.registry import artifacts, environment
from occupancy.registry.family_run import FamilyRun
from occupancy.registry.tags import (
    DECISION_TAG,
    FAMILY_TAG,
    MONITORED_VERSION_TAG,
    MONITORING_DIGEST_TAG,
    ROLE_TAG,
    RUN_ID_TAG,
)

log = logging.getLogger(__name__)


class Registry:
    """MLflow access for one process, configured from Settings."""

    def __init__(self, settings: Settings) -> None:
        environment.check_reachable(settings.mlflow_tracking_uri)
        self.settings = settings
        if settings.is_local_tracking:
            settings.home.mkdir(parents=True, exist_ok=True)
        # Before MLflow is first imported: it reads some of its settings (logging) at import.
        environment.configure(settings.mlflow_tracking_uri)
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri)

    def check_reachable(self) -> None:
        """Fail in seconds, with one sentence, when the tracking server does not answer now."""
        environment.check_reachable(self.settings.mlflow_tracking_uri)

    @property
    def champion_uri(self) -> str:
        """`models:/<name>@<alias>`: the version being served."""
        return f"models:/{self.settings.model_name}@{self.settings.model_alias}"

    @functools.cached_property
    def experiment_id(self) -> str:
        """The product's experiment, created on first use (serving never creates one)."""
        return str(self._call("open the experiment", self._experiment))

    def _call(self, action: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an MLflow call, turning its failures into one RegistryError sentence (exit 1).

        OSError covers what the artifact download raises on its own (requests' connection and
        read errors derive from it): a transient failure, never a reason to decide anything.
        """
        from mlflow.exceptions import MlflowException

        try:
            return func(*args, **kwargs)
        except (MlflowException, OSError) as exc:
            message = (str(getattr(exc, "message", exc)).splitlines() or [type(exc).__name__])[0]
            raise RegistryError(
                f"MLflow at {self.settings.mlflow_tracking_uri} could not {action}: {message}"
            ) from None

    def _experiment(self) -> str:
        name = self.settings.experiment_name
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if self.settings.is_local_tracking:
            location = self.settings.local_artifact_root.as_uri()
        return str(self.client.create_experiment(name, artifact_location=location))

    # -- runs -----------------------------------------------------------------------------------

    def _search(self, filter_string: str) -> list[Any]:
        return list(
            self._call(
                "search runs",
                self.client.search_runs,
                [self.experiment_id],
                filter_string=filter_string,
                order_by=["attributes.start_time ASC"],
                max_results=100,
            )
        )

    def parent_run(self, run_id: str, *, create: bool = True) -> str:
        """The MLflow run id of pipeline run `run_id`'s parent run, created once.

        Training pods of one pipeline run start in parallel; if two create a parent at the same
        moment, the earliest wins and the others delete theirs, so every child joins one parent.
        """
        query = f"tags.`{RUN_ID_TAG}` = '{run_id}' and tags.`{ROLE_TAG}` = 'pipeline'"
        found = self._search(query)
        if found:
            return str(found[0].info.run_id)
        if not create:
            raise NotFoundError(f"MLflow has no pipeline run {run_id}: run the train step first")
        created = self._call(
            "create the pipeline run",
            self.client.create_run,
            self.experiment_id,
            run_name=f"pipeline-{run_id}",
            tags={RUN_ID_TAG: run_id, ROLE_TAG: "pipeline"},
        )
        winner = self._search(query)[0].info.run_id
        if winner != created.info.run_id:
            self.client.delete_run(created.info.run_id)
        return str(winner)

    def finished_child(self, parent_id: str, family: str) -> Any | None:
        """The finished child run of a model family under a parent, if one exists."""
        runs = self._search(
            f"tags.`mlflow.parentRunId` = '{parent_id}' and tags.`{FAMILY_TAG}` = '{family}' "
            "and attributes.status = 'FINISHED'"
        )
        return runs[-1] if runs else None

    def children(self, parent_id: str) -> list[Any]:
        """Finished child runs (one per family) under a parent run."""
        return self._search(
            f"tags.`mlflow.parentRunId` = '{parent_id}' and tags.`{ROLE_TAG}` = 'family' "
            "and attributes.status = 'FINISHED'"
        )

    def run(self, mlflow_run_id: str) -> Any:
        """One run by its MLflow id."""
        return self._call("read a run", self.client.get_run, mlflow_run_id)

    @contextmanager
    def family_run(self, parent_id: str, name: str, tags: dict[str, str]) -> Iterator[FamilyRun]:
        """A child run of `parent_id`, active while the block logs into it; FINISHED on success."""
        import mlflow

        environment.configure(self.settings.mlflow_tracking_uri)  # the fluent API reads the global
        with mlflow.start_run(
            experiment_id=self.experiment_id, run_name=name, parent_run_id=parent_id, tags=tags
        ) as active:
            yield FamilyRun(active.info.run_id)

    def tag_run(self, mlflow_run_id: str, tags: dict[str, str]) -> None:
        """Set tags on a run in one batch."""
        from mlflow.entities import RunTag

        self._call(
            "tag the run",
            self.client.log_batch,
            mlflow_run_id,
            tags=[RunTag(key, value) for key, value in tags.items()],
        )

    def record_decision(
        self, parent_id: str, metrics: dict[str, float], tags: dict[str, str]
    ) -> None:
        """Metrics and tags on a pipeline's parent run in one batch: all of them or none.

        The decision tag marks the step done, so it must never be there without the rest.
        """
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        ordered = sorted(tags.items(), key=lambda item: item[0] == DECISION_TAG)  # decision last
        self._call(
            "record the promotion decision",
            self.client.log_batch,
            parent_id,
            metrics=[Metric(key, value, now, 0) for key, value in metrics.items()],
            tags=[RunTag(key, value) for key, value in ordered],
        )

    def monitoring_run(
        self,
        run_id: str,
        *,
        metrics: dict[str, float],
        tags: dict[str, str],
        artifacts_dir: Path,
        digest: str,
    ) -> tuple[str, bool]:
        """The MLflow run of monitoring run `run_id`, logged once: (its MLflow id, reused).

        A retried report step finds the finished run of the same inputs (`digest`) and leaves
        it. Any other — unfinished (a pod killed mid-upload), or of inputs measured again since —
        is deleted and logged anew, so the record always says what the lake's report says.
        """
        from mlflow.entities import Metric, RunTag

        query = f"tags.`{RUN_ID_TAG}` = '{run_id}' and tags.`{ROLE_TAG}` = 'monitoring'"
        for found in self._search(query):
            same = found.data.tags.get(MONITORING_DIGEST_TAG) == digest
            if found.info.status == "FINISHED" and same:
                return str(found.info.run_id), True
            self._call("delete a stale monitoring run", self.client.delete_run, found.info.run_id)
        created = self._call(
            "create the monitoring run",
            self.client.create_run,
            self.experiment_id,
            run_name=f"monitoring-{run_id}",
            tags={RUN_ID_TAG: run_id, ROLE_TAG: "monitoring", MONITORING_DIGEST_TAG: digest},
        )
        mlflow_id = str(created.info.run_id)
        now = int(time.time() * 1000)
        self._call(
            "record the monitoring numbers",
            self.client.log_batch,
            mlflow_id,
            metrics=[Metric(key, value, now, 0) for key, value in metrics.items()],
            tags=[RunTag(key, value) for key, value in tags.items()],
        )
        self._call(
            "upload the monitoring report", self.client.log_artifacts, mlflow_id, str(artifacts_dir)
        )
        self._call("finish the monitoring run", self.client.set_terminated, mlflow_id)
        return mlflow_id, False

    def latest_monitoring_run(self, model_version: str) -> Any | None:
        """The newest finished monitoring run of `model_version`, or None (never creates the
        experiment: serving only reads)."""
        found = self._call(
            "open the experiment", self.client.get_experiment_by_name, self.settings.experiment_name
        )
        if found is None:
            return None
        runs = self._call(
            "search monitoring runs",
            self.client.search_runs,
            [str(found.experiment_id)],
            filter_string=(
                f"tags.`{ROLE_TAG}` = 'monitoring' and attributes.status = 'FINISHED' and "
                f"tags.`{MONITORED_VERSION_TAG}` = '{model_version}'"
            ),
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0] if runs else None

    def run_artifact_text(self, mlflow_run_id: str, path: str) -> str | None:
        """A text artifact of a run (None when the run has no such artifact)."""
        names = {
            a.path for a in self._call("list artifacts", self.client.list_artifacts, mlflow_run_id)
        }
        if path not in names:
            return None
        with tempfile.TemporaryDirectory(prefix="occupancy-artifact-") as tmp:
            local = self._call(
                f"download {path}", self.client.download_artifacts, mlflow_run_id, path, tmp
            )
            return Path(local).read_text(encoding="utf-8")

    # -- models and the registry ----------------------------------------------------------------

    def champion(self) -> Any | None:
        """The model version the alias points to, or None when there is none yet."""
        from mlflow.exceptions import MlflowException

        name, alias = self.settings.model_name, self.settings.model_alias
        try:
            return self.client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") in (
                "RESOURCE_DOES_NOT_EXIST",
                "NOT_FOUND",
                "INVALID_PARAMETER_VALUE",
            ):
                return None
            raise RegistryError(f"MLflow could not read {name}@{alias}: {exc.message}") from None
        except OSError as exc:
            raise RegistryError(f"MLflow could not read {name}@{alias}: {exc}") from None

    def load_model(self, model_uri: str) -> Any:
        """A logged scikit-learn model by URI (models:/name@alias, models:/m-…)."""
        tracking_uri = self.settings.mlflow_tracking_uri
        return self._call(f"load {model_uri}", artifacts.load_model, model_uri, tracking_uri)

    def load_version(self, version: str) -> artifacts.LoadedModel:
        """One registered version's model and input example, downloaded once."""
        uri = f"models:/{self.settings.model_name}/{version}"
        tracking_uri = self.settings.mlflow_tracking_uri
        return self._call(f"load {uri}", artifacts.load_with_example, uri, tracking_uri)  # type: ignore[no-any-return]

    def run_artifact_json(self, mlflow_run_id: str, path: str) -> Any | None:
        """A JSON artifact of a run (None when the run has no such artifact)."""
        text = self.run_artifact_text(mlflow_run_id, path)
        return None if text is None else json.loads(text)

    def version_for_run(self, child_run_id: str) -> Any | None:
        """The registered version made from a child run's model, if already registered.

        A failed lookup raises: answering "none" would register a second version of the run.
        """
        name = self.settings.model_name
        versions = self._call(
            "look up the versions of a run",
            self.client.search_model_versions,
            f"name = '{name}' and run_id = '{child_run_id}'",
        )
        return versions[0] if versions else None

    def register(self, model_id: str, run_id: str, tags: dict[str, str]) -> Any:
        """Register a logged model (`models:/<model_id>`) as a new version, with tags."""
        from mlflow.exceptions import MlflowException

        name = self.settings.model_name
        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self._call("create the registered model", self.client.create_registered_model, name)
        return self._call(
            "register the model",
            self.client.create_model_version,
            name,
            source=f"models:/{model_id}",
            run_id=run_id,
            tags=tags,
            model_id=model_id,
        )

    def tag_version(self, version: str, tags: dict[str, str]) -> None:
        """Set tags on a registered version (overwriting any of the same names)."""
        for key, value in tags.items():
            self._call(
                "tag a model version",
                self.client.set_model_version_tag,
                self.settings.model_name,
                version,
                key,
                value,
            )

    def set_alias(self, version: str) -> None:
        """Point the served alias at a version."""
        self._call(
            "move the alias",
            self.client.set_registered_model_alias,
            self.settings.model_name,
            self.settings.model_alias,
            version,
        )
