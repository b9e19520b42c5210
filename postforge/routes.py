"""Every URL of the app in one place; components never hard-code a path."""

LANDING = "/"
DASHBOARD = "/dashboard"
GENERATE = "/generate"
POSTS = "/posts"
IMPORT = "/posts/import"
CALENDAR = "/calendar"
ACCOUNTS = "/accounts"
CREDITS = "/credits"
SETTINGS = "/settings"
ADMIN = "/admin-console"  # "/admin" is reserved by Reflex's AdminDash mount

SIGN_IN = "/sign-in"
REGISTER = "/register"
FORGOT_PASSWORD = "/forgot-password"  # noqa: S105 — a path, not a secret
RESET_PASSWORD = "/reset-password"  # noqa: S105 — a path, not a secret
ACCEPT_INVITE = "/invite"
AUTH_COMPLETE = "/auth/complete"
OUTBOX = "/dev/outbox"

API_HEALTH = "/api/health"

# (label, route, lucide icon) in sidebar order.
NAV_ITEMS: list[tuple[str, str, str]] = [
    ("Dashboard", DASHBOARD, "layout-dashboard"),
    ("Generate", GENERATE, "sparkles"),
    ("Posts", POSTS, "list"),
    ("Calendar", CALENDAR, "calendar-days"),
    ("Accounts", ACCOUNTS, "at-sign"),
    ("Credits", CREDITS, "coins"),
    ("Settings", SETTINGS, "settings"),
    ("Admin", ADMIN, "shield"),
]
