"""The Celery worker: a thin door into `postforge.services` (start with `celery -A worker.celery_app`)."""
