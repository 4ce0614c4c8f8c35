"""The fast storage path gives what aiida-core's own path gives: the same values, hashes, files and links."""

from __future__ import annotations

import io
import math
import random
from collections import OrderedDict

import numpy as np
import pytest
from aiida import orm
from aiida.common.exceptions import ValidationError
from aiida.common.hashing import make_hash as aiida_make_hash
from aiida.common.links import LinkType
from aiida.engine import run_get_node
from aiida.orm.implementation.utils import clean_value as aiida_clean_value
from aiida.orm.nodes.caching import NodeCaching
from aiida.orm.nodes.process.process import ProcessNodeCaching

from aiida_crystalface import caching
from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain


def _random_value(rng: random.Random, depth: int = 0):
    """JSON-like values with the awkward corners: -0.0, large and tiny floats, floats that clean into ints."""
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(
            [
                rng.uniform(-1e6, 1e6),
                rng.randint(-(10**12), 10**12),
                rng.random() < 0.5,
                None,
                ''.join(rng.choice('abé_ X') for _ in range(rng.randrange(5))),
                0.0,
                -0.0,
                1e-300,
                1e300,
                1e16,
                2.0**60,
                0.1 + 0.2,
                123456789012345.67,
                float(rng.randint(-5, 5)),
                np.float64(rng.uniform(-1, 1)),  # not a JSON type: handed to aiida-core's functions
            ]
        )
    kind = rng.random()
    if kind < 0.5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    if kind < 0.6:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(4)))
    return {f'k{rng.randrange(50)}': _random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def _identical(a, b) -> bool:
    """Equal values of the same types all the way down (``1 == 1.0`` is not enough: types change hashes)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_make_hash_and_clean_value_are_aiida_cores():
    rng = random.Random(0)
    for _ in range(2000):
        value = _random_value(rng)
        assert caching.make_hash(value) == aiida_make_hash(value), value
        assert _identical(caching.clean_value(value), aiida_clean_value(value)), value
    for value in ({1: 'a', 2.5: [1], None: 3, 'z': 4}, OrderedDict(a=1, b=[2.0]), {'x': {1, 2}}):
        assert caching.make_hash(value) == aiida_make_hash(value)
    for bad in (math.nan, [1.0, math.inf], {'a': -math.inf}):
        with pytest.raises(ValidationError, match='nan and inf'):
            caching.clean_value(bad)
        with pytest.raises(ValidationError, match='nan and inf'):
            aiida_clean_value(bad)


@pytest.fixture
def structures(generate_structure):
    pairs = [('fcc', 'Cu'), ('bcc', 'Fe'), ('diamond', 'Si'), ('sc', 'Po')]
    return {f'{label}_{species}': generate_structure(label, species) for label, species in pairs}


def test_every_stored_hash_is_the_one_aiida_core_computes(structures, model_node):
    """Nodes loaded afresh, hashed by aiida-core's own interfaces: structures, fingerprints, predictions and the
    calcfunctions (whose hash covers the hashes of their inputs, taken here from the stored extras)."""
    results, node = run_get_node(
        ClassifyStructuresWorkChain, structures=structures, model=model_node, batch_size=orm.Int(3)
    )
    assert node.is_finished_ok, node.exit_message
    data_nodes = [*structures.values(), *results['fingerprints'].values(), *results['predictions'].values()]
    for data in data_nodes:
        loaded = orm.load_node(data.pk)
        assert loaded.base.caching.get_hash() is not None
        assert NodeCaching(loaded).compute_hash() == loaded.base.caching.get_hash(), loaded
    called = [orm.load_node(calc.pk) for calc in node.called]
    assert {calc.process_label for calc in called} == {'compute_fingerprints', 'predict'}
    for calc in called:
        assert ProcessNodeCaching(calc).compute_hash() == calc.base.caching.get_hash(), calc.process_label
    # An input whose stored hash was cleared is hashed as aiida-core does.
    first = orm.load_node(called[0].pk)
    an_input = first.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()[0].node
    an_input.base.caching.clear_hash()
    assert caching.StoredInputHashCaching(first).compute_hash() == ProcessNodeCaching(first).compute_hash()


def test_structure_data_stores_the_same_attributes_and_hash_as_aiida_core(aiida_profile):
    from aiida_crystalface.calculations.utils import structure_data
    from aiida_crystalface.core.cluster import replicate
    from aiida_crystalface.core.prototypes import prototype

    atomic = replicate(prototype('Cu', 'fcc'), 32)
    atomic = atomic.replace(positions=atomic.positions + np.random.default_rng(1).normal(0, 0.02, (len(atomic), 3)))
    fast = structure_data(atomic)
    assert fast.base.caching.__class__ is caching.BatchNodeCaching
    plain = orm.StructureData(cell=fast.cell, pbc=fast.pbc)  # aiida-core's own store path, same content
    plain.base.attributes.set_many(
        {'kinds': fast.base.attributes.get('kinds'), 'sites': fast.base.attributes.get('sites')}
    )
    plain.label = fast.label
    fast.store()
    plain.store()
    fast, plain = orm.load_node(fast.pk), orm.load_node(plain.pk)
    assert _identical(fast.base.attributes.all, plain.base.attributes.all)
    assert fast.base.caching.get_hash() == plain.base.caching.get_hash() == NodeCaching(fast).compute_hash()
    assert fast.get_ase() == plain.get_ase()


def test_fingerprint_written_to_the_object_store_is_the_sandbox_path_node(aiida_profile):
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.data.fingerprint import FingerprintData, put_in_object_store

    image = np.random.default_rng(2).random((64, 64)).astype(np.float32)
    direct = FingerprintData()
    direct.set_image(image, FingerprintSettings(), to_object_store=True)
    sandbox = FingerprintData(image, FingerprintSettings())
    np.testing.assert_array_equal(direct.image, image)  # readable before it is stored
    direct.store()
    sandbox.store()
    direct, sandbox = orm.load_node(direct.pk), orm.load_node(sandbox.pk)
    assert direct.base.repository.metadata == sandbox.base.repository.metadata
    content = direct.base.repository.get_object_content('image.npy', mode='rb')
    assert content == sandbox.base.repository.get_object_content('image.npy', mode='rb')
    np.testing.assert_array_equal(direct.image, image)
    assert direct.base.attributes.all == sandbox.base.attributes.all
    assert direct.base.caching.get_hash() == sandbox.base.caching.get_hash() == NodeCaching(direct).compute_hash()
    # Where the node is stored or already has a file, nothing is written and the caller takes the public path.
    assert put_in_object_store(direct, 'other.npy', io.BytesIO(b'x')) is False
    assert put_in_object_store(FingerprintData(image), 'other.npy', io.BytesIO(b'x')) is False


def test_to_atomic_reads_like_core(aiida_profile, generate_structure, bad_structures):
    from aiida_crystalface.calculations.utils import to_atomic
    from aiida_crystalface.core.structures import StructureError, to_atomic_structure

    node = orm.load_node(generate_structure('diamond', 'Si').pk)
    ours, core = to_atomic('s', node), to_atomic_structure(node, label=f's (StructureData<{node.pk}>)')
    np.testing.assert_array_equal(ours.cell, core.cell)
    np.testing.assert_array_equal(ours.positions, core.positions)
    np.testing.assert_array_equal(ours.numbers, core.numbers)
    assert ours.label == core.label
    with pytest.raises(StructureError, match='unknown element'):
        to_atomic('x', bad_structures['unknown_element'])
    alloy = orm.StructureData(cell=(np.eye(3) * 3.0).tolist())
    alloy.append_atom(position=(0, 0, 0), symbols=('Cu', 'Au'), weights=(0.5, 0.5), name='CuAu')
    with pytest.raises(StructureError, match=r'a \(StructureData<.*>\): alloy or vacancy kinds \(CuAu\)'):
        to_atomic('a', alloy.store())


def test_batched_outputs_have_one_create_link_each(structures):
    """Called on its own (no transaction around it), a batch stores every output with its CREATE link."""
    from aiida_crystalface.calculations.functions.compute_fingerprints import compute_fingerprints
    from aiida_crystalface.core.diffraction import FingerprintSettings

    settings = orm.Dict(FingerprintSettings().to_dict()).store()
    result, calc = compute_fingerprints.run_get_node(settings=settings, **structures)
    assert calc.is_finished_ok, calc.exit_message
    assert set(result) == set(structures)
    created = calc.base.links.get_outgoing(link_type=LinkType.CREATE).all()
    assert sorted(t.link_label for t in created) == sorted(structures)
    for key, fingerprint in result.items():
        incoming = orm.load_node(fingerprint.pk).base.links.get_incoming().all()
        assert [(t.link_type, t.link_label, t.node.pk) for t in incoming] == [(LinkType.CREATE, key, calc.pk)]
