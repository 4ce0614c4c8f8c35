"""Per-atom classification in AiiDA: the LocalClassificationData node, its calcfunctions, ClassifyAtomsWorkChain and
the query helper."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node, while_

from aiida_crystalface.calculations.functions.classify_atoms import classify_atoms
from aiida_crystalface.calculations.functions.classify_trajectory import classify_trajectory
from aiida_crystalface.data import LocalClassificationData
from aiida_crystalface.workflows.local import ClassifyAtomsWorkChain
from aiida_crystalface.workflows.utils import batch_label

CLASSES = ['fcc', 'diamond', 'bcc', 'sc']
FE, AU = 26, 79


# --- A test double of Classifier.classify_atoms ---------------------------------------------------------------------
# The AiiDA plumbing (links, batches, idempotency, failures) is tested with a classifier whose answers the tests know
# in advance and that can be made to raise; the tests that rely on its rules (which atoms are 'bcc', that gold raises)
# say ``uses_fake_rules`` in their docstrings. The real classifier and the bundled model are tested end to end at the
# end of this file (``test_the_real_classifier_...``).
@pytest.fixture
def fake_classify_atoms(monkeypatch):
    """Patch ``Classifier.classify_atoms`` with a fake that returns its contract; returns the atom count per call.

    Rules: an iron atom is 'bcc', every other atom 'fcc' (probability 0.85 for the label, the rest shared); a
    structure with a gold atom raises ``RuntimeError`` (a bug, not a bad input); a structure that
    ``to_atomic_structure`` cannot read raises its ``StructureError`` (a bad input).
    """
    from aiida_crystalface.core.structures import to_atomic_structure
    from aiida_crystalface.ml.classifier import Classifier

    calls: list[int] = []

    def fake(self, structure, **options):
        numbers = np.asarray(to_atomic_structure(structure).numbers)
        if AU in numbers:
            raise RuntimeError('a bug in the per-atom kernel')
        labels = ['bcc' if z == FE else 'fcc' for z in numbers]
        probabilities = np.full((len(labels), len(self.classes)), 0.15 / (len(self.classes) - 1))
        for row, label in enumerate(labels):
            probabilities[row, self.classes.index(label)] = 0.85
        calls.append(len(labels))
        return {
            'labels': labels,
            'probabilities': probabilities,
            'uncertainty': np.full(len(labels), 0.1),
            'settings': {'window': 12.0, 'stride': 2.0, 'seed': 0, **options},
        }

    monkeypatch.setattr(Classifier, 'classify_atoms', fake, raising=False)
    return calls


# --------------------------------------------------------------------------------------------------------------------


def _cubic(symbols: list[str], a: float = 3.6) -> orm.StructureData:
    """A stored fcc cell (4 sites) with the given species on its sites."""
    node = orm.StructureData(cell=(np.eye(3) * a).tolist())
    sites = [(0.0, 0.0, 0.0), (0.0, 0.5, 0.5), (0.5, 0.0, 0.5), (0.5, 0.5, 0.0)]
    for symbol, site in zip(symbols, sites, strict=True):
        node.append_atom(position=tuple(a * x for x in site), symbols=symbol)
    return node.store()


@pytest.fixture
def five_structures(aiida_profile):
    """Five structures whose fractions of iron (the fake's 'bcc') are 0, 0.25, 0.5, 1 and 0."""
    return {
        'cu': _cubic(['Cu'] * 4),
        'cu3fe': _cubic(['Cu', 'Cu', 'Cu', 'Fe']),
        'cufe': _cubic(['Cu', 'Cu', 'Fe', 'Fe']),
        'fe': _cubic(['Fe'] * 4),
        'ni': _cubic(['Ni'] * 4),
    }


def _result(labels: list[str]) -> dict:
    rng = np.random.default_rng(len(labels))
    probabilities = rng.dirichlet(np.ones(len(CLASSES)), size=len(labels))
    return {'labels': labels, 'probabilities': probabilities, 'uncertainty': rng.random(len(labels))}


def _trajectory(frames: int = 4, atoms: int = 4, symbols: list[str] | None = None) -> orm.TrajectoryData:
    rng = np.random.default_rng(0)
    positions = rng.random((frames, atoms, 3)) * 3.6
    cells = np.repeat((np.eye(3) * 3.6)[None], frames, axis=0)
    node = orm.TrajectoryData()
    # aiida-core 2.7 added ``pbc`` (and asks for it with cells); 2.6 has none: every frame is periodic there.
    pbc = {'pbc': (True, True, True)} if 'pbc' in inspect.signature(node.set_trajectory).parameters else {}
    node.set_trajectory(symbols or ['Cu'] * (atoms - 1) + ['Fe'], positions, cells=cells, **pbc)
    return node.store()


# --- The node ---------------------------------------------------------------------------------------------------------


def test_local_node_round_trips_its_arrays(aiida_profile):
    given = _result(['fcc', 'bcc', 'unknown', 'fcc', 'amorphous'])
    settings = {'window': 12.0, 'stride': np.float64(2.0), 'seed': np.int64(3), 'shape': (1, 2)}
    node = LocalClassificationData(**given, classes=CLASSES, settings=settings, frame=7).store()
    loaded = orm.load_node(node.pk)
    assert isinstance(loaded, LocalClassificationData)
    assert loaded.labels == given['labels']
    assert loaded.probabilities.dtype == np.float32 and loaded.probabilities.shape == (5, 4)
    np.testing.assert_allclose(loaded.probabilities, given['probabilities'], rtol=1e-6)
    assert loaded.uncertainty.dtype == np.float32
    np.testing.assert_allclose(loaded.uncertainty, given['uncertainty'], rtol=1e-6)
    assert loaded.classes == CLASSES and loaded.n_atoms == 5 and loaded.frame == 7
    assert loaded.settings == {'window': 12.0, 'stride': 2.0, 'seed': 3, 'shape': [1, 2]}
    # The files are plain .npy (no pickle): the labels are integer codes into labels_order.
    import io

    codes = np.load(io.BytesIO(loaded.base.repository.get_object_content('labels.npy', mode='rb')), allow_pickle=False)
    assert codes.dtype.kind == 'i'
    assert [loaded.labels_order[c] for c in codes] == given['labels']
    assert sorted(loaded.base.repository.list_object_names()) == ['labels.npy', 'probabilities.npy', 'uncertainty.npy']


def test_fractions_are_counts_over_atoms_and_count_the_stored_labels(aiida_profile):
    labels = ['bcc'] * 3 + ['fcc'] * 5 + ['unknown'] * 2
    node = LocalClassificationData(**_result(labels), classes=CLASSES).store()
    loaded = orm.load_node(node.pk)
    assert set(loaded.fractions) == set(loaded.counts) == {*CLASSES, 'unknown', 'amorphous'}
    assert loaded.counts == {'fcc': 5, 'diamond': 0, 'bcc': 3, 'sc': 0, 'unknown': 2, 'amorphous': 0}
    stored = loaded.labels
    for label, count in loaded.counts.items():
        assert stored.count(label) == count
        assert loaded.fractions[label] == pytest.approx(count / loaded.n_atoms)
    assert sum(loaded.fractions.values()) == pytest.approx(1.0)
    assert loaded.frame is None


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'labels': ['fcc', 'hcp', 'fcc']}, r"\['hcp'\] not among the classes"),
        ({'labels': ['fcc', 'fcc']}, r'probabilities: expected shape \(2, 4\)'),
        ({'uncertainty': np.zeros(2)}, r'uncertainty: expected shape \(3,\)'),
        ({'probabilities': np.full((3, 4), np.nan)}, 'finite and in'),
        ({'probabilities': np.full((3, 4), 1.5)}, r'in \[0, 1\]'),
        ({'probabilities': np.full((3, 4), -0.5)}, r'in \[0, 1\]'),
        ({'uncertainty': np.array([0.1, np.inf, 0.2])}, 'uncertainty: values must be finite'),
        ({'classes': ['fcc', 'unknown', 'bcc', 'sc']}, 'classes: distinct class names'),
        ({'labels': []}, 'no atoms'),
    ],
)
def test_local_node_refuses_inconsistent_results(aiida_profile, change, message):
    arguments = {**_result(['fcc', 'bcc', 'fcc']), 'classes': CLASSES, **change}
    with pytest.raises(ValueError, match=message):
        LocalClassificationData(**arguments)


