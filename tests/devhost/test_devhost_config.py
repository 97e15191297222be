"""host.json as the host reads it: app-setting overrides, encodings, timeouts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from devhost.config import apply_host_overrides, load_settings


def test_app_settings_override_host_json_case_insensitively() -> None:
    doc = {"functionTimeout": "00:10:00", "extensions": {"queues": {"batchSize": 8}}}
    applied = apply_host_overrides(
        doc,
        {
            "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:02",
            "AzureFunctionsJobHost__Extensions__Queues__BatchSize": "4",
            "AzureFunctionsJobHost__functionTimeout": "00:05:00",
            "UNRELATED": "x",
        },
    )
    assert doc == {
        "functionTimeout": "00:05:00",
        "extensions": {"queues": {"batchSize": 4, "maxPollingInterval": "00:00:02"}},
    }
    assert len(applied) == 3


def _app(tmp_path: Path, host_json: dict[str, object]) -> Path:
    (tmp_path / "host.json").write_text(json.dumps(host_json))
    return tmp_path


def test_repository_host_json_states_base64_and_ten_minutes() -> None:
    settings = load_settings(Path(__file__).resolve().parents[2])
    assert settings.queue_message_encoding == "base64"
    assert settings.function_timeout == timedelta(minutes=10)


def test_unknown_message_encoding_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="messageEncoding"):
        load_settings(_app(tmp_path, {"extensions": {"queues": {"messageEncoding": "utf8"}}}))


def test_function_timeout_defaults_and_unbounded(tmp_path: Path) -> None:
    assert load_settings(_app(tmp_path, {})).function_timeout == timedelta(minutes=30)
    assert load_settings(_app(tmp_path, {"functionTimeout": "-1"})).function_timeout is None
