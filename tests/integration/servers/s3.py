"""An S3 server (SeaweedFS `weed mini`) that accepts only its own random credentials (an admin
that may add per-bucket identities through SeaweedFS's IAM API)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .process import (
    LOCALHOST,
    PortClashError,
    ServerStartError,
    clean_env,
    free_port_pair,
    looks_like_port_clash,
    retry_on_port_clash,
    spawn,
    terminate,
    venv_bin,
    wait_until_ready,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient as S3Client

DEFAULT_BUCKETS: tuple[str, ...] = ("occupancy-lake", "mlflow-artifacts")

# SeaweedFS's filer sometimes takes over 10 s to stop (pending deletions); its data is thrown
# away anyway, so it gets less grace.
_WEED_STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class S3Server:
    """A running S3-compatible server (SeaweedFS) with one admin identity and some buckets."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    buckets: tuple[str, ...]
    data_dir: Path
    pid: int = 0  # the server's process, for a test that takes S3 down

    def kill(self) -> None:
        """Take the server down at once, as a crash would (the context's exit then finds it gone)."""
        os.kill(self.pid, signal.SIGKILL)

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and the AWS CLI) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, *, access_key: str | None = None, secret_key: str | None = None) -> S3Client:
        """Return a boto3 S3 client for this server (override the keys to test bad credentials).

        Retries are off so that a rejected request fails at once instead of being retried.
        """
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key if access_key is not None else self.access_key,
            aws_secret_access_key=secret_key if secret_key is not None else self.secret_key,
            region_name=self.region,
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=2,
                read_timeout=30,
                s3={"addressing_style": "path"},
            ),
        )


def create_bucket(client: S3Client, name: str) -> None:
    """Create bucket `name`, accepting that it already exists (start-up is retried)."""
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=name)


def empty_and_delete_bucket(client: S3Client, name: str) -> None:
    """Delete every object of bucket `name`, then the bucket."""
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    client.delete_bucket(Bucket=name)


def _remove_files(paths: Sequence[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _s3_identity_config(path: Path, access_key: str, secret_key: str) -> None:
    """Write SeaweedFS's S3 identity file (`-s3.config`).

    With at least one identity configured SeaweedFS authenticates every request: an unknown
    access key gets InvalidAccessKeyId, a wrong secret SignatureDoesNotMatch, an anonymous
    request AccessDenied. Without the file it would accept anything.
    """
    config = {
        "identities": [
            {
                "name": "occupancy-admin",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    path.chmod(0o600)  # it holds a secret


def _start_s3_once(
    base: Path, sock_dir: Path, buckets: Sequence[str], timeout: float
) -> tuple[S3Server, subprocess.Popen[bytes], list[Path]]:
    """Start `weed mini` in `base` (Unix sockets in `sock_dir`) on fresh ports; see `start_s3`."""
    from botocore.exceptions import BotoCoreError, ClientError

    attempt_dir = Path(tempfile.mkdtemp(prefix="weed-", dir=base))
    data_dir = attempt_dir / "data"
    data_dir.mkdir()
    log_path = attempt_dir / "weed.log"
    access_key = "occupancy" + secrets.token_hex(4)
    secret_key = secrets.token_urlsafe(24)
    config_path = attempt_dir / "s3-identities.json"
    _s3_identity_config(config_path, access_key, secret_key)

    master, master_grpc = free_port_pair()
    volume, volume_grpc = free_port_pair()
    filer, filer_grpc = free_port_pair()
    s3, s3_grpc = free_port_pair()
    admin, admin_grpc = free_port_pair()
    glog_dir = attempt_dir / "glog"
    glog_dir.mkdir()
    cmd = [
        str(venv_bin("weed")),
        # Its detailed logs would otherwise pile up as /tmp/weed.*.log.* files.
        f"-logdir={glog_dir}",
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOCALHOST}",
        f"-ip.bind={LOCALHOST}",
        # Every component gets explicit ports: the defaults (9333, 8888, 8333, ...) would collide
        # between parallel runs and with anything else on the machine.
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
        # Components we do not need, or that can be switched off, are.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        # The pre-stop pause lets a cluster drain a volume server; alone, it only slows stop.
        "-volume.preStopSeconds=0",
        # No phoning home from tests.
        "-master.telemetry=false",
        # Default Unix sockets are /tmp/seaweedfs-*-<port>.sock; keep ours in our directory.
        f"-filer.localSocket={sock_dir / 'filer.sock'}",
        f"-s3.localSocket={sock_dir / 's3.sock'}",
        f"-s3.config={config_path}",
        # The IAM API on the S3 port takes writes (from the admin identity only), so tests can
        # provision per-bucket identities as the chart's bucket Job does (tests/integration/
        # test_s3_identities.py).
        "-s3.iam.readOnly=false",
    ]
    # AWS_* and S3_BUCKET from the caller's environment would be picked up by `weed mini`.
    env = clean_env(drop_prefixes=("AWS_", "MLFLOW_", "S3_"))
    process = spawn(cmd, log_path=log_path, env=env, cwd=attempt_dir)
    # SeaweedFS also creates gRPC sockets at fixed /tmp paths (no flag moves them); it leaves
    # some behind even on a clean stop, all of them when killed. Removed after it stops.
    grpc_ports = {
        "master": master_grpc,
        "volume": volume_grpc,
        "filer": filer_grpc,
        "s3": s3_grpc,
        "admin": admin_grpc,
    }
    litter = [Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock") for kind, port in grpc_ports.items()]
    server = S3Server(
        endpoint_url=f"http://{LOCALHOST}:{s3}",
        access_key=access_key,
        secret_key=secret_key,
        region="us-east-1",
        buckets=tuple(buckets),
        data_dir=data_dir,
        pid=process.pid,
    )
    try:
        client = server.client()

        def probe() -> bool:
            # Signed with the configured identity, so success also proves it was loaded.
            try:
                client.list_buckets()
            except (BotoCoreError, ClientError):
                return False
            return True

        try:
            wait_until_ready(
                probe, what="SeaweedFS S3", process=process, log_path=log_path, timeout=timeout
            )
            # Created here rather than with `weed mini -bucket=...` so that they certainly exist
            # when this returns.
            for bucket in buckets:
                create_bucket(client, bucket)
        except ServerStartError as exc:
            if looks_like_port_clash(log_path):
                raise PortClashError(str(exc)) from exc
            raise
        finally:
            client.close()
    except BaseException:
        terminate(process)
        _remove_files(litter)
        raise
    return server, process, litter


@contextlib.contextmanager
def start_s3(
    base_dir: Path | None = None,
    *,
    buckets: Sequence[str] = DEFAULT_BUCKETS,
    timeout: float = 60.0,
) -> Iterator[S3Server]:
    """Run SeaweedFS (`weed mini`) as an S3 server with random credentials and `buckets`.

    Files go to a new directory in `base_dir` (default: a temporary directory, removed on exit).
    """
    owned = base_dir is None
    base = Path(tempfile.mkdtemp(prefix="occupancy-s3-")) if owned else Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    # Sockets get a short directory of their own: a Unix socket path must fit in 107 bytes,
    # which a deep `base_dir` (pytest's tmp_path) might not leave room for.
    sock_dir = Path(tempfile.mkdtemp(prefix="occ-weed-"))
    try:
        server, process, litter = retry_on_port_clash(
            lambda: _start_s3_once(base, sock_dir, buckets, timeout), "SeaweedFS"
        )
        try:
            yield server
        finally:
            terminate(process, timeout=_WEED_STOP_TIMEOUT)
            _remove_files(litter)
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)
        if owned:
            shutil.rmtree(base, ignore_errors=True)
