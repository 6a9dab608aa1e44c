"""Bad data and bad configs stop ``tools/train.py`` before the first training
step, with one message naming the file and line (or key), and nothing saved."""
import numpy as np
import pytest
from mmengine.config import Config

from sgdetr.datasets import DataError, QVHighlightsDataset
from sgdetr.engine import ConfigError, check_config

from reliability_utils import (REPO, load_tool, read_jsonl, rewrite_npz, write_jsonl,
                               write_tiny_config)

SHIPPED_CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts)


def train(data, tmp_path, capsys, extra='', options=()):
    """Runs tools/train.py on the tiny config; returns (status, stderr, work dir)."""
    config = write_tiny_config(tmp_path / 'tiny.py', data, extra=extra)
    work_dir = tmp_path / 'work'
    argv = [str(config), '--work-dir', str(work_dir)]
    if options:
        argv += ['--cfg-options', *options]
    status = load_tool('train').main(argv)
    return status, capsys.readouterr().err, work_dir


def assert_nothing_trained(work_dir):
    assert not list(work_dir.glob('*.pth')) and not (work_dir / 'last_checkpoint').exists()


def annotation_file(data, split):
    return data / 'annotations' / f'highlight_{split}_release.jsonl'


def edit_line(path, line_number, edit):
    records = read_jsonl(path)
    edit(records[line_number - 1])
    write_jsonl(path, records)
    return records[line_number - 1]


def video_file(data, split, index=0):
    vid = read_jsonl(annotation_file(data, split))[index]['vid']
    return data / 'features' / 'video' / f'{vid}.npz'


# -- the evaluation's ground truth ---------------------------------------------------
def test_val_query_without_windows_stops_at_start_up(data, tmp_path, capsys):
    path = annotation_file(data, 'val')
    record = edit_line(path, 3, lambda r: r.pop('relevant_windows'))
    status, error, work_dir = train(data, tmp_path, capsys)
    assert status == 1
    assert f'{path}: 1 of 6 queries lack relevant_windows' in error
    assert f'{path}:3 (qid={record["qid"]!r})' in error
    assert_nothing_trained(work_dir)


def test_save_best_on_a_metric_the_split_cannot_give(data, tmp_path, capsys):
    path = annotation_file(data, 'val')
    write_jsonl(path, [{k: v for k, v in r.items() if k != 'relevant_windows'}
                       for r in read_jsonl(path)])
    status, error, work_dir = train(data, tmp_path, capsys)
    assert status == 1
    assert "save_best='MR-full-mAP': validation computes no such metric" in error
    assert 'HL-min-Fair-mAP' in error  # what it does compute
    assert_nothing_trained(work_dir)


def test_val_annotations_must_match_the_val_dataset(data, tmp_path, capsys):
    other = write_jsonl(tmp_path / 'other.jsonl', read_jsonl(annotation_file(data, 'val'))[:4])
    status, error, work_dir = train(data, tmp_path, capsys,
                                    options=[f'val_evaluator.ann_file={other}'])
    assert status == 1
    assert f'val_evaluator.ann_file {other} and the val dataset' in error
    assert '0 only in the former [], 2 only in the latter' in error
    assert_nothing_trained(work_dir)


def test_clip_id_past_the_video_in_val_ground_truth(data, tmp_path, capsys):
    path = annotation_file(data, 'val')
    # one past the last clip the metric counts (int(duration / 2)): the
    # dataset, which counts a partial last clip, accepts it
    edit_line(path, 2, lambda r: r['relevant_clip_ids'].__setitem__(0, int(r['duration'] / 2)))
    status, error, _ = train(data, tmp_path, capsys)
    assert status == 1 and f'{path}:2' in error and 'lies past the' in error


def test_a_qid_in_both_train_and_val_is_an_error(data, tmp_path, capsys):
    qid = read_jsonl(annotation_file(data, 'train'))[0]['qid']
    edit_line(annotation_file(data, 'val'), 2, lambda r: r.__setitem__('qid', qid))
    status, error, work_dir = train(data, tmp_path, capsys)
    assert status == 1
    assert (f"splits share 1 qid(s), which read the same text features: [{qid!r}]; "
            'validation would score queries the model is trained on') in error
    assert_nothing_trained(work_dir)


