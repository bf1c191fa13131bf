"""The policy side's pure RTC core (no rclpy): guidance, prefix schedules, the flow sampler, delay
estimation, the executor's clock as the policy sees it, frame clock, chunk history, the inference
scheduler and the mode choice. Import each from its module (`rtc_policy_node.core.guidance`)."""
