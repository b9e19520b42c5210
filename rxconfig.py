"""Reflex configuration, built from PostForge settings (no secrets inline)."""

import reflex as rx

from postforge.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="postforge",
    db_url=settings.sync_database_url,
    async_db_url=settings.async_database_url,
    # With Redis, state lives there and several backend workers serve the app.
    redis_url=settings.redis_url or None,
    state_manager_mode="redis" if settings.redis_url else "disk",
    frontend_port=settings.port,
    backend_host=settings.host,
    backend_port=settings.port + 5000 if settings.port != 3000 else 8000,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="medium")),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
