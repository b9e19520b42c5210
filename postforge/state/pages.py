"""View data for the admin console's overview: thin calls into services."""

import asyncio

import reflex as rx
from pydantic import BaseModel

from postforge.db import session_scope
from postforge.platforms import rules
from postforge.services.admin_console import guard
from postforge.services.operations import admin, health, publishing_health
from postforge.services.payments import billing
from postforge.settings import get_settings
from postforge.state.admin_console import ConsoleState


class HealthItem(BaseModel):
    name: str
    ok: bool
    detail: str


class PlatformTrouble(BaseModel):
    platform: str  # its label ("X", "LinkedIn")
    rate_limited_last_hour: int
    failed_last_day: int


class OwedItem(BaseModel):
    workspace_id: int
    workspace_name: str
    credits_owed: int
    payments: int


def _in_session(fn, *args):
    with session_scope() as session:
        return fn(session, *args)


class AdminState(ConsoleState):
    """The console's overview: health, counts, publishing and billing watches."""

    components: list[HealthItem] = []
    users: int = 0
    workspaces: int = 0
    posts: int = 0
    failed_destinations: int = 0
    environment: str = ""
    checkout_mode: str = ""
    broker_mode: str = ""
    owed: list[OwedItem] = []
    stuck_stripe_events: int = 0
    # Publishing: the backlog, what is in flight or waits for people, trouble per platform.
    publish_in_flight: int = 0
    publish_needs_review: int = 0
    accounts_needing_reconnect: int = 0
    publish_overdue: int = 0
    publish_trouble: list[PlatformTrouble] = []

    def _clear(self) -> None:
        super()._clear()
        self.components, self.owed, self.publish_trouble = [], [], []
        self.users = self.workspaces = self.posts = self.failed_destinations = self.stuck_stripe_events = 0
        self.publish_in_flight = self.publish_needs_review = self.accounts_needing_reconnect = 0
        self.publish_overdue = 0

    @rx.event
    async def load(self):
        self._clear()
        _admin, refusal = await self._as_admin(guard.require_admin)
        if refusal is not None:
            return refusal  # anyone but a system admin: the not-found page, and no figures
        report = await health.check_health_async()
        self.components = [
            HealthItem(name=name, ok=part.ok, detail=part.detail)
            for name, part in (
                ("Database", report.database),
                ("Broker", report.broker),
                ("Worker", report.worker),
                ("Publishing", report.publishing),
            )
        ]
        figures = await asyncio.to_thread(_in_session, publishing_health.publishing_health)
        self.publish_in_flight, self.publish_needs_review = figures.in_flight, figures.needs_review
        self.accounts_needing_reconnect = figures.accounts_needing_reconnect
        self.publish_overdue = figures.backlog.overdue
        self.publish_trouble = _trouble(figures)
        counts = await asyncio.to_thread(_in_session, admin.system_counts)
        self.users, self.workspaces = counts.users, counts.workspaces
        self.posts, self.failed_destinations = counts.posts, counts.failed_destinations
        owed = await asyncio.to_thread(_in_session, admin.owed_credits)
        self.owed = [OwedItem(**row.__dict__) for row in owed]
        self.stuck_stripe_events = await asyncio.to_thread(_in_session, admin.stuck_stripe_events)
        settings = get_settings()
        self.environment = settings.environment
        self.checkout_mode = billing.checkout_mode(settings)
        self.broker_mode = "Redis" if settings.redis_url else "embedded (SQLite)"


def _trouble(figures: publishing_health.PublishingHealth) -> list[PlatformTrouble]:
    platforms = sorted(set(figures.rate_limited_last_hour) | set(figures.failed_last_day))
    return [
        PlatformTrouble(
            platform=rules.rules_for(platform).label,
            rate_limited_last_hour=figures.rate_limited_last_hour.get(platform, 0),
            failed_last_day=figures.failed_last_day.get(platform, 0),
        )
        for platform in platforms
    ]
