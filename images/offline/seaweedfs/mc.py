"""The subset of MinIO's `mc` client that the minio chart's bucket Job runs (offline stand-in).

Reproduced: `mc alias set NAME URL ACCESS_KEY SECRET_KEY` (saved under $MC_CONFIG_DIR, default
~/.mc, only once the server answers with those credentials, as mc does), `mc mb
[--ignore-existing|-p] NAME/BUCKET...`, `mc ready NAME` (exit 0 when the server answers its
readiness endpoint, 1 otherwise), `mc ls NAME`, and the users and policies of `mc admin`
(mc_admin.py). Any other command or flag exits 2 naming it: the stand-in never pretends to do
what it does not.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import mc_admin
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError


def config_file() -> Path:
    return Path(os.environ.get("MC_CONFIG_DIR") or Path.home() / ".mc") / "config.json"


def aliases() -> dict:
    path = config_file()
    return json.loads(path.read_text())["aliases"] if path.exists() else {}


def client(alias: str):
    known = aliases()
    if alias not in known:
        sys.exit(f"mc: alias {alias!r} is not set (mc alias set {alias} URL KEY SECRET)")
    entry = known[alias]
    return boto3.client(
        "s3",
        endpoint_url=entry["url"],
        aws_access_key_id=entry["accessKey"],
        aws_secret_access_key=entry["secretKey"],
        region_name="us-east-1",
    )


def alias_set(args: list[str]) -> int:
    if len(args) != 4:
        sys.exit("mc alias set: expected NAME URL ACCESS_KEY SECRET_KEY")
    name, url, access, secret = args
    entry = {"url": url.rstrip("/"), "accessKey": access, "secretKey": secret}
    # Like mc, the alias is saved only once the server answers with these credentials.
    try:
        boto3.client(
            "s3", endpoint_url=entry["url"], aws_access_key_id=access,
            aws_secret_access_key=secret, region_name="us-east-1",
        ).list_buckets()  # fmt: skip
    except (ClientError, BotoCoreError) as error:
        print(
            f"mc: <ERROR> Unable to initialize new alias from the provided credentials. {error}",
            file=sys.stderr,
        )
        return 1
    known = aliases()
    known[name] = entry
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "10", "aliases": known}))
    path.chmod(0o600)
    print(f"Added `{name}` successfully.")
    return 0


def make_buckets(args: list[str]) -> int:
    flags = [a for a in args if a.startswith("-")]
    unknown = [f for f in flags if f not in ("--ignore-existing", "-p")]
    if unknown:
        sys.exit(f"mc mb: flags {unknown} are not reproduced by the stand-in")
    for target in (a for a in args if not a.startswith("-")):
        alias, _, bucket = target.partition("/")
        try:
            client(alias).create_bucket(Bucket=bucket)
            print(f"Bucket created successfully `{target}`.")
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists") and flags:
                continue
            print(f"mc: <ERROR> Unable to make bucket `{target}`. {code}", file=sys.stderr)
            return 1
        except EndpointConnectionError as error:
            print(f"mc: <ERROR> Unable to make bucket `{target}`. {error}", file=sys.stderr)
            return 1
    return 0


def ready(args: list[str]) -> int:
    if len(args) != 1:
        sys.exit("mc ready: expected one ALIAS (flags are not reproduced by the stand-in)")
    known = aliases()
    if args[0] not in known:
        sys.exit(f"mc: alias {args[0]!r} is not set")
    try:
        with urllib.request.urlopen(known[args[0]]["url"] + "/minio/health/ready", timeout=5):
            print(f"The cluster '{args[0]}' is ready")
            return 0
    except (urllib.error.HTTPError, OSError) as error:
        print(f"The cluster '{args[0]}' is not ready: {error}", file=sys.stderr)
        return 1


def list_buckets(args: list[str]) -> int:
    if len(args) != 1 or "/" in args[0].rstrip("/"):
        sys.exit("mc ls: only `mc ls ALIAS` is reproduced by the stand-in")
    for bucket in client(args[0].rstrip("/")).list_buckets()["Buckets"]:
        print(f"{bucket['Name']}/")
    return 0


def main(argv: list[str]) -> int:
    argv = [a for a in argv if a not in ("--quiet", "-q")]
    if argv[:2] == ["alias", "set"]:
        return alias_set(argv[2:])
    if argv[:1] == ["mb"]:
        return make_buckets(argv[1:])
    if argv[:1] == ["ready"]:
        return ready(argv[1:])
    if argv[:1] == ["ls"]:
        return list_buckets(argv[1:])
    if argv[:1] == ["admin"]:
        return mc_admin.admin(argv[1:], aliases())
    print(f"mc stand-in: `mc {' '.join(argv[:2])}` is not reproduced", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
