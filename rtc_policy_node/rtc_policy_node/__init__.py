"""Real-Time Chunking policy node for LeRobot flow-matching policies, robot-agnostic: the node, the
policy wrappers (LeRobot checkpoints, the built-in policy) and the policy side's core (guidance,
schedules, sampler, delay, inference scheduler). Needs torch; the arm side (rtc_executor) does not."""
