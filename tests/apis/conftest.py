"""Fixtures of the inference and extraction tests (built once per session)."""
import pytest

import sgdetr_assets


@pytest.fixture(scope='session')
def assets_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / 'sgdetr_assets'


@pytest.fixture(scope='session')
def synthetic_256(assets_dir):
    return sgdetr_assets.synthetic_root(assets_dir, 256)


@pytest.fixture(scope='session')
def demo_checkpoint(assets_dir):
    return sgdetr_assets.demo_checkpoint(assets_dir)


@pytest.fixture(scope='session')
def videos(assets_dir):
    """Three short synthetic videos (PyAV): 5 s, 3 s, and 7 s at another size."""
    pytest.importorskip('av')
    directory = assets_dir / 'videos'
    directory.mkdir(parents=True, exist_ok=True)
    r, g, b = sgdetr_assets.RED, sgdetr_assets.GREEN, sgdetr_assets.BLUE
    return dict(
        rgb=sgdetr_assets.write_video(directory / 'rgb.mp4', [r, r, g, g, b]),
        short=sgdetr_assets.write_video(directory / 'short.mp4', [b, b, b]),
        wide=sgdetr_assets.write_video(directory / 'wide.mp4', [g] * 3 + [r] * 4, fps=4,
                                       size=(80, 40)))


@pytest.fixture(scope='session')
def torchscript_encoders(assets_dir):
    """Paths of a tiny TorchScript video encoder (2 frames, 32 px, 16-d) and
    text encoder (16-d)."""
    assets_dir.mkdir(parents=True, exist_ok=True)
    return dict(video=sgdetr_assets.torchscript_video_encoder(assets_dir / 'video_encoder.pt'),
                text=sgdetr_assets.torchscript_text_encoder(assets_dir / 'text_encoder.pt'))
