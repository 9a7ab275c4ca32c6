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