def test_local_node_needs_a_result_to_be_stored(aiida_profile):
    with pytest.raises(ValueError, match='no result set'):
        LocalClassificationData().store()


def test_local_node_label_is_the_users(aiida_profile):
    node = LocalClassificationData(**_result(['fcc', 'bcc']), classes=CLASSES)
    node.label = 'grain boundary, frame 3'
    node.store()
    assert orm.load_node(node.pk).label == 'grain boundary, frame 3'
    node.label = 'renamed'
    assert orm.load_node(node.pk).label == 'renamed'
    assert orm.load_node(node.pk).labels == ['fcc', 'bcc']


def test_a_query_on_the_bcc_fraction_finds_exactly_the_right_nodes(aiida_profile_clean):
    """Every label is in ``fractions`` (0.0 where absent): the filter needs no existence test."""
    shares = {'none': 0, 'one_in_ten': 1, 'two_in_ten': 2, 'three_in_ten': 3, 'all': 10}
    nodes = {
        name: LocalClassificationData(**_result(['bcc'] * n + ['fcc'] * (10 - n)), classes=CLASSES).store()
        for name, n in shares.items()
    }
    nodes['unknown_only'] = LocalClassificationData(**_result(['unknown'] * 4), classes=CLASSES).store()
    builder = orm.QueryBuilder().append(
        LocalClassificationData, filters={'attributes.fractions.bcc': {'>': 0.2}}, project='id'
    )
    assert sorted(builder.all(flat=True)) == sorted(nodes[name].pk for name in ('three_in_ten', 'all'))
    builder = orm.QueryBuilder().append(
        LocalClassificationData, filters={'attributes.counts.unknown': {'>=': 1}}, project='id'
    )
    assert builder.all(flat=True) == [nodes['unknown_only'].pk]


