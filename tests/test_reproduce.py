"""The reproduction pipeline in tiny mode: report and figures written, numbers equal to the stored nodes'."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_baseline_picks_the_most_similar_template():
    from aiida_crystalface.reproduce.baseline import NearestTemplateClassifier, cosine_similarity

    rng = np.random.default_rng(0)
    templates = rng.random((4, 8, 8))
    images = templates[[2, 0, 3]] * 5.0 + 0.01 * rng.random((3, 8, 8))  # scaled copies: cosine ignores the scale
    baseline = NearestTemplateClassifier(templates, ['a', 'b', 'c', 'd'])
    assert baseline.predict_indices(images).tolist() == [2, 0, 3]
    assert cosine_similarity(templates, templates).diagonal() == pytest.approx(1.0)
    assert cosine_similarity(np.zeros((1, 8, 8)), templates).tolist() == [[0.0] * 4]
    with pytest.raises(ValueError, match='templates'):
        NearestTemplateClassifier(templates, ['a', 'b'])


def test_pool_summaries_equals_the_statistics_of_all_samples():
    from aiida_crystalface.reproduce.pipeline import pool_summaries

    rng = np.random.default_rng(1)
    groups = [rng.random((n, 2)) for n in (3, 5)]  # per run: samples x levels of p(bcc)
    summaries = [
        {
            'levels': [0.0, 1.0],
            'classes': ['bcc'],
            'n': [len(g)] * 2,
            'mean': {'bcc': g.mean(0).tolist()},
            'std': {'bcc': g.std(0).tolist()},
            'fraction': {'bcc': [1.0, 0.0]},
        }
        for g in groups
    ]
    pooled = pool_summaries(summaries)
    every = np.vstack(groups)
    assert pooled['n'] == [8, 8]
    assert pooled['mean']['bcc'] == pytest.approx(every.mean(0).tolist())
    assert pooled['std']['bcc'] == pytest.approx(every.std(0).tolist())


def test_pool_summaries_leaves_out_samples_with_no_lattice():
    from aiida_crystalface.reproduce.pipeline import pool_summaries

    # Run 1: 4 samples per level, at level 1 one has no lattice; run 2: 2 samples, none with a lattice at level 1.
    first = {'levels': [0, 1], 'classes': ['bcc'], 'n': [4, 4], 'mean': {'bcc': [1.0, 0.5]}, 'std': {'bcc': [0, 0.1]},
             'fraction': {'bcc': [1.0, 0.5]}, 'no_lattice': [0.0, 0.25]}  # fmt: skip
    second = {'levels': [0, 1], 'classes': ['bcc'], 'n': [2, 2], 'mean': {'bcc': [0.7, None]},
              'std': {'bcc': [0.0, None]}, 'fraction': {'bcc': [1.0, 0.0]}, 'no_lattice': [0.0, 1.0]}  # fmt: skip
    pooled = pool_summaries([first, second])
    assert pooled['n'] == [6, 6]
    assert pooled['no_lattice'] == pytest.approx([0.0, 3 / 6])
    assert pooled['mean']['bcc'] == pytest.approx([0.9, 0.5])  # level 1: only the 3 classified samples of run 1
    assert pooled['std']['bcc'][1] == pytest.approx(0.1)
    only_none = pool_summaries([second])
    assert only_none['mean']['bcc'][1] is None and only_none['std']['bcc'][1] is None


def test_tiny_reproduction_writes_report_and_figures_consistent_with_the_nodes(aiida_profile, tmp_path):
    from aiida import orm

    from aiida_crystalface.calculations.train import get_local_code
    from aiida_crystalface.reproduce import ReproduceConfig, run_reproduction

    code = get_local_code(label='python-reproduce', computer_label='localhost-reproduce', workdir=tmp_path / 'work')
    config = ReproduceConfig.for_mode('tiny', data_seed=3)
    results = run_reproduction(config, tmp_path / 'out', code=code, echo=lambda _: None)

    report = (tmp_path / 'out' / 'report.md').read_text()
    figures = sorted(p.name for p in (tmp_path / 'out' / 'figures').glob('*.png'))
    assert figures == sorted(
        [
            'confusion_defective.png',
            'confusion_pristine_random.png',
            'confusion_pristine_species.png',
            'fig2c_prototypes.png',
            'fig2dh_defects.png',
            'fig4a_bcc_to_sc.png',
            'fig4b_lindemann.png',
            'fig5a_response_maps.png',
            'fig5b_class_templates.png',
        ]
    )
    for name in figures:
        assert f'figures/{name}' in report
    assert json.loads((tmp_path / 'out' / 'results.json').read_text())['config']['data_seed'] == 3

    # The scores in the report are those of the stored Dict, made by evaluate_classifier from the stored nodes.
    defective = orm.load_node(results['evaluation']['defective']['uuid'])
    scores = defective.get_dict()
    assert scores == results['evaluation']['defective']['content']
    assert len(scores['variants']) == 13
    dataset = orm.load_node(results['provenance']['defective dataset'])
    assert scores['n_items'] == dataset.n_items == 4 * 4 * 13  # 4 species x 4 classes x 13 variants
    assert sum(v['convnet']['n_items'] for v in scores['variants'].values()) == scores['n_items']
    assert f'{100 * scores["convnet"]["accuracy"]:.1f} %' in report
    process = defective.creator
    assert process.process_label == 'evaluate_classifier'
    inputs = {link.link_label: link.node.uuid for link in process.base.links.get_incoming().all()}
    assert inputs['model'] == results['provenance']['model (random split)']
    assert inputs['dataset'] == results['provenance']['defective dataset']

    # The pristine test score of the evaluation equals the training CalcJob's own test accuracy.
    random = results['evaluation']['pristine_random']['content']
    assert random['convnet']['accuracy'] == pytest.approx(results['training']['random']['test_accuracy'])
    assert random['n_items'] == results['training']['random']['training']['n_test']

    # The series: levels 0..1 and 0..0.4, with their WorkChains in the group of the run.
    pooled = results['series']['bcc_to_sc']['pooled']
    assert pooled['levels'] == pytest.approx([i / 10 for i in range(11)])
    group = orm.load_group(results['group'])
    uuids = {node.uuid for node in group.nodes}
    assert results['series']['lindemann']['runs'][0]['workchain']['uuid'] in uuids
    assert set(results['provenance'].values()) <= uuids
    assert results['group'] in report
