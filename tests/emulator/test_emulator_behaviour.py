"""Limits, auth, asynchronous deletes, $filter, blobs, knobs and the admin API, over raw HTTP."""

from __future__ import annotations

import json
import struct
import time
import zlib

import jsonschema
import pytest
import requests

from emulator.__main__ import main
from emulator.odata import FilterSyntaxError, parse_filter
from emulator.png import make_png
from emulator.seed import PRESETS, build_state

V33 = "/customvision/v3.3/training"
V34 = "/customvision/v3.4-preview/training"
IDS = [f"00000000-0000-0000-0000-{n:012d}" for n in range(300)]


@pytest.fixture
def api(server, keys):
    session = requests.Session()

    def call(method, path, *, key=None, prefix=V33, **kwargs):
        headers = {"Training-Key": key or keys["account-1"]}
        return session.request(method, server.base_url + prefix + path, headers=headers, timeout=10, **kwargs)

    yield call
    session.close()


def _project(state):
    return next(iter(state.account("account-1").projects.values()))


@pytest.mark.parametrize("prefix", [V33, V34])
def test_both_api_versions_are_served(api, state, prefix):
    response = api("GET", "/projects", prefix=prefix)
    assert response.status_code == 200
    assert {p["id"] for p in response.json()} == set(state.account("account-1").projects)


def test_wrong_key_gets_401_error_body(api, spec_v33):
    response = api("GET", "/projects", key="wrong")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}
    assert response.json()["code"] == "Unauthorized"


@pytest.mark.parametrize(
    ("method", "path", "params", "code"),
    [
        ("GET", "/images", {"take": 257}, "BadRequest"),
        ("GET", "/images/tagged", {"take": -1}, "BadRequest"),
        ("GET", "/images/id", {"imageIds": ",".join(IDS[:257])}, "BadRequestExceededBatchSize"),
        ("DELETE", "/images", {"imageIds": ",".join(IDS[:257])}, "BadRequestExceededBatchSize"),
        ("DELETE", "/images", {}, "BadRequestRequiredParamIsNull"),
        ("DELETE", "/predictions", {"ids": ",".join(IDS[:65])}, "BadRequestPredictionIdsExceededCount"),
        ("DELETE", "/predictions", {}, "BadRequestPredictionIdsMissing"),
        ("GET", "/images/tagged", {"tagIds": ",".join(IDS[:21])}, "BadRequestExceededBatchSize"),
        ("GET", "/images/id", {"imageIds": "not-a-guid"}, "BadRequestInvalidIds"),
        ("GET", "/images", {"$filter": "subjectId eq unquoted"}, "BadRequest"),
    ],
)
def test_limits_are_enforced(api, state, spec_v33, method, path, params, code):
    response = api(method, f"/projects/{_project(state).id}{path}", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == code
    spec_v33.check("GetImages", 400, response.content)


def test_limits_at_the_boundary_are_accepted(api, state):
    project = _project(state).id
    assert api("GET", f"/projects/{project}/images", params={"take": 256}).status_code == 200
    assert api("GET", f"/projects/{project}/images/id", params={"imageIds": ",".join(IDS[:256])}).json() == []
    assert (
        api("DELETE", f"/projects/{project}/predictions", params={"ids": ",".join(IDS[:64])}).status_code
        == 204
    )


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/projects/{missing}", "NotFoundProject"),
        ("/projects/not-a-guid", "NotFoundProject"),
        ("/projects/{project}/iterations/{missing}", "NotFoundIteration"),
        ("/projects/{project}/iterations/{missing}/performance", "NotFoundIteration"),
        ("/projects/{project}/tags/{missing}", "NotFoundTag"),
        ("/projects/{project}/nonsense", "NotFound"),
    ],
)
def test_not_found_codes(api, state, path, code):
    response = api("GET", path.format(project=_project(state).id, missing=IDS[0]))
    assert (response.status_code, response.json()["code"]) == (404, code)


def test_all_iterations_delete_is_accepted_and_completes_after_delay(api, state):
    project = _project(state)
    state.account("account-1").controls.knobs.delete_delay_seconds = 0.4
    ids = list(project.images)[:3]
    response = api(
        "DELETE",
        f"/projects/{project.id}/images",
        params={"imageIds": ",".join(ids), "allIterations": "true"},
    )
    assert response.status_code == 202
    visible = api("GET", f"/projects/{project.id}/images/id", params={"imageIds": ",".join(ids)}).json()
    assert len(visible) == 3
    deadline = time.monotonic() + 5
    while (
        time.monotonic() < deadline
        and api("GET", f"/projects/{project.id}/images/id", params={"imageIds": ",".join(ids)}).json()
    ):
        time.sleep(0.1)
    assert not set(ids) & set(project.images)


def test_filter_grammar():
    metadata = {"a": "1", "b": "it's"}
    assert parse_filter("a eq '1'")(metadata)
    assert parse_filter("b eq 'it''s'")(metadata)
    assert not parse_filter("a ne '1'")(metadata)
    assert parse_filter("a eq '2' or b eq 'it''s'")(metadata)
    assert not parse_filter("a eq '1' and b eq 'x'")(metadata)
    assert parse_filter("(a eq '2' or a eq '1') and c ne 'z'")(metadata)
    assert not parse_filter("a eq 'x'' or ''1'' eq ''1'")(metadata)
    for bad in ("a eq", "a gt '1'", "a eq '1' and", "a eq 'unterminated", "(a eq '1'", "a eq '1' b"):
        with pytest.raises(FilterSyntaxError):
            parse_filter(bad)


