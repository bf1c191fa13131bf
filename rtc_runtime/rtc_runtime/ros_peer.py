"""A test's own ROS node beside the nodes under test: its own rclpy context, spun by a daemon thread.

    class Viewer(RosPeer):
        def __init__(self):
            super().__init__("camera_test_viewer")
            self.images = []
            self.node.create_subscription(Image, "camera/front/image_raw", self._on_image, 10)
            self.spin()  # once every publisher and subscription exists

Callbacks store what arrives under `self.lock` (re-entrant); `wait_for(condition)` polls the
condition under it. Used by the packages' tests and bench scripts; rclpy is imported when a peer is
made, so importing this module costs nothing.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

SPIN_TIMEOUT_S = 0.05


class RosPeer:
    """A node in a context of its own (the test's rclpy.init never touches the default context)."""

    def __init__(self, name: str) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.lock = threading.RLock()
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=f"{name}_spin", daemon=True)

    def spin(self) -> None:
        """Start delivering callbacks (call at the end of the subclass's __init__)."""
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            while self.context.ok():
                self.executor.spin_once(timeout_sec=SPIN_TIMEOUT_S)
        except ExternalShutdownException:
            pass

    def wait_for(self, condition: Callable[[], bool], timeout: float, every_poll: Callable[[], None] | None = None,
                 poll_s: float = 0.05) -> bool:
        """Whether `condition` (checked under the lock) held within `timeout` s; `every_poll` runs before
        each check (e.g. to keep publishing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if every_poll is not None:
                every_poll()
            with self.lock:
                if condition():
                    return True
            time.sleep(poll_s)
        return False

    def close(self) -> None:
        import rclpy

        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        if self._thread.ident is not None:
            self._thread.join(timeout=2.0)
