"""Classification with full provenance storage on an SQLite profile: structures per second, end to end.

Run: ``.venv/bin/python benchmarks/aiida.py [--n 10000] [--batch-size 500] [--paths group] [--internals on,off]``.

Makes a throwaway AiiDA configuration (a temporary AIIDA_PATH) and, for every path and every setting of the internals
module (``aiida_crystalface._internals``: on, then off), a fresh SQLite profile (``verdi presto --no-broker``), so
that no measurement runs on a profile that an earlier one filled. Each measurement is end to end: the N structures
are built and stored, then classified, with one structure, one fingerprint and one prediction node per structure,
every one linked to the calcfunction that made it. The bare cost of storing one node is measured first, as the unit.

Paths (one function each in :data:`PATHS`; add one there to measure it in the same run):

- ``group``: the structures stored in batches (one transaction per batch) and added to a Group inside the same
  transaction, then ``ClassifyStructuresWorkChain`` on the group with ``return_outputs=False``.
- ``cli``: the command line's default path (``aiida-crystalface classify FILES``), i.e. the library call it makes,
  ``workflows.launch.classify_structures``: the same storage and WorkChain plus the content-hash look-up of stored
  duplicates and the results collected from the graph.

The model is the bundled one when the package has it, otherwise a seeded random-weight ConvNet (the cost does not
depend on the weights). A warm-up run (Numba compilation, torch loading) comes before any timing. Timings on a shared
machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# This file is called aiida.py (as the project asks): drop its folder from the path so ``import aiida`` finds AiiDA.
sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).resolve().parent]


def make_profiles(names: list[str]) -> None:
    """New SQLite profiles without a broker (made before aiida is imported here, so its configuration has them)."""
    verdi = Path(sys.executable).with_name('verdi')
    for name in names:
        subprocess.run([str(verdi), 'presto', '--profile-name', name, '--no-broker'], check=True, capture_output=True)


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
    return path, 'seeded random-weight ConvNet (no bundled model)'


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


def group_path(structures: list, model, batch_size: int) -> list[tuple[str, float]]:
    """Store the structures in batches with their group, classify the group without returning outputs.

    :returns: (step, seconds) for storing, classifying and the total; checks that every structure got exactly one
        prediction.
    """
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_crystalface.calculations.utils import structure_data
    from aiida_crystalface.provenance import classification_results
    from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain
    from aiida_crystalface.workflows.utils import batches, one_transaction

    start = time.perf_counter()
    group = orm.Group(label=f'bench-{time.time_ns()}').store()
    for batch in batches({f's{i:06d}': s for i, s in enumerate(structures)}, batch_size):
        with one_transaction():
            group.add_nodes([structure_data(s).store() for s in batch.values()])
    stored = time.perf_counter() - start
    start = time.perf_counter()
    _, node = run_get_node(
        ClassifyStructuresWorkChain,
        group=orm.Str(group.label),
        model=model,
        batch_size=orm.Int(batch_size),
        return_outputs=orm.Bool(False),
    )
    classified = time.perf_counter() - start
    assert node.is_finished_ok, node.exit_message
    found = classification_results(node)
    n_pred = sum(entry['prediction'] is not None for entry in found.values())
    assert len(found) == n_pred == len(structures), f'{n_pred} predictions for {len(structures)} structures'
    return [
        (f'store {len(structures)} StructureData + group', stored),
        ('ClassifyStructuresWorkChain, return_outputs=False', classified),
        ('end to end (structure + fingerprint + prediction)', stored + classified),
    ]


def cli_path(structures: list, model, batch_size: int) -> list[tuple[str, float]]:
    """The command line's default path (``aiida-crystalface classify FILES``, stored): the library call it makes.

    :func:`aiida_crystalface.workflows.launch.classify_structures`: content hashes, a look-up of identical stored
    structures, storage in batches with a new group, the WorkChain with ``return_outputs=False``, and one result per
    structure collected from the graph (what the command prints). Reading the files is not timed.
    """
    from aiida_crystalface.workflows.launch import classify_structures

    start = time.perf_counter()
    run = classify_structures(structures, model=model, batch_size=batch_size)
    total = time.perf_counter() - start
    n_pred = sum('label' in result for result in run.results)
    assert run.workchain.is_finished_ok and n_pred == len(structures), f'{n_pred} results for {len(structures)}'
    return [('classify_structures (store + classify + results), end to end', total)]


#: The paths measured, by name: ``function(atomic structures, model node, batch size) -> [(step, seconds)]``.
PATHS: dict[str, Callable[..., list[tuple[str, float]]]] = {'group': group_path, 'cli': cli_path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=10_000, help='structures per measurement (default 10000)')
    parser.add_argument('--batch-size', type=int, default=500, help='structures per batch (default 500)')
    parser.add_argument('--paths', default=','.join(PATHS), help=f'comma list of paths among {sorted(PATHS)}')
    parser.add_argument('--internals', default='on,off', help='comma list: on, off (default both, on first)')
    args = parser.parse_args()
    paths = [p.strip() for p in args.paths.split(',') if p.strip()]
    settings = [s.strip() == 'on' for s in args.internals.split(',') if s.strip()]

    with tempfile.TemporaryDirectory(prefix='crystalface-bench-') as tmp:
        os.environ['AIIDA_PATH'] = tmp  # before aiida is imported: it reads it once
        profiles = {(name, on): f'bench-{name}-{"on" if on else "off"}' for name in paths for on in settings}
        make_profiles(['bench-warmup', *profiles.values()])
        from aiida import load_profile
        from aiida.engine import run_get_node

        from aiida_crystalface import _internals
        from aiida_crystalface.calculations.utils import structure_data
        from aiida_crystalface.data.model import ConvNetModelData
        from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain

        load_profile('bench-warmup')
        path, model_name = model_path(Path(tmp))
        structures = atomic_structures(args.n)
        # Warm-up: compile the Numba kernels and load torch outside the timings.
        model = ConvNetModelData.get_or_create(path)
        run_get_node(ClassifyStructuresWorkChain, structures={'w': structure_data(structures[0])}, model=model)
        bare = bare_node_ms()
        print(
            f'# AiiDA {__import__("aiida").__version__}, SQLite profile, model: {model_name}, '
            f'N = {args.n}, batch {args.batch_size}'
        )
        print(f'# bare cost of storing one node (Int, own commit): {bare:.1f} ms/node')
        rows = []
        for name in paths:
            for on in settings:
                load_profile(profiles[name, on], allow_switch=True)
                model = ConvNetModelData.get_or_create(path)
                with _internals.enabled(on):
                    steps = PATHS[name](structures, model, args.batch_size)
                for step, seconds in steps:
                    rows.append((f'{name} path, internals {"on" if on else "off"}: {step}', seconds))
                    print(f'{rows[-1][0]:<86} {seconds:8.1f} s  {args.n / seconds:8.1f} structures/s', flush=True)


if __name__ == '__main__':
    main()
