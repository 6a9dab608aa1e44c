"""Video decoding, the registered encoders (tiny random models), and feature files
written in the layouts the datasets read."""
import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import sgdetr_assets
from sgdetr import extractors
from sgdetr.datasets.features import FeatureStore
from sgdetr.extractors import (ENCODERS, InternVideo2TextEncoder, InternVideo2VideoEncoder,
                               TextEncoder, VideoEncoder, build_encoder, extract_queries,
                               extract_video, extract_videos, iter_clip_frames, num_clips,
                               probe_video, sample_times)

REPO = Path(__file__).parents[2]


def test_clip_count_and_sampling_times():
    assert num_clips(150.0, 2.0) == 75
    assert num_clips(149.0, 2.0) == 75  # a last clip of 1 s counts
    assert num_clips(150.1, 2.0) == 75  # one of 0.1 s does not
    assert num_clips(0.3, 2.0) == 1
    np.testing.assert_allclose(sample_times(2, 2.0, 2), [[0.5, 1.5], [2.5, 3.5]])


def test_decoder_samples_each_clip_at_its_times(videos):
    info = probe_video(videos['rgb'])
    assert info.duration == pytest.approx(5.0) and (info.width, info.height) == (64, 48)
    clips = list(iter_clip_frames(videos['rgb'], clip_len=2.0, frames_per_clip=2,
                                  short_side=32))
    # 5 s -> clips [0,2) [2,4) [4,5); frames at 0.5 1.5 | 2.5 3.5 | 4.5 5.5 (past the end)
    assert len(clips) == 3 and clips[0].shape == (2, 32, 43, 3) and clips[0].dtype == np.uint8
    colours = [[int(np.argmax(frame[30, 5])) for frame in clip] for clip in clips]
    assert colours == [[0, 0], [1, 1], [2, 2]]  # red, red | green, green | blue, blue
    one = list(iter_clip_frames(videos['rgb'], clip_len=1.0, frames_per_clip=1))
    assert len(one) == 5 and one[0].shape == (1, 48, 64, 3)
    assert [int(np.argmax(c[0, 30, 5])) for c in one] == [0, 0, 1, 1, 2]


def test_decoder_errors_name_the_file(tmp_path):
    pytest.importorskip('av')
    bogus = tmp_path / 'bogus.mp4'
    bogus.write_text('not a video')
    with pytest.raises(ValueError, match='bogus.mp4'):
        list(iter_clip_frames(str(bogus)))
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        probe_video(str(tmp_path / 'missing.mp4'))


def test_decord_backend_matches_pyav(videos):
    pytest.importorskip('decord')
    pyav = list(iter_clip_frames(videos['rgb'], 2.0, 2, 32, backend='pyav'))
    decord = list(iter_clip_frames(videos['rgb'], 2.0, 2, 32, backend='decord'))
    assert len(pyav) == len(decord)
    for a, b in zip(pyav, decord):
        assert a.shape == b.shape
        assert np.abs(a[:, 30, 5].astype(int) - b[:, 30, 5].astype(int)).max() < 40


