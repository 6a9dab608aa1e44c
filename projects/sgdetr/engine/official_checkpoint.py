"""Names of the released SG-DETR checkpoints (chinagalaxy2002/SG_CGP) in this package.

A released checkpoint is a PyTorch Lightning checkpoint whose ``state_dict``
holds the model's tensors under ``model.``; its module tree differs from
ours, so every tensor name is mapped by an explicit rule below, both ways.
Two kinds of released tensors have no counterpart on purpose and are
reported (never silently dropped): :data:`UNUSED_OFFICIAL`. The learned text
positions are left out only for a checkpoint trained without them: a
checkpoint whose saved hyper-parameters say otherwise is refused
(:data:`REQUIRED_HYPER_PARAMETERS`). Tensors outside the model's prefix (an
EMA copy, loss modules) are listed; another prefix is converted on request.
"""
import re
from typing import Any, Dict, Iterable, List, Optional, Tuple

import torch

#: per block: (official prefix, our prefix, renames inside the block)
_FFN = (('ffn.mapping.', 'ffn.layers.'), )
_DECODER_LAYER = _FFN + (
    ('self_attention.query_content_proj.', 'sa_query_content.'),
    ('self_attention.query_pos_proj.', 'sa_query_pos.'),
    ('self_attention.key_content_proj.', 'sa_key_content.'),
    ('self_attention.key_pos_proj.', 'sa_key_pos.'),
    ('self_attention.value_proj.', 'sa_value.'),
    ('self_attention.self_attn.', 'self_attn.'),
    ('self_attention.norm1.', 'norm1.'),
    ('ca_qcontent_proj.', 'ca_query_content.'),
    ('ca_qpos_sine_proj.', 'ca_query_pos.'),
    ('ca_kcontent_proj.', 'ca_key_content.'),
    ('ca_kpos_proj.', 'ca_key_pos.'),
    ('ca_value_proj.', 'ca_value.'),
)
_POOLING_LAYER = _FFN + (('attn_norm.', 'token_norm.'), )


