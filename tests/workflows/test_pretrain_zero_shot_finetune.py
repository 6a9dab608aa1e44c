"""The chain pretrain (InterVid-MR) -> zero-shot test (QVHighlights,
Charades-STA, TACoS) -> fine-tune (QVHighlights), each config run on random
features in the released layout (512-d ``{vid}.pt`` clips, ``{qid}.npz``
'features' tokens), and the released schedules."""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS

from sgdetr.engine import SGDETRRunner
from sgdetr.registry import MODELS

from workflow_utils import (REPO, load_tool, loader_options, tiny_qvh_options,
                            write_released_dataset)

PRETRAIN = REPO / 'configs' / 'pretrain' / 'sgdetr_pretrain_intervid_mr.py'
FINETUNE = REPO / 'configs' / 'pretrain' / 'sgdetr_qvh_finetune.py'
ZERO_SHOT = {name: REPO / 'configs' / 'zero_shot' / f'sgdetr_zs_{name}.py'
             for name in ('qvhighlights', 'charades', 'tacos')}


def qvh_line(qid, vid, num_clips, start, end):
    """A QVHighlights annotation: window [start, end) in 2 s clips."""
    clips = list(range(start, end))
    return dict(qid=qid, query=f'query {qid}', duration=2.0 * num_clips, vid=vid,
                relevant_windows=[[2.0 * start, 2.0 * end]], relevant_clip_ids=clips,
                saliency_scores=[[2, 3, 4]] * len(clips))


def window_line(qid, vid, duration, start, end):
    """A Charades-STA / TACoS annotation: one window, in seconds."""
    return dict(qid=qid, query=f'query {qid}', duration=duration, vid=vid,
                relevant_windows=[[start, end]])


@pytest.fixture(scope='module')
def released_data(tmp_path_factory):
    """Per dataset: (root, annotation file) of 4 queries with random features."""
    root = tmp_path_factory.mktemp('released')
    qvh = [qvh_line(1, 'va', 12, 2, 6), qvh_line(2, 'va', 12, 0, 3),
           qvh_line(3, 'vb', 16, 8, 14), qvh_line(4, 'vc', 20, 1, 19)]
    intervid = [dict(line, qid=line['qid'] + 100) for line in qvh]
    charades = [window_line(11, 'c1', 16.0, 2.0, 7.5), window_line(12, 'c1', 16.0, 9.0, 15.0),
                window_line(13, 'c2', 24.0, 0.0, 4.2), window_line(14, 'c3', 20.0, 5.0, 19.0)]
    tacos = [window_line(f's{i}-d1_0', f's{i}-d1', 40.0, 4.0, 12.0) for i in range(3)]
    tacos.append(window_line('s0-d1_1', 's0-d1', 40.0, 20.0, 36.0))
    return dict(
        qvhighlights=(write_released_dataset(root / 'qvh', qvh, 2.0, 'qvh.jsonl'), 'qvh.jsonl'),
        intervid=(write_released_dataset(root / 'intervid', intervid, 2.0,
                                         'intervid_mr_train.jsonl', seed=1),
                  'intervid_mr_train.jsonl'),
        charades=(write_released_dataset(root / 'charades', charades, 1.0, 'charades.jsonl',
                                         seed=2), 'charades.jsonl'),
        tacos=(write_released_dataset(root / 'tacos', tacos, 2.0, 'tacos.jsonl', seed=3),
               'tacos.jsonl'))


def evaluation_options(root, ann_file):
    options = loader_options('test', str(root) + '/', 'annotations/' + ann_file, batch_size=4)
    options.update(loader_options('val', str(root) + '/', 'annotations/' + ann_file,
                                  batch_size=4))
    ann = f'{root}/annotations/{ann_file}'
    options.update({'test_evaluator.ann_file': ann, 'val_evaluator.ann_file': ann,
                    'log_level': 'WARNING'})
    return options


