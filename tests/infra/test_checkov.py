"""checkov, a real IaC security scanner, over ``infra/``: no finding may be left unsuppressed, every
suppression sits in the template with a one-line reason and is listed in docs/deploy.md, and none is
stale. checkov starts once for the module (its start-up is most of its few seconds) and scans a copy of
``infra/`` beside a copy with one setting weakened, to show that a new finding fails the suite."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CHECKOV = ROOT / ".local" / "checkov-venv" / "bin" / "checkov"
SKIP = re.compile(r"^\s*// checkov:skip=(CKV2?_[A-Z]+_\d+):\s*(.*)$", re.MULTILINE)
TIMEOUT_SECONDS = 120


def scan(directory: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: run ./scripts/setup.sh (it creates .local/checkov-venv)")
    # --skip-download: no network for guidelines or external policies; the built-in checks are enough.
    completed = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "bicep", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    return dict(report)


def results(report: dict[str, Any], kind: str, tree: str) -> list[dict[str, Any]]:
    """Results of one kind for the files under ``tree`` (``infra`` or ``weakened``)."""
    return [c for c in report["results"].get(kind, []) if c["file_path"].startswith(f"/{tree}/")]


def findings(report: dict[str, Any], kind: str, tree: str) -> set[tuple[str, str]]:
    return {(c["check_id"], Path(c["file_path"]).name) for c in results(report, kind, tree)}


def suppressions() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for path in sorted(INFRA.rglob("*.bicep")):
        for check_id, reason in SKIP.findall(path.read_text(encoding="utf-8")):
            found[(check_id, path.name)] = reason.strip()
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("checkov")
    shutil.copytree(INFRA, root / "infra")
    shutil.copytree(INFRA, root / "weakened")
    storage = root / "weakened" / "app" / "storage.bicep"
    text = storage.read_text(encoding="utf-8")
    assert "minimumTlsVersion: 'TLS1_2'" in text
    storage.write_text(text.replace("minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'"))
    return scan(root)


def test_no_unsuppressed_finding(report: dict[str, Any]) -> None:
    failed = results(report, "failed_checks", "infra")
    assert not failed, "\n".join(
        f"{c['check_id']} {c['check_name']} in {c['file_path']}: fix it, or suppress it with a reason"
        for c in failed
    )
    assert results(report, "passed_checks", "infra")


def test_every_suppression_has_a_reason_and_is_still_needed(report: dict[str, Any]) -> None:
    declared = suppressions()
    assert declared, "no suppressions found: has the comment syntax changed?"
    for key, reason in declared.items():
        assert len(reason) >= 20, f"{key}: give a reason"
    assert findings(report, "skipped_checks", "infra") == set(declared), "stale or unparsed suppression"


def test_deploy_docs_list_every_suppression() -> None:
    docs = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`(CKV2?_[A-Z]+_\d+)`", docs))
    assert listed == {check_id for check_id, _ in suppressions()}


def test_a_new_finding_fails(report: dict[str, Any]) -> None:
    assert findings(report, "failed_checks", "weakened") == {("CKV_AZURE_44", "storage.bicep")}
