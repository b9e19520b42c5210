"""Every URL of the app in one place; components never hard-code a path."""

LANDING = "/"
DASHBOARD = "/dashboard"
GENERATE = "/generate"
POSTS = "/posts"
CALENDAR = "/calendar"
ACCOUNTS = "/accounts"
CREDITS = "/credits"
SETTINGS = "/settings"
ADMIN = "/admin-console"  # "/admin" is reserved by Reflex's AdminDash mount

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
