"""The orientation step: the lattice of a defective structure in any cell and orientation (issue 9)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from aiida_crystalface.core.cluster import build_cluster
from aiida_crystalface.core.defects import displacements, vacancies
from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint, fingerprint_batch
from aiida_crystalface.core.orientation import MAX_ATOMS, find_lattice
from aiida_crystalface.core.presentations import amorphous, defective_presentations, rotated
from aiida_crystalface.core.prototypes import prototype
from aiida_crystalface.core.structures import AtomicStructure, StructureError, supercell

# (species, class, conventional repeats of the defective supercell: at least 128 sites)
CRYSTALS = [('Cu', 'fcc', 4), ('Al', 'fcc', 4), ('Si', 'diamond', 3), ('C', 'diamond', 3), ('Fe', 'bcc', 5),
            ('W', 'bcc', 5), ('Po', 'sc', 5)]  # fmt: skip
PRISTINE_CELLS = {'fcc': (4, 1), 'diamond': (8, 2), 'bcc': (2, 1), 'sc': (1, 1)}  # atoms per cell, sites per point


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize('label', ['fcc', 'diamond', 'bcc', 'sc'])
def test_pristine_any_cell_any_orientation_matches_spglib_standard(label):
    reference = fingerprint(prototype('Cu', label), FingerprintSettings(orientation='spglib'))
    cells = [prototype('Cu', label, representation=r) for r in ('conventional', 'primitive', 'supercell')]
    cells += [rotated(cell, seed) for seed, cell in enumerate(cells)]
    for cell in cells:
        lattice = find_lattice(cell)
        atoms, sites = PRISTINE_CELLS[label]
        assert lattice.found and lattice.score == pytest.approx(1.0)
        assert lattice.sites == sites
        # The conventional cell found is the cubic cell, whatever cell the crystal came in.
        lengths = np.linalg.norm(lattice.conventional, axis=1)
        assert np.allclose(lengths, lengths[0]) and np.allclose(lattice.conventional @ lattice.conventional.T,
                                                                 lengths[0] ** 2 * np.eye(3))  # fmt: skip
        assert abs(np.linalg.det(lattice.conventional)) * atoms / sites == pytest.approx(
            abs(np.linalg.det(prototype('Cu', label).cell)) * atoms / sites
        )
        assert np.allclose(lattice.rotation @ lattice.rotation.T, np.eye(3)) and np.linalg.det(lattice.rotation) > 0
        assert np.abs(fingerprint(cell) - reference).max() < 1e-4, cell.label


@pytest.mark.parametrize(('species', 'label', 'repeats'), CRYSTALS)
@pytest.mark.parametrize(('vacancy', 'sigma'), [(0.5, 0.0), (0.0, 0.15), (0.5, 0.15)])
def test_defective_presentations_agree(species, label, repeats, vacancy, sigma):
    structures = defective_presentations(species, label, repeats, vacancy, sigma)
    result = fingerprint_batch(list(structures.values()))
    assert result.ok == list(range(len(structures)))
    lattices = result.lattices
    assert all(lattice['lattice_found'] for lattice in lattices)
    # The same periodic structure: the same lattice, whatever cell and orientation it is given in.
    scores = [lattice['lattice_score'] for lattice in lattices]
    assert max(scores) - min(scores) < 0.02, scores
    assert {lattice['sites_per_lattice_point'] for lattice in lattices} == {PRISTINE_CELLS[label][1]}
    images = result.images
    pristine = fingerprint(prototype(species, label))
    for name, image in zip(structures, images, strict=True):
        assert cosine(image, images[0]) > 0.8, (name, cosine(image, images[0]))
        # Closer to its own class's pristine fingerprint than to any other class's.
        own = cosine(image, pristine)
        others = [cosine(image, fingerprint(prototype(species, other))) for other in PRISTINE_CELLS if other != label]
        assert own > max(others), (name, own, others)


def test_score_falls_with_disorder():
    base = supercell(prototype('Cu', 'fcc'), 4)
    scores = [find_lattice(vacancies(base, f, seed=1)).score for f in (0.0, 0.1, 0.3, 0.5)]
    assert scores[0] == pytest.approx(1.0)
    assert all(a > b for a, b in itertools.pairwise(scores)), scores
    sigmas = [find_lattice(displacements(base, s, seed=1)).score for s in (0.05, 0.15, 0.3)]
    assert all(a > b for a, b in itertools.pairwise(sigmas)), sigmas


def test_large_structure_uses_a_subset_and_keeps_its_score():
    structure = vacancies(supercell(prototype('Cu', 'fcc'), 5), 0.1, seed=2)  # 450 atoms
    big = supercell(structure, [2, 1, 1])  # 900 atoms, more than MAX_ATOMS: the same crystal
    assert len(big) > MAX_ATOMS >= len(structure)
    small, large = find_lattice(structure), find_lattice(big)
    assert large.found and large.sites == 1
    assert large.score == pytest.approx(small.score, abs=0.03)
    assert find_lattice(big, seed=5).seed == 5


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_amorphous_solid_and_gas_have_no_lattice(seed):
    copper = prototype('Cu', 'fcc')
    density = len(copper) / copper.volume
    for structure in (amorphous(256, density, seed, 2.0), amorphous(64, density / 20, seed, 2.0)):
        lattice = find_lattice(structure)
        assert not lattice.found, lattice.to_dict()
        assert lattice.score == 0.0 and 'span' in lattice.reason
        # The fingerprint is still made (the cell as given) and says that no lattice was found.
        result = fingerprint_batch([structure])
        assert result.ok == [0] and result.lattices[0]['lattice_found'] is False


def test_molecule_in_a_box_has_no_lattice():
    methane = np.array(
        [[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]]
    )
    structure = AtomicStructure(np.eye(3) * 12.0, methane + 6.0, [6, 1, 1, 1, 1], 'methane')
    lattice = find_lattice(structure)
    assert not lattice.found and 'nearest-neighbour distances long' in lattice.reason


def test_bad_input_still_refused():
    with pytest.raises(StructureError, match='empty'):
        find_lattice(AtomicStructure(np.eye(3) * 4, np.zeros((0, 3)), [], 'nothing'))
    with pytest.raises(StructureError, match='NaN'):
        find_lattice(AtomicStructure(np.eye(3) * 4, [[np.nan, 0, 0]], [29], 'nan'))


def test_orientation_setting():
    structure = prototype('Fe', 'bcc', representation='primitive')
    assert build_cluster(structure).lattice.found
    assert build_cluster(structure, orientation='none').lattice is None
    with pytest.raises(ValueError, match='orientation'):
        FingerprintSettings(orientation='sideways')
    assert FingerprintSettings.from_dict({'standardize': True}).orientation == 'spglib'
    assert FingerprintSettings().hash != FingerprintSettings(orientation='none').hash


def test_supercell_keeps_the_crystal():
    copper = prototype('Cu', 'fcc', representation='primitive')
    bigger = supercell(copper, [[1, 1, 0], [0, 2, 1], [1, 0, 3]])
    assert len(bigger) == round(abs(np.linalg.det([[1, 1, 0], [0, 2, 1], [1, 0, 3]])))
    assert bigger.volume == pytest.approx(copper.volume * len(bigger))
    assert np.abs(fingerprint(bigger) - fingerprint(copper)).max() < 1e-4
    with pytest.raises(ValueError, match='singular'):
        supercell(copper, [[1, 0, 0], [0, 1, 0], [1, 1, 0]])


def test_tiny_disordered_cells_never_break_the_batch():
    """16-atom cells at high disorder find odd lattices by chance (C ~ 1/4): each still gets a fingerprint."""
    from aiida_crystalface.core.cluster import replicate
    from aiida_crystalface.core.defects import bcc_to_sc, lindemann

    cell = replicate(prototype('Fe', 'bcc'), 16)
    structures = [lindemann(cell, level, seed=seed) for level in (0.2, 0.25, 0.3, 0.4) for seed in range(10)]
    structures += [bcc_to_sc(cell, level, seed=seed) for level in (0.7, 0.9, 1.0) for seed in range(5)]
    result = fingerprint_batch(structures)
    assert result.errors == {} and len(result.ok) == len(structures)
    assert all(0.0 <= lattice['lattice_score'] <= 1.0 for lattice in result.lattices)


def _cubes(structure: AtomicStructure, edge: float) -> np.ndarray:
    """Which of the eight conventional cubes of a 2 x 2 x 2 block each atom sits in (0..7)."""
    block = np.floor(structure.positions / edge + 1e-6).astype(int) % 2
    return block @ np.array([1, 2, 4])


def test_superlattice_peak_tells_random_damage_from_order():
    """Random vacancies and random displacements stay under the disorder limit; the same share of vacancies in an
    order, or a frozen displacement wave of the lattice, lie far above it; a pristine supercell has no peak at all.
    (Against the limit's own derivation: an fcc Cu crystal of 256 sites, built with ASE.)"""
    from ase.build import bulk

    from aiida_crystalface.core.orientation import MIN_DISORDER_POINTS, disorder_limit
    from aiida_crystalface.core.structures import to_atomic_structure

    edge = 3.61
    pristine = to_atomic_structure(bulk('Cu', 'fcc', a=edge, cubic=True).repeat(4))
    found = find_lattice(pristine)
    assert found.points == 256 and found.superlattice_peak == 0.0 and found.diffuse_reflections > 4 * 255
    record = found.to_dict()
    assert record['lattice_points'] == 256 and record['superlattice_peak'] == 0.0
    limit = disorder_limit(256, found.diffuse_reflections, 0.01)  # exceeded by random damage once in a hundred
    assert limit == pytest.approx(np.log(found.diffuse_reflections / 0.01))
    for seed in range(4):
        for damaged in (
            vacancies(pristine, 0.5, seed=seed),
            displacements(pristine, 0.1, seed=seed),
            displacements(vacancies(pristine, 0.3, seed=seed), 0.1, seed=seed),
        ):
            lattice = find_lattice(damaged)
            assert lattice.points == 256 and 0 < lattice.superlattice_peak <= limit, (seed, damaged.label)
    ordered = pristine.replace(numbers=pristine.numbers)  # a copy; three of each block's eight cubes emptied
    keep = ~np.isin(_cubes(pristine, edge), [0, 3, 5])
    ordered = AtomicStructure(pristine.cell, pristine.positions[keep], pristine.numbers[keep], label='ordered')
    assert find_lattice(ordered).superlattice_peak > 3 * limit
    wave = pristine.positions.copy()
    wave[:, 2] += 0.1 * np.cos(np.pi * pristine.positions[:, 0] / edge)  # period two cubes along x, 0.1 A
    assert find_lattice(pristine.replace(positions=wave)).superlattice_peak > 3 * limit
    # a primitive cell has no wave vector off its lattice; a cell of few points cannot tell at all
    assert find_lattice(bulk('Cu', 'fcc', a=edge)).superlattice_peak == 0.0
    assert disorder_limit(MIN_DISORDER_POINTS - 1, 1000, 0.05) is None
    with pytest.raises(ValueError, match='alpha'):
        disorder_limit(256, 1000, 0.0)


def test_species_superlattice_peak_tells_a_random_alloy_from_an_ordered_compound():
    """On a cubic lattice with one site per point, each element's atoms alone: a random bcc Fe-Cr alloy has no
    superlattice peak in either, CsCl (bcc species-blind) and rocksalt NaCl (sc species-blind) strong ones; a crystal
    of one element, or on another lattice, has no such record."""
    from ase.build import bulk

    from aiida_crystalface.core.orientation import disorder_limit

    rng = np.random.default_rng(1)
    alloy = bulk('Fe', 'bcc', a=2.87, cubic=True).repeat(5)
    alloy.numbers[rng.choice(len(alloy), 75, replace=False)] = 24
    cases = {
        'alloy': alloy,
        'cscl': bulk('CsCl', 'cesiumchloride', a=4.12).repeat(5),
        'nacl': bulk('NaCl', 'rocksalt', a=5.64, cubic=True).repeat(3),
    }
    records = {name: find_lattice(atoms).to_dict() for name, atoms in cases.items()}
    for name, record in records.items():
        assert record['sites_per_lattice_point'] == 1 and record['lattice_bravais'] in ('cP', 'cI'), name
        limit = disorder_limit(record['lattice_points'], record['diffuse_reflections'], 0.05)
        ordered = record['species_superlattice_peak'] > 5 * limit
        assert ordered == (name != 'alloy'), (name, record['species_superlattice_peak'], limit)
    assert 'species_superlattice_peak' not in find_lattice(bulk('Fe', 'bcc', a=2.87).repeat(5)).to_dict()
    assert 'species_superlattice_peak' not in find_lattice(bulk('ZnO', 'wurtzite', a=3.25, c=5.21).repeat(4)).to_dict()
