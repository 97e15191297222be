"""The data categories of a Custom Vision data-subject request (one row each of the seed table).

The order of :data:`ALL_CATEGORIES` is the order they appear in status documents. Deletion runs in
:data:`DELETE_PHASES`: everything that hangs off an iteration or a project goes before it.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    ACCOUNT_INFO = "accountInfo"
    ITERATION_DETAILS = "iterationDetails"
    ITERATION_PERFORMANCE = "iterationPerformance"
    ITERATION_LIST = "iterationList"
    PROJECTS = "projects"
    TAGS = "tags"
    IMAGES = "images"
    EXPORTED_MODELS = "exportedModels"
    PREDICTIONS = "predictions"


ALL_CATEGORIES: tuple[Category, ...] = tuple(Category)

ITERATION_CATEGORIES = frozenset(
    {Category.ITERATION_DETAILS, Category.ITERATION_PERFORMANCE, Category.ITERATION_LIST}
)
"""All three are removed by one thing: ``DeleteIteration``."""

NO_DELETE_API = frozenset({Category.ACCOUNT_INFO, Category.EXPORTED_MODELS})
"""Categories the Training API cannot delete; their receipt tells the customer what to do."""

SUBJECT_SCOPED = frozenset({Category.IMAGES, Category.PREDICTIONS})
"""Categories that can be narrowed to one data subject (image metadata; prediction narrowing)."""

DELETE_PHASES: tuple[frozenset[Category], ...] = (
    frozenset({Category.PREDICTIONS, Category.IMAGES}),
    frozenset({Category.TAGS}),
    ITERATION_CATEGORIES,
    frozenset({Category.PROJECTS}),
    NO_DELETE_API,
)
"""Delete order the API accepts: predictions and images, then tags, iterations (unpublish first), projects."""


def ordered(categories: frozenset[Category] | set[Category]) -> list[Category]:
    """``categories`` in status-document order."""
    return [category for category in ALL_CATEGORIES if category in categories]
