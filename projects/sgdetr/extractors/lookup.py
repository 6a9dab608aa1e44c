"""A text "encoder" that looks the features of annotated queries up in a dataset.

For models trained on pre-extracted features without the encoder that made
them (the synthetic demo data has no text encoder at all), a query typed as
one of the dataset's query strings, or as ``qid:<qid>``, gets its feature
file; any other text is refused with the list of what is known.
"""
import re
from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import Tensor

from sgdetr.datasets.annotations import read_jsonl
from sgdetr.datasets.features import (dataset_paths, layout_names, read_npz_array,
                                      text_feature_path)

from .base import TextEncoder
from .registry import ENCODERS


def normalize_query(text: str) -> str:
    return re.sub(r'\s+', ' ', str(text)).strip().lower()


def parse_qid(text: str):
    """The qid of ``qid:123`` (int when it is one), else ``None``."""
    match = re.fullmatch(r'\s*qid\s*[:=]\s*(\S+)\s*', str(text), flags=re.IGNORECASE)
    if not match:
        return None
    value = match.group(1)
    return int(value) if value.lstrip('-').isdigit() else value


@ENCODERS.register_module()
class DatasetQueryEncoder(TextEncoder):
    """Token features of a dataset's annotated queries, found by their text.

    Args:
        ann_files: annotation JSON lines (``qid``, ``query``), one or several.
        text_dir: the directory of the text feature files.
        layout: ``'released'`` or ``'npz'`` (see :mod:`sgdetr.datasets.features`).
    """

    def __init__(self, ann_files: Union[str, Sequence[str]], text_dir: str,
                 layout: str = 'released'):
        super().__init__()
        self.text_dir, self.layout = text_dir, layout
        self.qid_of: Dict[str, object] = {}
        self.query_of: Dict[object, str] = {}
        for path in [ann_files] if isinstance(ann_files, str) else list(ann_files):
            for _, record in read_jsonl(path):
                if 'qid' in record and 'query' in record:
                    self.qid_of.setdefault(normalize_query(record['query']), record['qid'])
                    self.query_of.setdefault(record['qid'], record['query'])

    @classmethod
    def from_dataset_cfg(cls, dataset_cfg: dict, ann_files: Optional[Sequence[str]] = None):
        """From a dataset config (``data_root``, ``ann_file``, ``text_feat_dir``,
        ``feature_layout``)."""
        paths = dataset_paths(dataset_cfg)
        return cls(list(ann_files) if ann_files else [paths.ann_file], paths.text_dir,
                   paths.layout)

    def qid(self, text: str):
        """The qid a query text (or ``qid:<qid>``) stands for; KeyError if unknown."""
        qid = parse_qid(text)
        if qid is not None:
            if qid not in self.query_of:
                raise KeyError(f'unknown qid {qid!r}')
            return qid
        key = normalize_query(text)
        if key not in self.qid_of:
            known = ', '.join(repr(q) for q in list(self.query_of.values())[:3])
            raise KeyError(f'{text!r} is not an annotated query of this dataset (e.g. {known}, '
                           'or qid:<qid>); free text needs a text encoder that matches the '
                           "model's features")
        return self.qid_of[key]

    def encode(self, texts: Sequence[str]) -> List[Tensor]:
        key = layout_names(self.layout)[3]
        return [torch.from_numpy(read_npz_array(
            text_feature_path(self.text_dir, self.qid(t), self.layout), key).copy())
            for t in texts]
