"""The embedded default, end to end on a CPU in a few minutes:

synthetic data -> zero-shot baseline -> train SG-DETR -> evaluate with the
official-equivalent metric -> benchmark submission files (+ zip).

    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data/synthetic]

Each run starts over: the checkpoints of an earlier demo in the work dir are
removed (with a warning naming them).
"""
import argparse
import json
import os.path as osp
import time

import torch
from mmengine.config import Config

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.apis import build_runner, use_cpu_collectives
from sgdetr.datasets.synthetic import make_synthetic_dataset
from sgdetr.engine import bf16_is_fast
from sgdetr.evaluation import zip_submission_if_complete

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BRIEF_KEYS = ('MR-full-mAP', 'MR-full-mAP@0.5', 'MR-full-mAP@0.75', 'MR-full-R1@0.5',
              'MR-full-R1@0.7', 'HL-min-VeryGood-mAP', 'HL-min-VeryGood-Hit1',
              'fusion/MR-full-mAP', 'fusion/MR-full-R1@0.5')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/synthetic')
    parser.add_argument('--config', default=osp.join(REPO, 'configs', 'sgdetr_demo.py'))
    parser.add_argument('--baseline-config', default=osp.join(
        REPO, 'configs', 'zero_shot', 'zero_shot_synthetic.py'))
    parser.add_argument('--max-epochs', type=int, help='override the demo schedule')
    parser.add_argument('--precision', choices=['auto', 'fp32', 'bf16'], default='auto',
                        help='auto: bfloat16 mixed precision where the CPU (AVX-512 BF16, '
                        'AMX) or GPU computes it natively, else float32')
    return parser.parse_args()


def load_config(path, work_dir, data_root, name):
    cfg = Config.fromfile(path)
    cfg.work_dir = osp.join(work_dir, name)
    cfg.experiment_name = name
    root = data_root.rstrip('/') + '/'
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader:
            loader.dataset.data_root = root
    for split in ('val', 'test'):
        evaluator = cfg.get(f'{split}_evaluator')
        if evaluator:
            ann = osp.basename(evaluator.ann_file)
            evaluator.ann_file = osp.join(root, 'annotations', ann)
    return use_cpu_collectives(cfg)


def brief(metrics):
    return {k: metrics[k] for k in BRIEF_KEYS if k in metrics}


def evaluate(cfg, submission_dir, checkpoint=None):
    """Val metrics, and the val + test submission files."""
    cfg.val_evaluator.submission_dir = submission_dir
    cfg.test_evaluator.submission_dir = submission_dir
    cfg.load_from = checkpoint
    # Only evaluating: the checkpoint hook (save_best) needs a training run.
    cfg.default_hooks.checkpoint = None
    runner = build_runner(cfg)
    val_metrics = runner.val()
    runner.test()
    return val_metrics


def main():
    args = parse_args()
    start = time.time()
    if not osp.exists(osp.join(args.data_root, 'annotations',
                               'highlight_val_release.jsonl')):
        make_synthetic_dataset(args.data_root)

    baseline_cfg = load_config(args.baseline_config, args.work_dir, args.data_root,
                               'zero_shot')
    baseline = evaluate(baseline_cfg, osp.join(args.work_dir, 'zero_shot', 'submission'))

    cfg = load_config(args.config, args.work_dir, args.data_root, 'sgdetr')
    if args.max_epochs is not None:
        cfg.train_cfg.max_epochs = args.max_epochs
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.precision == 'bf16' or (args.precision == 'auto' and bf16_is_fast(device)):
        cfg.optim_wrapper.type = 'BF16OptimWrapper'
    cfg.overwrite_work_dir = True
    print(f'training precision: {"bf16" if cfg.optim_wrapper.type == "BF16OptimWrapper" else "fp32"}'
          f' ({device})', flush=True)
    runner = build_runner(cfg)
    runner.train()
    checkpoint = osp.join(cfg.work_dir, f'epoch_{runner.epoch}.pth')
    del runner
    submission_dir = osp.join(args.work_dir, 'sgdetr', 'submission')
    trained = evaluate(load_config(args.config, args.work_dir, args.data_root, 'sgdetr_eval'),
                       submission_dir, checkpoint)
    archive = zip_submission_if_complete(submission_dir)

    table = {'zero-shot baseline': brief(baseline), 'SG-DETR (trained)': brief(trained)}
    with open(osp.join(args.work_dir, 'demo_metrics.json'), 'w') as f:
        json.dump(table, f, indent=2)
    keys = [k for k in BRIEF_KEYS if k in trained]
    print('\nSynthetic validation split (a smoke test, not the paper numbers):')
    print(f"{'model':<22}" + ''.join(f'{k:>22}' for k in keys))
    for name, metrics in table.items():
        print(f'{name:<22}' + ''.join(f'{metrics.get(k, float("nan")):>22.2f}' for k in keys))
    print(f'\nsubmission: {archive or submission_dir}')
    print(f'checkpoint: {checkpoint}')
    print(f'total time: {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
