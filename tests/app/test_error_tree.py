"""The error tree drawn in dsr/errors.py's docstring (and, for Training API errors, in
dsr/customvision/errors.py's) names every error the domain raises on purpose, each under its parent."""

from __future__ import annotations

import importlib
import pkgutil
import re

import dsr
from dsr import errors
from dsr.customvision import errors as customvision_errors

_TREE_LINE = re.compile(r"^(?P<indent>[ │├└─]+)(?P<name>[A-Za-z_][\w.]*)")


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def _domain_errors() -> set[type]:
    for module in pkgutil.walk_packages(dsr.__path__, "dsr."):
        importlib.import_module(module.name)
    return {c for c in _all_subclasses(errors.DsrError) if c.__module__.startswith("dsr.")}


def documented_tree(doc: str, home: str) -> dict[type, type | None]:
    """Each class the drawn tree names, with the class drawn as its parent (None for the root).

    A dotted name is relative to ``dsr`` (``storage.StorageUnavailableError``); a bare one lives in
    ``home``, the module whose docstring holds the tree. Each level is indented four characters.
    """
    block = doc.split("::", 1)[1].splitlines()
    tree: dict[type, type | None] = {}
    parents: list[type] = []
    for number, line in enumerate(line for line in block if line.strip()):
        match = _TREE_LINE.match(line)
        if match is None or (number and not {"├", "└"} & set(match["indent"])):
            continue  # a wrapped description, not a node
        module, _, name = (match["name"] if "." in match["name"] else f"{home}.{match['name']}").rpartition(
            "."
        )
        if "." in match["name"]:
            module = f"dsr.{module}"
        cls = getattr(importlib.import_module(module), name)
        depth = len(match["indent"]) // 4 - 1
        del parents[depth:]
        tree[cls] = parents[-1] if parents else None
        parents.append(cls)
    return tree


def test_the_tree_is_read_with_each_parent():
    tree = documented_tree(errors.__doc__ or "", "dsr.errors")
    assert tree[errors.DsrError] is None
    assert tree[errors.TransientError] is errors.DsrError
    assert tree[customvision_errors.CustomVisionError] is errors.DsrError


def test_every_domain_error_is_drawn_under_its_parent():
    tree = documented_tree(errors.__doc__ or "", "dsr.errors")
    training = documented_tree(customvision_errors.__doc__ or "", "dsr.customvision.errors")
    for cls, parent in training.items():
        tree.setdefault(cls, parent)
    assert sorted(c.__name__ for c in _domain_errors() | {errors.DsrError} if c not in tree) == []
    assert [
        c.__name__ for c, parent in tree.items() if parent is not None and parent not in c.__bases__
    ] == []


def test_every_domain_error_is_transient_or_permanent():
    undecided = [
        c.__name__
        for c in _domain_errors()
        if c is not errors.TransientError
        and c is not errors.PermanentError
        and c.__name__ != "CustomVisionError"
        and not issubclass(c, errors.TransientError | errors.PermanentError)
    ]
    assert undecided == []
