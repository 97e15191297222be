"""The pages a person opens, in real headless Chromium: the export index, its paged views and the
erasure certificate, on the demo account, a subject export and a 10k-image export."""

from __future__ import annotations

import pytest

from dsr.package.pages import IMAGES_PER_PAGE
from tests.package.conftest import ARTIFACTS, Scenario
from tests.package.pages import assert_clean, look_at

pytestmark = [pytest.mark.services, pytest.mark.slow]


def url(site: str, scenario: Scenario, path: str) -> str:
    return f"{site}/{scenario.container}/{path}"


def index_of(site: str, scenario: Scenario, name: str) -> str:
    return url(site, scenario, scenario.documents[name]["index"]["path"])


def test_demo_export_index(browser, site, demo):
    check = look_at(browser, index_of(site, demo, "export"), ARTIFACTS / "demo-index.png")
    assert_clean(check)
    for heading in ("Scope of this request", "What this export contains", "Account information"):
        assert heading in check.text
    for title in ("Iteration performance", "Exported models", "Stored predictions", "Images"):
        assert title in check.text
    assert "Actions left to the customer" in check.text
    assert "Exported models:" in check.text
    assert "Azure portal" in check.text
    assert "The whole account" in check.text
    for project in demo.server.state.account("account-1").projects.values():
        assert project.name in check.text
    assert check.images
    assert all(image["loading"] == "lazy" for image in check.images)
    assert any(link.endswith("/coco.json") for link in check.links)
    assert any(link.endswith("/manifest.json") for link in check.links)


def test_demo_image_and_prediction_pages(browser, site, demo):
    document = demo.documents["export"]
    root = f"{document['requestId']}/export"
    for project in document["projects"]:
        for kind in ("images", "predictions"):
            page = f"{root}/pages/{project['id']}/{kind}-0001.html"
            check = look_at(
                browser, url(site, demo, page), ARTIFACTS / f"demo-{kind}-{project['id'][:8]}.png"
            )
            assert_clean(check)
            assert project["name"] in check.text
            assert check.images
            assert any(link.endswith("/index.html") for link in check.links)
            if kind == "images":
                assert "untagged" in check.text
                assert "subjectId" in check.text
            else:
                assert " %" in check.text  # predicted tags with their probability


def test_subject_export_says_whom_it_covers(browser, site, demo):
    check = look_at(browser, index_of(site, demo, "subject"), ARTIFACTS / "subject-index.png")
    assert_clean(check)
    assert "Only data about one person" in check.text
    assert "subject-001" in check.text
    assert "Not attributable" in check.text
    assert "Actions left to the customer" in check.text
    for project in demo.documents["subject"]["projects"]:
        assert project["name"] in check.text  # names, not bare ids
    document = demo.documents["subject"]
    page = f"{document['requestId']}/export/pages/{document['projects'][0]['id']}/images-0001.html"
    check = look_at(browser, url(site, demo, page), ARTIFACTS / "subject-images.png")
    assert_clean(check)
    assert "identifies the data subject" in check.text


@pytest.mark.parametrize(
    ("name", "title"), [("delete", "Erasure certificate"), ("dry-run", "Erasure preview")]
)
def test_erasure_certificate(browser, site, demo, name, title):
    document = demo.documents[name]
    check = look_at(
        browser,
        f"{site}/{demo.records_container}/{document['receipt']['html']['path']}",
        ARTIFACTS / f"receipt-{name}.png",
    )
    assert_clean(check)
    assert title in check.text
    assert "Not deletable by the API: what the customer must do" in check.text
    assert "Azure portal" in check.text  # account info needs the customer
    assert any(link.endswith("receipt.json") for link in check.links)
    if name == "dry-run":
        assert "Nothing was deleted" in check.text
        assert "What a delete would remove" in check.text
    else:
        assert "verified" in check.text
        assert "NOT verified" not in check.text


@pytest.mark.timeout(900)  # copying 10,000 images costs ~55 s of CPU in this process; far more on a busy box
def test_ten_thousand_images_open_page_by_page(browser, site, large):
    document = large.documents["export"]
    assert document["categories"]["images"]["counts"]["images"] == 10_000
    check = look_at(browser, index_of(site, large, "export"), ARTIFACTS / "large-index.png")
    assert_clean(check)
    root = f"{document['requestId']}/export"
    project = document["projects"][0]
    pages = sorted(link for link in check.links if f"/pages/{project['id']}/images-" in link)
    assert len(pages) == -(-5_000 // IMAGES_PER_PAGE)
    for page in (pages[0], pages[-1]):
        shot = ARTIFACTS / f"large-{page.rsplit('/', 1)[1]}.png"
        check = look_at(browser, page, shot)
        assert_clean(check)
        assert 0 < len(check.images) <= IMAGES_PER_PAGE
    assert root in pages[0]
