"""The embedded store's signed links: uploads streamed to disk at exactly the signed size, files
served to whoever holds an unexpired link, and nothing for a forged or stale one."""

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette

from postforge.api.media_files import media_file_routes
from postforge.services.media import signed_links
from postforge.services.media import storage as media_storage
from postforge.services.media.storage import LocalStorage

KEY = "media/7/abcdef.jpg"


@pytest.fixture
def store(tmp_path) -> Iterator[LocalStorage]:
    local = LocalStorage(tmp_path / "store", secret="route-secret", base_url="http://testserver")
    media_storage.use_storage(local)
    yield local
    media_storage.use_storage(None)


@pytest.fixture
async def client(store) -> Iterator[httpx.AsyncClient]:
    app = Starlette(routes=media_file_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def test_a_whole_file_upload_lands_on_disk_and_can_be_fetched_by_link(client, store):
    target = store.presign_put(KEY, size_bytes=11, content_type="image/jpeg", expires_in=60)
    answer = await client.put(target.url, content=b"hello world", headers=target.headers)
    assert answer.status_code == 200 and answer.headers["ETag"] == answer.json()["etag"]
    assert store.path(KEY).read_bytes() == b"hello world"
    fetched = await client.get(store.url(KEY, expires_in=60))
    assert fetched.status_code == 200 and fetched.content == b"hello world"
    assert fetched.headers["content-type"] == "image/jpeg"


async def test_a_body_larger_than_signed_is_cut_off_and_nothing_kept(client, store):
    target = store.presign_put(KEY, size_bytes=5, content_type="image/jpeg", expires_in=60)

    async def body():
        for _ in range(1000):  # a client that would send far more than it announced
            yield b"x" * 1024

    answer = await client.put(target.url, content=body())
    assert answer.status_code == 413 and "larger than the 5 bytes" in answer.json()["error"]
    assert not store.path(KEY).exists() and list(store.root.rglob("*.partial")) == []


async def test_a_body_shorter_than_signed_is_dropped(client, store):
    target = store.presign_put(KEY, size_bytes=50, content_type="image/jpeg", expires_in=60)
    answer = await client.put(target.url, content=b"short")
    assert answer.status_code == 400 and "stopped after 5 of 50 bytes" in answer.json()["error"]
    assert not store.path(KEY).exists()


async def test_forged_and_expired_links_are_refused(client, store):
    target = store.presign_put(KEY, size_bytes=5, content_type="image/jpeg", expires_in=60)
    token = target.url.rsplit("/", 1)[1]
    forged = signed_links.sign("another-secret", {"use": "put", "key": KEY, "size": 5}, expires_in=60)
    assert (await client.put(f"/api/media/upload/{forged}", content=b"12345")).status_code == 403
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (await client.put(f"/api/media/upload/{tampered}", content=b"12345")).status_code == 403
    stale = signed_links.sign("route-secret", {"use": "put", "key": KEY, "size": 5}, expires_in=-1)
    answer = await client.put(f"/api/media/upload/{stale}", content=b"12345")
    assert answer.status_code == 403 and "expired" in answer.json()["error"]
    # A download link is no upload link, and the other way round.
    download = store.url(KEY, expires_in=60).rsplit("/", 1)[1]
    assert (await client.put(f"/api/media/upload/{download}", content=b"12345")).status_code == 403
    assert (await client.get(f"/api/media/files/{token}")).status_code == 403
    assert not store.path(KEY).exists()


async def test_parts_are_joined_in_order_and_checked_against_their_etags(client, store):
    upload_id = store.start_multipart(KEY, content_type="video/mp4")
    etags = []
    for number, piece in ((1, b"first-"), (2, b"second")):
        target = store.presign_part(
            KEY, upload_id=upload_id, part_number=number, size_bytes=len(piece), expires_in=60
        )
        etags.append((number, (await client.put(target.url, content=piece)).headers["ETag"]))
    with pytest.raises(media_storage.ValidationFailed, match="Part 2 of the upload changed"):
        store.complete_multipart(KEY, upload_id=upload_id, parts=[etags[0], (2, '"0000"')])
    store.complete_multipart(KEY, upload_id=upload_id, parts=list(reversed(etags)))
    assert store.path(KEY).read_bytes() == b"first-second"


async def test_with_a_bucket_the_routes_answer_404(client, store):
    media_storage.use_storage(object.__new__(media_storage.S3Storage))
    answer = await client.put("/api/media/upload/anything", content=b"x")
    assert answer.status_code == 404


async def test_a_link_sent_again_cannot_replace_the_uploaded_file(client, store):
    target = store.presign_put(KEY, size_bytes=5, content_type="image/jpeg", expires_in=60)
    assert (await client.put(target.url, content=b"first")).status_code == 200
    again = await client.put(target.url, content=b"other")
    assert again.status_code == 409 and "uploaded already" in again.json()["error"]
    assert store.path(KEY).read_bytes() == b"first"
