"""Every table, imported in one place so metadata, Alembic and Reflex see them all."""

from postforge.models.auth import EmailVerificationToken, IdentityEvent, OAuthAttempt, PasswordResetToken
from postforge.models.base import utcnow
from postforge.models.billing import (
    Payment,
    PaymentStatus,
    PlanKind,
    PricingPlan,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)
from postforge.models.credits import CreditTransaction, TransactionType
from postforge.models.notifications import Notification, NotificationKind
from postforge.models.posts import (
    AttemptOutcome,
    DestinationStatus,
    MediaAsset,
    MediaKind,
    MediaStatus,
    Post,
    PostDestination,
    PostMedia,
    PostMetrics,
    PostStatus,
    PublishAttempt,
)
from postforge.models.slots import PostingSlot
from postforge.models.social import AccountStatus, Platform, PlatformApp, SandboxPost, SocialAccount
from postforge.models.system import (
    ApiKey,
    AuditLog,
    OutboxMessage,
    RateLimitCounter,
    TokenBucket,
    WorkerHeartbeat,
)
from postforge.models.users import AuthIdentity, User, UserSession
from postforge.models.workspaces import Brand, Invite, Membership, Role, Workspace

__all__ = [
    "AccountStatus",
    "ApiKey",
    "AttemptOutcome",
    "AuditLog",
    "AuthIdentity",
    "Brand",
    "CreditTransaction",
    "DestinationStatus",
    "EmailVerificationToken",
    "IdentityEvent",
    "Invite",
    "MediaAsset",
    "MediaKind",
    "MediaStatus",
    "Membership",
    "Notification",
    "NotificationKind",
    "OAuthAttempt",
    "OutboxMessage",
    "PasswordResetToken",
    "Payment",
    "PaymentStatus",
    "PlanKind",
    "Platform",
    "PlatformApp",
    "Post",
    "PostDestination",
    "PostMedia",
    "PostMetrics",
    "PostStatus",
    "PostingSlot",
    "PricingPlan",
    "PublishAttempt",
    "RateLimitCounter",
    "Role",
    "SandboxPost",
    "SocialAccount",
    "StripeEvent",
    "Subscription",
    "SubscriptionStatus",
    "TokenBucket",
    "TransactionType",
    "User",
    "UserSession",
    "WorkerHeartbeat",
    "Workspace",
    "utcnow",
]
