"""Time to build the paper's datasets on this machine, structures and fingerprints separately, and their file sizes.

Run: ``.venv/bin/python benchmarks/datasets.py [--species Cu Fe ...] [--out DIR]``. Builds the pristine set, the
full defective set (13 variants per pristine item), the bcc -> sc and Lindemann series with their defaults, and
prints one table. Baseline, measured in the same run: the naive way, ``fingerprint(structure)`` called one structure
at a time on a sample of the defective structures, extrapolated to the whole set. Timings on a shared machine are
noisy; the full build takes several minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numba

from aiida_crystalface.core.datasets import (
    PAPER_VARIANTS,
    apply_defect,
    build_defective_dataset,
    build_lindemann_dataset,
    build_pristine_dataset,
    build_transition_dataset,
    distinct_images,
    open_dataset,
    replicated_cell,
)
from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint
from aiida_crystalface.core.prototypes import pristine_items


def naive_seconds_per_item(species, n_items: int) -> float:
    """Seconds per defective item when each structure is made and fingerprinted alone."""
    items = pristine_items(species, seed=0)[:n_items]
    start = time.perf_counter()
    count = 0
    for index, item in enumerate(items):
        cell = replicated_cell(item)
        for v, (kind, level) in enumerate(PAPER_VARIANTS):
            structure = apply_defect(cell, kind, level, index * 13 + v)
            fingerprint(structure, dataclasses.replace(FingerprintSettings(), target_atoms=len(structure)))
            count += 1
    return (time.perf_counter() - start) / count


def row(name: str, summary: dict) -> str:
    size = summary['file_size_bytes'] / 2**20
    rate = summary['n_items'] / summary['seconds']
    return (
        f'| {name:<22} | {summary["n_items"]:>7} | {summary["seconds_structures"]:>9.1f} | '
        f'{summary["seconds_fingerprints"]:>9.1f} | {summary["seconds"]:>8.1f} | {rate:>8.0f} | {size:>8.1f} |'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--species', nargs='*', default=None, help='species (default: all 88)')
    parser.add_argument('--out', default=None, help='folder for the files (default: a temporary folder)')
    parser.add_argument('--naive-items', type=int, default=40, help='pristine items in the naive baseline (x13)')
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix='crystalface-bench-'))
    files = {name: out / f'{name}.h5' for name in ('pristine', 'defective', 'transition', 'lindemann')}
    for path in files.values():
        path.unlink(missing_ok=True)
    common = {'progress': False, 'seed': 0}
    summaries = {'pristine': build_pristine_dataset(files['pristine'], species=args.species, **common)}
    summaries['defective'] = build_defective_dataset(files['pristine'], files['defective'], **common)
    summaries['transition (bcc->sc)'] = build_transition_dataset(files['pristine'], files['transition'], **common)
    summaries['lindemann'] = build_lindemann_dataset(files['pristine'], files['lindemann'], **common)
    naive = naive_seconds_per_item(args.species or ['Cu', 'Fe', 'Si', 'W'], args.naive_items)
    with open_dataset(files['pristine']) as dataset:
        images, meta = dataset.get_images(), dataset.metadata
    keys = [f'{label}:{target}' for label, target in zip(meta['label'], meta['target_atoms'], strict=True)]
    exact, near = distinct_images(images), distinct_images(images, keys, atol=1e-2)
    print(f'datasets benchmark: {os.cpu_count()} cores, numba {numba.config.NUMBA_NUM_THREADS} threads, {out}')
    print('| dataset                |   items | struct. s | fingerp. s |  total s |  items/s |     MiB |')
    print('|------------------------|---------|-----------|-----------|----------|----------|---------|')
    for name, summary in summaries.items():
        print(row(name, summary))
    n_defective = summaries['defective']['n_items']
    print(
        f'| naive baseline (defective, one fingerprint() per structure, {13 * args.naive_items} measured, '
        f'extrapolated) | {n_defective} items | {naive * n_defective:.0f} s | {1 / naive:.0f} items/s |'
    )
    print(
        f'pristine images: {len(images)}; distinct exactly: {exact}; '
        f'distinct at max|diff| > 0.01 within class and size: {near}'
    )
    errors = {name: summary['n_errors'] for name, summary in summaries.items()}
    print(f'errors: {errors}')


if __name__ == '__main__':
    main()