def _png_chunks(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = body
        position += 12 + length
    return chunks


def test_pngs_are_valid_and_deterministic():
    data = make_png(7, 5, "seed")
    assert data == make_png(7, 5, "seed") != make_png(7, 5, "other")
    chunks = _png_chunks(data)
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert (width, height) == (7, 5)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + width * 3)


def test_blob_uris_serve_bytes_without_key_and_need_signature(api, server, state):
    project = _project(state)
    image = api("GET", f"/projects/{project.id}/images", params={"take": 1}).json()[0]
    original = requests.get(image["originalImageUri"], timeout=10)
    assert original.status_code == 200
    assert original.headers["Content-Type"] == "image/png"
    width, height = struct.unpack(">II", _png_chunks(original.content)[b"IHDR"][:8])
    assert (width, height) == (image["width"], image["height"])
    thumb = struct.unpack(
        ">II", _png_chunks(requests.get(image["thumbnailUri"], timeout=10).content)[b"IHDR"][:8]
    )
    assert max(thumb) == 16
    assert requests.get(image["originalImageUri"].split("&sig=")[0] + "&sig=0", timeout=10).status_code == 403
    api("DELETE", f"/projects/{project.id}/images", params={"imageIds": image["id"], "allIterations": "true"})
    assert requests.get(image["originalImageUri"], timeout=10).status_code == 404


def test_rate_limit_knob_returns_429_with_retry_after(api, state):
    controls = state.account("account-1").controls
    controls.knobs.rate_limit_per_second = 1.0
    statuses = [api("GET", "/projects") for _ in range(3)]
    throttled = [r for r in statuses if r.status_code == 429]
    assert throttled
    assert throttled[0].headers["Retry-After"] == "1"
    assert controls.throttled["GetProjects"] == len(throttled)


def test_admin_api_needs_token_and_controls_faults(server, api, state, admin_token):
    admin = server.base_url + "/_emulator"
    assert requests.get(admin + "/state", timeout=10).status_code == 401
    auth = {"Authorization": f"Bearer {admin_token}"}
    fault = {"operation": "GetProjects", "count": 2, "kind": "status", "status": 502}
    assert requests.post(admin + "/accounts/account-1/faults", json=fault, headers=auth, timeout=10).ok
    assert [api("GET", "/projects").status_code for _ in range(3)] == [502, 502, 200]
    knobs = requests.put(
        admin + "/accounts/account-1/knobs", json={"latencySeconds": 0.2}, headers=auth, timeout=10
    )
    assert knobs.json()["latency_seconds"] == 0.2
    started = time.monotonic()
    api("GET", "/projects")
    assert time.monotonic() - started >= 0.2
    counters = requests.get(admin + "/counters", headers=auth, timeout=10).json()
    assert counters["account-1"]["GetProjects"] == 4
    snapshot = requests.get(admin + "/state", headers=auth, timeout=10).json()
    assert set(snapshot["accounts"]) == {"account-1", "account-2"}
    assert state.account("account-1").key not in json.dumps(snapshot)
    requests.post(admin + "/counters/reset", headers=auth, timeout=10)
    assert state.account("account-1").controls.counters == {}


def test_seeding_is_deterministic(keys):
    first = build_state(PRESETS["demo"], keys).snapshot()
    second = build_state(PRESETS["demo"], {"account-1": "another-key"}).snapshot()
    assert first == second
    project = next(iter(first["accounts"]["account-1"]["projects"].values()))
    assert project["images"] == 40
    assert sum(1 for it in project["iterations"].values() if it["publishName"]) == 1


def test_cli_seed_writes_snapshot(tmp_path):
    out = tmp_path / "demo.json"
    assert main(["seed", "--preset", "small", "--out", str(out)]) == 0
    assert "account-1" in json.loads(out.read_text())["accounts"]


def test_validator_rejects_shapes_the_spec_forbids(spec_v33):
    good = {"id": IDS[0], "name": "t", "description": None, "type": "Regular", "imageCount": 1}
    spec_v33.check("GetTag", 200, json.dumps(good).encode())
    for bad in ({**good, "extra": 1}, {**good, "name": None}, {**good, "type": "Bogus"}, {**good, "id": "x"}):
        with pytest.raises(jsonschema.ValidationError):
            spec_v33.check("GetTag", 200, json.dumps(bad).encode())


class _NoScan(dict):
    """An image dict that fails the test if anything walks all of it."""

    def values(self):
        raise AssertionError("scanned every image")

    def __iter__(self):
        raise AssertionError("scanned every image")


def test_pending_deletions_complete_by_time_without_scanning_images(state):
    from emulator.state import ImageRecord

    project = next(iter(state.account("account-1").projects.values()))
    images = _NoScan(project.images)
    project.images = images
    first, second = (dict.__getitem__(images, i) for i in list(dict.keys(images))[:2])
    assert isinstance(first, ImageRecord)
    project.schedule_deletion(first, 10.0)
    project.schedule_deletion(second, 20.0)
    project.schedule_deletion(second, 15.0)  # rescheduled earlier: the earlier time wins
    project.complete_deletions(5.0)
    assert first.id in images
    assert second.id in images
    project.complete_deletions(15.0)
    assert first.id not in images
    assert second.id not in images
    assert all(first.id not in it.image_ids for it in project.iterations.values())
