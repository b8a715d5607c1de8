"""Head tracking from outside: the OSC messages IEM SceneRotator accepts, on 127.0.0.1.

``/SceneRotator/yaw f``, ``/pitch f``, ``/roll f``, ``/ypr f f f`` (degrees) and
``/SceneRotator/quaternions f f f f`` (w, x, y, z) — what head trackers and phone apps send to
SceneRotator. Values are the listener's head orientation; the callback receives the whole
(yaw, pitch, roll) after every message.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

Rotation = tuple[float, float, float]


def quaternion_to_ypr(w: float, x: float, y: float, z: float) -> Rotation:
    """Yaw (left +), pitch (up +), roll of a unit quaternion, z-y-x order, in degrees."""
    norm = math.sqrt(w * w + x * x + y * y + z * z) or 1.0
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    yaw = math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
    pitch = -math.degrees(math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x)))))
    roll = math.degrees(math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y)))
    return yaw, pitch, roll


class HeadTracking:
    """An OSC server on 127.0.0.1:``port`` (0: any free port) feeding ``on_rotation``."""

    def __init__(self, on_rotation: Callable[[Rotation], None], port: int = 0) -> None:
        self.rotation: Rotation = (0.0, 0.0, 0.0)
        self._on_rotation = on_rotation
        dispatcher = Dispatcher()
        for index, name in enumerate(("yaw", "pitch", "roll")):
            dispatcher.map(f"/SceneRotator/{name}", self._one, index)
        dispatcher.map("/SceneRotator/ypr", self._ypr)
        dispatcher.map("/SceneRotator/quaternions", self._quaternion)
        self._server = ThreadingOSCUDPServer(("127.0.0.1", port), dispatcher)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _set(self, rotation: Rotation) -> None:
        self.rotation = rotation
        self._on_rotation(rotation)

    def _one(self, address: str, index: list[int], *values: float) -> None:
        if len(values) == 1 and isinstance(values[0], int | float):
            angles = list(self.rotation)
            angles[index[0]] = float(values[0])
            self._set((angles[0], angles[1], angles[2]))

    def _ypr(self, address: str, *values: float) -> None:
        if len(values) == 3 and all(isinstance(v, int | float) for v in values):
            self._set((float(values[0]), float(values[1]), float(values[2])))

    def _quaternion(self, address: str, *values: float) -> None:
        if len(values) == 4 and all(isinstance(v, int | float) for v in values):
            self._set(quaternion_to_ypr(*(float(v) for v in values)))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
