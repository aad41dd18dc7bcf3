"""Where documents' bytes live, behind one small interface: a local directory or an S3 bucket.

Objects are named by the SHA-256 of their content (hex), never by the uploader's filename:
equal files are stored once, a name can never reach outside the store, and an object never
changes once written (so several app servers can share a bucket without coordination).

- ``LocalStorage``: ``instance/documents/<first two hex digits>/<sha256>`` (the default).
- ``S3Storage``: ``s3://bucket/prefix`` in ``DOCUMENT_STORAGE_URL``, through boto3; the
  endpoint of an S3-compatible server (MinIO, Ceph, moto) in ``DOCUMENT_STORAGE_ENDPOINT_URL``;
  credentials and region from boto3's usual sources (``AWS_ACCESS_KEY_ID``… or a role).

Nothing is ever deleted. An upload whose transaction rolls back may leave its object behind;
it is unreferenced and harmless (a later identical upload reuses it).
"""

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from flask import Flask, current_app

READ_SIZE = 64 * 1024
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class DocumentStorage(Protocol):
    """Save a file under its SHA-256 and read it back."""

    def save(self, sha256: str, path: Path, content_type: str) -> None:
        """Store the file at ``path`` as the object ``sha256`` (nothing if it is there)."""

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The object's bytes, a piece at a time (FileNotFoundError if there is none)."""


def _checked(sha256: str) -> str:
    if not SHA256_HEX.fullmatch(sha256):
        raise ValueError("an object is named by a SHA-256 in lowercase hex")
    return sha256


class LocalStorage:
    """A directory on this machine (one app server, or a shared file system)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"<LocalStorage {self.root}>"

    def path_of(self, sha256: str) -> Path:
        sha256 = _checked(sha256)
        return self.root / sha256[:2] / sha256

    def save(self, sha256: str, path: Path, content_type: str) -> None:
        target = self.path_of(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copied beside the target, then renamed: a reader never sees half a file.
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        try:
            with os.fdopen(handle, "wb") as out, open(path, "rb") as source:
                shutil.copyfileobj(source, out, READ_SIZE)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise

    def chunks(self, sha256: str) -> Iterator[bytes]:
        with open(self.path_of(sha256), "rb") as stored:
            while piece := stored.read(READ_SIZE):
                yield piece


class S3Storage:
    """A bucket of S3 or of an S3-compatible server, shared by every app server."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None):
        import boto3  # only deployments that use S3 pay for importing it

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url or None)

    def __repr__(self) -> str:
        return f"<S3Storage s3://{self.bucket}/{self.prefix}>"

    def key_of(self, sha256: str) -> str:
        sha256 = _checked(sha256)
        return f"{self.prefix}/{sha256}" if self.prefix else sha256

    def save(self, sha256: str, path: Path, content_type: str) -> None:
        # Objects never change once written, so writing one that exists again is harmless.
        self.client.upload_file(
            str(path), self.bucket, self.key_of(sha256), ExtraArgs={"ContentType": content_type}
        )

    def chunks(self, sha256: str) -> Iterator[bytes]:
        try:
            stored = self.client.get_object(Bucket=self.bucket, Key=self.key_of(sha256))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(sha256) from None
        body = stored["Body"]
        try:
            yield from body.iter_chunks(READ_SIZE)
        finally:
            body.close()


def storage_for(url: str | None, instance_path: str, endpoint_url: str | None = None):
    """The storage a configuration names: ``s3://bucket/prefix``, a directory, or the default
    ``instance/documents``."""
    if not url:
        return LocalStorage(Path(instance_path) / "documents")
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise RuntimeError("DOCUMENT_STORAGE_URL must name a bucket: s3://bucket/prefix")
        return S3Storage(parts.netloc, parts.path, endpoint_url)
    if parts.scheme in ("", "file"):
        return LocalStorage(Path(parts.path))
    raise RuntimeError(f"DOCUMENT_STORAGE_URL: unknown scheme {parts.scheme!r} (s3:// or a path)")


def init_app(app: Flask) -> None:
    """Build the app's storage once (a boto3 client is reused across requests)."""
    app.extensions["document_storage"] = storage_for(
        app.config.get("DOCUMENT_STORAGE_URL"),
        app.instance_path,
        app.config.get("DOCUMENT_STORAGE_ENDPOINT_URL"),
    )


def storage() -> DocumentStorage:
    return current_app.extensions["document_storage"]
