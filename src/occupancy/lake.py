"""The data lake: read and write objects under a `file://` or `s3://` root; open inputs anywhere.

Only this module touches storage. `Lake(root)` picks the backend once from the root URI, the
way `Path()` gives a `PosixPath`: `LocalLake` for a directory (`file://…` or a bare path),
`S3Lake` for `s3://bucket[/prefix]`. Both have the same methods, and both turn failures into one
sentence that names the URI and what to check.

`create` writes an object only when none exists at its key, atomically: the S3 backend sends
`PutObject` with `If-None-Match: *` (honoured by AWS, MinIO and SeaweedFS, which answer 412 on
an existing key), the local one hard-links a finished temporary file (`link` fails on an
existing name). A run's manifest is written with it, so of two writers exactly one publishes.

S3 goes through boto3. Its endpoint is the `endpoint_url` given to `Lake`, or, without one,
whatever boto3 resolves from the standard `AWS_*` variables and config files, so MinIO and
SeaweedFS work as they are. This module reads no environment variable itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse

from occupancy.atomic import atomic_write
from occupancy.download import DownloadLimits, download, is_http
from occupancy.errors import LakeError, NotFoundError, UriError

_S3_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden", "403"}
_S3_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
# A conditional PUT that lost: the key exists (412), or another conditional PUT of it is in
# flight (409, AWS): either way another writer holds the key.
_S3_TAKEN_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def split_uri(uri: str) -> tuple[str, str]:
    """Split a URI into (scheme, rest); bare paths count as `file`."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = unquote(parsed.path) if parsed.scheme == "file" else uri
        return "file", path
    if parsed.scheme == "s3":
        return "s3", f"{parsed.netloc}{parsed.path}"
    raise UriError(f"unsupported URI {uri!r}: use a local path, file://… or s3://bucket/key")


