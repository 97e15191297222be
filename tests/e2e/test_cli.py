"""The operator CLI (the installed ``cvdsr`` console script) drives a full export and delete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsr.config import load_settings

pytestmark = [pytest.mark.services, pytest.mark.slow]

CVDSR = Path(sys.executable).with_name("cvdsr")


def cvdsr(stack, host, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CVDSR_URL": f"http://127.0.0.1:{host.port}",
        "CVDSR_KEY": host.function_key,
        "CVDSR_STORAGE": load_settings().storage_connection,
        "CVDSR_CONTAINER": stack.container_name,
        "CVDSR_RECORDS_CONTAINER": stack.records_container_name,
        "COLUMNS": "200",
        **(extra_env or {}),
    }
    return subprocess.run(
        [str(CVDSR), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def account_flags(stack) -> list[str]:
    return ["--endpoint", stack.emulator.base_url, "--secret", stack.secret_name("cli")]


def test_export_then_delete_with_progress_summary_and_download(stack, host, tmp_path):
    run = cvdsr(
        stack,
        host,
        "submit",
        "export",
        *account_flags(stack),
        "--request-id",
        "cli-x1",
        "--zip",
        "--watch",
        "--poll",
        "0.2",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "cli-x1/delivery/cli-x1-export.zip" in out
    link_lines = [line for line in out.splitlines() if "link, valid until " in line]
    assert len(link_lines) == 1
    assert "sig=" in link_lines[0]  # the whole read-only link, on one line
    assert "cli-x1: export submitted" in out
    for category in ("accountInfo", "images", "predictions", "exportedModels"):
        assert category in out
    assert "succeeded" in out
    assert "export index in container" in out
    assert "cli-x1/export/index.html" in out

    fetched = cvdsr(stack, host, "download", "cli-x1", "--to", str(tmp_path))
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "cli-x1" / "export" / "index.html").is_file()
    assert (tmp_path / "cli-x1" / "status.json").is_file()  # from the records container
    assert "checked against their sha256" in fetched.stdout

    status = cvdsr(stack, host, "status", "cli-x1", "--json")
    assert status.returncode == 0
    assert '"state": "succeeded"' in status.stdout

    deleted = cvdsr(
        stack,
        host,
        "submit",
        "delete",
        *account_flags(stack),
        "--request-id",
        "cli-d1",
        "--watch",
        "--poll",
        "0.2",
    )
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert "receipts in container" in deleted.stdout
    assert "cli-d1/receipts/images/" in deleted.stdout
    assert "Left for the customer to do by hand" in deleted.stdout
    assert "az cognitiveservices account delete" in deleted.stdout
    assert stack.account("cli").projects == {}


def test_bulk_submit_from_csv_and_list_errors(stack, host, tmp_path):
    sheet = tmp_path / "accounts.csv"
    sheet.write_text(
        "endpoint,trainingKeySecret,requestId\n"
        f"{stack.emulator.base_url},{stack.secret_name('export')},cli-bulk-1\n"
        f"{stack.emulator.base_url},{stack.secret_name('subject-export')},cli-bulk-2\n"
    )
    run = cvdsr(
        stack, host, "submit", "export", "--csv", str(sheet), "-c", "projects", "--watch", "--poll", "0.2"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "cli-bulk-1: export submitted" in run.stdout
    assert "cli-bulk-2: export submitted" in run.stdout
    assert run.stdout.count("succeeded") >= 2

    unknown = cvdsr(stack, host, "status", "cli-no-such")
    assert unknown.returncode == 1
    assert "404 RequestNotFound" in unknown.stderr

    wrong_key = cvdsr(stack, host, "status", "cli-bulk-1", extra_env={"CVDSR_KEY": "wrong"})
    assert wrong_key.returncode == 1
    assert "401" in wrong_key.stderr
    assert "wrong" not in wrong_key.stderr  # the key is never echoed


def test_file_submission_list_and_refused_control(stack, host, tmp_path):
    body = stack.body("projects-only", operation="export", categories=["projects"])
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    run = cvdsr(stack, host, "submit", "export", "--file", str(path), "--watch", "--poll", "0.2")
    assert run.returncode == 0, run.stdout + run.stderr
    mismatch = cvdsr(stack, host, "submit", "delete", "--file", str(path))
    assert mismatch.returncode == 1
    assert "is a export request, not delete" in mismatch.stderr

    listed = cvdsr(
        stack, host, "list", "--operation", "export", "--state", "succeeded", "--json", "--limit", "500"
    )
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert body["requestId"] in {row["requestId"] for row in rows}
    assert {row["operation"] for row in rows} == {"export"}

    late = cvdsr(stack, host, "cancel", body["requestId"])
    assert late.returncode == 1
    assert "409 RequestConflict" in late.stderr
    nothing = cvdsr(stack, host, "retry", body["requestId"])
    assert nothing.returncode == 1
    assert "nothing to retry" in nothing.stderr


def test_verify_reports_an_intact_chain_and_then_the_altered_receipt(stack, host):
    body = stack.body(
        "dry-run", operation="delete", dryRun=True, categories=["tags"], requestId="cli-verify-1"
    )
    assert host.submit(body).status_code == 202
    document = host.wait(body["requestId"]).json()
    intact = cvdsr(stack, host, "verify", stack.emulator.base_url)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "intact" in intact.stdout
    victim = next(
        ref["path"] for e in document["categories"].values() for ref in (e["receipt"] or {}).get("files", [])
    )
    folder = stack.records(body["requestId"])
    original = folder.read(victim)
    altered = json.loads(original)
    altered["deleted"]["count"] += 1
    folder.container.upload_blob(victim, json.dumps(altered).encode(), overwrite=True)
    try:
        broken = cvdsr(stack, host, "verify", stack.emulator.base_url, "--json")
        assert broken.returncode == 1
        report = json.loads(broken.stdout)
        assert report["firstBreak"]["path"] == victim
        assert "altered" in report["firstBreak"]["reason"]
    finally:
        folder.container.upload_blob(victim, original, overwrite=True)
    assert cvdsr(stack, host, "verify", stack.emulator.base_url).returncode == 0