# --- The calcfunctions ----------------------------------------------------------------------------------------------


def test_the_calcfunction_links_every_result_to_its_structure_and_the_model(
    five_structures, model_node, fake_classify_atoms
):
    """uses_fake_rules: iron atoms are 'bcc'."""
    options = orm.Dict({'window': 10.0})
    results, calc = classify_atoms.run_get_node(model=model_node, options=options, **five_structures)
    assert calc.is_finished_ok, calc.exit_message
    assert set(results) == set(five_structures)
    assert fake_classify_atoms == [4] * 5
    # Inputs of the calcfunction: every structure under its name, the model and the options.
    inputs = {t.link_label: t.node.pk for t in calc.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()}
    assert inputs == {**{k: s.pk for k, s in five_structures.items()}, 'model': model_node.pk, 'options': options.pk}
    # From the graph: each result's creator has the structure of the same name and the model as inputs.
    for key, structure in five_structures.items():
        builder = orm.QueryBuilder()
        builder.append(LocalClassificationData, filters={'id': results[key].pk}, tag='local')
        builder.append(
            orm.CalcFunctionNode, with_outgoing='local', edge_filters={'label': key}, tag='calc', project='id'
        )
        builder.append(orm.StructureData, with_outgoing='calc', edge_filters={'label': key}, project='id')
        assert builder.all() == [[calc.pk, structure.pk]]
        builder = orm.QueryBuilder()
        builder.append(LocalClassificationData, filters={'id': results[key].pk}, tag='local')
        builder.append(orm.CalcFunctionNode, with_outgoing='local', tag='calc')
        builder.append(orm.Data, with_outgoing='calc', edge_filters={'label': 'model'}, project='uuid')
        assert builder.all(flat=True) == [model_node.uuid]
    assert results['cu3fe'].fractions['bcc'] == pytest.approx(0.25)
    assert results['cu3fe'].settings == {'window': 10.0, 'stride': 2.0, 'seed': 0}
    assert results['cu'].classes == model_node.classes


def test_a_bad_structure_costs_only_its_own_result(five_structures, bad_structures, model_node, fake_classify_atoms):
    """An unknown element (refused when read) and an empty structure (no atoms to label) fail alone; the others are
    classified and returned, and the exit message names the two."""
    bad = {key: bad_structures[key] for key in ('empty', 'unknown_element')}
    results, node = run_get_node(ClassifyAtomsWorkChain, structures={**five_structures, **bad}, model=model_node)
    assert node.exit_status == ClassifyAtomsWorkChain.exit_codes.ERROR_SOME_STRUCTURES_FAILED.status
    assert set(results['classifications']) == set(five_structures)
    failures = results['failures'].get_dict()
    assert set(failures) == set(bad)
    for key in bad:
        assert key in node.exit_message
    assert 'unknown element' in failures['unknown_element']
    assert f'StructureData<{bad["empty"].pk}>' in failures['empty']