def _blocks() -> List[Tuple[str, str, tuple]]:
    blocks = []
    for official, ours in (('input_vid_proj', 'encoder.video_proj'),
                           ('input_txt_proj', 'encoder.text_proj')):
        for i in range(2):  # LayerNorm -> Dropout -> Linear [-> ReLU]
            blocks += [(f'{official}.linear_mapper.{i}.mapper.0.', f'{ours}.layers.{4 * i}.', ()),
                       (f'{official}.linear_mapper.{i}.mapper.2.', f'{ours}.layers.{4 * i + 2}.', ())]
    blocks += [
        ('modality_embeddings.', 'encoder.modality_embed.embedding.', ()),
        ('local_saliency_head.sentence_pooling.layers.', 'encoder.local_saliency.pooling.layers.',
         _POOLING_LAYER),
        ('local_saliency_head.sentence_pooling.cls_q', 'encoder.local_saliency.pooling.query', ()),
        ('local_saliency_head.sentence_pooling.norm.', 'encoder.local_saliency.pooling.norm.', ()),
        ('local_saliency_head.temp', 'encoder.local_saliency.log_scale', ()),
        ('local_saliency_head.a_param', 'encoder.local_saliency.bias', ()),
        ('txt2vis_sal_encoder.t2v_encoder.layers.', 'encoder.text_to_video.layers.',
         _FFN + (('self_attn.', 'attn.'), )),
        ('txt2vis_sal_encoder.t2v_encoder.norm.', 'encoder.text_to_video.norm.', ()),
        ('det_encoder.encoder.layers.', 'encoder.context_encoder.layers.', _FFN),
        ('global_saliency_head.', 'encoder.global_saliency.offset.', ()),
        ('sent_encoder.sent_rep_token', 'sentence_encoder.token', ()),
        ('sent_encoder.sent_rep_pos', 'sentence_encoder.token_pos', ()),
        ('sent_encoder.sent_cls_encoder.layers.', 'sentence_encoder.layers.', _FFN),
        ('moment_encoder.moment_rep_token', 'moment_encoder.token', ()),
        ('moment_encoder.moment_rep_pos', 'moment_encoder.token_pos', ()),
        ('moment_encoder.mcls_encoder.layers.', 'moment_encoder.layers.', _FFN),
    ]
    for official, ours, first, second in (('upscale', 'up2', 1, 4), ('level0', 'full', 0, 3),
                                          ('level1', 'down2', 0, 3), ('level2', 'down4', 1, 4)):
        blocks += [(f'fpn.{official}.{first}.', f'pyramid.{ours}.conv1.', ()),
                   (f'fpn.{official}.{first + 1}.norm.', f'pyramid.{ours}.norm1.', ()),
                   (f'fpn.{official}.{second}.', f'pyramid.{ours}.conv2.', ()),
                   (f'fpn.{official}.{second + 1}.norm.', f'pyramid.{ours}.norm2.', ())]
    selector = 'detr_head.query_selector.'
    blocks += [
        ('query_selector.enc_output.', selector + 'proj.', ()),
        ('query_selector.enc_output_norm.', selector + 'norm.', ()),
        ('query_selector.enc_out_class_embed.', selector + 'cls_head.', ()),
        ('query_selector.enc_out_iou_embed.', selector + 'iou_head.', ()),
        ('query_selector.enc_out_span_embed.linear_mapper.', selector + 'offset_head.layers.', ()),
        ('main_det_head.co_mapper.', 'detr_head.collab_proj.', ()),
        ('main_det_head.class_embed.', 'detr_head.cls_head.', ()),
        ('main_det_head.span_embed.linear_mapper.', 'detr_head.span_head.layers.', ()),
        ('main_det_head.decoder.layers.', 'detr_head.decoder.layers.', _DECODER_LAYER),
        ('main_det_head.decoder.norm.', 'detr_head.decoder.norm.', ()),
    ]
    for official, ours in (('query_scale', 'query_scale'), ('quality_score_embed', 'iou_head'),
                           ('ref_point_head', 'ref_point_head'),
                           ('ref_anchor_head', 'ref_anchor_head'), ('span_embed', 'ref_refiner')):
        blocks.append((f'main_det_head.decoder.{official}.linear_mapper.',
                       f'detr_head.decoder.{ours}.layers.', ()))
    for official, ours in (('classification_head', 'cls_tower'), ('regression_head', 'reg_tower')):
        for i, index in enumerate((1, 5, 9)):  # (Identity, Conv, LayerNorm, ReLU) x 3
            blocks += [(f'aux_det_head.{official}.stem.layers.{index}.',
                        f'atss_head.{ours}.convs.{i}.', ()),
                       (f'aux_det_head.{official}.stem.layers.{index + 1}.norm.',
                        f'atss_head.{ours}.norms.{i}.', ())]
    blocks += [
        ('aux_det_head.classification_head.cls_logits.layers.1.', 'atss_head.cls_conv.', ()),
        ('aux_det_head.regression_head.bbox_reg.layers.1.', 'atss_head.reg_conv.', ()),
        ('aux_det_head.regression_head.bbox_ctrness.layers.1.', 'atss_head.centerness_conv.', ()),
        ('aux_det_head.regression_head.scales.', 'atss_head.scales.', ()),
    ]
    return blocks


BLOCKS = _blocks()

#: released tensors without a counterpart here, and why
UNUSED_OFFICIAL = {
    r'txt_position_embed\..*': 'learned text positions, unused as released (use_txt_pos: False)',
    r'aux_det_head\.anchor_generator\.cell_anchors\.\d+':
        'anchor templates (buffers), recomputed from the strides and sizes',
}


#: released hyper-parameters this package can only represent at one value:
#: name -> (that value, what another value would need)
REQUIRED_HYPER_PARAMETERS = {
    'use_txt_pos': (False, 'learned text positions (txt_position_embed) added to the text '
                           'tokens, which this model does not have'),
}
#: where a checkpoint may save its hyper-parameters
_HYPER_PARAMETER_KEYS = ('hyper_parameters', 'hparams', 'config', 'cfg')


def _translate(key: str, source: int) -> Optional[str]:
    target = 1 - source
    best = None
    for block in BLOCKS:
        prefix = block[source]
        if key.startswith(prefix) and (best is None or len(prefix) > len(best[source])):
            best = block
    if best is None:
        return None
    rest = '.' + key[len(best[source]):]
    for pair in best[2]:
        rest = rest.replace('.' + pair[source], '.' + pair[target])
    return best[target] + rest[1:]


