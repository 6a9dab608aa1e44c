"""TVSum and YouTube-Highlights as highlight-only benchmarks: the configs train
and evaluate one domain on tiny data in the benchmarks' layout (segment-level
``label``, no windows), the HD-only model, the released saliency targets and
schedules, and the per-domain driver with its table."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.cnn.bricks import DropPath
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim.scheduler import LinearLR, MultiStepLR
from torch.nn import functional as F

from dataset_test_utils import SHARED_ANNOTATIONS, write_jsonl
from sgdetr.apis import load_tool_config
from sgdetr.apis.benchmark_config import apply_domain, check_domains_present, select_domains
from sgdetr.apis.highlight_benchmarks import format_markdown, run_benchmark
from sgdetr.datasets import (DataError, HighlightSaliencyTargets, TVSumDataset,
                             YouTubeHighlightsDataset)
from sgdetr.engine import ConfigError
from sgdetr.evaluation.functional import eval_tvsum, eval_youtube_highlights
from sgdetr.evaluation.metrics.highlight_metric import HighlightMAPMetric
from sgdetr.models.losses.saliency_loss import SaliencyLoss
from sgdetr.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis' / 'run_hd_benchmarks.py'
#: per benchmark: config, annotation files (train, val), protocol, number of annotators
BENCHMARKS = {
    'tvsum': dict(config=REPO / 'configs' / 'sgdetr_tvsum.py', protocol='tvsum',
                  files=('tvsum_train_release.jsonl', 'tvsum_val_release.jsonl'),
                  shared='tvsum', annotators=20),
    'youtube': dict(config=REPO / 'configs' / 'sgdetr_youtube_highlights.py',
                    protocol='youtube', shared='youtube_highlights', annotators=1,
                    files=('youtube_highlight_train_release.jsonl',
                           'youtube_highlight_val_release.jsonl')),
}
FEATURE_DIM = 512  # the configs' default (InternVideo2)
TINY_DOMAINS = {'tvsum': ('BK', 'VT'), 'youtube': ('dog', 'surfing')}


# -- tiny data in the benchmarks' layout ---------------------------------------------
def write_benchmark(root: Path, name: str, videos_per_split=(3, 2), seed=0) -> Path:
    """Lighthouse-style annotations (``label`` per segment, ``domain``, no windows)
    and released-layout features ({vid}.pt, {qid}.npz 'features') for two domains."""
    spec, rng = BENCHMARKS[name], np.random.default_rng(seed)
    video_dir, text_dir = root / 'features' / 'internvideo2_video', \
        root / 'features' / 'internvideo2_text'
    video_dir.mkdir(parents=True, exist_ok=True)
    text_dir.mkdir(parents=True, exist_ok=True)
    for split, (count, file_name) in enumerate(zip(videos_per_split, spec['files'])):
        lines = []
        for domain in TINY_DOMAINS[name]:
            for i in range(count):
                vid = f'{domain}-s{split}v{i}'
                rows = int(rng.integers(9, 23))
                if name == 'tvsum':
                    label = rng.integers(1, 6, size=(rows, spec['annotators'])).astype(float)
                    duration, query = float(rows), f'title of {vid}'
                else:
                    label = (rng.random((rows, 1)) < 0.3).astype(int)
                    label[rows // 2] = 1  # every video has a highlight
                    duration, query = rows * 1.7, domain
                lines.append(dict(qid=vid, query=query, duration=duration, vid=vid,
                                  relevant_clip_ids=None, relevant_windows=None,
                                  label=label.tolist(), domain=domain))
                torch.save(torch.randn(rows, FEATURE_DIM, generator=torch.Generator()
                                       .manual_seed(seed * 1000 + len(lines))),
                           video_dir / f'{vid}.pt')
                np.savez(text_dir / f'{vid}.npz',
                         features=rng.standard_normal((5, FEATURE_DIM)).astype(np.float32))
        write_jsonl(root / 'annotations' / file_name, lines)
    return root


def tiny_options(name: str, root: Path, max_epochs=2) -> dict:
    """--cfg-options that point a benchmark config at ``root`` and keep it short."""
    options = {'train_cfg.max_epochs': max_epochs}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = str(root) + '/'
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    for evaluator in ('val_evaluator', 'test_evaluator'):
        options[f'{evaluator}.ann_file'] = f'{root}/annotations/{BENCHMARKS[name]["files"][1]}'
    return options


def tiny_config(name: str, root: Path, work_dir: Path, max_epochs=2) -> Config:
    return load_tool_config(str(BENCHMARKS[name]['config']),
                            cfg_options=tiny_options(name, root, max_epochs),
                            work_dir=str(work_dir))


def tool_argv(name: str, root: Path, work_dir: Path, domains, max_epochs=1) -> list:
    options = tiny_options(name, root, max_epochs)
    return [str(BENCHMARKS[name]['config']), '--domains', *domains, '--work-dir',
            str(work_dir), '--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


@pytest.fixture(scope='module', params=sorted(BENCHMARKS))
def benchmark(request, tmp_path_factory):
    root = write_benchmark(tmp_path_factory.mktemp(request.param), request.param)
    return request.param, root


# -- the saliency targets and the loss ---------------------------------------------
def test_tvsum_targets_are_graded_as_released():
    label = np.array([[1, 1], [5, 5], [3, 1]], np.float32)  # 2 annotators
    results = dict(label=label, duration=3.0, clip_len=1.0,
                   gt_saliency=np.concatenate([label, np.zeros((1, 2), np.float32)]))
    out = HighlightSaliencyTargets('tvsum')(results)
    # sum(score - 1) / (4 x 2) x 12; the padded 4th clip stays 0
    np.testing.assert_allclose(out['gt_saliency'][:, 0], [0.0, 12.0, 3.0, 0.0])
    assert out['gt_saliency'].shape == (4, 1)
    assert out['pos_clip_indices'].tolist() == [1]
    assert out['neg_clip_indices'].tolist() == [0]


def test_youtube_targets_pair_a_highlight_with_a_non_highlight():
    label = np.array([[0], [1], [1], [0]], np.float32)
    results = dict(label=label, duration=6.8, clip_len=1.7, gt_saliency=label.copy())
    out = HighlightSaliencyTargets('youtube')(results)
    np.testing.assert_array_equal(out['gt_saliency'][:, 0], [0, 1, 1, 0])
    # ties: the last of the highest, the first of the lowest
    assert out['pos_clip_indices'].tolist() == [2]
    assert out['neg_clip_indices'].tolist() == [0]
    with pytest.raises(ValueError, match='protocol'):
        HighlightSaliencyTargets('qvhighlights')


def test_saliency_bce_targets_are_clamped_labels():
    saliency = torch.tensor([[0.3, -1.0, 2.0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    labels = torch.tensor([[0.5, 0.0, 7.0]])
    pairs = torch.full((1, 1), -1)
    losses = SaliencyLoss()(saliency, mask, labels, pairs, pairs)
    expected = F.binary_cross_entropy_with_logits(saliency[0], torch.tensor([0.5, 0.0, 1.0]))
    torch.testing.assert_close(losses['hd.loss_bce'], expected)


# -- the schedules -------------------------------------------------------------------
def released_warmup_multistep(epoch, lr, initial_lr, warmup, milestones, gamma=0.5):
    """The lr of the release's WarmupMultiStepLR at ``epoch`` (stepped per epoch):
    linear warm-up, then x gamma at each milestone after the warm-up."""
    if epoch <= warmup:
        return initial_lr + epoch / warmup * (lr - initial_lr)
    return lr * gamma ** sum(warmup < m <= epoch for m in milestones)


@pytest.mark.parametrize('name, initial_lr, warmup, milestones', [
    ('tvsum', 1e-5, 20, (12, 18)),  # code/configs/optimizer/tvsum.yaml
    ('youtube', 5e-6, 5, (14, 22)),  # code/configs/optimizer/youtube.yaml
])
def test_schedule_is_the_released_one(name, initial_lr, warmup, milestones):
    cfg = Config.fromfile(str(BENCHMARKS[name]['config']))
    assert cfg.train_cfg.max_epochs == 200
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.optim_wrapper.optimizer.lr == 5e-4
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.1
    assert cfg.optim_wrapper.clip_grad.max_norm == 0.1
    assert cfg.randomness.seed == 42
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=5e-4)
    types = dict(LinearLR=LinearLR, MultiStepLR=MultiStepLR)
    schedulers = [types[s.pop('type')](optimizer, **s)
                  for s in (dict(s) for s in cfg.param_scheduler)]
    for epoch in range(cfg.train_cfg.max_epochs):
        expected = released_warmup_multistep(epoch, 5e-4, initial_lr, warmup, milestones)
        assert optimizer.param_groups[0]['lr'] == pytest.approx(expected, rel=1e-6), epoch
        for scheduler in schedulers:
            scheduler.step()


# -- the configs ---------------------------------------------------------------------
@pytest.mark.parametrize('name', sorted(BENCHMARKS))
def test_config_is_highlight_only(name):
    cfg = Config.fromfile(str(BENCHMARKS[name]['config']))
    model = cfg.model
    assert model.detr_head is None and model.atss_head is None and model.pyramid is None
    assert model.predict_with is None
    assert (model.encoder.video_dim, model.encoder.text_dim) == (514, 512)
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert dataset.domains == [cfg.domain] and cfg.domain in cfg.domains
        assert dataset.clip_len is None  # one clip per label row
        assert (dataset.video_dim, dataset.text_dim) == (cfg.video_dim, cfg.text_dim)
    for split in ('val', 'test'):
        metric = cfg[f'{split}_evaluator']
        assert metric.type == 'HighlightMAPMetric'
        assert metric.protocol == BENCHMARKS[name]['protocol']
        assert metric.domains == [cfg.domain]
    assert cfg.default_hooks.checkpoint.save_best == 'HL-mAP'
    targets = [t for t in cfg.train_dataloader.dataset.pipeline
               if t.type == 'HighlightSaliencyTargets']
    assert [t.protocol for t in targets] == [BENCHMARKS[name]['protocol']]


def test_hd_model_trains_every_parameter_and_predicts_saliency_only(benchmark, tmp_path):
    name, root = benchmark
    cfg = tiny_config(name, root, tmp_path)
    dataset = (TVSumDataset if name == 'tvsum' else YouTubeHighlightsDataset)(
        **{k: v for k, v in cfg.train_dataloader.dataset.items() if k != 'type'})
    assert {dataset.get_data_info(i)['domain'] for i in range(len(dataset))} == {cfg.domain}
    model = MODELS.build(cfg.model)
    for module in model.modules():  # a dropped branch rightly gets no gradient
        if isinstance(module, DropPath):
            module.drop_prob = 0.0
    # off the initial values: the zero-initialised global saliency layer would
    # hide everything before it from the first step's gradient
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(len(dataset))]),
                                    training=True)
    losses = model(**batch, mode='loss')
    # the released HD recipe: saliency (local + global), ms_align, momcls; no MR term
    assert sorted(losses) == sorted(
        [f'hd_{o}.loss_{t}' for o in ('local', 'global') for t in ('bce', 'margin', 'neg', 'rank')]
        + ['loss_align', 'loss_moment_clip'])
    sum(v for v in losses.values() if v.requires_grad).backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not no_grad, no_grad
    model.eval()
    samples = model(**model.data_preprocessor(pseudo_collate([dataset[0]]), training=False),
                    mode='predict')
    assert 'pred_instances' not in samples[0]
    assert len(samples[0].pred_saliency) == len(dataset.get_data_info(0)['label'])


def test_predict_with_none_refuses_span_outputs():
    cfg = Config.fromfile(str(BENCHMARKS['tvsum']['config']))
    with pytest.raises(ValueError, match='saliency only'):
        MODELS.build(dict(cfg.model, extra_outputs=('fusion', )))


# -- the driver ----------------------------------------------------------------------
def test_driver_table_equals_the_metric(benchmark, tmp_path):
    name, root = benchmark
    cfg = tiny_config(name, root, tmp_path)
    domains = select_domains(cfg, list(TINY_DOMAINS[name]))
    check_domains_present(cfg, domains)
    seen = []
    table = run_benchmark(cfg, domains, str(tmp_path), on_domain=seen.append)
    assert [list(t['domains']) for t in seen] == [domains[:1], domains]
    val_file = root / 'annotations' / BENCHMARKS[name]['files'][1]
    annotations = [json.loads(line) for line in val_file.read_text().splitlines()]
    evaluate = eval_tvsum if name == 'tvsum' else eval_youtube_highlights
    for domain in domains:
        run = table['runs'][domain]
        assert run['checkpoint'] and Path(run['checkpoint']).is_file()
        submission = [json.loads(line) for line in
                      (tmp_path / domain / 'test_submission.jsonl').read_text().splitlines()]
        assert {e['qid'] for e in submission} == \
            {a['qid'] for a in annotations if a['domain'] == domain}
        expected = evaluate(submission, [a for a in annotations if a['domain'] == domain])
        assert table['domains'][domain] == expected[domain] == expected['mAP']
        assert run['metrics']['HL-mAP'] == expected['mAP']
    values = list(table['domains'].values())
    assert table['mean'] == round(sum(values) / len(values), 2)
    markdown = format_markdown(table)
    assert all(f'{v:.2f}' in markdown for v in values) and f'{table["mean"]:.2f}' in markdown


def test_driver_cli_writes_the_table(benchmark, tmp_path, capsys):
    name, root = benchmark
    tool = load_tool()
    domain = TINY_DOMAINS[name][0]
    argv = tool_argv(name, root, tmp_path, [domain])
    assert tool.main(argv) == 0
    table = json.loads((tmp_path / 'hd_benchmark.json').read_text())
    assert list(table['domains']) == [domain]
    assert table['mean'] == table['domains'][domain]
    assert (tmp_path / 'hd_benchmark.md').read_text().strip() == format_markdown(table)
    assert format_markdown(table) in capsys.readouterr().out


def load_tool():
    spec = importlib.util.spec_from_file_location('run_hd_benchmarks', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- a domain not in the data ----------------------------------------------------------
def test_unknown_domain_is_a_clear_error(benchmark, tmp_path, capsys):
    name, root = benchmark
    cfg = tiny_config(name, root, tmp_path)
    with pytest.raises(ConfigError, match=r"\['XX'\].*choose from"):
        select_domains(cfg, ['XX'])
    with pytest.raises(ConfigError, match='not a domain'):
        apply_domain(cfg, 'XX')
    # a domain of the config that the annotation files lack (here: all but two)
    absent = [d for d in cfg.domains if d not in TINY_DOMAINS[name]][0]
    val_file = root / 'annotations' / BENCHMARKS[name]['files'][1]
    with pytest.raises(DataError, match=rf"{BENCHMARKS[name]['files'][0]}: no line of "
                       rf"domain\(s\) \['{absent}'\]"):
        check_domains_present(cfg, [absent])
    dataset_cfg = apply_domain(cfg, absent).val_dataloader.dataset
    with pytest.raises(DataError, match=rf"{val_file.name}: no sample of domain"):
        (TVSumDataset if name == 'tvsum' else YouTubeHighlightsDataset)(
            **{k: v for k, v in dataset_cfg.items() if k != 'type'})
    with pytest.raises(DataError, match=rf"no query of domain\(s\) \['{absent}'\]"):
        HighlightMAPMetric(str(val_file), BENCHMARKS[name]['protocol'],
                           domains=[absent]).check_ground_truth()
    # the tool stops before any training
    argv = tool_argv(name, root, tmp_path / 'run', [absent])
    assert load_tool().main(argv) == 1
    assert 'no line of domain' in capsys.readouterr().err
    assert not (tmp_path / 'run' / absent).exists()


def test_line_without_domain_names_file_line_and_qid(tmp_path):
    path = write_jsonl(tmp_path / 'a.jsonl', [
        dict(qid='v1', query='q', duration=4.0, vid='v1', label=[[0], [1]], domain='dog'),
        dict(qid='v2', query='q', duration=4.0, vid='v2', label=[[1], [0]])])
    with pytest.raises(DataError, match=r"a.jsonl:2 \(qid='v2'\) has no `domain`"):
        YouTubeHighlightsDataset(ann_file=str(path), domains=['dog'])
    assert len(YouTubeHighlightsDataset(ann_file=str(path))) == 2


# -- the real annotation files ----------------------------------------------------------
@pytest.mark.skipif(not SHARED_ANNOTATIONS.is_dir(), reason='no shared annotations')
@pytest.mark.parametrize('name', sorted(BENCHMARKS))
def test_config_domains_are_the_domains_of_the_real_files(name):
    spec = BENCHMARKS[name]
    cfg = Config.fromfile(str(spec['config']))
    for file_name in spec['files']:
        path = SHARED_ANNOTATIONS / spec['shared'] / file_name
        if not path.is_file():
            pytest.skip(f'{path} is absent')
        domains = {json.loads(line)['domain'] for line in path.read_text().splitlines()
                   if line.strip()}
        assert sorted(domains) == sorted(cfg.domains), path
        assert cfg.train_dataloader.dataset.ann_file.endswith(spec['files'][0])
        assert cfg.val_evaluator.ann_file.endswith(spec['files'][1])


@pytest.mark.parametrize('name', sorted(BENCHMARKS))
def test_tools_select_a_domain_with_one_option(name):
    config = str(BENCHMARKS[name]['config'])
    default = load_tool_config(config)
    other = [d for d in default.domains if d != default.domain][0]
    cfg = load_tool_config(config, cfg_options={'domain': other})
    assert cfg.domain == other
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.domains == [other]
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        metrics = evaluator if isinstance(evaluator, list) else [evaluator]
        assert [m['domains'] for m in metrics if 'domains' in m] == [[other]]
    assert default.train_dataloader.dataset.domains == [default.domain]
    with pytest.raises(ConfigError, match='not a domain'):
        load_tool_config(config, cfg_options={'domain': 'XX'})
