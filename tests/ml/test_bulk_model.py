"""The bulk prototype model's decision rule (``lattice_rule = 'restrict'``) and its recalibration (ml.bulk)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aiida_crystalface.core.classes import class_structure
from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch
from aiida_crystalface.core.openset import supercell_of_at_least
from aiida_crystalface.ml import Classifier
from aiida_crystalface.ml.bulk import (
    COMPOSITION_TOLERANCES,
    RESTRICT_RATIOS,
    bulk_prototypes,
    fit_decision_rule,
    recalibrate_bulk_model,
)
from aiida_crystalface.ml.convnet import ConvNet
from aiida_crystalface.ml.openset import _answers, calibrate

SETTINGS = FingerprintSettings(orientation='standard', channels=3)
CLASSES = ['fcc', 'hcp', 'rocksalt']


def _images_and_lattices(names):
    structures = [supercell_of_at_least(class_structure(n, 'random'), 100) for n in names]
    batch = fingerprint_batch(structures, SETTINGS)
    return batch.images, batch.lattices


def test_restrict_takes_the_best_class_the_lattice_admits():
    images, lattices = _images_and_lattices(['hcp'])
    prototypes = bulk_prototypes(CLASSES)
    # The network prefers fcc, then hcp; an hcp crystal's lattice admits only hcp.
    net = ConvNet(len(CLASSES) + 1, in_channels=3)
    rule = {'threshold': 0.9, 'temperature': 1.0, 'lattice_rule': True}
    classifier = Classifier(net, CLASSES, SETTINGS, metadata={'prototypes': prototypes, 'open_set': rule})
    logits = np.array([[3.0, 2.0, -5.0, -5.0]])
    classifier.logits = lambda _images, **_: logits  # the rule, not the weights, is under test
    classifier.output_probabilities = lambda _images, **_: np.exp(logits) / np.exp(logits).sum()
    assert classifier.decide(images, lattices)[0]['label'] == 'unknown'  # the four-class model's rule
    classifier.open_set['lattice_rule'] = 'restrict'
    assert classifier.decide(images, lattices)[0]['label'] == 'hcp'
    consistent = classifier.lattice_consistency(lattices)
    assert consistent.tolist() == [[False, True, False]]
    probabilities = np.exp(logits) / np.exp(logits).sum()
    assert _answers(probabilities, 0.9, consistent)[0] == 3
    assert _answers(probabilities, 0.9, consistent, restrict=True)[0] == 1
    # the ratio: hcp (admitted) is exp(-1) = 0.37 times as probable as fcc (ruled out)
    assert _answers(probabilities, 0.9, consistent, restrict=True, ratio=0.3)[0] == 1
    assert _answers(probabilities, 0.9, consistent, restrict=True, ratio=0.5)[0] == 3
    classifier.open_set['restrict_ratio'] = 0.3
    assert classifier.decide(images, lattices)[0]['label'] == 'hcp'
    classifier.open_set['restrict_ratio'] = 0.5
    answer = classifier.decide(images, lattices)[0]
    assert answer['label'] == 'unknown'
    # the chance that the answer is wrong: that it is an admitted class after all
    assert answer['uncertainty'] == pytest.approx(probabilities[0, 1], rel=1e-5)


def test_species_rule_keeps_compound_classes_from_crystals_of_fewer_elements():
    """bcc with half its sites vacant at random: the network may take the unequal occupation of its two cubic
    sublattices for CsCl's; one element is no binary compound, so the answer is the best class of one element."""
    import re

    from aiida_crystalface.core.defects import vacancies

    names = ['bcc', 'cscl', 'rocksalt', 'perovskite']
    prototypes = bulk_prototypes(names)
    for name, record in prototypes.items():  # independent of the class structures: the AFLOW label's elements
        assert record['species_count'] == len(re.findall('[A-Z]', record['aflow'].split('_')[0])), name
    crystal = vacancies(supercell_of_at_least(class_structure('bcc', 'random'), 128), 0.5, seed=3)
    compound = supercell_of_at_least(class_structure('cscl', 'random'), 128)
    batch = fingerprint_batch([crystal, compound], SETTINGS)
    assert [lattice['species_count'] for lattice in batch.lattices] == [1, 2]
    net = ConvNet(len(names) + 1, in_channels=3)
    rule = {'threshold': 0.9, 'temperature': 1.0, 'lattice_rule': 'restrict'}
    classifier = Classifier(net, names, SETTINGS, metadata={'prototypes': prototypes, 'open_set': rule})
    logits = np.array([[2.0, 3.0, -5.0, -5.0, -5.0]] * 2)  # CsCl first, bcc second, for both
    classifier.logits = lambda _images, **_: logits
    classifier.output_probabilities = lambda _images, **_: np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    consistent = classifier.lattice_consistency(batch.lattices)
    assert consistent[0].tolist() == [True, False, False, False]  # one element: no compound class
    assert consistent[1, 1] and not consistent[1, 3]  # two elements: CsCl; never perovskite (three)
    assert [a['label'] for a in classifier.decide(batch.images, batch.lattices)] == ['bcc', 'cscl']
    # the rule holds for a class exempt from the lattice rule too, and a record without the count decides nothing
    classifier.open_set['lattice_rule_exempt'] = ['cscl']
    assert not classifier.lattice_consistency(batch.lattices)[0, 1]
    unknown_count = [{k: v for k, v in lattice.items() if k != 'species_count'} for lattice in batch.lattices]
    assert classifier.lattice_consistency(unknown_count)[0, 1]


def _aflow_shares(label: str) -> list[float]:
    """The element shares of an AFLOW label's formula (AB3C6 -> 0.6, 0.3, 0.1), independent of the class cells."""
    import re

    counts = [int(n or 1) for _, n in re.findall('([A-Z])([0-9]*)', label.split('_', maxsplit=1)[0])]
    return sorted((c / sum(counts) for c in counts), reverse=True)


