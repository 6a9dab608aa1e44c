"""The batched inferencer: one forward for many queries, the same windows as one
query at a time, every input form, and the figures it can return."""
import numpy as np
import pytest
import torch

import sgdetr_assets
from sgdetr.apis import DatasetSplit, MomentInferencer
from sgdetr.extractors import save_text_features, save_video_features

SUBMISSION_KEYS = ['qid', 'query', 'vid', 'pred_relevant_windows', 'pred_saliency_scores']


@pytest.fixture(scope='module')
def demo(synthetic_256, demo_checkpoint):
    cfg = sgdetr_assets.demo_config(synthetic_256)
    inferencer = MomentInferencer(cfg, demo_checkpoint, batch_size=64)
    return inferencer, DatasetSplit(cfg, 'val')


def _video_with_queries(split, at_least=2):
    return next(v for v in split.vids if len(split.queries(v)) >= at_least)


def test_batched_forward_equals_one_query_at_a_time(demo, monkeypatch):
    inferencer, split = demo
    vid = _video_with_queries(split)
    records = split.queries(vid)
    calls = []
    step = inferencer.model.test_step
    monkeypatch.setattr(inferencer.model, 'test_step',
                        lambda data: calls.append(len(data['data_samples'])) or step(data))
    entries = split.predict(inferencer, vid)
    assert calls == [len(records)]  # every query of the video in one forward
    for entry, record in zip(entries, records):
        assert list(entry)[:3] == ['qid', 'query', 'vid'] and entry['qid'] == record['qid']
        assert list(entry)[-1] == 'pred_saliency_scores' and entry['vid'] == vid
        alone = inferencer.predictor.predict(split.video(vid), split.text(record['qid']),
                                             duration=record['duration'], query=record['query'])
        np.testing.assert_allclose(entry['pred_relevant_windows'],
                                   alone['pred_relevant_windows'], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(entry['pred_saliency_scores'], alone['pred_saliency_scores'],
                                   rtol=1e-5, atol=1e-5)
        windows = np.asarray(entry['pred_relevant_windows'])
        assert windows.shape[1] == 3 and (windows[:, 0] >= 0).all()
        assert (windows[:, 1] <= record['duration'] + 1e-6).all()
        assert len(entry['pred_saliency_scores']) == len(split.video(vid)[0])
    calls.clear()
    inferencer.batch_size = 1
    try:
        split.predict(inferencer, vid)
    finally:
        inferencer.batch_size = 64
    assert calls == [1] * len(records)


def test_every_input_form_gives_the_same_prediction(demo, tmp_path):
    inferencer, split = demo
    vid = _video_with_queries(split)
    records = split.queries(vid)
    video = split.video(vid)[0]
    texts = [split.text(r['qid']) for r in records]
    duration = records[0]['duration']
    reference = inferencer(video, texts, duration=duration)['predictions']
    save_video_features(video, str(tmp_path / 'v'), vid, 'released')
    save_video_features(video, str(tmp_path / 'n'), vid, 'npz')
    paths = [save_text_features(t, str(tmp_path / 't'), i, 'released')
             for i, t in enumerate(texts)]
    for video_input in (str(tmp_path / 'v' / f'{vid}.pt'), str(tmp_path / 'n' / f'{vid}.npz'),
                        torch.from_numpy(video), [video]):
        for queries in (paths, [dict(query=r['query'], qid=r['qid'], features=t)
                                for r, t in zip(records, texts)]):
            out = inferencer(video_input, queries, duration=duration)['predictions']
            for got, expected in zip(out, reference):
                np.testing.assert_allclose(got['pred_relevant_windows'],
                                           expected['pred_relevant_windows'], atol=1e-5)
    named = inferencer(str(tmp_path / 'v' / f'{vid}.pt'), [dict(query='q', qid=41,
                                                                 features=texts[0])])
    assert named['predictions'][0]['vid'] == vid and named['predictions'][0]['qid'] == 41
    single = inferencer(video, texts[0], duration=duration)['predictions']
    assert len(single) == 1  # one (N, D) array is one query


def test_inputs_that_cannot_be_used_are_refused(demo, tmp_path):
    inferencer, split = demo
    vid = split.vids[0]
    video = split.video(vid)[0]
    with pytest.raises(ValueError, match='text_encoder'):
        inferencer(video, ['a free text query'])
    fake = tmp_path / 'clip.mp4'
    fake.write_bytes(b'\x00')
    with pytest.raises(ValueError, match='video_encoder'):
        inferencer(str(fake), [split.text(split.queries(vid)[0]['qid'])])
    with pytest.raises(ValueError, match='video_dim'):
        inferencer(video[:, :100], [split.text(split.queries(vid)[0]['qid'])])
    with pytest.raises(ValueError, match='text_dim'):
        inferencer(video, [np.ones((4, 32), np.float32)])
    with pytest.raises(FileNotFoundError):
        inferencer(str(tmp_path / 'missing.npz'), [np.ones((4, 256), np.float32)])


def test_video_file_and_texts_through_the_encoders(videos, torchscript_encoders):
    """A video file and query texts, end to end (parameter-free model in the
    encoders' 16-d space), with one figure per query."""
    inferencer = MomentInferencer(
        sgdetr_assets.zero_shot_config(dim=16),
        video_encoder=dict(type='InternVideo2VideoEncoder', path=torchscript_encoders['video'],
                           device='cpu'),
        text_encoder=dict(type='InternVideo2TextEncoder', path=torchscript_encoders['text'],
                          tokenizer=sgdetr_assets.WordTokenizer(), device='cpu'))
    out = inferencer(videos['wide'], ['a green square', 'red'], return_figures=True)
    entries = out['predictions']
    assert [e['query'] for e in entries] == ['a green square', 'red']
    assert [e['qid'] for e in entries] == [0, 1] and entries[0]['vid'] == 'wide'
    assert all(list(e) == SUBMISSION_KEYS for e in entries)
    assert len(entries[0]['pred_saliency_scores']) == 4  # 7 s in 2 s clips
    assert all(w[1] <= 7.0 for e in entries for w in e['pred_relevant_windows'])
    figures = out['figures']
    assert len(figures) == 2 and len(figures[0].axes) >= 2
