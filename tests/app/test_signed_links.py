"""Signed query strings are removed from exported records, and the record says which fields lost one."""

from __future__ import annotations

from dsr.signed_links import REMOVED_FIELD, is_signed, unsigned

SAS = "https://irisprod.blob.core.windows.net/c/i.png?sv=2020-08-04&sr=b&sig=abc%2Bdef&se=2026-01-01T00%3A00%3A00Z"


def test_signed_links_are_recognised():
    assert is_signed(SAS)
    assert is_signed("http://127.0.0.1:1/_blob/x.png?SIG=1")
    assert not is_signed("https://example.com/a.png")
    assert not is_signed("https://example.com/search?q=sig")
    assert not is_signed("sig=abc")  # not a link


def test_records_keep_the_path_and_name_the_stripped_fields():
    record = {
        "id": "1",
        "originalImageUri": SAS,
        "note": "plain text",
        "export": {"downloadUri": SAS},
        "regions": [{"thumb": SAS}],
    }
    cleaned = unsigned(record)
    assert cleaned["originalImageUri"] == "https://irisprod.blob.core.windows.net/c/i.png"
    assert cleaned["export"]["downloadUri"] == "https://irisprod.blob.core.windows.net/c/i.png"
    assert cleaned["regions"][0]["thumb"].endswith("/i.png")
    assert cleaned[REMOVED_FIELD] == ["export.downloadUri", "originalImageUri", "regions[].thumb"]
    assert record["originalImageUri"] == SAS  # the input is not changed


def test_records_without_links_are_unchanged():
    record = {"id": "1", "uri": "https://example.com/a.png"}
    assert unsigned(record) == record
    assert unsigned([record, {"u": SAS}])[1][REMOVED_FIELD] == ["u"]