def test_composition_rule_keeps_compound_classes_from_crystals_of_another_stoichiometry():
    """An ordered A3B crystal the network takes for L1_0 (AB): with the composition rule fitted the answer is the best
    class of its stoichiometry; without the tolerance in the model nothing changes, and a random alloy on one
    sublattice keeps its host's class."""
    names = ['l1_0', 'cscl', 'l1_2', 'd0_22', 'heusler']
    prototypes = bulk_prototypes(names)
    for name, record in prototypes.items():
        assert record['stoichiometry'] == pytest.approx(_aflow_shares(record['aflow']), abs=1e-6), name
    cu3au = supercell_of_at_least(class_structure('l1_2', ('Au', 'Cu')), 100)
    numbers = cu3au.numbers.copy()
    majority = np.flatnonzero(numbers == np.bincount(numbers).argmax())  # 3/4 of the sites
    numbers[majority[::6]] = 28  # Ni on a sixth of the majority sublattice: (Cu5Ni)3Au-like, Ni 1/8 of the atoms
    alloy = cu3au.replace(numbers=numbers)
    batch = fingerprint_batch([cu3au, alloy], SETTINGS)
    assert batch.lattices[0]['species_fractions'] == pytest.approx([0.75, 0.25], abs=0.02)
    net = ConvNet(len(names) + 1, in_channels=3)
    rule = {'threshold': 0.9, 'temperature': 1.0, 'lattice_rule': 'restrict', 'lattice_rule_exempt': list(names)}
    classifier = Classifier(net, names, SETTINGS, metadata={'prototypes': prototypes, 'open_set': rule})
    logits = np.array([[3.0, 2.5, 2.0, -5.0, -5.0, -5.0]] * 2)  # L1_0 first, then CsCl, then L1_2
    classifier.logits = lambda _images, **_: logits
    classifier.output_probabilities = lambda _images, **_: np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert [a['label'] for a in classifier.decide(batch.images, batch.lattices)] == ['l1_0', 'l1_0']
    classifier.open_set['composition_tolerance'] = 0.1
    consistent = classifier.lattice_consistency(batch.lattices)
    assert consistent.tolist() == [[False, False, True, True, False]] * 2  # A3B only; Heusler's A2BC needs 3 kinds
    assert [a['label'] for a in classifier.decide(batch.images, batch.lattices)] == ['l1_2', 'l1_2']
    no_shares = [{k: v for k, v in lattice.items() if k != 'species_fractions'} for lattice in batch.lattices]
    assert classifier.lattice_consistency(no_shares)[0].tolist() == [True] * 4 + [False]  # no shares: no decision


def test_calibrate_fits_the_ratio_with_the_threshold():
    """Outsiders the network takes for a class their lattice rules out, with a weak second guess that it admits: the
    ratio turns them away; members, whose best class is admitted, keep their answer."""
    rng = np.random.default_rng(0)
    members = np.tile([4.0, 0.0, 0.0, -3.0], (200, 1)) + rng.normal(0, 0.3, (200, 4))
    outsiders = np.tile([4.0, 1.0, -3.0, -4.0], (200, 1)) + rng.normal(0, 0.3, (200, 4))  # p(other) no help
    logits = np.concatenate([members, outsiders])
    targets = np.array([0] * 200 + [3] * 200)
    consistent = np.concatenate([np.tile([True, True, False], (200, 1)), np.tile([False, True, False], (200, 1))])
    plain = calibrate(logits, targets, consistent, restrict=True)
    fitted = calibrate(logits, targets, consistent, restrict=True, ratios=(0.0, 0.2, 0.5, 1.0))
    assert 'restrict_ratio' not in plain and plain['calibration_outsider_error'] > 0.9
    assert fitted['restrict_ratio'] > 0 and fitted['restrict_ratio_grid'] == [0.0, 0.2, 0.5, 1.0]
    assert fitted['calibration_outsider_error'] == 0.0 and fitted['calibration_member_error'] == 0.0


def _overlapping_case():
    """Members and outsiders whose p(other) overlap: no threshold separates them, the objective picks the trade."""
    rng = np.random.default_rng(1)
    members = np.column_stack([np.full(500, 3.0), np.zeros(500), rng.normal(0.5, 1.5, 500)])
    outsiders = np.column_stack([np.full(500, 3.0), np.zeros(500), rng.normal(4.0, 1.5, 500)])
    return np.concatenate([members, outsiders]), np.array([0] * 500 + [2] * 500)


def test_calibrate_with_an_outsider_target_bounds_the_outsiders_given_a_class():
    from aiida_crystalface.ml.openset import rule_objective

    logits, targets = _overlapping_case()
    balanced = calibrate(logits, targets)
    bounded = calibrate(logits, targets, outsider_target=0.01)
    assert balanced['calibration_outsider_error'] > 0.02 and 'outsider_target' not in balanced
    assert bounded['calibration_outsider_error'] <= 0.01 and bounded['outsider_target'] == 0.01
    # the price is paid in members called unknown, and it is the least one that meets the bound
    assert bounded['calibration_member_error'] > balanced['calibration_member_error']
    assert bounded['threshold'] < balanced['threshold']
    looser = calibrate(logits, targets, outsider_target=0.05)
    assert looser['calibration_member_error'] <= bounded['calibration_member_error']
    # a bound no rule meets: the rule that gives the fewest outsiders a class
    assert rule_objective([0.0, 0.5], [0.2, 0.1], 0.0).tolist() == [1.2, 1.1]
    assert rule_objective([0.1, 0.3], [0.02, 0.0], 0.01).tolist() == [1.02, 0.3]
    assert rule_objective([0.1], [0.3]).tolist() == [pytest.approx(0.2)]
    with pytest.raises(ValueError, match='outsider_target'):
        rule_objective([0.1], [0.3], 1.5)


