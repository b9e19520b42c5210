"""HTTP routes served beside the Reflex app (mounted through `api_transformer`)."""

from starlette.applications import Starlette
from starlette.routing import Route

from postforge import routes
from postforge.api.account_oauth import account_oauth_routes
from postforge.api.health import health
from postforge.api.media_files import media_file_routes
from postforge.api.oauth import oauth_routes
from postforge.api.stripe_webhook import stripe_webhook_route
from postforge.api.webhooks import clerk_webhook_route


def build_api() -> Starlette:
    return Starlette(
        routes=[
            Route(routes.API_HEALTH, health, methods=["GET"]),
            *oauth_routes(),
            *account_oauth_routes(),
            clerk_webhook_route(),
            stripe_webhook_route(),
            *media_file_routes(),
        ]
    )
