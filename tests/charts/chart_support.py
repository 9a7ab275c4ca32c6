"""Chart test helpers (a module of its own: `conftest` names collide across test folders)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import tools
import yaml

CHARTS_DIR = tools.ROOT / "charts"
# Dependencies first: the umbrella vendors the subcharts, each of which vendors `common`.
CHARTS = ("postgres", "minio", "mlflow", "airflow", "api", "occupancy")


def scenarios(chart: str) -> list[Path | None]:
    """Default values (None) and every scenario file in the chart's ci/ folder."""
    return [None, *sorted((CHARTS_DIR / chart / "ci").glob("*.yaml"))]


def scenario_id(chart: str, scenario: Path | None) -> str:
    return f"{chart}:{'default' if scenario is None else scenario.stem}"


ALL_SCENARIOS = [(chart, scenario) for chart in CHARTS for scenario in scenarios(chart)]
# Values a chart needs from the cluster it is installed in (`make deploy` discovers them), given
# before any scenario file so a scenario can still override them.
CLUSTER_VALUES = Path(__file__).parent / "cluster"


def cluster_values(chart: str) -> list[str]:
    """`-f tests/charts/cluster/<chart>.yaml` when the chart needs values from the cluster."""
    found = CLUSTER_VALUES / f"{chart}.yaml"
    return ["-f", str(found)] if found.exists() else []


class Renderer:
    """`helm template` of a chart as a list of objects (release "occ", namespace "occupancy")."""

    def __init__(self, helm: str) -> None:
        self.helm = helm
        self._cache: dict[tuple[str, str | None, tuple[str, ...]], list[dict]] = {}

    def run(
        self, chart: str, scenario: Path | None = None, sets: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        command = [self.helm, "template", "occ", str(CHARTS_DIR / chart), "-n", "occupancy"]
        command += cluster_values(chart)
        if scenario is not None:
            command += ["-f", str(scenario)]
        for item in sets:
            command += ["--set", item]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def objects(
        self, chart: str, scenario: Path | None = None, sets: tuple[str, ...] = ()
    ) -> list[dict]:
        key = (chart, None if scenario is None else str(scenario), sets)
        if key not in self._cache:
            done = self.run(chart, scenario, sets)
            assert done.returncode == 0, done.stderr
            self._cache[key] = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
        return self._cache[key]


def pod_specs(objects: list[dict]) -> list[tuple[str, dict]]:
    """(kind/name, pod spec) of every workload."""
    found = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
            found.append(
                (f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"])
            )
    return found
