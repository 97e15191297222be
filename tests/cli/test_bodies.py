"""``cvdsr submit`` bodies: from flags, and one per CSV row for bulk submission."""

from __future__ import annotations

import pytest

from cvdsr.bodies import Options, bodies_from_csv, body_from_file, build_body
from cvdsr.client import CliError
from dsr.contract import parse_request


def test_flags_make_a_body_the_app_accepts():
    options = Options("delete", ["images"], [], ["subjectId=s-1"], dry_run=True, request_id="t-1")
    body = build_body(options, "https://a.cognitiveservices.azure.com", "cv-key")
    assert body["subject"] == {"metadata": {"subjectId": "s-1"}}
    request = parse_request(body)
    assert request["requestId"] == "t-1"
    assert request["dryRun"] is True
    assert request["categories"] == ["images"]


def test_generated_ids_are_valid_and_unique():
    options = Options("export")
    ids = {build_body(options, "https://a.cognitiveservices.azure.com", "k")["requestId"] for _ in range(5)}
    assert len(ids) == 5
    for request_id in ids:
        parse_request(
            {
                "requestId": request_id,
                "operation": "export",
                "account": {"endpoint": "https://a.cognitiveservices.azure.com", "trainingKeySecret": "k"},
            }
        )


def test_csv_gives_one_body_per_account(tmp_path):
    sheet = tmp_path / "a.csv"
    sheet.write_text(
        "endpoint,trainingKeySecret,requestId,projectIds\n"
        "https://a.cognitiveservices.azure.com,key-a,t-a,\n"
        "https://b.cognitiveservices.azure.com,key-b,,"
        "0f4c3d2e-1b2a-4c3d-8e9f-001122334455 1f4c3d2e-1b2a-4c3d-8e9f-001122334455\n"
    )
    first, second = bodies_from_csv(sheet, Options("export", ["projects"]))
    assert first["requestId"] == "t-a"
    assert "projectIds" not in first
    assert second["account"] == {
        "endpoint": "https://b.cognitiveservices.azure.com",
        "trainingKeySecret": "key-b",
    }
    assert len(second["projectIds"]) == 2
    assert first["categories"] == second["categories"] == ["projects"]
    assert second["requestId"] != first["requestId"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("endpoint\nhttps://a\n", "trainingKeySecret"),
        ("endpoint,trainingKeySecret,colour\nx,y,z\n", "unknown column"),
        ("endpoint,trainingKeySecret\n,y\n", "line 2"),
        ("endpoint,trainingKeySecret\n", "no rows"),
    ],
)
def test_bad_csv_is_refused_before_anything_is_sent(tmp_path, text, message):
    sheet = tmp_path / "a.csv"
    sheet.write_text(text)
    with pytest.raises(CliError, match=message):
        bodies_from_csv(sheet, Options("export"))


def test_bad_subject_pair_is_refused():
    with pytest.raises(CliError, match="KEY=VALUE"):
        build_body(Options("export", subject=["novalue"]), "https://a", "k")


def test_zip_asks_for_the_export_as_one_zip():
    options = Options("export", zip=True)
    request = parse_request(build_body(options, "https://a.cognitiveservices.azure.com", "cv-key"))
    assert request["zip"] is True
    plain = parse_request(build_body(Options("export"), "https://a.cognitiveservices.azure.com", "cv-key"))
    assert plain["zip"] is False


def _file(tmp_path, text: str):
    path = tmp_path / "body.json"
    path.write_text(text)
    return path


FILE_BODY = (
    '{"operation": "delete", "account": {"endpoint": "https://a.cognitiveservices.azure.com", '
    '"trainingKeySecret": "k"}, "subject": {"metadata": {"email": "a@example.com"}}}'
)
PROJECT = "0f0e0d0c-0b0a-4908-8706-050403020100"


def test_options_apply_to_a_body_from_a_file(tmp_path):
    # A --dry-run that went missing would turn a count into a real delete.
    options = Options(
        "delete", ["images"], [PROJECT], [], dry_run=True, request_id="t-1", callback_url="https://c"
    )
    body = body_from_file(_file(tmp_path, FILE_BODY), options)
    assert body["dryRun"] is True
    assert body["categories"] == ["images"]
    assert body["projectIds"] == [PROJECT]
    assert body["requestId"] == "t-1"
    assert body["callbackUrl"] == "https://c"
    assert body["subject"] == {"metadata": {"email": "a@example.com"}}
    assert parse_request(body)["dryRun"] is True


def test_a_file_without_options_is_sent_as_written(tmp_path):
    body = body_from_file(_file(tmp_path, FILE_BODY), Options("delete"))
    assert "dryRun" not in body
    assert "requestId" not in body  # the app assigns one


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (Options("export"), "is a delete request, not export"),
        (Options("delete", subject=["email=b@example.com"]), "subject"),
        (Options("delete", request_id="other"), "requestId"),
    ],
)
def test_an_option_that_contradicts_the_file_is_refused(tmp_path, options, message):
    text = FILE_BODY.replace('"operation"', '"requestId": "mine", "operation"')
    with pytest.raises(CliError, match=message):
        body_from_file(_file(tmp_path, text), options)


