"""MinIO's server contract on SeaweedFS's S3 gateway (offline stand-in; no MinIO image here).

Reproduced: `minio server DIR [--address :PORT] [--console-address :PORT] [--certs-dir DIR]` (no
arguments: `/data` on :9000, as the compose file runs it), the root identity from MINIO_ROOT_USER /
MINIO_ROOT_PASSWORD (an admin, the only one allowed to add users and policies: SeaweedFS's IAM API
on the same port is writable, so `mc admin` of the stand-in works as MinIO's does), and MinIO's health endpoints `/minio/health/live` and `/minio/health/ready`,
which the chart's probes use: a small front on the S3 port answers them (200 once SeaweedFS
answers) and passes every other connection through byte for byte, so S3 signatures hold.
Refused by name: any other flag, TLS certificates in the certs dir. Not served: the web console
(SeaweedFS has none; the console port stays closed).

With `--check`: exit 0 when the S3 port answers HTTP at all (compose's health check).
"""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

BACKEND_PORT = 8333  # SeaweedFS's own S3 port, inside the container only
HEALTH_PATHS = (b"/minio/health/live", b"/minio/health/ready", b"/minio/health/cluster")


def check() -> int:
    try:
        urllib.request.urlopen("http://127.0.0.1:9000/", timeout=2)
    except urllib.error.HTTPError:
        pass
    except OSError:
        return 1
    return 0


def parse(argv: list[str]) -> tuple[str, int]:
    """(data dir, S3 port) from MinIO's command line; exit 2 naming what is not reproduced."""
    if not argv:
        return "/data", 9000
    if argv[0] != "server" or len(argv) < 2:
        sys.exit(f"minio stand-in: only `server DIR [flags]` is reproduced, got {argv}")
    data, port, rest = argv[1], 9000, argv[2:]
    while rest:
        flag, has_value, value = rest[0].partition("=")
        if has_value:
            rest = rest[1:]
        elif len(rest) < 2:
            sys.exit(f"minio stand-in: {flag} needs a value")
        else:
            value, rest = rest[1], rest[2:]
        if flag == "--address":
            port = int(value.rsplit(":", 1)[1])
        elif flag == "--console-address":
            pass  # no console: the port stays closed (documented in the replay's substitutions)
        elif flag == "--certs-dir":
            if any(os.path.exists(os.path.join(value, f)) for f in ("public.crt", "private.key")):
                sys.exit(f"minio stand-in: TLS certificates in {value} are not reproduced")
        else:
            sys.exit(f"minio stand-in: flag {flag} is not reproduced")
    return data, port


def start_weed(data: str) -> subprocess.Popen:
    config = "/tmp/s3-identities.json"
    identity = {
        "name": "admin",
        "credentials": [
            {
                "accessKey": os.environ["MINIO_ROOT_USER"],
                "secretKey": os.environ["MINIO_ROOT_PASSWORD"],
            }
        ],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    with open(config, "w", encoding="utf-8") as handle:
        json.dump({"identities": [identity]}, handle)
    os.chmod(config, 0o600)
    weed = "/opt/weed/bin/weed"
    return subprocess.Popen(
        [
            weed, "-logdir=/tmp", "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.port={BACKEND_PORT}", f"-s3.config={config}", "-s3.iam.readOnly=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-webdav=false", "-admin.ui=false", "-volume.preStopSeconds=0",
            "-master.telemetry=false",
        ]
    )  # fmt: skip


def backend_up() -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{BACKEND_PORT}/healthz", timeout=2)
        return True
    except (urllib.error.HTTPError, OSError):
        return False


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    first = await reader.readline()
    parts = first.split()
    if len(parts) >= 2 and parts[1].split(b"?")[0] in HEALTH_PATHS:
        ok = await asyncio.get_running_loop().run_in_executor(None, backend_up)
        status = b"200 OK" if ok else b"503 Service Unavailable"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", BACKEND_PORT)
    except OSError:
        writer.close()
        return
    up_writer.write(first)
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def main(port: int, weed: subprocess.Popen) -> int:
    server = await asyncio.start_server(serve_connection, "0.0.0.0", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        while not stop.is_set() and weed.poll() is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1)
    weed.terminate()
    return weed.wait() if weed.poll() is None else weed.returncode or (0 if stop.is_set() else 1)


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    data_dir, s3_port = parse(sys.argv[1:])
    sys.exit(asyncio.run(main(s3_port, start_weed(data_dir))))
