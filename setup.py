"""Installs the ``sgdetr`` package whose sources live in ``projects/sgdetr``."""
from setuptools import find_packages, setup

packages = ['sgdetr'] + ['sgdetr.' + p for p in find_packages('projects/sgdetr')]

setup(
    name='sgdetr',
    version='0.1.0',
    description='SG-DETR: Saliency-Guided DETR for video moment retrieval and '
    'highlight detection, as an MMEngine/MMDetection plugin',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    package_dir={'sgdetr': 'projects/sgdetr'},
    packages=packages,
    install_requires=[
        'torch>=2.6',  # weights-only torch.load by default (checkpoints run no code)
        'mmengine>=0.10.0,<0.11',  # tests run with 0.10.0 and 0.10.7 (make installs 0.10.7)
        'mmcv==2.1.0',  # with compiled ops: mmdet.models needs them
        'mmdet==3.3.0',
        'numpy',
        'scipy',
    ],
    extras_require={
        'tests': ['pytest', 'av'],
        # video files -> features: PyAV decoding, CLIP / BERT tokenizers (transformers)
        'video': ['av', 'transformers'],
        # CLIP through open_clip (needs a torchvision built for the installed torch)
        'openclip': ['open_clip_torch'],
        'demo': ['gradio'],  # tools/demo_app.py
        'vis': ['matplotlib', 'tensorboard'],  # figures, TensorBoard backend
    },
)