def official_to_sgdetr_key(key: str) -> Optional[str]:
    """Our name of released tensor ``key`` (without ``model.``), or None."""
    return _translate(key, 0)


def sgdetr_to_official_key(key: str) -> Optional[str]:
    """The released name of our tensor ``key``, or None."""
    return _translate(key, 1)


def is_unused_official(key: str) -> Optional[str]:
    """Why released tensor ``key`` is not converted, or None if it should be."""
    for pattern, reason in UNUSED_OFFICIAL.items():
        if re.fullmatch(pattern, key):
            return reason
    return None


class ConversionError(ValueError):
    """A released checkpoint that does not map onto the model exactly."""


def split_state_dict(checkpoint, prefix: Optional[str] = None
                     ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """The model tensors of a released checkpoint, and the other tensors' keys.

    Args:
        checkpoint: a Lightning checkpoint (``state_dict``) or a bare state dict.
        prefix: the model's prefix in it (``'model.'``, or e.g. the prefix
            of an EMA copy); None: ``'model.'`` when a key has it, else none.

    Returns:
        (tensors without the prefix, sorted keys outside the prefix).
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConversionError('not a checkpoint: expected a dict of tensors, or a dict with a '
                              '"state_dict" of tensors')
    if prefix is None:
        prefix = 'model.' if any(k.startswith('model.') for k in state) else ''
    inside = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not inside:
        tops = sorted({k.split('.')[0] + '.' for k in state})
        raise ConversionError(f'no tensor has the prefix {prefix!r}; the checkpoint\'s '
                              f'prefixes are {tops}')
    return inside, sorted(k for k in state if not k.startswith(prefix))


def official_state_dict(checkpoint, prefix: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """The model tensors of a released checkpoint: a Lightning checkpoint (``state_dict``
    with the ``model.`` prefix) or a bare state dict (with or without the prefix)."""
    return split_state_dict(checkpoint, prefix)[0]


def describe_outside(outside: Iterable[str], model_keys: Iterable[str]) -> List[str]:
    """One line per prefix of the tensors outside the model: how many, which,
    and whether it holds another copy of the model (an EMA average)."""
    groups: Dict[str, List[str]] = {}
    for key in outside:
        groups.setdefault(key.split('.')[0] + '.', []).append(key)
    model_keys = set(model_keys)
    lines = []
    for prefix, keys in sorted(groups.items()):
        if {k[len(prefix):] for k in keys} >= model_keys:
            lines.append(f'{prefix} ({len(keys)} tensors): another copy of the model (an '
                         f'EMA average?), not converted; convert it with --prefix {prefix}')
        else:
            shown = ', '.join(keys[:3]) + (f', ... (+{len(keys) - 3})' if len(keys) > 3 else '')
            lines.append(f'{prefix} ({len(keys)} tensors, not of the model): {shown}')
    return lines


def saved_hyper_parameters(checkpoint, names: Iterable[str] = tuple(REQUIRED_HYPER_PARAMETERS)
                           ) -> Dict[str, Any]:
    """The values of ``names`` wherever the checkpoint's saved hyper-parameters
    (Lightning's ``hyper_parameters``, a saved config) hold them."""
    names, found = set(names), {}

    def visit(node, depth=0):
        if depth > 8:
            return
        if isinstance(node, OpaqueObject):
            node = [node.args, node.kwargs, getattr(node, 'state', None)]
        if isinstance(node, dict):
            for key, value in node.items():
                if key in names and not isinstance(value, (dict, list, tuple)):
                    found.setdefault(key, value)
                visit(value, depth + 1)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value, depth + 1)

    if isinstance(checkpoint, dict):
        visit([checkpoint.get(key) for key in _HYPER_PARAMETER_KEYS])
    return found


def check_hyper_parameters(checkpoint) -> Dict[str, Any]:
    """Refuse a checkpoint trained with a setting this package cannot represent;
    returns the settings found (:data:`REQUIRED_HYPER_PARAMETERS`)."""
    found = saved_hyper_parameters(checkpoint)
    wrong = [f'{name}={found[name]!r}: {why}' for name, (value, why)
             in REQUIRED_HYPER_PARAMETERS.items() if name in found and found[name] != value]
    if wrong:
        raise ConversionError('the checkpoint was trained with settings this model cannot '
                              'represent:\n  ' + '\n  '.join(wrong))
    return found


def convert_state_dict(official: Dict[str, torch.Tensor],
                       target: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], Dict]:
    """Map every released tensor onto ``target`` (a model's state dict), checking shapes.

    Scalars stored as (1,) are reshaped to our () and back; nothing else.

    Returns:
        the converted state dict (exactly ``target``'s keys) and a report
        ``{'unused': {key: reason}}``.
    Raises:
        ConversionError: listing every released tensor that maps nowhere,
            onto a tensor of another shape or onto one another tensor maps
            onto, and every model tensor left without a value.
    """
    converted, unused, problems, source = {}, {}, [], {}
    for key, value in official.items():
        reason = is_unused_official(key)
        if reason is not None:
            unused[key] = reason
            continue
        ours = official_to_sgdetr_key(key)
        if ours is None or ours not in target:
            problems.append(f'  {key} {tuple(value.shape)}: no tensor of the model '
                            f'({ours or "no mapping rule"})')
            continue
        if ours in source:
            problems.append(f'  {key} -> {ours}: {source[ours]} maps onto it too')
            continue
        source[ours] = key
        expected = target[ours].shape
        if value.shape != expected:
            if value.numel() == 1 and target[ours].numel() == 1:
                value = value.reshape(expected)
            else:
                problems.append(f'  {key} {tuple(value.shape)} -> {ours} {tuple(expected)}: '
                                'shape mismatch')
                continue
        converted[ours] = value.to(target[ours].dtype)
    missing = sorted(set(target) - set(converted))
    problems += [f'  {key} {tuple(target[key].shape)}: no released tensor' for key in missing]
    if problems:
        raise ConversionError('the checkpoint does not map onto the model:\n' + '\n'.join(problems))
    return converted, dict(unused=unused)


