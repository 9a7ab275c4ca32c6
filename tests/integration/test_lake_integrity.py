"""No silent reuse, no mixing, no unchecked read (issue 14 item 3), on a real S3 (SeaweedFS).

Two writers of one run id race to publish; the loser fails and the published data is entirely
the winner's. A corrupted or truncated Parquet in the lake is refused in one sentence.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pandas as pd
import pytest
from botocore.exceptions import ClientError
from servers import S3Server

from occupancy.config import Settings
from occupancy.digest import file_digest
from occupancy.errors import EXIT_BAD_INPUT, DataError, OccupancyError
from occupancy.lake import Lake
from occupancy.run_layout import StepOutputs, open_run
from occupancy.steps.ingest import run_ingest
from occupancy.steps.treat import run_treat
from occupancy.training.dataset import load_processed

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_settings(s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("OCCUPANCY_LAKE_URI", "OCCUPANCY_RAW_URI", "OCCUPANCY_HOME"):
        monkeypatch.delenv(name, raising=False)
    return Settings(
        home=tmp_path / ".occupancy",
        lake_uri=f"s3://occupancy-lake/integrity-{uuid.uuid4().hex[:8]}",
    )


def _raw(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def test_seaweedfs_refuses_a_put_if_none_match_on_an_existing_key(s3_server, s3_bucket) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="k", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=s3_bucket, Key="k", Body=b"second", IfNoneMatch="*")
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"first"


def test_two_writers_of_one_run_id_never_mix(s3_settings, newark, tmp_path, monkeypatch) -> None:
    # Both writers reach the publish point before either publishes: the worst interleaving.
    barrier = threading.Barrier(2, timeout=120)
    publish = StepOutputs.publish

    def publish_together(self: StepOutputs, summary: dict) -> str:
        barrier.wait()
        return publish(self, summary)

    monkeypatch.setattr(StepOutputs, "publish", publish_together)
    raws = {
        "small": _raw(newark.head(700), tmp_path / "small.csv"),
        "large": _raw(newark, tmp_path / "large.csv"),
    }
    outcomes: dict[str, object] = {}

    def write(name: str) -> None:
        try:
            outcomes[name] = run_ingest(s3_settings, "race", raws[name])
        except OccupancyError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=write, args=(name,)) for name in raws]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    winners = [n for n, o in outcomes.items() if isinstance(o, dict)]
    losers = [n for n, o in outcomes.items() if isinstance(o, OccupancyError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "race" in str(outcomes[losers[0]]) and "new run id" in str(outcomes[losers[0]])

    lake = Lake(s3_settings.lake_uri, endpoint_url=s3_settings.s3_endpoint_url)
    manifest = lake.read_json("runs/race/ingest/_manifest.json")
    assert manifest["source"] == raws[winners[0]]
    data_key = manifest["snapshot"].removeprefix(f"{lake.root}/")
    local = lake.download(data_key, tmp_path / "published.parquet")
    assert file_digest(local) == manifest["digest"]
    assert pd.read_parquet(local).shape[0] == manifest["rows_valid"]
    # The loser cleaned its own objects: only the winner's files remain under the run.
    leftovers = [k for k in lake.list("runs/race/ingest") if not k.endswith("_manifest.json")]
    assert all(manifest["writer"] in key for key in leftovers), leftovers


def _damage(lake: Lake, key: str, how: str) -> None:
    data = lake.read_bytes(key)
    if how == "flipped":
        middle = len(data) // 2
        damaged = data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64])
        damaged += data[middle + 64 :]
    else:
        damaged = data[: len(data) // 3]
    lake.write_bytes(key, damaged)


@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_a_damaged_parquet_in_the_s3_lake_is_refused_naming_it(
    s3_settings, newark, tmp_path, how
) -> None:
    run_ingest(s3_settings, "dmg", _raw(newark.head(900), tmp_path / "raw.csv"))
    lake = Lake(s3_settings.lake_uri, endpoint_url=s3_settings.s3_endpoint_url)
    ingested = lake.read_json("runs/dmg/ingest/_manifest.json")["snapshot"]
    _damage(lake, ingested.removeprefix(f"{lake.root}/"), how)
    with pytest.raises(DataError) as refused:
        run_treat(s3_settings, "dmg")
    assert ingested in str(refused.value) and "new run id" in str(refused.value)
    assert refused.value.exit_code == EXIT_BAD_INPUT
    assert "\n" not in str(refused.value)

    run_ingest(s3_settings, "dmg2", _raw(newark.head(900), tmp_path / "raw.csv"))
    run_treat(s3_settings, "dmg2")
    processed = lake.read_json("runs/dmg2/processed/_manifest.json")["data"]
    _damage(lake, processed.removeprefix(f"{lake.root}/"), how)
    with pytest.raises(DataError, match=processed):
        load_processed(open_run(s3_settings, "dmg2"), max_train_rows=10_000, seed=0)
