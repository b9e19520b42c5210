"""A Bluesky PDS for tests, as a Starlette app speaking XRPC as the real one does.

    bluesky = FakeBluesky()
    account = bluesky.add_account("alice.bsky.test", "abcd-efgh-ijkl-mnop")
    with serve(bluesky.app) as base_url:
        ...  # base_url is the service URL

What it implements:

* `com.atproto.server.createSession` (app password; 401 AuthenticationRequired "Invalid
  identifier or password"; at most 30 sign-ins per 5 minutes per identifier, then 429) and
  `refreshSession` (Bearer refresh JWT; the old refresh JWT is revoked). Access JWTs carry
  `exp` (`access_ttl` seconds); `expire_access_tokens()` and `revoke_sessions()` end them on
  demand. Token errors are the PDS's: 400 `ExpiredToken` / `InvalidToken`, 401
  `AuthenticationRequired` without a token.
* `com.atproto.repo.createRecord` / `putRecord` / `getRecord` for `app.bsky.feed.post`:
  records are validated like the lexicon does (≤ 300 graphemes and 3,000 bytes of text,
  createdAt, langs, facets whose byte ranges lie inside the text on character boundaries and
  whose features are well formed) — 400 `InvalidRequest` otherwise; an `rkey` must be a TID;
  `createRecord` on a key that exists answers 500 like the real PDS, `putRecord` upserts;
  `getRecord` of a missing key is 400 `RecordNotFound`. Writes cost 3 points of 5,000 an hour
  per account (`RateLimit-*` headers on every write; 429 beyond, unless `rate_limits=False`).
* `com.atproto.identity.resolveHandle` (accounts plus `directory`), `app.bsky.actor.getProfile`,
  `app.bsky.feed.getPosts` (counters settable on the stored record).

* `com.atproto.server.getSession` with the DID document naming the PDS (`pds_endpoint`);
* media: `com.atproto.repo.uploadBlob` (raw body, its Content-Type) → `{"blob": {"$type": "blob",
  "ref": {"$link"}, "mimeType", "size"}}`; `com.atproto.server.getServiceAuth` (aud `did:web:…`,
  lxm) → `{"token"}` for the video service, which lives on the same app here:
  `app.bsky.video.uploadVideo?did&name` (Bearer service token, the video bytes) → `{"jobStatus":
  {jobId, did, state: JOB_STATE_CREATED}}` (the same bytes again → 409 `already_exists` with the
  job id); `app.bsky.video.getJobStatus?jobId` moves a job on one state per read (ENCODING →
  COMPLETED with its `blob`), or to JOB_STATE_FAILED with `error` for a file whose type is in
  `fail_processing`. A post's `embed` is checked as the lexicons do: `app.bsky.embed.images`
  (1-4 images, each a blob of this account ≤ 2,000,000 bytes, `alt` required) or
  `app.bsky.embed.video` (a processed video blob) — 400 InvalidRequest otherwise.

Every post received is in `posts` with its `time.time()` receipt time. Fault knobs (`faults`,
routes named after the XRPC method: "createSession", "refreshSession", "createRecord",
"putRecord", "getRecord", "resolveHandle", "getProfile", "getPosts", "uploadBlob",
"getServiceAuth", "uploadVideo", "getJobStatus"): `fail_next`, `drop_next`
(the record is written, then the connection is cut), `delay_next`; `throttle_next(route)`
answers one 429 with Bluesky's headers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import regex
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.faults import Faults, dropped_response

POST = "app.bsky.feed.post"
MAX_GRAPHEMES, MAX_BYTES = 300, 3000
SESSION_LIMIT, SESSION_WINDOW = 30, 300
POINTS_LIMIT, POINTS_WINDOW, CREATE_POINTS = 5000, 3600, 3
TID = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_GRAPHEME = regex.compile(r"\X")
FEATURES = {"app.bsky.richtext.facet#link", "app.bsky.richtext.facet#mention", "app.bsky.richtext.facet#tag"}


@dataclass
class FakeBlueskyAccount:
    did: str
    handle: str
    app_password: str
    display_name: str = ""
    avatar: str = ""
    active: bool = True


@dataclass
class StoredRecord:
    uri: str
    cid: str
    value: dict[str, Any]
    received_at: float  # time.time() when the write arrived
    like_count: int = 0
    repost_count: int = 0
    reply_count: int = 0
    quote_count: int = 0

    @property
    def rkey(self) -> str:
        return self.uri.rsplit("/", 1)[-1]

    @property
    def text(self) -> str:
        return str(self.value.get("text", ""))

    def facet_texts(self) -> list[tuple[str, dict[str, Any]]]:
        """Each facet's slice of the text (cut by its byte range) with its feature."""
        raw = self.text.encode("utf-8")
        return [
            (raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8"), f["features"][0])
            for f in self.value.get("facets", [])
        ]


@dataclass
class StoredBlob:
    did: str
    cid: str
    mime_type: str
    data: bytes


@dataclass
class VideoJob:
    id: str
    did: str
    mime_type: str
    data: bytes
    reads: int = 0
    state: str = "JOB_STATE_CREATED"
    blob: dict[str, Any] | None = None
    error: str = ""


@dataclass
class _Access:
    did: str
    expires_at: float
    revoked: bool = False


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.response = JSONResponse(
            {"error": error, "message": message}, status_code=status, headers=headers
        )


@dataclass
class FakeBluesky:
    access_ttl: float = 7200.0
    rate_limits: bool = True
    directory: dict[str, str] = field(default_factory=dict)  # other people's handle → DID
    faults: Faults = field(default_factory=Faults)
    posts: list[StoredRecord] = field(default_factory=list)  # every post created, in order
    session_requests: list[dict[str, Any]] = field(default_factory=list)
    blobs: dict[str, StoredBlob] = field(default_factory=dict)  # by CID
    jobs: dict[str, VideoJob] = field(default_factory=dict)
    fail_processing: set[str] = field(default_factory=set)  # video types whose processing fails
    processing_steps: int = 2  # getJobStatus reads before a job completes
    pds_endpoint: str = ""  # the PDS the DID document names (default: this fake)
    service_auth_audiences: list[str] = field(default_factory=list)  # `aud` of each service token

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(32)
        self.accounts: dict[str, FakeBlueskyAccount] = {}  # by DID
        self.records: dict[tuple[str, str, str], StoredRecord] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, str] = {}  # valid refresh JWT → DID
        self._sign_ins: dict[str, list[float]] = {}
        self._points: dict[str, list[tuple[float, int]]] = {}
        methods = {
            "com.atproto.server.createSession": ("POST", self._create_session),
            "com.atproto.server.refreshSession": ("POST", self._refresh_session),
            "com.atproto.repo.createRecord": ("POST", self._create_record),
            "com.atproto.repo.putRecord": ("POST", self._put_record),
            "com.atproto.repo.getRecord": ("GET", self._get_record),
            "com.atproto.identity.resolveHandle": ("GET", self._resolve_handle),
            "app.bsky.actor.getProfile": ("GET", self._get_profile),
            "app.bsky.feed.getPosts": ("GET", self._get_posts),
            "com.atproto.repo.uploadBlob": ("POST", self._upload_blob),
            "com.atproto.server.getServiceAuth": ("GET", self._get_service_auth),
            "com.atproto.server.getSession": ("GET", self._get_session),
            "app.bsky.video.uploadVideo": ("POST", self._upload_video),
            "app.bsky.video.getJobStatus": ("GET", self._get_job_status),
        }
        self._service_tokens: dict[str, str] = {}  # video service token → DID
        self.app = Starlette(
            routes=[
                Route(f"/xrpc/{name}", self._endpoint(name.rsplit(".", 1)[-1], handler), methods=[method])
                for name, (method, handler) in methods.items()
            ]
        )

    # --- test helpers ---------------------------------------------------------------------

    def add_account(
        self, handle: str, app_password: str, *, did: str = "", display_name: str = ""
    ) -> FakeBlueskyAccount:
        did = did or f"did:plc:{hashlib.sha256(handle.encode()).hexdigest()[:24]}"
        account = FakeBlueskyAccount(did, handle, app_password, display_name or handle.split(".")[0].title())
        account.avatar = f"https://cdn.bsky.test/avatar/{did}.jpg"
        self.accounts[did] = account
        return account

    def session_for(self, account: FakeBlueskyAccount) -> tuple[str, str]:
        """(access JWT, refresh JWT) as createSession would issue them."""
        return self._issue(account.did)

    def expire_access_tokens(self) -> None:
        with self._lock:
            for access in self._access.values():
                access.expires_at = min(access.expires_at, time.time() - 1)

    def revoke_sessions(self) -> None:
        """Every session ends (the user revoked the app password)."""
        with self._lock:
            for access in self._access.values():
                access.revoked = True
            self._refresh.clear()

    def throttle_next(self, route: str, *, reset_in_seconds: int = 120, times: int = 1) -> int:
        """Answer the next request to `route` with Bluesky's 429; returns the reset (epoch seconds)."""
        reset = int(time.time()) + reset_in_seconds
        headers = {
            "RateLimit-Limit": str(POINTS_LIMIT),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{POINTS_LIMIT};w={POINTS_WINDOW}",
        }
        body = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
        self.faults.fail_next(route, status=429, headers=headers, body=body, times=times)
        return reset

    def record(self, uri: str) -> StoredRecord:
        did, collection, rkey = uri.removeprefix("at://").split("/")
        return self.records[(did, collection, rkey)]

    # --- plumbing ---------------------------------------------------------------------------

    def _endpoint(self, route: str, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            received_at = time.time()
            fault = self.faults.take(route)
            if fault and fault.kind == "status":
                return fault.response()
            if fault and fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            try:
                response = await handler(request, received_at)
            except XrpcError as error:
                return error.response
            return dropped_response() if fault and fault.kind == "drop" else response

        return endpoint

    def _jwt(self, claims: dict[str, Any]) -> str:
        def encode(part: dict[str, Any]) -> str:
            return (
                base64.urlsafe_b64encode(json.dumps(part, separators=(",", ":")).encode())
                .rstrip(b"=")
                .decode()
            )

        signing_input = f"{encode({'typ': claims.pop('typ'), 'alg': 'HS256'})}.{encode(claims)}"
        signature = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    def _issue(self, did: str) -> tuple[str, str]:
        now = int(time.time())
        expires = now + self.access_ttl
        access = self._jwt(
            {
                "typ": "at+jwt",
                "scope": "com.atproto.appPass",
                "sub": did,
                "jti": secrets.token_urlsafe(8),  # two sessions in one second stay distinct
                "iat": now,
                "exp": int(expires),
            }
        )
        refresh = self._jwt(
            {
                "typ": "refresh+jwt",
                "scope": "com.atproto.refresh",
                "sub": did,
                "jti": secrets.token_urlsafe(16),
                "iat": now,
                "exp": now + 90 * 86400,
            }
        )
        with self._lock:
            self._access[access] = _Access(did, expires)
            self._refresh[refresh] = did
        return access, refresh

    def _session_json(self, account: FakeBlueskyAccount, access: str, refresh: str) -> dict[str, Any]:
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": account.handle,
            "did": account.did,
            "email": f"{account.handle.split('.')[0]}@example.com",
            "emailConfirmed": True,
            "active": account.active,
            **({} if account.active else {"status": "deactivated"}),
        }

    def _bearer(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return header[7:].strip() if header.lower().startswith("bearer ") else None

    def _authenticated(self, request: Request, *, optional: bool = False) -> str | None:
        """The DID of a valid access token; the PDS's errors otherwise."""
        token = self._bearer(request)
        if token is None:
            if optional:
                return None
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
        access = self._access.get(token)
        if access is None or access.revoked:
            raise XrpcError(400, "InvalidToken", "Token could not be verified")
        if access.expires_at <= time.time():
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        return access.did

    def _spend_points(self, did: str, points: int) -> dict[str, str]:
        now = time.time()
        with self._lock:
            spent = [(at, cost) for at, cost in self._points.get(did, []) if at > now - POINTS_WINDOW]
            used = sum(cost for _, cost in spent)
            reset = int((spent[0][0] if spent else now) + POINTS_WINDOW)
            headers = {
                "RateLimit-Limit": str(POINTS_LIMIT),
                "RateLimit-Remaining": str(max(POINTS_LIMIT - used - points, 0)),
                "RateLimit-Reset": str(reset),
                "RateLimit-Policy": f"{POINTS_LIMIT};w={POINTS_WINDOW}",
            }
            if self.rate_limits and used + points > POINTS_LIMIT:
                headers["RateLimit-Remaining"] = "0"
                raise XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
            spent.append((now, points))
            self._points[did] = spent
        return headers

    # --- sessions ---------------------------------------------------------------------------

    async def _create_session(self, request: Request, received_at: float) -> Response:
        body = await _json(request)
        self.session_requests.append(body)
        identifier = str(body.get("identifier") or "").lower().lstrip("@")
        password = str(body.get("password") or "")
        window_start = received_at - SESSION_WINDOW
        with self._lock:
            attempts = [at for at in self._sign_ins.get(identifier, []) if at > window_start]
            attempts.append(received_at)
            self._sign_ins[identifier] = attempts
        headers = {
            "RateLimit-Limit": str(SESSION_LIMIT),
            "RateLimit-Remaining": str(max(SESSION_LIMIT - len(attempts), 0)),
            "RateLimit-Reset": str(int(attempts[0] + SESSION_WINDOW)),
            "RateLimit-Policy": f"{SESSION_LIMIT};w={SESSION_WINDOW}",
        }
        if self.rate_limits and len(attempts) > SESSION_LIMIT:
            raise XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        if not identifier or not password:
            raise XrpcError(400, "InvalidRequest", 'Input must have the property "identifier"')
        account = next(
            (a for a in self.accounts.values() if identifier in {a.handle.lower(), a.did.lower()}), None
        )
        if account is None or not hmac.compare_digest(account.app_password, password):
            raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password", headers)
        access, refresh = self._issue(account.did)
        return JSONResponse(self._session_json(account, access, refresh), headers=headers)

    async def _refresh_session(self, request: Request, received_at: float) -> Response:
        token = self._bearer(request)
        if token is None:
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
        with self._lock:
            did = self._refresh.pop(token, None)  # rotated: the old refresh JWT is done
        if did is None:
            raise XrpcError(400, "InvalidToken", "Token has been revoked")
        access, refresh = self._issue(did)
        account = self.accounts[did]
        return JSONResponse(self._session_json(account, access, refresh))

    # --- records ----------------------------------------------------------------------------

    async def _create_record(self, request: Request, received_at: float) -> Response:
        did = self._authenticated(request)
        body = await _json(request)
        self._check_repo(did, body)
        rkey = str(body.get("rkey") or "") or _tid(received_at)
        if not TID.match(rkey):
            raise XrpcError(400, "InvalidRequest", "Invalid TID string")
        record = _validated(body)
        self._check_embed(did, record)
        key = (did, str(body["collection"]), rkey)
        if key in self.records:
            # The real PDS fails the commit on an existing key with an unhandled error.
            raise XrpcError(500, "InternalServerError", "Internal Server Error")
        headers = self._spend_points(did, CREATE_POINTS)
        stored = self._store(key, record, received_at)
        return JSONResponse(_write_answer(stored), headers=headers)

    async def _put_record(self, request: Request, received_at: float) -> Response:
        did = self._authenticated(request)
        body = await _json(request)
        self._check_repo(did, body)
        rkey = str(body.get("rkey") or "")
        if not TID.match(rkey):
            raise XrpcError(400, "InvalidRequest", "Invalid TID string")
        record = _validated(body)
        self._check_embed(did, record)
        key = (did, str(body["collection"]), rkey)
        headers = self._spend_points(did, 2 if key in self.records else CREATE_POINTS)
        stored = self._store(key, record, received_at)
        return JSONResponse(_write_answer(stored), headers=headers)

    async def _get_record(self, request: Request, received_at: float) -> Response:
        self._authenticated(request, optional=True)
        query = request.query_params
        repo = self._repo_did(query.get("repo", ""))
        key = (repo, query.get("collection", ""), query.get("rkey", ""))
        stored = self.records.get(key)
        if stored is None:
            uri = f"at://{key[0]}/{key[1]}/{key[2]}"
            raise XrpcError(400, "RecordNotFound", f"Could not locate record: {uri}")
        return JSONResponse({"uri": stored.uri, "cid": stored.cid, "value": stored.value})

    def _check_repo(self, did: str, body: dict[str, Any]) -> None:
        if self._repo_did(str(body.get("repo") or "")) != did:
            raise XrpcError(400, "InvalidRequest", "Invalid repo")
        if body.get("collection") != POST:
            raise XrpcError(400, "InvalidRequest", f"Unsupported collection: {body.get('collection')}")

    def _repo_did(self, repo: str) -> str:
        if repo.startswith("did:"):
            return repo
        account = next((a for a in self.accounts.values() if a.handle == repo.lower()), None)
        return account.did if account else repo

    def _store(self, key: tuple[str, str, str], record: dict[str, Any], received_at: float) -> StoredRecord:
        did, collection, rkey = key
        cid = "bafyrei" + hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:52]
        stored = StoredRecord(f"at://{did}/{collection}/{rkey}", cid, record, received_at)
        with self._lock:
            created = key not in self.records
            self.records[key] = stored
            if created:
                self.posts.append(stored)
        return stored

    # --- media ------------------------------------------------------------------------------

    def _blob_of(self, did: str, data: bytes, mime: str) -> dict[str, Any]:
        cid = "bafkrei" + hashlib.sha256(data).hexdigest()[:52]
        with self._lock:
            self.blobs[cid] = StoredBlob(did, cid, mime, data)
        return {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}

    async def _upload_blob(self, request: Request, received_at: float) -> Response:
        did = self._authenticated(request)
        mime = request.headers.get("content-type", "")
        data = await request.body()
        if not mime or not data:
            raise XrpcError(400, "InvalidRequest", "A blob needs a Content-Type and a body")
        return JSONResponse({"blob": self._blob_of(did, data, mime)})

    async def _get_session(self, request: Request, received_at: float) -> Response:
        did = self._authenticated(request)
        account = self.accounts[did]
        endpoint = self.pds_endpoint or str(request.base_url).rstrip("/")
        did_doc = {
            "id": did,
            "alsoKnownAs": [f"at://{account.handle}"],
            "service": [
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": endpoint}
            ],
        }
        return JSONResponse(
            {"did": did, "handle": account.handle, "didDoc": did_doc, "active": account.active}
        )

    async def _get_service_auth(self, request: Request, received_at: float) -> Response:
        did = self._authenticated(request)
        query = request.query_params
        if (
            not query.get("aud", "").startswith("did:web:")
            or query.get("lxm") != "com.atproto.repo.uploadBlob"
        ):
            raise XrpcError(400, "InvalidRequest", "aud must be a did:web of the PDS and lxm uploadBlob")
        token = self._jwt(
            {
                "typ": "JWT",
                "iss": did,
                "aud": query["aud"],
                "lxm": query["lxm"],
                "jti": secrets.token_urlsafe(8),
            }
        )
        with self._lock:
            self._service_tokens[token] = did
            self.service_auth_audiences.append(query["aud"])
        return JSONResponse({"token": token})

    async def _upload_video(self, request: Request, received_at: float) -> Response:
        did = self._service_tokens.get(self._bearer(request) or "")
        if did is None:
            raise XrpcError(401, "AuthenticationRequired", "Service token required")
        if request.query_params.get("did") != did:
            raise XrpcError(400, "InvalidRequest", "did does not match the service token")
        data = await request.body()
        mime = request.headers.get("content-type", "")
        with self._lock:
            existing = next((job for job in self.jobs.values() if job.did == did and job.data == data), None)
        if existing is not None:
            return JSONResponse(
                {
                    "error": "already_exists",
                    "message": "Video already processed",
                    "jobId": existing.id,
                    "did": did,
                },
                status_code=409,
            )
        job = VideoJob(f"job-{secrets.token_hex(6)}", did, mime, data)
        with self._lock:
            self.jobs[job.id] = job
        return JSONResponse({"jobStatus": self._job_json(job)})

    async def _get_job_status(self, request: Request, received_at: float) -> Response:
        job = self.jobs.get(request.query_params.get("jobId", ""))
        if job is None:
            raise XrpcError(404, "NotFound", "Job not found")
        with self._lock:
            job.reads += 1
            if job.state not in ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED"):
                if job.mime_type in self.fail_processing:
                    job.state, job.error = "JOB_STATE_FAILED", "Video could not be encoded"
                elif job.reads >= self.processing_steps:
                    job.state = "JOB_STATE_COMPLETED"
                else:
                    job.state = "JOB_STATE_ENCODING"
        if job.state == "JOB_STATE_COMPLETED" and job.blob is None:
            job.blob = self._blob_of(job.did, job.data, "video/mp4")
        return JSONResponse({"jobStatus": self._job_json(job)})

    def _job_json(self, job: VideoJob) -> dict[str, Any]:
        status: dict[str, Any] = {"jobId": job.id, "did": job.did, "state": job.state}
        if job.blob is not None:
            status["blob"] = job.blob
        if job.error:
            status["error"] = job.error
        return status

    def _check_embed(self, did: str, record: dict[str, Any]) -> None:
        embed = record.get("embed")
        if embed is None:
            return
        prefix = f"Invalid {POST} record:"
        kind = embed.get("$type") if isinstance(embed, dict) else None
        if kind == "app.bsky.embed.images":
            images = embed.get("images")
            if not isinstance(images, list) or not 1 <= len(images) <= 4:
                raise XrpcError(400, "InvalidRequest", f"{prefix} Record/embed/images must have 1-4 items")
            for image in images:
                if not isinstance(image, dict) or not isinstance(image.get("alt"), str):
                    raise XrpcError(
                        400, "InvalidRequest", f'{prefix} Record/embed/images must have the property "alt"'
                    )
                stored = self._stored_blob(did, image.get("image"))
                if len(stored.data) > 2_000_000 or not stored.mime_type.startswith("image/"):
                    raise XrpcError(
                        400, "InvalidRequest", f"{prefix} Record/embed/images/image is too big or no image"
                    )
        elif kind == "app.bsky.embed.video":
            stored = self._stored_blob(did, embed.get("video"))
            if stored.mime_type != "video/mp4":
                raise XrpcError(400, "InvalidRequest", f"{prefix} Record/embed/video must be video/mp4")
        else:
            raise XrpcError(400, "InvalidRequest", f"{prefix} Record/embed has an unsupported $type")

    def _stored_blob(self, did: str, blob: Any) -> StoredBlob:
        cid = ((blob or {}).get("ref") or {}).get("$link") if isinstance(blob, dict) else None
        stored = self.blobs.get(str(cid))
        if stored is None or stored.did != did:
            raise XrpcError(400, "InvalidRequest", f"Could not find blob: {cid}")
        return stored

    # --- lookups ----------------------------------------------------------------------------

    async def _resolve_handle(self, request: Request, received_at: float) -> Response:
        handle = request.query_params.get("handle", "").lower()
        did = self.directory.get(handle) or next(
            (a.did for a in self.accounts.values() if a.handle == handle), None
        )
        if did is None:
            raise XrpcError(400, "InvalidRequest", "Unable to resolve handle")
        return JSONResponse({"did": did})

    async def _get_profile(self, request: Request, received_at: float) -> Response:
        self._authenticated(request)
        actor = self._repo_did(request.query_params.get("actor", ""))
        account = self.accounts.get(actor)
        if account is None:
            raise XrpcError(400, "InvalidRequest", "Profile not found")
        return JSONResponse(_profile_view(account))

    async def _get_posts(self, request: Request, received_at: float) -> Response:
        self._authenticated(request)
        views = []
        for uri in request.query_params.getlist("uris"):
            try:
                stored = self.record(uri)
            except (KeyError, ValueError):
                continue
            author = self.accounts.get(uri.removeprefix("at://").split("/")[0])
            views.append(
                {
                    "uri": stored.uri,
                    "cid": stored.cid,
                    "author": _profile_view(author) if author else {},
                    "record": stored.value,
                    "likeCount": stored.like_count,
                    "repostCount": stored.repost_count,
                    "replyCount": stored.reply_count,
                    "quoteCount": stored.quote_count,
                    "indexedAt": _iso(stored.received_at),
                }
            )
        return JSONResponse({"posts": views})


