"""HTML pages for people, rendered from Jinja2 templates with autoescaping (no string-built HTML).

Every value from the API or the request reaches a page only through a template, so it is escaped.
Pages are self-contained (inline CSS, no script, no external request) and link by relative path,
so a downloaded copy of the folder (or the zip) browses the same as the container.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from dsr.categories import Category

IMAGES_PER_PAGE = 500
"""Images (or stored predictions) on one paged view: a page opens quickly at any account size."""

CATEGORY_GUIDE: dict[str, tuple[str, str]] = {
    Category.ACCOUNT_INFO: (
        "Account information",
        "What the Training API makes knowable about the Custom Vision resource: its endpoint, the "
        "Key Vault secret that holds its key (never the key itself) and a fingerprint of that key.",
    ),
    Category.ITERATION_DETAILS: (
        "Iteration details",
        "The full record of every iteration (trained model version) of each project: domain, "
        "classification type, training type and time, publication.",
    ),
    Category.ITERATION_PERFORMANCE: (
        "Iteration performance",
        "Precision, recall and average precision of every trained iteration, overall and per tag, "
        "and the per-image predictions the service made while evaluating it.",
    ),
    Category.ITERATION_LIST: (
        "Iteration list",
        "Which iterations each project has: name, status, dates and the name it is published under.",
    ),
    Category.PROJECTS: (
        "Projects",
        "Each project's name, description, settings and counts of what it holds.",
    ),
    Category.TAGS: ("Tags", "The labels defined in each project, with how many images carry each."),
    Category.IMAGES: (
        "Images",
        "Every training image with its tags, regions (object boxes) and metadata, and its original "
        "bytes; per project also as COCO annotations (coco.json) for import into other tools.",
    ),
    Category.EXPORTED_MODELS: (
        "Exported models",
        "The trained models exported from iterations (platform, flavour, status). The model files "
        "are not copied; their download links had their signature removed.",
    ),
    Category.PREDICTIONS: (
        "Stored predictions",
        "Images sent to a published iteration's prediction endpoint and kept by the service, with "
        "the tags it predicted and their probabilities, and the images' bytes.",
    ),
}


@cache
def environment() -> Environment:
    """The template environment: autoescaping on for every template, undefined names are errors."""
    env = Environment(
        loader=PackageLoader("dsr.package", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["percent"] = lambda value: "" if value is None else f"{float(value) * 100:.1f} %"
    return env


def render(template: str, **context: Any) -> bytes:
    """Render ``template`` (a file in ``dsr/package/templates``) to UTF-8 HTML."""
    return environment().get_template(template).render(**context).encode()
