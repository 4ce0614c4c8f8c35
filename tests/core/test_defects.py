"""Defects: exact counts, recovered statistics, other species, determinism, bcc -> sc by spglib, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_crystalface.core.cluster import replicate, standard_cell
from aiida_crystalface.core.defects import (
    DefectError,
    bcc_to_sc,
    body_centre_mask,
    displacements,
    lindemann,
    nearest_neighbour_distance,
    substitutions,
    vacancies,
)
from aiida_crystalface.core.prototypes import prototype, spacegroup_number


def supercell(species: str, label: str, target: int = 128):
    """The replicated pristine cell, as the dataset builders make it."""
    return replicate(standard_cell(prototype(species, label, representation='primitive'))[0], target)


@pytest.fixture(scope='module')
def fcc():
    return supercell('Cu', 'fcc', 128)


@pytest.fixture(scope='module')
def bcc():
    return supercell('Fe', 'bcc', 128)


@pytest.mark.parametrize('fraction', [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.95])
def test_vacancies_remove_exactly_that_share(fcc, fraction):
    result = vacancies(fcc, fraction, seed=3)
    assert len(result) == len(fcc) - round(fraction * len(fcc))
    # The survivors are original atoms, unmoved, each at most once.
    original = {tuple(np.round(p, 9)) for p in fcc.positions}
    kept = [tuple(np.round(p, 9)) for p in result.positions]
    assert set(kept) <= original and len(set(kept)) == len(kept)
    assert result.info['defect_kind'] == 'vacancies' and result.info['defect_level'] == fraction
    assert result.info['defect_seed'] == 3
    assert np.array_equal(result.cell, fcc.cell)


def test_displacement_sigma_is_recovered(fcc):
    big = replicate(fcc, 2000)  # ~2000 atoms, 6,000 components: sigma to about 1 %
    for sigma in (0.05, 0.15):
        delta = displacements(big, sigma, seed=11).positions - big.positions
        assert abs(delta.mean()) < 4 * sigma / np.sqrt(delta.size)
        assert delta.std() == pytest.approx(sigma, rel=0.04)
        # Isotropic: each Cartesian component has the same spread.
        assert np.allclose(delta.std(axis=0), sigma, rtol=0.06)


def test_lindemann_parameter_is_rms_over_nn_distance(bcc):
    big = replicate(bcc, 4000)
    d_nn = nearest_neighbour_distance(big)
    assert d_nn == pytest.approx(
        np.sqrt(3) / 2 * bcc.cell[0, 0] / round(bcc.cell[0, 0] / standard_cell(bcc)[0].cell[0, 0])
    )
    for parameter in (0.1, 0.3):
        result = lindemann(big, parameter, seed=5)
        rms = np.sqrt(np.mean(np.sum((result.positions - big.positions) ** 2, axis=1)))
        assert rms / d_nn == pytest.approx(parameter, rel=0.03)
        assert result.info['defect_params']['sigma'] == pytest.approx(parameter * d_nn / np.sqrt(3))
    assert np.array_equal(lindemann(big, 0.0, seed=5).positions, big.positions)


def test_nearest_neighbour_distance_against_pristine_geometry():
    a = 4.0
    for label, ratio in (('fcc', 1 / np.sqrt(2)), ('diamond', np.sqrt(3) / 4), ('bcc', np.sqrt(3) / 2), ('sc', 1.0)):
        for representation in ('primitive', 'conventional', 'supercell'):
            structure = prototype('Cu', label, a, representation)
            assert nearest_neighbour_distance(structure) == pytest.approx(a * ratio, rel=1e-12)


@pytest.mark.parametrize(('n_species', 'fraction'), [(1, 0.25), (1, 0.5), (2, 0.25), (2, 0.5), (2, 0.75)])
def test_substitutions_use_other_species_and_keep_the_atoms(fcc, n_species, fraction):
    result = substitutions(fcc, fraction, seed=21, n_species=n_species)
    assert len(result) == len(fcc)
    assert np.array_equal(result.positions, fcc.positions)
    changed = result.numbers != fcc.numbers
    assert changed.sum() == round(fraction * len(fcc))
    new = np.unique(result.numbers[changed])
    assert len(new) == n_species and 29 not in new
    assert all(1 <= z <= 98 for z in new)
    counts = sorted((result.numbers == z).sum() for z in new)
    assert counts[-1] - counts[0] <= 1  # the substituted share is split evenly
    assert result.info['defect_kind'] == ('binary' if n_species == 1 else 'ternary')
    assert len(result.info['defect_params']['species']) == n_species


def test_substitution_species_are_random(fcc):
    drawn = {int(np.unique(substitutions(fcc, 0.5, seed=s).numbers)[-1]) for s in range(40)}
    drawn |= {int(np.unique(substitutions(fcc, 0.5, seed=s).numbers)[0]) for s in range(40)}
    assert len(drawn) > 20


@pytest.mark.parametrize(
    'make',
    [
        lambda s, seed: vacancies(s, 0.3, seed),
        lambda s, seed: displacements(s, 0.1, seed),
        lambda s, seed: substitutions(s, 0.5, seed, n_species=2),
        lambda s, seed: lindemann(s, 0.2, seed),
        lambda s, seed: bcc_to_sc(s, 0.5, seed),
    ],
)
def test_same_seed_same_structure_other_seed_different(bcc, make):
    first, again, other = make(bcc, 42), make(bcc, 42), make(bcc, 43)
    assert np.array_equal(first.positions, again.positions) and np.array_equal(first.numbers, again.numbers)
    assert not (
        first.positions.shape == other.positions.shape
        and np.array_equal(first.positions, other.positions)
        and np.array_equal(first.numbers, other.numbers)
    )


def test_the_input_is_never_changed(fcc):
    positions, numbers = fcc.positions.copy(), fcc.numbers.copy()
    displacements(fcc, 0.1, 1)
    substitutions(fcc, 0.5, 1)
    vacancies(fcc, 0.5, 1)
    assert np.array_equal(fcc.positions, positions) and np.array_equal(fcc.numbers, numbers)


def test_bcc_to_sc_end_points_by_spglib(bcc):
    assert spacegroup_number(bcc_to_sc(bcc, 0.0, seed=1)) == 229
    sc = bcc_to_sc(bcc, 1.0, seed=1)
    assert len(sc) == len(bcc) // 2
    assert spacegroup_number(sc) == 221
    partial = bcc_to_sc(bcc, 0.5, seed=1)
    assert len(partial) == len(bcc) - len(bcc) // 4


def test_bcc_to_sc_removes_only_body_centres(bcc):
    centres = body_centre_mask(bcc)
    assert centres.sum() == len(bcc) // 2
    result = bcc_to_sc(bcc, 0.7, seed=9)
    corners = {tuple(np.round(p, 9)) for p in bcc.positions[~centres]}
    assert corners <= {tuple(np.round(p, 9)) for p in result.positions}
    assert len(bcc) - len(result) == round(0.7 * centres.sum())


def test_bcc_to_sc_on_a_shifted_conventional_cell():
    cell = replicate(prototype('W', 'bcc', origin=(0.3, 1.1, -0.7)), 16)
    assert spacegroup_number(bcc_to_sc(cell, 1.0, seed=0)) == 221


@pytest.mark.parametrize('fraction', [-0.1, 1.0, 1.5, float('nan')])
def test_bad_fractions_raise(fcc, fraction):
    with pytest.raises(DefectError, match=r'fraction must lie in \[0, 1\)'):
        vacancies(fcc, fraction, 0)
    with pytest.raises(DefectError, match=r'fraction must lie in \[0, 1\)'):
        substitutions(fcc, fraction, 0)


def test_other_bad_inputs_raise_clear_errors(fcc, bcc):
    with pytest.raises(DefectError, match='sigma must be a finite number >= 0'):
        displacements(fcc, -0.05, 0)
    with pytest.raises(DefectError, match='Lindemann parameter must be a finite number >= 0'):
        lindemann(fcc, -0.1, 0)
    with pytest.raises(DefectError, match=r'needs a bcc crystal .* spglib finds 225'):
        bcc_to_sc(fcc, 0.5, 0)
    with pytest.raises(DefectError, match='needs a bcc crystal'):
        bcc_to_sc(vacancies(bcc, 0.1, 0), 0.5, 0)  # a defective bcc cell is no longer bcc for spglib
    with pytest.raises(DefectError, match='not distinct'):
        bcc_to_sc(prototype('Fe', 'bcc', representation='primitive'), 1.0, 0)
    with pytest.raises(DefectError, match='not distinct'):  # 2 x 2 x 1 primitive cells: a centring vector remains
        bcc_to_sc(prototype('Fe', 'bcc', representation='supercell'), 1.0, 0)
    with pytest.raises(DefectError, match=r'fraction must lie in \[0, 1\]'):
        bcc_to_sc(bcc, 1.1, 0)
    with pytest.raises(DefectError, match='n_species must be 1'):
        substitutions(fcc, 0.5, 0, n_species=3)
    with pytest.raises(DefectError, match='seed must be a non-negative integer'):
        vacancies(fcc, 0.5, -1)
    with pytest.raises(DefectError, match='seed must be a non-negative integer'):
        vacancies(fcc, 0.5, 1.5)
