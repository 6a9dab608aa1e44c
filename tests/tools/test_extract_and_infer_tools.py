"""tools/extract_features.py and tools/infer.py on tiny encoders and synthetic videos."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).parents[2]


def _load(name, path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


assets = _load('sgdetr_assets', REPO / 'tests' / 'apis' / 'sgdetr_assets.py')
extract_tool = _load('extract_features_tool', REPO / 'tools' / 'extract_features.py')
infer_tool = _load('infer_tool', REPO / 'tools' / 'infer.py')


@pytest.fixture(scope='module')
def media(tmp_path_factory):
    pytest.importorskip('av')
    root = tmp_path_factory.mktemp('media')
    videos = root / 'videos'
    videos.mkdir()
    assets.write_video(videos / 'first.mp4', [assets.RED] * 2 + [assets.GREEN] * 3)
    assets.write_video(videos / 'second.mkv', [assets.BLUE] * 3)
    (videos / 'notes.txt').write_text('not a video')
    return dict(root=root, videos=videos,
                video_encoder=assets.torchscript_video_encoder(root / 'video_encoder.pt'),
                text_encoder=assets.torchscript_text_encoder(root / 'text_encoder.pt'))


def test_extract_features_writes_the_released_layout_and_resumes(media, tmp_path, capsys):
    out = tmp_path / 'features'
    args = [str(media['videos']), '--out', str(out), '--encoder', 'internvideo2',
            '--video-encoder-path', media['video_encoder'], '--encoder-device', 'cpu',
            '--no-progress', '--config', str(REPO / 'configs' / 'sgdetr_qvh.py')]
    assert extract_tool.main(args) == 0
    text = capsys.readouterr().out
    # names and layout from the config: features/internvideo2_video/{vid}.pt
    written = sorted(p.name for p in (out / 'internvideo2_video').iterdir())
    assert written == ['first.pt', 'second.pt']
    assert "feature_layout='released'" in text and 'video_dim=16' in text
    import torch
    assert torch.load(out / 'internvideo2_video' / 'first.pt').shape == (3, 16)
    assert extract_tool.main(args) == 0
    assert '0 written, 2 already there' in capsys.readouterr().out


def test_extract_features_queries_with_a_tokenizer_dir(media, tmp_path, capsys):
    pytest.importorskip('transformers')
    annotations = tmp_path / 'ann.jsonl'
    annotations.write_text('{"qid": 5, "query": "a red square"}\n{"qid": 9, "query": "dog"}\n')
    out = tmp_path / 'features'
    assert extract_tool.main([
        '--queries', str(annotations), '--out', str(out), '--layout', 'npz',
        '--encoder', 'internvideo2', '--text-encoder-path', media['text_encoder'],
        '--tokenizer', assets.bert_tokenizer_dir(tmp_path / 'bert'), '--no-progress']) == 0
    with np.load(out / 'text' / 'qid5.npz') as npz:
        assert npz['last_hidden_state'].shape == (5, 16)  # [CLS] a red square [SEP]
    assert (out / 'text' / 'qid9.npz').exists()


def test_infer_on_a_split_writes_submission_lines_and_figures(tmp_path, capsys):
    pytest.importorskip('matplotlib')
    root = assets.synthetic_root(tmp_path, dim=32)
    config = tmp_path / 'zero_shot.py'
    config.write_text(f"_base_ = ['{REPO}/configs/zero_shot/zero_shot_synthetic.py']\n"
                      f"video_dim = text_dim = 32\n"
                      f"_data = dict(data_root='{root}/', video_dim=32, text_dim=32)\n"
                      "val_dataloader = dict(dataset=_data)\n"
                      "test_dataloader = dict(dataset=_data)\n")
    out = tmp_path / 'pred.jsonl'
    assert infer_tool.main([str(config), '--split', 'val', '--out', str(out),
                            '--max-videos', '2', '--vis-dir', str(tmp_path / 'vis')]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    annotations = [json.loads(line) for line in
                   (Path(root) / 'annotations' / 'highlight_val_release.jsonl').open()]
    first_vids = list(dict.fromkeys(a['vid'] for a in annotations))[:2]
    assert [e['qid'] for e in lines] == [a['qid'] for a in annotations if a['vid'] in first_vids]
    for entry in lines:
        assert list(entry) == ['qid', 'query', 'vid', 'pred_relevant_windows',
                               'pred_saliency_scores']
    assert sorted(p.name for p in (tmp_path / 'vis').iterdir()) == sorted(
        f'{e["qid"]}.png' for e in lines)
    # one video's feature file and its queries' feature files
    vid = lines[0]['vid']
    qids = [e['qid'] for e in lines if e['vid'] == vid]
    single = tmp_path / 'single.jsonl'
    assert infer_tool.main([
        str(config), '--video', f'{root}/features/video/{vid}.npz', '--query-features',
        *[f'{root}/features/text/qid{q}.npz' for q in qids], '--out', str(single),
        '--duration', str(annotations[[a['vid'] for a in annotations].index(vid)]['duration'])
    ]) == 0
    again = [json.loads(line) for line in single.read_text().splitlines()]
    assert [e['query'] for e in again] == [f'qid{q}' for q in qids]
    for a, b in zip(again, [e for e in lines if e['vid'] == vid]):
        np.testing.assert_allclose(a['pred_relevant_windows'], b['pred_relevant_windows'])
        assert a['vid'] == vid


def test_infer_video_file_with_query_texts(media, tmp_path):
    config = tmp_path / 'zero_shot.py'
    config.write_text(f"_base_ = ['{REPO}/configs/zero_shot/zero_shot_synthetic.py']\n"
                      "_data = dict(video_dim=16, text_dim=16)\n"
                      "val_dataloader = dict(dataset=_data)\n"
                      "test_dataloader = dict(dataset=_data)\n")
    out = tmp_path / 'pred.jsonl'
    queries = tmp_path / 'queries.txt'
    queries.write_text('a green square\n\n{"qid": 77, "query": "red"}\n')
    # the text encoder through --text-encoder-cfg: any registered encoder by name
    pytest.importorskip('transformers')
    tokenizer = assets.bert_tokenizer_dir(tmp_path / 'bert')
    assert infer_tool.main([
        str(config), '--video', str(media['videos'] / 'first.mp4'), '--queries-file',
        str(queries), '--out', str(out), '--encoder', 'internvideo2', '--video-encoder-path',
        media['video_encoder'], '--text-encoder-cfg', 'type=InternVideo2TextEncoder',
        f'path={media["text_encoder"]}', f'tokenizer={tokenizer}', 'device=cpu']) == 0
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e['qid'], e['query'], e['vid']) for e in entries] == [
        (0, 'a green square', 'first'), (77, 'red', 'first')]
    assert len(entries[0]['pred_saliency_scores']) == 3
