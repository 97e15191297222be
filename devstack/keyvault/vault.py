"""The stand-in's secret state: names, versions, attributes and soft-deleted secrets.

Key Vault semantics kept here: names are case-insensitive (the first spelling is kept), every set creates
a new version with a 32-hex id, the latest version is the newest one, a disabled version cannot be read,
and a deleted secret stays recoverable until purged (a name in that state cannot be set again).
State is saved to one JSON file (mode 0600) after each change, so it survives restarts.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devstack.keyvault.certs import PRIVATE_FILE_MODE, write_file

SECRET_NAME_PATTERN = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
MAX_VALUE_CHARS = 25 * 1024
RECOVERABLE_DAYS = 90
RECOVERY_LEVEL = "Recoverable+Purgeable"
SECONDS_PER_DAY = 86400


class VaultError(Exception):
    """A request the vault refuses; ``status`` and ``code`` follow Key Vault's error responses."""

    def __init__(self, status: int, code: str, message: str, inner_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner_code = inner_code


def secret_not_found(name: str, version: str | None = None) -> VaultError:
    """Key Vault's 404 for a missing secret or version."""
    target = f"{name}/{version}" if version else name
    return VaultError(
        404,
        "SecretNotFound",
        f"A secret with (name/id) {target} was not found in this key vault. If you recently deleted this "
        "secret you may be able to recover it using the correct recovery command.",
    )


@dataclass
class SecretVersion:
    """One immutable value plus its mutable attributes."""

    version: str
    value: str
    created: int
    updated: int
    enabled: bool = True
    content_type: str | None = None
    tags: dict[str, str] | None = None
    not_before: int | None = None
    expires: int | None = None


@dataclass
class Secret:
    """A named secret with its versions in creation order."""

    name: str
    versions: list[SecretVersion] = field(default_factory=list)
    deleted_date: int | None = None
    scheduled_purge_date: int | None = None

    @property
    def latest(self) -> SecretVersion:
        return self.versions[-1]

    def find(self, version: str) -> SecretVersion | None:
        wanted = version.lower()
        return next((v for v in self.versions if v.version == wanted), None)


def validate_name(name: str) -> None:
    """Raise Key Vault's 400 for names outside 1-127 characters of ``[0-9a-zA-Z-]``."""
    if not SECRET_NAME_PATTERN.match(name):
        raise VaultError(
            400,
            "BadParameter",
            "The request URI contains an invalid name. Secret names must be 1-127 characters of 0-9, a-z, "
            "A-Z and -.",
        )


class Vault:
    """All secrets of one stand-in vault; every public method is one Key Vault operation."""

    def __init__(self, state_file: Path | None = None) -> None:
        self._state_file = state_file
        self._active: dict[str, Secret] = {}
        self._deleted: dict[str, Secret] = {}
        if state_file is not None and state_file.exists():
            self._load(state_file)

    def _load(self, path: Path) -> None:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for bucket, target in (("active", self._active), ("deleted", self._deleted)):
            for raw in doc.get(bucket, []):
                versions = [SecretVersion(**v) for v in raw["versions"]]
                secret = Secret(
                    name=raw["name"],
                    versions=versions,
                    deleted_date=raw.get("deleted_date"),
                    scheduled_purge_date=raw.get("scheduled_purge_date"),
                )
                target[secret.name.lower()] = secret

    def _save(self) -> None:
        if self._state_file is None:
            return
        doc = {
            "active": [asdict(s) for s in self._active.values()],
            "deleted": [asdict(s) for s in self._deleted.values()],
        }
        write_file(self._state_file, json.dumps(doc, indent=1).encode("utf-8"), PRIVATE_FILE_MODE)

    def _get_active(self, name: str) -> Secret:
        validate_name(name)
        secret = self._active.get(name.lower())
        if secret is None:
            raise secret_not_found(name)
        return secret

    def _get_deleted(self, name: str) -> Secret:
        validate_name(name)
        secret = self._deleted.get(name.lower())
        if secret is None:
            raise VaultError(404, "SecretNotFound", f"Deleted Secret not found: {name}")
        return secret

    def set(
        self,
        name: str,
        value: str,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> tuple[Secret, SecretVersion]:
        """Create a new version (and the secret, if new)."""
        validate_name(name)
        if len(value) > MAX_VALUE_CHARS:
            raise VaultError(400, "BadParameter", "The secret value exceeds the maximum allowed size.")
        if name.lower() in self._deleted:
            raise VaultError(
                409,
                "Conflict",
                f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be "
                "reused; in this state, the secret can only be recovered or purged.",
            )
        attributes = attributes or {}
        now = int(time.time())
        version = SecretVersion(
            version=uuid.uuid4().hex,
            value=value,
            created=now,
            updated=now,
            enabled=bool(attributes.get("enabled", True)),
            content_type=content_type,
            tags=tags,
            not_before=attributes.get("nbf"),
            expires=attributes.get("exp"),
        )
        secret = self._active.setdefault(name.lower(), Secret(name=name))
        secret.versions.append(version)
        self._save()
        return secret, version

    def get(self, name: str, version: str | None) -> tuple[Secret, SecretVersion]:
        """The named version, or the latest for an empty version; disabled versions are refused."""
        secret = self._get_active(name)
        found = secret.find(version) if version else secret.latest
        if found is None:
            raise secret_not_found(name, version)
        if not found.enabled:
            raise VaultError(
                403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"
            )
        return secret, found

    def update(
        self,
        name: str,
        version: str | None,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> tuple[Secret, SecretVersion]:
        """Change the attributes, content type or tags of one version (never its value)."""
        secret = self._get_active(name)
        found = secret.find(version) if version else secret.latest
        if found is None:
            raise secret_not_found(name, version)
        if attributes:
            if "enabled" in attributes:
                found.enabled = bool(attributes["enabled"])
            if "nbf" in attributes:
                found.not_before = attributes["nbf"]
            if "exp" in attributes:
                found.expires = attributes["exp"]
        if content_type is not None:
            found.content_type = content_type
        if tags is not None:
            found.tags = tags
        found.updated = int(time.time())
        self._save()
        return secret, found

    def list_active(self) -> list[Secret]:
        """Active secrets, sorted by name."""
        return sorted(self._active.values(), key=lambda s: s.name.lower())

    def list_versions(self, name: str) -> tuple[Secret, list[SecretVersion]]:
        """All versions of one secret, oldest first."""
        secret = self._get_active(name)
        return secret, list(secret.versions)

    def delete(self, name: str) -> Secret:
        """Soft-delete: the secret moves to the deleted collection until purged or recovered."""
        secret = self._get_active(name)
        now = int(time.time())
        secret.deleted_date = now
        secret.scheduled_purge_date = now + RECOVERABLE_DAYS * SECONDS_PER_DAY
        del self._active[name.lower()]
        self._deleted[name.lower()] = secret
        self._save()
        return secret

    def get_deleted(self, name: str) -> Secret:
        """A soft-deleted secret."""
        return self._get_deleted(name)

    def list_deleted(self) -> list[Secret]:
        """Soft-deleted secrets, sorted by name."""
        return sorted(self._deleted.values(), key=lambda s: s.name.lower())

    def purge(self, name: str) -> None:
        """Remove a soft-deleted secret for good."""
        self._get_deleted(name)
        del self._deleted[name.lower()]
        self._save()

    def recover(self, name: str) -> Secret:
        """Bring a soft-deleted secret back with all its versions."""
        secret = self._get_deleted(name)
        secret.deleted_date = None
        secret.scheduled_purge_date = None
        del self._deleted[name.lower()]
        self._active[name.lower()] = secret
        self._save()
        return secret
