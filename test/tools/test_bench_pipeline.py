"""``kinpose bench pipeline``: runs end to end and reports the figures docs/benchmarks.md uses."""
import json

import torch

from kinpose_ros.inference.model_export import export_model, random_model
from kinpose_ros.tools.cli import main


def test_bench_pipeline_reports_stages_and_throughput(tmp_path, capsys):
    torch.set_num_threads(1)
    model, config, sk = random_model('a2j', input_size=(64, 64), width=0.25, head_width=16,
                                     head_depth=1)
    export_model(model, 'a2j', config, sk, tmp_path / 'tiny.onnx', dynamic_batch_max=4,
                 check=False)
    rc = main(['bench', 'pipeline', '--model', str(tmp_path / 'tiny.json'), '--frames', '3',
               '--backend', 'onnxruntime-cpu', '--threads', '1', '--json'])
    assert rc == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ('fps_1_person', 'fps_4_people', 'non_inference_fraction'):
        assert figures[key] > 0
    assert 0 < figures['non_inference_fraction'] < 1
    for stage in ('segment', 'crop', 'infer', 'decode', 'angles', 'filter', 'total'):
        assert figures[f'ms_1_person_{stage}'] >= 0
    assert figures['ms_1_person_total'] >= figures['ms_1_person_infer']
    assert figures['backend'] == 'onnxruntime-cpu'
    assert figures['people_found_4_people'] > figures['people_found_1_person'] > 0
