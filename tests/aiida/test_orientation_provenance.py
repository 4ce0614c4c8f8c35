"""The orientation step in AiiDA: the lattice score on every fingerprint, and no class where no lattice is found."""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_crystalface.calculations.utils import structure_data
from aiida_crystalface.core.presentations import amorphous, defective_presentations
from aiida_crystalface.data import FingerprintData
from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain


def test_lattice_attributes_and_amorphous_without_a_lattice(aiida_profile_clean, model_node):
    presentations = defective_presentations('Cu', 'fcc', 3, 0.3, 0.05, seed=4)
    structures = {
        'conventional': structure_data(presentations['a']).store(),
        'primitive_rotated': structure_data(presentations['c-b']).store(),
        'amorphous': structure_data(amorphous(128, 0.07, seed=1)).store(),
    }
    results, node = run_get_node(ClassifyStructuresWorkChain, structures=structures, model=model_node)
    assert node.is_finished_ok, node.exit_message
    fingerprints = results['fingerprints']
    # Every structure has its fingerprint, with what the orientation step found in its attributes.
    assert set(fingerprints) == set(structures)
    for key in ('conventional', 'primitive_rotated'):
        assert fingerprints[key].lattice_found is True
        assert 0.5 < fingerprints[key].lattice_score < 1.0
        assert fingerprints[key].base.attributes.get('lattice')['sites_per_lattice_point'] == 1
    # The same crystal in two cells and orientations: the same score.
    assert fingerprints['conventional'].lattice_score == pytest.approx(fingerprints['primitive_rotated'].lattice_score)
    amorphous_fingerprint = fingerprints['amorphous']
    assert amorphous_fingerprint.lattice_found is False and amorphous_fingerprint.lattice_score == 0.0
    # No crystal class for the amorphous structure: a classification node that says 'amorphous', not a failure.
    assert set(results['predictions']) == set(structures)
    assert 'failures' not in results
    assert results['predictions']['amorphous'].predicted_class == 'amorphous'
    assert results['predictions']['amorphous'].uncertainty == 0.0
    assert results['predictions']['conventional'].predicted_class in ('fcc', 'diamond', 'bcc', 'sc', 'unknown')
    query = orm.QueryBuilder().append(orm.Data, filters={'attributes.predicted_class': 'amorphous'}, project='uuid')
    assert query.all(flat=True) == [results['predictions']['amorphous'].uuid]
    # QueryBuilder finds the fingerprints with no lattice by their attribute.
    query = orm.QueryBuilder().append(FingerprintData, filters={'attributes.lattice_found': False}, project='uuid')
    assert query.all(flat=True) == [amorphous_fingerprint.uuid]
    # The recipe of docs/queries.md: the structures with no lattice, through the link labels.
    qb = orm.QueryBuilder()
    qb.append(FingerprintData, tag='fingerprint', filters={'attributes.lattice_found': False})
    qb.append(orm.CalcFunctionNode, with_outgoing='fingerprint', tag='calc', edge_project='label', edge_tag='out')
    qb.append(orm.StructureData, with_outgoing='calc', tag='structure', project='*', edge_project='label',
              edge_tag='in')  # fmt: skip
    no_lattice = [row['structure']['*'] for row in qb.iterdict() if row['out']['label'] == row['in']['label']]
    assert [s.uuid for s in no_lattice] == [structures['amorphous'].uuid]
