"""Classification with full provenance storage on an SQLite profile: structures per second, end to end.

Run: ``.venv/bin/python benchmarks/aiida.py [--n 10000] [--batch-size 500[,250,...]] [--naive 20] [--returned N]
[--compare-with REV]``.

Makes a throwaway AiiDA profile (``verdi presto --no-broker``: SQLite, no broker) under a temporary AIIDA_PATH, and
measures on it, in the same run:

- the bare cost of storing one node (an ``Int``, its own commit): the unit every per-node design pays;
- the naive design as a baseline: one calcfunction per structure for the fingerprint and one for the prediction
  (measured on ``--naive`` structures and given per structure);
- the recommended large-run path: N structures stored (one transaction per batch), put in a Group and classified by
  ``ClassifyStructuresWorkChain`` with ``return_outputs=False`` (batched calcfunctions, one transaction per batch),
  which stores one fingerprint and one prediction per structure, each linked to its calcfunction, and returns no
  link per structure; once per batch size given;
- the default path (every fingerprint and prediction returned by the WorkChain) on ``--returned`` structures of the
  group, for comparison;
- with ``--compare-with REV``: first, this script as it is at the git revision REV (checked out into a temporary
  folder, its own package first on the path, its own throwaway profile), with the same arguments: the old storage
  path measured in the same run, on the same machine, as the baseline of the new one.

The structures are stored the way the docs recommend for large sets: ``structure_data(...).store()`` inside
``one_transaction()`` per batch, and added to their group inside the same transaction (outside it, every node of the
batch would be read back from the database, one query each, after the commit).

The model is the bundled one when the package has it, otherwise a seeded random-weight ConvNet (the cost does not
depend on the weights). Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file is called aiida.py (as the project asks): drop its folder from the path so ``import aiida`` finds AiiDA.
sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]


def make_profile(folder: Path) -> str:
    os.environ['AIIDA_PATH'] = str(folder)
    name = 'crystalface-bench'
    verdi = Path(sys.executable).with_name('verdi')
    subprocess.run([str(verdi), 'presto', '--profile-name', name, '--no-broker'], check=True, capture_output=True)
    return name


def model_path(folder: Path) -> tuple[Path, str]:
    from importlib.resources import files

    from aiida_crystalface.ml.classifier import PRETRAINED_DEFAULT

    bundled = files('aiida_crystalface.ml').joinpath('pretrained', PRETRAINED_DEFAULT, 'model.safetensors')
    if bundled.is_file():
        return Path(str(bundled)), f'bundled {PRETRAINED_DEFAULT}'
    import torch

    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.classifier import Classifier
    from aiida_crystalface.ml.convnet import ConvNet

    torch.manual_seed(0)
    classes = ['fcc', 'diamond', 'bcc', 'sc']
    path = Classifier(ConvNet(4), classes, FingerprintSettings()).save(folder / 'model.safetensors')
    return path, 'seeded random-weight ConvNet (no bundled model yet)'


def atomic_structures(n: int) -> list:
    """n elemental crystals (four classes, several species), replicated to about 128 atoms, slightly rattled."""
    import numpy as np

    from aiida_crystalface.core.cluster import replicate
    from aiida_crystalface.core.prototypes import prototype

    species = ['Cu', 'Al', 'Ni', 'Fe', 'W', 'Mo', 'Si', 'Ge', 'C', 'Po']
    base = [replicate(prototype(s, c), 128) for s in species for c in ('fcc', 'bcc', 'diamond', 'sc')]
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        item = base[i % len(base)]
        out.append(item.replace(positions=item.positions + rng.normal(0, 0.02, item.positions.shape), label=f'b{i}'))
    return out


def bare_node_ms(repeats: int = 50) -> float:
    from aiida import orm

    start = time.perf_counter()
    for i in range(repeats):
        orm.Int(i).store()
    return (time.perf_counter() - start) / repeats * 1e3


def naive_seconds_per_structure(structures: list, model) -> float:
    """Baseline: one calcfunction per structure and step (what a per-structure design does)."""
    from aiida import orm

    from aiida_crystalface.calculations.functions.compute_fingerprints import compute_fingerprints
    from aiida_crystalface.calculations.functions.predict import predict
    from aiida_crystalface.calculations.utils import structure_data

    settings = orm.Dict(model.settings).store()
    start = time.perf_counter()
    for atomic in structures:
        node = structure_data(atomic).store()
        image = compute_fingerprints(settings=settings, s=node)['s']
        predict(model=model, s=image)
    return (time.perf_counter() - start) / len(structures)


def classify_group(label: str, model, size: int, n: int, return_outputs: bool) -> float:
    """Seconds to classify the group; checks that every structure got its prediction."""
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_crystalface.provenance import classification_results
    from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain

    start = time.perf_counter()
    results, node = run_get_node(
        ClassifyStructuresWorkChain,
        group=orm.Str(label),
        model=model,
        batch_size=orm.Int(size),
        return_outputs=orm.Bool(return_outputs),
    )
    seconds = time.perf_counter() - start
    assert node.is_finished_ok, node.exit_message
    found = classification_results(node)
    n_pred = sum(entry['prediction'] is not None for entry in found.values())
    assert n_pred == n, f'{n_pred} predictions for {n} structures'
    if return_outputs:
        assert len(results['predictions']) == n
    return seconds


def run_revision(revision: str, argv: list[str]) -> None:
    """Run this script as it is at ``revision``, with the same arguments (less ``--compare-with``), and print its table.

    The revision's tree is extracted into a temporary folder and put first on ``PYTHONPATH``, so that the old script
    imports the old package (the script is run as a file: the working folder is not on its path).
    """
    root = Path(__file__).resolve().parent.parent
    sha = subprocess.run(['git', 'rev-parse', revision], cwd=root, capture_output=True, text=True, check=True)
    archive = subprocess.run(['git', 'archive', sha.stdout.strip()], cwd=root, capture_output=True, check=True)
    args = []
    skip = False
    for arg in argv:
        if skip or arg.startswith('--compare-with'):
            skip = arg == '--compare-with'
            continue
        args.append(arg)
    with tempfile.TemporaryDirectory(prefix='crystalface-bench-rev-') as tree:
        subprocess.run(['tar', '-x', '-C', tree], input=archive.stdout, check=True)
        env = {**os.environ, 'PYTHONPATH': tree}
        script = Path(tree) / 'benchmarks' / 'aiida.py'
        result = subprocess.run(
            [sys.executable, str(script), *args], env=env, capture_output=True, text=True, check=False
        )
    lines = result.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('# AiiDA')), 0)
    table = [line for line in lines[start:] if line.strip()]
    print(f'# baseline: benchmarks/aiida.py at {revision} ({sha.stdout.strip()[:10]}), run first, same arguments')
    print('\n'.join(table) if result.returncode == 0 else f'# it failed (exit {result.returncode}): {result.stderr}')
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=10_000, help='structures to classify (default 10000)')
    parser.add_argument('--batch-size', default='500', help='structures per calcfunction (a comma list: each one)')
    parser.add_argument('--returned', type=int, default=300, help='structures for the default path (0: skip)')
    parser.add_argument('--naive', type=int, default=20, help='structures for the per-structure baseline')
    parser.add_argument(
        '--compare-with',
        metavar='REV',
        help='first run this script as it is at git revision REV (e.g. the commit before a change), same arguments',
    )
    args = parser.parse_args()
    if args.compare_with:
        run_revision(args.compare_with, sys.argv[1:])

    with tempfile.TemporaryDirectory(prefix='crystalface-bench-') as tmp:
        folder = Path(tmp)
        profile = make_profile(folder)  # sets AIIDA_PATH: before aiida is imported, which reads it once
        from aiida import load_profile

        load_profile(profile, allow_switch=True)
        from aiida import orm
        from aiida.engine import run_get_node

        from aiida_crystalface.calculations.utils import structure_data
        from aiida_crystalface.data.model import ConvNetModelData
        from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain
        from aiida_crystalface.workflows.utils import batches, one_transaction

        path, model_name = model_path(folder)
        model = ConvNetModelData.get_or_create(path)
        structures = atomic_structures(args.n)
        # Warm-up: compile the Numba kernels and load torch outside the timings.
        run_get_node(ClassifyStructuresWorkChain, structures={'w': structure_data(structures[0])}, model=model)

        bare = bare_node_ms()
        naive = naive_seconds_per_structure(atomic_structures(args.naive), model)

        sizes = [int(x) for x in str(args.batch_size).split(',')]
        start = time.perf_counter()
        nodes = {}
        group = orm.Group(label='bench-structures').store()
        for batch in batches({f's{i}': s for i, s in enumerate(structures)}, sizes[0]):
            with one_transaction():
                stored = {key: structure_data(s).store() for key, s in batch.items()}
                group.add_nodes(list(stored.values()))
            nodes.update(stored)
        t_structures = time.perf_counter() - start
        rows = [
            ('bare cost of storing one node (Int, own commit)', f'{bare:.1f} ms/node', ''),
            (
                f'baseline: calcfunction per structure ({args.naive} structures)',
                f'{naive * 1e3:.0f} ms/structure',
                f'{1 / naive:.1f} structures/s',
            ),
            (
                f'store {args.n} StructureData (batches of {sizes[0]}, one transaction each) + group',
                f'{t_structures:.1f} s',
                f'{args.n / t_structures:.0f} structures/s',
            ),
        ]
        for size in sizes:
            seconds = classify_group(group.label, model, size, args.n, return_outputs=False)
            rows.append(
                (
                    f'ClassifyStructuresWorkChain, group, return_outputs=False, batch {size}',
                    f'{seconds:.1f} s',
                    f'{args.n / seconds:.1f} structures/s',
                )
            )
            total = t_structures + seconds
            rows.append(
                (
                    f'  end to end, full storage (structure + fingerprint + prediction), batch {size}',
                    f'{total:.1f} s',
                    f'{args.n / total:.1f} structures/s',
                )
            )
        if args.returned:
            small = orm.Group(label='bench-returned').store()
            small.add_nodes(list(nodes.values())[: args.returned])
            seconds = classify_group(small.label, model, sizes[0], args.returned, return_outputs=True)
            rows.append(
                (
                    f'default path: outputs returned, {args.returned} structures, batch {sizes[0]}',
                    f'{seconds:.1f} s',
                    f'{args.returned / seconds:.1f} structures/s',
                )
            )
        print(f'# AiiDA {__import__("aiida").__version__}, SQLite profile, model: {model_name}, N = {args.n}')
        width = max(len(r[0]) for r in rows)
        for name, cost, rate in rows:
            print(f'{name:<{width}}  {cost:>16}  {rate:>20}')


if __name__ == '__main__':
    main()
