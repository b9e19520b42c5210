"""The worker's Celery app with test media attached (see `media_source`): run as
`celery -A tests.support.media_worker_app worker …` with POSTFORGE_TEST_MEDIA_MANIFEST set."""

from __future__ import annotations

from tests.support.media_source import attach_from_environment
from worker.celery_app import celery_app

attach_from_environment()

celery = celery_app
