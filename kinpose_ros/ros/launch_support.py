"""What the launch files compute, as plain tested Python (CI cannot run ``ros2 launch``).

``launch/pose.launch.py`` and ``launch/demo.launch.py`` only declare :data:`POSE_ARGUMENTS` /
:data:`DEMO_ARGUMENTS`, read their values, and turn each :class:`NodeSpec` returned by
:func:`pose_nodes` / :func:`demo_nodes` into a ``launch_ros.actions.Node``.

Launch argument values are strings; an empty string means "not given" (the parameter file
decides). Booleans accept true/false/1/0/yes/no/on/off.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = 'kinpose_ros'
DEMO_CAMERA_FRAME = 'camera_depth_optical_frame'
DEMO_BASE_FRAME = 'camera_link'

# (name, default, description)
POSE_ARGUMENTS = (
    ('config', '', 'parameter file of pose_node (default: the shipped config/pose.yaml)'),
    ('model', '', 'model file or card (default: from the config, else the shipped model)'),
    ('backend', '', 'auto | tensorrt | onnxruntime | onnxruntime-cuda | onnxruntime-cpu | '
                    'torch (default: from the config)'),
    ('depth_topic', '', 'depth image topic (default: from the config, depth/image_raw)'),
    ('camera_info_topic', '', 'CameraInfo topic (default: depth/camera_info)'),
    ('rgb_topic', '', 'RGB topic; giving one also enables RGB sync'),
    ('frame_prefix', '', 'prefix of every output frame id'),
    ('rep155', '', 'true: REP-155 (ROS4HRI) frame and topic names'),
    ('namespace', '', 'namespace of the node (and its relative topics)'),
    ('rviz', 'false', 'start RViz with rviz_config'),
    ('rviz_config', '', 'RViz configuration (default: the shipped config/kinpose.rviz)'),
)
DEMO_ARGUMENTS = (
    ('model', '', 'model file or card (default: the shipped model)'),
    ('backend', 'auto', 'inference backend'),
    ('source', 'synth', 'synth: generated people; files: depth files at path'),
    ('path', '', 'files source: folder or file of depth frames'),
    ('rate_hz', '30.0', 'camera frame rate'),
    ('hold_frames', '15', 'publish each synthetic scene this many times'),
    ('rviz', 'true', 'start RViz with the shipped config'),
)
_TRUE = ('true', '1', 'yes', 'on')
_FALSE = ('false', '0', 'no', 'off')


@dataclass
class NodeSpec:
    """Everything ``launch_ros.actions.Node`` needs, as plain data."""

    package: str
    executable: str
    name: str
    namespace: str = ''
    parameters: list = field(default_factory=list)   # parameter file paths and dicts
    remappings: list = field(default_factory=list)   # (from, to) pairs
    arguments: list = field(default_factory=list)

    def launch_kwargs(self) -> dict:
        """Keyword arguments of ``launch_ros.actions.Node``."""
        return dict(package=self.package, executable=self.executable, name=self.name,
                    namespace=self.namespace, parameters=self.parameters,
                    remappings=self.remappings, arguments=self.arguments, output='screen')


def parse_bool(value: str, name: str) -> bool | None:
    """'' -> None; true/false words -> bool.

    Raises:
        ValueError: any other text, naming the argument.
    """
    text = str(value).strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f'launch argument {name}:={value!r} is not a boolean (true or false)')


def share_file(relative: str) -> str:
    """Absolute path of a file shipped in the package share (``config/pose.yaml``, ...)."""
    from kinpose_ros.resources import find  # noqa: PLC0415

    return str(find(relative))


def pose_overrides(values: dict[str, str]) -> dict:
    """Launch argument values -> pose_node parameter overrides (only those given)."""
    out: dict = {}
    for arg, name in (('model', 'model'), ('backend', 'backend'),
                      ('depth_topic', 'topics.depth'), ('camera_info_topic',
                                                        'topics.camera_info'),
                      ('rgb_topic', 'topics.rgb'), ('frame_prefix', 'frames.prefix')):
        if values.get(arg, ''):
            out[name] = values[arg]
    if values.get('rgb_topic', ''):
        out['topics.use_rgb'] = True
    rep155 = parse_bool(values.get('rep155', ''), 'rep155')
    if rep155 is not None:
        out['frames.rep155'] = rep155
    if out:  # values must pass the schema (fail at launch, not in the node)
        from kinpose_ros.ros.params import params_from_dict  # noqa: PLC0415

        params_from_dict(out)
    return out


def rviz_node(config: str = '') -> NodeSpec:
    return NodeSpec('rviz2', 'rviz2', 'rviz2',
                    arguments=['-d', config or share_file('config/kinpose.rviz')])


def pose_nodes(values: dict[str, str]) -> list[NodeSpec]:
    """Nodes of ``pose.launch.py``: pose_node (+ RViz)."""
    config = values.get('config', '') or share_file('config/pose.yaml')
    if not Path(config).is_file():
        raise FileNotFoundError(f'launch argument config:={config} is not a file')
    params: list = [config]
    overrides = pose_overrides(values)
    if overrides:
        params.append(overrides)
    nodes = [NodeSpec(PACKAGE, 'pose_node', 'pose_node', namespace=values.get('namespace', ''),
                      parameters=params)]
    if parse_bool(values.get('rviz', 'false'), 'rviz'):
        nodes.append(rviz_node(values.get('rviz_config', '')))
    return nodes


def demo_camera_parameters(values: dict[str, str]) -> dict:
    """synthetic_camera_node parameters of the demo."""
    params = {'source': values.get('source', '') or 'synth',
              'rate_hz': float(values.get('rate_hz', '') or 30.0),
              'hold_frames': int(values.get('hold_frames', '') or 15),
              'frame_id': DEMO_CAMERA_FRAME, 'base_frame': DEMO_BASE_FRAME}
    if values.get('path', ''):
        params['path'] = values['path']
    from kinpose_ros.ros.params import params_from_dict  # noqa: PLC0415
    from kinpose_ros.ros.synthetic_camera_node import CameraParams  # noqa: PLC0415

    params_from_dict(params, CameraParams)
    return params


def demo_nodes(values: dict[str, str]) -> list[NodeSpec]:
    """Nodes of ``demo.launch.py``: synthetic camera + pose node (+ RViz).

    No robot_state_publisher: pose_node already publishes every link of the skeleton URDF on TF
    (RViz RobotModel uses TF prefix ``person_<id>``); a robot_state_publisher fed with the same
    JointState would publish those frames a second time.
    """
    camera = NodeSpec(PACKAGE, 'synthetic_camera_node', 'synthetic_camera',
                      parameters=[demo_camera_parameters(values)])
    pose_values = {k: values.get(k, '') for k in ('model', 'backend')}
    pose = pose_nodes({**pose_values, 'rviz': 'false'})[0]
    nodes = [camera, pose]
    if parse_bool(values.get('rviz', 'true'), 'rviz'):
        nodes.append(rviz_node())
    return nodes