@pytest.fixture(scope='module')
def pretrained(released_data, tmp_path_factory):
    """One epoch (2 iterations) of the pretrain config, validated on QVHighlights."""
    work_dir = tmp_path_factory.mktemp('pretrain')
    cfg = Config.fromfile(str(PRETRAIN))
    root, ann = released_data['intervid']
    options = loader_options('train', str(root) + '/', 'annotations/' + ann, batch_size=2)
    options.update(evaluation_options(*released_data['qvhighlights']))
    options.update({'train_cfg.max_epochs': 1, 'work_dir': str(work_dir),
                    'experiment_name': 'workflow-pretrain'})
    cfg.merge_from_dict(options)
    SGDETRRunner.from_cfg(cfg).train()
    return work_dir / 'epoch_1.pth'


def test_pretrain_reads_the_released_layout():
    cfg = Config.fromfile(str(PRETRAIN))
    train = cfg.train_dataloader
    assert train.batch_size == 256
    assert train.dataset.data_root == 'data/intervid_mr/'
    assert train.dataset.feature_layout == 'released'
    assert train.dataset.video_feat_dirs == ['features/internvideo2_video']
    assert train.dataset.text_feat_dir == 'features/internvideo2_text'
    assert (train.dataset.video_dim, train.dataset.text_dim) == (512, 512)
    assert cfg.model.encoder.video_dim == 514
    assert not cfg.get('custom_hooks')  # no weight averaging in pretraining


def lr_per_epoch(cfg, epochs):
    """The lr of every epoch under the config's schedulers (stepped per epoch
    by ParamSchedulerHook)."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=cfg.optim_wrapper.optimizer.lr)
    wrapper = OptimWrapper(optimizer)
    schedulers = [PARAM_SCHEDULERS.build(dict(copy.deepcopy(s), optimizer=wrapper))
                  for s in cfg.param_scheduler]
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()  # (no gradient: nothing changes) as in training, before the schedulers
        for scheduler in schedulers:
            scheduler.step()
    return np.array(lrs)


def released_warmup_multistep(epoch, lr, initial_lr, warmup, milestones, gamma):
    """The release's WarmupMultiStepLR (src/utils/scheduler.py), per epoch."""
    if epoch <= warmup:
        return initial_lr + epoch / warmup * (lr - initial_lr)
    return lr * gamma ** sum(epoch >= m for m in milestones)


def test_pretrain_schedule_is_the_released_one():
    cfg = Config.fromfile(str(PRETRAIN))
    expected = [released_warmup_multistep(e, 5e-4, 1e-5, 4, (20, 27), 0.1) for e in range(30)]
    np.testing.assert_allclose(lr_per_epoch(cfg, 30), expected, rtol=1e-9)
    assert cfg.train_cfg.max_epochs == 30 and cfg.optim_wrapper.clip_grad.max_norm == 0.1


def test_finetune_schedule_is_the_released_one_with_swa():
    cfg = Config.fromfile(str(FINETUNE))
    assert cfg.train_cfg.max_epochs == 50
    expected = [released_warmup_multistep(e, 5e-4, 1e-5, 5, (10, 30), 0.5) for e in range(36)]
    # torch's SWALR (cos, 3 epochs, swa_lr 1e-5) from the 37th epoch on
    start = expected[-1]
    for k in range(14):
        alpha = (1 - math.cos(math.pi * min(k, 3) / 3)) / 2
        expected.append(1e-5 * alpha + start * (1 - alpha))
    np.testing.assert_allclose(lr_per_epoch(cfg, 50), expected, rtol=1e-9)
    hooks = [h for h in cfg.custom_hooks if h.type == 'EMAHook']
    assert hooks == [dict(type='EMAHook', ema_type='StochasticWeightAverage', begin_epoch=37)]