def test_one_annotation_file_for_train_and_val_is_a_warning(data, tmp_path, capsys):
    path = annotation_file(data, 'train')
    config = write_tiny_config(tmp_path / 'tiny.py', data)
    status = load_tool('train').main([
        str(config), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'val_dataloader.dataset.ann_file={path}', f'val_evaluator.ann_file={path}'])
    captured = capsys.readouterr()
    assert status == 0
    assert f'the train ({path}) and val ({path}) splits share 12 qid(s)' in captured.out


# -- feature files -------------------------------------------------------------------
def test_every_bad_feature_file_is_reported_at_start_up(data, tmp_path, capsys):
    short = video_file(data, 'train', 0)
    rewrite_npz(short, 'features', lambda a: a[:2])  # far fewer clips than the duration says
    nan = video_file(data, 'val', 1)
    rewrite_npz(nan, 'features', lambda a: np.where(np.arange(len(a))[:, None] == 3, np.nan, a))
    status, error, work_dir = train(data, tmp_path, capsys)
    assert status == 1
    # both splits' problems in one message, before the first step
    assert f"[train] 1 problem(s) in the features of" in error
    assert f"{short}']: 2 clips but" in error
    assert f"[val] 1 problem(s) in the features of" in error
    assert f"{nan}: 'features' holds NaN/Inf in 1 of" in error
    assert_nothing_trained(work_dir)


def test_feature_length_checked_for_every_sample_at_build(data):
    short = video_file(data, 'train', 0)
    rewrite_npz(short, 'features', lambda a: a[:2])
    qid = read_jsonl(annotation_file(data, 'train'))[5]['qid']
    bad_text = data / 'features' / 'text' / f'qid{qid}.npz'
    rewrite_npz(bad_text, 'last_hidden_state', lambda a: a[:, :7])
    args = dict(data_root=str(data), ann_file='annotations/highlight_train_release.jsonl',
                video_feat_dirs='features/video', text_feat_dir='features/text')
    with pytest.raises(DataError) as error:
        QVHighlightsDataset(**args)
    message = str(error.value)
    assert 'problem(s) in the features of' in message and 'every file was read' in message
    assert f"{short}']: 2 clips but" in message and 'highlight_train_release.jsonl:1' in message
    assert f'{bad_text}: text feature dim 7 differs from the expected 16' in message
    # for sets too large to read at start-up: the per-sample checks remain
    dataset = QVHighlightsDataset(check_features=False, **args)
    with pytest.raises(DataError, match='2 clips but'):
        dataset[0]


def test_non_utf8_annotation_names_file_and_line(data, tmp_path, capsys):
    path = annotation_file(data, 'train')
    lines = path.read_bytes().split(b'\n')
    lines[1] = lines[1].replace(b'"query": "', b'"query": "caf\xe9 ', 1)
    path.write_bytes(b'\n'.join(lines))
    status, error, work_dir = train(data, tmp_path, capsys)
    assert status == 1
    assert f"{path}:2: not valid UTF-8 (byte(s) b'\\xe9' at column" in error
    assert_nothing_trained(work_dir)


# -- config keys ---------------------------------------------------------------------
def test_hook_option_typo_stops_at_start_up(data, tmp_path, capsys):
    status, error, work_dir = train(data, tmp_path, capsys,
                                    extra='default_hooks = dict(checkpoint=dict(intervl=5))\n')
    assert status == 1
    assert "default_hooks.checkpoint.intervl: CheckpointHook has no option 'intervl' " \
           "(did you mean 'interval'?)" in error
    assert not work_dir.exists()


def test_unused_top_level_max_epochs_says_where_to_set_it(data, tmp_path, capsys):
    status, error, _ = train(data, tmp_path, capsys, extra='max_epochs = 3\n')
    assert status == 1
    assert '`max_epochs = ...` has no effect' in error
    assert 'train_cfg.max_epochs' in error and 'adamw_150e.py: train_cfg.max_epochs' in error
    status, error, _ = train(data, tmp_path / 'option', capsys, options=['max_epochs=3'])
    assert status == 1
    assert '--cfg-options max_epochs: `max_epochs` is a config variable' in error
    assert 'sgdetr_demo.py: train_cfg.max_epochs' in error


