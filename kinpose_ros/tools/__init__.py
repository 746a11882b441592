"""kinpose_ros.tools."""
