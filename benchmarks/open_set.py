"""Open-set answers on data that chose nothing: members right, outsiders ``unknown``, disorder ``amorphous``.

Run: ``.venv/bin/python benchmarks/open_set.py [--model open-4class] [--baseline pristine-4class] [--out DIR]``.

Which data is which (``aiida_crystalface.core.openset.open_set_split``, seed 0):

- **train** part (species, prototypes, pyxtal seeds 0-9999): the network of ``open-4class`` learnt from it;
- **calibration** part (other species, prototypes, pyxtal seeds 10000-19999): its temperature and decision threshold
  were fitted on it;
- **test** part (the remaining 31 species, 95 prototypes, pyxtal seeds from 20000): every figure of this table except
  the rows marked otherwise. Nothing of it chose anything.

Rows:

- members, test species, every variant, the four presentations at random (primitive or conventional supercell,
  rotated or not); "right" is the true class; a member in which no lattice is found counts as wrong;
- real crystals built by ASE's ``bulk`` with their experimental lattice constants (an independent generator), damaged;
- outsiders: test prototypes of the AFLOW library (species swapped at random, damaged as the members), 100 random
  pyxtal crystals, and named real crystals (hcp metals, In, As, Ga, ZnO, CaF2, SrTiO3, ...): the share called
  ``unknown``, ``amorphous`` and given a class (a wrong class: their species-blind structure is none of the classes);
- species-blind parents (rocksalt, CsCl, zincblende, L1_2, ...: ordered compounds whose sites form a class): the share
  given the parent, ``unknown`` or a third class (the only wrong answer);
- no order: random packings and molten EMT snapshots: the share called ``amorphous``.

Then the calibration of the uncertainty on the test members and outsiders (expected calibration error over 10 bins
of confidence = 1 - uncertainty; reliability diagram ``open_set_reliability.png``), the ROC AUC of the uncertainty for
members against outsiders, and the cost per structure of ``classify`` against ``fingerprints() + predict``. The
baseline model (the paper's, which never says ``unknown``) runs on the same structures.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from aiida_crystalface.core import openset
from aiida_crystalface.core.diffraction import fingerprints
from aiida_crystalface.core.presentations import amorphous
from aiida_crystalface.core.prototypes import CLASSES
from aiida_crystalface.core.structures import to_atomic_structure
from aiida_crystalface.ml import Classifier

REAL_MEMBERS = {
    'fcc': ['Cu', 'Al', 'Ni', 'Ag', 'Au', 'Pb', 'Pd', 'Pt', 'Ca', 'Sr', 'Rh', 'Ir'],
    'bcc': ['Fe', 'W', 'Mo', 'Cr', 'Nb', 'Ta', 'V', 'Na', 'K', 'Li', 'Ba', 'Eu'],
    'diamond': ['Si', 'Ge', 'C', 'Sn'],
    'sc': ['Po'],
}


def _real_outsiders() -> dict[str, object]:
    from ase.build import bulk
    from ase.spacegroup import crystal

    structures = {f'hcp {s}': bulk(s, 'hcp') for s in ('Mg', 'Ti', 'Co', 'Zn', 'Zr', 'Ru', 'Be', 'Cd')}
    structures['bct In'] = crystal('In', [(0, 0, 0)], spacegroup=139, cellpar=[3.25, 3.25, 4.95, 90, 90, 90])
    for s, (a, c, x) in {'As': (3.76, 10.55, 0.227), 'Sb': (4.31, 11.27, 0.234), 'Bi': (4.55, 11.86, 0.234)}.items():
        structures[f'A7 {s}'] = crystal(s, [(0, 0, x)], spacegroup=166, cellpar=[a, a, c, 90, 90, 120])
    structures['alpha-Ga'] = crystal('Ga', [(0, 0.1549, 0.081)], spacegroup=64, cellpar=[4.52, 7.66, 4.53, 90, 90, 90])
    structures['wurtzite ZnO'] = bulk('ZnO', 'wurtzite', a=3.25, c=5.21)
    structures['fluorite CaF2'] = bulk('CaF2', 'fluorite', a=5.46)
    structures['perovskite SrTiO3'] = crystal(
        ['Sr', 'Ti', 'O'], [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0)], spacegroup=221, cellpar=[3.905] * 3 + [90] * 3
    )
    structures['graphite'] = crystal(['C', 'C'], [(0, 0, 0.25), (1 / 3, 2 / 3, 0.25)], spacegroup=194,
                                     cellpar=[2.46, 2.46, 6.71, 90, 90, 120])  # fmt: skip
    structures['beta-Sn'] = crystal('Sn', [(0, 0, 0)], spacegroup=141, cellpar=[5.83, 5.83, 3.18, 90, 90, 90])
    return {name: openset.supercell_of_at_least(to_atomic_structure(s, label=name), 100) for name, s in
            structures.items()}  # fmt: skip


def _labels(answers: list[dict]) -> list[str]:
    return [a.get('label', 'error') for a in answers]


def _share(labels: list[str], accept) -> float:
    return 100.0 * np.mean([accept(label) for label in labels]) if labels else float('nan')


def _ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> tuple[float, list]:
    edges = np.linspace(0, 1, bins + 1)
    ece, rows = 0.0, []
    for lo, hi in itertools.pairwise(edges):
        mask = (confidence > lo) & (confidence <= hi) if lo > 0 else (confidence >= lo) & (confidence <= hi)
        if mask.any():
            gap = abs(confidence[mask].mean() - correct[mask].mean())
            ece += mask.mean() * gap
            rows.append((lo, hi, int(mask.sum()), float(confidence[mask].mean()), float(correct[mask].mean())))
    return float(ece), rows


def _reliability_png(rows: list, ece: float, path: Path) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=120)
    centres = [(lo + hi) / 2 for lo, hi, *_ in rows]
    ax.bar(centres, [acc for *_, acc in rows], width=0.09, color='tab:blue', alpha=0.7, label='fraction right')
    ax.plot([0, 1], [0, 1], 'k--', lw=1, label='perfect calibration')
    ax.plot([conf for *_, conf, _ in rows], [acc for *_, acc in rows], 'o', color='tab:red', ms=4,
            label='mean confidence')  # fmt: skip
    for lo, hi, n, _, acc in rows:
        ax.text((lo + hi) / 2, acc + 0.02, str(n), ha='center', fontsize=6)
    ax.set_xlabel('confidence = 1 - uncertainty')
    ax.set_ylabel('fraction of answers right')
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.08)
    ax.set_title(f'open-4class on held-out test data (ECE {100 * ece:.2f} %)', fontsize=9)
    ax.legend(fontsize=7, loc='upper left')
    fig.text(0.01, 0.005, 'bins of 0.1; numbers: answers per bin; test species, prototypes and pyxtal seeds only',
             fontsize=6)  # fmt: skip
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', default='open-4class', help='bundled model name or model file')
    parser.add_argument('--baseline', default='pristine-4class', help='bundled model name or model file')
    parser.add_argument('--seed', type=int, default=0, help='the split seed the model was made with')
    parser.add_argument('--draws', type=int, default=1, help='draws of each test member / outsider variant')
    parser.add_argument('--random', type=int, default=100, help='pyxtal random crystals')
    parser.add_argument('--out', default='benchmarks/_work', help='folder for the reliability diagram')
    args = parser.parse_args()

    def load(name: str) -> Classifier:
        return Classifier.load(name) if Path(name).is_file() else Classifier.pretrained(name)

    model, baseline = load(args.model), load(args.baseline)
    split = openset.open_set_split(args.seed)['test']
    rng = np.random.default_rng(12345)
    started = time.perf_counter()

    groups: dict[str, list] = defaultdict(list)  # row -> [(structure, truth)]
    for species in split['species']:
        for label in CLASSES:
            for variant in openset.MEMBER_VARIANTS:
                for draw in range(args.draws):
                    presentation = openset.PRESENTATIONS[int(rng.integers(4))]
                    item = openset.member(species, label, variant, presentation, 777 + draw)
                    groups[f'members: {variant}'].append((item, label))
    from ase.build import bulk

    for label, species_list in REAL_MEMBERS.items():
        for species in species_list:
            try:
                base = to_atomic_structure(bulk(species, label, cubic=True), label=species)
            except ValueError:  # ASE has no experimental lattice constant of this species in this structure
                continue
            base = openset.supercell_of_at_least(base, 100)
            for variant in ('pristine', 'vacancies 50 %', 'displacements 0.15 A', 'vacancies 30 % + 0.10 A'):
                item = openset._damage(base, variant, openset._seed(99, species, variant))
                groups[f'real crystals (ASE bulk): {variant}'].append((item, label))
    for _aflow, (tags, structure) in ((a, e) for a in split['prototypes'] for e in openset.prototype_entries(a)):
        for variant in ('pristine', 'vacancies 25 %', 'displacements 0.10 A'):
            groups[f'outsiders: AFLOW test prototypes, {variant}'].append(
                (openset.outsider(tags, structure, variant, 4242), 'unknown')
            )
        groups['outsiders: AFLOW test prototypes, own species'].append(
            (openset.outsider(tags, structure, 'pristine', 4242, swap=False), 'unknown')
        )
    made = 0
    index = split['pyxtal_seed_start']
    while made < args.random:
        crystal = openset.random_crystal(index)
        index += 1
        if openset.near_parent(crystal) in CLASSES:
            continue
        groups['outsiders: pyxtal random crystals'].append((crystal, 'unknown'))
        made += 1
    for name, structure in _real_outsiders().items():
        groups['outsiders: named real crystals'].append((structure, 'unknown'))
        groups[f'  {name}'].append((structure, 'unknown'))
    for _aflow, (tags, structure) in (
        (a, e) for a in openset.parent_prototypes() for e in openset.prototype_entries(a)
    ):
        parent = openset.near_parent(structure)
        groups['parents: ordered compounds whose sites form a class (or nearly)'].append(
            (openset.outsider(tags, structure, 'pristine', 4242, swap=False), f'parent:{parent}')
        )
    for seed in range(10):
        groups['no order: random packings'].append((amorphous(128, 0.08, seed, min_distance=2.0), 'amorphous'))
    for seed in range(5):
        groups['no order: molten EMT Cu / Al snapshots'].append(
            (openset.molten_snapshot(seed, 'Cu' if seed % 2 == 0 else 'Al'), 'amorphous')
        )
    built = time.perf_counter() - started

    print(f'# model: {args.model}; baseline: {args.baseline}; test part of open_set_split(seed={args.seed})')
    print(f'# built {sum(len(v) for v in groups.values())} structures in {built:.0f} s')
    header = (
        f'{"row":<58} {"items":>6} | {"right":>7} {"unknown":>8} {"amorph.":>8} {"wrong":>7} | {"baseline wrong":>14}'
    )
    print(header)
    print('-' * len(header))
    confidence, correct, is_outsider, uncert = [], [], [], []
    outsider_wrong: list[str] = []  # every outsider given a class: row, prototype, answer
    outsider_count = 0
    for row, pairs in groups.items():
        structures = [s for s, _ in pairs]
        truths = [t for _, t in pairs]
        answers = model.classify(structures)
        base_labels = _labels(baseline.classify(structures))
        labels = _labels(answers)

        def right(label: str, truth: str) -> bool:
            if truth.startswith('parent:'):
                return label in (truth.split(':')[1], 'unknown')
            return label == truth

        rights = [right(lab, t) for lab, t in zip(labels, truths, strict=True)]
        wrong_class = [lab in model.classes and not r for lab, r in zip(labels, rights, strict=True)]
        base_wrong = [lab in baseline.classes and not right(lab, t) for lab, t in zip(base_labels, truths, strict=True)]
        unknown = _share(labels, lambda x: x == 'unknown')
        amorph = _share(labels, lambda x: x == 'amorphous')
        print(
            f'{row:<58} {len(pairs):>6} | {100 * np.mean(rights):6.1f}% {unknown:7.1f}% {amorph:7.1f}% '
            f'{100 * np.mean(wrong_class):6.1f}% | {100 * np.mean(base_wrong):13.1f}%'
        )
        if row.startswith('outsiders:'):
            outsider_count += len(pairs)
            for (structure, _), answer, bad in zip(pairs, answers, wrong_class, strict=True):
                if bad:
                    name = structure.info.get('aflow') or structure.label
                    label, uncertainty = answer['label'], answer['uncertainty']
                    outsider_wrong.append(f'{row}: {name} -> {label} (uncertainty {uncertainty:.2f})')
        if row.startswith(('members', 'outsiders: AFLOW', 'outsiders: pyxtal')):
            for answer, ok, truth in zip(answers, rights, truths, strict=True):
                if 'uncertainty' in answer and answer['label'] != 'amorphous':
                    confidence.append(1 - answer['uncertainty'])
                    correct.append(ok)
                    uncert.append(answer['uncertainty'])
                    is_outsider.append(truth == 'unknown')
    print(
        f'\noutsiders given a wrong class, all outsider rows together: {len(outsider_wrong)} of {outsider_count} '
        f'({100 * len(outsider_wrong) / max(outsider_count, 1):.2f} %)'
    )
    for line in outsider_wrong:
        print(f'  {line}')
    confidence, correct = np.array(confidence), np.array(correct, dtype=float)
    ece, rows = _ece(confidence, correct)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _reliability_png(rows, ece, out / 'open_set_reliability.png')
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(np.array(is_outsider), np.array(uncert))
    auc_wrong = roc_auc_score(1 - correct, np.array(uncert))
    # The open-set score itself: calibrated p(other) of every test member and outsider the network saw.
    from aiida_crystalface.core.diffraction import fingerprint_batch

    rows_scored = [r for r in groups if r.startswith(('members', 'outsiders: AFLOW', 'outsiders: pyxtal'))]
    pairs = [pair for r in rows_scored for pair in groups[r]]
    batch = fingerprint_batch([s for s, _ in pairs])
    seen = [i for i, lattice in zip(batch.ok, batch.lattices, strict=True) if lattice and lattice['lattice_found']]
    keep = [k for k, lattice in enumerate(batch.lattices) if lattice and lattice['lattice_found']]
    p_other = model.output_probabilities(batch.images[keep])[:, -1]
    auc_other = roc_auc_score([pairs[i][1] == 'unknown' for i in seen], p_other)
    print()
    print(f'expected calibration error (10 bins, {len(confidence)} test answers): {100 * ece:.2f} %')
    print(f'ROC AUC of p(other), test members against test outsiders ({len(seen)} structures): {auc_other:.4f}')
    print(f'ROC AUC of the uncertainty, wrong answers against right ones: {auc_wrong:.4f}')
    print(
        f'ROC AUC of the uncertainty, test members against test outsiders: {auc:.4f} (an outsider answered '
        "'unknown' with confidence has a low uncertainty: the number is how likely the answer is wrong)"
    )
    print(f'reliability diagram: {out / "open_set_reliability.png"}')

    sample = [s for s, _ in groups['members: vacancies 25 %']][:256]
    runs = {
        'fingerprints() + predict (argmax only)': lambda: model.predict(fingerprints(sample)),
        'classify() (answer + uncertainty)': lambda: model.classify(sample),
    }
    costs = {name: float('inf') for name in runs}
    for run in runs.values():
        run()  # warm-up
    for _ in range(5):  # interleaved, best of five each: a shared machine's load hits both alike
        for name, run in runs.items():
            costs[name] = min(costs[name], _timed(run))
    print()
    print(f'{"cost per structure (256 members, ~100-250 atoms)":<48} {"ms":>8} {"structures/s":>14}')
    for name, seconds in costs.items():
        print(f'{name:<48} {1000 * seconds / len(sample):8.2f} {len(sample) / seconds:14.1f}')


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


if __name__ == '__main__':
    main()
