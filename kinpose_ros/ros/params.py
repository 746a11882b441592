"""The pose node's parameters: ONE typed schema, declared once, read once.

The schema is the frozen dataclass :class:`PoseParams` (nested groups become dotted ROS names:
``publish.tf``); each field carries its default, description and range or choices, so the ROS
``ParameterDescriptor`` (type, description, range, read-only), the typed object the node reads,
and ``config/pose.yaml`` all come from this one place (as generate_parameter_library does, without
the code generation). ``python -m kinpose_ros.ros.params > config/pose.yaml`` rewrites the file;
a test keeps file and schema in step.

All parameters are read once at start-up (``read_only``): change them with ``--ros-args
--params-file`` / ``-p`` or in the launch file, not at run time. Ranges are enforced by rclpy
when the node declares them; string choices by :func:`read_params`.
"""
from __future__ import annotations

import dataclasses
import textwrap
import typing
from dataclasses import dataclass, field
from typing import Any

# ROS parameter files address nodes by name; '/**' matches the node whatever it is called.
YAML_NODE_KEY = '/**'
# kinpose_ros.inference.backends.BACKEND_KINDS (a test keeps the two equal)
BACKENDS = ('auto', 'tensorrt', 'onnxruntime', 'onnxruntime-cuda', 'onnxruntime-cpu', 'torch')


def param(default: Any, description: str, *, range: tuple | None = None,  # noqa: A002
          choices: tuple = ()) -> Any:
    """A schema field: default, one-line description, inclusive ``(min, max)`` or choices."""
    return field(default=default, metadata={'description': description, 'range': range,
                                            'choices': tuple(choices)})


@dataclass(frozen=True)
class TopicParams:
    depth: str = param('depth/image_raw', 'depth image topic (sensor_msgs/Image 16UC1 mm or '
                       '32FC1 m); relative, so namespaces and remapping apply')
    camera_info: str = param('depth/camera_info', 'CameraInfo of the depth image')
    rgb: str = param('rgb/image_raw', 'optional colour image (registered to the depth image), '
                     'used for the overlay when use_rgb is true')
    use_rgb: bool = param(False, 'also subscribe to the rgb topic and sync it with the depth')


@dataclass(frozen=True)
class SyncParams:
    slop_s: float = param(0.02, 'approximate time sync: max stamp spread of a depth/CameraInfo'
                          '(/RGB) set, seconds', range=(0.0, 1.0))
    queue_size: int = param(10, 'messages kept per input while waiting for a match',
                            range=(1, 100))


@dataclass(frozen=True)
class DepthParams:
    invalid_value: int = param(0, 'extra raw 16UC1 value meaning "no depth" (e.g. 65535); 0 = '
                               'none besides 0', range=(0, 65535))
    unit_m: float = param(0.0, 'metres per raw 16UC1 unit; 0 = from the encoding (16UC1 mm, '
                          '32FC1 m); SR305 streams use 0.000125', range=(0.0, 1.0))
    max_pixels: int = param(16777216, 'larger images are refused with a warning (corrupt '
                            'headers, wrong topic)', range=(1, 268435456))


@dataclass(frozen=True)
class FrameParams:
    prefix: str = param('', 'prepended to every output frame id, e.g. "kinpose/"')
    rep155: bool = param(False, 'REP-155 (ROS4HRI) naming: body_<id> and <joint>_<id> frames, '
                         'per-body humans/bodies/<id>/joint_states; else <prefix>person_<id>/'
                         '<joint>')


@dataclass(frozen=True)
class FilterParams:
    enabled: bool = param(True, 'One-Euro smoothing of joints, root pose, angles and scale per '
                          'tracked person (velocities are differences of the smoothed angles)')
    position_min_cutoff_hz: float = param(1.5, 'positions: cut-off at rest (lower = smoother, '
                                          'more lag)', range=(0.01, 100.0))
    position_beta: float = param(0.5, 'positions: cut-off increase with speed (higher = less '
                                 'lag when moving)', range=(0.0, 100.0))
    angle_min_cutoff_hz: float = param(1.5, 'angles: cut-off at rest', range=(0.01, 100.0))
    angle_beta: float = param(0.3, 'angles: cut-off increase with speed', range=(0.0, 100.0))
    derivative_cutoff_hz: float = param(1.0, 'cut-off of the speed estimate',
                                        range=(0.01, 100.0))


@dataclass(frozen=True)
class TrackingParams:
    gate_m: float = param(0.6, 'a person is the same track if its centroid moved less than '
                          'this since the last frame, metres', range=(0.05, 5.0))
    max_age_s: float = param(0.5, 'a track unseen this long ends (its id is not reused)',
                             range=(0.0, 60.0))


