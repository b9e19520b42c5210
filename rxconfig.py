"""Reflex configuration, built from PostForge settings (no secrets inline)."""

import os

import reflex as rx

from postforge.settings import SettingsError, get_settings

settings = get_settings()

# Client addresses come from TRUSTED_PROXIES (postforge.services.infra.client_address), which reads the
# socket's own peer: Reflex must not replace that peer from X-Forwarded-For on its own.
if os.environ.get("REFLEX_TRUSTED_PROXY_HOPS", "").strip() not in {"", "0"}:
    raise SettingsError(
        "Invalid configuration — REFLEX_TRUSTED_PROXY_HOPS: leave it unset; set TRUSTED_PROXIES"
    )

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
    # Only PostForge's own pages may call the backend with credentials (HTTP routes and the
    # websocket); Reflex's default is every origin.
    cors_allowed_origins=list(settings.cors_allowed_origins),
    trusted_proxy_hops=0,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="violet", radius="medium")),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
