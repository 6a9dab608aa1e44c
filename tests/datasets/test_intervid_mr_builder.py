"""InterVid-MR builder: trimming to 150 s segments, caption-rule counts and
the eq. 18 statistics option."""
import json

import numpy as np
import pytest

from sgdetr.datasets import QVHighlightsDataset
from sgdetr.datasets.caption_filter import CaptionFilter
from sgdetr.datasets.intervid_mr import relabel_moment, segment_window
from sgdetr.datasets.intervid_mr_builder import (InterVidMRBuilder,
                                                 build_intervid_mr,
                                                 format_intervid_mr_summary)


def profile_clips(scores) -> np.ndarray:
    """(L, 4) unit clips whose cosine to the axis e_0 is ``scores``."""
    scores = np.asarray(scores, np.float64)
    clips = np.zeros((len(scores), 4))
    clips[:, 0], clips[:, 1] = scores, np.sqrt(1 - scores**2)
    return clips.astype(np.float32)


@pytest.fixture
def long_video(tmp_path):
    """A 400 s video (200 clips): the caption's interval at 300-310 s (clips
    150-154), a second match at clip 120 and a decoy at clip 10."""
    scores = np.full(200, 0.1)
    scores[150:155] = [0.6, 0.65, 0.7, 0.65, 0.6]
    scores[120], scores[10] = 0.68, 0.9
    video_dir, caption_dir = tmp_path / 'video', tmp_path / 'caption'
    video_dir.mkdir()
    caption_dir.mkdir()
    np.savez(video_dir / 'long.npz', features=profile_clips(scores))
    np.savez(video_dir / 'other.npz', features=profile_clips(scores))
    axis = np.eye(4, dtype=np.float32)[:1]
    for qid in range(60):  # tokens: a caption embedding and text features
        np.savez(caption_dir / f'qid{qid}.npz', last_hidden_state=axis)
    return tmp_path


def long_sample(qid=0, interval=(300, 310), query=None):
    return dict(vid='long', qid=qid, duration=400.0, interval=list(interval),
                query=query or f'the chef flips pancake number {qid}')


def builder(root, **options):
    options.setdefault('max_duration', 150.0)
    options.setdefault('segment_dir', str(root / 'segments'))
    return InterVidMRBuilder(str(root / 'video'), str(root / 'caption'),
                             **options)


def test_centred_segment_is_trimmed_and_shifted(long_video):
    line = builder(long_video, placement='centre').process(long_sample(),
                                                           'raw.jsonl:1')
    # clips [150, 155) centred in 75 clips: [115, 190) = 230-380 s
    assert line['vid'] == 'long_230.0_380.0'
    assert line['duration'] == 150.0
    assert line['source_vid'] == 'long'
    assert line['source_window'] == [230.0, 380.0]
    assert line['clip_range'] == [115, 190]
    assert line['annotated_window'] == [70.0, 80.0]
    # the match at clip 120 is clip 5 of the segment; the decoy is cut off
    assert line['relevant_windows'] == [[10.0, 12.0], [70.0, 80.0]]
    assert line['relevant_clip_ids'] == [5, 35, 36, 37, 38, 39]
    features = np.load(long_video / 'segments' / 'long_230.0_380.0.npz')[
        'features']
    source = np.load(long_video / 'video' / 'long.npz')['features']
    np.testing.assert_array_equal(features, source[115:190])


def test_random_segments_contain_the_interval_and_are_reproducible(
        long_video):
    first_build = builder(long_video)
    lines = [first_build.process(long_sample(qid), f'raw:{qid}')
             for qid in range(40)]
    starts = set()
    for line in lines:
        start, end = line['source_window']
        assert end - start == line['duration'] == 150.0
        assert start <= 300 and 310 <= end and 0 <= start and end <= 400
        # windows in segment time: the annotated interval moved by -start
        assert [300 - start, 310 - start] == line['annotated_window']
        assert [300 - start, 310 - start] in line['relevant_windows']
        assert line['relevant_clip_ids'][-5:] == list(
            range(int(150 - start / 2), int(155 - start / 2)))
        starts.add(start)
    assert len(starts) > 10  # not always the same place
    again = builder(long_video)
    assert [again.process(long_sample(qid), f'raw:{qid}')
            for qid in range(40)] == lines
    other_seed = builder(long_video, seed=1)
    assert [other_seed.process(long_sample(qid), f'raw:{qid}')
            for qid in range(40)] != lines


def test_segment_window_edges():
    # interval at the start / the end of a 200-clip video
    assert segment_window(200, (0, 2), 75, 'centre') == (0, 75)
    assert segment_window(200, (198, 200), 75, 'centre') == (125, 200)
    for qid in range(20):
        assert segment_window(200, (0, 2), 75, 'random', 0, qid) == (0, 75)
        first, last = segment_window(200, (100, 110), 75, 'random', 0, qid)
        assert last - first == 75 and 35 <= first <= 100
    # a video no longer than the segment is kept whole
    assert segment_window(60, (10, 20), 75) == (0, 60)
    with pytest.raises(ValueError, match='longer'):
        segment_window(200, (0, 80), 75)


def test_interval_longer_than_a_segment_is_skipped(long_video):
    build = builder(long_video)
    assert build.process(long_sample(interval=(100, 262)), 'raw:1') is None
    assert build.summary()['skipped'] == {'interval_longer_than_segment': 1}
    with pytest.raises(ValueError, match='segment_dir'):
        builder(long_video, segment_dir=None)


