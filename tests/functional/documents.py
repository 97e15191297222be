"""A finished export's status document, for the package step's tests and benchmark: tags and images of
one project, built from the files their units wrote."""

from __future__ import annotations

from typing import Any

from dsr.storage import FileRef


def finished_export(
    request_id: str, project: dict[str, str], tags: FileRef, image_parts: list[FileRef], images: int
) -> dict[str, Any]:
    """The status document of an export of ``tags`` and ``images`` that succeeded for ``project``."""
    return {
        "requestId": request_id,
        "operation": "export",
        "state": "succeeded",
        "receivedAt": "2026-01-01T00:00:00Z",
        "request": {
            "account": {"endpoint": "https://x.cognitiveservices.azure.com", "trainingKeySecret": "s"},
            "categories": ["tags", "images"],
            "projectIds": None,
            "subject": None,
            "zip": False,
        },
        "categories": {
            "tags": {"state": "succeeded", "counts": {"tags": 1}, "files": [tags.to_json()]},
            "images": {
                "state": "succeeded",
                "counts": {"images": images},
                "files": [part.to_json() for part in image_parts],
            },
        },
        "projects": [project],
        "projectsNotFound": [],
    }
