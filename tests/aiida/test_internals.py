"""The internals module: on or off, the same graph; the switch and the version check decide which code runs."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node
from aiida.engine.processes.process import Process

from aiida_crystalface import _internals
from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain


@pytest.fixture
def structures(generate_structure, bad_structures):
    pairs = [('fcc', 'Cu'), ('bcc', 'Fe'), ('diamond', 'Si'), ('sc', 'Po'), ('fcc', 'Al')]
    good = {f'{label}_{species}': generate_structure(label, species) for label, species in pairs}
    return {**good, 'empty': bad_structures['empty']}


def _links(node: orm.Node, incoming: bool) -> list[tuple]:
    """(link type, label, hash of the node at the other end) of every link, sorted."""
    manager = node.base.links.get_incoming() if incoming else node.base.links.get_outgoing()
    return sorted((t.link_type.value, t.link_label, t.node.base.caching.get_hash()) for t in manager.all())


def _graph(workchain: orm.WorkflowNode) -> dict:
    """The WorkChain's graph by content: every called calcfunction with its links, every output's content and hash."""
    graph = {'workchain': _links(workchain, incoming=False), 'calls': {}}
    for triple in workchain.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all():
        calc = orm.load_node(triple.node.pk)
        outputs = {}
        for out in calc.base.links.get_outgoing(link_type=LinkType.CREATE).all():
            node = orm.load_node(out.node.pk)
            assert node.base.caching.compute_hash() == node.base.caching.get_hash()  # hashed again, from the database
            files = {
                name: node.base.repository.get_object_content(name, mode='rb')
                for name in node.base.repository.list_object_names()
            }
            outputs[out.link_label] = (node.base.attributes.all, files, node.base.caching.get_hash())
        graph['calls'][triple.link_label] = {
            'process_label': calc.process_label,
            'exit_status': calc.exit_status,
            'inputs': _links(calc, incoming=True),
            'outputs': outputs,
            'hash': calc.base.caching.get_hash(),
        }
        assert calc.base.caching.compute_hash() == calc.base.caching.get_hash()
    return graph


def test_on_and_off_give_the_same_graph(structures, model_node, monkeypatch):
    calls = []
    method = _internals.REPLACED_METHODS[0]  # the input links
    original = getattr(Process, method)

    def spy(self):
        calls.append(self.node.process_label)
        original(self)

    monkeypatch.setattr(Process, method, spy)
    graphs = {}
    for value in (True, False):
        calls.clear()
        with _internals.enabled(value):
            assert _internals.active() is value
            _, node = run_get_node(
                ClassifyStructuresWorkChain, structures=structures, model=model_node, batch_size=orm.Int(2)
            )
        assert node.exit_status == ClassifyStructuresWorkChain.exit_codes.ERROR_SOME_STRUCTURES_FAILED.status
        graphs[value] = _graph(node)
        # On: the calcfunctions link their inputs in one pass (aiida-core's method runs for the WorkChain alone).
        labels = set(calls)
        assert labels == (
            {'ClassifyStructuresWorkChain'}
            if value
            else {'ClassifyStructuresWorkChain', 'compute_fingerprints', 'predict'}
        )
    on, off = graphs[True], graphs[False]
    assert set(on['calls']) == {
        'fingerprints_00000',
        'fingerprints_00001',
        'fingerprints_00002',
        'predictions_00000',
        'predictions_00001',
        'predictions_00002',
    }
    for label in on['calls']:
        assert on['calls'][label] == off['calls'][label], label
    assert on['workchain'] == off['workchain']


def test_the_switch_and_the_version_check(monkeypatch):
    monkeypatch.delenv(_internals.ENV_VAR, raising=False)
    assert _internals.is_enabled()
    for text, expected in (('0', False), ('off', False), ('False', False), ('1', True), ('yes', True)):
        monkeypatch.setenv(_internals.ENV_VAR, text)
        assert _internals.is_enabled() is expected, text
    monkeypatch.setenv(_internals.ENV_VAR, '0')
    _internals.set_enabled(True)  # the function wins over the environment
    try:
        assert _internals.is_enabled()
        with _internals.enabled(False):
            assert not _internals.active()
        assert _internals.is_enabled()
    finally:
        _internals.set_enabled(None)
    assert not _internals.is_enabled()
    monkeypatch.delenv(_internals.ENV_VAR)
    assert _internals.active() is _internals._COMPATIBLE
    monkeypatch.setattr(_internals, '_COMPATIBLE', False)  # an aiida-core outside the tested range
    assert _internals.is_enabled() and not _internals.active()
    assert _internals._version('2.6.4') == (2, 6) and _internals._version('2.10.0rc1') == (2, 10)


def test_this_aiida_core_is_a_tested_one():
    """CI runs the oldest and newest aiida-core that pyproject.toml admits; both must pass the version check."""
    from aiida import __version__

    low, high = _internals.TESTED
    assert low <= _internals._version(__version__) <= high
    assert _internals._COMPATIBLE


def test_batched_links_refuses_what_is_not_a_process_function():
    with pytest.raises(TypeError, match='not a process function'):
        _internals.batched_links(lambda: None)


def test_batched_outputs_have_one_create_link_each(generate_structure):
    """Called on its own (no transaction around it), a batch stores every output with its CREATE link."""
    from aiida_crystalface.calculations.functions.compute_fingerprints import compute_fingerprints
    from aiida_crystalface.core.diffraction import FingerprintSettings

    structures = {'cu': generate_structure('fcc', 'Cu'), 'fe': generate_structure('bcc', 'Fe')}
    settings = orm.Dict(FingerprintSettings().to_dict()).store()
    result, calc = compute_fingerprints.run_get_node(settings=settings, **structures)
    assert calc.is_finished_ok, calc.exit_message
    assert sorted(calc.base.links.get_outgoing(link_type=LinkType.CREATE).all_link_labels()) == ['cu', 'fe']
    for key, fingerprint in result.items():
        incoming = orm.load_node(fingerprint.pk).base.links.get_incoming().all()
        assert [(t.link_type, t.link_label, t.node.pk) for t in incoming] == [(LinkType.CREATE, key, calc.pk)]
        np.testing.assert_array_equal(orm.load_node(fingerprint.pk).image, fingerprint.image)


def test_structure_data_is_what_append_atom_makes(aiida_profile):
    from aiida_crystalface.calculations.utils import structure_data
    from aiida_crystalface.core.cluster import replicate
    from aiida_crystalface.core.prototypes import prototype

    atomic = replicate(prototype('Cu', 'fcc'), 32)
    fast = structure_data(atomic).store()
    plain = orm.StructureData(cell=atomic.cell.tolist())
    for position in atomic.positions:
        plain.append_atom(position=position.tolist(), symbols='Cu')
    plain.label = fast.label
    plain.store()
    assert fast.base.attributes.all == plain.base.attributes.all
    assert fast.base.caching.get_hash() == plain.base.caching.get_hash()
