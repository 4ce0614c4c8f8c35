"""Accuracy of a bulk prototype model (``ml.bulk``) on the test part, per class and overall, beside two peers.

Run: ``.venv/bin/python benchmarks/bulk_accuracy.py --model PATH [--draws 2] [--cache DIR]`` (about 10 minutes on
2 cores; ``--classes a b`` for a subset).

Which data is which. The model was trained on the *train* part of :func:`aiida_crystalface.core.bulkset.bulk_split`
and its temperature, threshold and lattice-rule exemptions were fitted on the *calibration* part; every figure here
comes from the *test* part: species tuples holding at least one element that no training member had, AFLOW
prototypes and pyxtal seeds (from 20000) that neither training nor calibration saw. The nearest-template peer's
templates are fingerprints of pristine *train* members (both presentations); PTM needs nothing.

Rows (members; right = the class): pristine; 25 % and 50 % vacancies; 0.05, 0.10 and 0.15 A displacements; 30 %
vacancies + 0.10 A; random binary substitution (30 %); and pristine supercells of primitive cells rotated at random.
Each member row is built with random presentations (conventional supercell or rotated primitive supercell) except the
last. Peers on the same structures: OVITO's polyhedral template matching (majority vote over atoms; it knows fcc,
hcp, bcc, sc, diamond and hexagonal diamond, so on the other classes it cannot be right: its figure is given on its
own classes too) and the nearest template (Euclidean distance between the three-channel fingerprints).

Open-set rows (right = ``unknown`` or ``amorphous``): the test part's AFLOW prototypes (every variant), its pyxtal
crystals; parents (prototypes whose structure with species ignored is a class's: right = that class or unknown);
low-contrast compounds (two test tuples per compound class that the contrast rule,
:data:`~aiida_crystalface.core.bulkset.MIN_RELATIVE_CONTRAST`, leaves out of every part, pristine: right = the
class, a class with the same species-blind structure (:data:`~aiida_crystalface.core.classes.SPECIES_BLIND_SAME`,
or a match of pymatgen's ``StructureMatcher`` with every species made the same, a check independent of
:func:`~aiida_crystalface.core.bulkset.species_blind_signature`) or unknown; never trained on, not counted with the
outsiders).

Cubic one-element outsiders (``--cubic N``, default 500; right = ``unknown``): random pyxtal crystals of one test-part
element in a cubic space group (:func:`~aiida_crystalface.core.bulkset.cubic_elemental_crystal`, seeds 0..N-1 of the
test part), damaged with a random variant. A harder population than the open-set rows: many of them have a cubic
lattice with one site per point, the lattice of fcc, bcc or sc. They are printed as a row of their own, not counted in
the open-set total that the issue's 1 % goal is about (the previous issue's table); the 1 % is the bar there too.

A second model on the same structures (``--peer NAME``, a bundled model's name or a model file; ``open-4class``, the
default model of ``classify``, say): each member row of the classes it shares with the model, and the cubic
one-element outsiders, each model on its own fingerprints of the same test structures.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROWS = (
    'pristine',
    'vacancies 25 %',
    'vacancies 50 %',
    'displacements 0.05 A',
    'displacements 0.10 A',
    'displacements 0.15 A',
    'vacancies 30 % + 0.10 A',
    'binary substitution 30 %',
    'primitive cell, rotated',
)
SHORT = ('pristine', 'vac25', 'vac50', 'd0.05', 'd0.10', 'd0.15', 'v30+d.1', 'subst30', 'prim-rot')
PTM_CLASSES = {'fcc', 'hcp', 'bcc', 'sc', 'diamond', 'lonsdaleite'}


def test_items(seed: int, draws: int, classes, others: bool = True):
    from aiida_crystalface.core.bulkset import bulk_items, bulk_member, species_tuples

    members = bulk_items('test', seed, classes=classes, draws=draws, outsiders=False)
    rotated = []
    for name in classes:
        for species in species_tuples(name, 'test', seed)[:3]:
            item = bulk_member(name, species, 'pristine', 'primitive-rotated', seed=seed + 1)
            item.info['variant'] = 'primitive cell, rotated'
            rotated.append(item)
    rest = bulk_items('test', seed, classes=[], draws=draws, parents=True) if others else []
    return members + rotated, rest + (low_contrast_items(seed, classes) if others else [])


def blind_partners(name: str) -> set[str]:
    """The class and the classes whose structure, every species made the same, is its own (see the docstring)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Lattice, Structure

    from aiida_crystalface.core.classes import BULK_CLASSES, SPECIES_BLIND_SAME, class_structure

    def blind(cls: str) -> Structure:
        s = class_structure(cls)
        return Structure(Lattice(s.cell), ['Cu'] * len(s.numbers), s.positions, coords_are_cartesian=True)

    matcher = StructureMatcher(ltol=0.02, stol=0.02, angle_tol=1, scale=True, attempt_supercell=True)
    partners = {name} | {b if a == name else a for a, b in SPECIES_BLIND_SAME if name in (a, b)}
    mine = blind(name)
    return partners | {other for other in BULK_CLASSES if other not in partners and matcher.fit(mine, blind(other))}


