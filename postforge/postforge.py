"""Builds the Reflex app: every page, state and model module is imported from here."""

import reflex as rx

import postforge.models  # noqa: F401 — tables registered for Reflex and Alembic
from postforge.api import build_api
from postforge.pages import (  # noqa: F401 — pages register themselves
    accounts,
    admin_console,
    auth,
    billing,
    brands,
    calendar,
    credits,
    dashboard,
    generate,
    landing,
    lists,
    media,
    notifications,
    outbox,
    post_import,
    posts,
    sandbox_feed,
    settings,
)
from postforge.state.session_guard import SessionGuard
from worker import enqueue

enqueue.install()

app = rx.App(
    api_transformer=build_api(),
    html_lang="en",
    head_components=[rx.el.meta(name="description", content="AI social media post generator and scheduler.")],
)
# Every event of a PostForge state re-validates its browser session before the handler runs.
app.add_middleware(SessionGuard())