def test_internvideo2_video_encoder_reads_torchscript(videos, torchscript_encoders):
    encoder = build_encoder(dict(type='InternVideo2VideoEncoder',
                                 path=torchscript_encoders['video'], device='cpu'), VideoEncoder)
    # frame count and size come from the module's attributes
    assert (encoder.frames_per_clip, encoder.image_size) == (2, 32)
    features, duration = extract_video(videos['rgb'], encoder, clip_len=2.0, batch_size=2)
    assert features.shape == (3, 16) and features.dtype == np.float32 and duration == 5.0
    # the same as the module on the normalised, centre-cropped clips, in (B, C, T, H, W)
    frames = torch.from_numpy(np.stack(list(iter_clip_frames(videos['rgb'], 2.0, 2, 32))))
    pixels = extractors.to_pixels(frames, 32, extractors.IMAGENET_MEAN, extractors.IMAGENET_STD)
    expected = encoder.module(pixels.permute(0, 2, 1, 3, 4))
    np.testing.assert_allclose(features, expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    # clips of different colours get different features
    assert not np.allclose(features[0], features[2])
    # arguments override the module's attributes (the module then refuses the input)
    other = InternVideo2VideoEncoder(torchscript_encoders['video'], frames_per_clip=3,
                                     device='cpu')
    with pytest.raises(Exception):
        extract_video(videos['short'], other)


def test_internvideo2_text_encoder_keeps_the_real_tokens(torchscript_encoders):
    encoder = InternVideo2TextEncoder(torchscript_encoders['text'],
                                      tokenizer=sgdetr_assets.WordTokenizer(), device='cpu')
    tokens = encoder.encode(['a red square', 'dog'])
    assert [t.shape for t in tokens] == [(5, 16), (3, 16)]  # [CLS] words [SEP]
    alone = encoder.encode(['dog'])[0]
    torch.testing.assert_close(tokens[1], alone)  # padding does not leak in


def test_internvideo2_text_encoder_with_a_bert_tokenizer_dir(torchscript_encoders, tmp_path):
    pytest.importorskip('transformers')
    tokenizer = sgdetr_assets.bert_tokenizer_dir(tmp_path / 'bert')
    encoder = build_encoder(dict(type='InternVideo2TextEncoder',
                                 path=torchscript_encoders['text'], tokenizer=tokenizer,
                                 max_length=4, device='cpu'), TextEncoder)
    tokens = encoder.encode(['a red square', 'a red green blue square dog'])
    assert [t.shape[0] for t in tokens] == [4, 4]  # truncated to max_length


def test_clip_encoders_through_transformers(videos, tmp_path):
    pytest.importorskip('transformers')
    model_dir = sgdetr_assets.tiny_clip_dir(tmp_path / 'clip')
    video = build_encoder(dict(type='CLIPVideoEncoder', model=model_dir, frames_per_clip=2,
                               device='cpu'), VideoEncoder)
    text = build_encoder(dict(type='CLIPTextEncoder', model=model_dir, device='cpu'),
                         TextEncoder)
    assert video.clip is text.clip  # one model, loaded once
    assert video.image_size == 32
    features, _ = extract_video(videos['rgb'], video, clip_len=2.0)
    assert features.shape == (3, 24)
    tokens = text.encode(['a red square', 'dog'])
    assert tokens[0].shape == (12, 24) and tokens[1].shape == (5, 24)  # letters + 2
    # the end token's row is CLIP's sentence embedding
    batch = text.tokenizer(['dog'], return_tensors='pt')
    pooled = text.clip.text_projection(text.clip.text_model(**batch).pooler_output)
    torch.testing.assert_close(tokens[1][-1], pooled[0].detach(), rtol=1e-4, atol=1e-5)
    width = build_encoder(dict(type='CLIPTextEncoder', model=model_dir, project_tokens=False,
                               device='cpu')).encode(['dog'])[0]
    assert width.shape == (5, 32)


def test_open_clip_encoders(videos, tmp_path):
    """A tiny open_clip model from a config of its own; weights from a file."""
    open_clip = pytest.importorskip('open_clip')
    config = dict(embed_dim=24,
                  vision_cfg=dict(image_size=32, layers=1, width=64, patch_size=16),
                  text_cfg=dict(context_length=16, vocab_size=49408, width=32, heads=2,
                                layers=1))
    (tmp_path / 'sgdetr-tiny.json').write_text(json.dumps(config))
    open_clip.add_model_config(str(tmp_path / 'sgdetr-tiny.json'))
    weights = tmp_path / 'tiny.pt'
    torch.save(open_clip.create_model('sgdetr-tiny', pretrained=None).state_dict(), weights)
    video = build_encoder(dict(type='OpenCLIPVideoEncoder', model_name='sgdetr-tiny',
                               pretrained=str(weights), device='cpu'), VideoEncoder)
    text = build_encoder(dict(type='OpenCLIPTextEncoder', model_name='sgdetr-tiny',
                              pretrained=str(weights), device='cpu'), TextEncoder)
    assert video.clip is text.clip and video.image_size == 32
    features, _ = extract_video(videos['short'], video, clip_len=2.0)
    assert features.shape == (2, 24)
    tokens = text.encode(['a dog'])[0]
    ids = open_clip.get_tokenizer('sgdetr-tiny')(['a dog'])
    assert tokens.shape == (4, 24)  # start, a, dog, end
    torch.testing.assert_close(tokens[-1], text.clip.encode_text(ids)[0].detach(),
                               rtol=1e-4, atol=1e-4)


def test_registry_builds_by_name_and_checks_the_kind(torchscript_encoders):
    assert {'InternVideo2VideoEncoder', 'InternVideo2TextEncoder', 'CLIPVideoEncoder',
            'CLIPTextEncoder', 'OpenCLIPVideoEncoder', 'OpenCLIPTextEncoder',
            'DatasetQueryEncoder'} <= set(ENCODERS.module_dict)
    with pytest.raises(TypeError, match='TextEncoder'):
        build_encoder(dict(type='InternVideo2VideoEncoder', path=torchscript_encoders['video'],
                           device='cpu'), TextEncoder)
    with pytest.raises(KeyError, match='registered'):
        build_encoder(dict(type='NoSuchEncoder'))
    with pytest.raises(ValueError, match='TorchScript'):
        InternVideo2VideoEncoder(str(REPO / 'setup.py'), device='cpu')


def test_directory_extraction_resumes_and_writes_readable_files(videos, torchscript_encoders,
                                                                tmp_path):
    encoder = InternVideo2VideoEncoder(torchscript_encoders['video'], device='cpu')
    broken = tmp_path / 'in' / 'broken.mp4'
    broken.parent.mkdir()
    broken.write_bytes(b'\x00' * 100)
    paths = [videos['rgb'], videos['short'], str(broken)]
    out = tmp_path / 'video'
    summary = extract_videos(paths, encoder, str(out), clip_len=2.0, progress=False,
                             log=lambda message: None)
    assert summary['written'] == ['rgb', 'short'] and summary['failed'][0][0] == str(broken)
    assert sorted(p.name for p in out.iterdir()) == ['rgb.pt', 'short.pt']  # no partial file
    first = (out / 'rgb.pt').stat().st_mtime_ns
    again = extract_videos(paths[:2], encoder, str(out), progress=False)
    assert again['skipped'] == ['rgb', 'short'] and (out / 'rgb.pt').stat().st_mtime_ns == first
    # text features, then both read back by the dataset's own reader
    text = InternVideo2TextEncoder(torchscript_encoders['text'],
                                   tokenizer=sgdetr_assets.WordTokenizer(), device='cpu')
    extract_queries([(7, 'a red square'), ('q8', 'dog')], text, str(tmp_path / 'text'),
                    progress=False)
    store = FeatureStore(str(out), str(tmp_path / 'text'), layout='released',
                         video_l2_norm=False, text_l2_norm=False)
    assert store.load_video('rgb').shape == (3, 16) and store.load_text(7).shape == (5, 16)
    assert store.load_text('q8').shape == (3, 16)
    # the npz layout
    extract_videos([videos['short']], encoder, str(tmp_path / 'npz'), layout='npz',
                   progress=False)
    extract_queries([(7, 'a red square')], text, str(tmp_path / 'npz_text'), layout='npz',
                    progress=False)
    store = FeatureStore(str(tmp_path / 'npz'), str(tmp_path / 'npz_text'), layout='npz')
    assert store.load_video('short').shape == (2, 16) and store.load_text(7).shape == (5, 16)


def _module_level_imports(path: Path):
    """Modules a file imports at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding='utf-8'))
    found, stack = [], list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = '.' * node.level + (node.module or '')
            found += [base] + [f'{base}.{alias.name}' for alias in node.names]
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef)):
            stack += [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))
                      and not _inside_function(node, n)]
    return found


def _inside_function(root, target) -> bool:
    for node in ast.walk(root):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                child is target for child in ast.walk(node)):
            return True
    return False


def test_import_sgdetr_imports_no_optional_extra():
    """No module imports an optional extra at module level: ``import sgdetr`` works
    without them (the extractors import theirs when they run)."""
    extras = ('av', 'decord', 'open_clip', 'gradio', 'tensorboard', 'transformers')
    package = REPO / 'projects' / 'sgdetr'
    offending = []
    for path in package.rglob('*.py'):
        for name in _module_level_imports(path):
            if name.split('.')[0] in extras:
                offending.append(f'{path.relative_to(REPO)}: {name}')
    assert not offending, offending
