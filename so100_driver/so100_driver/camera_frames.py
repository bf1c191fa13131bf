"""What the simulated cameras share: the frame grid they publish on and the Image they publish.

No rclpy beyond the message type, so the camera nodes (sim_camera, twin) stay thin shells.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image


class FrameGrid:
    """Frames due every `period_s` on a fixed grid; a caller a period or more late starts a new grid
    at once instead of catching up in a burst."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.next_frame_at = 0.0

    def due(self, now: float) -> bool:
        """Whether a frame is due at monotonic time `now` (and, if so, the grid moves on)."""
        if now < self.next_frame_at:
            return False
        self.next_frame_at += self.period_s
        if self.next_frame_at <= now:
            self.next_frame_at = now + self.period_s
        return True


def image_message(pixels: np.ndarray, stamp, frame_id: str) -> Image:
    """An rgb8 sensor_msgs/Image of `pixels` (height, width, 3) uint8, stamped with the time it shows."""
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding="rgb8", is_bigendian=0,
                step=pixels.shape[1] * 3, data=pixels.tobytes())
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg
