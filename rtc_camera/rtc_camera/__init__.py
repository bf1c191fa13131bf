"""OpenCV cameras as ROS 2 image topics (docs/real_arm.md, "Cameras")."""
