"""kinpose_ros.nets."""
