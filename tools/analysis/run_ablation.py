"""Run the paper's ablation (§4.6, Table 2: (a) -> (e)) on the synthetic data.

Each ``configs/ablation/*.py`` is the QVHighlights setting with some paper
components switched off. Here every one of them is trained with the demo's
data and sizes (configs/sgdetr_demo.py) and only its component switches, so
the table compares components, not data or model size. Synthetic numbers are
a smoke test of the components, not the paper's numbers.

    python tools/analysis/run_ablation.py [--work-dir work_dirs/ablation] [--max-epochs N]
"""
import argparse
import glob
import json
import os.path as osp
import time

from mmengine.config import Config

import sgdetr  # noqa: F401
from sgdetr.apis import use_cpu_collectives
from sgdetr.apis.experiments import train_run
from sgdetr.datasets.synthetic import make_synthetic_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = ('MR-full-mAP', 'MR-full-R1@0.5', 'MR-full-R1@0.7', 'HL-min-VeryGood-mAP',
        'HL-min-VeryGood-Hit1')


def component_switches(cfg: Config) -> dict:
    """The model switches that distinguish the ablation rows."""
    model = cfg.model
    return dict(
        encoder=dict(text_to_video=dict(layer=dict(
                         saliency_guided=model.encoder.text_to_video.layer.saliency_guided)),
                     global_saliency=dict(enabled=model.encoder.global_saliency.enabled)),
        detr_head=dict(with_iou_head=model.detr_head.with_iou_head,
                       collaborative=model.detr_head.collaborative),
        has_atss=model.get('atss_head') is not None)


def synthetic_variant(ablation_cfg: Config, demo_path: str, work_dir: str) -> Config:
    cfg = Config.fromfile(demo_path)
    switches = component_switches(ablation_cfg)
    has_atss = switches.pop('has_atss')
    cfg.merge_from_dict(dict(model=switches))
    if not has_atss:
        cfg.model.atss_head = None
        cfg.model.extra_outputs = ()
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)
    return use_cpu_collectives(cfg)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/ablation')
    parser.add_argument('--data-root', default='data/synthetic')
    parser.add_argument('--max-epochs', type=int)
    args = parser.parse_args()
    if not osp.exists(osp.join(args.data_root, 'annotations')):
        make_synthetic_dataset(args.data_root)
    demo = osp.join(REPO, 'configs', 'sgdetr_demo.py')
    rows = {}
    for path in sorted(glob.glob(osp.join(REPO, 'configs', 'ablation', '*.py'))):
        name = osp.splitext(osp.basename(path))[0]
        cfg = synthetic_variant(Config.fromfile(path), demo, osp.join(args.work_dir, name))
        if args.max_epochs:
            cfg.train_cfg.max_epochs = args.max_epochs
        start = time.time()
        runner = train_run(cfg)
        metrics = runner.val()
        rows[name] = dict({k: metrics.get(k) for k in KEYS},
                          train_minutes=round((time.time() - start) / 60, 1))
        with open(osp.join(args.work_dir, 'ablation.json'), 'w') as f:
            json.dump(rows, f, indent=2)
    print('\nAblation on the synthetic data (smoke test, not the paper numbers):')
    print(f"{'config':<36}" + ''.join(f'{k:>22}' for k in KEYS))
    for name, row in rows.items():
        print(f'{name:<36}' + ''.join(f'{row[k]:>22.2f}' for k in KEYS))


if __name__ == '__main__':
    main()
