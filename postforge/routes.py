"""Every URL of the app in one place; components never hard-code a path."""

LANDING = "/"
DASHBOARD = "/dashboard"
GENERATE = "/generate"
BRANDS = "/brands"
POSTS = "/posts"
IMPORT = "/posts/import"
CALENDAR = "/calendar"
MEDIA = "/media"
ACCOUNTS = "/accounts"
SANDBOX = "/sandbox"  # the sandbox platform's public feed
NOTIFICATIONS = "/notifications"
CREDITS = "/credits"
SETTINGS = "/settings"
BILLING = "/billing"
BUY_CREDITS = "/billing/buy"
CHECKOUT_SUCCESS = "/billing/success"
CHECKOUT_CANCEL = "/billing/cancel"
SANDBOX_CHECKOUT = "/billing/sandbox-checkout"
ADMIN = "/admin-console"  # "/admin" is reserved by Reflex's AdminDash mount
ADMIN_USERS = "/admin-console/users"
ADMIN_USER = "/admin-console/user"  # ?id=
ADMIN_WORKSPACES = "/admin-console/workspaces"
ADMIN_WORKSPACE = "/admin-console/workspace"  # ?id=
ADMIN_PUBLISHING = "/admin-console/publishing"
ADMIN_PAYMENTS = "/admin-console/payments"
ADMIN_PLANS = "/admin-console/plans"
ADMIN_AUDIT = "/admin-console/audit"

SIGN_IN = "/sign-in"
REGISTER = "/register"
FORGOT_PASSWORD = "/forgot-password"  # noqa: S105 — a path, not a secret
RESET_PASSWORD = "/reset-password"  # noqa: S105 — a path, not a secret
VERIFY_EMAIL = "/verify-email"
ACCEPT_INVITE = "/invite"
AUTH_COMPLETE = "/auth/complete"
OUTBOX = "/dev/outbox"
NOT_FOUND = "/404"  # no page lives here: the browser shows Reflex's not-found page

API_HEALTH = "/api/health"
API_STRIPE_WEBHOOK = "/api/stripe/webhook"
# The embedded media store's signed links (a token follows).
API_MEDIA_UPLOAD = "/api/media/upload"
API_MEDIA_FILES = "/api/media/files"
API_ACCOUNT_CONNECT_CALLBACK = "/api/accounts/connect/{platform}/callback"
# The browser's half of a connect attempt lives in this cookie, sent only to the callback.
CONNECT_COOKIE = "pf_connect"
CONNECT_COOKIE_PATH = "/api/accounts/connect/"

# (label, route, lucide icon) in sidebar order.
NAV_ITEMS: list[tuple[str, str, str]] = [
    ("Dashboard", DASHBOARD, "layout-dashboard"),
    ("Generate", GENERATE, "sparkles"),
    ("Brands", BRANDS, "palette"),
    ("Posts", POSTS, "list"),
    ("Calendar", CALENDAR, "calendar-days"),
    ("Media", MEDIA, "images"),
    ("Accounts", ACCOUNTS, "at-sign"),
    ("Sandbox feed", SANDBOX, "radio-tower"),
    ("Credits", CREDITS, "coins"),
    ("Billing", BILLING, "credit-card"),
    ("Settings", SETTINGS, "settings"),
    ("Admin", ADMIN, "shield"),
]
