"""The open-set answer of the bundled default model: classes, ``unknown`` and ``amorphous`` (issue 13).

The crystals here are built by ASE (experimental lattice constants), independently of the generator the model was
trained and calibrated on (``core.openset``, radius-based lattice constants); the damage is seeded.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.spacegroup import crystal

from aiida_crystalface.core import openset
from aiida_crystalface.core.defects import displacements, vacancies
from aiida_crystalface.core.presentations import amorphous, rotated
from aiida_crystalface.core.structures import AtomicStructure, to_atomic_structure
from aiida_crystalface.ml import Classifier
from aiida_crystalface.ml.classifier import ModelFileError


@pytest.fixture(scope='module')
def model():
    return Classifier.pretrained('open-4class')


def _big(atoms, n=100):
    return openset.supercell_of_at_least(to_atomic_structure(atoms), n)


def _perovskite():
    return crystal(['Sr', 'Ti', 'O'], [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0)], spacegroup=221,
                   cellpar=[3.905] * 3 + [90] * 3)  # fmt: skip


def test_default_model_is_open_set_with_prototypes(model):
    assert model.classes == ['fcc', 'diamond', 'bcc', 'sc']
    assert model.open_set['method'] == 'outlier-exposure'
    assert 0 < model.open_set['threshold'] < 1 and model.open_set['temperature'] > 0
    assert model.prototypes['fcc'] == {'aflow': 'A_cF4_225_a', 'space_group': 225, 'strukturbericht': 'A1'}
    assert set(model.prototypes) == set(model.classes)
    for record in model.prototypes.values():
        assert set(record) == {'aflow', 'space_group', 'strukturbericht'}
    # the held-out parts are recorded in the model file and are disjoint from its training part
    split = model.open_set['split']
    assert not set(split['train']['prototypes']) & set(split['test']['prototypes'])
    assert not set(split['train']['species']) & set(split['test']['species'])


@pytest.mark.parametrize(
    'name',
    [
        'hcp Mg',
        'hcp Ti',
        'hcp Zn',
        'hcp Cd',
        'bct In',
        'perovskite SrTiO3',
        'wurtzite ZnO',
        'fluorite CaF2',
    ],
)
def test_outsiders_are_unknown(model, name):
    atoms = {
        'hcp Mg': bulk('Mg', 'hcp'),
        'hcp Ti': bulk('Ti', 'hcp'),
        'hcp Zn': bulk('Zn', 'hcp'),
        'hcp Cd': bulk('Cd', 'hcp'),
        'bct In': bulk('In', 'bct', a=3.25, c=4.95),
        'perovskite SrTiO3': _perovskite(),
        'wurtzite ZnO': bulk('ZnO', 'wurtzite', a=3.25, c=5.21),
        'fluorite CaF2': bulk('CaF2', 'fluorite', a=5.46),
    }[name]
    [answer] = model.classify([_big(atoms)])
    assert answer['label'] == 'unknown', (name, answer)


def test_lattice_rule_is_on_and_decides_against_the_network(model):
    """An answer whose class the lattice found cannot have is unknown, with the network's probabilities kept."""
    from aiida_crystalface.core.diffraction import fingerprint_batch

    assert model.open_set['lattice_rule'] is True
    batch = fingerprint_batch([_big(bulk('Cu', 'fcc', a=3.61, cubic=True))])
    record = batch.lattices[0]
    assert record['lattice_bravais'] == 'cF' and record['sites_per_lattice_point'] == 1
    [base] = model.decide(batch.images, [record])
    assert base['label'] == 'fcc'
    for other in ({'lattice_bravais': ''}, {'lattice_bravais': 'cI'}, {'sites_per_lattice_point': 2}):
        [answer] = model.decide(batch.images, [dict(record, **other)])
        assert answer['label'] == 'unknown' and answer['uncertainty'] == 0.0, (other, answer)
        assert answer['probabilities'] == base['probabilities']
    # a record without the field (a local window's lattice): the network decides alone
    local = {k: v for k, v in record.items() if k != 'lattice_bravais'}
    assert model.decide(batch.images, [local])[0] == base


def test_disorder_is_amorphous(model):
    answers = model.classify([amorphous(128, 0.08, seed=s) for s in range(3)] + [openset.molten_snapshot(1)])
    assert [a['label'] for a in answers] == ['amorphous'] * 4
    assert all(a['uncertainty'] == 0.0 for a in answers)


