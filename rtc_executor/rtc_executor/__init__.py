"""The arm side of Real-Time Chunking (numpy and rclpy, no torch): the executor node and its pure core
(action queue, command guard, chunk admission, chunk contract, interpolation, the executor's decisions).
It runs next to the arm, with the driver; the policy node may run on another host."""
