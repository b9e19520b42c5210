"""Where media files live: one small interface, two stores.

* `LocalStorage` — a folder under DATA_DIR (embedded mode). The browser uploads to signed links
  served by the app's own backend (`receive`, streamed to disk in chunks, the declared size
  enforced) and platforms fetch files through signed download links.
* `S3Storage` — any S3-compatible bucket through boto3: the browser uploads straight to the bucket
  with presigned URLs (one PUT, or multipart for large files) and nothing passes through the app.

Keys are `media/<workspace id>/<random>.<ext>` (plus `.thumb.jpg` / `.poster.jpg` beside them),
so a workspace's files share one prefix and go together.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import re
import secrets
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from postforge import routes
from postforge.services.kernel.errors import ValidationFailed
from postforge.services.media import signed_links
from postforge.settings import Settings, get_settings

PREFIX = "media/"
# S3 refuses parts under 5 MiB (except the last) and more than 10,000 parts.
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000
CHUNK_BYTES = 1024 * 1024
_KEY = re.compile(r"^media/[0-9]+/[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)*$")
UPLOAD_USE = "put"
PART_USE = "part"
DOWNLOAD_USE = "get"


@dataclass(frozen=True)
class UploadTarget:
    """Where the browser sends bytes: `method url` with `headers`."""

    url: str
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)


class UploadRefused(ValidationFailed):
    """The bytes sent to a signed upload link did not match what the link allows."""


def workspace_prefix(workspace_id: int) -> str:
    return f"{PREFIX}{workspace_id}/"


def new_key(workspace_id: int, extension: str) -> str:
    return f"{workspace_prefix(workspace_id)}{secrets.token_urlsafe(18)}.{extension}"


def checked_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a media storage key: {key!r}")
    return key


def part_size_for(size_bytes: int, preferred: int = 16 * 1024 * 1024) -> int:
    """A part size that keeps a multipart upload under S3's part count."""
    part = max(preferred, MIN_PART_BYTES)
    while -(-size_bytes // part) > MAX_PARTS:
        part *= 2
    return part


class MediaStorage(ABC):
    """What the media library needs from a store of files."""

    @abstractmethod
    def presign_put(self, key: str, *, size_bytes: int, content_type: str, expires_in: int) -> UploadTarget:
        """A link that accepts the whole file in one PUT."""

    @abstractmethod
    def start_multipart(self, key: str, *, content_type: str) -> str:
        """Begin a multipart upload; its id."""

    @abstractmethod
    def presign_part(
        self, key: str, *, upload_id: str, part_number: int, size_bytes: int, expires_in: int
    ) -> UploadTarget:
        """A link that accepts part `part_number` (1-based) of a multipart upload."""

    @abstractmethod
    def complete_multipart(self, key: str, *, upload_id: str, parts: Sequence[tuple[int, str]]) -> None:
        """Join the parts (number, ETag) into the object; ValidationFailed when they don't fit."""

    @abstractmethod
    def abort_multipart(self, key: str, *, upload_id: str) -> None:
        """Drop a multipart upload and its parts (nothing happens if it is gone already)."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size, None when there is no object."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A stream of the object's bytes, read chunk by chunk (the caller closes it)."""

    @abstractmethod
    @contextmanager
    def local_file(self, key: str) -> Iterator[Path]:
        """The object as a file on this machine (a temporary copy for a remote store)."""

    @abstractmethod
    def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        """Store a file made here (a thumbnail, a converted photo)."""

    @abstractmethod
    def url(self, key: str, *, expires_in: int) -> str:
        """A link anyone may fetch the object from for a short time."""

    @abstractmethod
    def delete(self, *keys: str) -> None:
        """Remove objects; missing ones are fine."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix` (and unfinished uploads there); how many."""

    @abstractmethod
    def workspace_ids(self) -> set[int]:
        """The workspaces that have files in the store."""

    def read_head(self, key: str, size: int = 64) -> bytes:
        with self.open(key) as stream:
            return stream.read(size)


# --- a folder on this machine ----------------------------------------------------------------------


class LocalStorage(MediaStorage):
    def __init__(self, root: Path, *, secret: str, base_url: str, public_base_url: str = ""):
        self.root = root
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.public_base_url = public_base_url.rstrip("/")

    def path(self, key: str) -> Path:
        return self.root / checked_key(key)

    def _parts_dir(self, upload_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", upload_id):
            raise ValidationFailed("This upload is not known.")
        return self.root / ".uploads" / upload_id

    def _link(self, claims: dict, expires_in: int, route: str) -> str:
        return f"{self.base_url}{route}/{signed_links.sign(self.secret, claims, expires_in=expires_in)}"

    def presign_put(self, key: str, *, size_bytes: int, content_type: str, expires_in: int) -> UploadTarget:
        claims = {"use": UPLOAD_USE, "key": checked_key(key), "size": size_bytes}
        return UploadTarget(
            self._link(claims, expires_in, UPLOAD_ROUTE), headers={"Content-Type": content_type}
        )

    def start_multipart(self, key: str, *, content_type: str) -> str:
        upload_id = secrets.token_urlsafe(24)
        self._parts_dir(upload_id).mkdir(parents=True)
        (self._parts_dir(upload_id) / "key").write_text(checked_key(key))
        return upload_id

    def presign_part(
        self, key: str, *, upload_id: str, part_number: int, size_bytes: int, expires_in: int
    ) -> UploadTarget:
        claims = {
            "use": PART_USE,
            "key": checked_key(key),
            "upload": upload_id,
            "part": part_number,
            "size": size_bytes,
        }
        return UploadTarget(self._link(claims, expires_in, UPLOAD_ROUTE))

    async def receive(self, token: str, chunks: AsyncIterator[bytes], *, now: float | None = None) -> str:
        """Write the body sent to a signed upload link to disk, chunk by chunk; its ETag.

        The body must be exactly the size the link was signed for: a longer one is cut off at
        the first byte too many, a shorter one is dropped, and in both cases nothing is kept.
        """
        claims = None
        for use in (UPLOAD_USE, PART_USE):
            try:
                claims = signed_links.verify(self.secret, token, purpose=use, now=now)
                break
            except signed_links.PermissionDenied as refusal:
                if refusal.message == signed_links.EXPIRED:
                    raise
        if claims is None:
            raise signed_links.PermissionDenied(signed_links.INVALID)
        key, expected = checked_key(str(claims["key"])), int(claims["size"])
        if claims["use"] == PART_USE:
            parts = self._parts_dir(str(claims["upload"]))
            if not parts.is_dir():
                raise ValidationFailed("This upload was finished or abandoned; start it again.")
            final = parts / f"{int(claims['part']):05d}"
        else:
            final = self.path(key)
        if claims["use"] == UPLOAD_USE and final.exists():
            # A link works until it expires: sent again after the file was checked, it must not
            # swap the checked file for other bytes. (A part may be sent again: its ETag is
            # checked when the parts are joined, and the join ends the upload.)
            raise UploadRefused("This file was uploaded already; start a new upload to replace it.")
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f"{final.name}.{secrets.token_hex(6)}.partial")
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        try:
            with partial.open("wb") as out:
                buffer = bytearray()
                async for chunk in chunks:
                    received += len(chunk)
                    if received > expected:
                        raise UploadRefused(
                            f"The file is larger than the {expected:,} bytes announced; upload it again."
                        )
                    buffer += chunk
                    if len(buffer) >= CHUNK_BYTES:
                        digest.update(buffer)
                        await asyncio.to_thread(out.write, bytes(buffer))
                        buffer.clear()
                if buffer:
                    digest.update(buffer)
                    await asyncio.to_thread(out.write, bytes(buffer))
            if received != expected:
                raise UploadRefused(
                    f"The upload stopped after {received:,} of {expected:,} bytes; upload it again."
                )
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        return f'"{digest.hexdigest()}"'

    def complete_multipart(self, key: str, *, upload_id: str, parts: Sequence[tuple[int, str]]) -> None:
        directory = self._parts_dir(upload_id)
        if not directory.is_dir() or (directory / "key").read_text() != key:
            raise ValidationFailed("This upload is not known; start it again.")
        numbers = [number for number, _ in sorted(parts)]
        if not numbers or numbers != list(range(1, len(numbers) + 1)):
            raise ValidationFailed("Some parts of the upload are missing; upload the file again.")
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{secrets.token_hex(6)}.partial")
        try:
            with partial.open("wb") as out:
                for number, etag in sorted(parts):
                    piece = directory / f"{number:05d}"
                    if not piece.is_file():
                        raise ValidationFailed(
                            f"Part {number} of the upload never arrived; upload the file again."
                        )
                    digest = hashlib.md5(usedforsecurity=False)
                    with piece.open("rb") as source:
                        while chunk := source.read(CHUNK_BYTES):
                            digest.update(chunk)
                            out.write(chunk)
                    if etag.strip('"') != digest.hexdigest():
                        raise ValidationFailed(f"Part {number} of the upload changed; upload the file again.")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        shutil.rmtree(directory, ignore_errors=True)

    def abort_multipart(self, key: str, *, upload_id: str) -> None:
        shutil.rmtree(self._parts_dir(upload_id), ignore_errors=True)

    def size(self, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    @contextmanager
    def local_file(self, key: str) -> Iterator[Path]:
        yield self.path(key)

    def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.partial")
        shutil.copyfile(path, partial)
        os.replace(partial, target)

    def url(self, key: str, *, expires_in: int) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{checked_key(key)}"
        return self._link({"use": DOWNLOAD_USE, "key": checked_key(key)}, expires_in, FILES_ROUTE)

    def file_for_link(self, token: str, *, now: float | None = None) -> Path:
        """The file a signed download link names (PermissionDenied for a bad or expired link)."""
        claims = signed_links.verify(self.secret, token, purpose=DOWNLOAD_USE, now=now)
        return self.path(str(claims["key"]))

    def delete(self, *keys: str) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        directory = self.root / prefix
        if not prefix.startswith(PREFIX) or not directory.is_dir():
            return 0
        count = sum(1 for item in directory.rglob("*") if item.is_file())
        shutil.rmtree(directory, ignore_errors=True)
        return count

    def workspace_ids(self) -> set[int]:
        base = self.root / PREFIX
        if not base.is_dir():
            return set()
        return {int(item.name) for item in base.iterdir() if item.is_dir() and item.name.isdigit()}


# Routes of the embedded store's links (served by postforge/api/media_files.py).
UPLOAD_ROUTE = routes.API_MEDIA_UPLOAD
FILES_ROUTE = routes.API_MEDIA_FILES


# --- an S3-compatible bucket -------------------------------------------------------------------------


class S3Storage(MediaStorage):
    def __init__(self, client, bucket: str, *, public_base_url: str = ""):
        self.client = client
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=settings.media_s3_endpoint_url or None,
            region_name=settings.media_s3_region,
            aws_access_key_id=settings.media_s3_access_key_id or None,
            aws_secret_access_key=settings.media_s3_secret_access_key or None,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"}),
        )
        return cls(client, settings.media_s3_bucket, public_base_url=settings.media_public_base_url)

    def presign_put(self, key: str, *, size_bytes: int, content_type: str, expires_in: int) -> UploadTarget:
        url = self.client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": checked_key(key), "ContentType": content_type},
            ExpiresIn=expires_in,
        )
        return UploadTarget(url, headers={"Content-Type": content_type})

    def start_multipart(self, key: str, *, content_type: str) -> str:
        answer = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=checked_key(key), ContentType=content_type
        )
        return answer["UploadId"]

    def presign_part(
        self, key: str, *, upload_id: str, part_number: int, size_bytes: int, expires_in: int
    ) -> UploadTarget:
        url = self.client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": checked_key(key),
                "UploadId": upload_id,
                "PartNumber": part_number,
            },
            ExpiresIn=expires_in,
        )
        return UploadTarget(url)

    def complete_multipart(self, key: str, *, upload_id: str, parts: Sequence[tuple[int, str]]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=checked_key(key),
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": number, "ETag": etag} for number, etag in sorted(parts)]
                },
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise ValidationFailed(
                f"The storage could not join the uploaded parts ({code or 'error'}); upload the file again."
            ) from None

    def abort_multipart(self, key: str, *, upload_id: str) -> None:
        from botocore.exceptions import ClientError

        with contextlib.suppress(ClientError):  # finished or aborted already
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=checked_key(key), UploadId=upload_id)

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=checked_key(key))["ContentLength"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def open(self, key: str) -> BinaryIO:
        return self.client.get_object(Bucket=self.bucket, Key=checked_key(key))["Body"]

    def read_head(self, key: str, size: int = 64) -> bytes:
        answer = self.client.get_object(Bucket=self.bucket, Key=checked_key(key), Range=f"bytes=0-{size - 1}")
        with answer["Body"] as body:
            return body.read()

    @contextmanager
    def local_file(self, key: str) -> Iterator[Path]:
        # Video probing seeks (the index may sit at the end), so a remote object is copied to a
        # temporary file first — streamed in chunks, never held in memory whole.
        with tempfile.TemporaryDirectory(prefix="postforge-media-") as directory:
            path = Path(directory) / "object"
            with path.open("wb") as out:
                self.client.download_fileobj(self.bucket, checked_key(key), out)
            yield path

    def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        self.client.upload_file(
            str(path), self.bucket, checked_key(key), ExtraArgs={"ContentType": content_type}
        )

    def url(self, key: str, *, expires_in: int) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{checked_key(key)}"
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": checked_key(key)}, ExpiresIn=expires_in
        )

    def delete(self, *keys: str) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": checked_key(key)} for key in keys[start : start + 1000]]
            if batch:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def delete_prefix(self, prefix: str) -> int:
        if not prefix.startswith(PREFIX):
            return 0
        count = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            keys = [item["Key"] for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
                )
                count += len(keys)
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix).get("Uploads", [])
        for upload in uploads:
            self.abort_multipart(upload["Key"], upload_id=upload["UploadId"])
        return count

    def workspace_ids(self) -> set[int]:
        found: set[int] = set()
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=PREFIX, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(PREFIX) :].strip("/")
                if name.isdigit():
                    found.add(int(name))
        return found


