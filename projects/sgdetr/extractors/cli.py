"""Command-line options that choose the encoders, shared by the tools."""
import argparse
from typing import Optional, Tuple

from mmengine.config import DictAction

from .base import TextEncoder, VideoEncoder
from .registry import build_encoder

ENCODER_CHOICES = ('none', 'internvideo2', 'clip', 'open_clip')


def add_encoder_args(parser: argparse.ArgumentParser, video: bool = True,
                     text: bool = True) -> argparse.ArgumentParser:
    """The options of :func:`encoders_from_args`."""
    group = parser.add_argument_group(
        'encoders', 'how video files and query texts become features; use the encoder the '
        "model's features came from")
    group.add_argument('--encoder', choices=ENCODER_CHOICES, default='none',
                       help='internvideo2: the released TorchScript extractor (features of '
                       'configs/sgdetr_qvh.py); clip: CLIP through transformers; open_clip: '
                       'CLIP through open_clip')
    if video:
        group.add_argument('--video-encoder-path',
                           help='internvideo2: the TorchScript video_encoder.pt')
        group.add_argument('--frames-per-clip', type=int,
                           help='frames sampled per clip (default: the encoder\'s)')
        group.add_argument('--video-encoder-cfg', nargs='+', action=DictAction, metavar='K=V',
                           help='any registered video encoder, e.g. '
                           'type=InternVideo2VideoEncoder path=video_encoder.pt')
    if text:
        group.add_argument('--text-encoder-path',
                           help='internvideo2: the TorchScript text encoder (per-token outputs)')
        group.add_argument('--tokenizer', default='bert-large-uncased',
                           help='internvideo2: Hugging Face tokenizer name or directory')
        group.add_argument('--text-encoder-cfg', nargs='+', action=DictAction, metavar='K=V',
                           help='any registered text encoder, e.g. type=CLIPTextEncoder '
                           'model=openai/clip-vit-base-patch32')
    group.add_argument('--clip-model', help='clip: transformers model name or directory '
                       '(default openai/clip-vit-base-patch32); open_clip: model name '
                       '(default ViT-B-32)')
    group.add_argument('--clip-pretrained', default='openai',
                       help='open_clip: pretrained tag or checkpoint file')
    group.add_argument('--encoder-device', help='device of the encoders (default: CUDA if '
                       'available)')
    return parser


def encoders_from_args(args: argparse.Namespace) -> Tuple[Optional[VideoEncoder],
                                                        Optional[TextEncoder]]:
    """The (video, text) encoders the options name; ``None`` for a side not asked for."""
    kind = getattr(args, 'encoder', 'none')
    device = getattr(args, 'encoder_device', None)
    video_cfg = getattr(args, 'video_encoder_cfg', None)
    text_cfg = getattr(args, 'text_encoder_cfg', None)
    frames = getattr(args, 'frames_per_clip', None)
    if video_cfg is None and hasattr(args, 'video_encoder_path'):
        if kind == 'internvideo2' and args.video_encoder_path:
            video_cfg = dict(type='InternVideo2VideoEncoder', path=args.video_encoder_path,
                             frames_per_clip=frames, device=device)
        elif kind == 'clip':
            video_cfg = dict(type='CLIPVideoEncoder', model=args.clip_model
                             or 'openai/clip-vit-base-patch32', frames_per_clip=frames or 1,
                             device=device)
        elif kind == 'open_clip':
            video_cfg = dict(type='OpenCLIPVideoEncoder', model_name=args.clip_model
                             or 'ViT-B-32', pretrained=args.clip_pretrained,
                             frames_per_clip=frames or 1, device=device)
        elif kind == 'internvideo2':
            pass  # text only
    if text_cfg is None and hasattr(args, 'text_encoder_path'):
        if kind == 'internvideo2' and args.text_encoder_path:
            text_cfg = dict(type='InternVideo2TextEncoder', path=args.text_encoder_path,
                            tokenizer=args.tokenizer, device=device)
        elif kind == 'clip':
            text_cfg = dict(type='CLIPTextEncoder', model=args.clip_model
                            or 'openai/clip-vit-base-patch32', device=device)
        elif kind == 'open_clip':
            text_cfg = dict(type='OpenCLIPTextEncoder', model_name=args.clip_model
                            or 'ViT-B-32', pretrained=args.clip_pretrained, device=device)
    if kind == 'internvideo2' and video_cfg is None and text_cfg is None:
        raise SystemExit('--encoder internvideo2 needs --video-encoder-path and/or '
                         '--text-encoder-path (the TorchScript files)')
    return (build_encoder(video_cfg, VideoEncoder), build_encoder(text_cfg, TextEncoder))