def test_dataset_reads_the_segment_features(long_video, tmp_path):
    build = builder(long_video)
    lines = [build.process(long_sample(qid), f'raw:{qid}')
             for qid in range(3)]
    ann = tmp_path / 'ann.jsonl'
    ann.write_text(''.join(json.dumps(line) + '\n' for line in lines))
    dataset = QVHighlightsDataset(
        ann_file=str(ann), video_feat_dirs=str(long_video / 'segments'),
        text_feat_dir=str(long_video / 'caption'), video_l2_norm=False)
    assert len(dataset) == 3
    video = dataset[1]['inputs']['video'].numpy()
    first, last = lines[1]['clip_range']
    source = np.load(long_video / 'video' / 'long.npz')['features']
    np.testing.assert_allclose(video, source[first:last], atol=1e-6)


def test_caption_rules_are_counted(long_video):
    samples = [
        long_sample(0, query='pancakes'),                       # too short
        long_sample(1, query='this is what it is'),             # stop words
        long_sample(2, query='The chef flips a pancake.'),      # written
        long_sample(3, query='the chef flips a pancake'),       # duplicate
        long_sample(99, query='a chef flips pancakes'),   # no caption file
        long_sample(5, query='a chef flips pancakes'),    # written
    ]
    lines, summary = build_intervid_mr(
        samples, str(long_video / 'video'), str(long_video / 'caption'),
        caption_filter=CaptionFilter(), max_duration=150.0,
        segment_dir=str(long_video / 'segments'))
    # the caption of the sample with no features is not taken: qid 5 stays
    assert [line['qid'] for line in lines] == [2, 5]
    assert summary['caption_filter'] == dict(
        too_short=1, stop_words_only=1, duplicate_in_video=1)
    assert summary['skipped'] == dict(
        caption_too_short=1, caption_stop_words_only=1,
        caption_duplicate_in_video=1, missing_caption_features=1)
    report = format_intervid_mr_summary(summary)
    assert 'samples in: 6, written: 2, skipped: 4' in report
    assert ('caption filter removed: too_short 1, stop_words_only 1, '
            'duplicate_in_video 1\n') in report
    assert "(qid=0, vid='long'): caption 'pancakes')" in report

    first_query = long_sample(0)['query']
    _, summary = build_intervid_mr(
        [long_sample(0), dict(long_sample(1), vid='gone'),
         long_sample(2, query=first_query.upper()),
         dict(long_sample(3, query=first_query), vid='other')],
        str(long_video / 'video'), str(long_video / 'caption'),
        caption_filter=CaptionFilter(dedupe_in_set=True))
    assert summary['caption_filter'] == dict(
        too_short=0, stop_words_only=0, duplicate_in_video=1,
        duplicate_in_set=1)
    assert summary['skipped'] == dict(caption_duplicate_in_video=1,
                                      caption_duplicate_in_set=1,
                                      missing_video_features=1)


def test_grade_statistics_of_the_annotated_interval():
    similarity = np.array([0.5, -1., 1., 3., -1.5, 2.])
    # S_pos = [1, 3]: S_min = -1, mu = 2, sigma = 1: boundaries 0.5, 2, 3.5.
    annotated = relabel_moment(similarity, (2, 4), grade_stats='annotated')
    assert annotated['relevant_clip_ids'] == [0, 2, 3, 5]
    # 0.5 -> 1 (closed at mu - 1.5 sigma), 1 -> 2, 3 -> 3, 2 -> 2 (= mu)
    assert [g[0] for g in annotated['saliency_scores']] == [1, 2, 3, 2]
    # the default: statistics of the 4 positives (see test_intervid_mr)
    positives = relabel_moment(similarity, (2, 4))
    assert [g[0] for g in positives['saliency_scores']] == [2, 2, 3, 3]
    assert positives['relevant_windows'] == annotated['relevant_windows']
    # above max(S_pos) and mu + 1.5 sigma: grade 4
    labels = relabel_moment(np.array([1., 3., 9.]), (0, 2),
                            grade_stats='annotated')
    assert [g[0] for g in labels['saliency_scores']] == [2, 3, 4]
    with pytest.raises(ValueError, match='grade_stats'):
        relabel_moment(similarity, (2, 4), grade_stats='mean')


def test_released_layout_reads_and_writes_pt_tensors(long_video, tmp_path):
    torch = pytest.importorskip('torch')
    source = np.load(long_video / 'video' / 'long.npz')['features']
    pt_dir = tmp_path / 'pt_video'
    pt_dir.mkdir()
    torch.save(torch.from_numpy(source), pt_dir / 'long.pt')
    build = InterVidMRBuilder(str(pt_dir), str(long_video / 'caption'),
                              max_duration=150.0, placement='centre',
                              segment_dir=str(tmp_path / 'pt_segments'),
                              feature_layout='released')
    line = build.process(long_sample(), 'raw:1')
    assert line['relevant_windows'] == [[10.0, 12.0], [70.0, 80.0]]
    segment = torch.load(tmp_path / 'pt_segments' / 'long_230.0_380.0.pt',
                         weights_only=True)
    np.testing.assert_array_equal(segment.numpy(), source[115:190])
