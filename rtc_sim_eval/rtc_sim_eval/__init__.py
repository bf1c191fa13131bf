"""RTC on the simulated SO-100 task in simulated ticks, without ROS: the closed-loop evaluation
(`rtc_sim_eval`, driving the policy node's own InferenceScheduler) and the built-in policy's
demonstrations and training. The SO-100 lives here and in so100_driver, not in rtc_policy_node."""
