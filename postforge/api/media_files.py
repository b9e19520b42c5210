"""The embedded media store's signed links, served by the app's own backend.

* `PUT /api/media/upload/<token>` — the browser's upload of a whole file or of one part, streamed to
  disk in chunks (never held in memory); the body must be exactly the size the link was signed for.
  Answers with the bytes' ETag (header and body) for a multipart upload's completion.
* `GET /api/media/files/<token>` — a file for whoever holds the link until it expires (platforms
  that fetch media by URL, the library's thumbnails).

With an S3 bucket configured these links are never handed out, and both routes answer 404.
"""

from __future__ import annotations

import mimetypes

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from postforge.services.kernel.errors import PermissionDenied, ValidationFailed
from postforge.services.media.storage import (
    FILES_ROUTE,
    UPLOAD_ROUTE,
    LocalStorage,
    UploadRefused,
    get_storage,
)


def _local() -> LocalStorage | None:
    storage = get_storage()
    return storage if isinstance(storage, LocalStorage) else None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def upload(request: Request) -> Response:
    storage = _local()
    if storage is None:
        return _error(404, "Uploads go straight to the media bucket on this server.")
    try:
        etag = await storage.receive(request.path_params["token"], request.stream())
    except PermissionDenied as refusal:
        return _error(403, refusal.message)
    except UploadRefused as refusal:
        status = 413 if "larger" in refusal.message else 409 if "already" in refusal.message else 400
        return _error(status, refusal.message)
    except ValidationFailed as refusal:
        return _error(400, refusal.message)
    return JSONResponse({"etag": etag}, headers={"ETag": etag, "Access-Control-Expose-Headers": "ETag"})


async def download(request: Request) -> Response:
    storage = _local()
    if storage is None:
        return _error(404, "Media files are served by the media bucket on this server.")
    try:
        path = storage.file_for_link(request.path_params["token"])
    except PermissionDenied as refusal:
        return _error(403, refusal.message)
    if not path.is_file():
        return _error(404, "This file no longer exists.")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=300"})


def media_file_routes() -> list[Route]:
    return [
        Route(UPLOAD_ROUTE + "/{token}", upload, methods=["PUT"]),
        Route(FILES_ROUTE + "/{token}", download, methods=["GET", "HEAD"]),
    ]
