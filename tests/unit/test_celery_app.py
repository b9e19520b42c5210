"""Where each task goes: beat's ticks on their own queue, the work on the default one."""

import pytest

from postforge.settings import load_settings
from worker.celery_app import (
    APPLY_IDENTITY_EVENT_TASK,
    COLLECT_METRICS_TASK,
    CONTROL_QUEUE,
    DEFAULT_QUEUE,
    DISPATCH_TASK,
    HEARTBEAT_TASK,
    PROCESS_STRIPE_EVENT_TASK,
    PUBLISH_TASK,
    REAP_TASK,
    SWEEP_TASK,
    WORKER_QUEUES,
    create_celery_app,
)


def _queue_of(app, task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize("task_name", [DISPATCH_TASK, REAP_TASK, HEARTBEAT_TASK, SWEEP_TASK])
def test_beats_ticks_never_wait_behind_due_publishes(task_name) -> None:
    app = create_celery_app(load_settings())
    assert _queue_of(app, task_name) == CONTROL_QUEUE


@pytest.mark.parametrize(
    "task_name", [PUBLISH_TASK, APPLY_IDENTITY_EVENT_TASK, PROCESS_STRIPE_EVENT_TASK, COLLECT_METRICS_TASK]
)
def test_the_work_goes_to_the_default_queue(task_name) -> None:
    app = create_celery_app(load_settings())
    assert _queue_of(app, task_name) == DEFAULT_QUEUE


def test_every_scheduled_tick_is_routed_to_a_queue_workers_consume() -> None:
    app = create_celery_app(load_settings())
    consumed = set(WORKER_QUEUES.split(","))
    for entry in app.conf.beat_schedule.values():
        assert _queue_of(app, entry["task"]) in consumed
