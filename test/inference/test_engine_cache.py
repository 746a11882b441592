"""Engine cache and sidecars (pure Python): keys, lookups and the messages of every mismatch."""
import json

import pytest

from kinpose_ros.inference.engine_cache import (
    EngineMismatchError,
    EngineSidecar,
    RuntimeInfo,
    cache_key,
    check_engine,
    default_cache_dir,
    engine_path,
    find_engine,
    sidecar_path,
)

ORIN = RuntimeInfo('10.3.0', 'Orin', '8.7')
SHA = 'a' * 64


def fake_engine(cache, runtime=ORIN, sha=SHA, precision='fp16', max_batch=4, **kw):
    """An engine file (arbitrary bytes: never deserialised here) and its sidecar."""
    path = engine_path(cache, 'a2j_body15', runtime, sha, precision, max_batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'not a real engine')
    side = EngineSidecar(runtime.tensorrt_version, runtime.gpu_name, runtime.compute_capability,
                         precision, sha, max_batch, 'a2j_body15.onnx',
                         inputs=[{'name': 'input', 'shape': [max_batch, 1, 160, 160],
                                  'dtype': 'DataType.FLOAT'}], **kw)
    side.save(sidecar_path(path))
    return path


def test_cache_key_changes_with_everything_that_binds_an_engine():
    base = cache_key(ORIN, SHA, 'fp16', 4)
    assert len(base) == 16 and base == cache_key(ORIN, SHA, 'fp16', 4)
    variants = [cache_key(RuntimeInfo('10.4.0', 'Orin', '8.7'), SHA, 'fp16', 4),
                cache_key(RuntimeInfo('10.3.0', 'RTX 4090', '8.9'), SHA, 'fp16', 4),
                cache_key(ORIN, 'b' * 64, 'fp16', 4), cache_key(ORIN, SHA, 'int8', 4),
                cache_key(ORIN, SHA, 'fp16', 8)]
    assert len({base, *variants}) == 6


def test_engine_path_and_lookup(tmp_path):
    path = engine_path(tmp_path, 'a2j_body15', ORIN, SHA, 'fp16', 4)
    assert path.parent == tmp_path and path.name.startswith('a2j_body15.fp16.b4.')
    assert path.suffix == '.engine' and sidecar_path(path).suffix == '.json'
    assert find_engine(tmp_path, 'a2j_body15', ORIN, SHA, 'fp16', 4) is None
    fake_engine(tmp_path)
    assert find_engine(tmp_path, 'a2j_body15', ORIN, SHA, 'fp16', 4) == path
    # another TensorRT finds nothing in the same cache: it builds its own entry
    assert find_engine(tmp_path, 'a2j_body15', RuntimeInfo('10.4.0', 'Orin', '8.7'), SHA,
                       'fp16', 4) is None
    with pytest.raises(ValueError, match='precision: expected one of'):
        engine_path(tmp_path, 'm', ORIN, SHA, 'bf16', 4)


def test_matching_engine_passes(tmp_path):
    path = fake_engine(tmp_path)
    side = check_engine(path, ORIN, SHA, 'models/a2j_body15.onnx', 'fp16', 2)
    assert side.max_batch == 4 and side.created  # save stamps the creation time
    assert EngineSidecar.load(sidecar_path(path)) == side


@pytest.mark.parametrize('runtime,sha,precision,batch,fragments', [
    (RuntimeInfo('10.7.0', 'Orin', '8.7'), SHA, 'fp16', 4,
     ["TensorRT version: engine built for '10.3.0', this process has '10.7.0'"]),
    (RuntimeInfo('10.3.0', 'NVIDIA GeForce RTX 4090', '8.9'), SHA, 'fp16', 4,
     ["GPU: engine built for 'Orin'", "compute capability: engine built for '8.7', this "
      "process has '8.9'"]),
    (ORIN, 'c' * 64, 'fp16', 4, ['ONNX sha256: engine built for']),
    (ORIN, SHA, 'fp32', 4, ["precision: engine built for 'fp16', this process has 'fp32'"]),
    (ORIN, SHA, 'fp16', 8, ['max batch: engine takes up to 4, 8 needed']),
])
def test_mismatch_messages_say_what_and_how_to_rebuild(tmp_path, runtime, sha, precision, batch,
                                                       fragments):
    path = fake_engine(tmp_path)
    with pytest.raises(EngineMismatchError) as info:
        check_engine(path, runtime, sha, 'models/a2j_body15.onnx', precision, batch, tmp_path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert 'kinpose build-engine --onnx models/a2j_body15.onnx' in message
    assert f'--cache-dir {tmp_path}' in message and 'rebuild=True' in message


def test_missing_or_broken_sidecar_is_never_loaded(tmp_path):
    path = fake_engine(tmp_path)
    sidecar_path(path).unlink()
    with pytest.raises(EngineMismatchError, match='has no sidecar .* not loaded'):
        check_engine(path, ORIN, SHA, 'm.onnx', 'fp16', 4)
    sidecar_path(path).write_text('{"format": "something-else"}')
    with pytest.raises(EngineMismatchError, match='cannot be read'):
        check_engine(path, ORIN, SHA, 'm.onnx', 'fp16', 4)
    with pytest.raises(EngineMismatchError, match='does not exist; rebuild it with'):
        check_engine(tmp_path / 'gone.engine', ORIN, SHA, 'm.onnx', 'fp16', 4)


def test_newer_sidecar_format_is_refused(tmp_path):
    path = fake_engine(tmp_path)
    data = json.loads(sidecar_path(path).read_text())
    data['format_version'] = 99
    sidecar_path(path).write_text(json.dumps(data))
    with pytest.raises(EngineMismatchError, match='format_version 99 is newer'):
        check_engine(path, ORIN, SHA, 'm.onnx', 'fp16', 4)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv('KINPOSE_ENGINE_CACHE', str(tmp_path / 'engines'))
    assert default_cache_dir() == tmp_path / 'engines'
    monkeypatch.delenv('KINPOSE_ENGINE_CACHE')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    assert default_cache_dir() == tmp_path / 'kinpose_ros' / 'engines'


def test_tensorrt_module_imports_without_tensorrt():
    from kinpose_ros.inference import tensorrt as trt_module

    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match='TensorRT is not importable.*docs/tensorrt.md'):
            trt_module.import_tensorrt()
    else:
        pytest.skip('tensorrt is installed here; the missing-module message is not reachable')
