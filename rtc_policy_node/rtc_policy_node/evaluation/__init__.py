"""Closed-loop evaluation of RTC on the simulated SO-100 task, in simulated ticks and without ROS."""
