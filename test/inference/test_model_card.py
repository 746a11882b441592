"""Model card schema: round trip, and validation errors that name field, expectation and value."""
import json

import pytest

from kinpose_ros.inference.model_card import (
    InputSpec,
    ModelCard,
    ModelCardError,
    card_path_for,
    family_outputs,
)


def a2j_card(**kw) -> ModelCard:
    fields = dict(name='m', family='a2j', skeleton='body15',
                  input=InputSpec(height=64, width=64), outputs=family_outputs('a2j', 15, 22))
    fields.update(kw)
    return ModelCard(**fields)


def test_family_defaults_and_round_trip(tmp_path):
    card = a2j_card()
    assert (card.decode, card.angles) == ('uvz_crop', 'ik')
    kin = ModelCard(name='k', family='kinematic', skeleton='body15', input=InputSpec(),
                    outputs=family_outputs('kinematic', 15, 22))
    assert (kin.decode, kin.angles) == ('xyz_crop_centre', 'native')
    path = card.save(tmp_path / 'm.json')
    loaded = ModelCard.load(tmp_path / 'm.onnx')  # the card beside the ONNX file
    assert loaded == card
    assert loaded.onnx_path == tmp_path / 'm.onnx'
    assert loaded.output('uv').shape == ['batch', 15, 2]
    assert json.loads(path.read_text())['format'] == 'kinpose-model-card'


def test_exported_cards_validate(small_models):
    for family, files in small_models.items():
        card = ModelCard.load(files['card'])
        assert card.family == family
        assert card.onnx_path == files['onnx'] and len(card.onnx_sha256) == 64
        assert card.input_size == tuple(card.model_config['input_size'])


@pytest.mark.parametrize('change,message', [
    (dict(family='resnet'), "family: expected one of ('a2j', 'kinematic', 'lite', "
                            "'direct_joint'), got 'resnet'"),
    (dict(input=InputSpec(height=-64)), 'input.height: expected a positive int, got -64'),
    (dict(outputs=family_outputs('a2j', 15, 22)[:2]), "missing ['confidence']"),
    (dict(outputs=family_outputs('a2j', 17, 22)), "outputs[0] (uv).shape: expected "
                                                  "['batch', *[15, 2]] for skeleton body15"),
    (dict(skeleton='no_such_skeleton'), 'skeleton: cannot be loaded'),
    (dict(batch={'dynamic': True, 'max': 0}), "batch: expected {'dynamic': bool, 'max': "
                                              "positive int}"),
    (dict(format_version=0), 'format_version: expected an int in 1..2'),
])
def test_validation_names_the_problem(change, message):
    card = a2j_card(**change)
    with pytest.raises(ModelCardError) as info:
        card.validate()
    assert message in str(info.value)


def test_all_problems_reported_at_once():
    card = a2j_card(family='x', input=InputSpec(channels=0, height=0))
    problems = card.problems()
    assert any(p.startswith('family:') for p in problems)
    assert any(p.startswith('input.channels:') for p in problems)
    assert any(p.startswith('input.height:') for p in problems)


def test_load_errors(tmp_path):
    with pytest.raises(ModelCardError, match='does not exist.*kinpose export writes it'):
        ModelCard.load(tmp_path / 'missing.onnx')
    (tmp_path / 'bad.json').write_text('{not json')
    with pytest.raises(ModelCardError, match='not valid JSON'):
        ModelCard.load(tmp_path / 'bad.json')
    data = a2j_card().to_dict()
    data['colour'] = 'blue'
    (tmp_path / 'extra.json').write_text(json.dumps(data))
    with pytest.raises(ModelCardError, match="unexpected keyword argument 'colour'"):
        ModelCard.load(tmp_path / 'extra.json')
    data = a2j_card().to_dict()
    del data['skeleton']
    (tmp_path / 'noskel.json').write_text(json.dumps(data))
    with pytest.raises(ModelCardError, match=r"missing required fields \['skeleton'\]"):
        ModelCard.load(tmp_path / 'noskel.json')


def test_inline_skeleton_and_unknown_units():
    from kinpose_ros.core.skeleton import Skeleton

    sk = Skeleton.load('toy_level1')
    outs = family_outputs('direct_joint', sk.num_joints, sk.num_dofs)
    card = ModelCard(name='t', family='direct_joint', skeleton=sk.to_dict(), input=InputSpec(),
                     outputs=outs)
    assert card.validate().load_skeleton().num_joints == sk.num_joints
    outs[0].unit = 'furlong'
    assert any('unit: expected one of' in p for p in card.problems())


def test_card_path_for():
    assert card_path_for('models/a.onnx').name == 'a.json'
    assert card_path_for('x/a.json').name == 'a.json'


def test_newer_card_is_refused_with_a_message_before_its_unknown_keys():
    from kinpose_ros.inference.model_card import CARD_VERSION, ModelCard, ModelCardError

    data = ModelCard.load('models/a2j_body15.json').to_dict()
    data.update(format_version=CARD_VERSION + 1, some_future_field=1)
    with pytest.raises(ModelCardError, match='newer than this kinpose_ros reads'):
        ModelCard.from_dict(data)
