"""Where each task goes: beat's ticks on their own queue, the work on the default one."""

import pytest

from postforge.services.channels import post_metrics
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
    celery_config,
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


def _our_tasks():
    import worker.tasks  # noqa: F401 — registers the tasks on the app
    from worker.celery_app import celery_app

    return {name: task for name, task in celery_app.tasks.items() if name.startswith("postforge.")}


def test_every_task_has_a_soft_time_limit_before_its_hard_one() -> None:
    tasks = _our_tasks()
    assert len(tasks) >= 9
    for name, task in tasks.items():
        assert task.soft_time_limit and task.time_limit, name
        assert 0 < task.soft_time_limit < task.time_limit, name


def test_a_publish_ends_before_its_lease_runs_out_so_the_reaper_never_takes_a_row_in_use() -> None:
    for lease in (5, 60, 120, 3600):
        settings = load_settings(publish_lease_seconds=lease)
        limits = celery_config(settings)["task_annotations"][PUBLISH_TASK]
        assert limits["soft_time_limit"] < limits["time_limit"] < lease


def test_a_metrics_run_is_told_to_stop_only_after_its_own_budget_and_one_more_read() -> None:
    settings = load_settings(platform_http_timeout_seconds=20)
    limits = celery_config(settings)["task_annotations"][COLLECT_METRICS_TASK]
    assert limits["soft_time_limit"] >= post_metrics.RUN_BUDGET_SECONDS + 20