def test_choose_outsider_target_spends_at_most_the_slack_on_members():
    from aiida_crystalface.ml.bulk import choose_outsider_target

    logits, targets = _overlapping_case()
    consistent = np.ones((len(targets), 2), dtype=bool)
    target, curve = choose_outsider_target(logits, targets, consistent, candidates=(0.01, 0.05, 0.1), slack=0.2)
    (_, balanced_members, balanced_outsiders), *bounded = curve
    assert curve[0][0] is None and [row[0] for row in bounded] == [0.01, 0.05, 0.1]
    # 1 % costs 45 points of members, 5 % costs 17 (the case above): with a slack of 20 points, 5 %
    assert target == 0.05 and bounded[1][1] - balanced_members <= 0.2 < bounded[0][1] - balanced_members
    assert bounded[1][2] <= 0.05 < balanced_outsiders
    assert choose_outsider_target(logits, targets, consistent, candidates=(0.01, 0.05), slack=0.01)[0] is None
    # a bound the balanced rule meets already is no bound
    assert choose_outsider_target(logits, targets, consistent, candidates=(0.5,), slack=1.0)[0] is None


def test_choose_rule_fits_the_loosest_composition_tolerance_that_turns_the_outsiders_away():
    """Outsiders the network takes for class 0 as confidently as its members, at another stoichiometry (0.25 away,
    members 0.01-0.05): p(other) cannot separate them, the composition rule can; the loosest tolerance that does
    is chosen, and without such outsiders no composition rule at all."""
    from aiida_crystalface.ml.bulk import choose_rule

    rng = np.random.default_rng(1)
    logits = np.tile([4.0, 0.0, -3.0], (400, 1)) + rng.normal(0, 0.3, (400, 3))
    targets = np.array([0] * 200 + [2] * 200)
    consistent = np.ones((400, 2), dtype=bool)
    distances = np.full((400, 2), np.nan)
    distances[:200, 0] = rng.uniform(0.01, 0.05, 200)
    distances[200:, 0] = 0.25
    tolerance, target, table = choose_rule(logits, targets, consistent, distances)
    assert tolerance == 0.2 and target is None  # the balanced rule meets the smallest bound already
    assert len(table) == len(COMPOSITION_TOLERANCES) * 6
    chosen = next(row for row in table if row[:2] == [tolerance, target])
    assert chosen[2] == 0.0 and chosen[3] <= 0.005
    assert all(row[2] + row[3] > 0.2 for row in table if row[0] in (None, 0.3))  # too loose: p(other) alone
    distances[200:, 0] = 0.03  # now the outsiders' composition is a member's: no tolerance helps, none is chosen
    assert choose_rule(logits, targets, consistent, distances)[0] is None


def test_pairwise_other_score_compares_other_with_the_answer_alone():
    """The pairwise score is ``p(other)`` against the answer's probability alone: two crystals with the same
    ``p(other)`` = 0.05, one whose class has 0.9, one whose network parts 0.5 / 0.45 between two classes, score 0.053
    and 0.091. ``decide`` and the calibration's ``_answers`` make the same answers, and the score never falls below
    the softmax one (the rest of the classes only add to its denominator)."""
    from aiida_crystalface.ml.openset import other_score

    images, lattices = _images_and_lattices(['hcp', 'hcp'])
    names = [f'c{i}' for i in range(40)]
    names[1] = 'hcp'
    probabilities = np.zeros((2, 41))
    probabilities[0, :40] = 0.05 / 39  # hcp 0.9, the other 39 classes 0.05 together, other 0.05
    probabilities[0, [1, 40]] = 0.9, 0.05
    probabilities[1, [1, 2, 40]] = 0.5, 0.45, 0.05  # parted between hcp and c2
    assert probabilities.sum(axis=1) == pytest.approx([1.0, 1.0])
    score = other_score(probabilities[:, 40], probabilities[:, 1], 'pairwise')
    assert score == pytest.approx([0.05 / 0.95, 0.05 / 0.55])
    assert np.all(score >= other_score(probabilities[:, 40], probabilities[:, 1]))
    assert _answers(probabilities, 0.07).tolist() == [1, 1]
    assert _answers(probabilities, 0.07, score='pairwise').tolist() == [1, 40]
    net = ConvNet(41, in_channels=3)
    classifier = Classifier(net, names, SETTINGS, metadata={'open_set': {'threshold': 0.07, 'temperature': 1.0}})
    classifier.output_probabilities = lambda _images, **_: probabilities
    assert [a['label'] for a in classifier.decide(images, lattices)] == ['hcp', 'hcp']
    classifier.open_set['other_score'] = 'pairwise'
    assert [a['label'] for a in classifier.decide(images, lattices)] == ['hcp', 'unknown']
    classifier.open_set['other_score'] = 'median'
    with pytest.raises(ValueError, match='other_score'):
        classifier.decide(images, lattices)
    with pytest.raises(ValueError, match='score'):
        calibrate(np.log(probabilities), np.array([1, 1]), score='median')


