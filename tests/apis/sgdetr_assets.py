"""Small things the inference and extraction tests build: synthetic video files
(PyAV), tiny randomly initialised encoders (TorchScript, transformers CLIP), a
BERT-style tokenizer directory, and a demo-config checkpoint with random weights.

Nothing is downloaded. Import it from a test file with :func:`load_assets`.
"""
import json
import os
import os.path as osp
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

#: colours of the synthetic videos, one per second
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def write_video(path, colors, fps=5, size=(64, 48), codec='mpeg4'):
    """A video with one solid colour per second (``colors``: RGB tuples) and
    a white square moving left to right; returns the path."""
    import av
    width, height = size
    with av.open(str(path), 'w') as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
        total = len(colors) * fps
        for index in range(total):
            image = np.zeros((height, width, 3), np.uint8)
            image[:] = colors[index // fps]
            left = int((width - 8) * index / max(1, total - 1))
            image[4:12, left:left + 8] = 255
            frame = av.VideoFrame.from_ndarray(image, format='rgb24')
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


class TinyVideoEncoder(nn.Module):
    """(B, 3, T, S, S) -> (B, dim); checks the layout it is given."""

    def __init__(self, dim=16, num_frames=2, image_size=32):
        super().__init__()
        self.num_frames = num_frames
        self.image_size = image_size
        self.conv = nn.Conv3d(3, dim, kernel_size=(1, 8, 8), stride=(1, 8, 8))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == 3 and x.shape[2] == self.num_frames
        assert x.shape[3] == self.image_size and x.shape[4] == self.image_size
        return self.proj(self.conv(x).mean(dim=(2, 3, 4)))


class TinyTextEncoder(nn.Module):
    """(input_ids, attention_mask) -> (B, N, dim) per-token features."""

    def __init__(self, vocab_size=64, dim=16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.proj(self.embed(input_ids)) * attention_mask.unsqueeze(-1).float()


def _save_scripted(module, path):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.jit.save(torch.jit.script(module.eval()), str(path))
    return str(path)


def torchscript_video_encoder(path, seed=0, **kwargs):
    torch.manual_seed(seed)
    return _save_scripted(TinyVideoEncoder(**kwargs), path)


def torchscript_text_encoder(path, seed=0, **kwargs):
    torch.manual_seed(seed)
    return _save_scripted(TinyTextEncoder(**kwargs), path)


class WordTokenizer:
    """A callable with the Hugging Face tokenizer signature: one id per word
    (hash of the word), [CLS]=1 first, [SEP]=2 last, padding 0."""

    def __init__(self, vocab_size=64):
        self.vocab_size = vocab_size

    def __call__(self, texts, padding=True, truncation=True, max_length=40, return_tensors='pt'):
        rows = []
        for text in texts:
            words = [3 + sum(map(ord, w)) % (self.vocab_size - 3) for w in text.lower().split()]
            rows.append([1] + words[:max_length - 2] + [2])
        width = max(map(len, rows))
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for b, row in enumerate(rows):
            ids[b, :len(row)] = torch.tensor(row)
            mask[b, :len(row)] = 1
        return {'input_ids': ids, 'attention_mask': mask}


def bert_tokenizer_dir(directory, words=('a', 'red', 'green', 'blue', 'square', 'dog')):
    """A BERT WordPiece tokenizer directory (vocab.txt) for AutoTokenizer."""
    os.makedirs(directory, exist_ok=True)
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *words]
    Path(directory, 'vocab.txt').write_text('\n'.join(vocab) + '\n')
    Path(directory, 'tokenizer_config.json').write_text(json.dumps(
        {'tokenizer_class': 'BertTokenizer', 'do_lower_case': True, 'model_max_length': 40}))
    return str(directory)


def tiny_clip_dir(directory, projection_dim=24, seed=0):
    """A randomly initialised ``transformers`` CLIPModel and a character-level
    CLIP tokenizer, saved with ``save_pretrained`` (loaded back by the encoders
    with ``from_pretrained``, the code path of real weights)."""
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel
    os.makedirs(directory, exist_ok=True)
    vocab = {}
    for char in 'abcdefghijklmnopqrstuvwxyz0123456789.,!?\'':
        vocab[char] = len(vocab)
        vocab[char + '</w>'] = len(vocab)
    for special in ('<|startoftext|>', '<|endoftext|>'):
        vocab[special] = len(vocab)
    tokenizer_dir = osp.join(directory, 'tokenizer_src')
    os.makedirs(tokenizer_dir, exist_ok=True)
    Path(tokenizer_dir, 'vocab.json').write_text(json.dumps(vocab))
    Path(tokenizer_dir, 'merges.txt').write_text('#version: 0.2\n')
    Path(tokenizer_dir, 'tokenizer_config.json').write_text(json.dumps(
        {'tokenizer_class': 'CLIPTokenizer', 'model_max_length': 32}))
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    end = vocab['<|endoftext|>']
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=32,
                         eos_token_id=end, bos_token_id=vocab['<|startoftext|>'],
                         pad_token_id=end),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2, image_size=32, patch_size=16),
        projection_dim=projection_dim)
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def demo_checkpoint(base_dir):
    """Random weights of ``configs/sgdetr_demo.py``'s model, saved once per
    ``base_dir`` with MMEngine's ``save_checkpoint``."""
    path = osp.join(str(base_dir), 'sgdetr_demo_random.pth')
    if osp.exists(path):
        return path
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import save_checkpoint

    import sgdetr  # noqa: F401
    from sgdetr.registry import MODELS
    repo = Path(__file__).parents[2]
    cfg = Config.fromfile(str(repo / 'configs' / 'sgdetr_demo.py'))
    init_default_scope('sgdetr')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    tmp = path + '.tmp'
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, tmp)
    os.replace(tmp, path)
    return path


def synthetic_root(base_dir, dim=256):
    """A small synthetic dataset (QVHighlights layout, npz features), once per base_dir."""
    root = osp.join(str(base_dir), f'synthetic_{dim}')
    if not osp.exists(osp.join(root, 'annotations', 'highlight_test_release.jsonl')):
        from sgdetr.datasets.synthetic import make_synthetic_dataset
        make_synthetic_dataset(root, num_train=4, num_val=10, num_test=3, dim=dim,
                               num_topics=4, seed=1, verbose=False)
    return root


def demo_config(root):
    """``configs/sgdetr_demo.py`` reading the synthetic data at ``root``."""
    from mmengine.config import Config
    repo = Path(__file__).parents[2]
    cfg = Config.fromfile(str(repo / 'configs' / 'sgdetr_demo.py'))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = root.rstrip('/') + '/'
    return cfg


def zero_shot_config(root=None, dim=None):
    """The parameter-free zero-shot config (synthetic data at ``root``), with
    the feature dims set to ``dim`` when given."""
    from mmengine.config import Config
    repo = Path(__file__).parents[2]
    cfg = Config.fromfile(str(repo / 'configs' / 'zero_shot' / 'zero_shot_synthetic.py'))
    for split in ('val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        if root:
            dataset.data_root = root.rstrip('/') + '/'
        if dim:
            dataset.video_dim = dataset.text_dim = dim
    return cfg
