"""`mc admin` of the MinIO stand-in: users and policies, enforced by SeaweedFS itself.

Reproduced, with MinIO's semantics:
  mc admin user add ALIAS ACCESS_KEY SECRET_KEY     a user named by its access key; re-adding sets
                                                   the secret (as MinIO does)
  mc admin policy create ALIAS NAME FILE           a policy from MinIO's JSON; re-creating replaces it
  mc admin policy attach ALIAS NAME --user USER    fails (exit 1) when already attached, as MinIO's
                                                   "The specified policy change is already in effect"

They become calls to SeaweedFS's embedded IAM API on the S3 port (CreateUser, CreateAccessKey with
the caller's keys, CreatePolicy / CreatePolicyVersion, AttachUserPolicy), signed with the alias's
credentials, so only an admin identity (the root user) can make them, and SeaweedFS's policy
engine then enforces each statement per bucket and action. A policy is passed on only if every
statement translates exactly: Effect Allow, actions from ACTIONS on `arn:aws:s3:::BUCKET` or
`arn:aws:s3:::BUCKET/*`, nothing else (Condition, Deny, NotAction, wildcards in names): anything
else exits 2 naming the statement, as does an access key SeaweedFS cannot hold. Other `mc admin`
commands and flags exit 2 by name.
"""

import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# MinIO policy actions SeaweedFS enforces one by one, and the resource each applies to.
BUCKET_ACTIONS = frozenset({"s3:ListBucket", "s3:GetBucketLocation"})
OBJECT_ACTIONS = frozenset(
    {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}
)
ARN = re.compile(r"^arn:aws:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/\*)?$")
# SeaweedFS stores caller-supplied access keys of 4-128 letters and digits only.
ACCESS_KEY = re.compile(r"^[A-Za-z0-9]{4,128}$")
IAM_NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"


