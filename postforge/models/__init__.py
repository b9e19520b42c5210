"""Every table, imported in one place so metadata, Alembic and Reflex see them all."""

from postforge.models.auth import IdentityEvent, OAuthAttempt, PasswordResetToken
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
from postforge.models.posts import (
    AttemptOutcome,
    DestinationStatus,
    MediaAsset,
    Post,
    PostDestination,
    PostMedia,
    PostMetrics,
    PostStatus,
    PublishAttempt,
)
from postforge.models.slots import PostingSlot
from postforge.models.social import AccountStatus, Platform, SocialAccount
from postforge.models.system import ApiKey, AuditLog, OutboxMessage, RateLimitCounter, WorkerHeartbeat
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
    "IdentityEvent",
    "Invite",
    "MediaAsset",
    "Membership",
    "OAuthAttempt",
    "OutboxMessage",
    "PasswordResetToken",
    "Payment",
    "PaymentStatus",
    "PlanKind",
    "Platform",
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
    "SocialAccount",
    "StripeEvent",
    "Subscription",
    "SubscriptionStatus",
    "TransactionType",
    "User",
    "UserSession",
    "WorkerHeartbeat",
    "Workspace",
    "utcnow",
]
