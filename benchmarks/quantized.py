"""Inference speed and answers of a model in float32, bfloat16 and int8 (``Classifier.quantize``), on the same images.

Run: ``.venv/bin/python benchmarks/quantized.py [--model bulk-59] [--cache DIR]`` (about 5 minutes on 2 cores, most
of it building the fingerprints; ``--cache`` keeps them).

Which data is which. The model's network was trained on the *train* part of
:func:`aiida_crystalface.core.bulkset.bulk_split` and its decision rule fitted on the *calibration* part, on float32
outputs. The int8 network's activation ranges are observed on members of the *train* part (one species tuple per
class, every damage variant): by default those stored in the model file (``python -m aiida_crystalface.ml.bulk
--quantize``, which observes them so), or observed anew with ``--observe N``. Every figure below comes from the
*test* part: the members and the open-set items of ``benchmarks/bulk_accuracy.py`` (species with an element no
training member had, prototypes and pyxtal seeds neither training nor calibration saw), without its cubic row.

Speed: ``Classifier.logits`` on the test members' fingerprints (batches of 512, the default), the best of three
passes after one warm-up, ``torch.set_num_threads`` left at torch's default (the machine's cores). The columns: images
per second; members right (the class); class rows under the issue's goal (``bulk_accuracy.py``'s count: pristine
99 %, every damaged row 95 %); outsiders given a class (AFLOW and pyxtal rows, right = ``unknown``); and the
share of all test items whose answer differs from the float32 answer.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    import collections

    from bulk_accuracy import fingerprints, test_items, versions

    from aiida_crystalface.core.bulkset import bulk_items
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.classifier import Classifier

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default='bulk-59', help='a bundled model name or a model file (default bulk-59)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--draws', type=int, default=2)
    parser.add_argument(
        '--observe',
        type=int,
        help="observe the int8 ranges anew on N train species tuples per class (default: the model file's stored "
        'parameters, else N = 1)',
    )
    parser.add_argument('--cache', type=Path, help='folder for the fingerprints (shared with bulk_accuracy.py)')
    args = parser.parse_args(argv)

    model = Classifier.load(args.model) if Path(args.model).is_file() else Classifier.pretrained(args.model)
    settings = FingerprintSettings.from_dict(model.settings)
    print(f'# model {args.model}; {versions()}', flush=True)
    members, others = test_items(args.seed, args.draws, list(model.classes))
    m_images, m_ok, m_lattices = fingerprints(members, settings, args.cache, 'members')
    o_images, o_ok, o_lattices = fingerprints(others, settings, args.cache, 'others')
    stored = model.metadata.get('int8')
    started = time.perf_counter()
    if args.observe is None and stored:
        model.quantize()
        where = f"the model file's parameters ({stored.get('observed_on', 'observed on unnamed images')})"
    else:
        observe = args.observe or 1
        observed = bulk_items('train', args.seed, classes=model.classes, draws=1, species_per_class=observe,
                              outsiders=False)  # fmt: skip
        q_images, _, _ = fingerprints(observed, settings, args.cache, f'observe-{observe}')
        started = time.perf_counter()
        model.quantize(q_images)
        where = f'ranges observed on {len(q_images)} train members'
    quantize_s = time.perf_counter() - started

    truth = [members[i].info['label'] for i in m_ok]
    counted = [others[i].info.get('kind') not in ('parent', 'low-contrast') for i in o_ok]
    rows, reference = [], None
    for precision in ('float32', 'bfloat16', 'int8'):
        model.logits(m_images[:512], precision=precision)  # warm-up: oneDNN prepares each batch shape once
        best = float('inf')
        for _ in range(3):
            started = time.perf_counter()
            model.logits(m_images, precision=precision)
            best = min(best, time.perf_counter() - started)
        m_answers = [a['label'] for a in model.decide(m_images, m_lattices, precision=precision)]
        o_answers = [a['label'] for a in model.decide(o_images, o_lattices, precision=precision)]
        answers = m_answers + o_answers
        reference = reference or answers
        right = np.mean([a == t for a, t in zip(m_answers, truth, strict=True)])
        cells = collections.defaultdict(list)
        for i, answer, label in zip(m_ok, m_answers, truth, strict=True):
            cells[(label, members[i].info['variant'])].append(answer == label)
        under = sum(np.mean(v) < (0.99 if row == 'pristine' else 0.95) for (_, row), v in cells.items())
        given = [a not in ('unknown', 'amorphous') for a, c in zip(o_answers, counted, strict=True) if c]
        changed = np.mean([a != b for a, b in zip(answers, reference, strict=True)])
        rows.append((precision, len(m_images) / best, 100 * right, under, sum(given), len(given), 100 * changed))

    print(f'\ntest part, seed {args.seed}: {len(m_ok)} members, {len(o_ok)} open-set items; int8: {where} '
          f'({quantize_s:.1f} s)\n')  # fmt: skip
    print(f'{"precision":10s} {"images/s":>9s} {"x float32":>9s} | {"members right":>13s} '
          f'{"rows < goal":>11s} {"outsiders given a class":>24s} | {"answers changed":>15s}')  # fmt: skip
    for precision, speed, right, under, n_given, n_out, changed in rows:
        print(f'{precision:10s} {speed:9.0f} {speed / rows[0][1]:9.2f} | {right:12.1f}% {under:11d} '
              f'{n_given:>9d} of {n_out} ({100 * n_given / n_out:.2f} %) | {changed:14.2f}%')  # fmt: skip
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
