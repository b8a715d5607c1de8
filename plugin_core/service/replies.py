"""What the service answers: strict JSON (no NaN or Infinity) with the API version, and
refusals as ``{"api": 1, "error": "<one sentence>"}``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

API_VERSION = 1


def reply_bytes(body: dict[str, Any]) -> bytes:
    """``body`` with the API version, as strict JSON."""
    return json.dumps(_strict({"api": API_VERSION, **body}), allow_nan=False).encode()


def reply(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(reply_bytes(body), status, headers, media_type="application/json")


def refusal(status: int, sentence: str, headers: Mapping[str, str] | None = None) -> Response:
    return reply(status, {"error": sentence}, headers)


class Refused(Exception):
    """Raised by an endpoint: the request is answered with ``status`` and ``sentence``."""

    def __init__(self, status: int, sentence: str, headers: Mapping[str, str] | None = None):
        super().__init__(sentence)
        self.status, self.sentence, self.headers = status, sentence, headers


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by null (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value
