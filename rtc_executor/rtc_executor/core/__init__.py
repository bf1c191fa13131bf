"""The executor's pure core (no rclpy): action queue, command guard, chunk admission, chunk contract,
interpolation and the per-tick decisions (`executor_core`). Import each from its module."""