# ---------------------------------------------------------------------------------------------
# Lexicon checks for app.bsky.feed.post


def _validated(body: dict[str, Any]) -> dict[str, Any]:
    record = body.get("record")
    if not isinstance(record, dict):
        raise XrpcError(400, "InvalidRequest", 'Input must have the property "record"')
    prefix = f"Invalid {POST} record:"
    if record.get("$type") != POST:
        raise XrpcError(400, "InvalidRequest", f"{prefix} Record/$type must be {POST}")
    text = record.get("text")
    if not isinstance(text, str):
        raise XrpcError(400, "InvalidRequest", f'{prefix} Record must have the property "text"')
    graphemes, size = len(_GRAPHEME.findall(text)), len(text.encode("utf-8"))
    if graphemes > MAX_GRAPHEMES:
        raise XrpcError(
            400,
            "InvalidRequest",
            f"{prefix} grapheme too big (maximum {MAX_GRAPHEMES}, got {graphemes}) at $.record.text",
        )
    if size > MAX_BYTES:
        raise XrpcError(
            400,
            "InvalidRequest",
            f"{prefix} string too long (maximum {MAX_BYTES}, got {size}) at $.record.text",
        )
    if not _datetime(record.get("createdAt")):
        raise XrpcError(400, "InvalidRequest", f"{prefix} Record/createdAt must be an valid atproto datetime")
    langs = record.get("langs", [])
    if (
        not isinstance(langs, list)
        or len(langs) > 3
        or not all(isinstance(lang, str) and lang for lang in langs)
    ):
        raise XrpcError(400, "InvalidRequest", f"{prefix} Record/langs must be a list of at most 3 languages")
    for number, facet in enumerate(record.get("facets", [])):
        problem = _facet_problem(facet, text.encode("utf-8"))
        if problem:
            raise XrpcError(400, "InvalidRequest", f"{prefix} Record/facets/{number} {problem}")
    return record


