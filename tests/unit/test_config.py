"""Settings: local defaults derived from the home directory, validation, one clear config error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from occupancy.config import DEFAULT_MODEL_ALIAS, DEFAULT_MODEL_NAME, Settings, get_settings
from occupancy.errors import ConfigError

# Every test runs with no OCCUPANCY_*, AWS_* or MLFLOW_* variable set and in a temporary cwd.
pytestmark = pytest.mark.usefixtures("isolated_settings")


@pytest.fixture
def fresh_get_settings() -> Iterator[None]:
    """get_settings() reads the environment once per process: forget it before and after."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_settings_derive_lake_raw_and_tracking_uris_from_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    assert settings.lake_uri == (home / "lake").as_uri()
    assert settings.raw_uri == f"{(home / 'lake').as_uri()}/raw/listings_big.csv"
    assert settings.mlflow_tracking_uri == f"sqlite:///{home / 'mlflow.db'}"
    assert settings.is_local_tracking
    assert settings.local_artifact_root == home / "mlartifacts"
    assert (settings.model_name, settings.model_alias) == (DEFAULT_MODEL_NAME, DEFAULT_MODEL_ALIAS)


def test_home_defaults_to_dot_occupancy_in_the_working_directory(tmp_path: Path) -> None:
    assert Settings().home == (tmp_path / ".occupancy").resolve()


def test_relative_home_is_resolved_against_the_working_directory(tmp_path: Path) -> None:
    settings = Settings(home=Path("state"))
    assert settings.home == (tmp_path / "state").resolve()
    assert settings.lake_uri == (tmp_path / "state" / "lake").resolve().as_uri()


def test_raw_uri_follows_a_given_lake_uri_without_its_trailing_slash() -> None:
    settings = Settings(lake_uri="s3://occupancy-lake/team/")
    assert settings.lake_uri == "s3://occupancy-lake/team"
    assert settings.raw_uri == "s3://occupancy-lake/team/raw/listings_big.csv"


def test_given_raw_uri_is_kept() -> None:
    settings = Settings(lake_uri="s3://lake", raw_uri="s3://inbox/listings.csv.gz")
    assert settings.raw_uri == "s3://inbox/listings.csv.gz"


def test_settings_read_occupancy_and_mlflow_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCCUPANCY_LAKE_URI", "s3://occupancy-lake")
    monkeypatch.setenv("OCCUPANCY_MODEL_ALIAS", "challenger")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    settings = Settings()
    assert settings.lake_uri == "s3://occupancy-lake"
    assert settings.model_alias == "challenger"
    assert settings.mlflow_tracking_uri == "http://mlflow:5000"
    assert not settings.is_local_tracking


@pytest.mark.parametrize("lake_uri", ["/data/lake", "gs://bucket/lake", "lake"])
def test_lake_uri_must_be_file_or_s3(lake_uri: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Settings(lake_uri=lake_uri)
    assert f"OCCUPANCY_LAKE_URI must start with file:// or s3://, got {lake_uri!r}" in str(
        excinfo.value
    )


def test_the_prediction_log_defaults_to_the_lake_and_may_have_a_bucket_of_its_own() -> None:
    assert Settings(lake_uri="s3://lake/").prediction_log_uri == "s3://lake"
    own = Settings(lake_uri="s3://lake", prediction_log_uri="s3://predictions/")
    assert own.prediction_log_uri == "s3://predictions"
    with pytest.raises(ValidationError) as excinfo:
        Settings(lake_uri="s3://lake", prediction_log_uri="gs://predictions")
    assert (
        "OCCUPANCY_PREDICTION_LOG_URI must start with file:// or s3://, got 'gs://predictions'"
        in (str(excinfo.value))
    )


@pytest.mark.usefixtures("fresh_get_settings")
def test_get_settings_raises_config_error_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCCUPANCY_MAX_BAD_ROW_FRACTION", "2")
    with pytest.raises(ConfigError) as excinfo:
        get_settings()
    message = str(excinfo.value)
    assert message.startswith("invalid configuration: max_bad_row_fraction: ")
    assert "less than or equal to 1" in message


@pytest.mark.usefixtures("fresh_get_settings")
def test_get_settings_reports_every_invalid_field_in_one_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCCUPANCY_MAX_TRAIN_ROWS", "10")
    monkeypatch.setenv("OCCUPANCY_SEED", "not-a-number")
    with pytest.raises(ConfigError) as excinfo:
        get_settings()
    message = str(excinfo.value)
    assert "max_train_rows: " in message
    assert "seed: " in message
    assert message.count("\n") == 0


@pytest.mark.usefixtures("fresh_get_settings")
def test_get_settings_reports_a_bad_lake_uri_as_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCCUPANCY_LAKE_URI", "ftp://lake")
    with pytest.raises(ConfigError, match="OCCUPANCY_LAKE_URI must start with file:// or s3://"):
        get_settings()


@pytest.mark.usefixtures("fresh_get_settings")
def test_get_settings_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("OCCUPANCY_MODEL_ALIAS", "challenger")
    assert get_settings() is first
    assert first.model_alias == DEFAULT_MODEL_ALIAS


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.lake_uri = "s3://elsewhere"  # type: ignore[misc]


def test_api_token_is_hidden_from_repr() -> None:
    settings = Settings(api_token="s3cret-token")
    assert "s3cret-token" not in repr(settings)
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "s3cret-token"


@pytest.mark.parametrize("blank", ["", " ", "\t\n"])
def test_a_blank_api_token_means_reload_disabled(blank: str) -> None:
    assert Settings(api_token=blank).api_token is None


def test_an_empty_api_token_in_the_environment_means_reload_disabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCCUPANCY_API_TOKEN", "")
    assert Settings().api_token is None
