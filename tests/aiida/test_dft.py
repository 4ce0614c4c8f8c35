"""Classifications chained into DFT: the prototype calcfunction, the setup of pw.x and the family, the WorkChain.

The end-to-end tests run the real pw.x of Debian's quantum-espresso package at low cutoffs; they are skipped, with
the reason printed, only where pw.x is absent. The setup, refusal and missing-piece tests need no pw.x.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node

from aiida_crystalface import dft_setup
from aiida_crystalface.calculations.functions.make_prototype import majority_species, make_prototype
from aiida_crystalface.calculations.utils import structure_data, to_atomic
from aiida_crystalface.core import defects
from aiida_crystalface.core.cluster import replicate
from aiida_crystalface.core.prototypes import SPACEGROUPS, prototype, spacegroup_number
from aiida_crystalface.data.classification import ClassificationData

PW_X = shutil.which('pw.x')
needs_pw_x = pytest.mark.skipif(
    PW_X is None, reason=f'pw.x is not installed (the DFT chain needs it): {dft_setup.INSTALL_HINT}'
)
INSTALL_LINE = 'apt-get install quantum-espresso quantum-espresso-data'


def _defective(species: str, label: str, a: float, seed: int = 3):
    """A conventional cell replicated to 64 atoms, 10 % vacancies and 0.05 A Gaussian displacements."""
    supercell = replicate(prototype(species, label, a), 64)
    return defects.displacements(defects.vacancies(supercell, 0.1, seed), 0.05, seed + 1)


def _classification(label: str) -> ClassificationData:
    others = [c for c in ('fcc', 'diamond', 'bcc', 'sc') if c != label]
    return ClassificationData({label: 0.97, **dict.fromkeys(others, 0.01)}).store()


@pytest.mark.parametrize('cell', ['primitive', 'conventional'])
@pytest.mark.parametrize(
    ('label', 'species', 'a'), [('diamond', 'Si', 5.43), ('fcc', 'Cu', 3.61), ('bcc', 'Fe', 2.87), ('sc', 'Po', 3.35)]
)
def test_prototype_keeps_volume_per_atom_species_and_symmetry(aiida_profile, label, species, a, cell):
    defective = _defective(species, label, a)
    structure = structure_data(defective).store()
    classification = _classification(label)
    result, node = make_prototype.run_get_node(classification, structure, orm.Str(cell))
    assert node.is_finished_ok
    ideal = to_atomic('prototype', result)
    np.testing.assert_allclose(ideal.volume / len(ideal), defective.volume / len(defective), rtol=1e-10)
    assert set(ideal.symbols) == {species}
    assert spacegroup_number(ideal) == SPACEGROUPS[label]
    expected_atoms = {'primitive': {'diamond': 2}, 'conventional': {'fcc': 4, 'diamond': 8, 'bcc': 2}}[cell]
    assert len(ideal) == expected_atoms.get(label, 1)
    inputs = {t.link_label: t.node.uuid for t in node.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()}
    assert inputs['classification'] == classification.uuid and inputs['structure'] == structure.uuid


def test_prototype_majority_species_and_bad_inputs(aiida_profile):
    assert majority_species([14, 14, 6]) == 14
    assert majority_species([29, 14]) == 14  # a tie goes to the lighter species
    substituted = defects.substitutions(replicate(prototype('Cu', 'fcc', 3.61), 32), 0.25, seed=1, n_species=1)
    result = make_prototype(_classification('fcc'), structure_data(substituted).store(), orm.Str('conventional'))
    assert result.get_kind_names() == ['Cu']
    structure = structure_data(prototype('Cu', 'fcc', 3.61)).store()
    with pytest.raises(ValueError, match=r"class 'hcp' .* has no prototype"):
        make_prototype(ClassificationData({'hcp': 0.9, 'fcc': 0.1}).store(), structure, orm.Str('primitive'))
    with pytest.raises(ValueError, match="cell: 'supercell' is not one of"):
        make_prototype(_classification('fcc'), structure, orm.Str('supercell'))


def test_setup_without_pw_x_or_upf_files_names_what_to_install(aiida_profile, tmp_path):
    before = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(dft_setup.DftSetupError, match=INSTALL_LINE) as info:
        dft_setup.setup(executable=tmp_path / 'bin' / 'pw.x')
    assert 'pw.x does not exist' in str(info.value)
    with pytest.raises(dft_setup.DftSetupError, match=INSTALL_LINE) as info:
        dft_setup.find_upf_files(search_paths=[tmp_path])
    assert 'Cu.pz-d-rrkjus.UPF' in str(info.value)
    assert orm.QueryBuilder().append(orm.Node).count() == before  # nothing was stored


def test_setup_installs_family_from_gzipped_files(aiida_profile, tmp_path):
    """The family installs from gzipped UPF files (as the examples folder ships them) and refuses mixed functionals."""
    import gzip

    try:
        files = dft_setup.find_upf_files()
    except dft_setup.DftSetupError as exception:
        pytest.skip(f'no UPF files here: {exception}')
    source = tmp_path / 'gz'
    source.mkdir()
    for path in files.values():
        (source / f'{path.name.removesuffix(".gz")}.gz').write_bytes(gzip.compress(dft_setup._read_upf(path)))
    family, created = dft_setup.ensure_pseudo_family('crystalface-test/gz', search_paths=[source])
    assert created and set(family.elements) == set(dft_setup.PSEUDOPOTENTIALS)
    assert family.get_recommended_cutoffs(elements=('Cu',), unit='Ry') == (25.0, 300.0)
    assert family.get_recommended_cutoffs(elements=('Si', 'Cu'), unit='Ry') == (25.0, 300.0)
    again, created = dft_setup.ensure_pseudo_family('crystalface-test/gz', search_paths=[source])
    assert not created and again.pk == family.pk
    si = next(source.glob('Si.*'))
    si.write_bytes(gzip.compress(dft_setup._read_upf(si).replace(b'SLA  PZ   NOGX NOGC', b'SLA  PW   PBE  PBE')))
    with pytest.raises(dft_setup.DftSetupError, match='do not share one functional'):
        dft_setup.ensure_pseudo_family('crystalface-test/mixed', search_paths=[source])


@pytest.fixture
def pw_setup(aiida_profile):
    """The project's own setup (idempotent: every test that asks for it runs it again)."""
    if PW_X is None:
        print(f'skipped: pw.x is not installed; {dft_setup.INSTALL_HINT}')
        pytest.skip(f'pw.x is not installed; {dft_setup.INSTALL_HINT}')
    return dft_setup.setup()


