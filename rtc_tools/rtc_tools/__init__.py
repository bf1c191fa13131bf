"""Tools around a run, none of them needed to drive the arm: record and play bags, the run report,
offline replay of every inference, figures, the LTTng trace report, the Foxglove server, link
emulation for two hosts and the policy profiler. Some stand in for ROS tools that only ship with ROS
from apt (`ros2 bag record/play`, `foxglove_bridge`); their docstrings say so."""