def check_anchor_templates(official: Dict[str, torch.Tensor], strides: Iterable[float],
                           sizes: Iterable[float]) -> None:
    """The released anchor buffers must be the templates our ATSS head recomputes."""
    for i, (stride, size) in enumerate(zip(strides, sizes)):
        value = official.get(f'aux_det_head.anchor_generator.cell_anchors.{i}')
        if value is None:
            continue
        expected = torch.tensor([[stride / 2 - (size - 1) / 2, stride / 2 + (size - 1) / 2]],
                                dtype=value.dtype)
        if not torch.allclose(value, expected):
            raise ConversionError(f'anchor template {i} is {value.tolist()}, the model computes '
                                  f'{expected.tolist()}: strides/anchor sizes differ')


class OpaqueObject:
    """Stands in for a non-tensor object of a released checkpoint (its optimizer
    partials, scheduler settings): the state is kept as data, no code runs."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state


_UNSUPPORTED = re.compile(r'Unsupported global: GLOBAL ([\w.]+)')


def load_released_checkpoint(path: str, max_placeholders: int = 64):
    """``torch.load`` a released (Lightning) checkpoint with ``weights_only=True``.

    Lightning also pickles its hyper-parameters (``functools.partial`` of the
    optimizer, the authors' scheduler class...). Each such global is
    replaced by an inert :class:`OpaqueObject` subclass and the load retried:
    the tensors come out, and nothing in the file is executed.
    """
    stand_ins = []
    for _ in range(max_placeholders + 1):
        try:
            with torch.serialization.safe_globals(stand_ins):
                return torch.load(path, map_location='cpu', weights_only=True)
        except Exception as error:  # the unpickler raises UnpicklingError or RuntimeError
            match = _UNSUPPORTED.search(str(error))
            if match is None:
                raise ConversionError(f'{path}: cannot be read as a checkpoint ({error})') \
                    from error
            name = match.group(1)
            stand_ins.append((type(name.rsplit('.', 1)[-1], (OpaqueObject, ), {}), name))
    raise ConversionError(f'{path}: more than {max_placeholders} non-tensor globals')
