"""The fewest Training API calls an export or a delete of an account can make, from its contents.

The formulas (written out in docs/benchmarks.md) count what any complete implementation must ask:
every listing once at the maximum page size (256; a listing ends at its first short page, so ``n``
items take ``n // 256 + 1`` calls), every batch as large as the API allows, and, for a delete, one
re-list per scope to verify. Nothing is counted for blob downloads, which are not rate-limited.
"""

from __future__ import annotations

import math
from collections import Counter

from emulator.state import Account, ProjectRecord

PAGE = 256
DELETE_IMAGES_BATCH = 256
DELETE_PREDICTIONS_BATCH = 64


def pages(count: int) -> int:
    """Calls to list ``count`` items by skip/take until a short page."""
    return count // PAGE + 1


def _trained(project: ProjectRecord) -> list[str]:
    return [i.id for i in project.iterations.values() if i.status.lower() == "completed"]


def export_calls(account: Account) -> Counter[str]:
    """Per category (``request`` for the resolution): the minimal calls of a whole-account export."""
    calls: Counter[str] = Counter()
    projects = list(account.projects.values())
    calls["request"] = 1 + len(projects)  # GetProjects; GetIterations per project (shared by all)
    for project in projects:
        calls["projects"] += 1  # ExportProject (the project objects come with GetProjects)
        calls["tags"] += 1
        workspace = {i.id for i in project.images.values() if i.in_workspace}
        calls["images"] += pages(len(workspace))
        exported = set(workspace)
        for iid in _trained(project):
            iteration = project.iterations[iid]
            held = [project.images[i] for i in iteration.image_ids if i in project.images]
            tagged = sum(1 for image in held if image.tag_ids)
            calls["exportedModels"] += 1  # GetExports
            calls["iterationPerformance"] += 1  # GetIterationPerformance
            # One listing of the iteration, shared with images: tagged (image performances) + untagged.
            calls["images"] += pages(tagged) + pages(len(held) - tagged)
            absent = {image.id for image in held} - exported
            calls["images"] += math.ceil(len(absent) / PAGE)  # their records (GetImagesByIds)
            exported |= absent
        calls["predictions"] += max(1, math.ceil(len(project.predictions) / PAGE))
    return calls


def delete_calls(account: Account) -> Counter[str]:
    """Per category: the minimal calls of a whole-account delete, with one verifying re-list per scope
    that could still hold a target."""
    calls: Counter[str] = Counter()
    projects = list(account.projects.values())
    calls["request"] = 1  # GetProjects
    for project in projects:
        workspace = [i for i in project.images.values() if i.in_workspace]
        targets = {i.id for i in workspace}
        # GetIterations once, by the images unit (the iterations unit deletes from that listing).
        calls["images"] += 1 + pages(len(workspace))
        hiding = 0
        for iid in _trained(project):
            # Images only an iteration still holds are found by listing it (GetImages?iterationId).
            held = [i for i in project.iterations[iid].image_ids if i in project.images]
            calls["images"] += pages(len(held))
            hiding += bool(set(held) - targets)
            targets.update(held)
        calls["images"] += math.ceil(len(targets) / DELETE_IMAGES_BATCH)  # DeleteImages?allIterations
        # Re-list the workspace, and each iteration that held images the workspace did not.
        calls["images"] += 1 + hiding
        predictions = len(project.predictions)
        calls["predictions"] += max(1, math.ceil(predictions / PAGE))
        calls["predictions"] += math.ceil(predictions / DELETE_PREDICTIONS_BATCH) + 1
        calls["tags"] += 1 + len(project.tags) + 1  # GetTags, DeleteTag each, re-list
        published = sum(1 for i in project.iterations.values() if i.publish_name)
        calls["iterations"] += published + len(project.iterations) + 1  # the re-list is GetIterations
        calls["projects"] += 1 + 1  # DeleteProject, GetProject answers NotFound
    return calls
