"""Real-Time Chunking policy node and executor node for LeRobot flow-matching policies, robot-agnostic,
with a pure RTC core (guidance, schedules, action queue, delay estimation, inference scheduler)."""