@dataclass(frozen=True)
class PublishParams:
    tf: bool = param(True, 'TF frames of every joint of every person on /tf')
    joint_states: bool = param(True, 'sensor_msgs/JointState per person on joint_states')
    markers: bool = param(True, 'visualization_msgs/MarkerArray of joints and bones on markers')
    urdf: bool = param(True, 'the skeleton URDF once, latched, on robot_description')
    overlay: bool = param(False, 'skeleton drawn on the RGB or colourised depth, on '
                          'overlay/image_raw (costs a few ms per frame)')
    diagnostics: bool = param(True, 'diagnostic_msgs on /diagnostics: rates, latency per '
                              'stage, dropped frames, bad input')


@dataclass(frozen=True)
class MarkerParams:
    joint_diameter_m: float = param(0.06, 'sphere diameter of a fully confident joint, metres',
                                    range=(0.005, 0.5))
    lifetime_s: float = param(0.5, 'markers vanish this long after the last update (0 = '
                              'never)', range=(0.0, 60.0))


@dataclass(frozen=True)
class QueueParams:
    depth: int = param(1, 'synced frames waiting for the inference thread; when full the '
                       'OLDEST is dropped (and counted), so the newest frame is processed next',
                       range=(1, 10))


@dataclass(frozen=True)
class PoseParams:
    """All parameters of ``pose_node`` (nested groups = dotted names)."""

    model: str = param('', 'model file (.onnx, .pt, .engine) or its card (.json); empty = the '
                       'shipped default models/a2j_body15.onnx')
    backend: str = param('auto', 'inference backend', choices=BACKENDS)
    max_people: int = param(4, 'at most this many people per frame (nearest first)',
                            range=(1, 32))
    min_person_score: float = param(-1.0, 'drop a person whose network confidence x surface '
                                    'agreement x proposal score is below this (phantom people '
                                    "on furniture); 0 keeps all, negative = the model card's "
                                    'person_score_threshold', range=(-1.0, 1.0))
    cell_model: str = param('none', 'person-cell classifier of the segmenter: cuts walls '
                            'and furniture off the people touching them and splits or joins '
                            'people by the centres its cells vote for (98 % of people found '
                            'instead of 97 %, 4x fewer phantoms, +0.7 ms per 320x240 frame); '
                            "'default' = the shipped models/person_cells.json, a card .json, "
                            "or 'none' = depth rules only")
    cell_mode: str = param('gate', "with cell_model: 'gate' = segment only the cells it "
                           "keeps; 'union' = also the depth rules on every cell, adding the "
                           'people it lost (most people found at low resolution, +0.6 ms more '
                           'per 320x240 frame)', choices=('gate', 'union'))
    threads: int = param(0, 'CPU threads of the inference backend; 0 = its default',
                         range=(0, 256))
    warn_throttle_s: float = param(5.0, 'the same input problem is reported at most once per '
                                   'this period', range=(0.1, 3600.0))
    camera_info_timeout_s: float = param(2.0, 'warn when depth arrives but no matching '
                                         'CameraInfo for this long', range=(0.1, 3600.0))
    topics: TopicParams = TopicParams()
    sync: SyncParams = SyncParams()
    depth: DepthParams = DepthParams()
    frames: FrameParams = FrameParams()
    filter: FilterParams = FilterParams()
    tracking: TrackingParams = TrackingParams()
    publish: PublishParams = PublishParams()
    markers: MarkerParams = MarkerParams()
    queue: QueueParams = QueueParams()


@dataclass(frozen=True)
class ParamSpec:
    """One flattened schema entry."""

    name: str           # dotted ROS name
    type: type          # bool, int, float or str
    default: Any
    description: str
    range: tuple | None
    choices: tuple


def _walk(cls: type, prefix: str = '') -> typing.Iterator[ParamSpec]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            yield from _walk(kind, f'{prefix}{f.name}.')
            continue
        meta = f.metadata
        yield ParamSpec(f'{prefix}{f.name}', kind, f.default, meta['description'],
                        meta['range'], meta['choices'])


def parameter_specs(cls: type = PoseParams) -> list[ParamSpec]:
    """The flattened schema, in declaration order."""
    return list(_walk(cls))


def defaults(cls: type = PoseParams) -> dict[str, Any]:
    """``{dotted name: default}``."""
    return {s.name: s.default for s in parameter_specs(cls)}


def check_value(spec: ParamSpec, value: Any) -> Any:
    """Validate one value against its spec; returns it (ints widened to float for floats).

    Raises:
        ValueError: wrong type, outside the range, or not one of the choices; the message names
            the parameter, what was expected and what was found.
    """
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not spec.type:
        raise ValueError(f'parameter {spec.name!r} must be {spec.type.__name__}, got '
                         f'{type(value).__name__} {value!r}')
    if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
        raise ValueError(f'parameter {spec.name!r} = {value!r} is outside '
                         f'[{spec.range[0]}, {spec.range[1]}]')
    if spec.choices and value not in spec.choices:
        raise ValueError(f'parameter {spec.name!r} = {value!r} is not one of '
                         f'{", ".join(map(repr, spec.choices))}')
    return value