class IamError(Exception):
    """SeaweedFS's IAM API answered with an error (code and message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def refuse(message: str) -> int:
    print(f"mc stand-in: {message}", file=sys.stderr)
    return 2


def iam(alias: dict, action: str, **params: str) -> ET.Element:
    """One IAM API call on the alias's S3 port, signed with its credentials."""
    body = urllib.parse.urlencode({"Action": action, "Version": "2010-05-08", **params})
    url = alias["url"] + "/"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    signed = AWSRequest(method="POST", url=url, data=body, headers=headers)
    credentials = Credentials(alias["accessKey"], alias["secretKey"])
    SigV4Auth(credentials, "iam", "us-east-1").add_auth(signed)
    request = urllib.request.Request(
        url, data=body.encode(), headers=dict(signed.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return ET.fromstring(response.read())
    except urllib.error.HTTPError as error:
        answer = error.read().decode(errors="replace")
        try:
            root = ET.fromstring(answer)
        except ET.ParseError:
            raise IamError(str(error.code), answer) from None
        code = root.findtext(f".//{IAM_NS}Code") or root.findtext(".//Code") or str(error.code)
        text = root.findtext(f".//{IAM_NS}Message") or root.findtext(".//Message") or ""
        raise IamError(code, text) from None


def untranslatable(document: dict) -> str | None:
    """Why the MinIO policy cannot be passed on exactly, or None when it can."""
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        return "the policy has no Statement list"
    for number, statement in enumerate(statements, 1):
        extra = sorted(set(statement) - {"Sid", "Effect", "Action", "Resource"})
        if extra:
            return f"statement {number}: {extra} are not reproduced"
        if statement.get("Effect") != "Allow":
            return f"statement {number}: Effect {statement.get('Effect')!r} (only Allow)"
        actions = statement.get("Action")
        resources = statement.get("Resource")
        actions = [actions] if isinstance(actions, str) else actions or []
        resources = [resources] if isinstance(resources, str) else resources or []
        for resource in resources:
            match = ARN.match(resource)
            if not match:
                return f"statement {number}: resource {resource!r} (only arn:aws:s3:::BUCKET[/*])"
            allowed = OBJECT_ACTIONS if match.group(2) else BUCKET_ACTIONS
            wrong = sorted(set(actions) - allowed)
            if wrong or not actions:
                return f"statement {number}: actions {wrong or actions} on {resource!r}"
    return None


def user_add(alias: dict, args: list[str]) -> int:
    if len(args) != 2:
        return refuse("mc admin user add: expected ALIAS ACCESS_KEY SECRET_KEY")
    access, secret = args
    if not ACCESS_KEY.match(access):
        return refuse(f"access key {access!r}: SeaweedFS holds 4-128 letters and digits only")
    if not 8 <= len(secret) <= 40:
        print("mc: <ERROR> Unable to add new user. Secret key length", file=sys.stderr)
        return 1
    try:
        iam(alias, "CreateUser", UserName=access)
    except IamError as error:
        if error.code != "EntityAlreadyExists":
            raise
    # MinIO's user add on an existing user sets its secret: replace the key.
    listed = iam(alias, "ListAccessKeys", UserName=access)
    if access in (e.text for e in listed.iter(f"{IAM_NS}AccessKeyId")):
        iam(alias, "DeleteAccessKey", UserName=access, AccessKeyId=access)
    iam(alias, "CreateAccessKey", UserName=access, AccessKeyId=access, SecretAccessKey=secret)
    print(f"Added user `{access}` successfully.")
    return 0


def policy_create(alias: dict, args: list[str]) -> int:
    if len(args) != 2:
        return refuse("mc admin policy create: expected ALIAS NAME FILE")
    name, path = args
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    reason = untranslatable(document)
    if reason:
        return refuse(f"policy {name!r} cannot be translated to SeaweedFS: {reason}")
    text = json.dumps(document)
    try:
        iam(alias, "CreatePolicy", PolicyName=name, PolicyDocument=text)
    except IamError as error:
        if error.code != "EntityAlreadyExists":
            raise
        arn = f"arn:aws:iam:::policy/{name}"
        iam(alias, "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=text, SetAsDefault="true")
    print(f"Created policy `{name}` successfully.")
    return 0


def policy_attach(alias: dict, args: list[str]) -> int:
    if len(args) != 3 or args[1] != "--user":
        return refuse("mc admin policy attach: only ALIAS POLICY --user USER is reproduced")
    name, _, user = args
    attached = iam(alias, "ListAttachedUserPolicies", UserName=user)
    if name in (e.text for e in attached.iter(f"{IAM_NS}PolicyName")):
        print(
            "mc: <ERROR> Unable to make user/group policy association. The specified policy "
            "change is already in effect. (Specified policy update has no net effect).",
            file=sys.stderr,
        )
        return 1
    iam(alias, "AttachUserPolicy", UserName=user, PolicyArn=f"arn:aws:iam:::policy/{name}")
    print(f"Attached Policies: [{name}]\nTo User: {user}")
    return 0


COMMANDS = {
    ("user", "add"): user_add,
    ("policy", "create"): policy_create,
    ("policy", "attach"): policy_attach,
}


def admin(argv: list[str], aliases: dict) -> int:
    """`mc admin SUBJECT VERB ALIAS ...`: one of COMMANDS, else exit 2 naming it."""
    command = COMMANDS.get(tuple(argv[:2]))  # type: ignore[arg-type]
    if command is None or len(argv) < 3:
        return refuse(f"`mc admin {' '.join(argv[:2])}` is not reproduced")
    if argv[2] not in aliases:
        return refuse(f"alias {argv[2]!r} is not set (mc alias set {argv[2]} URL KEY SECRET)")
    try:
        return command(aliases[argv[2]], argv[3:])
    except IamError as error:
        print(f"mc: <ERROR> mc admin {' '.join(argv[:2])} failed. {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"mc: <ERROR> Unable to reach {aliases[argv[2]]['url']}. {error}", file=sys.stderr)
        return 1