@needs_pw_x
def test_setup_is_idempotent(pw_setup):
    again = dft_setup.setup()
    assert again.created == {'computer': False, 'code': False, 'family': False}
    assert (again.computer.pk, again.code.pk, again.family.pk) == (
        pw_setup.computer.pk,
        pw_setup.code.pk,
        pw_setup.family.pk,
    )
    assert pw_setup.computer.transport_type == 'core.local' and pw_setup.computer.scheduler_type == 'core.direct'
    assert str(pw_setup.code.filepath_executable) == str(dft_setup.find_pw_executable())
    assert pw_setup.code.default_calc_job_plugin == 'quantumespresso.pw'
    assert dft_setup.load_pw_code().pk == pw_setup.code.pk
    assert dft_setup.load_pseudo_family().pk == pw_setup.family.pk
    with pytest.raises(dft_setup.DftSetupError, match=INSTALL_LINE):
        dft_setup.load_pseudo_family('no-such-family')


def _workchain():
    pytest.importorskip('aiida_quantumespresso', reason="aiida-quantumespresso is missing: pip install -e '.[dft]'")
    from aiida_crystalface.workflows.dft import ClassifyAndComputeWorkChain

    return ClassifyAndComputeWorkChain


def test_missing_pw_x_and_missing_family_are_exit_codes(aiida_localhost, generate_structure, model_node, tmp_path):
    workchain = _workchain()
    structure = generate_structure('fcc', 'Cu')
    missing = orm.InstalledCode(
        label='pw-missing', computer=aiida_localhost, filepath_executable=str(tmp_path / 'no' / 'pw.x')
    ).store()
    _, node = run_get_node(workchain, structure=structure, code=missing, model=model_node)
    assert node.exit_status == workchain.exit_codes.ERROR_CODE_NOT_USABLE.status
    assert INSTALL_LINE in node.exit_message and 'pw-missing@' in node.exit_message
    present = orm.InstalledCode(label='pw-present', computer=aiida_localhost, filepath_executable='/bin/sh').store()
    _, node = run_get_node(
        workchain, structure=structure, code=present, model=model_node, pseudo_family=orm.Str('no-such-family')
    )
    assert node.exit_status == workchain.exit_codes.ERROR_PSEUDO_FAMILY_NOT_FOUND.status
    assert "'no-such-family'" in node.exit_message and INSTALL_LINE in node.exit_message
    assert not node.called  # nothing was classified or computed


