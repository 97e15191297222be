"""The ``zip`` request flag (a JSON boolean, export only) and the link lifetime setting."""

from __future__ import annotations

import pytest

from dsr.config import DEFAULT_DELIVERY_LINK_MINUTES, load_settings
from dsr.contract import parse_request
from dsr.errors import ConfigurationError, InvalidRequestError

ACCOUNT = {"endpoint": "https://west.cognitiveservices.azure.com", "trainingKeySecret": "cv-key"}
ENV = {
    "DSR_STORAGE_CONNECTION": "UseDevelopmentStorage=true",
    "DSR_KEY_VAULT_URL": "https://kv.vault.azure.net",
}


def test_zip_is_off_unless_asked_and_keeps_old_fingerprints():
    plain = parse_request({"requestId": "r1", "operation": "export", "account": ACCOUNT})
    explicit_off = parse_request({"requestId": "r1", "operation": "export", "account": ACCOUNT, "zip": False})
    zipped = parse_request({"requestId": "r1", "operation": "export", "account": ACCOUNT, "zip": True})
    assert plain["zip"] is False
    assert zipped["zip"] is True
    assert plain["fingerprint"] == explicit_off["fingerprint"] != zipped["fingerprint"]


@pytest.mark.parametrize("value", ["true", 1, 0, "yes", None, [True]])
def test_zip_must_be_a_json_boolean(value):
    with pytest.raises(InvalidRequestError) as caught:
        parse_request({"operation": "export", "account": ACCOUNT, "zip": value})
    assert caught.value.field == "zip"


def test_zip_applies_to_exports_only():
    with pytest.raises(InvalidRequestError) as caught:
        parse_request({"operation": "delete", "account": ACCOUNT, "zip": True})
    assert caught.value.field == "zip"


def test_link_lifetime_is_short_by_default_and_bounded():
    assert load_settings(ENV).delivery_link_minutes == DEFAULT_DELIVERY_LINK_MINUTES <= 60
    assert load_settings({**ENV, "DSR_DELIVERY_LINK_MINUTES": "15"}).delivery_link_minutes == 15
    for bad in ("0", "abc", str(8 * 24 * 60)):
        with pytest.raises(ConfigurationError):
            load_settings({**ENV, "DSR_DELIVERY_LINK_MINUTES": bad})