def test_other_unknown_keys(data, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', data, extra=(
        'defualt_hooks = dict()\n'
        "custom_hooks = [dict(type='EMAHook', momentum=0.01, begin_iters=3)]\n"
        'val_cfg = dict(fp61=True)\n'))
    with pytest.raises(ConfigError) as error:
        check_config(Config.fromfile(str(config)), {'model.encoder.embed_dims': 8,
                                                    'hiden_dim': 8})
    message = str(error.value)
    assert "`defualt_hooks = ...` has no effect" in message and "'default_hooks'?" in message
    assert "custom_hooks[0].begin_iters: EMAHook has no option 'begin_iters' " \
           "(did you mean 'begin_iter'?)" in message
    assert "val_cfg.fp61: ValLoop has no option 'fp61' (did you mean 'fp16'?)" in message
    assert "--cfg-options hiden_dim: `hiden_dim` is not a setting" in message
    assert 'EMAHook has no option \'momentum\'' not in message  # its averaging model's
    assert 'embed_dims' not in message
    assert '4 setting(s)' in message


@pytest.mark.parametrize('option, message', [
    ('model.type=SGDETRR',
     "model.type: unknown type 'SGDETRR' (not in the model registry; did you mean 'SGDETR'?)"),
    ('model.detr_head.num_querys=5',
     "model.detr_head.num_querys: SpanDETRHead has no option 'num_querys' "
     "(did you mean 'num_queries'?)"),
    ('optim_wrapper.optimizer.lrr=0.001',
     "optim_wrapper.optimizer.lrr: AdamW has no option 'lrr' (did you mean 'lr'?)"),
    ('train_dataloader.dataset.ann_fil=x.jsonl',
     "train_dataloader.dataset.ann_fil: QVHighlightsDataset has no option 'ann_fil' "
     "(did you mean 'ann_file'?)"),
    ('model.encoder.text_to_video.layer.type=SaliencyGuidedCrossAtention',
     "model.encoder.text_to_video.layer.type: unknown type 'SaliencyGuidedCrossAtention' "
     "(not in the model registry; did you mean 'SaliencyGuidedCrossAttention'?)"),
    ('val_dataloader.dataset.pipeline.0.max_clip=10',
     "val_dataloader.dataset.pipeline[0].max_clip: TruncateFeatures has no option 'max_clip' "
     "(did you mean 'max_clips'?)"),
])
def test_component_typo_names_its_config_path(data, tmp_path, capsys, option, message):
    status, error, work_dir = train(data, tmp_path, capsys, options=[option])
    assert status == 1
    assert message in error
    assert 'Traceback' not in error
    assert not work_dir.exists()


@pytest.mark.parametrize('config', SHIPPED_CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_config_passes_the_check(config):
    check_config(Config.fromfile(str(config)))


def test_a_config_dumped_by_a_run_passes_the_check(tmp_path):
    cfg = Config.fromfile(str(REPO / 'configs' / 'sgdetr_demo.py'))
    cfg.dump(str(tmp_path / 'dumped.py'))
    check_config(Config.fromfile(str(tmp_path / 'dumped.py')))


def test_parallel_scan_of_many_files(tmp_path):
    """Many threads read .npz headers at once (numpy parses them with ast,
    which is not thread-safe on every Python)."""
    from sgdetr.datasets.features import FeatureStore
    (tmp_path / 'v').mkdir()
    (tmp_path / 't').mkdir()
    rng = np.random.default_rng(0)
    for i in range(300):
        np.savez(tmp_path / 'v' / f'{i}.npz', features=rng.standard_normal((4, 3)))
        np.savez(tmp_path / 't' / f'qid{i}.npz', last_hidden_state=rng.standard_normal((2, 3)))
    store = FeatureStore(str(tmp_path / 'v'), str(tmp_path / 't'), cache='preload')
    for _ in range(3):
        lengths, problems = store.scan([str(i) for i in range(300)], range(300), keep=True,
                                       num_threads=8)
        assert problems == [] and set(lengths.values()) == {4}
    assert store.load_video('7').shape == (4, 3)
