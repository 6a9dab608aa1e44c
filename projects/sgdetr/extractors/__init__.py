"""Features from video files and query texts: decoding, encoders, feature files.

Not imported by ``import sgdetr``; the encoders' libraries (PyAV or decord,
transformers, open_clip) are imported when an encoder or the decoder is
first used. ``pip install -e ".[video]"`` installs PyAV and transformers.
"""
from .base import (CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, TextEncoder,
                   VideoEncoder, to_pixels)
from .clip import CLIPTextEncoder, CLIPVideoEncoder, OpenCLIPTextEncoder, OpenCLIPVideoEncoder
from .extract import (encode_queries, extract_queries, extract_video, extract_videos,
                      video_id)
from .feature_files import (is_feature_file, load_feature_file, save_text_features,
                            save_video_features, text_feature_path, video_feature_path)
from .internvideo2 import InternVideo2TextEncoder, InternVideo2VideoEncoder
from .lookup import DatasetQueryEncoder
from .registry import ENCODERS, build_encoder
from .video_io import (VIDEO_EXTENSIONS, VideoInfo, is_video_file, iter_clip_frames,
                       list_videos, num_clips, probe_video, sample_times)

__all__ = [
    'VideoEncoder', 'TextEncoder', 'ENCODERS', 'build_encoder', 'to_pixels',
    'InternVideo2VideoEncoder', 'InternVideo2TextEncoder', 'CLIPVideoEncoder',
    'CLIPTextEncoder', 'OpenCLIPVideoEncoder', 'OpenCLIPTextEncoder', 'DatasetQueryEncoder',
    'IMAGENET_MEAN', 'IMAGENET_STD', 'CLIP_MEAN', 'CLIP_STD',
    'extract_video', 'extract_videos', 'encode_queries', 'extract_queries', 'video_id',
    'save_video_features', 'save_text_features', 'load_feature_file', 'is_feature_file',
    'video_feature_path', 'text_feature_path',
    'VIDEO_EXTENSIONS', 'VideoInfo', 'probe_video', 'iter_clip_frames', 'list_videos',
    'num_clips', 'sample_times', 'is_video_file'
]
