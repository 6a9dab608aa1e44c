"""Datasets, feature loading, pipeline transforms, batching, synthetic data."""
from sgdetr.errors import DataError
from .annotations import parse_annotation, read_jsonl
from .data_preprocessor import MomentDataPreprocessor, pad_sequences
from .highlight_targets import HighlightSaliencyTargets
from .features import (LAYOUTS, DatasetPaths, FeatureStore, combine_video_sources,
                       dataset_paths, l2_normalize, read_npz_array, read_pt_array)
from .moment_dataset import (CharadesSTADataset, MomentRetrievalDataset,
                             QVHighlightsDataset, TACoSDataset, TVSumDataset,
                             YouTubeHighlightsDataset)
from .sliding_windows import RandomClipCrop, SlidingWindows, moment_collate
from .synthetic import make_synthetic_dataset
from .intervid_mr import (clip_caption_similarity, relabel_moment, saliency_grades,
                          similarity_threshold)
from .intervid_mr_builder import build_intervid_mr
from .transforms import (AppendTemporalEndpoints, BuildMomentTargets, PackMomentInputs,
                         PadClips, TruncateFeatures, binary_saliency_from_windows,
                         sample_saliency_pairs)

__all__ = [
    'DataError', 'MomentRetrievalDataset', 'QVHighlightsDataset',
    'CharadesSTADataset', 'TACoSDataset', 'TVSumDataset',
    'YouTubeHighlightsDataset', 'MomentDataPreprocessor', 'pad_sequences',
    'TruncateFeatures', 'AppendTemporalEndpoints', 'PadClips', 'BuildMomentTargets',
    'PackMomentInputs', 'FeatureStore', 'LAYOUTS', 'DatasetPaths', 'dataset_paths', 'combine_video_sources', 'read_npz_array', 'read_pt_array',
    'l2_normalize', 'read_jsonl', 'parse_annotation', 'binary_saliency_from_windows',
    'sample_saliency_pairs', 'HighlightSaliencyTargets',
    'SlidingWindows', 'RandomClipCrop', 'moment_collate', 'make_synthetic_dataset', 'build_intervid_mr', 'clip_caption_similarity',
    'relabel_moment', 'saliency_grades', 'similarity_threshold'
]