def test_finetune_keeps_the_released_weight_decay_of_the_local_saliency_head(tiny_data):
    cfg = Config.fromfile(str(FINETUNE))
    cfg.merge_from_dict(tiny_qvh_options(tiny_data))
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {}
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            decay[id(param)] = group['weight_decay']
    names = dict(model.named_parameters())
    local = {decay[id(p)] for n, p in names.items() if n.startswith('encoder.local_saliency.')}
    other = {decay[id(p)] for n, p in names.items() if not n.startswith('encoder.local_saliency.')}
    assert len(local) == 1 and local.pop() == pytest.approx(0.1)
    assert other == {1e-4}


@pytest.mark.parametrize('dataset', ['qvhighlights', 'charades', 'tacos'])
def test_zero_shot_configs_evaluate_the_pretrained_checkpoint(dataset, released_data,
                                                              pretrained, tmp_path):
    tool = load_tool('test')
    args = tool.parse_args([str(ZERO_SHOT[dataset]), str(pretrained), '--split', 'test',
                            '--work-dir', str(tmp_path)])
    args.cfg_options = evaluation_options(*released_data[dataset])
    metrics = tool.run(args)  # strict loading: the checkpoint fits the model
    names = (['MR-full-mAP', 'MR-full-R1@0.5', 'HL-min-VeryGood-mAP'] if dataset ==
             'qvhighlights' else ['R1@0.3', 'R1@0.5', 'R1@0.7', 'mIoU'])
    assert set(names) <= set(metrics)
    assert all(0 <= metrics[name] <= 100 for name in names)
    assert Config.fromfile(str(ZERO_SHOT[dataset])).train_dataloader is None


def test_zero_shot_models_match_the_pretrained_architecture():
    pretrained = Config.fromfile(str(PRETRAIN)).model
    tacos = Config.fromfile(str(ZERO_SHOT['tacos'])).model
    assert tacos.encoder.local_saliency.pooling.num_layers == 2
    assert Config.fromfile(str(REPO / 'configs' / 'sgdetr_tacos.py')).model.encoder \
        .local_saliency.pooling.num_layers == 1
    assert pretrained.encoder.local_saliency.pooling.num_layers == 2
    charades = Config.fromfile(str(ZERO_SHOT['charades']))
    # the pretrained ATSS regresses in clips: 1 s units on Charades' 1 s clips
    assert charades.model.atss_head.unit_seconds == 1.0
    assert charades.test_dataloader.dataset.clip_len == 1.0
    assert charades.model.postprocess.round_to == 0.1


def test_the_tacos_model_refuses_the_pretrained_checkpoint(released_data, pretrained,
                                                           tmp_path, capsys):
    """Why the zero-shot TACoS config keeps 2 pooling layers."""
    tool = load_tool('test')
    args = tool.parse_args([str(REPO / 'configs' / 'sgdetr_tacos.py'), str(pretrained),
                            '--work-dir', str(tmp_path)])
    args.cfg_options = evaluation_options(*released_data['tacos'])
    with pytest.raises(Exception, match='does not fit the model'):
        tool.run(args)


def test_finetune_starts_from_the_pretrained_weights(released_data, pretrained, tmp_path):
    cfg = Config.fromfile(str(FINETUNE))
    root, ann = released_data['qvhighlights']
    options = loader_options('train', str(root) + '/', 'annotations/' + ann, batch_size=2)
    options.update(evaluation_options(root, ann))
    options.update({'train_cfg.max_epochs': 1, 'work_dir': str(tmp_path),
                    'load_from': str(pretrained), 'experiment_name': 'workflow-finetune'})
    cfg.merge_from_dict(options)
    cfg.custom_hooks[0].begin_epoch = 1  # averaging from the first epoch
    runner = SGDETRRunner.from_cfg(cfg)
    runner.train()
    start = torch.load(pretrained, weights_only=False)['state_dict']
    end = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    assert set(end['state_dict']) == set(start)  # every pretrained tensor fits
    assert 'ema_state_dict' in end
    changed = [k for k in start if not torch.equal(start[k], end['state_dict'][k])]
    assert changed  # trained
