"""Batches that survive: a batch run again keeps what it made; a calcfunction that raises stays in the graph."""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import WorkChain, run_get_node

from aiida_crystalface.calculations.functions.compute_fingerprints import compute_fingerprints
from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain
from aiida_crystalface.workflows.utils import batch_label, run_batch


class BatchTwiceWorkChain(WorkChain):
    """Runs the batch ``fingerprints_00000`` on ``first`` names, then again on every name: a restarted step."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace('structures', valid_type=orm.StructureData, dynamic=True)
        spec.input('settings', valid_type=orm.Dict)
        spec.input('first', valid_type=orm.List)
        spec.outline(cls.run_twice)

    def run_twice(self):
        label = batch_label('fingerprints', 0)
        structures = dict(self.inputs.structures)
        first = {name: structures[name] for name in self.inputs.first.get_list()}
        made = run_batch(self, compute_fingerprints, label, first, settings=self.inputs.settings)
        again = run_batch(self, compute_fingerprints, label, structures, settings=self.inputs.settings)
        self.node.base.extras.set_many(
            {
                'first': {k: n.pk for k, n in made.outputs.items()},
                'again': {k: n.pk for k, n in again.outputs.items()},
                'reused': again.reused,
            }
        )


@pytest.fixture
def four_structures(generate_structure):
    pairs = [('fcc', 'Cu'), ('bcc', 'Fe'), ('diamond', 'Si'), ('sc', 'Po')]
    return {f'a{i}': generate_structure(label, species) for i, (label, species) in enumerate(pairs)}


def _fingerprints_per_structure(workchain: orm.WorkflowNode) -> dict[str, int]:
    """Input name -> how many fingerprints the calcfunctions of ``workchain`` made for it."""
    counts: dict[str, int] = {}
    for calc in workchain.called:
        for label in calc.base.links.get_outgoing(link_type=LinkType.CREATE).all_link_labels():
            if label != 'failures':
                counts[label] = counts.get(label, 0) + 1
    return counts


def test_a_batch_run_again_keeps_what_it_made(four_structures):
    from aiida_crystalface.core.diffraction import FingerprintSettings

    settings = orm.Dict(FingerprintSettings().to_dict()).store()
    _, node = run_get_node(
        BatchTwiceWorkChain, structures=four_structures, settings=settings, first=orm.List(['a0', 'a1'])
    )
    assert node.is_finished_ok, node.exit_message
    extras = node.base.extras.all
    assert extras['reused'] == 2
    assert set(extras['again']) == set(four_structures)
    assert {k: extras['again'][k] for k in extras['first']} == extras['first']  # the same nodes, not new ones
    # The second try called compute_fingerprints on the two structures left, under the same label.
    calls = node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
    assert [t.link_label for t in calls] == [batch_label('fingerprints', 0)] * 2
    assert sorted(len(t.node.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()) for t in calls) == [3, 3]
    assert _fingerprints_per_structure(node) == dict.fromkeys(four_structures, 1)


def test_a_calcfunction_that_raises_stays_in_the_graph(four_structures, model_node, monkeypatch):
    """Batch 2 of 3 raises: its EXCEPTED node keeps the traceback, the WorkChain names the batch in its exit code and
    returns the results of batches 0 and 1."""
    from aiida_crystalface.core import diffraction

    original = diffraction.fingerprint_batch

    def poisoned(atomics, settings):
        if any(atomic.label.startswith('poison') for atomic in atomics):
            raise RuntimeError('a bug in the fingerprint kernel')
        return original(atomics, settings)

    monkeypatch.setattr(diffraction, 'fingerprint_batch', poisoned)
    structures = {**four_structures, 'poison': four_structures['a0']}
    results, node = run_get_node(
        ClassifyStructuresWorkChain, structures=structures, model=model_node, batch_size=orm.Int(2)
    )
    assert node.exit_status == ClassifyStructuresWorkChain.exit_codes.ERROR_BATCH_EXCEPTED.status
    assert 'Batch 2 of 3 (fingerprints_00002)' in node.exit_message
    assert 'a bug in the fingerprint kernel' in node.exit_message
    excepted = [c for c in node.called if c.is_excepted]
    assert len(excepted) == 1
    assert excepted[0].process_label == 'compute_fingerprints'
    assert 'RuntimeError: a bug in the fingerprint kernel' in excepted[0].exception
    # The traceback is in the node's log (what `verdi process report` shows).
    messages = [log.message for log in orm.Log.collection.get_logs_for(excepted[0])]
    assert any('Traceback' in m and 'in poisoned' in m for m in messages), messages
    assert excepted[0].base.links.get_outgoing(link_type=LinkType.CREATE).all() == []
    # The good batches are kept, stored and returned.
    assert set(results['predictions']) == set(four_structures) == set(results['fingerprints'])
    assert all(p.is_stored for p in results['predictions'].values())
    assert sum(c.is_finished_ok for c in node.called) == 4
