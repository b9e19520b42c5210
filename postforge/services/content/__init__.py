"""Content: posts and their destinations, the post status machine, the calendar, posting slots,
brands and CSV import.

Rules that live here: a post moves only along the status machine (`post_status`); edits carry the
version they were made on, so a stale write is refused, not merged; times are a person's wall-clock
time in their zone; a destination that may already be live is never treated as failed
(`publish_history`). Imports: up to identity.
"""
