"""Structured logs of `ragline serve`: one JSON object per line on stderr.

    {"ts": "2025-01-01T12:00:00.123Z", "level": "INFO", "logger": "ragline.access",
     "message": "POST /v1/query 200", "request_id": "4f1c...", "caller": "alice",
     "method": "POST", "path": "/v1/query", "route": "/v1/query", "status": 200,
     "latency_ms": 41.7}

`log_config()` is the `logging.config.dictConfig` mapping handed to uvicorn, so uvicorn's own
lines, ragline's access lines and every library logger share the format. Fields are added with
`extra={"fields": {...}}`. A logged exception carries its type and message only: tracebacks can
hold request data (and secrets), so they appear neither in responses nor in logs. Every line
passes through `ragline.core.errors.redact`: a URL's password or a key an upstream body echoed
is masked whatever logger wrote it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from ragline.core.errors import redact

ACCESS_LOGGER = "ragline.access"
ERROR_LOGGER = "ragline.error"
# Record attributes the formatter never copies: the request's headers are not logged at all,
# so the Authorization header and X-API-Key cannot leak through a field.
_FIELDS_ATTR = "fields"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (see the module docstring).

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.getLogger("ragline").addHandler(handler)
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, _FIELDS_ATTR, None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["error_type"] = type(error).__name__
            line["error"] = str(error)
        return redact(json.dumps(line, default=str, ensure_ascii=False))

    def formatException(self, ei: Any) -> str:  # logging's name
        # Never a traceback: format() already put the type and message in the line.
        return ""


def _timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def log_config(level: str = "INFO") -> dict[str, Any]:
    """The dictConfig mapping: JSON lines on stderr for uvicorn, ragline and the root logger.

    uvicorn.run(..., log_config=log_config(), access_log=False)  # ragline logs access itself
    """
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    quiet = {"handlers": ["stderr"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {"uvicorn": quiet, "uvicorn.error": {"level": level}, "ragline": quiet},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
