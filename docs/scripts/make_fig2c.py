"""Draw docs/_static/fingerprints_four_classes.png: one fingerprint per class, as in the paper's Fig. 2c.

Run from the repository root: ``.venv/bin/python docs/scripts/make_fig2c.py``.
"""

from pathlib import Path

from ase.build import bulk

from aiida_crystalface.core.diffraction import fingerprints
from aiida_crystalface.core.render import save_fingerprint_grid

EXAMPLES = [('fcc', 'Cu', 3.61), ('diamond', 'Si', 5.43), ('bcc', 'Fe', 2.87), ('sc', 'Po', 3.35)]


def main() -> None:
    images = fingerprints([bulk(element, kind, a=a) for kind, element, a in EXAMPLES])
    titles = [f'{kind} ({element})' for kind, element, _ in EXAMPLES]
    target = Path(__file__).resolve().parents[1] / '_static' / 'fingerprints_four_classes.png'
    save_fingerprint_grid(images, titles, target)
    print(target)


if __name__ == '__main__':
    main()
