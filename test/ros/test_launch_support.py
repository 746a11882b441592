"""Launch files stay thin; what they compute (launch_support) is tested here directly.

The launch files themselves are imported only where the real ``launch`` / ``launch_ros``
packages exist (a sourced ROS install): the PyPI wheels have none, and the repository's own
``launch/`` folder makes a bare ``import launch`` succeed as an empty namespace package.
"""
import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

from kinpose_ros.ros import launch_support as ls
from kinpose_ros.ros.person_frames import FrameNaming

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILES = ('pose.launch.py', 'demo.launch.py')


def test_pose_nodes_defaults_and_overrides():
    [node] = ls.pose_nodes({})
    assert (node.package, node.executable, node.name) == ('kinpose_ros', 'pose_node',
                                                           'pose_node')
    assert node.parameters == [str(REPO / 'config' / 'pose.yaml')]
    nodes = ls.pose_nodes({'model': '/m/a.onnx', 'backend': 'onnxruntime-cpu',
                           'depth_topic': '/cam/depth', 'rgb_topic': '/cam/rgb',
                           'frame_prefix': 'kp/', 'rep155': 'True', 'rviz': 'yes',
                           'namespace': 'robot1'})
    pose, rviz = nodes
    assert pose.namespace == 'robot1'
    assert pose.parameters[1] == {'model': '/m/a.onnx', 'backend': 'onnxruntime-cpu',
                                  'topics.depth': '/cam/depth', 'topics.rgb': '/cam/rgb',
                                  'topics.use_rgb': True, 'frames.prefix': 'kp/',
                                  'frames.rep155': True}
    assert rviz.executable == 'rviz2'
    assert rviz.arguments == ['-d', str(REPO / 'config' / 'kinpose.rviz')]
    kwargs = pose.launch_kwargs()
    assert kwargs['output'] == 'screen' and kwargs['executable'] == 'pose_node'


def test_bad_launch_arguments_are_named():
    with pytest.raises(ValueError, match="'backend' = 'gpu' is not one of"):
        ls.pose_nodes({'backend': 'gpu'})
    with pytest.raises(ValueError, match="rviz:='maybe' is not a boolean"):
        ls.pose_nodes({'rviz': 'maybe'})
    with pytest.raises(FileNotFoundError, match='config:=/nope.yaml'):
        ls.pose_nodes({'config': '/nope.yaml'})
    with pytest.raises(ValueError, match="'source' = 'webcam'"):
        ls.demo_nodes({'source': 'webcam'})


def test_demo_nodes():
    camera, pose, rviz = ls.demo_nodes({'rate_hz': '15', 'backend': 'onnxruntime-cpu'})
    assert camera.executable == 'synthetic_camera_node'
    params = camera.parameters[0]
    assert params['rate_hz'] == 15.0 and params['frame_id'] == ls.DEMO_CAMERA_FRAME
    assert params['base_frame'] == ls.DEMO_BASE_FRAME
    assert pose.parameters[1] == {'backend': 'onnxruntime-cpu'}
    assert rviz.executable == 'rviz2'
    assert len(ls.demo_nodes({'rviz': 'false'})) == 2


def test_rviz_config_matches_the_demo():
    text = (REPO / 'config' / 'kinpose.rviz').read_text()
    cfg = yaml.safe_load(text)['Visualization Manager']
    assert cfg['Global Options']['Fixed Frame'] == ls.DEMO_BASE_FRAME
    displays = {d['Class'].split('/')[-1]: d for d in cfg['Displays']}
    assert {'TF', 'MarkerArray', 'RobotModel', 'Image', 'Grid'} <= set(displays)
    robot = displays['RobotModel']
    assert robot['TF Prefix'] == FrameNaming().tf_prefix(0)
    assert robot['Description Topic']['Value'] == '/robot_description'
    assert robot['Description Topic']['Durability Policy'] == 'Transient Local'  # latched URDF
    topics = {d['Topic']['Value'] for d in cfg['Displays'] if 'Topic' in d}
    assert {'/markers', '/ground_truth/joints', '/depth/image_raw'} <= topics


@pytest.mark.parametrize('name', LAUNCH_FILES)
def test_launch_files_are_thin(name):
    """Only declarations and wiring: every name they compute with comes from launch_support."""
    tree = ast.parse((REPO / 'launch' / name).read_text())
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert 'launch_support' in imports
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions == ['_nodes', 'generate_launch_description']
    assert sum(1 for _ in ast.walk(tree)) < 200


def _real_launch() -> bool:
    for pkg in ('launch', 'launch_ros'):
        spec = importlib.util.find_spec(pkg)
        if spec is None or spec.origin is None:  # absent, or only our launch/ folder
            return False
    return True


@pytest.mark.parametrize('name', LAUNCH_FILES)
def test_launch_files_import_with_ros_launch(name):
    if not _real_launch():
        pytest.skip('launch / launch_ros are not installed (no PyPI wheels; needs a sourced '
                    'ROS 2 install)')
    from launch import LaunchDescription  # noqa: I001 (ruff takes launch/ for first-party)
    from launch.actions import DeclareLaunchArgument
    spec = importlib.util.spec_from_file_location(name.replace('.', '_'), REPO / 'launch' / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    desc = module.generate_launch_description()
    assert isinstance(desc, LaunchDescription)
    declared = [e.name for e in desc.entities if isinstance(e, DeclareLaunchArgument)]
    expected = ls.POSE_ARGUMENTS if name.startswith('pose') else ls.DEMO_ARGUMENTS
    assert declared == [n for n, _, _ in expected]