def test_fit_and_recalibrate(tmp_path):
    names = ['fcc', 'hcp', 'rocksalt', 'hcp', 'rutile', 'wurtzite']  # the last two: outsiders of these classes
    images, lattices = _images_and_lattices(names)
    targets = np.array([CLASSES.index(n) if n in CLASSES else len(CLASSES) for n in names])
    torch.manual_seed(0)
    net = ConvNet(len(CLASSES) + 1, in_channels=3).eval()
    record, prototypes = fit_decision_rule(
        net,
        CLASSES,
        SETTINGS,
        prototypes=bulk_prototypes(CLASSES),
        images=images,
        targets=targets,
        lattices=lattices,
    )
    assert record['lattice_rule'] == 'restrict' and record['lattice_rule_exempt'] == []
    assert record['restrict_ratio'] in RESTRICT_RATIOS
    assert prototypes['hcp']['lattice'] == {'bravais': 'hP', 'sites': 2}
    model = Classifier(net, CLASSES, SETTINGS, metadata={'open_set': record, 'prototypes': prototypes})
    model.save(tmp_path / 'model.safetensors')
    cache = tmp_path / 'cache'
    cache.mkdir()
    np.savez(cache / 'calibration.npz', images=images, targets=targets)
    (cache / 'calibration.json').write_text(__import__('json').dumps(lattices))
    again = recalibrate_bulk_model(tmp_path / 'model.safetensors', cache, tmp_path / 'out')
    assert again.open_set['lattice_rule'] == 'restrict' and 'previous' in again.open_set
    tolerances = len(COMPOSITION_TOLERANCES)
    assert 'outsider_target' in record and len(record['rule_table']) == 6 * tolerances
    assert again.open_set['rule_table'][0][:2] == [None, None]  # the balanced rule without composition rule first
    assert again.open_set['composition_tolerance'] in COMPOSITION_TOLERANCES
    fixed = recalibrate_bulk_model(tmp_path / 'model.safetensors', cache, tmp_path / 'fixed', outsider_target=0.02)
    assert fixed.open_set['outsider_target'] == 0.02 and len(fixed.open_set['rule_table']) == tolerances
    none = recalibrate_bulk_model(tmp_path / 'model.safetensors', cache, tmp_path / 'none', composition=False)
    assert none.open_set['composition_tolerance'] is None and len(none.open_set['rule_table']) == 6
    plain = recalibrate_bulk_model(
        tmp_path / 'fixed' / 'model.safetensors', cache, tmp_path / 'plain', outsider_target=None
    )
    assert 'outsider_target' not in plain.open_set and plain.open_set['previous']['outsider_target'] == 0.02
    assert again.channels == 3 and again.classes == CLASSES
    from aiida_crystalface.ml.bulk import ensemble_bulk_models
    from aiida_crystalface.ml.convnet import Ensemble

    joined = ensemble_bulk_models(
        [tmp_path / 'model.safetensors', tmp_path / 'fixed' / 'model.safetensors'], cache, tmp_path / 'joined'
    )
    assert isinstance(joined.net, Ensemble) and len(joined.metadata['training']['ensemble']) == 2
    # An ensemble joined with a network: one ensemble of three, every network weighing the same.
    three = ensemble_bulk_models(
        [tmp_path / 'joined' / 'model.safetensors', tmp_path / 'model.safetensors'], cache, tmp_path / 'three'
    )
    assert len(three.net.members) == 3 and all(isinstance(m, ConvNet) for m in three.net.members)
    assert len(Classifier.load(tmp_path / 'three' / 'model.safetensors').net.members) == 3
    assert joined.open_set['lattice_rule'] == 'restrict' and len(joined.decide(images, lattices)) == len(images)
    assert 'other_score' not in joined.open_set and joined.net.combine == 'geometric'
    mixed = ensemble_bulk_models(
        [tmp_path / 'model.safetensors', tmp_path / 'fixed' / 'model.safetensors'],
        cache,
        tmp_path / 'mixed',
        combine='arithmetic',
        score='pairwise',
    )
    again_mixed = Classifier.load(tmp_path / 'mixed' / 'model.safetensors')
    assert again_mixed.net.combine == 'arithmetic' and again_mixed.open_set['other_score'] == 'pairwise'
    assert '--combine arithmetic --other-score pairwise' in mixed.metadata['training']['command']
    # a softmax refit of a pairwise model says so: the record loses other_score and keeps it under previous
    soft = recalibrate_bulk_model(tmp_path / 'mixed' / 'model.safetensors', cache, tmp_path / 'soft')
    assert 'other_score' not in soft.open_set and soft.open_set['previous']['other_score'] == 'pairwise'
    answers = again.decide(images, lattices)
    assert all(a['label'] in (*CLASSES, 'unknown') for a in answers)


def test_seen_lattices_count_only_members_found_often_enough():
    from aiida_crystalface.ml.bulk import seen_lattices

    def record(bravais, sites):
        return {'lattice_found': True, 'lattice_standard': bravais, 'sites_per_lattice_point': sites}

    lattices = [record('cP', 4)] * 150 + [record('cP', 1)] * 3 + [record('tP', 3)] + [record('oP', 2)] * 5 + [None]
    targets = np.array([0] * 154 + [1] * 5 + [0])  # the oP records belong to a class of five members
    lattices += [record('hP', 2)] * 9  # outsiders (target = number of classes): never counted
    targets = np.concatenate([targets, [2] * 9])
    seen = seen_lattices(['reo3', 'other_class'], targets, lattices, share=0.01)
    # reo3: 154 members; a pair needs max(2, 1.54) of them: cP 1 (3) is in, tP 3 (1) is not.
    assert seen == {'reo3': [['cP', 4], ['cP', 1]], 'other_class': [['oP', 2]]}


def test_fit_with_seen_lattices_holds_a_class_to_them():
    """A class whose calibration members show a lattice the pristine crystal does not is a candidate for exemption
    without ``seen`` and held to its lattices with it."""
    names = ['hcp', 'hcp', 'fcc', 'rutile']  # the last: an outsider
    images, lattices = _images_and_lattices(names)
    lattices[1] = {**lattices[1], 'lattice_standard': 'oC', 'sites_per_lattice_point': 2}  # as damage may show it
    targets = np.array([1, 1, 0, len(CLASSES)])
    torch.manual_seed(0)
    net = ConvNet(len(CLASSES) + 1, in_channels=3).eval()
    common = {'prototypes': bulk_prototypes(CLASSES), 'images': images, 'targets': targets, 'lattices': lattices}
    record, prototypes = fit_decision_rule(net, CLASSES, SETTINGS, **common)
    assert record['lattice_rule_calibration_misses'] == {'hcp': 0.5}
    assert set(record['lattice_rule_exempt']) <= {'hcp'}
    seen = {'fcc': [['cF', 1]], 'hcp': [['hP', 2], ['oC', 2]], 'rocksalt': []}
    record, prototypes = fit_decision_rule(net, CLASSES, SETTINGS, **common, seen=seen)
    assert record['lattice_rule_exempt'] == [] and prototypes['hcp']['lattice']['seen'] == [['hP', 2], ['oC', 2]]
    assert record['lattice_rule_calibration_misses'] == {}
    assert 'lattice_rule_seen' in record
    model = Classifier(net, CLASSES, SETTINGS, metadata={'open_set': record, 'prototypes': prototypes})
    assert model.lattice_consistency(lattices)[:, 1].tolist() == [True, True, False, False]


