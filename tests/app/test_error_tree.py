"""The error tree in dsr/errors.py's docstring names every error the domain raises on purpose."""

from __future__ import annotations

import importlib
import pkgutil

import dsr
from dsr import errors


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_domain_error_is_in_the_documented_tree():
    for module in pkgutil.walk_packages(dsr.__path__, "dsr."):
        importlib.import_module(module.name)
    documented = errors.__doc__ or ""
    domain = {c for c in _all_subclasses(errors.DsrError) if c.__module__.startswith("dsr.")}
    customvision = {c for c in domain if c.__module__ == "dsr.customvision.errors"}
    missing = sorted(c.__name__ for c in domain - customvision if c.__name__ not in documented)
    assert missing == []


def test_every_domain_error_is_transient_or_permanent():
    undecided = [
        c.__name__
        for c in _all_subclasses(errors.DsrError)
        if c.__module__.startswith("dsr.")
        and c is not errors.TransientError
        and c is not errors.PermanentError
        and c.__name__ != "CustomVisionError"
        and not issubclass(c, errors.TransientError | errors.PermanentError)
    ]
    assert undecided == []
