"""WSGI entry point: `flask --app wsgi …` and `gunicorn wsgi:app`."""

import gc

from clinic_app import create_app

app = create_app()

# Everything created while loading the app lives as long as the worker. Frozen, the collector
# stops rescanning it on every full collection, which otherwise shows as latency spikes on the
# larger pages (bench/REPORT.md).
gc.freeze()