def _facet_problem(facet: Any, raw: bytes) -> str:
    index = facet.get("index") if isinstance(facet, dict) else None
    features = facet.get("features") if isinstance(facet, dict) else None
    if not isinstance(index, dict) or not isinstance(features, list) or not features:
        return "must have an index and features"
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw)):
        return f"has a byte range outside the text ({start}..{end} of {len(raw)} bytes)"
    try:
        raw[start:end].decode("utf-8")
    except UnicodeDecodeError:
        return f"byte range {start}..{end} cuts a character in half"
    for feature in features:
        kind = feature.get("$type") if isinstance(feature, dict) else None
        if kind not in FEATURES:
            return f"has an unknown feature {kind!r}"
        if kind.endswith("#link") and not str(feature.get("uri", "")).startswith(("https://", "http://")):
            return "link must have an http(s) uri"
        if kind.endswith("#mention") and not str(feature.get("did", "")).startswith("did:"):
            return "mention must have a did"
        tag = feature.get("tag", "")
        if kind.endswith("#tag") and (
            not isinstance(tag, str) or not tag or tag.startswith("#") or len(tag) > 640
        ):
            return "tag must be 1-640 characters without the #"
    return ""


def _datetime(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


# ---------------------------------------------------------------------------------------------


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise XrpcError(400, "InvalidRequest", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise XrpcError(400, "InvalidRequest", "Request body must be an object")
    return body


def _write_answer(stored: StoredRecord) -> dict[str, Any]:
    return {
        "uri": stored.uri,
        "cid": stored.cid,
        "commit": {"cid": "bafyreicommit" + stored.cid[-20:], "rev": _tid(stored.received_at)},
        "validationStatus": "valid",
    }


def _profile_view(account: FakeBlueskyAccount) -> dict[str, Any]:
    return {
        "did": account.did,
        "handle": account.handle,
        "displayName": account.display_name,
        "avatar": account.avatar,
        "followersCount": 0,
        "followsCount": 0,
        "postsCount": 0,
    }


_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_tid_clock = secrets.randbelow(1024)


def _tid(at: float) -> str:
    value = (int(at * 1_000_000) << 10) | _tid_clock
    return "".join(_TID_ALPHABET[(value >> (5 * shift)) & 31] for shift in reversed(range(13)))


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