@needs_pw_x
def test_refused_below_min_probability(pw_setup, generate_structure, model_node):
    """A classification below the threshold is returned, and nothing else is built or run."""
    workchain = _workchain()
    structure = generate_structure('fcc', 'Cu')
    results, node = run_get_node(
        workchain, structure=structure, code=pw_setup.code, model=model_node, min_probability=orm.Float(1.0)
    )
    classification = results['classification']
    assert classification.max_probability < 1.0  # the seeded random-weight model is never certain
    assert node.exit_status == workchain.exit_codes.ERROR_PROBABILITY_TOO_LOW.status
    assert classification.predicted_class in node.exit_message and 'below min_probability 1.000' in node.exit_message
    assert 'prototype' not in results and 'dft' not in results
    assert [c.process_label for c in node.called] == ['ClassifyStructuresWorkChain']


@needs_pw_x
def test_family_without_the_species_is_an_exit_code(pw_setup, generate_structure, model_node):
    """Polonium is in no class's way, but the family has no Po pseudopotential: exit code 302 after the prototype."""
    workchain = _workchain()
    structure = generate_structure('sc', 'Po')
    results, node = run_get_node(
        workchain, structure=structure, code=pw_setup.code, model=model_node, min_probability=orm.Float(0.0)
    )
    assert node.exit_status == workchain.exit_codes.ERROR_PSEUDO_FAMILY_LACKS_ELEMENT.status
    assert 'no pseudopotential for Po' in node.exit_message and pw_setup.family.label in node.exit_message
    assert results['prototype'].get_kind_names() == ['Po']
    assert not [c for c in node.called if 'Pw' in c.process_label]


# Low cutoffs (Ry) and a coarse k-point mesh: enough for a real total energy in seconds.
CASES = {
    'diamond-Si': ('Si', 'diamond', 5.43, {'ecutwfc': 20.0, 'ecutrho': 80.0}, (-112.0, -103.0)),
    'fcc-Cu': ('Cu', 'fcc', 3.61, {'ecutwfc': 25.0, 'ecutrho': 200.0}, (-1250.0, -1150.0)),
}


