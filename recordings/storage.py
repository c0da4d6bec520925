"""The storage composed recordings are kept in: ``STORAGES["recordings"]``.

The file system by default (``MEDIA_ROOT/recordings``), or S3-compatible object storage through
django-storages' ``S3Storage`` (tested against a local S3 server, ``tests/recordings``). In a
cluster the storage must be shared (S3, or one file system mounted on every node): any node
serves any recording's file.
"""

from __future__ import annotations

from typing import IO, Any

from django.core.files.storage import Storage, storages

__all__ = ["RangedObject", "RecordingStorage", "recording_storage"]


class RangedObject:
    """An S3 object read from any position with one ranged GET (django-storages' ``S3File``
    downloads the whole object on its first read: each seek of a video element would fetch
    the whole recording). ``seek`` then ``read`` as many times as needed; ``close``."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.position = 0
        self._body: Any = None

    def seek(self, position: int) -> int:
        """Read from ``position`` next (the running GET, if any, is dropped)."""
        self.close()
        self.position = position
        return position

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the rest when negative)."""
        if self._body is None:
            self._body = self.obj.get(Range=f"bytes={self.position}-")["Body"]
        data = self._body.read() if size is None or size < 0 else self._body.read(size)
        self.position += len(data)
        return data

    def close(self) -> None:
        """End the running GET."""
        if self._body is not None:
            body, self._body = self._body, None
            body.close()


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

    def open_ranged(self, name: str) -> IO[bytes] | RangedObject:
        """A stored file to ``seek`` and ``read`` a part of (playback with HTTP ranges)."""
        backend = self.backend
        if hasattr(backend, "bucket") and hasattr(backend, "_normalize_name"):  # S3Storage
            from storages.utils import clean_name

            return RangedObject(backend.bucket.Object(backend._normalize_name(clean_name(name))))
        return backend.open(name, "rb")

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


def recording_storage() -> RecordingStorage:
    """The recordings storage (a callable, so migrations do not freeze the backend)."""
    return _storage
