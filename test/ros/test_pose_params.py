"""The parameter schema, config/pose.yaml and the ROS declaration stay in step."""
from pathlib import Path

import pytest
import rclpy
import yaml
from rcl_interfaces.msg import ParameterType
from rclpy.exceptions import InvalidParameterValueException
from rclpy.parameter import Parameter

from kinpose_ros.ros.params import (
    PoseParams,
    check_value,
    declare_and_read,
    defaults,
    flatten_yaml,
    load_yaml,
    parameter_specs,
    params_from_dict,
    schema_yaml,
)

CONFIG = Path(__file__).resolve().parents[2] / 'config' / 'pose.yaml'


def test_config_file_matches_schema():
    flat = flatten_yaml(yaml.safe_load(CONFIG.read_text()))
    specs = {s.name: s for s in parameter_specs()}
    assert sorted(flat) == sorted(specs), 'config/pose.yaml and the schema name different keys'
    for name, value in flat.items():
        assert type(value) is specs[name].type, f'{name}: {type(value).__name__} in the file'
        assert value == specs[name].default, f'{name}: file {value!r} != default'
    assert load_yaml(CONFIG) == PoseParams()
    assert CONFIG.read_text() == schema_yaml(), 'regenerate: python -m kinpose_ros.ros.params'


def test_schema_is_complete_and_typed():
    specs = parameter_specs()
    names = [s.name for s in specs]
    for required in ('model', 'backend', 'max_people', 'topics.depth', 'topics.camera_info',
                     'topics.rgb', 'frames.prefix', 'frames.rep155', 'filter.enabled',
                     'publish.tf', 'publish.joint_states', 'publish.markers', 'publish.urdf',
                     'publish.overlay', 'publish.diagnostics', 'queue.depth'):
        assert required in names
    assert len(set(names)) == len(names)
    for s in specs:
        assert s.description, s.name
        assert s.type in (bool, int, float, str)
        if s.range is not None:
            assert s.type in (int, float) and s.range[0] <= s.default <= s.range[1], s.name
        check_value(s, s.default)


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="'max_people' = 0 is outside"):
        params_from_dict({'max_people': 0})
    with pytest.raises(ValueError, match="'backend' = 'cuda' is not one of"):
        params_from_dict({'backend': 'cuda'})
    with pytest.raises(ValueError, match="'publish.tf' must be bool"):
        params_from_dict({'publish.tf': 1})
    with pytest.raises(ValueError, match='unknown parameters'):
        params_from_dict({'publish.everything': True})
    assert params_from_dict({'sync.slop_s': 0}).sync.slop_s == 0.0  # int widened to float


@pytest.mark.ros
def test_declared_on_a_node_with_descriptors_and_overrides():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        node = rclpy.create_node(
            'kinpose_params_test', context=ctx,
            parameter_overrides=[Parameter('max_people', value=7),
                                 Parameter('frames.prefix', value='k/')])
        params = declare_and_read(node)
        assert params.max_people == 7 and params.frames.prefix == 'k/'
        assert params.publish == PoseParams().publish
        desc = node.describe_parameter('max_people')
        assert desc.type == ParameterType.PARAMETER_INTEGER and desc.read_only
        assert (desc.integer_range[0].from_value, desc.integer_range[0].to_value) == (1, 32)
        desc = node.describe_parameter('sync.slop_s')
        assert desc.floating_point_range[0].to_value == 1.0
        assert 'approximate time sync' in desc.description
        assert set(node._parameters) >= set(defaults())  # noqa: SLF001
        node.destroy_node()
        bad = rclpy.create_node('kinpose_params_bad', context=ctx,
                                parameter_overrides=[Parameter('max_people', value=99)])
        with pytest.raises(InvalidParameterValueException):
            declare_and_read(bad)
        bad.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


def test_backend_choices_are_the_estimators():
    from kinpose_ros.inference.backends import BACKEND_KINDS
    from kinpose_ros.ros.params import BACKENDS
    assert BACKENDS == BACKEND_KINDS
