"""The lake on a local directory, and S3 error translation with botocore's Stubber (no server)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from occupancy.errors import LakeError, NotFoundError
from occupancy.lake import Lake, LocalLake, S3Lake, open_input

ENDPOINT = "http://127.0.0.1:9"  # never contacted: every request is stubbed or intercepted


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake((tmp_path / "lake").as_uri())


def _temporary_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


# -- choosing the backend -------------------------------------------------------------------------


def test_file_uri_and_bare_path_give_a_local_lake(tmp_path: Path) -> None:
    for root in ((tmp_path / "lake").as_uri() + "/", str(tmp_path / "lake")):
        lake = Lake(root)
        assert isinstance(lake, LocalLake)
        assert (lake.scheme, lake.path) == ("file", tmp_path / "lake")
        assert not lake.root.endswith("/")


def test_s3_uri_gives_an_s3_lake_with_bucket_and_prefix() -> None:
    lake = Lake("s3://occupancy-lake/team/a/", endpoint_url=ENDPOINT)
    assert isinstance(lake, S3Lake)
    assert (lake.scheme, lake.bucket, lake.prefix) == ("s3", "occupancy-lake", "team/a")
    assert lake.uri("runs/r1/x.json") == "s3://occupancy-lake/team/a/runs/r1/x.json"
    assert lake.uri("") == "s3://occupancy-lake/team/a"


def test_unsupported_scheme_is_refused_naming_the_uri() -> None:
    with pytest.raises(LakeError, match=r"unsupported URI 'gs://bucket/lake'"):
        Lake("gs://bucket/lake")


def test_s3_uri_without_bucket_is_refused() -> None:
    with pytest.raises(LakeError, match=r"lake URI 's3:///lake' has no bucket"):
        Lake("s3:///lake")


# -- local lake -----------------------------------------------------------------------------------


def test_written_bytes_and_json_read_back(lake: Lake) -> None:
    lake.write_bytes("runs/r1/data.bin", b"\x00\x01")
    lake.write_json("runs/r1/_manifest.json", {"rows": 3, "digest": "abc"})
    assert lake.read_bytes("runs/r1/data.bin") == b"\x00\x01"
    assert lake.read_json("runs/r1/_manifest.json") == {"rows": 3, "digest": "abc"}
    with lake.open("runs/r1/data.bin") as handle:
        assert handle.read(1) == b"\x00"


def test_json_is_written_with_sorted_keys(lake: LocalLake) -> None:
    lake.write_json("m.json", {"b": 1, "a": 2})
    assert (lake.path / "m.json").read_text() == json.dumps({"a": 2, "b": 1}, indent=2)


def test_exists_only_for_objects_not_for_prefixes(lake: Lake) -> None:
    lake.write_bytes("runs/r1/x", b"x")
    assert lake.exists("runs/r1/x")
    assert not lake.exists("runs/r1")
    assert not lake.exists("runs/r1/y")


def test_list_gives_sorted_keys_under_a_prefix(lake: Lake) -> None:
    for key in ("runs/r1/b", "runs/r1/a/deep", "runs/r2/c"):
        lake.write_bytes(key, b"")
    assert lake.list("runs/r1") == ["runs/r1/a/deep", "runs/r1/b"]
    assert lake.list("runs/none") == []


def test_upload_and_download_copy_files(lake: Lake, tmp_path: Path) -> None:
    source = tmp_path / "listings.csv"
    source.write_bytes(b"id\n1\n")
    lake.upload(source, "raw/listings_big.csv")
    target = lake.download("raw/listings_big.csv", tmp_path / "copy.csv")
    assert target == tmp_path / "copy.csv"
    assert target.read_bytes() == b"id\n1\n"


def test_list_is_a_folder_listing(lake: Lake) -> None:
    lake.write_bytes("runs/r1/a", b"")
    lake.write_bytes("runs/r1/b/c", b"")
    lake.write_bytes("runs/r10/a", b"")
    assert lake.list("runs/r1") == ["runs/r1/a", "runs/r1/b/c"]
    assert lake.list("runs/never-written") == []


def test_ensure_bucket_creates_the_directory_once(lake: LocalLake) -> None:
    assert lake.ensure_bucket() is True
    assert lake.path.is_dir()
    assert lake.ensure_bucket() is False


def test_writes_replace_content_and_leave_no_temporary_files(lake: LocalLake, tmp_path) -> None:
    source = tmp_path / "new.csv"
    source.write_bytes(b"new")
    lake.write_bytes("k", b"old")
    lake.write_bytes("k", b"newer")
    lake.write_json("m.json", {"v": 1})
    lake.write_json("m.json", {"v": 2})
    lake.upload(source, "k")
    assert lake.read_bytes("k") == b"new"
    assert lake.read_json("m.json") == {"v": 2}
    assert _temporary_files(lake.path) == []
    assert lake.list("") == ["k", "m.json"]


def test_failed_upload_keeps_the_old_object_and_no_temporary_file(
    lake: LocalLake, tmp_path: Path
) -> None:
    lake.write_bytes("raw/listings.csv", b"old")
    with pytest.raises(FileNotFoundError):
        lake.upload(tmp_path / "absent.csv", "raw/listings.csv")
    assert lake.read_bytes("raw/listings.csv") == b"old"
    assert _temporary_files(lake.path) == []


def test_reading_a_missing_key_raises_not_found_naming_the_uri(lake: Lake, tmp_path) -> None:
    uri = lake.uri("runs/r1/absent.json")
    with pytest.raises(NotFoundError, match=f"^no file at {re.escape(uri)}$"):
        lake.read_json("runs/r1/absent.json")
    with pytest.raises(NotFoundError, match=f"^no file at {re.escape(uri)}$"):
        lake.download("runs/r1/absent.json", tmp_path / "x")


def test_reading_a_directory_raises_lake_error_naming_the_uri(lake: Lake) -> None:
    lake.write_bytes("runs/r1/x", b"")
    with pytest.raises(LakeError, match=f"^cannot read {re.escape(lake.uri('runs/r1'))}: "):
        lake.read_bytes("runs/r1")


def test_writing_below_a_file_raises_lake_error_naming_the_lake(lake: Lake) -> None:
    lake.write_bytes("runs", b"a file where a directory should be")
    with pytest.raises(LakeError, match=f"in lake {re.escape(lake.root)}: "):
        lake.write_bytes("runs/r1/x", b"")


def test_open_input_reads_a_local_path(tmp_path: Path) -> None:
    path = tmp_path / "listings.csv"
    path.write_bytes(b"id\n")
    with open_input(str(path)) as handle:
        assert handle.read() == b"id\n"
    with pytest.raises(NotFoundError, match="absent.csv"), open_input(str(tmp_path / "absent.csv")):
        pass


def test_open_input_refuses_a_bucket_without_an_object() -> None:
    with pytest.raises(LakeError, match=r"input URI 's3://bucket' names a bucket but no object"):
        open_input("s3://bucket")


# -- S3 lake, faults injected with botocore's Stubber ---------------------------------------------


@pytest.fixture
def no_aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_settings) -> None:
    """No AWS_* variable (isolated_settings), no config files, no instance metadata lookups."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _s3_lake(endpoint_url: str | None) -> S3Lake:
    lake = Lake("s3://occupancy-lake/team", endpoint_url=endpoint_url)
    assert isinstance(lake, S3Lake)
    return lake


