"""The media library: where files live, how they get there, what they are, and when they go.

* `storage` — one small interface over a folder under DATA_DIR (embedded) or an S3-compatible
  bucket: presigned single and multipart uploads, streaming reads, short-lived public links.
* `signed_links` — the embedded store's signed upload and download links, served by the app.
* `validation` — decides a file's type from its own bytes and reads what it is (dimensions,
  duration, codecs), refusing lying, truncated, oversized and bomb files.
* `library` — the workspace's side: start, confirm and abort uploads against the plan's storage
  quota, list, edit alt text, delete.
* `processing` — thumbnails and video poster frames (run by the worker), and clean-up of abandoned
  uploads, deleted files and deleted workspaces.
* `publish_media` — a post's media as the platform adapters receive them.
"""