# --- the store the settings describe ---------------------------------------------------------------

_override: MediaStorage | None = None


def use_storage(storage: MediaStorage | None) -> None:
    """Make every caller use `storage` (tests, benchmarks); None goes back to the settings."""
    global _override
    _override = storage


def get_storage(settings: Settings | None = None) -> MediaStorage:
    if _override is not None:
        return _override
    settings = settings or get_settings()
    return _storage_for(
        settings.media_s3_bucket,
        settings.media_s3_endpoint_url,
        settings.media_s3_region,
        settings.media_s3_access_key_id,
        settings.media_s3_secret_access_key,
        settings.media_public_base_url,
        str(settings.data_dir),
        settings.secret_key,
        settings.api_url or settings.app_url,
    )


@functools.lru_cache(maxsize=8)
def _storage_for(
    bucket: str,
    endpoint: str,
    region: str,
    access_key: str,
    secret_key: str,
    public_base_url: str,
    data_dir: str,
    app_secret: str,
    base_url: str,
) -> MediaStorage:
    settings_like = Settings(
        media_s3_bucket=bucket,
        media_s3_endpoint_url=endpoint,
        media_s3_region=region,
        media_s3_access_key_id=access_key,
        media_s3_secret_access_key=secret_key,
        media_public_base_url=public_base_url,
    )
    if bucket:
        return S3Storage.from_settings(settings_like)
    return LocalStorage(
        Path(data_dir) / "media-files", secret=app_secret, base_url=base_url, public_base_url=public_base_url
    )