def test_nothing_classified_is_its_own_exit_code(bad_structures, model_node, fake_classify_atoms):
    structures = {key: bad_structures[key] for key in ('empty', 'unknown_element')}
    results, node = run_get_node(ClassifyAtomsWorkChain, structures=structures, model=model_node)
    assert node.exit_status == ClassifyAtomsWorkChain.exit_codes.ERROR_ALL_FAILED.status
    assert 'classifications' not in results and 'summary' not in results
    assert set(results['failures'].get_dict()) == set(structures)


def test_classify_trajectory_gives_one_node_per_frame_of_its_range(model_node, fake_classify_atoms):
    trajectory = _trajectory(frames=6)
    results, calc = classify_trajectory.run_get_node(
        trajectory=trajectory, model=model_node, start=orm.Int(2), stop=orm.Int(5)
    )
    assert calc.is_finished_ok, calc.exit_message
    assert sorted(results) == ['frame_00002', 'frame_00003', 'frame_00004']
    assert [results[k].frame for k in sorted(results)] == [2, 3, 4]
    inputs = {t.link_label: t.node for t in calc.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()}
    assert inputs['trajectory'].uuid == trajectory.uuid and inputs['model'].uuid == model_node.uuid
    assert (inputs['start'].value, inputs['stop'].value) == (2, 5)


# --- The WorkChain ----------------------------------------------------------------------------------------------------


def test_five_structures_in_two_batches_give_one_node_each(five_structures, model_node, fake_classify_atoms):
    """uses_fake_rules: iron atoms are 'bcc'."""
    from aiida_crystalface.provenance import local_results

    results, node = run_get_node(
        ClassifyAtomsWorkChain, structures=five_structures, model=model_node, batch_size=orm.Int(3)
    )
    assert node.is_finished_ok, node.exit_message
    assert set(results['classifications']) == set(five_structures)
    assert results['model'].uuid == model_node.uuid
    calls = node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
    labels = sorted(t.link_label for t in calls if t.node.process_label == 'classify_atoms')
    assert labels == [batch_label('atoms', 0), batch_label('atoms', 1)]
    summary = results['summary'].get_dict()
    assert summary['names'] == sorted(five_structures)
    assert summary['fractions']['bcc'] == [0.0, 0.25, 0.5, 1.0, 0.0]  # cu, cu3fe, cufe, fe, ni
    assert summary['totals'] == {
        'n_atoms': 20,
        'counts': {'fcc': 13, 'diamond': 0, 'bcc': 7, 'sc': 0, 'unknown': 0, 'amorphous': 0},
        'fractions': {'fcc': 0.65, 'diamond': 0.0, 'bcc': 0.35, 'sc': 0.0, 'unknown': 0.0, 'amorphous': 0.0},
    }
    # The query helper: the nodes of more than 20 % bcc, each with its structure.
    found = {(source.pk, local.pk) for source, local in local_results('bcc', 0.2, model=model_node)}
    mine = {(five_structures[k].pk, results['classifications'][k].pk) for k in ('cu3fe', 'cufe', 'fe')}
    assert mine <= found
    ours = {local.pk for local in results['classifications'].values()}
    assert {pair for pair in found if pair[1] in ours} == mine


