"""Try the running local app: submit a request for the seeded demo account, follow it, fetch the result.

    .venv/bin/python scripts/demo.py export                 # whole account → .local/exports/<id>/index.html
    .venv/bin/python scripts/demo.py export --subject subjectId=subject-001
    .venv/bin/python scripts/demo.py export --zip           # also one zip, with a short-lived download link
    .venv/bin/python scripts/demo.py delete --dry-run       # what a delete would remove
    .venv/bin/python scripts/demo.py delete                 # delete the demo account's data
                                                            # → .local/exports/<id>/receipts/receipt.html

Reads the local configuration from ``python -m devstack env`` (run.sh starts everything first).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from azure.storage.blob import ContainerClient

ROOT = Path(__file__).resolve().parent.parent
DEMO_SECRET_NAME = "cv-demo-training-key"  # noqa: S105 - a Key Vault secret name, not a secret
POLL_LIMIT_SECONDS = 600


def local_env() -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "devstack", "env"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    env: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    return env


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("operation", choices=["export", "delete"])
    parser.add_argument("--dry-run", action="store_true", help="delete only: enumerate, delete nothing")
    parser.add_argument("--subject", help="KEY=VALUE image metadata that identifies one data subject")
    parser.add_argument(
        "--zip", action="store_true", help="export only: deliver one zip with a read-only link"
    )
    parser.add_argument("--request-id", default=None)
    args = parser.parse_args()

    env = {**local_env(), **os.environ}
    base = f"http://127.0.0.1:{env.get('DSR_FUNCTIONS_PORT', '7071')}/api"
    headers = {"x-functions-key": env["DEVHOST_FUNCTION_KEY"]} if env.get("DEVHOST_FUNCTION_KEY") else {}
    body: dict[str, Any] = {
        "requestId": args.request_id or f"demo-{args.operation}-{uuid.uuid4().hex[:8]}",
        "operation": args.operation,
        "account": {
            "endpoint": env["DEVSTACK_CV_ENDPOINT"],
            "trainingKeySecret": env.get("DEVSTACK_DEMO_SECRET_NAME", DEMO_SECRET_NAME),
        },
    }
    if args.dry_run:
        body["dryRun"] = True
    if args.zip:
        body["zip"] = True
    if args.subject:
        key, _, value = args.subject.partition("=")
        body["subject"] = {"metadata": {key: value}}

    response = requests.post(f"{base}/requests", json=body, headers=headers, timeout=30)
    print(f"POST /api/requests -> {response.status_code}")
    if response.status_code != 202:
        print(response.text)
        return 1
    location = response.headers["Location"]
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while True:
        status = requests.get(location, headers=headers, timeout=30)
        document = status.json()
        states = {name: entry["state"] for name, entry in document.get("categories", {}).items()}
        print(f"GET {location} -> {status.status_code} {document.get('state')} {states}")
        if status.status_code != 202 or time.monotonic() > deadline:
            break
        time.sleep(min(float(status.headers.get("Retry-After", "2")), 2.0))
    print(json.dumps(document, indent=2))

    target = ROOT / ".local" / "exports" / body["requestId"]
    # The export's working copies, then the records (status, sealed receipts, erasure certificate).
    for name in ("dsr-exports", "dsr-records"):  # dsr/config.py's defaults, which run.sh uses
        container = ContainerClient.from_connection_string(env["DSR_STORAGE_CONNECTION"], name)
        if not container.exists():
            continue
        for blob in container.list_blobs(name_starts_with=body["requestId"] + "/"):
            path = target / blob.name.removeprefix(body["requestId"] + "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(container.download_blob(blob.name).readall())
    print(f"\nFiles copied from Blob Storage to {target}")
    index = target / "export" / "index.html"
    if index.exists():
        print(f"Open {index} in a browser to browse the export.")
    receipt = target / "receipts" / "receipt.html"
    if receipt.exists():
        print(f"Open {receipt} in a browser to read the erasure certificate.")
    if document.get("delivery"):
        print(f"The zip can be downloaded until {document['delivery']['expiresAt']} from:")
        print(document["delivery"]["url"])
    return 0 if status.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
