"""Loading a model never runs code from the artifact: skops with the product's trusted types only.

Whoever can write a model version or an object in the artifact store must not gain code
execution where the champion is loaded (the API, `occupancy predict`, promote). Each test plants
a payload that would write a file when deserialized, and proves the file never appears.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from threadpoolctl import threadpool_limits

from occupancy.config import Settings
from occupancy.data.clean import MODEL_INPUT_COLUMNS, clean_listings
from occupancy.errors import UntrustedModelError
from occupancy.registry import FAMILY_TAG, ROLE_TAG, Registry
from occupancy.registry.artifacts import TRUSTED_TYPES
from occupancy.training.models import FAMILIES


class Tripwire:
    """Writes `path` when skops rebuilds it (__setstate__) or pickle does (__reduce__)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __setstate__(self, state: dict[str, str]) -> None:
        Path(state["path"]).write_text("payload ran")

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.write_text, (Path(self.path), "payload ran"))


@pytest.fixture(scope="module")
def newark_xy(real_data_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    raw = pd.read_csv(real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str)
    X = clean_listings(raw)[list(MODEL_INPUT_COLUMNS)]
    return X, np.array(["zero", "low", "mid", "high"])[np.arange(len(X)) % 4]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_needs_only_the_trusted_types(newark_xy, name: str) -> None:
    X, y = newark_xy
    family = FAMILIES[name]
    with threadpool_limits(limits=1):
        model = family.build(family.grid[0], seed=1).fit(X, y)
    assert set(sio.get_untrusted_types(data=sio.dumps(model))) <= set(TRUSTED_TYPES)


def _register(registry: Registry, newark_xy, grid_point: int, run_id: str) -> tuple[str, Path]:
    """Fit, log and register one genuine logreg version; its number and artifact folder on disk."""
    X, y = newark_xy
    family = FAMILIES["logreg"]
    model = family.build(family.grid[grid_point], seed=1).fit(X, y)
    parent = registry.parent_run(run_id)
    with registry.family_run(parent, "logreg", {FAMILY_TAG: "logreg", ROLE_TAG: "family"}) as run:
        model_id = run.log_model(model, X.head(50))
    version = str(registry.register(model_id, run.id, {}).version)
    location = registry.client.get_logged_model(model_id).artifact_location
    return version, Path(unquote(urlparse(location).path))


@pytest.fixture
def registered(tmp_path, newark_xy, monkeypatch) -> tuple[Registry, str, Path]:
    """A genuine logreg version, registered and aliased, and its artifact folder on disk."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # a store of its own under tmp_path
    registry = Registry(Settings(home=tmp_path / ".occupancy"))
    version, folder = _register(registry, newark_xy, 0, "evil")
    registry.set_alias(version)
    return registry, version, folder


def _flavor(folder: Path) -> dict[str, object]:
    return yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["sklearn"]


def _set_flavor(folder: Path, **changes: object) -> None:
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"].update(changes)
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))


def test_a_skops_payload_with_an_untrusted_type_is_refused_before_it_runs(
    registered, tmp_path
) -> None:
    registry, version, folder = registered
    mark = tmp_path / "skops-payload-ran"
    payload = sio.dumps(Tripwire(mark))
    # The control: trusted by name, the payload really writes its file.
    sio.loads(payload, trusted=[f"{__name__}.Tripwire"])
    assert mark.exists()
    mark.unlink()

    (folder / str(_flavor(folder)["pickled_model"])).write_bytes(payload)
    # The artifact even lists the payload's type as trusted: that list is never used.
    _set_flavor(folder, skops_trusted_types=[*TRUSTED_TYPES, f"{__name__}.Tripwire"])
    with pytest.raises(UntrustedModelError, match=rf"models:/.*/{version} needs types .*Tripwire"):
        registry.load_version(version)
    with pytest.raises(UntrustedModelError, match="Tripwire"):
        registry.load_model(registry.champion_uri)
    assert not mark.exists()


def test_a_pickled_model_is_refused_without_unpickling(registered, tmp_path) -> None:
    registry, version, folder = registered
    mark = tmp_path / "pickle-payload-ran"
    (folder / "model.pkl").write_bytes(pickle.dumps(Tripwire(mark)))
    _set_flavor(folder, serialization_format="cloudpickle", pickled_model="model.pkl")
    with pytest.raises(UntrustedModelError, match="serialized with 'cloudpickle'.*never pickle"):
        registry.load_version(version)
    with pytest.raises(UntrustedModelError, match="never pickle"):
        registry.load_model(registry.champion_uri)
    assert not mark.exists()


def test_the_genuine_version_still_loads(registered) -> None:
    registry, version, _ = registered
    loaded = registry.load_version(version)
    assert loaded.example is not None
    assert loaded.model.predict_proba(loaded.example).shape == (50, 4)


def test_the_api_keeps_serving_the_previous_version_and_says_why(
    registered, newark_xy, tmp_path
) -> None:
    from occupancy.api.holder import ModelHolder

    registry, first, _ = registered
    holder = ModelHolder(registry.settings)
    assert holder.refresh() == "loaded" and holder.current.version == first

    second, folder = _register(registry, newark_xy, 1, "evil-2")
    mark = tmp_path / "served-payload-ran"
    (folder / str(_flavor(folder)["pickled_model"])).write_bytes(sio.dumps(Tripwire(mark)))
    registry.set_alias(second)

    assert holder.refresh() == "failed"
    assert holder.current.version == first  # the previous model keeps serving
    assert holder.last_error is not None
    assert f"UntrustedModelError: models:/{registry.settings.model_name}/{second} needs types" in (
        holder.last_error
    )
    assert not mark.exists()
