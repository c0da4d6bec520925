"""The storage composed recordings are kept in: ``STORAGES["recordings"]``."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import Storage, storages

__all__ = ["RecordingStorage", "recording_storage"]


class RecordingStorage(Storage):
    """Every call goes to ``storages["recordings"]`` as configured now (a model field keeps
    its storage object for the life of the process; settings may change, e.g. in tests)."""

    @property
    def backend(self) -> Storage:
        """The configured storage."""
        return storages["recordings"]

    def open(self, name: str, mode: str = "rb") -> Any:
        """Open a stored file."""
        return self.backend.open(name, mode)

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Store ``content``; the name it was stored under."""
        return self.backend.save(name, content, max_length=max_length)

    def delete(self, name: str) -> None:
        """Delete a stored file."""
        self.backend.delete(name)

    def exists(self, name: str) -> bool:
        """Whether a file is stored under ``name``."""
        return self.backend.exists(name)

    def size(self, name: str) -> int:
        """Bytes of a stored file."""
        return self.backend.size(name)

    def url(self, name: str | None) -> str:
        """The backend's URL (the app serves recordings itself, with permission checks)."""
        return self.backend.url(name)

    def path(self, name: str) -> str:
        """A local path (file system backends only)."""
        return self.backend.path(name)

    def generate_filename(self, filename: str) -> str:
        """The backend's name for ``filename``."""
        return self.backend.generate_filename(filename)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """A free name like ``name``."""
        return self.backend.get_available_name(name, max_length=max_length)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """Directories and files under ``path``."""
        return self.backend.listdir(path)


_storage = RecordingStorage()


def recording_storage() -> Storage:
    """The recordings storage (a callable, so migrations do not freeze the backend)."""
    return _storage
