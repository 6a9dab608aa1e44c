"""Write the synthetic MR/HD dataset (QVHighlights layout) used by the demo,
the tests and ``configs/_base_/datasets/synthetic.py``.

    python tools/data/make_synthetic.py [--out-dir data/synthetic] [--seed 0]

See :mod:`sgdetr.datasets.synthetic` for how the signal is planted.
"""
import argparse
import time

from sgdetr.datasets.synthetic import make_synthetic_dataset


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='data/synthetic')
    parser.add_argument('--num-train', type=int, default=600,
                        help='training queries')
    parser.add_argument('--num-val', type=int, default=150)
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument('--dim', type=int, default=256,
                        help='feature dim of video and text (one space)')
    parser.add_argument('--clip-len', type=float, default=2.0,
                        help='seconds per clip')
    parser.add_argument('--max-clips', type=int, default=75,
                        help='longest video, in clips')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.perf_counter()
    make_synthetic_dataset(args.out_dir, num_train=args.num_train,
                           num_val=args.num_val, num_test=args.num_test,
                           dim=args.dim, clip_len=args.clip_len,
                           max_clips=args.max_clips,
                           min_clips=min(30, args.max_clips), seed=args.seed)
    print(f'done in {time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