def _exemption_case(outsiders_for_a: int):
    """Class ``a``: 100 members, 10 of them on a lattice its rule rules out; ``outsiders_for_a`` of 100 outsiders are
    taken for ``a`` by the network (on a lattice the rule rules out for ``a``), the others for ``b``, which their
    lattice rules out too."""
    logits, targets, consistent = [], [], []
    for i in range(100):  # members of a: best class a, p(other) low
        logits.append([5.0, 0.0, -3.0])
        targets.append(0)
        consistent.append([i >= 10, True])
    for _ in range(100):  # members of b
        logits.append([0.0, 5.0, -3.0])
        targets.append(1)
        consistent.append([True, True])
    for i in range(100):  # outsiders, as confident as members; their lattice admits neither class
        logits.append([5.0, 0.0, -3.0] if i < outsiders_for_a else [0.0, 5.0, -3.0])
        targets.append(2)
        consistent.append([False, False])
    return np.array(logits), np.array(targets), np.array(consistent)


def test_choose_exemptions_weighs_members_kept_against_outsiders_let_through():
    from aiida_crystalface.ml.bulk import choose_exemptions

    # exempting a keeps its 10 members and lets no outsider through (none is taken for a): exempt
    logits, targets, consistent = _exemption_case(outsiders_for_a=0)
    assert choose_exemptions(logits, targets, consistent, ['a', 'b'], {'a': 0.1}) == ['a']
    # exempting a would let 40 outsiders through to keep 10 members: held
    logits, targets, consistent = _exemption_case(outsiders_for_a=40)
    assert choose_exemptions(logits, targets, consistent, ['a', 'b'], {'a': 0.1}) == []
    # a class with no misses is never a candidate
    assert choose_exemptions(logits, targets, consistent, ['a', 'b'], {'a': 0.0, 'b': 0.0}) == []


def test_command_line_passes_the_train_part_options_through(monkeypatch, tmp_path):
    from aiida_crystalface.ml import bulk

    calls = []
    monkeypatch.setattr(bulk, 'train_bulk_model', lambda output, **kwargs: calls.append((output, kwargs)))
    assert bulk.main(['-o', str(tmp_path), '--seed', '3', '--epochs', '2', '--random', '2700']) == 0
    ((output, kwargs),) = calls
    assert output == str(tmp_path)
    assert kwargs['seed'] == 3 and kwargs['epochs'] == 2 and kwargs['random_crystals'] == 2700 and kwargs['draws'] == 2
    calls.clear()
    bulk.main(['-o', str(tmp_path)])
    assert calls[0][1]['random_crystals'] is None  # the part's own default: 6 per outsider prototype
    assert calls[0][1]['init_seed'] is None  # the weights from --seed
    calls.clear()
    bulk.main(['-o', str(tmp_path), '--init-seed', '1'])
    assert calls[0][1]['seed'] == 0 and calls[0][1]['init_seed'] == 1
    assert calls[0][1]['outsider_target'] == 'auto'
    calls.clear()
    bulk.main(['-o', str(tmp_path), '--balanced'])
    assert calls[0][1]['outsider_target'] is None
    calls.clear()
    bulk.main(['-o', str(tmp_path), '--outsider-target', '0.02'])
    assert calls[0][1]['outsider_target'] == 0.02
    calls.clear()
    bulk.main(['-o', str(tmp_path), '--ordered', '2400', '--vacancy-ordered', '1200', '--no-composition-rule'])
    assert calls[0][1]['ordered'] == 2400 and calls[0][1]['composition'] is False
    assert calls[0][1]['vacancy_ordered'] == 1200
    calls.clear()
    bulk.main(['-o', str(tmp_path), '--teacher', 'T/model.safetensors', '--teacher-weight', '0.3'])
    assert calls[0][1]['teacher'] == 'T/model.safetensors' and calls[0][1]['teacher_weight'] == 0.3
    calls.clear()
    bulk.main(['-o', str(tmp_path), '--items', 'I', '--items-only', '--accelerator', 'gpu', '--calibration-draws', '3'])
    assert calls[0][1]['items'] == 'I' and calls[0][1]['items_only'] is True and calls[0][1]['accelerator'] == 'gpu'
    assert calls[0][1]['calibration_draws'] == 3
    joined = []
    monkeypatch.setattr(bulk, 'ensemble_bulk_models', lambda models, cache, output, **kw: joined.append((models, kw)))
    assert bulk.main(['-o', str(tmp_path), '--ensemble', 'a', 'b', '--cache', 'c']) == 0
    defaults = {'outsider_target': 'auto', 'composition': True, 'combine': 'geometric', 'score': 'softmax'}
    assert joined == [(['a', 'b'], defaults)]
    options = ['--combine', 'arithmetic', '--other-score', 'pairwise']
    assert bulk.main(['-o', str(tmp_path), '--ensemble', 'a', 'b', '--cache', 'c', *options]) == 0
    assert joined[1] == (['a', 'b'], {**defaults, 'combine': 'arithmetic', 'score': 'pairwise'})
    with pytest.raises(SystemExit):
        bulk.main(['-o', str(tmp_path), '--ensemble', 'a', 'b'])  # no --cache
    for bad in (['--outsider-target', '1.5'], ['--outsider-target', 'x'], ['--balanced', '--outsider-target', '0.02']):
        with pytest.raises(SystemExit):
            bulk.main(['-o', str(tmp_path), *bad])


def test_soft_targets_mix_the_label_with_the_teachers_probabilities():
    from aiida_crystalface.ml.bulk import soft_targets

    torch.manual_seed(0)
    names = ['fcc', 'bcc']
    rule = {'open_set': {'threshold': 0.9, 'temperature': 1.0}}
    teacher = Classifier(ConvNet(3, in_channels=3).eval(), names, SETTINGS, metadata=rule)
    images = np.random.default_rng(0).random((3, 3, 64, 64), dtype=np.float32)
    targets = np.array([0, 1, 2])
    probabilities = torch.softmax(torch.from_numpy(teacher.logits(images)), 1).numpy()
    assert np.allclose(soft_targets(teacher, names, images, targets, 0.0), np.eye(3))
    assert np.allclose(soft_targets(teacher, names, images, targets, 1.0), probabilities, atol=1e-6)
    half = soft_targets(teacher, names, images, targets, 0.5)
    assert half.dtype == np.float32 and np.allclose(half.sum(axis=1), 1.0, atol=1e-6)
    assert np.allclose(half, 0.5 * np.eye(3) + 0.5 * probabilities, atol=1e-6)
    with pytest.raises(ValueError, match='classes'):
        soft_targets(teacher, ['bcc', 'fcc'], images, targets)
    with pytest.raises(ValueError, match='teacher_weight'):
        soft_targets(teacher, names, images, targets, 1.5)


