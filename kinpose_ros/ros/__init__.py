"""kinpose_ros.ros."""
