"""kinpose_ros.inference."""
