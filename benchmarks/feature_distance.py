"""A feature-distance score beside bulk-59's decision rule, on the *calibration* part: does it part members from
outsiders where ``p(other)`` does not?

Run: ``.venv/bin/python benchmarks/feature_distance.py --cache PARTS`` (``PARTS``: the folder that
``python -m aiida_crystalface.ml.bulk -o UNUSED --seed 0 --items ITEMS --items-only --cache PARTS`` writes, bulk-59's
train and calibration parts; about 10 minutes on 2 cores, most of it the hidden units of 21,000 images).

The score: each network's 256 hidden units (after the ReLU), a Gaussian per class with one shared covariance
(shrunk by 1 % of its mean variance) fitted on the *train* part's members, the squared Mahalanobis distance to each
class mean averaged over the two networks. A class's limit ``tau_c(q)`` is the q-quantile of its own train members'
distances. Two uses, both measured on the calibration part (the part the rule is fitted on and candidates are chosen
on; the test part is not touched):

- **gate**: a class is admitted only where the distance is under ``tau_c(q)`` (an extra admission, as the lattice
  rule is), and the threshold and ratio are fitted again (:func:`aiida_crystalface.ml.openset.calibrate`) under the
  bound;
- **rescue**: bulk-59's fitted rule unchanged, except that an item it calls ``unknown`` because ``p(other)`` is over
  the threshold gets its best admitted class where that class's distance is under ``tau_c(q)``.

Columns: calibration member and outsider errors, cubic one-element calibration crystals given a class (1000, as in
``bulk_calibration.py``), one-site (fcc, bcc, sc) members right.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

GATE_QUANTILES = (0.95, 0.98, 0.99, 0.995, 0.999, 1.0)
RESCUE_QUANTILES = (0.25, 0.5, 0.75, 0.8, 0.85, 0.9)


def hidden_units(model, images, batch_size=512):
    """Per network: (N, dense) float32, the hidden layer after its ReLU."""
    import torch
    from torch.nn import functional

    nets = list(model.net.members) if hasattr(model.net, 'members') else [model.net]
    out = []
    for net in nets:
        parts = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                x = torch.from_numpy(np.asarray(images[start : start + batch_size], np.float32))
                parts.append(functional.relu(net.hidden(torch.flatten(net.features(x), 1))).numpy())
        out.append(np.concatenate(parts))
    return out


def gaussian(features, targets, n_classes, shrink=0.01):
    """Class means and the shared precision matrix of the members (targets < n_classes)."""
    members = targets < n_classes
    means = np.stack([features[targets == c].mean(axis=0) for c in range(n_classes)])
    centred = features[members] - means[targets[members]]
    covariance = centred.T @ centred / len(centred)
    covariance += shrink * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    return means, np.linalg.inv(covariance)


def distances(features, means, precision):
    """(N, C) squared Mahalanobis distances."""
    projected = features @ precision
    own = np.einsum('ij,ij->i', projected, features)[:, None]
    return own - 2 * projected @ means.T + np.einsum('cj,jk,ck->c', means, precision, means)[None]


def main(argv=None) -> int:
    from bulk_accuracy import fingerprints

    from aiida_crystalface.core.bulkset import cubic_elemental_crystal
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.bulk import RESTRICT_RATIOS, _load_part
    from aiida_crystalface.ml.classifier import Classifier
    from aiida_crystalface.ml.openset import _answers, _softmax, calibrate

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cache', required=True, type=Path, help='the folder with train.npz and calibration.npz')
    parser.add_argument('--model', default='bulk-59', help='a bundled model name or a model file (default bulk-59)')
    parser.add_argument('--bound', type=float, default=0.005, help='the outsider bound of the gate refit')
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model = Classifier.load(args.model) if Path(args.model).is_file() else Classifier.pretrained(args.model)
    names, n = model.classes, len(model.classes)
    train_images, train_targets, _ = _load_part(args.cache, 'train')
    train_features = hidden_units(model, train_images)
    del train_images
    fits = [gaussian(f, train_targets, n) for f in train_features]
    own_rows = np.flatnonzero(train_targets < n)
    train_d = np.mean([distances(f[own_rows], *fit) for f, fit in zip(train_features, fits, strict=True)], axis=0)
    own = train_d[np.arange(len(own_rows)), train_targets[own_rows]]
    own_class = train_targets[own_rows]

    images, targets, lattices = _load_part(args.cache, 'calibration')
    settings = FingerprintSettings.from_dict(model.settings)
    cubic = [cubic_elemental_crystal(seed, 'calibration', 0) for seed in range(1000)]
    cubic_images, _, cubic_lattices = fingerprints(cubic, settings, args.cache, 'cubic-calibration-1000')
    sets = {}
    for key, imgs, lats in (('calibration', images, lattices), ('cubic', cubic_images, cubic_lattices)):
        feats = hidden_units(model, imgs)
        d = np.mean([distances(f, *fit) for f, fit in zip(feats, fits, strict=True)], axis=0)
        sets[key] = (model.logits(imgs), model.lattice_consistency(lats), d)
    members = targets < n
    one_site = np.isin(targets, [names.index(name) for name in ('fcc', 'bcc', 'sc')])
    print(f'# {args.model}; calibration part of {args.cache}: {int(members.sum())} members, '
          f'{int((~members).sum())} outsiders; 1000 cubic one-element crystals')  # fmt: skip
    calib_own = sets['calibration'][2][np.flatnonzero(members), targets[members]]
    print(f'median squared distance: train members to their class {np.median(own):.0f}, calibration members '
          f'{np.median(calib_own):.0f}, calibration outsiders to the nearest class '
          f'{np.median(sets["calibration"][2][~members].min(axis=1)):.0f}\n')  # fmt: skip

    def row(label, answers, cubic_answers):
        print(f'{label:<34} {100 * (answers[members] != targets[members]).mean():>12.2f}% '
              f'{100 * (answers[~members] != n).mean():>15.2f}% | {int((cubic_answers != n).sum()):>10d} of 1000 | '
              f'{int((answers[one_site] == targets[one_site]).sum()):>5d} of {int(one_site.sum())}')  # fmt: skip

    print(f'{"rule":<34} {"members wrong":>13} {"outsiders wrong":>16} | {"cubic given a class":>18} | one-site right')
    record = model.open_set
    temperature, threshold, ratio = record['temperature'], record['threshold'], record['restrict_ratio']

    def stored_rule(key, tau=None):
        logits, admitted, d = sets[key]
        p = _softmax(logits, temperature)
        base = _answers(p, threshold, admitted, True, ratio)
        if tau is None:
            return base
        best = np.where(admitted, p[:, :n], -1.0).argmax(axis=1)
        rows = np.arange(len(best))
        rescue = (base == n) & (p[:, n] > threshold) & admitted[rows, best] & (d[rows, best] <= tau[best])
        return np.where(rescue, best, base)

    row(f'{args.model} as fitted', stored_rule('calibration'), stored_rule('cubic'))
    for q in GATE_QUANTILES:
        tau = np.array([np.quantile(own[own_class == c], q) for c in range(n)])
        logits, admitted, d = sets['calibration']
        gated = admitted & (d <= tau)
        fitted = calibrate(logits, targets, gated, restrict=True, ratios=RESTRICT_RATIOS, outsider_target=args.bound)
        t, r = fitted['threshold'], fitted['restrict_ratio']
        answers = _answers(_softmax(logits, fitted['temperature']), t, gated, True, r)
        c_logits, c_admitted, c_d = sets['cubic']
        cubic_answers = _answers(_softmax(c_logits, fitted['temperature']), t, c_admitted & (c_d <= tau), True, r)
        row(f'gate q={q} (refit, bound {100 * args.bound:.1f} %)', answers, cubic_answers)
    for q in RESCUE_QUANTILES:
        tau = np.array([np.quantile(own[own_class == c], q) for c in range(n)])
        row(f'rescue q={q}', stored_rule('calibration', tau), stored_rule('cubic', tau))
    print(f'\n# {time.perf_counter() - started:.0f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