class Lake:
    """Objects under one root URI, addressed by '/'-separated keys.

    `Lake(root)` returns a `LocalLake` or an `S3Lake`. `endpoint_url` is the S3 endpoint (given
    to boto3 and named in error messages); a local lake accepts and ignores it, so callers can
    pass the same arguments whatever the root.
    """

    root: str
    scheme: str

    def __new__(cls, root: str, *, endpoint_url: str | None = None) -> Lake:
        backend: type[Lake] = cls
        if cls is Lake:
            backend = LocalLake if split_uri(root)[0] == "file" else S3Lake
        return super().__new__(backend)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    def _set_root(self, root: str, scheme: str) -> str:
        """Store the normalised root and its scheme; return the rest of the URI."""
        self.root = root.rstrip("/")
        self.scheme, rest = split_uri(self.root)
        if self.scheme != scheme:
            raise LakeError(f"{type(self).__name__} needs a {scheme} URI, got {self.root!r}")
        return rest

    def uri(self, key: str) -> str:
        """The full URI of a key."""
        return f"{self.root}/{key}" if key else self.root

    # -- reading --------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        """True when an object exists at the key."""
        raise NotImplementedError

    def open(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """Open an object for streaming reads."""
        raise NotImplementedError

    def read_bytes(self, key: str) -> bytes:
        """The whole content of an object."""
        with self.open(key) as handle:
            return handle.read()

    def read_json(self, key: str) -> Any:
        """An object parsed as JSON."""
        return json.loads(self.read_bytes(key))

    def download(self, key: str, target: Path) -> Path:
        """Copy an object to a local file and return its path."""
        raise NotImplementedError

    def list(self, prefix: str) -> list[str]:
        """Keys in the folder `prefix` (and below it), sorted; `runs/r1` never lists `runs/r10`."""
        raise NotImplementedError

    # -- writing --------------------------------------------------------------------------------

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write an object atomically: readers see the old content or the new, never a part."""
        raise NotImplementedError

    def write_json(self, key: str, payload: Any) -> None:
        """Write a JSON object atomically."""
        self.write_bytes(key, json.dumps(payload, indent=2, sort_keys=True).encode())

    def upload(self, source: Path, key: str) -> None:
        """Copy a local file into the lake atomically."""
        raise NotImplementedError

    def create(self, key: str, data: bytes) -> bool:
        """Write an object only if the key is free, atomically; False when it already exists."""
        raise NotImplementedError

    def create_json(self, key: str, payload: Any) -> bool:
        """`create` a JSON object; False when the key already exists."""
        return self.create(key, json.dumps(payload, indent=2, sort_keys=True).encode())

    def delete_folder(self, prefix: str) -> None:
        """Remove every object in the folder `prefix` (and below it); a missing folder is fine."""
        raise NotImplementedError

    def ensure_bucket(self) -> bool:
        """Create this root's bucket (S3) or directory (file) if missing; True when created."""
        raise NotImplementedError


class LocalLake(Lake):
    """A lake in a local directory, `path`. Writes are atomic renames within it."""

    def __init__(self, root: str, *, endpoint_url: str | None = None) -> None:
        self.path = Path(self._set_root(root, "file"))

    def _local(self, key: str) -> Path:
        return self.path / key

    def exists(self, key: str) -> bool:
        return self._local(key).is_file()

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        try:
            handle = self._local(key).open("rb")
        except FileNotFoundError:
            raise NotFoundError(f"no file at {self.uri(key)}") from None
        except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            raise UriError(
                f"cannot read {self.uri(key)}: {exc.strerror}; give the path of a readable file"
            ) from None
        except OSError as exc:
            raise LakeError(f"cannot read {self.uri(key)}: {exc.strerror}") from None
        with handle:
            yield handle

    def download(self, key: str, target: Path) -> Path:
        source = self._local(key)
        if not source.is_file():
            raise NotFoundError(f"no file at {self.uri(key)}")
        shutil.copyfile(source, target)
        return target

    def list(self, prefix: str) -> list[str]:
        base = self._local(prefix)
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.path)) for p in base.rglob("*") if p.is_file())

    def write_bytes(self, key: str, data: bytes) -> None:
        with self._atomic(key) as tmp:
            tmp.write_bytes(data)

    def upload(self, source: Path, key: str) -> None:
        with self._atomic(key) as tmp:
            shutil.copyfile(source, tmp)

    def create(self, key: str, data: bytes) -> bool:
        target = self._local(key)
        self._mkdir(target.parent)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_bytes(data)
            # link, unlike rename, never replaces: the first complete file wins.
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError as exc:
            raise LakeError(f"cannot write {self.uri(key)}: {exc.strerror}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def delete_folder(self, prefix: str) -> None:
        shutil.rmtree(self._local(prefix), ignore_errors=True)

    def ensure_bucket(self) -> bool:
        existed = self.path.is_dir()
        self._mkdir(self.path)
        return not existed

    def _atomic(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A temporary file that replaces the key's file when the block succeeds."""
        target = self._local(key)
        self._mkdir(target.parent)
        return atomic_write(target)

    def _mkdir(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(
                f"cannot create {directory} in lake {self.root}: {exc.strerror}"
            ) from None


class S3Lake(Lake):
    """A lake in S3 bucket `bucket`, under key prefix `prefix` ('' for the whole bucket)."""

    def __init__(self, root: str, *, endpoint_url: str | None = None) -> None:
        self.bucket, _, prefix = self._set_root(root, "s3").partition("/")
        if not self.bucket:
            raise UriError(f"lake URI {self.root!r} has no bucket: use s3://bucket[/prefix]")
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url

    def _s3_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @cached_property
    def s3(self) -> Any:
        """A boto3 S3 client with short timeouts and one retry, path-style for MinIO."""
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path"},
            signature_version="s3v4",
        )
        # A session of its own: boto3's default session keeps the credentials it first resolved
        # for the life of the process, so one lake's identity would leak into every later one.
        # endpoint_url=None leaves the endpoint to boto3's own resolution (AWS_ENDPOINT_URL…).
        session = boto3.session.Session()
        return session.client("s3", config=config, endpoint_url=self.endpoint_url)

    def exists(self, key: str) -> bool:
        with self._translate(key, missing_ok=True) as state:
            self.s3.head_object(Bucket=self.bucket, Key=self._s3_key(key))
            return True
        return not state.missing

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        with self._translate(key):
            body = self.s3.get_object(Bucket=self.bucket, Key=self._s3_key(key))["Body"]
        try:
            yield body
        finally:
            body.close()

    def download(self, key: str, target: Path) -> Path:
        with self._translate(key):
            self.s3.download_file(self.bucket, self._s3_key(key), str(target))
        return target

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        # A folder, as on a file system: S3 prefixes match any key that starts with them.
        folder = f"{prefix.rstrip('/')}/" if prefix else ""
        with self._translate(prefix):
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._s3_key(folder)
            )
            for page in pages:
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(k[strip:] for k in keys)

    def write_bytes(self, key: str, data: bytes) -> None:
        with self._translate(key):  # a single S3 PUT is atomic
            self.s3.put_object(Bucket=self.bucket, Key=self._s3_key(key), Body=data)

    def upload(self, source: Path, key: str) -> None:
        with self._translate(key):  # multipart uploads become visible only when complete
            self.s3.upload_file(str(source), self.bucket, self._s3_key(key))

    def create(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        with self._translate(key):
            try:
                self.s3.put_object(
                    Bucket=self.bucket, Key=self._s3_key(key), Body=data, IfNoneMatch="*"
                )
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code", "")) in _S3_TAKEN_CODES:
                    return False
                raise
        return True

    def delete_folder(self, prefix: str) -> None:
        keys = self.list(prefix)
        with self._translate(prefix):
            for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys at most
                self.s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={
                        "Objects": [{"Key": self._s3_key(k)} for k in keys[start : start + 1000]]
                    },
                )

    def ensure_bucket(self) -> bool:
        with self._translate("", missing_ok=True) as state:
            self.s3.head_bucket(Bucket=self.bucket)
        if not state.missing:
            return False
        with self._translate(""):
            self.s3.create_bucket(Bucket=self.bucket)
        return True

    @contextlib.contextmanager
    def _translate(self, key: str, missing_ok: bool = False) -> Iterator[_State]:
        """Turn boto3 exceptions into LakeError / NotFoundError sentences naming the URI.

        With `missing_ok`, a missing object or bucket is not an error: `state.missing` says so.
        """
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        state = _State()
        uri = self.uri(key)
        endpoint = self.endpoint_url or "the default AWS endpoint"
        server = f"S3 at {endpoint}"
        try:
            yield state
        except NoCredentialsError:
            raise LakeError(
                f"no S3 credentials for {uri}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from None
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _S3_MISSING_CODES:
                if missing_ok:
                    state.missing = True
                    return
                raise NotFoundError(f"no object at {uri}") from None
            if code == "NoSuchBucket":
                raise LakeError(
                    f"bucket {self.bucket!r} does not exist at {endpoint} ({uri})"
                ) from None
            if code in _S3_AUTH_CODES:
                raise LakeError(
                    f"{server} refused the credentials for {uri} ({code}): "
                    "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                ) from None
            raise LakeError(f"S3 request for {uri} failed: {code or exc}") from None
        except BotoCoreError as exc:
            raise LakeError(
                f"cannot reach {server} for {uri}: {exc}; check AWS_ENDPOINT_URL and that "
                "the server is running"
            ) from None


@dataclass
class _State:
    """What `S3Lake._translate` saw: whether the object or bucket was missing."""

    missing: bool = False


def open_input(
    uri: str, *, endpoint_url: str | None = None, limits: DownloadLimits | None = None
) -> contextlib.AbstractContextManager[IO[bytes]]:
    """Open any input URI (local path, file://, s3://bucket/key, http(s)://) for streaming reads.

    `endpoint_url` is the S3 endpoint, as for `Lake`; local inputs ignore it. An http(s) URL is
    downloaded first, within `limits`, to a scratch file removed on exit (`occupancy.download`).
    """
    if is_http(uri):
        return downloaded(uri, limits)
    scheme, rest = split_uri(uri)
    if scheme == "file":
        path = Path(rest)
        return LocalLake(str(path.parent.resolve().as_uri())).open(path.name)
    bucket, _, key = rest.partition("/")
    if not key:
        raise UriError(f"input URI {uri!r} names a bucket but no object: use s3://bucket/key")
    return S3Lake(f"s3://{bucket}", endpoint_url=endpoint_url).open(key)


@contextlib.contextmanager
def downloaded(url: str, limits: DownloadLimits | None = None) -> Iterator[IO[bytes]]:
    """The file at `url`, downloaded whole to a scratch directory and open for reading."""
    with local_workdir() as work:
        fetched = download(url, work / "download", limits or DownloadLimits())
        with fetched.path.open("rb") as handle:
            yield handle


@contextlib.contextmanager
def local_workdir() -> Iterator[Path]:
    """A private scratch directory, removed afterwards (where large outputs are staged)."""
    with tempfile.TemporaryDirectory(prefix="occupancy-") as tmp:
        yield Path(tmp)
