"""kinpose_ros.core."""
