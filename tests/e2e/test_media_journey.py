"""The demo user's media library: upload a photo by clicking (the file goes to the signed upload
link, not through the websocket), see the worker's thumbnail appear, describe it with alt text,
find it by that text, attach it to a post in the editor, and delete it."""

import io
import re
import uuid

from PIL import Image
from playwright.sync_api import expect

from postforge import routes
from tests.e2e.conftest import sign_in


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def test_upload_see_thumbnail_edit_alt_text_search_attach_and_delete(page, running_app, tmp_path) -> None:
    page.goto(routes.SIGN_IN)
    sign_in(page, *running_app.demo_credentials())
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))
    page.get_by_role("link", name="Media").first.click()
    expect(page).to_have_url(re.compile(routes.MEDIA + "$"))
    expect(page.locator("#media-usage")).to_contain_text(" used")

    marker = uuid.uuid4().hex[:8]
    photo = tmp_path / f"harbour-{marker}.jpg"
    photo.write_bytes(_photo())
    uploads = []
    page.on("request", lambda request: "/api/media/upload/" in request.url and uploads.append(request.method))
    with page.expect_file_chooser() as chooser:
        page.locator("#media-upload-button").click()
    chooser.value.set_files(str(photo))

    card = page.locator(".media-card", has_text=photo.name)
    expect(card).to_be_visible()
    expect(card).to_contain_text("640 x 480")
    expect(card).to_contain_text("Used in 0 posts")
    # The worker makes the thumbnail; the page shows it when it is there.
    thumbnail = card.locator("img.media-thumbnail")
    expect(thumbnail).to_be_visible(timeout=45_000)
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 480
    assert uploads == ["PUT"]

    card.get_by_role("button", name=f"Edit alt text of {photo.name}").click()
    page.locator("#media-alt-input").fill(f"Boats in the harbour {marker}")
    page.locator("#media-alt-save").click()
    expect(card.locator(".media-alt")).to_have_text(f"Boats in the harbour {marker}")
    expect(thumbnail).to_have_attribute("alt", f"Boats in the harbour {marker}")

    page.locator("#media-search").fill(f"harbour {marker}")
    expect(page.locator(".media-card")).to_have_count(1)
    page.locator("#media-search").fill(f"nothing-{marker}")
    expect(page.locator(".media-card")).to_have_count(0)
    page.locator("#media-search").fill("")

    # Attach it to a new post in the editor, with its alt text, and save a draft.
    page.get_by_role("link", name="Posts").first.click()
    page.locator("#new-post").click()
    dialog = page.locator("#post-editor")
    expect(dialog).to_be_visible()
    page.locator("#post-content").fill(f"Harbour morning {marker}")
    page.locator("#editor-add-media").click()
    page.get_by_role("button", name=f"Attach {photo.name}").click()
    attached = dialog.locator(".editor-media", has_text=photo.name)
    expect(attached.locator(".editor-media-alt input, input.editor-media-alt").first).to_have_value(
        f"Boats in the harbour {marker}"
    )
    page.keyboard.press("Escape")  # closes the picker, not the editor
    expect(dialog).to_be_visible()
    page.locator("#editor-save-draft").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("link", name="Media").first.click()
    expect(card).to_contain_text("Used in 1 post")

    card.get_by_role("button", name=f"Delete {photo.name}").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(card).to_have_count(0)
    assert page.console_watch.errors == []
