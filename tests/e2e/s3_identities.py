"""What one S3 identity may do, asked of the real server: shared by `make e2e` and the replay.

Each identity should work in its own bucket and be refused (AccessDenied) everywhere else:
listing, reading and writing another bucket, creating a bucket, and the IAM API.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def s3_client(endpoint: str, access_key: str, secret_key: str) -> Any:
    """A boto3 client for one identity, no retries (a refusal must show at once)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def refusal(call: Any) -> str:
    """The S3 error code `call()` raised, or "allowed" when it succeeded."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "allowed"


def outside_bucket(client: Any, bucket: str, existing_key: str) -> dict[str, str]:
    """What the identity gets when it lists, reads and writes `bucket` (not its own)."""
    return {
        "list": refusal(lambda: client.list_objects_v2(Bucket=bucket, MaxKeys=1)),
        "get": refusal(lambda: client.get_object(Bucket=bucket, Key=existing_key)),
        "put": refusal(
            lambda: client.put_object(Bucket=bucket, Key=f"probe-{uuid.uuid4().hex}", Body=b"x")
        ),
        "create bucket": refusal(lambda: client.create_bucket(Bucket=f"probe-{uuid.uuid4().hex}")),
    }


def assert_confined(client: Any, *, own: str, other: str, other_key: str) -> None:
    """The identity writes, reads and lists its own bucket and is refused on `other`."""
    key = f"identity-probe/{uuid.uuid4().hex}"
    client.put_object(Bucket=own, Key=key, Body=b"probe")
    assert client.get_object(Bucket=own, Key=key)["Body"].read() == b"probe"
    listed = client.list_objects_v2(Bucket=own, Prefix="identity-probe/")
    assert key in [o["Key"] for o in listed.get("Contents", [])]
    refused = outside_bucket(client, other, other_key)
    assert refused == dict.fromkeys(refused, "AccessDenied"), refused


def own_bucket(client: Any, bucket: str, existing_key: str) -> dict[str, str]:
    """What the identity gets when it lists, reads, writes and deletes in `bucket`."""
    return {
        "list": refusal(lambda: client.list_objects_v2(Bucket=bucket, MaxKeys=1)),
        "get": refusal(lambda: client.get_object(Bucket=bucket, Key=existing_key)),
        "put": refusal(
            lambda: client.put_object(
                Bucket=bucket, Key=f"identity-probe/{uuid.uuid4().hex}", Body=b"x"
            )
        ),
        "delete": refusal(lambda: client.delete_object(Bucket=bucket, Key=existing_key)),
    }


def assert_write_only(client: Any, *, own: str, own_key: str, others: dict[str, str]) -> None:
    """The prediction log's identity: it puts objects into `own`, cannot list, read back or
    delete them (not even `own_key`), and is refused on every bucket of `others` (bucket: key)."""
    assert own_bucket(client, own, own_key) == {
        "list": "AccessDenied",
        "get": "AccessDenied",
        "put": "allowed",
        "delete": "AccessDenied",
    }
    for bucket, key in others.items():
        refused = outside_bucket(client, bucket, key)
        assert refused == dict.fromkeys(refused, "AccessDenied"), (bucket, refused)


def assert_read_only(client: Any, *, bucket: str, existing_key: str) -> None:
    """The lake identity on the prediction log: it lists and reads, never writes or deletes."""
    assert own_bucket(client, bucket, existing_key) == {
        "list": "allowed",
        "get": "allowed",
        "put": "AccessDenied",
        "delete": "AccessDenied",
    }