@pytest.fixture
def s3_lake(no_aws_config) -> S3Lake:
    return _s3_lake(ENDPOINT)


@pytest.mark.usefixtures("no_aws_config")
def test_each_lake_signs_with_the_credentials_of_its_own_time(monkeypatch) -> None:
    # boto3's default session would keep the first identity for the whole process.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    first = _s3_lake(ENDPOINT).s3._request_signer._credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "second-secret")
    second = _s3_lake(ENDPOINT).s3._request_signer._credentials
    assert (first.access_key, second.access_key) == ("first-key", "second-key")


@pytest.fixture
def stub(s3_lake: S3Lake) -> Iterator[Stubber]:
    with Stubber(s3_lake.s3) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _key(key: str) -> dict[str, str]:
    return {"Bucket": "occupancy-lake", "Key": f"team/{key}"}


@pytest.mark.usefixtures("no_aws_config")
def test_endpoint_url_is_given_to_boto3() -> None:
    assert _s3_lake(ENDPOINT).s3.meta.endpoint_url == ENDPOINT


def test_s3_exists_answers_from_head_object(s3_lake: S3Lake, stub: Stubber) -> None:
    stub.add_response("head_object", {}, _key("a"))
    stub.add_client_error("head_object", "404", http_status_code=404, expected_params=_key("b"))
    assert s3_lake.exists("a") is True
    assert s3_lake.exists("b") is False


def test_s3_read_gets_the_object_under_the_prefix(s3_lake: S3Lake, stub: Stubber) -> None:
    body = StreamingBody(io.BytesIO(b'{"rows": 1}'), len(b'{"rows": 1}'))
    stub.add_response("get_object", {"Body": body}, _key("m.json"))
    assert s3_lake.read_json("m.json") == {"rows": 1}


def test_s3_write_puts_one_object(s3_lake: S3Lake, stub: Stubber) -> None:
    stub.add_response("put_object", {}, {**_key("k"), "Body": b"data"})
    s3_lake.write_bytes("k", b"data")