class RerunBatchWorkChain(ClassifyAtomsWorkChain):
    """Runs every batch step twice (a restarted worker), after an interrupted try that made only the first item."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.outline(cls.setup, while_(cls.has_next_batch)(cls.classify_batch_again), cls.results)

    def classify_batch_again(self):
        index = self.ctx.batch
        size = self.inputs.batch_size.value
        label = batch_label('frames' if 'trajectory' in self.inputs else 'atoms', index)
        if 'trajectory' in self.inputs:  # an earlier try that made the batch's first frame only
            start = orm.Int(index * size)
            stop = orm.Int(index * size + 1)
            inputs = {'trajectory': self.inputs.trajectory, 'start': start, 'stop': stop}
            classify_trajectory.run_get_node(model=self.ctx.model, **inputs, metadata={'call_link_label': label})
        else:
            name = self._names()[index * size]
            inputs = {name: self.inputs.structures[name]}
            classify_atoms.run_get_node(model=self.ctx.model, **inputs, metadata={'call_link_label': label})
        self.classify_batch()
        self.ctx.batch = index  # the step once more: everything is there, nothing runs
        self.classify_batch()


def _results_per_name(workchain: orm.WorkflowNode) -> dict[str, int]:
    counts: dict[str, int] = {}
    for calc in workchain.called:
        for link in calc.base.links.get_outgoing(link_type=LinkType.CREATE).all():
            if isinstance(link.node, LocalClassificationData):
                counts[link.link_label] = counts.get(link.link_label, 0) + 1
    return counts


@pytest.mark.parametrize('source', ['structures', 'trajectory'])
def test_a_batch_run_again_does_not_duplicate(source, five_structures, model_node, fake_classify_atoms):
    inputs = {'structures': five_structures} if source == 'structures' else {'trajectory': _trajectory(frames=5)}
    results, node = run_get_node(RerunBatchWorkChain, **inputs, model=model_node, batch_size=orm.Int(3))
    assert node.is_finished_ok, node.exit_message
    names = set(five_structures) if source == 'structures' else {f'frame_{i:05d}' for i in range(5)}
    assert set(results['classifications']) == names
    assert _results_per_name(node) == dict.fromkeys(names, 1)
    assert fake_classify_atoms == [4] * 5  # every structure or frame classified once
    step = 'atoms' if source == 'structures' else 'frames'
    calls = node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
    by_label = sorted(t.link_label for t in calls if t.link_label != 'summary')
    # Per batch: the interrupted try and the rest of the batch; the third try of the step calls nothing.
    assert by_label == [batch_label(step, 0)] * 2 + [batch_label(step, 1)] * 2


def test_a_trajectory_of_four_frames_gives_four_nodes(model_node, fake_classify_atoms):
    """uses_fake_rules: the trajectory's one iron atom in four is 'bcc'."""
    trajectory = _trajectory(frames=4)
    results, node = run_get_node(ClassifyAtomsWorkChain, trajectory=trajectory, model=model_node, batch_size=orm.Int(3))
    assert node.is_finished_ok, node.exit_message
    classified = results['classifications']
    assert sorted(classified) == [f'frame_{i:05d}' for i in range(4)]
    assert [classified[f'frame_{i:05d}'].frame for i in range(4)] == [0, 1, 2, 3]
    assert all(c.fractions['bcc'] == 0.25 for c in classified.values())
    summary = results['summary'].get_dict()
    assert summary['frames'] == [0, 1, 2, 3] and summary['totals']['n_atoms'] == 16
    calls = [t.link_label for t in node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()]
    assert sorted(calls) == [batch_label('frames', 0), batch_label('frames', 1), 'summary']
    # The query helper gives the trajectory as the source of each frame.
    from aiida_crystalface.provenance import local_results

    found = {(source.pk, local.frame) for source, local in local_results('bcc', 0.2, model=model_node)}
    assert {(trajectory.pk, frame) for frame in range(4)} <= found


def test_a_trajectory_without_cells_gives_finite_frames(aiida_profile):
    from aiida_crystalface.calculations.functions.classify_trajectory import frame_structures

    node = orm.TrajectoryData()
    node.set_trajectory(['Cu', 'Fe'], np.arange(12.0).reshape(2, 2, 3))
    node.store()
    frames = frame_structures(node, 0, 2)
    assert sorted(frames) == [0, 1]
    assert not frames[1].pbc.any() and frames[1].cell.rank == 0
    np.testing.assert_array_equal(frames[1].positions, np.arange(6.0, 12.0).reshape(2, 3))
    with pytest.raises(ValueError, match=r'0 <= start < stop <= 2'):
        frame_structures(node, 1, 3)


