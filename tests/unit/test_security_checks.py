"""The security checks `make lint` runs (issue 13 item 8): they pass on the tree, and fail on a
copy of it where a secret or an unsafe call was planted."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHECK_SECRETS = ".ci/check-secrets"

# Every file .secrets.baseline lists, and why what detect-secrets found there is no secret.
AUDITED = {
    "charts/airflow/ci/custom-values.yaml": "test values: the name of an existing Secret",
    "charts/airflow/templates/airflow-secret.yaml": "the key names of a generated Secret",
    "charts/airflow/values.yaml": "the name of a key in the generated Secret",
    "charts/api/ci/fixed-replicas-values.yaml": "test values: the name of an existing Secret",
    "charts/api/templates/api-secret.yaml": "a comment about generated Secrets",
    "charts/minio/ci/custom-values.yaml": "test values: the name of an existing Secret",
    "charts/mlflow/ci/external-services-values.yaml": "test values: Secret and key names",
    "charts/mlflow/values.yaml": "the name of a key in the generated Secret",
    "charts/postgres/ci/custom-values.yaml": "test values: the name of an existing Secret",
    "charts/postgres/templates/NOTES.txt": "a kubectl command that reads the generated Secret",
    "tests/charts/test_runtime_defects.py": "test fixture: a changed password, throwaway SQLite",
    "tests/dags/test_pod_replay.py": "test fixture: the name of the step pods' Secret",
    "tests/dags/test_step_pods.py": "test fixture: the name of the step pods' Secret",
    "tests/e2e/test_compose_stack.py": "the step Secret's name; a path (AIRFLOW_HOME=/tmp/…)",
    "tests/integration/test_pipeline_s3.py": "test fixture: a wrong key, to be refused",
    "tests/integration/test_servers.py": "test fixture: a wrong password, to be refused",
    "tests/replay/engine.py": "the alphabet of Kubernetes pod name suffixes",
    "tests/replay/test_chart_replay.py": "test fixture: a wrong password, to be refused",
    "tests/replay/test_replay_semantics.py": "test fixture: a Secret made up for the replay",
    "tests/unit/test_provenance.py": "test fixture: a made-up commit sha",
    "tests/unit/test_security_checks.py": "the shape of the secret planted in a temp copy",
}


def test_every_baselined_finding_is_audited_as_no_secret() -> None:
    baseline = json.loads((ROOT / ".secrets.baseline").read_text())
    assert set(baseline["results"]) == set(AUDITED)
    for filename, findings in baseline["results"].items():
        for finding in findings:
            assert finding["is_secret"] is False, f"{filename}:{finding['line_number']}"
    # Found secrets are never sent anywhere to be verified (a CI run must not leak them).
    filters = {f["path"].rsplit(".", 1)[-1] for f in baseline["filters_used"]}
    assert "is_ignored_due_to_verification_policies" not in filters


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A git checkout of the tracked files as they are now (committed or not)."""
    copy = tmp_path / "tree"
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    subprocess.run(["git", "init", "--quiet", str(copy)], timeout=60, check=True)
    _track(copy)
    return copy


def _track(tree: Path) -> None:
    subprocess.run(["git", "-C", str(tree), "add", "--all"], timeout=60, check=True)


def _check_secrets(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [str(tree / CHECK_SECRETS)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_the_secret_check_passes_on_the_tree_and_leaves_it_unchanged(tree: Path) -> None:
    baseline = (tree / ".secrets.baseline").read_text()
    done = _check_secrets(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tree / ".secrets.baseline").read_text() == baseline


@pytest.mark.slow
@pytest.mark.parametrize(
    "target",
    [
        "src/occupancy/planted.py",  # a new file
        "tests/integration/test_servers.py",  # a file whose other finding is baselined
    ],
)
def test_the_secret_check_fails_on_a_planted_secret(tree: Path, target: str) -> None:
    planted = tree / target
    with planted.open("a") as sink:
        # Letters and digits only: some urlsafe tokens ('-' or '_' runs) pass detect-secrets'
        # heuristics, which made this test flaky.
        sink.write(f'\ndatabase_password = "Pw{secrets.token_hex(12)}"\n')
    _track(tree)
    done = _check_secrets(tree)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Location:    {target}:" in done.stdout, done.stdout


def _bandit(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "bandit"), "-q", "-c", "pyproject.toml", "-r", "src", "dags"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bandit_finds_nothing_in_src_and_dags() -> None:
    done = _bandit(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("planted", "test_id"),
    [
        ("subprocess.run(command, shell=True)", "B602"),
        ("pickle.loads(payload)", "B301"),
        ('urllib.request.urlopen(f"{base}/health")', "B310"),
    ],
)
def test_bandit_fails_on_a_planted_unsafe_call(tree: Path, planted: str, test_id: str) -> None:
    """The skip list hides none of these: only the exact lines marked `# nosec` are spared."""
    module = tree / "src" / "occupancy" / "planted.py"
    module.write_text(
        "import pickle\nimport subprocess\nimport urllib.request\n\n\n"
        f"def planted(command, payload, base):\n    return {planted}\n"
    )
    done = _bandit(tree)
    assert done.returncode == 1, done.stdout
    assert test_id in done.stdout and "planted.py" in done.stdout, done.stdout