def test_part_items_are_built_once_then_read_for_the_same_recipe_only(monkeypatch, tmp_path):
    from aiida_crystalface.core import bulkset
    from aiida_crystalface.ml.bulk import part_items

    builds = []

    def fake_bulk_items(part, seed, **kwargs):
        builds.append((part, seed, kwargs))
        crystal = supercell_of_at_least(class_structure('hcp', 'random'), 50)
        return [crystal.replace(label=f'{part}-{i}', info={'label': 'hcp', 'draw': i}) for i in range(3)]

    monkeypatch.setattr(bulkset, 'bulk_items', fake_bulk_items)
    recipe = {'part': 'train', 'seed': 0, 'classes': ['hcp'], 'draws': 1, 'n_random': None, 'n_ordered': 0}
    built = part_items(recipe, tmp_path)
    assert (tmp_path / 'train-items.npz').is_file() and len(builds) == 1
    assert builds[0] == ('train', 0, {'classes': ['hcp'], 'draws': 1, 'n_random': None, 'n_ordered': 0})
    read = part_items(recipe, tmp_path)
    assert len(builds) == 1 and [s.label for s in read] == [s.label for s in built]
    assert [s.info for s in read] == [s.info for s in built]
    assert max(np.abs(a.cell - b.cell).max() for a, b in zip(read, built, strict=True)) == 0
    with pytest.raises(ValueError, match=r'train-items\.npz: written for another recipe'):
        part_items({**recipe, 'draws': 5}, tmp_path)
    assert len(part_items(recipe, None)) == 3 and len(builds) == 2  # no folder: built every time, written nowhere


def _vacant_and_ordered_fcc():
    """fcc with 3/8 of its sites vacant at random, and fcc with the same share vacant in an order: the conventional
    cubes of a 2 x 2 x 2 block of them, three of the eight emptied, the block repeated through the crystal. Both
    one element, 256 sites."""
    from ase.build import bulk

    from aiida_crystalface.core.defects import vacancies
    from aiida_crystalface.core.structures import AtomicStructure, to_atomic_structure

    edge = 3.61
    pristine = to_atomic_structure(bulk('Cu', 'fcc', a=edge, cubic=True).repeat(4))
    assert len(pristine) == 256
    random = vacancies(pristine, 3 / 8, seed=5)
    block = np.floor(pristine.positions / edge + 1e-6).astype(int) % 2
    keep = ~np.isin(block @ [1, 2, 4], [0, 3, 5])
    ordered = AtomicStructure(pristine.cell, pristine.positions[keep], pristine.numbers[keep], label='vacancy-ordered')
    assert len(ordered) == len(random) == 160
    return random, ordered


def test_disorder_rescue_gives_the_lattice_class_to_random_damage_only():
    """An fcc crystal with random vacancies that the network calls ``unknown`` gets ``fcc`` from the rescue; the same
    share of vacancies in an order stays ``unknown`` (its superlattice peak is far over the limit), and so does a
    two-element crystal on the same lattice."""
    from aiida_crystalface.core.orientation import disorder_limit

    names = ['fcc', 'bcc', 'hcp', 'l1_2']
    prototypes = bulk_prototypes(names)
    random, ordered = _vacant_and_ordered_fcc()
    alloy = random.replace(numbers=np.where(np.arange(len(random)) % 3 == 0, 79, random.numbers), label='alloy')
    batch = fingerprint_batch([random, ordered, alloy], SETTINGS)
    records = batch.lattices
    assert [r['species_count'] for r in records] == [1, 1, 2]
    limits = [disorder_limit(r['lattice_points'], r['diffuse_reflections'], 0.05) for r in records]
    assert records[0]['superlattice_peak'] <= limits[0] and records[1]['superlattice_peak'] > 2 * limits[1]
    net = ConvNet(len(names) + 1, in_channels=3)
    rule = {'threshold': 0.5, 'temperature': 1.0, 'lattice_rule': 'restrict'}
    classifier = Classifier(net, names, SETTINGS, metadata={'prototypes': prototypes, 'open_set': rule})
    logits = np.array([[1.0, -5.0, -5.0, -5.0, 3.0]] * 3)  # 'other' first: the network says unknown
    classifier.logits = lambda _images, **_: logits
    classifier.output_probabilities = lambda _images, **_: np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert [a['label'] for a in classifier.decide(batch.images, records)] == ['unknown'] * 3
    classifier.open_set['disorder_rescue'] = {'alpha': 0.05, 'error': 0.02}
    answers = classifier.decide(batch.images, records)
    assert [a['label'] for a in answers] == ['fcc', 'unknown', 'unknown']
    assert answers[0]['uncertainty'] == pytest.approx(0.02)
    # a record of an older version (no peak) and a cell of too few lattice points decide nothing
    old = {k: v for k, v in records[0].items() if k != 'superlattice_peak'}
    few = {**records[0], 'lattice_points': 8}
    assert [a['label'] for a in classifier.decide(batch.images[:2], [old, few])] == ['unknown', 'unknown']


