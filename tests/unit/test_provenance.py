"""The code version tagged on runs and versions: the image's OCCUPANCY_GIT_SHA, else the checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from occupancy.config import Settings
from occupancy.provenance import checkout_revision, git_sha

FULL_SHA = re.compile(r"[0-9a-f]{40}")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A one-commit repository with a tracked file, and a tag git describe must not prefer."""
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "--quiet")
    (path / "module.py").write_text("VALUE = 1\n")
    _git(path, "add", "module.py")
    _git(path, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    _git(path, "tag", "v1.0.0")
    return path


def test_a_clean_checkout_is_its_full_commit_sha(repo: Path) -> None:
    revision = checkout_revision(repo)
    assert FULL_SHA.fullmatch(revision), revision
    assert revision == _git(repo, "rev-parse", "HEAD")


def test_a_checkout_with_uncommitted_changes_is_marked_dirty(repo: Path) -> None:
    (repo / "module.py").write_text("VALUE = 2\n")
    assert checkout_revision(repo) == f"{_git(repo, 'rev-parse', 'HEAD')}-dirty"


def test_outside_a_checkout_the_revision_is_unknown(tmp_path: Path) -> None:
    assert checkout_revision(tmp_path) == "unknown"


def test_the_image_sha_wins_over_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCCUPANCY_GIT_SHA", "0123456789abcdef0123456789abcdef01234567")
    assert git_sha(Settings()) == "0123456789abcdef0123456789abcdef01234567"


def test_without_an_image_sha_the_running_checkout_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCCUPANCY_GIT_SHA", raising=False)
    root = Path(__file__).resolve().parents[2]
    assert git_sha(Settings()) == checkout_revision(root)
