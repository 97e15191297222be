"""Looking at a page as a person would, in the real browser: what it says, what failed to load."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

SETTLE_SECONDS = 90.0
"""How long lazy images may take to arrive (500 of them through the test's blob server, on a busy CI)."""


@dataclass
class PageCheck:
    text: str
    links: list[str]
    images: list[dict[str, Any]]
    console_errors: list[str]
    broken_links: list[str]
    broken_images: list[str]
    screenshot: Path


def _scroll_through(driver: Any) -> None:
    """Scroll to the end a viewport at a time, so every lazy image comes near the viewport and loads."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    step = driver.execute_script("return window.innerHeight") or 800
    for offset in range(0, int(height) + int(step), int(step)):
        driver.execute_script("window.scrollTo(0, arguments[0])", offset)
    driver.execute_script("window.scrollTo(0, 0)")


def _images(driver: Any) -> list[dict[str, Any]]:
    return list(
        driver.execute_script(
            "return Array.from(document.images).map(i => ({src: i.currentSrc || i.src, alt: i.alt,"
            " loaded: i.complete && i.naturalWidth > 0, loading: i.loading}))"
        )
    )


def look_at(driver: Any, url: str, artifact: Path) -> PageCheck:
    """Open ``url``; load every image; check every link answers 200; keep a screenshot as ``artifact``."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    _scroll_through(driver)
    deadline = time.monotonic() + SETTLE_SECONDS
    images = _images(driver)
    while any(not image["loaded"] for image in images) and time.monotonic() < deadline:
        # Bring each image still missing into view: a lazy image is fetched only near the viewport.
        driver.execute_script(
            "const late = Array.from(document.images).find(i => !(i.complete && i.naturalWidth > 0));"
            "if (late) late.scrollIntoView();"
        )
        time.sleep(0.2)
        images = _images(driver)
    links = list(driver.execute_script("return Array.from(document.links).map(a => a.href)"))
    with requests.Session() as session, ThreadPoolExecutor(max_workers=8) as pool:
        targets = sorted({link.split("#", 1)[0] for link in links})
        answers = pool.map(lambda target: session.head(target, timeout=10).status_code, targets)
        broken_links = [target for target, status in zip(targets, answers, strict=True) if status != 200]
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    artifact.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(artifact))
    return PageCheck(
        text=driver.find_element("tag name", "body").text,
        links=links,
        images=images,
        console_errors=errors,
        broken_links=broken_links,
        broken_images=[image["src"] for image in images if not image["loaded"]],
        screenshot=artifact,
    )


def assert_clean(check: PageCheck) -> None:
    """No console error, no broken link or image, every image described, the screenshot written."""
    assert check.console_errors == []
    assert check.broken_links == []
    assert check.broken_images == []
    assert all(image["alt"].strip() for image in check.images)
    assert check.screenshot.stat().st_size > 0
