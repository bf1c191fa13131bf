"""Shared by every rtc-ros2 node, owned by no robot and no policy (one implementation each):
real-time scheduling (`scheduling`), the fixed-rate loop (`deadline_loop`), and later the node
lifecycle and /diagnostics helpers."""