def params_from_dict(values: dict[str, Any], cls: type = PoseParams) -> PoseParams:
    """Build the typed object from ``{dotted name: value}`` (missing names take defaults).

    Raises:
        ValueError: unknown names, or values failing :func:`check_value`.
    """
    specs = {s.name: s for s in parameter_specs(cls)}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise ValueError(f'unknown parameters {unknown}; known: {sorted(specs)}')
    checked = {n: check_value(s, values.get(n, s.default)) for n, s in specs.items()}
    return _build(cls, checked, '')


def _build(cls: type, flat: dict, prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            kwargs[f.name] = _build(kind, flat, f'{prefix}{f.name}.')
        else:
            kwargs[f.name] = flat[f'{prefix}{f.name}']
    return cls(**kwargs)


# ----------------------------------------------------------------------------- ROS side
def descriptor(spec: ParamSpec):
    """``rcl_interfaces/ParameterDescriptor`` of one spec (type, description, range)."""
    from rcl_interfaces.msg import (  # noqa: PLC0415 - keep the schema importable without ROS
        FloatingPointRange,
        IntegerRange,
        ParameterDescriptor,
        ParameterType,
    )

    types = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    desc = ParameterDescriptor(name=spec.name, type=types[spec.type],
                               description=spec.description, read_only=True)
    if spec.range is not None and spec.type is float:
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(spec.range[0]), to_value=float(spec.range[1]), step=0.0)]
    elif spec.range is not None and spec.type is int:
        desc.integer_range = [IntegerRange(
            from_value=int(spec.range[0]), to_value=int(spec.range[1]), step=1)]
    if spec.choices:
        desc.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    return desc


def declare_and_read(node, cls: type = PoseParams) -> PoseParams:
    """Declare every parameter on ``node`` (with descriptors) and return the typed values.

    Overrides from ``--params-file`` / ``-p`` are applied by rclpy at declaration; rclpy rejects
    wrong types and out-of-range values there, :func:`params_from_dict` the rest.
    """
    values = {}
    for spec in parameter_specs(cls):
        p = node.declare_parameter(spec.name, spec.default, descriptor(spec))
        values[spec.name] = p.value
    return params_from_dict(values, cls)


# ----------------------------------------------------------------------------- YAML
def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def schema_yaml(cls: type = PoseParams) -> str:
    """``config/pose.yaml`` text: every parameter at its default, descriptions as comments."""
    lines = ['# pose_node parameters. Generated from kinpose_ros/ros/params.py',
             '# (python -m kinpose_ros.ros.params > config/pose.yaml); test/ros/test_params.py',
             '# keeps the two in step. Floats must stay floats (1.0, not 1).',
             f"'{YAML_NODE_KEY}':", '  ros__parameters:']
    open_groups: list[str] = []
    for spec in parameter_specs(cls):
        *groups, leaf = spec.name.split('.')
        common = 0
        while common < min(len(groups), len(open_groups)) and \
                groups[common] == open_groups[common]:
            common += 1
        for depth, group in enumerate(groups[common:], start=common):
            lines.append('    ' + '  ' * depth + f'{group}:')
        open_groups = groups
        indent = '    ' + '  ' * len(groups)
        extra = ''
        if spec.range is not None:
            extra = f' [{spec.range[0]}, {spec.range[1]}]'
        elif spec.choices:
            extra = ' (' + ' | '.join(spec.choices) + ')'
        lines += textwrap.wrap(spec.description + extra, 99, initial_indent=f'{indent}# ',
                               subsequent_indent=f'{indent}#   ')
        lines.append(f'{indent}{leaf}: {_yaml_scalar(spec.default)}')
    return '\n'.join(lines) + '\n'


def flatten_yaml(data: dict, node_key: str = YAML_NODE_KEY) -> dict[str, Any]:
    """A ROS parameter file's dict -> ``{dotted name: value}`` for ``node_key``."""
    try:
        tree = data[node_key]['ros__parameters']
    except (KeyError, TypeError) as exc:
        raise ValueError(f'parameter file has no {node_key!r}: ros__parameters: section') \
            from exc
    flat: dict[str, Any] = {}

    def walk(d: dict, prefix: str) -> None:
        for key, value in d.items():
            if isinstance(value, dict):
                walk(value, f'{prefix}{key}.')
            else:
                flat[f'{prefix}{key}'] = value
    walk(tree, '')
    return flat


def load_yaml(path) -> PoseParams:
    """Typed parameters from a ROS parameter file such as ``config/pose.yaml``."""
    import yaml  # noqa: PLC0415

    with open(path, encoding='utf-8') as f:
        return params_from_dict(flatten_yaml(yaml.safe_load(f)))


if __name__ == '__main__':
    print(schema_yaml(), end='')
