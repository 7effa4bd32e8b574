"""The module-level app gunicorn imports: `gunicorn -c service/gunicorn.conf.py service.wsgi:app`.

A missing or corrupt model becomes gunicorn's AppImportError, which it prints as one line
before exiting non-zero ("App failed to load"), instead of a worker traceback.
"""

from __future__ import annotations

from gunicorn.errors import AppImportError

from service.app import create_app
from service.errors import SlotTaggerError

try:
    app = create_app()
except SlotTaggerError as exc:
    raise AppImportError(f"slot-tagger: cannot start: {exc.message}") from None
