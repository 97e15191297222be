"""The customer-visible error of a failed activity is the first line of Azure's failure text."""

from __future__ import annotations

from devhost.failures import activity_failure
from orchestrators.dsr_request import _error_text


def _as_the_sdk_raises(name: str, ex: Exception) -> Exception:
    # The Python SDK turns a TaskFailed event into Exception(f"{Reason} \n {Details}").
    try:
        raise ex
    except Exception as raised:
        reason, details = activity_failure(name, raised)
    return Exception(f"{reason} \n {details}")


def test_first_line_without_details_or_traceback() -> None:
    exc = _as_the_sdk_raises("run_unit", RuntimeError("Custom Vision GetTags failed: 503 ServiceUnavailable"))
    text = _error_text(exc)
    assert text == (
        "Activity function 'run_unit' failed: RuntimeError:"
        " Custom Vision GetTags failed: 503 ServiceUnavailable"
    )
    assert "Traceback" not in text


def test_credentials_never_reach_the_status_document() -> None:
    exc = _as_the_sdk_raises("write_status", ValueError('bad "AccountKey=c2VjcmV0;EndpointSuffix=x"'))
    assert (
        _error_text(exc) == "Activity function 'write_status' failed: ValueError: bad \"[Hidden Credential]\""
    )


def test_an_exception_without_text_names_its_type() -> None:
    assert _error_text(TimeoutError()) == "TimeoutError"