def test_s3_list_strips_the_lake_prefix(s3_lake: S3Lake, stub: Stubber) -> None:
    contents = [{"Key": "team/runs/r1/b"}, {"Key": "team/runs/r1/a"}]
    stub.add_response(
        "list_objects_v2",
        {"Contents": contents, "IsTruncated": False},
        {"Bucket": "occupancy-lake", "Prefix": "team/runs/r1/"},
    )
    assert s3_lake.list("runs/r1") == ["runs/r1/a", "runs/r1/b"]


def test_s3_ensure_bucket_creates_only_a_missing_bucket(s3_lake: S3Lake, stub: Stubber) -> None:
    bucket = {"Bucket": "occupancy-lake"}
    stub.add_client_error("head_bucket", "404", http_status_code=404, expected_params=bucket)
    stub.add_response("create_bucket", {}, bucket)
    stub.add_response("head_bucket", {}, bucket)
    assert s3_lake.ensure_bucket() is True
    assert s3_lake.ensure_bucket() is False


def test_s3_missing_object_raises_not_found_naming_the_uri(s3_lake: S3Lake, stub: Stubber) -> None:
    stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
    with pytest.raises(NotFoundError, match="^no object at s3://occupancy-lake/team/runs/m.json$"):
        s3_lake.read_json("runs/m.json")


URI = "s3://occupancy-lake/team/k"


@pytest.mark.parametrize(
    ("endpoint_url", "code", "message"),
    [
        (
            ENDPOINT,
            "NoSuchBucket",
            f"bucket 'occupancy-lake' does not exist at {ENDPOINT} ({URI})",
        ),
        (
            None,
            "NoSuchBucket",
            f"bucket 'occupancy-lake' does not exist at the default AWS endpoint ({URI})",
        ),
        *(
            (
                ENDPOINT,
                code,
                f"S3 at {ENDPOINT} refused the credentials for {URI} ({code}): "
                "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            )
            for code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied")
        ),
        (
            None,
            "AccessDenied",
            f"S3 at the default AWS endpoint refused the credentials for {URI} (AccessDenied): "
            "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
        (ENDPOINT, "InternalError", f"S3 request for {URI} failed: InternalError"),
    ],
)
@pytest.mark.usefixtures("no_aws_config")
def test_s3_errors_become_one_sentence_naming_uri_and_endpoint(
    endpoint_url: str | None, code: str, message: str
) -> None:
    lake = _s3_lake(endpoint_url)
    with Stubber(lake.s3) as stub:
        stub.add_client_error("put_object", code, http_status_code=400)
        with pytest.raises(LakeError) as excinfo:
            lake.write_bytes("k", b"x")
    assert str(excinfo.value) == message
    assert not isinstance(excinfo.value, NotFoundError)


def test_s3_without_credentials_says_which_variables_to_set(s3_lake: S3Lake) -> None:
    with pytest.raises(LakeError) as excinfo:
        s3_lake.exists("k")
    assert str(excinfo.value) == (
        f"no S3 credentials for {URI}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )


@pytest.mark.parametrize("endpoint_url", [ENDPOINT, None])
def test_unreachable_s3_names_the_given_endpoint_never_the_environment(
    endpoint_url: str | None, no_aws_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # boto3 reads these (credentials to sign with, an endpoint); the lake itself does not.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8")
    lake = _s3_lake(endpoint_url)

    def refuse(request: Any, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=request.url)

    lake.s3.meta.events.register("before-send.s3.HeadObject", refuse)
    with pytest.raises(LakeError) as excinfo:
        lake.exists("k")
    where = f"S3 at {ENDPOINT}" if endpoint_url else "S3 at the default AWS endpoint"
    message = str(excinfo.value)
    assert message.startswith(f"cannot reach {where} for {URI}: Could not connect")
    # boto3's own part names where it really tried: the given endpoint wins over the variable.
    assert f'"{endpoint_url or "http://127.0.0.1:8"}/occupancy-lake/team/k"' in message
    assert message.endswith("check AWS_ENDPOINT_URL and that the server is running")


def test_create_writes_once_and_never_replaces(lake: LocalLake) -> None:
    assert lake.create("runs/r1/_manifest.json", b"first")
    assert not lake.create("runs/r1/_manifest.json", b"second")
    assert lake.read_bytes("runs/r1/_manifest.json") == b"first"
    assert _temporary_files(lake.path) == []


def test_delete_folder_removes_only_that_folder(lake: Lake) -> None:
    lake.write_bytes("runs/r1/w-a/x", b"1")
    lake.write_bytes("runs/r1/w-b/x", b"2")
    lake.delete_folder("runs/r1/w-a")
    lake.delete_folder("runs/r1/absent")
    assert lake.list("runs/r1") == ["runs/r1/w-b/x"]