def test_a_calcfunction_that_raises_stays_in_the_graph(five_structures, model_node, fake_classify_atoms):
    """uses_fake_rules: gold raises. Batch 2 of 3 raises: its EXCEPTED node keeps the traceback, the WorkChain names
    the batch in its exit code and returns the results of batches 0 and 1."""
    structures = {**five_structures, 'zz_poison': _cubic(['Au'] * 4)}  # sorted last: batch 2
    results, node = run_get_node(ClassifyAtomsWorkChain, structures=structures, model=model_node, batch_size=orm.Int(2))
    assert node.exit_status == ClassifyAtomsWorkChain.exit_codes.ERROR_BATCH_EXCEPTED.status
    assert 'Batch 2 of 3 (atoms_00002)' in node.exit_message
    assert 'a bug in the per-atom kernel' in node.exit_message
    excepted = [c for c in node.called if c.is_excepted]
    assert len(excepted) == 1 and excepted[0].process_label == 'classify_atoms'
    assert 'RuntimeError: a bug in the per-atom kernel' in excepted[0].exception
    messages = [log.message for log in orm.Log.collection.get_logs_for(excepted[0])]
    assert any('Traceback' in m and 'in fake' in m for m in messages), messages
    assert excepted[0].base.links.get_outgoing(link_type=LinkType.CREATE).all() == []
    # The good batches are kept, stored and returned.
    assert set(results['classifications']) == {'cu', 'cu3fe', 'cufe', 'fe'}
    assert all(c.is_stored for c in results['classifications'].values())
    assert results['summary'].get_dict()['names'] == ['cu', 'cu3fe', 'cufe', 'fe']


def test_invalid_inputs_are_refused(five_structures, model_node, fake_classify_atoms):
    trajectory = _trajectory(frames=2)
    with pytest.raises(ValueError, match='not both'):
        run_get_node(ClassifyAtomsWorkChain, structures=five_structures, trajectory=trajectory, model=model_node)
    with pytest.raises(ValueError, match='give structures, a group or a trajectory'):
        run_get_node(ClassifyAtomsWorkChain, model=model_node)
    with pytest.raises(ValueError, match='window must be a positive number'):
        run_get_node(ClassifyAtomsWorkChain, trajectory=trajectory, model=model_node, options=orm.Dict({'window': -1}))
    with pytest.raises(ValueError, match='seed must be an integer'):
        run_get_node(ClassifyAtomsWorkChain, trajectory=trajectory, model=model_node, options=orm.Dict({'seed': 0.5}))
    with pytest.raises(ValueError, match='batch_size must be at least 1'):
        run_get_node(ClassifyAtomsWorkChain, trajectory=trajectory, model=model_node, batch_size=orm.Int(0))
    bad = _trajectory(frames=2, atoms=2, symbols=['Cu', 'Xx'])
    _, node = run_get_node(ClassifyAtomsWorkChain, trajectory=bad, model=model_node)
    assert node.exit_status == ClassifyAtomsWorkChain.exit_codes.ERROR_INVALID_INPUT.status


def test_the_real_classifier_in_the_workchain_labels_a_bicrystal(aiida_profile):
    """The bundled model, unpatched, through ClassifyAtomsWorkChain: a pristine bcc Fe crystal and an fcc Cu / bcc Fe
    stack; the stored fractions are the counts of the stored labels, and the query helper finds the bcc-rich one."""
    from ase.build import bulk

    from aiida_crystalface.provenance import local_results

    fe = orm.StructureData(ase=bulk('Fe', 'bcc', a=2.87, cubic=True) * (5, 5, 5)).store()
    cu = bulk('Cu', 'fcc', a=3.61, cubic=True) * (5, 5, 5)
    cu_node = orm.StructureData(ase=cu).store()
    result, node = run_get_node(ClassifyAtomsWorkChain, structures={'fe': fe, 'cu': cu_node})
    assert node.is_finished_ok, node.exit_message
    fe_result, cu_result = result['classifications']['fe'], result['classifications']['cu']
    assert fe_result.fractions['bcc'] == 1.0 and cu_result.fractions['fcc'] == 1.0
    for local in (fe_result, cu_result):
        labels = np.array(local.labels)
        assert local.n_atoms == len(labels) == (250 if local is fe_result else 500)
        assert all(local.counts[name] == int(np.sum(labels == name)) for name in local.counts)
    found = {classification.uuid for _, classification in local_results('bcc', 0.5)}
    assert fe_result.uuid in found and cu_result.uuid not in found