@pytest.mark.parametrize(
    ('species', 'kind', 'damage'),
    [
        ('Cu', 'fcc', 'vacancies 50 %'),
        ('Al', 'fcc', 'displacements 0.15 A'),
        ('Fe', 'bcc', 'vacancies 50 %'),
        ('W', 'bcc', 'vacancies 30 % + 0.10 A'),
        ('Si', 'diamond', 'vacancies 50 %'),
        ('Ge', 'diamond', 'displacements 0.15 A'),
        ('Po', 'sc', 'vacancies 50 %'),
    ],
)
def test_damaged_members_stay_in_their_class(model, species, kind, damage):
    base = _big(bulk(species, kind, cubic=True), 150)
    vacancy, sigma = {'vacancies 50 %': (0.5, 0), 'displacements 0.15 A': (0, 0.15),
                      'vacancies 30 % + 0.10 A': (0.3, 0.1)}[damage]  # fmt: skip
    structure = vacancies(base, vacancy, seed=1) if vacancy else base
    structure = displacements(structure, sigma, seed=2) if sigma else structure
    # the same damage in a rotated supercell of the primitive cell
    other_cell = _big(bulk(species, kind), 150)
    other_cell = vacancies(other_cell, vacancy, seed=3) if vacancy else other_cell
    other_cell = rotated(displacements(other_cell, sigma, seed=4) if sigma else other_cell, seed=5)
    answers = model.classify([structure, other_cell])
    assert [a['label'] for a in answers] == [kind, kind], answers


def test_classify_contract(model, tmp_path):
    good = _big(bulk('Cu', 'fcc', a=3.61, cubic=True))
    nan = AtomicStructure(np.eye(3) * 4, np.array([[0, 0, 0], [np.nan, 1, 1]]), [29, 29], 'broken')
    path = tmp_path / 'Fe.json'
    from ase.io import write

    write(path, bulk('Fe', 'bcc', a=2.87, cubic=True).repeat(4))
    missing = tmp_path / 'missing.cif'
    answers = model.classify([good, nan, str(path), str(missing), _big(bulk('Mg', 'hcp'))])
    assert len(answers) == 5
    assert answers[0]['label'] == 'fcc'
    assert set(answers[0]) == {'label', 'probabilities', 'uncertainty'}
    assert set(answers[0]['probabilities']) == set(model.classes)
    assert abs(sum(answers[0]['probabilities'].values()) - 1) < 1e-9
    assert 0 <= answers[0]['uncertainty'] < 0.05
    assert set(answers[1]) == {'error'} and 'broken' in answers[1]['error']
    assert answers[2]['label'] == 'bcc'
    assert set(answers[3]) == {'error'} and 'missing.cif' in answers[3]['error']
    assert answers[4]['label'] == 'unknown' and answers[4]['uncertainty'] < 0.5
    json.dumps(answers)  # plain Python types only


def test_paper_model_never_says_unknown(model):
    paper = Classifier.pretrained('pristine-4class')
    assert not paper.open_set
    [answer, melt] = paper.classify([_big(bulk('Mg', 'hcp')), amorphous(128, 0.08, seed=0)])
    assert answer['label'] in paper.classes
    assert melt['label'] == 'amorphous'
    assert paper.prototypes['bcc']['aflow'] == 'A_cI2_229_a'


def test_open_set_record_survives_save_and_load(model, tmp_path):
    path = model.save(tmp_path / 'copy.safetensors')
    again = Classifier.load(path)
    assert again.open_set == model.open_set
    assert again.prototypes == model.prototypes
    images = np.random.default_rng(0).random((3, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(again.output_probabilities(images), model.output_probabilities(images), atol=1e-6)


def test_decide_rejects_a_wrong_number_of_lattice_records(model):
    with pytest.raises(ValueError, match='one entry per image'):
        model.decide(np.zeros((2, 64, 64), np.float32), [True])


def test_a_model_file_with_the_wrong_output_count_is_refused(model, tmp_path):
    import json as _json

    from safetensors.torch import load_file, save_file

    path = model.save(tmp_path / 'm.safetensors')
    from aiida_crystalface.ml.classifier import _read_metadata

    metadata = _read_metadata(path)
    metadata.pop('open_set')  # five outputs but four classes and no 'other'
    save_file(load_file(str(path)), str(tmp_path / 'bad.safetensors'), metadata={'crystalface': _json.dumps(metadata)})
    with pytest.raises(ModelFileError, match=r'bad\.safetensors'):
        Classifier.load(tmp_path / 'bad.safetensors')
