"""The Celery application, configured from `postforge.settings`.

Production uses Redis as broker and result backend. Embedded mode uses SQLite files under
`DATA_DIR` (`sqla+sqlite://` broker, `db+sqlite://` results) so the worker and beat need no
server. The database, never the broker, is the source of truth for what must be published.

Start a worker with `celery -A worker.celery_app worker` and beat with `celery -A worker.celery_app beat`;
both read the same environment (`DATABASE_URL`, `REDIS_URL`, `DATA_DIR`, …) as the web app.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery

from postforge.services.channels.post_metrics import RUN_BUDGET_SECONDS
from postforge.settings import Settings, get_settings

HEARTBEAT_TASK = "postforge.heartbeat"
PING_TASK = "postforge.ping"
APPLY_IDENTITY_EVENT_TASK = "postforge.identity.apply_event"
PROCESS_STRIPE_EVENT_TASK = "postforge.stripe.process_event"
SWEEP_TASK = "postforge.housekeeping.sweep"
SWEEP_INTERVAL_SECONDS = 60.0
DISPATCH_TASK = "postforge.publish.dispatch"
PUBLISH_TASK = "postforge.publish.destination"
REAP_TASK = "postforge.publish.reap"
REAP_INTERVAL_SECONDS = 15.0
COLLECT_METRICS_TASK = "postforge.metrics.collect"
MEDIA_THUMBNAIL_TASK = "postforge.media.thumbnail"
MEDIA_SWEEP_TASK = "postforge.media.sweep"
MEDIA_SWEEP_INTERVAL_SECONDS = 600.0
# Each run reads only the posts not read within METRICS_INTERVAL_MINUTES, so ticking more often
# spreads the readings out instead of repeating them.
METRICS_TICK_SECONDS = 300.0
# The dispatcher only hands out destinations due before its next tick, so a countdown never
# exceeds a few seconds; anything longer is clamped (and stays far below the visibility timeout).
MAX_PUBLISH_COUNTDOWN_SECONDS = 60.0

# Redis re-delivers any message not acknowledged within this window — including messages
# held back for an ETA/countdown. No ETA or task run may come near it: far-future work stays
# in the database and a poller enqueues it when due, retries use short countdowns.
REDIS_VISIBILITY_TIMEOUT_SECONDS = 2 * 60 * 60

RESULT_EXPIRES = timedelta(days=1)

# Two queues. `default` carries the work (publishes, webhook events); `control` carries beat's
# ticks, which must never wait behind thousands of due publishes — a dispatch tick stuck in line
# is exactly the "one-minute dispatch cycle" a scheduler must not have. Every worker consumes
# both (`postforge worker` does by default) and Redis serves the two queues in turn.
DEFAULT_QUEUE = "default"
CONTROL_QUEUE = "control"
WORKER_QUEUES = f"{CONTROL_QUEUE},{DEFAULT_QUEUE}"
CONTROL_TASKS = (HEARTBEAT_TASK, SWEEP_TASK, DISPATCH_TASK, REAP_TASK)

# Every task has a soft time limit (Celery raises SoftTimeLimitExceeded in it: the task settles
# what it was doing) and a hard one (its process is killed; acks_late and the database's leases
# cover what it left). Both need the prefork pool; embedded mode's thread pool ignores them, and
# there the outbound policy's deadline on every request still bounds the work.
DEFAULT_TIME_LIMITS = (60.0, 90.0)


def celery_config(settings: Settings) -> dict[str, Any]:
    """Every Celery setting PostForge uses, derived from one `Settings` object."""
    config: dict[str, Any] = {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend,
        # At-least-once delivery: a task is acknowledged after it ran, and requeued when its
        # worker dies mid-run. Tasks are idempotent (they claim their rows in the database).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A task still running when the broker connection drops will be redelivered anyway;
        # cancelling it avoids two copies running at once.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "broker_connection_retry_on_startup": True,
        "result_expires": RESULT_EXPIRES,
        "task_default_queue": DEFAULT_QUEUE,
        "task_routes": {name: {"queue": CONTROL_QUEUE} for name in CONTROL_TASKS},
        "worker_concurrency": settings.worker_concurrency,
        # The worker is a process of its own: Celery's `-l` level also governs postforge's loggers.
        "worker_hijack_root_logger": True,
        "beat_schedule": beat_schedule(settings),
        "task_soft_time_limit": DEFAULT_TIME_LIMITS[0],
        "task_time_limit": DEFAULT_TIME_LIMITS[1],
        "task_annotations": {
            name: {"soft_time_limit": soft, "time_limit": hard}
            for name, (soft, hard) in time_limits(settings).items()
        },
    }
    if settings.embedded:
        # kombu hands sqla transport options straight to `create_engine` (so no `polling_interval`
        # here — it would crash); a busy timeout lets web app, worker and beat share the file.
        config["broker_transport_options"] = {"connect_args": {"timeout": 10}}
        config["database_engine_options"] = {"connect_args": {"timeout": 10}}
        config["beat_schedule_filename"] = str(settings.data_dir / "celerybeat-schedule")
    else:
        config["broker_transport_options"] = {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT_SECONDS}
    return config


def time_limits(settings: Settings) -> dict[str, tuple[float, float]]:
    """(soft, hard) seconds for each task."""
    lease = settings.publish_lease_seconds
    request = settings.platform_http_timeout_seconds
    # Metrics: the run stops starting reads after its budget; the soft limit leaves room for the
    # read under way (a refresh and the read itself), then the run stops where it is.
    metrics_soft = RUN_BUDGET_SECONDS + 2 * request + 10
    return {
        # A publish must be over before its lease runs out, so the reaper never takes a row that is
        # still being worked on: soft at 3/4 of the lease (the outcome is still written), hard at 9/10.
        PUBLISH_TASK: (0.75 * lease, 0.9 * lease),
        # Beat's ticks are database work and come again soon: a stuck one gives way to the next.
        DISPATCH_TASK: (30.0, 45.0),
        REAP_TASK: (30.0, 45.0),
        SWEEP_TASK: (45.0, 55.0),
        HEARTBEAT_TASK: (10.0, 15.0),
        PING_TASK: (10.0, 15.0),
        # Webhook events are applied in one transaction: cut short, nothing is half done, and the
        # task's autoretry (or the sweeper) tries again.
        APPLY_IDENTITY_EVENT_TASK: (60.0, 90.0),
        PROCESS_STRIPE_EVENT_TASK: (60.0, 90.0),
        COLLECT_METRICS_TASK: (metrics_soft, metrics_soft + 30),
        # A video's thumbnail copies the file from the bucket first (gigabytes at worst); a run cut
        # short leaves no thumbnail and the media sweep queues it again.
        MEDIA_THUMBNAIL_TASK: (600.0, 660.0),
        MEDIA_SWEEP_TASK: (240.0, 300.0),
    }


def beat_schedule(settings: Settings) -> dict[str, Any]:
    interval = settings.heartbeat_interval_seconds
    metrics_tick = min(METRICS_TICK_SECONDS, settings.metrics_interval_minutes * 60)
    return {
        "record-worker-heartbeat": {
            "task": HEARTBEAT_TASK,
            "schedule": timedelta(seconds=interval),
            # A heartbeat queued while no worker ran says nothing about liveness later on.
            "options": {"expires": max(2 * interval, 10.0)},
        },
        "sweep-sign-in-leftovers": {
            "task": SWEEP_TASK,
            "schedule": timedelta(seconds=SWEEP_INTERVAL_SECONDS),
            "options": {"expires": SWEEP_INTERVAL_SECONDS},
        },
        # Publishing: a late tick is useless (the next one claims the same rows), so it expires.
        "dispatch-due-destinations": {
            "task": DISPATCH_TASK,
            "schedule": timedelta(seconds=settings.dispatch_interval_seconds),
            "options": {"expires": max(settings.dispatch_interval_seconds, 1.0)},
        },
        "reap-expired-publish-leases": {
            "task": REAP_TASK,
            "schedule": timedelta(seconds=REAP_INTERVAL_SECONDS),
            "options": {"expires": REAP_INTERVAL_SECONDS},
        },
        # Reading numbers calls the platforms, so it is work (the default queue), not a control tick.
        "collect-post-metrics": {
            "task": COLLECT_METRICS_TASK,
            "schedule": timedelta(seconds=metrics_tick),
            "options": {"expires": metrics_tick},
        },
        # Storage clean-up talks to the bucket, so it is work (the default queue) too.
        "sweep-media": {
            "task": MEDIA_SWEEP_TASK,
            "schedule": timedelta(seconds=MEDIA_SWEEP_INTERVAL_SECONDS),
            "options": {"expires": MEDIA_SWEEP_INTERVAL_SECONDS},
        },
    }


def configure_celery_app(app: Celery, settings: Settings) -> Celery:
    """Point `app` at the broker and backend `settings` describe (tests use it with other settings)."""
    if settings.embedded:
        # The SQLite broker and result files live here; SQLite will not create the directory.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.conf.update(celery_config(settings))
    return app


def create_celery_app(settings: Settings | None = None) -> Celery:
    app = Celery("postforge", include=["worker.tasks"])
    return configure_celery_app(app, settings or get_settings())


celery_app = create_celery_app()