def low_contrast_items(seed: int, classes, per_class: int = 2):
    """Pristine members of test tuples below the contrast rule; ``info['parents']``: the answers that count as right."""
    from aiida_crystalface.core.bulkset import bulk_member, low_contrast_tuples

    rng = np.random.default_rng(seed)
    items = []
    for name in classes:
        tuples = low_contrast_tuples(name, 'test', seed)
        if not tuples:
            continue
        partners = blind_partners(name)
        for k in rng.choice(len(tuples), min(per_class, len(tuples)), replace=False):
            item = bulk_member(name, tuples[k], 'pristine', 'conventional', seed=seed)
            item.info.update(kind='low-contrast', parents=tuple(sorted(partners)))
            items.append(item)
    return items


def fingerprints(items, settings, cache: Path | None, name: str):
    from aiida_crystalface.core.diffraction import fingerprint_batch

    if cache is not None and (cache / f'{name}.npz').is_file():
        import json

        with np.load(cache / f'{name}.npz') as data:
            return data['images'], list(data['ok']), json.loads((cache / f'{name}.json').read_text())
    batch = fingerprint_batch(items, settings, progress=True)
    if cache is not None:
        import json

        cache.mkdir(parents=True, exist_ok=True)
        np.savez(cache / f'{name}.npz', images=batch.images, ok=np.asarray(batch.ok))
        (cache / f'{name}.json').write_text(json.dumps(batch.lattices))
    return batch.images, list(batch.ok), batch.lattices


def top(counter: collections.Counter, n: int = 15) -> list:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def versions() -> str:
    from importlib.metadata import version

    return ', '.join(f'{name} {version(name)}' for name in ('numpy', 'spglib', 'pymatgen', 'pyxtal', 'ase', 'torch'))


