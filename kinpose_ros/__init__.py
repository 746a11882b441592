"""kinpose_ros: 3-D articulated pose from depth cameras, for ROS 2 and without it.

Importing the package is light: it pulls in neither torch nor rclpy. The ROS-free core lives in
:mod:`kinpose_ros.core`; networks in :mod:`kinpose_ros.nets`; ROS nodes in :mod:`kinpose_ros.ros`.
"""

__version__ = '0.1.0'
