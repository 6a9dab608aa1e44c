"""Convert a released SG-DETR checkpoint (chinagalaxy2002/SG_CGP) to this package.

    python tools/model_converters/official_to_sgdetr.py SRC DST [--config CONFIG] [--prefix P]

SRC is a Lightning checkpoint (``state_dict`` with the ``model.`` prefix) or a
bare state dict; DST is a checkpoint that ``tools/test.py CONFIG DST`` and
``MomentPredictor(CONFIG, DST)`` load. Every tensor is mapped by name and
checked against the model CONFIG builds (default: ``configs/sgdetr_qvh.py``;
use the dataset's config for Charades-STA / TACoS checkpoints); anything that
does not map, two tensors that map onto one, or a model tensor left without a
value, is an error listing them all. The tensors outside the prefix (an EMA
copy of the model, loss modules) are listed; ``--prefix`` converts another
copy (e.g. ``--prefix ema_model.``). A checkpoint whose saved
hyper-parameters hold a setting the model cannot represent (learned text
positions, ``use_txt_pos: True``) is refused. SRC is read with
``weights_only=True``: no code in it runs.
"""
import argparse
import io
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.engine.atomic_local_backend import atomic_write_bytes
from sgdetr.engine.official_checkpoint import (ConversionError, check_anchor_templates,
                                               check_hyper_parameters, convert_state_dict,
                                               describe_outside, load_released_checkpoint,
                                               split_state_dict)
from sgdetr.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='released checkpoint (.ckpt / .pth)')
    parser.add_argument('dst', help='converted checkpoint to write')
    parser.add_argument('--config', default=osp.join(REPO, 'configs', 'sgdetr_qvh.py'),
                        help='config of the model the checkpoint is for')
    parser.add_argument('--prefix', help="the model's prefix in the state dict (default: "
                        "'model.' when present); e.g. an EMA copy's")
    return parser.parse_args(argv)


def convert(src: str, dst: str, config: str, prefix=None) -> dict:
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'sgdetr'))
    model = MODELS.build(cfg.model)
    released = load_released_checkpoint(src)
    settings = check_hyper_parameters(released)
    official, outside = split_state_dict(released, prefix)
    if model.atss_head is not None:
        check_anchor_templates(official, model.atss_head.strides, model.atss_head.anchor_sizes)
    state, report = convert_state_dict(official, model.state_dict())
    model.load_state_dict(state, strict=True)
    notes = describe_outside(outside, official)
    if 'use_txt_pos' not in settings and any(k.startswith('txt_position_embed.')
                                             for k in report['unused']):
        notes.append('the checkpoint does not record use_txt_pos: its text positions are '
                     'left out, right for a model trained without them (as released)')
    checkpoint = dict(state_dict=state, meta=dict(
        converted_from=osp.basename(src), config=osp.basename(config),
        unused_released_tensors=sorted(report['unused']), not_converted=outside))
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write_bytes(buffer.getvalue(), dst)
    return dict(report, converted=len(state), notes=notes)


def main(argv=None):
    args = parse_args(argv)
    try:
        report = convert(args.src, args.dst, args.config, args.prefix)
    except ConversionError as error:
        sys.exit(f'{args.src}: {error}')
    print(f'{args.src}: {report["converted"]} tensors converted -> {args.dst}')
    for key, reason in sorted(report['unused'].items()):
        print(f'  not converted: {key} ({reason})')
    for note in report['notes']:
        print(f'  {note}')


if __name__ == '__main__':
    main()
