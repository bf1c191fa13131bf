"""What the policy side and the arm side agree on, in plain Python (numpy; no rclpy, no torch): the
mode enums, topic names, chunk signatures and sources, seeded noise, joint vectors matched by name,
timing component names, image decoding and seam metrics. Both hosts of a two-host setup install it."""
