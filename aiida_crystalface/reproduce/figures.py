"""The PNG figures of the report (matplotlib's object API, no pyplot state) and the numbers read off them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ('write_all',)

#: Species of the Fig. 2c examples (one typical element per class).
FIG2C_SPECIES = {'fcc': 'Cu', 'diamond': 'Si', 'bcc': 'Fe', 'sc': 'Po'}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110)


def _save(figure, path: Path) -> str:
    figure.tight_layout()
    figure.savefig(path, format='png')
    return path.name


def _image_panel(axis, image: np.ndarray, title: str, *, diverging: bool = False) -> None:
    if diverging:
        limit = float(np.abs(image).max()) or 1.0
        shown = axis.imshow(image, cmap='RdBu_r', vmin=-limit, vmax=limit, interpolation='nearest')
        axis.figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.02)
    else:
        axis.imshow(image, cmap='gray', vmin=0, vmax=1, interpolation='nearest')
    axis.set_title(title, fontsize=8)
    axis.set_xticks([])
    axis.set_yticks([])


def fig2(settings, classifier, folder: Path, seed: int) -> dict:
    """Fig. 2c (four prototypes) and 2d-h (pristine fcc, 50 % vacancies, 0.15 angstrom displacements, differences)."""
    from .pipeline import fig2_structures
    from .prototype_templates import template_images

    examples = [template_images(settings, species)[1][i] for i, species in enumerate(FIG2C_SPECIES.values())]
    figure = _figure(8, 2.3)
    for axis, image, (label, species) in zip(figure.subplots(1, 4), examples, FIG2C_SPECIES.items(), strict=True):
        _image_panel(axis, image, f'{label} ({species})')
    files = {'fig2c': _save(figure, folder / 'fig2c_prototypes.png')}
    made = fig2_structures(settings, seed=seed)
    images = made['images']
    diffs = {key: images[key] - images['pristine'] for key in ('vacancies_50', 'displacements_0.15')}
    figure = _figure(12, 2.6)
    axes = figure.subplots(1, 5)
    _image_panel(axes[0], images['pristine'], '(d) fcc Cu, pristine')
    _image_panel(axes[1], images['vacancies_50'], '(e) 50 % vacancies')
    _image_panel(axes[2], images['displacements_0.15'], '(f) 0.15 Å displacements')
    _image_panel(axes[3], diffs['vacancies_50'], '(g) e - d', diverging=True)
    _image_panel(axes[4], diffs['displacements_0.15'], '(h) f - d', diverging=True)
    files['fig2dh'] = _save(figure, folder / 'fig2dh_defects.png')
    probabilities = classifier.predict(np.stack(list(images.values())))
    fcc = classifier.classes.index('fcc')
    numbers = {
        key: {
            'n_atoms': made['n_atoms'][key],
            'p_fcc': float(probabilities[i, fcc]),
            'label': classifier.classes[int(probabilities[i].argmax())],
        }
        for i, key in enumerate(images)
    }
    for key, diff in diffs.items():
        numbers[key]['max_abs_difference'] = float(np.abs(diff).max())
        numbers[key]['relative_l2_difference'] = float(np.linalg.norm(diff) / np.linalg.norm(images['pristine']))
    return {'files': files, 'numbers': numbers, 'seed': seed}


def _confusion_panel(axis, matrix: list, classes: list[str], title: str) -> None:
    matrix = np.asarray(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    shown = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    axis.imshow(shown, cmap='Blues', vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(matrix):
        axis.text(j, i, str(value), ha='center', va='center', fontsize=6, color='white' if shown[i, j] > 0.5 else 'k')
    axis.set_xticks(range(len(classes)), classes, fontsize=6, rotation=45)
    axis.set_yticks(range(len(classes)), classes, fontsize=6)
    axis.set_title(title, fontsize=7)


def confusion_figures(evaluation: dict, folder: Path) -> dict:
    """One PNG per evaluation: ConvNet (top row) and baseline (bottom row), overall and per defect variant."""
    files = {}
    for name, node in evaluation.items():
        scores = node['content']
        panels = [('all', scores)] + (list(scores['variants'].items()) if name == 'defective' else [])
        figure = _figure(1.9 * len(panels), 4.0)
        axes = figure.subplots(2, len(panels), squeeze=False)
        for column, (key, score) in enumerate(panels):
            for row, method in enumerate(('convnet', 'baseline')):
                result = score[method]
                title = f'{method} {key}\n{100 * result["accuracy"]:.1f} %'
                _confusion_panel(axes[row, column], result['confusion_matrix'], scores['classes'], title)
        files[name] = _save(figure, folder / f'confusion_{name}.png')
    return files


def series_figure(pooled: dict, path: Path, *, classes: list[str], xlabel: str, shade: tuple | None) -> str:
    figure = _figure(5.5, 3.6)
    axis = figure.subplots()
    levels = np.asarray(pooled['levels'], dtype=float) * (100 if shade is None else 1)
    if shade is not None:
        axis.axvspan(*shade, color='0.85', label='Lindemann range 0.1-0.2')
    for name in classes:
        mean = np.array([np.nan if v is None else v for v in pooled['mean'][name]], dtype=float)
        std = np.array([np.nan if v is None else v for v in pooled['std'][name]], dtype=float)
        axis.plot(levels, mean, marker='o', ms=3, label=name)
        axis.fill_between(levels, mean - std, mean + std, alpha=0.25)
    if any(pooled.get('no_lattice', [])):
        axis.plot(levels, pooled['no_lattice'], color='0.3', ls='--', marker='x', ms=3, label='no lattice (share)')
    axis.set_xlabel(xlabel)
    axis.set_ylabel('classification probability')
    axis.set_ylim(-0.05, 1.05)
    axis.legend(fontsize=7)
    return _save(figure, path)


def fig5(classifier, datasets: dict, models: dict, folder: Path) -> dict:
    """Fig. 5a: attentive response maps of an fcc test item; Fig. 5b: class templates over the pristine test set."""
    from aiida_crystalface.ml import explain

    from .evaluate_classifier import _close

    indices = np.asarray(models['random']['metrics']['test_indices'], dtype=np.int64)
    data = datasets['pristine'].open_dataset()
    try:
        images = data.get_images(indices)
        labels = np.array([classifier.classes.index(data.classes[i]) for i in data.labels], dtype=np.int64)
        # An fcc item of the test set; of the whole pristine set only when the test set has none (tiny runs).
        fcc = np.flatnonzero(labels == classifier.classes.index('fcc'))
        in_test = np.intersect1d(fcc, indices)
        chosen = int(in_test[0] if len(in_test) else fcc[0])
        fcc_image, source = data.get_images([chosen])[0], str(data.metadata['source'][chosen])
        labels = labels[indices]
    finally:
        _close(data)
    maps = explain.attentive_response_maps(classifier, fcc_image, top_k=4)
    explain.save_attentive_response_png(fcc_image, maps, folder / 'fig5a_response_maps.png', title=source)
    templates, counts = explain.class_templates(classifier, images, labels, top_k=4)
    explain.save_class_templates_png(templates, classifier.classes, folder / 'fig5b_class_templates.png', counts)
    return {
        'files': {'fig5a': 'fig5a_response_maps.png', 'fig5b': 'fig5b_class_templates.png'},
        'fcc_item': source,
        'fcc_item_in_test_set': bool(len(in_test)),
        'fcc_probability': float(maps.probabilities[classifier.classes.index('fcc')]),
        'top_filters': maps.filters.tolist(),
        'template_counts': counts.tolist(),
    }


def write_all(results: dict, datasets: dict, models: dict, folder: Path, config: Any) -> dict:
    """Write every figure into ``folder``; put the numbers read off them into ``results['figures']``."""
    from aiida_crystalface.core.diffraction import FingerprintSettings

    model = models['random']['model']
    classifier = model.load_classifier()
    settings = FingerprintSettings.from_dict(model.settings)
    out = {'fig2': fig2(settings, classifier, folder, config.data_seed)}
    out['confusion'] = confusion_figures(results['evaluation'], folder)
    pooled = {key: value['pooled'] for key, value in results['series'].items()}
    out['fig4a'] = series_figure(
        pooled['bcc_to_sc'],
        folder / 'fig4a_bcc_to_sc.png',
        classes=['bcc', 'sc'],
        xlabel='body-centre atoms removed (%)',
        shade=None,
    )
    out['fig4b'] = series_figure(
        pooled['lindemann'],
        folder / 'fig4b_lindemann.png',
        classes=list(classifier.classes),
        xlabel='Lindemann parameter',
        shade=(0.1, 0.2),
    )
    out['fig5'] = fig5(classifier, datasets, models, folder)
    results['figures'] = out
    return out
