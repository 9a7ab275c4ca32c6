"""`make deploy` on a cluster: it labels the namespace from the chart's own template before helm
installs into it, and reads the Kubernetes API's addresses for the scheduler's NetworkPolicy.

No cluster runs here: a stand-in `kubectl` first on PATH answers the two reads as kind's would
(the `kubernetes` Service's ClusterIP and the API server endpoints) and records every call.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import tools
import yaml

KUBECTL = """#!/bin/sh
echo "$*" >> "{calls}"
case "$*" in
  *"get service kubernetes"*) printf '10.96.0.1' ;;
  *"get endpointslices"*) printf '172.18.0.2 172.18.0.3' ;;
  *) echo "unexpected kubectl $*" >&2; exit 1 ;;
esac
"""


def _make_n_deploy(tmp_path: Path, *variables: str) -> list[str]:
    """The commands `make deploy` would run (continuations joined), kubectl being the stand-in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(KUBECTL.format(calls=tmp_path / "calls"))
    kubectl.chmod(0o755)
    done = subprocess.run(
        ["make", "-n", "deploy", "TAG=abc1234", *variables],
        cwd=tools.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.replace("\\\n", " ").splitlines()


def _helm_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if ".tools/helm/helm template " in line or " upgrade " in line]


def test_make_deploy_reads_the_kubernetes_api_addresses_from_the_cluster(tmp_path) -> None:
    lines = _make_n_deploy(tmp_path)
    helm = _helm_lines(lines)
    assert len(helm) == 2
    wanted = "airflow.networkPolicy.kubeApiCidrs={10.96.0.1/32,172.18.0.2/32,172.18.0.3/32}"
    assert all(wanted in shlex.split(line.partition("|")[0]) for line in helm), helm
    assert "get service kubernetes -n default" in (tmp_path / "calls").read_text()


def test_make_deploy_without_a_cluster_says_what_is_missing(tmp_path) -> None:
    """No kubectl context: one sentence naming KUBE_API_CIDRS, not helm's schema error on ''."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text("#!/bin/sh\necho 'no context' >&2; exit 1\n")
    (bin_dir / "kubectl").chmod(0o755)
    for target in ("deploy", "namespace"):
        done = subprocess.run(
            ["make", "-n", target, "TAG=abc1234"],
            cwd=tools.ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        )
        assert done.returncode != 0, target
        assert "KUBE_API_CIDRS" in done.stderr and "kubectl" in done.stderr, done.stderr


def test_make_deploy_takes_the_kubernetes_api_cidrs_it_is_given(tmp_path) -> None:
    helm = _helm_lines(_make_n_deploy(tmp_path, "KUBE_API_CIDRS=192.0.2.0/28"))
    assert all("airflow.networkPolicy.kubeApiCidrs={192.0.2.0/28}" in line for line in helm)


def test_make_deploy_labels_the_namespace_before_helm_installs_into_it(tmp_path, helm) -> None:
    lines = _make_n_deploy(tmp_path)
    (apply,) = [i for i, line in enumerate(lines) if "kubectl apply -f -" in line]
    (install,) = [i for i, line in enumerate(lines) if " upgrade --install " in line]
    assert apply < install
    assert "--create-namespace" not in lines[install]  # it would make an unlabelled namespace
    rendering = shlex.split(lines[apply].partition("|")[0].removeprefix("set -o pipefail;"))
    rendering[0] = helm
    done = subprocess.run(
        rendering, cwd=tools.ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    (namespace,) = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert (namespace["kind"], namespace["metadata"]["name"]) == ("Namespace", "occupancy")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