def test_a_file_that_repeats_a_key_is_refused(tmp_path):
    # json.loads lets the last of two keys win; the API refuses repeats, so the CLI must not hide them.
    text = FILE_BODY.replace('"email": "a@example.com"', '"email": "a@example.com", "email": "b@example.com"')
    with pytest.raises(CliError, match="repeats the key 'email'"):
        body_from_file(_file(tmp_path, text), Options("delete"))


def test_a_subject_key_given_twice_is_refused():
    with pytest.raises(CliError, match="--subject email"):
        build_body(Options("delete", subject=["email=a@x", "email=b@x"]), "https://a", "k")


OTHER_PROJECT = "1f0e0d0c-0b0a-4908-8706-050403020100"
CSV_HEADER = "endpoint,trainingKeySecret,requestId,projectIds\n"


def _sheet(tmp_path, text: str):
    path = tmp_path / "a.csv"
    path.write_text(text)
    return path


def test_a_projects_column_that_contradicts_the_project_option_is_refused(tmp_path):
    # -p says which projects the request is about; a row must not quietly widen or move that scope.
    sheet = _sheet(
        tmp_path,
        CSV_HEADER
        + f"https://a.cognitiveservices.azure.com,key-a,t-a,{PROJECT}\n"
        + f"https://b.cognitiveservices.azure.com,key-b,t-b,{OTHER_PROJECT}\n",
    )
    with pytest.raises(CliError, match=r"line 3: .*projectIds.*-p/--project") as caught:
        bodies_from_csv(sheet, Options("delete", project_ids=[PROJECT]))
    assert "key-b" not in str(caught.value)


def test_the_project_option_applies_to_rows_that_agree_or_name_none(tmp_path):
    sheet = _sheet(
        tmp_path,
        CSV_HEADER
        + f"https://a.cognitiveservices.azure.com,key-a,t-a,{PROJECT}\n"
        + "https://b.cognitiveservices.azure.com,key-b,t-b,\n",
    )
    first, second = bodies_from_csv(sheet, Options("delete", project_ids=[PROJECT]))
    assert first["projectIds"] == second["projectIds"] == [PROJECT]
    assert (first["requestId"], second["requestId"]) == ("t-a", "t-b")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        # An unquoted second project id in a later row: its extra field would be dropped, and with it the id.
        (
            f"https://a.cognitiveservices.azure.com,key-a,t-a,{PROJECT}\n"
            f"https://b.cognitiveservices.azure.com,key-b,t-b,{PROJECT},{OTHER_PROJECT}\n",
            "line 3 has 5 fields, the header 4",
        ),
        # The same in the first row crashed with a TypeError.
        (
            f"https://a.cognitiveservices.azure.com,key-a,t-a,{PROJECT},{OTHER_PROJECT}\n",
            "line 2 has 5 fields, the header 4",
        ),
        # A row short of a field is as likely a shifted one (here: requestId in the projectIds place).
        (
            f"https://a.cognitiveservices.azure.com,key-a,t-a,{PROJECT}\n"
            "https://b.cognitiveservices.azure.com,key-b,t-b\n",
            "line 3 has 3 fields, the header 4",
        ),
        (
            "\nhttps://a.cognitiveservices.azure.com,key-a,t-a\n",
            "line 3 has 3 fields, the header 4",
        ),
    ],
)
def test_a_ragged_row_is_refused_naming_its_line(tmp_path, rows, message):
    sheet = _sheet(tmp_path, CSV_HEADER + rows)
    with pytest.raises(CliError, match=message) as caught:
        bodies_from_csv(sheet, Options("delete"))
    assert "key-" not in str(caught.value)
    assert PROJECT not in str(caught.value)


def test_a_header_that_repeats_a_column_is_refused(tmp_path):
    # csv.DictReader keeps the last of two equal columns: the first projectIds would be lost.
    sheet = _sheet(
        tmp_path,
        "endpoint,trainingKeySecret,projectIds,projectIds\n"
        f"https://a.cognitiveservices.azure.com,key-a,{PROJECT},{OTHER_PROJECT}\n",
    )
    with pytest.raises(CliError, match="repeats the column projectIds"):
        bodies_from_csv(sheet, Options("delete"))


def test_a_csv_that_is_not_utf8_is_refused(tmp_path):
    sheet = tmp_path / "a.csv"
    sheet.write_bytes(b"endpoint,trainingKeySecret\nhttps://a.cognitiveservices.azure.com,k\xe9y\n")
    with pytest.raises(CliError, match="UTF-8"):
        bodies_from_csv(sheet, Options("delete"))
