"""Reproduce the paper's figures and accuracy table with provenance: ``verdi run examples/reproduce_paper.py``.

Options (after the script name): ``--quick`` (subsets, minutes), ``-o DIR`` (default ``reproduce-<mode>``), seeds.
The same as ``aiida-crystalface reproduce``; every step is stored in the profile that ``verdi`` loaded.
"""

import argparse

from aiida_crystalface.reproduce import ReproduceConfig, run_reproduction

parser = argparse.ArgumentParser(prog='verdi run examples/reproduce_paper.py', description=__doc__)
parser.add_argument('--quick', action='store_true', help='subsets: a few species, fewer samples per step')
parser.add_argument('-o', '--output', default=None, help='output folder (default: reproduce-<mode>)')
parser.add_argument('--data-seed', type=int, default=0)
parser.add_argument('--training-seed', type=int, default=0)
parser.add_argument('--series-seed', type=int, default=0)
args = parser.parse_args()

mode = 'quick' if args.quick else 'full'
config = ReproduceConfig.for_mode(
    mode, data_seed=args.data_seed, training_seed=args.training_seed, series_seed=args.series_seed
)
results = run_reproduction(config, args.output or f'reproduce-{mode}')
scores = results['evaluation']['defective']['content']
print(f'defective set: ConvNet {scores["convnet"]["accuracy"]:.4f}, baseline {scores["baseline"]["accuracy"]:.4f}')
