"""Paged views of a project's images or stored predictions: at most :data:`IMAGES_PER_PAGE` a page,
written while the records stream past, with one page held back so it can link to the next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsr import layout
from dsr.package.manifest import Manifest
from dsr.package.pages import IMAGES_PER_PAGE, render
from dsr.package.reading import relative
from dsr.storage import ExportStore

HEADINGS = {"images": "Images", "predictions": "Stored predictions"}
PREVIEW_ITEMS = 8
"""Thumbnails the overview shows per project and kind, linking into the paged views."""


@dataclass(frozen=True)
class PageLink:
    href: str
    label: str


def _pairs(mapping: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in sorted((mapping or {}).items())]


def _region_text(region: dict[str, Any]) -> str:
    box = ", ".join(
        f"{name} {float(region.get(name) or 0):.3f}" for name in ("left", "top", "width", "height")
    )
    return f"{region.get('tagName') or region.get('tagId')}: {box}"


def image_item(record: dict[str, Any], page_path: str) -> dict[str, Any]:
    """What an images page shows of one exported image record."""
    tags = [str(t.get("tagName") or t.get("tagId")) for t in record.get("tags") or []]
    regions = [_region_text(r) for r in record.get("regions") or []]
    target = record.get("exportedFile")
    return {
        "id": record["id"],
        "href": relative(page_path, target) if target else None,
        "alt": f"Image {record['id']}, " + (f"tagged {', '.join(tags)}" if tags else "untagged"),
        "width": record.get("width"),
        "height": record.get("height"),
        "tags": tags,
        "regions": regions,
        "metadata": _pairs(record.get("metadata")),
        "created": record.get("created") or "",
        "only_in_iteration": record.get("onlyInIteration"),
    }


def prediction_item(record: dict[str, Any], page_path: str) -> dict[str, Any]:
    """What a stored-predictions page shows of one exported prediction record."""
    scores = sorted(record.get("predictions") or [], key=lambda p: -float(p.get("probability") or 0))
    lines = [
        f"{p.get('tagName') or p.get('tagId')}: {float(p.get('probability') or 0) * 100:.1f} %"
        for p in scores
    ]
    target = record.get("exportedFile")
    best = f", most likely {lines[0]}" if lines else ""
    return {
        "id": record["id"],
        "href": relative(page_path, target) if target else None,
        "alt": f"Stored prediction image {record['id']}{best}",
        "predictions": lines,
        "iteration": record.get("iteration"),
        "created": record.get("created") or "",
    }


@dataclass
class PagedView:
    """Receives one project's records of one kind and writes ``pages/<project>/<kind>-NNNN.html``."""

    store: ExportStore
    manifest: Manifest
    request_id: str
    project_id: str
    project_name: str
    kind: str
    subject_note: str | None = None
    total: int = 0
    links: list[PageLink] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    """The first items as the overview (``index.html``) shows them."""
    _held: list[dict[str, Any]] = field(default_factory=list)
    _current: list[dict[str, Any]] = field(default_factory=list)

    def _page_path(self, number: int) -> str:
        return layout.package_page(self.request_id, self.project_id, self.kind, number)

    def add(self, record: dict[str, Any]) -> None:
        if len(self._current) == IMAGES_PER_PAGE:
            self._flush_held(has_next=True)
            self._held, self._current = self._current, []
        number = len(self.links) + (2 if self._held else 1)
        make = image_item if self.kind == "images" else prediction_item
        self._current.append(make(record, self._page_path(number)))
        if len(self.preview) < PREVIEW_ITEMS:
            self.preview.append(make(record, layout.index_file(self.request_id)))
        self.total += 1

    def _flush_held(self, *, has_next: bool) -> None:
        if not self._held:
            return
        number = len(self.links) + 1
        path = self._page_path(number)
        first = (number - 1) * IMAGES_PER_PAGE + 1
        html = render(
            "images_page.html",
            kind=self.kind,
            heading=HEADINGS[self.kind],
            project_id=self.project_id,
            project_name=self.project_name,
            number=number,
            first=first,
            last=first + len(self._held) - 1,
            items=self._held,
            subject_note=self.subject_note,
            index_href=relative(path, layout.index_file(self.request_id)),
            previous=relative(path, self._page_path(number - 1)) if number > 1 else None,
            next=relative(path, self._page_path(number + 1)) if has_next else None,
        )
        self.manifest.add_ref(self.store.put_bytes(path, html, "text/html"))
        label = f"{first}-{first + len(self._held) - 1}"
        self.links.append(PageLink(relative(layout.index_file(self.request_id), path), label))
        self._held = []

    def close(self) -> list[PageLink]:
        """Write what is left; the links to every page, in order."""
        if self._current:
            self._flush_held(has_next=True)
            self._held, self._current = self._current, []
        self._flush_held(has_next=False)
        return self.links