def ptm_vote(structure) -> str:
    from _ptm import ptm_labels
    from ase import Atoms

    atoms = Atoms(numbers=structure.numbers, positions=structure.positions, cell=structure.cell, pbc=True)
    labels, _ = ptm_labels(atoms)
    label = collections.Counter(labels).most_common(1)[0][0]
    return 'lonsdaleite' if label == 'hexagonal diamond' else label


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', required=True)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--draws', type=int, default=2)
    parser.add_argument('--classes', nargs='+')
    parser.add_argument('--cache', type=Path, help='folder for the test fingerprints (reused when present)')
    parser.add_argument('--no-ptm', action='store_true')
    parser.add_argument('--members-only', action='store_true', help='leave out the open-set rows (a quick check)')
    parser.add_argument('--cubic', type=int, default=500, help='cubic one-element outsiders (0: leave the row out)')
    parser.add_argument(
        '--peer', help='a second model (bundled name or file) on the classes it shares, same structures'
    )
    args = parser.parse_args()

    from aiida_crystalface.core.bulkset import bulk_items
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.classifier import Classifier

    started = time.perf_counter()
    model = Classifier.load(args.model)
    settings = FingerprintSettings.from_dict(model.settings)
    classes = list(args.classes or model.classes)
    members, others = test_items(args.seed, args.draws, classes, not args.members_only)
    print(
        f'# model {args.model}; test part, seed {args.seed}: {len(members)} members, {len(others)} others', flush=True
    )
    print(f'# {versions()} (the test structures depend on these: spglib and pymatgen build the cells)', flush=True)
    m_images, m_ok, m_lattices = fingerprints(members, settings, args.cache, 'members')
    m_answers = [a['label'] for a in model.decide(m_images, m_lattices)]
    o_ok, o_answers = [], []
    if others:
        o_images, o_ok, o_lattices = fingerprints(others, settings, args.cache, 'others')
        o_answers = [a['label'] for a in model.decide(o_images, o_lattices)]

    # Nearest template: pristine train members.
    templates = bulk_items('train', args.seed, classes=classes, draws=1, variants=('pristine',), outsiders=False)
    t_images, t_ok, _ = fingerprints(templates, settings, args.cache, 'templates')
    t_labels = np.array([templates[i].info['label'] for i in t_ok])
    flat = t_images.reshape(len(t_images), -1).astype(np.float32)
    norms = (flat**2).sum(axis=1)
    query = m_images.reshape(len(m_images), -1).astype(np.float32)
    nearest = np.argmin(norms[None, :] - 2 * query @ flat.T, axis=1)
    template_answers = t_labels[nearest]

    ptm_answers = {}
    if not args.no_ptm:
        for j, i in enumerate(m_ok):
            ptm_answers[j] = ptm_vote(members[i])

    by_row = collections.defaultdict(collections.Counter)
    by_class = collections.defaultdict(collections.Counter)
    for j, i in enumerate(m_ok):
        info = members[i].info
        row, truth = info['variant'], info['label']
        by_row[row]['n'] += 1
        by_row[row]['net'] += m_answers[j] == truth
        by_row[row]['template'] += template_answers[j] == truth
        by_row[row]['unknown'] += m_answers[j] in ('unknown', 'amorphous')
        if ptm_answers:
            by_row[row]['ptm'] += ptm_answers[j] == truth
            if truth in PTM_CLASSES:
                by_row[row]['n_ptm'] += 1
                by_row[row]['ptm_own'] += ptm_answers[j] == truth
                by_row[row]['net_own'] += m_answers[j] == truth
        by_class[truth][(row, 'n')] += 1
        by_class[truth][(row, 'net')] += m_answers[j] == truth
    lost = len(members) - len(m_ok)

    print(
        f'\n{"row":32s} {"items":>6s} | {"ConvNet":>8s} {"unknown":>8s} | {"template":>8s} {"PTM":>7s} |'
        f' {"PTM classes: ConvNet":>21s} {"PTM":>7s}'
    )
    total = collections.Counter()
    for row in ROWS:
        c = by_row[row]
        if not c['n']:
            continue
        total.update(c)
        own = (
            f'{100 * c["net_own"] / c["n_ptm"]:20.1f}% {100 * c["ptm_own"] / c["n_ptm"]:6.1f}%'
            if c['n_ptm']
            else f'{"-":>21s} {"-":>7s}'
        )
        ptm = f'{100 * c["ptm"] / c["n"]:6.1f}%' if ptm_answers else f'{"-":>7s}'
        print(
            f'{row:32s} {c["n"]:6d} | {100 * c["net"] / c["n"]:7.1f}% {100 * c["unknown"] / c["n"]:7.1f}% | '
            f'{100 * c["template"] / c["n"]:7.1f}% {ptm} | {own}'
        )
    print(f'{"all member rows":32s} {total["n"]:6d} | {100 * total["net"] / total["n"]:7.1f}%')
    print(f'members with no fingerprint: {lost}')

    print('\nper class, ConvNet (% right; rows in the order above):')
    print(f'{"class":18s} ' + ' '.join(f'{short:>9s}' for short in SHORT))
    misses = []
    for name in classes:
        cells = []
        for row in ROWS:
            n = by_class[name][(row, 'n')]
            value = 100 * by_class[name][(row, 'net')] / n if n else float('nan')
            cells.append(f'{value:9.1f}')
            if n and ((row == 'pristine' and value < 99) or value < 95):
                misses.append(f'{name} ({row}: {value:.0f} %)')
        print(f'{name:18s} ' + ' '.join(cells))
    print(f'\nclass rows below the goal (pristine 99 %, others 95 %): {len(misses)}')
    for miss in misses:
        print('  ', miss)
    peer = peer_name = None
    if args.peer:
        peer_name = Path(args.peer).parent.name if Path(args.peer).is_file() else args.peer
        peer = Classifier.load(args.peer) if Path(args.peer).is_file() else Classifier.pretrained(args.peer)
        peer_settings = FingerprintSettings.from_dict(peer.settings)
        shared = [name for name in classes if name in peer.classes]
        chosen = [j for j, i in enumerate(m_ok) if members[i].info['label'] in shared]
        p_images, p_ok, p_lattices = fingerprints(
            [members[m_ok[j]] for j in chosen], peer_settings, args.cache, f'members-peer-{peer_name}'
        )
        p_answers = dict.fromkeys(range(len(chosen)), 'error')
        p_answers.update(zip(p_ok, (a['label'] for a in peer.decide(p_images, p_lattices)), strict=True))
        print(
            f'\nthe same test members of the classes both know, {args.model} (model) and {args.peer} (peer), % right:'
        )
        print(f'{"class":10s} {"who":6s} ' + ' '.join(f'{short:>9s}' for short in SHORT))
        for name in shared:
            for who in ('model', 'peer'):
                cells = []
                for row in ROWS:
                    picked = [
                        k
                        for k, j in enumerate(chosen)
                        if members[m_ok[j]].info['label'] == name and members[m_ok[j]].info['variant'] == row
                    ]
                    if not picked:
                        cells.append(f'{"-":>9s}')
                        continue
                    answers = [m_answers[chosen[k]] if who == 'model' else p_answers[k] for k in picked]
                    cells.append(f'{100 * sum(a == name for a in answers) / len(answers):9.1f}')
                print(f'{name:10s} {who:6s} ' + ' '.join(cells))
    confusions = collections.Counter(
        (members[i].info['label'], m_answers[j]) for j, i in enumerate(m_ok) if m_answers[j] != members[i].info['label']
    )
    print(
        '\nmember confusions, truth -> answer (count): ' + ', '.join(f'{a} -> {b} {n}' for (a, b), n in top(confusions))
    )

    print(f'\n{"open-set row":52s} {"items":>6s} | {"right":>7s} {"wrong class":>11s}')
    rows = collections.defaultdict(collections.Counter)
    wrong_total = n_total = 0
    given = collections.Counter()
    for j, i in enumerate(o_ok):
        info = others[i].info
        kind = info.get('kind')
        source = 'pyxtal random crystals' if info.get('source') == 'pyxtal' else 'AFLOW test prototypes'
        row = {
            'parent': 'parents (right: parent class or unknown)',
            'low-contrast': 'low contrast (right: class, blind partner, unknown)',
        }.get(kind, f'outsiders: {source}')
        answer = o_answers[j]
        counted = kind in ('parent', 'low-contrast')
        fine = answer in ('unknown', 'amorphous') or (counted and answer in info.get('parents', ()))
        rows[row]['n'] += 1
        rows[row]['right'] += fine
        rows[row]['wrong'] += not fine
        if not counted:
            n_total += 1
            wrong_total += not fine
            if not fine:
                prototype = f'pyxtal {info.get("space_group")}' if info.get('source') == 'pyxtal' else info.get('aflow')
                given[(str(prototype), answer)] += 1
    for row, c in sorted(rows.items()):
        print(f'{row:52s} {c["n"]:6d} | {100 * c["right"] / c["n"]:6.1f}% {100 * c["wrong"] / c["n"]:10.1f}%')
    if n_total:
        print(
            f'outsiders given a wrong class, all outsider rows: {wrong_total} of {n_total} '
            f'({100 * wrong_total / n_total:.2f} %)'
        )
        print(
            'outsiders given a class, prototype -> class (count): '
            + ', '.join(f'{a} -> {b} {n}' for (a, b), n in top(given))
        )
    if args.cubic and not args.members_only:
        from aiida_crystalface.core.bulkset import cubic_elemental_crystal

        cubic = [cubic_elemental_crystal(seed, 'test', args.seed) for seed in range(args.cubic)]
        c_images, c_ok, c_lattices = fingerprints(cubic, settings, args.cache, f'cubic-{args.cubic}')
        c_answers = [a['label'] for a in model.decide(c_images, c_lattices)] if len(c_ok) else []
        wrong = collections.Counter(
            (cubic[i].info['space_group'], answer)
            for i, answer in zip(c_ok, c_answers, strict=True)
            if answer not in ('unknown', 'amorphous')
        )
        n_wrong = sum(wrong.values())
        one_site = sum(
            bool(r) and r.get('sites_per_lattice_point') == 1 and str(r.get('lattice_standard')) in ('cP', 'cI', 'cF')
            for r in c_lattices
        )
        print(
            f'\ncubic one-element outsiders (not in the total above): {len(c_ok)} '
            f'({one_site} on a cubic lattice with one site per point) | given a class: {n_wrong} '
            f'({100 * n_wrong / max(len(c_ok), 1):.2f} %; the bar: 1 %)'
        )
        if wrong:
            print('  space group -> class (count): ' + ', '.join(f'{g} -> {b} {n}' for (g, b), n in top(wrong)))
        if peer is not None:
            q_images, q_ok, q_lattices = fingerprints(
                cubic, FingerprintSettings.from_dict(peer.settings), args.cache, f'cubic-{args.cubic}-peer-{peer_name}'
            )
            q_answers = [a['label'] for a in peer.decide(q_images, q_lattices)] if len(q_ok) else []
            q_wrong = sum(answer not in ('unknown', 'amorphous') for answer in q_answers)
            print(
                f'  the peer {args.peer} on the same crystals: given a class: {q_wrong} of {len(q_ok)} '
                f'({100 * q_wrong / max(len(q_ok), 1):.2f} %)'
            )
    print(f'\n# {time.perf_counter() - started:.0f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
