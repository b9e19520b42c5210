"""HTTP routes served beside the Reflex app (mounted through `api_transformer`)."""

from starlette.applications import Starlette
from starlette.routing import Route

from postforge import routes
from postforge.api.health import health


def build_api() -> Starlette:
    return Starlette(routes=[Route(routes.API_HEALTH, health, methods=["GET"])])
