"""ros2 launch kinpose_ros pose.launch.py [model:=...] [depth_topic:=...] [rviz:=true] ...

Thin: the arguments and the nodes they produce are kinpose_ros.ros.launch_support (tested).
"""
from launch import LaunchDescription  # noqa: I001 (ruff takes launch/ for first-party)
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from kinpose_ros.ros import launch_support


def _nodes(context):
    values = {name: LaunchConfiguration(name).perform(context)
              for name, _, _ in launch_support.POSE_ARGUMENTS}
    return [Node(**spec.launch_kwargs()) for spec in launch_support.pose_nodes(values)]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=text)
          for name, default, text in launch_support.POSE_ARGUMENTS),
        OpaqueFunction(function=_nodes),
    ])