def test_add_disorder_rescue_measures_itself_on_the_calibration_part(tmp_path):
    from aiida_crystalface.ml.bulk import add_disorder_rescue

    names = ['fcc', 'bcc', 'hcp', 'l1_2']
    random, ordered = _vacant_and_ordered_fcc()
    batch = fingerprint_batch([random, ordered], SETTINGS)
    net = ConvNet(len(names) + 1, in_channels=3).eval()
    rule = {'threshold': 0.0, 'temperature': 1.0, 'lattice_rule': 'restrict'}  # every answer unknown
    model = Classifier(net, names, SETTINGS, metadata={'prototypes': bulk_prototypes(names), 'open_set': rule})
    model.save(tmp_path / 'model.safetensors')
    cache = tmp_path / 'cache'
    cache.mkdir()
    np.savez(cache / 'calibration.npz', images=batch.images, targets=np.array([0, len(names)]))
    stale = [{k: v for k, v in record.items() if k != 'superlattice_peak'} for record in batch.lattices]
    (cache / 'calibration.json').write_text(__import__('json').dumps(stale))
    with pytest.raises(ValueError, match='superlattice_peak'):
        add_disorder_rescue(tmp_path / 'model.safetensors', cache, tmp_path / 'out')
    (cache / 'calibration.json').write_text(__import__('json').dumps(batch.lattices))
    rescued = add_disorder_rescue(tmp_path / 'model.safetensors', cache, tmp_path / 'out')
    record = rescued.open_set['disorder_rescue']
    assert record['alpha'] == 0.05 and record['calibration']['changed'] == 1 and record['calibration']['right'] == 1
    assert record['error'] == pytest.approx(1 / 3)  # (0 wrong + 1) / (1 changed + 2)
    assert record['calibration']['member_error_before'] == 1.0 and record['calibration']['member_error_after'] == 0.0
    assert [a['label'] for a in rescued.decide(batch.images, batch.lattices)] == ['fcc', 'unknown']
    assert (tmp_path / 'out' / 'metrics.json').is_file()
    with pytest.raises(ValueError, match='alpha'):
        add_disorder_rescue(tmp_path / 'model.safetensors', cache, tmp_path / 'bad', alpha=1.5)


def test_alloy_rescue_keeps_a_random_alloy_in_its_lattice_class_and_an_ordered_compound_in_its_own():
    """Cu with a quarter of its atoms Au: placed at random (a random alloy: fcc, as the paper's defective set labels
    it) or on the cube corners (L1_2 Cu3Au). The network is made to say L1_2 for both; with ``alloys`` the rescue
    gives the random one back to fcc, whose elements show no superlattice peak, and leaves the ordered one alone."""
    from ase.build import bulk

    from aiida_crystalface.core.orientation import disorder_limit
    from aiida_crystalface.core.structures import to_atomic_structure

    names = ['fcc', 'bcc', 'l1_2', 'cscl']
    prototypes = bulk_prototypes(names)
    cu = to_atomic_structure(bulk('Cu', 'fcc', a=3.7, cubic=True).repeat(4))
    rng = np.random.default_rng(11)
    random = cu.replace(numbers=np.where(np.isin(np.arange(256), rng.choice(256, 64, replace=False)), 79, 29))
    ordered = cu.replace(numbers=np.where(np.arange(256) % 4 == 0, 79, 29))  # ASE's cube: the corner atom first
    batch = fingerprint_batch([random, ordered], SETTINGS)
    records = batch.lattices
    limits = [disorder_limit(r['lattice_points'], r['diffuse_reflections'], 0.05) for r in records]
    assert (
        records[0]['species_superlattice_peak'] <= limits[0] < 5 * limits[1] < records[1]['species_superlattice_peak']
    )
    assert records[0]['superlattice_peak'] == records[1]['superlattice_peak'] == 0.0  # species blind: pristine fcc
    net = ConvNet(len(names) + 1, in_channels=3)
    rule = {'threshold': 0.9, 'temperature': 1.0, 'lattice_rule': 'restrict'}
    classifier = Classifier(net, names, SETTINGS, metadata={'prototypes': prototypes, 'open_set': rule})
    logits = np.array([[1.0, -5.0, 3.0, -5.0, -5.0]] * 2)  # L1_2 first, fcc second
    classifier.logits = lambda _images, **_: logits
    classifier.output_probabilities = lambda _images, **_: np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert [a['label'] for a in classifier.decide(batch.images, records)] == ['l1_2', 'l1_2']
    classifier.open_set['disorder_rescue'] = {'alpha': 0.05, 'error': 0.05}
    assert [a['label'] for a in classifier.decide(batch.images, records)] == ['l1_2', 'l1_2']  # one element only
    classifier.open_set['disorder_rescue']['alloys'] = True
    assert [a['label'] for a in classifier.decide(batch.images, records)] == ['fcc', 'l1_2']


