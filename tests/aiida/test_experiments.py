"""Experiment WorkChains: a short bcc -> sc series and a short Lindemann series, summarised per step."""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_crystalface.workflows.experiments import BccToScWorkChain, LindemannWorkChain


def test_bcc_to_sc_series(model_node):
    inputs = {
        'levels': orm.List([0.0, 1.0]),
        'samples': orm.Int(2),
        'supercell_atoms': orm.Int(16),
        'classify': {'model': model_node},
    }
    results, node = run_get_node(BccToScWorkChain, **inputs)
    assert node.is_finished_ok, node.exit_message
    summary = results['summary'].get_dict()
    assert summary['levels'] == [0.0, 1.0]
    assert summary['n'] == [2, 2]
    assert set(summary['mean']) == set(model_node.classes)
    for step in range(2):
        assert sum(summary['mean'][c][step] for c in summary['classes']) == pytest.approx(1.0, abs=1e-4)
        assert sum(summary['fraction'][c][step] for c in summary['classes']) == pytest.approx(1.0)
    # Step 0 keeps every atom, step 1 removes every body centre: 16 -> 8 atoms in each sample.
    predictions = results['classification']['predictions']
    assert len(predictions) == 4
    from aiida_crystalface import provenance

    sizes = {key: len(provenance.prediction_provenance(p)['structure'].sites) for key, p in predictions.items()}
    assert sizes == {'step_0_sample_0': 16, 'step_0_sample_1': 16, 'step_1_sample_0': 8, 'step_1_sample_1': 8}


def test_lindemann_series_is_seeded(model_node):
    inputs = {
        'levels': orm.List([0.0, 0.2]),
        'samples': orm.Int(2),
        'supercell_atoms': orm.Int(16),
        'seed': orm.Int(5),
        'classify': {'model': model_node},
    }
    first, node = run_get_node(LindemannWorkChain, **inputs)
    assert node.is_finished_ok, node.exit_message
    second, _ = run_get_node(LindemannWorkChain, **inputs)
    assert first['summary'].get_dict() == second['summary'].get_dict()
    assert first['summary']['std'][model_node.classes[0]][0] == pytest.approx(0.0, abs=1e-6)


def test_molten_samples_have_no_lattice_and_no_class(model_node):
    """At a Lindemann parameter of 0.5 the crystal has melted as far as its diffraction can tell: no lattice is found,
    the answer is 'amorphous' (a classification node, not a failure), and the series reports the share."""
    inputs = {
        'levels': orm.List([0.0, 0.5]),
        'samples': orm.Int(3),
        'supercell_atoms': orm.Int(128),
        'classify': {'model': model_node},
    }
    results, node = run_get_node(LindemannWorkChain, **inputs)
    assert node.is_finished_ok, node.exit_message
    summary = results['summary'].get_dict()
    assert summary['n'] == [3, 3]
    assert summary['no_lattice'] == [0.0, 1.0]
    assert all(summary['mean'][c][1] is None for c in summary['classes'])
    assert all(summary['fraction'][c][1] == 0.0 for c in summary['classes'])
    assert 'failures' not in results['classification']
    from aiida_crystalface.data.classification import ClassificationData

    labels = [
        output.predicted_class
        for process in node.called_descendants
        if isinstance(process, orm.CalcFunctionNode)
        for output in process.base.links.get_outgoing().all_nodes()
        if isinstance(output, ClassificationData)
    ]
    assert labels.count('amorphous') == 3
