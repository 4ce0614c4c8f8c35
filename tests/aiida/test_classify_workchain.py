"""ClassifyStructuresWorkChain: outputs per structure, provenance of every prediction, bad inputs, groups, caching."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node

from aiida_crystalface.data import FingerprintData
from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain


@pytest.fixture
def good_structures(generate_structure):
    pairs = [('fcc', 'Cu'), ('bcc', 'Fe'), ('diamond', 'Si'), ('sc', 'Po'), ('fcc', 'Al')]
    return {f'{label}_{species}': generate_structure(label, species) for label, species in pairs}


def _creator_inputs(node) -> dict:
    creator = node.base.links.get_incoming(link_type=LinkType.CREATE).one().node
    return creator, {t.link_label: t.node for t in creator.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()}


def test_every_prediction_links_to_fingerprint_structure_and_model(good_structures, model_node, model_file):
    from aiida_crystalface.core import fingerprint
    from aiida_crystalface.ml.classifier import Classifier

    results, node = run_get_node(
        ClassifyStructuresWorkChain, structures=good_structures, model=model_node, batch_size=orm.Int(2)
    )
    assert node.is_finished_ok, node.exit_message
    assert set(results['predictions']) == set(good_structures) == set(results['fingerprints'])
    assert results['model'].uuid == model_node.uuid
    classifier = Classifier.load(model_file)
    for key, structure in good_structures.items():
        prediction = results['predictions'][key]
        calc, inputs = _creator_inputs(prediction)
        assert calc.process_label == 'predict'
        assert inputs['model'].uuid == model_node.uuid
        fingerprint_node = inputs[key]
        assert isinstance(fingerprint_node, FingerprintData)
        assert fingerprint_node.uuid == results['fingerprints'][key].uuid
        calc, inputs = _creator_inputs(fingerprint_node)
        assert calc.process_label == 'compute_fingerprints'
        assert inputs[key].uuid == structure.uuid
        assert inputs['settings'].get_dict() == model_node.settings
        assert fingerprint_node.settings_hash == model_node.settings_hash
        # An independent path: the plain Python API on the same structure gives the same probabilities.
        expected = classifier.predict(fingerprint(structure)[None])[0]
        got = [prediction.probabilities[c] for c in classifier.classes]
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert prediction.predicted_class == classifier.classes[int(np.argmax(expected))]
    # Batches of two: three calcfunctions of each kind, called by the WorkChain.
    called = [c.process_label for c in node.called]
    assert called.count('compute_fingerprints') == 3 and called.count('predict') == 3


def test_bad_structures_are_reported_and_good_ones_classified(good_structures, bad_structures, model_node):
    structures = {**good_structures, **bad_structures}
    results, node = run_get_node(ClassifyStructuresWorkChain, structures=structures, model=model_node)
    assert node.exit_status == ClassifyStructuresWorkChain.exit_codes.ERROR_SOME_STRUCTURES_FAILED.status
    assert set(results['predictions']) == set(good_structures)
    assert all(p.is_stored for p in results['predictions'].values())
    failures = results['failures'].get_dict()
    assert set(failures) == set(bad_structures)
    assert 'empty' in failures['empty']
    assert 'overlap' in failures['overlapping_atoms']
    assert 'unknown element' in failures['unknown_element']
    for key in bad_structures:
        assert key in node.exit_message


def test_nan_coordinates_are_refused_before_anything_runs(good_structures, model_node):
    """AiiDA cannot store NaN, so a structure with NaN coordinates is refused, with a clear error, as an input."""
    from aiida.common.exceptions import ValidationError

    nan = orm.StructureData(cell=(np.eye(3) * 3.6).tolist())
    nan.append_atom(position=(float('nan'), 0.0, 0.0), symbols='Cu')
    with pytest.raises(ValidationError, match='nan'):
        run_get_node(ClassifyStructuresWorkChain, structures={**good_structures, 'nan': nan}, model=model_node)


def _count(cls) -> int:
    return orm.QueryBuilder().append(cls).count()


def test_wrong_inputs_fail_before_any_work(good_structures, model_node):
    """The spec refuses a node that is not a model, a model with unreadable settings, a bad batch size, a missing
    group and no structures at all: nothing is run, no process node is made."""
    processes = _count(orm.ProcessNode)
    broken = orm.load_node(model_node.pk).clone()
    broken.base.attributes.set('settings_hash', '0' * 16)
    cases = [
        ({'structures': good_structures, 'model': orm.Int(3)}, 'model'),
        ({'structures': good_structures, 'model': broken.store()}, 'settings_hash'),
        ({'structures': good_structures, 'model': model_node, 'batch_size': orm.Int(0)}, 'batch_size'),
        ({'group': orm.Str('no-such-group'), 'model': model_node}, 'no-such-group'),
        ({'model': model_node}, 'give structures or a group'),
    ]
    for inputs, message in cases:
        with pytest.raises(ValueError, match=message):
            run_get_node(ClassifyStructuresWorkChain, **inputs)
    assert _count(orm.ProcessNode) == processes


def test_group_input_and_chaining(good_structures, model_node):
    group = orm.Group(label='crystalface-test-group').store()
    group.add_nodes(list(good_structures.values()))
    results, node = run_get_node(ClassifyStructuresWorkChain, group=orm.Str(group.label), model=model_node)
    assert node.is_finished_ok, node.exit_message
    assert {f'structure_{s.pk}' for s in good_structures.values()} == set(results['predictions'])
    # Chaining: an output is an ordinary input of the next process.
    first = next(iter(good_structures))
    _again, node = run_get_node(
        ClassifyStructuresWorkChain, structures={first: good_structures[first]}, model=results['model']
    )
    assert node.is_finished_ok


def test_query_by_class_and_probability(good_structures, model_node):
    from aiida_crystalface import provenance

    results, _node = run_get_node(ClassifyStructuresWorkChain, structures=good_structures, model=model_node)
    predictions = results['predictions']
    label, best = max(((p.predicted_class, p.max_probability) for p in predictions.values()), key=lambda x: x[1])
    found = provenance.structures_by_class(label, min_probability=best - 1e-6, model=model_node)
    expected = {
        good_structures[k].uuid
        for k, p in predictions.items()
        if p.predicted_class == label and p.max_probability >= best - 1e-6
    }
    assert {s.uuid for s, _ in found} >= expected
    key = next(iter(predictions))
    behind = provenance.prediction_provenance(predictions[key])
    assert behind['model'].uuid == model_node.uuid
    assert behind['fingerprint'].uuid == results['fingerprints'][key].uuid
    assert behind['structure'].uuid == good_structures[key].uuid
    assert behind['settings'] == model_node.settings
    all_of_model = {p.uuid for p in provenance.predictions_of_model(model_node)}
    assert {p.uuid for p in predictions.values()} <= all_of_model


def test_caching_reuses_the_calcfunctions(good_structures, model_node):
    from aiida.manage.caching import enable_caching

    with enable_caching():
        first, node1 = run_get_node(ClassifyStructuresWorkChain, structures=good_structures, model=model_node)
        second, node2 = run_get_node(ClassifyStructuresWorkChain, structures=good_structures, model=model_node)
    assert node1.is_finished_ok and node2.is_finished_ok
    for calc in node2.called:
        assert calc.base.caching.is_created_from_cache, calc.process_label
        # The source is an earlier identical calcfunction (this run's first, or an earlier test's with equal inputs).
        source = orm.load_node(calc.base.caching.get_cache_source())
        assert source.process_label == calc.process_label
        assert source.base.caching.get_hash() == calc.base.caching.get_hash()
    for key, prediction in second['predictions'].items():
        assert prediction.uuid != first['predictions'][key].uuid
        assert prediction.probabilities == first['predictions'][key].probabilities


def test_default_model_is_the_bundled_one_stored_once(good_structures):
    from importlib.resources import files

    from aiida_crystalface.ml.classifier import PRETRAINED_DEFAULT

    bundled = files('aiida_crystalface.ml').joinpath('pretrained', PRETRAINED_DEFAULT, 'model.safetensors')
    first, node = run_get_node(ClassifyStructuresWorkChain, structures=good_structures)
    if not bundled.is_file():
        assert node.exit_status == ClassifyStructuresWorkChain.exit_codes.ERROR_NO_MODEL.status
        assert PRETRAINED_DEFAULT in node.exit_message
        return
    assert node.is_finished_ok, node.exit_message
    second, _ = run_get_node(ClassifyStructuresWorkChain, structures=good_structures)
    assert first['model'].uuid == second['model'].uuid


def test_large_run_path_keeps_the_provenance_without_returning_outputs(good_structures, bad_structures, model_node):
    """A group in and return_outputs=False: no link per structure on the WorkChain, every per-structure link of the
    calcfunctions still there, the same results as the default path, found through provenance.classification_results.
    """
    from aiida_crystalface import provenance

    group = orm.Group(label='crystalface-test-large-run').store()
    group.add_nodes([*good_structures.values(), *bad_structures.values()])
    results, node = run_get_node(
        ClassifyStructuresWorkChain,
        group=orm.Str(group.label),
        model=model_node,
        batch_size=orm.Int(3),
        return_outputs=orm.Bool(False),
    )
    assert node.exit_status == ClassifyStructuresWorkChain.exit_codes.ERROR_SOME_STRUCTURES_FAILED.status
    assert 'predictions' not in results and 'fingerprints' not in results
    assert set(results['failures'].get_dict()) == {f'structure_{s.pk}' for s in bad_structures.values()}
    assert set(node.base.links.get_outgoing(link_type=LinkType.RETURN).all_link_labels()) == {'failures', 'model'}
    assert {t.link_label for t in node.base.links.get_incoming(link_type=LinkType.INPUT_WORK).all()} == {
        'group',
        'model',
        'batch_size',
        'return_outputs',
    }
    found = provenance.classification_results(node)
    assert set(found) == {f'structure_{s.pk}' for s in good_structures.values()}
    default, _ = run_get_node(ClassifyStructuresWorkChain, structures=good_structures, model=model_node)
    for key, structure in good_structures.items():
        entry = found[f'structure_{structure.pk}']
        assert entry['structure'].uuid == structure.uuid
        # The links themselves, read back node by node: structure -> compute_fingerprints -> fingerprint -> predict.
        calc, inputs = _creator_inputs(entry['fingerprint'])
        assert (
            calc.process_label == 'compute_fingerprints' and inputs[f'structure_{structure.pk}'].uuid == structure.uuid
        )
        calc, inputs = _creator_inputs(entry['prediction'])
        assert calc.process_label == 'predict' and inputs['model'].uuid == model_node.uuid
        assert inputs[f'structure_{structure.pk}'].uuid == entry['fingerprint'].uuid
        assert calc.caller.uuid == node.uuid
        np.testing.assert_allclose(entry['fingerprint'].image, default['fingerprints'][key].image)
        assert entry['prediction'].probabilities == pytest.approx(default['predictions'][key].probabilities, abs=1e-6)
        behind = provenance.prediction_provenance(entry['prediction'])
        assert behind['structure'].uuid == structure.uuid
