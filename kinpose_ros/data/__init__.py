"""kinpose_ros.data."""