@needs_pw_x
@pytest.mark.parametrize('case', sorted(CASES))
def test_defective_structure_to_total_energy(pw_setup, case):
    """Defective crystal -> classification -> prototype -> PwCalculation -> total energy, checked in the graph."""
    species, label, a, cutoffs, energy_range = CASES[case]
    defective = _defective(species, label, a)
    structure = structure_data(defective).store()
    overrides = {'kpoints_distance': 0.5, 'pw': {'parameters': {'SYSTEM': cutoffs}}}
    results, node = run_get_node(
        _workchain(),
        structure=structure,
        code=pw_setup.code,
        protocol=orm.Str('fast'),
        overrides=orm.Dict(overrides),
    )
    assert node.is_finished_ok, node.exit_message
    # structure -> classification: through the fingerprint, by the bundled model
    classification = results['classification']
    assert classification.predicted_class == label and classification.max_probability >= 0.9
    predict = classification.base.links.get_incoming(link_type=LinkType.CREATE).one().node
    fingerprint = predict.base.links.get_incoming(link_type=LinkType.INPUT_CALC, link_label_filter='structure')
    fingerprint_creator = fingerprint.one().node.base.links.get_incoming(link_type=LinkType.CREATE).one().node
    assert fingerprint_creator.base.links.get_incoming(link_label_filter='structure').one().node.uuid == structure.uuid
    # classification -> prototype
    prototype_node = results['prototype']
    creator = prototype_node.base.links.get_incoming(link_type=LinkType.CREATE).one().node
    assert creator.process_label == 'make_prototype'
    inputs = {t.link_label: t.node.uuid for t in creator.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()}
    assert inputs['classification'] == classification.uuid and inputs['structure'] == structure.uuid
    assert prototype_node.get_kind_names() == [species]
    # prototype -> PwCalculation -> total energy
    query = orm.QueryBuilder()
    query.append(orm.StructureData, filters={'id': prototype_node.pk}, tag='prototype')
    query.append(orm.CalcJobNode, with_incoming='prototype', edge_filters={'label': 'structure'}, tag='pw')
    query.append(orm.Dict, with_incoming='pw', edge_filters={'label': 'output_parameters'}, project='*')
    (parameters,) = query.one()
    assert parameters.creator.process_type == 'aiida.calculations:quantumespresso.pw'
    assert parameters.uuid == results['dft']['output_parameters'].uuid
    energy = parameters['energy']
    assert parameters['energy_units'] == 'eV'
    per_atom = energy / len(prototype_node.sites)
    print(f'{case}: {classification.predicted_class} p={classification.max_probability:.3f}, {prototype_node.label}')
    print(f'{case}: total energy {energy:.4f} eV ({per_atom:.4f} eV/atom)')
    assert energy_range[0] < per_atom < energy_range[1], per_atom
    # the DFT inputs: the family's pseudopotential and the low cutoffs asked for
    pw_inputs = parameters.creator.inputs
    assert pw_inputs.parameters['SYSTEM']['ecutwfc'] == cutoffs['ecutwfc']
    assert pw_inputs.pseudos[species].uuid == pw_setup.family.get_pseudo(species).uuid


@needs_pw_x
def test_relax_type_runs_pw_relax_workchain(pw_setup):
    """relax_type 'cell': PwRelaxWorkChain relaxes the prototype's cell; the relaxed structure is returned."""
    structure = structure_data(_defective('Cu', 'fcc', 3.61)).store()
    overrides = {'base_relax': {'kpoints_distance': 0.6, 'pw': {'parameters': {'SYSTEM': CASES['fcc-Cu'][3]}}}}
    results, node = run_get_node(
        _workchain(),
        structure=structure,
        code=pw_setup.code,
        protocol=orm.Str('fast'),
        relax_type=orm.Str('cell'),
        overrides=orm.Dict(overrides),
    )
    assert node.is_finished_ok, node.exit_message
    (dft,) = [c for c in node.called if c.process_label == 'PwRelaxWorkChain']
    assert dft.inputs.structure.uuid == results['prototype'].uuid
    relaxed, prototype_node = results['dft']['output_structure'], results['prototype']
    assert relaxed.uuid == dft.outputs.output_structure.uuid
    # The vacancies inflated the prototype's volume per atom: LDA copper relaxes to a smaller cell.
    assert relaxed.get_cell_volume() < prototype_node.get_cell_volume()
    calculations = [c for c in dft.called_descendants if c.process_label == 'PwCalculation']
    assert calculations and all(c.inputs.parameters['CONTROL']['calculation'] == 'vc-relax' for c in calculations)
