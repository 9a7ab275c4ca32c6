"""Pod Security Admission on the replayed namespace, as the API server applies it to pod creation.

The namespace's `pod-security.kubernetes.io/enforce` label decides: `restricted` refuses a pod
that breaks the restricted profile (tests/pod_policy.py, the rules of v1.33) with the API server's
own message, before anything starts; an unlabelled namespace is `privileged` (kind's default) and
admits anything. `baseline`, or another version of the rules, is refused by name when the
Namespace is loaded (manifests.py): the replay does not pretend to enforce what it does not.
"""

from __future__ import annotations

from typing import Any

from pod_policy import pod_security_violations

ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = f"{ENFORCE}-version"
LEVELS = ("privileged", "restricted")
VERSIONS = ("v1.33", "latest")  # the rules pod_policy implements (latest: this replay's 1.33)
UNLABELLED = ("privileged", "latest")


class PodSecurityError(Exception):
    """A pod the namespace's Pod Security level forbids, in the API server's words."""

    def __init__(self, pod: str, version: str, problems: list[str]) -> None:
        super().__init__(
            f'pods "{pod}" is forbidden: violates PodSecurity "restricted:{version}": '
            + "; ".join(problems)
        )


def admit(policy: tuple[str, str], pod: str, spec: dict[str, Any]) -> None:
    """Raise `PodSecurityError` when the (level, version) enforced refuses the pod spec."""
    level, version = policy
    if level == "restricted" and (problems := pod_security_violations(spec)):
        raise PodSecurityError(pod, version, problems)