def test_order_rescue_names_the_ordered_compound_the_elements_fix(tmp_path):
    """Cu3Au on fcc's sites, ordered (L1_2), placed at random (an alloy), and ordered with a third of the cube
    corners emptied in an order (a vacancy-ordered outsider). The network is made to say ``unknown`` for all. The
    order rescue names the ordered one L1_2 and only it; with ``policy='any'`` it also overrides a wrong class.
    ``add_order_rescue`` measures it on a calibration part and stores the class profiles."""
    from ase.build import bulk

    from aiida_crystalface.core.structures import AtomicStructure, to_atomic_structure
    from aiida_crystalface.ml.bulk import add_order_rescue

    names = ['fcc', 'bcc', 'l1_2', 'cscl']
    prototypes = bulk_prototypes(names)
    cu = to_atomic_structure(bulk('Cu', 'fcc', a=3.7, cubic=True).repeat(4))
    rng = np.random.default_rng(11)
    ordered = cu.replace(numbers=np.where(np.arange(256) % 4 == 0, 79, 29))  # ASE's cube: the corner atom first
    random = cu.replace(numbers=np.where(np.isin(np.arange(256), rng.choice(256, 64, replace=False)), 79, 29))
    cube = np.floor(ordered.positions / 3.7 + 1e-6).astype(int)
    keep = ~((np.arange(256) % 4 == 0) & (cube.sum(axis=1) % 3 == 0))  # corners of a third of the cubes emptied
    vacant = AtomicStructure(ordered.cell, ordered.positions[keep], ordered.numbers[keep], label='vacancy-ordered')
    batch = fingerprint_batch([ordered, random, vacant], SETTINGS)
    assert all('species_order' in record for record in batch.lattices)
    net = ConvNet(len(names) + 1, in_channels=3).eval()
    rule = {'threshold': 0.0, 'temperature': 1.0, 'lattice_rule': 'restrict'}  # every answer unknown
    model = Classifier(net, names, SETTINGS, metadata={'prototypes': prototypes, 'open_set': rule})
    model.save(tmp_path / 'model.safetensors')
    cache = tmp_path / 'cache'
    cache.mkdir()
    np.savez(cache / 'calibration.npz', images=batch.images, targets=np.array([2, 0, len(names)]))
    (cache / 'calibration.json').write_text(__import__('json').dumps(batch.lattices))
    rescued = add_order_rescue(tmp_path / 'model.safetensors', cache, tmp_path / 'out')
    record = rescued.open_set['order_rescue']
    assert set(record['profiles']) == {'l1_2', 'cscl'} and record['policy'] == 'unknown'
    assert record['calibration']['changed'] == 1 and record['calibration']['right'] == 1
    assert [a['label'] for a in rescued.decide(batch.images, batch.lattices)] == ['l1_2', 'unknown', 'unknown']
    assert rescued.decide(batch.images, batch.lattices)[0]['uncertainty'] == pytest.approx(record['error'])
    # a wrong class from the network: kept with policy 'unknown', overridden with 'any'
    logits = np.array([[-5.0, -5.0, -5.0, 3.0, -5.0]] * 3)  # cscl
    rescued.output_probabilities = lambda _images, **_: np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    rescued.open_set['threshold'] = 0.9
    rescued.open_set['lattice_rule_exempt'] = names  # the lattice rule would turn cscl away on fcc
    assert rescued.decide(batch.images, batch.lattices)[0]['label'] == 'cscl'
    rescued.open_set['order_rescue']['policy'] = 'any'
    assert rescued.decide(batch.images, batch.lattices)[0]['label'] == 'l1_2'
    with pytest.raises(ValueError, match='policy'):
        add_order_rescue(tmp_path / 'model.safetensors', cache, tmp_path / 'bad', policy='all')


def test_order_veto_keeps_one_element_classes_from_ordered_compounds(tmp_path, monkeypatch):
    """The network is made to say fcc for pure Cu, a random Cu-Au alloy on fcc's sites and ordered Cu3Au (L1_2), and
    hcp for wurtzite ZnO (an ordered compound on a hexagonal lattice with a basis). The order veto turns the answers
    for the two compounds into ``unknown`` and keeps the others; ``add_order_veto`` measures it on a calibration part
    (a right answer it made wrong would count as ``harmed``)."""
    from ase.build import bulk

    from aiida_crystalface.core.structures import to_atomic_structure
    from aiida_crystalface.ml.bulk import add_order_veto

    names = ['fcc', 'hcp', 'l1_2', 'wurtzite']
    prototypes = bulk_prototypes(names)
    cu = to_atomic_structure(bulk('Cu', 'fcc', a=3.7, cubic=True).repeat(4))
    rng = np.random.default_rng(3)
    ordered = cu.replace(numbers=np.where(np.arange(256) % 4 == 0, 79, 29))
    random = cu.replace(numbers=np.where(np.isin(np.arange(256), rng.choice(256, 64, replace=False)), 79, 29))
    zno = to_atomic_structure(bulk('ZnO', 'wurtzite', a=3.25, c=5.21).repeat((4, 4, 3)))
    batch = fingerprint_batch([cu, random, ordered, zno], SETTINGS)
    assert 'species_order_z' not in batch.lattices[0]
    assert abs(batch.lattices[1]['species_order_z']) < 10 < batch.lattices[2]['species_order_z']
    assert batch.lattices[3]['species_order_z'] > 10
    net = ConvNet(len(names) + 1, in_channels=3).eval()
    model = Classifier(net, names, SETTINGS, metadata={'prototypes': prototypes, 'open_set': {'threshold': 0.9}})
    logits = np.array([[3.0, -5.0, -5.0, -5.0, -5.0]] * 3 + [[-5.0, 3.0, -5.0, -5.0, -5.0]])
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    monkeypatch.setattr(Classifier, 'output_probabilities', lambda _self, _images, **_: probabilities)
    assert [a['label'] for a in model.decide(batch.images, batch.lattices)] == ['fcc', 'fcc', 'fcc', 'hcp']
    model.save(tmp_path / 'model.safetensors')
    cache = tmp_path / 'cache'
    cache.mkdir()
    np.savez(cache / 'calibration.npz', images=batch.images, targets=np.array([0, 0, 2, 3]))
    (cache / 'calibration.json').write_text(__import__('json').dumps(batch.lattices))
    vetoed = add_order_veto(tmp_path / 'model.safetensors', cache, tmp_path / 'out')
    record = vetoed.open_set['order_veto']
    assert record['z'] == 10.0 and record['calibration']['changed'] == 2 and record['calibration']['harmed'] == 0
    answers = vetoed.decide(batch.images, batch.lattices)
    assert [a['label'] for a in answers] == ['fcc', 'fcc', 'unknown', 'unknown']
    assert answers[2]['uncertainty'] == pytest.approx(record['error'])
    # compound classes are not vetoed: the same ordered crystal answered l1_2 stays l1_2
    logits[2] = [-5.0, -5.0, 3.0, -5.0, -5.0]
    probabilities[:] = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    vetoed.open_set['lattice_rule'] = None
    assert vetoed.decide(batch.images, batch.lattices)[2]['label'] == 'l1_2'
    with pytest.raises(ValueError, match='positive'):
        add_order_veto(tmp_path / 'model.safetensors', cache, tmp_path / 'bad', z=-1)
    without = tmp_path / 'old'
    without.mkdir()
    np.savez(without / 'calibration.npz', images=batch.images, targets=np.array([0, 0, 2, 3]))
    old = [{k: v for k, v in r.items() if k != 'species_order_z'} for r in batch.lattices]
    (without / 'calibration.json').write_text(__import__('json').dumps(old))
    with pytest.raises(ValueError, match='species_order_z'):
        add_order_veto(tmp_path / 'model.safetensors', without, tmp_path / 'bad')
