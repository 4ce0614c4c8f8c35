"""The DFT side of the plugin, set up from what Debian installs: localhost, pw.x as a code, a pseudopotential family.

``aiida-crystalface dft setup`` calls :func:`setup`; every step is idempotent (what exists is checked and reused):

1. the computer ``localhost`` (``core.local`` transport, ``core.direct`` scheduler), created and configured if missing;
2. Quantum ESPRESSO's ``pw.x`` (Debian package ``quantum-espresso``) as the InstalledCode ``pw@localhost`` for the
   ``quantumespresso.pw`` plugin;
3. the pseudopotential family :data:`DEFAULT_FAMILY`, an aiida-pseudo ``pseudo.family.cutoffs`` family made from UPF
   files that Debian's ``quantum-espresso-data`` ships (copied, or gunzipped, into a folder first), with the cutoffs
   that Quantum ESPRESSO's own example inputs use with each file set as the family's recommended cutoffs.

Nothing is downloaded. The family is one consistent functional set: LDA (Perdew-Zunger), the files of Quantum
ESPRESSO's ``PW/example01`` (Si, Al, Cu, Ni) plus Fe, Au, C and O, so that every class of the classifier has real
elements to compute: diamond (Si, C), fcc (Al, Cu, Ni, Au), bcc (Fe).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = (
    'DEFAULT_CODE_LABEL',
    'DEFAULT_COMPUTER_LABEL',
    'DEFAULT_FAMILY',
    'INSTALL_HINT',
    'PSEUDOPOTENTIALS',
    'UPF_SEARCH_PATHS',
    'DftSetupError',
    'Pseudopotential',
    'SetupResult',
    'ensure_localhost',
    'ensure_pseudo_family',
    'ensure_pw_code',
    'find_pw_executable',
    'find_upf_files',
    'load_pseudo_family',
    'load_pw_code',
    'setup',
)

#: What to do when pw.x or the pseudopotentials are missing (every error of this module ends with it).
INSTALL_HINT = (
    'install Quantum ESPRESSO and its data (`apt-get install quantum-espresso quantum-espresso-data`), '
    'then run `aiida-crystalface dft setup`'
)

DEFAULT_FAMILY = 'crystalface/qe-examples/LDA'
DEFAULT_CODE_LABEL = 'pw'
DEFAULT_COMPUTER_LABEL = 'localhost'

#: Where Debian's ``quantum-espresso-data`` puts UPF files: plain ones, and gzipped copies beside the examples.
UPF_SEARCH_PATHS: tuple[str, ...] = ('/usr/share/espresso/pseudo', '/usr/share/doc/quantum-espresso/examples')

#: The stringency under which the recommended cutoffs are stored on the family.
STRINGENCY = 'normal'


@dataclasses.dataclass(frozen=True)
class Pseudopotential:
    """One UPF file of the family and its recommended cutoffs (Ry), with the Quantum ESPRESSO input they come from."""

    filename: str
    cutoff_wfc: float
    cutoff_rho: float
    source: str


#: The family: element -> file and cutoffs (Ry). The cutoffs are those of the Quantum ESPRESSO example that uses the
#: file (``/usr/share/doc/quantum-espresso/examples/<source>/run_example.gz``); for norm-conserving files without an
#: ``ecutrho`` there, the default 4 x ecutwfc.
PSEUDOPOTENTIALS: dict[str, Pseudopotential] = {
    'Si': Pseudopotential('Si.pz-vbc.UPF', 18.0, 72.0, 'PW/example01'),
    'Al': Pseudopotential('Al.pz-vbc.UPF', 15.0, 60.0, 'PW/example01'),
    'Cu': Pseudopotential('Cu.pz-d-rrkjus.UPF', 25.0, 300.0, 'PW/example01'),
    'Ni': Pseudopotential('Ni.pz-nd-rrkjus.UPF', 24.0, 288.0, 'PW/example01'),
    'Fe': Pseudopotential('Fe.pz-nd-rrkjus.UPF', 25.0, 200.0, 'PW/example06'),
    'Au': Pseudopotential('Au.pz-rrkjus_aewfc.UPF', 25.0, 150.0, 'PWCOND/example03'),
    'C': Pseudopotential('C.pz-rrkjus.UPF', 25.0, 150.0, 'PWCOND/example03'),
    'O': Pseudopotential('O.pz-rrkjus.UPF', 25.0, 150.0, 'PWCOND/example03'),
}

# Quantum ESPRESSO's short names of the functional, spelled out as the other files of the family write it.
_FUNCTIONAL_ALIASES = {'LDA': 'SLA PZ NOGX NOGC', 'PZ': 'SLA PZ NOGX NOGC'}


class DftSetupError(RuntimeError):
    """pw.x, the computer, the code or the pseudopotential family is missing or not usable; the message says why."""


@dataclasses.dataclass
class SetupResult:
    """What :func:`setup` found or made: each node and whether it was created now."""

    computer: object
    code: object
    family: object
    created: dict[str, bool]


def find_pw_executable(executable: str | os.PathLike | None = None) -> Path:
    """Return the absolute path of pw.x: ``executable`` if given (a path or a name on ``PATH``), else ``pw.x``."""
    name = str(executable or 'pw.x')
    found = shutil.which(name)
    if found is None:
        where = f'{name} does not exist or is not executable' if os.sep in name else f'{name} is not on PATH'
        raise DftSetupError(f'Quantum ESPRESSO not found: {where}; {INSTALL_HINT}')
    return Path(os.path.abspath(found))


def ensure_localhost(label: str = DEFAULT_COMPUTER_LABEL, workdir: str | os.PathLike | None = None):
    """Return the computer ``label`` (created as ``core.local`` + ``core.direct`` when missing) and whether it is new.

    An existing computer is configured for the current user when it is not yet (what ``verdi computer configure``
    does); it must be a local ``core.local`` computer, since pw.x was found on this machine.
    """
    from aiida.manage.configuration import get_config, get_profile

    from aiida_crystalface.calculations.utils import local_computer

    if workdir is None:
        workdir = Path(get_config().dirpath) / 'scratch' / get_profile().name
    description = 'localhost, created by `aiida-crystalface dft setup`'
    computer, created = local_computer(label, workdir, description, poll_interval=1.0)
    if computer.transport_type != 'core.local':
        raise DftSetupError(
            f'computer {label!r} uses the transport {computer.transport_type!r}, not core.local: pw.x found on this '
            'machine cannot run there; pass another --computer label'
        )
    return computer, created


def ensure_pw_code(computer, executable: str | os.PathLike | None = None, label: str = DEFAULT_CODE_LABEL):
    """Return the InstalledCode ``label@computer`` for pw.x (created when missing) and whether it is new.

    An existing code with that label must point at the same executable: it is never changed behind the user's back.
    """
    from aiida import orm

    path = find_pw_executable(executable)
    query = orm.QueryBuilder().append(orm.Computer, filters={'id': computer.pk}, tag='computer')
    query.append(orm.InstalledCode, with_computer='computer', filters={'label': label})
    existing = query.all(flat=True)
    if existing:
        code = existing[0]
        if Path(str(code.filepath_executable)) != path:
            raise DftSetupError(
                f'the code {code.full_label} exists but runs {code.filepath_executable}, not {path}: pass another '
                '--code-label, or delete it (`verdi code delete`) and run `aiida-crystalface dft setup` again'
            )
        return code, False
    code = orm.InstalledCode(
        label=label,
        computer=computer,
        filepath_executable=str(path),
        default_calc_job_plugin='quantumespresso.pw',
        description="Quantum ESPRESSO's pw.x from Debian's quantum-espresso package",
    ).store()
    return code, True


def find_upf_files(
    elements: Iterable[str] | None = None, search_paths: Sequence[str | os.PathLike] = UPF_SEARCH_PATHS
) -> dict[str, Path]:
    """Locate the UPF file of every element of the family (plain or ``.gz``) under ``search_paths``.

    Each folder is looked in directly, then recursively; the first match wins.
    """
    elements = list(PSEUDOPOTENTIALS) if elements is None else list(elements)
    unknown = sorted(set(elements) - set(PSEUDOPOTENTIALS))
    if unknown:
        raise DftSetupError(f'elements {unknown} are not in the family (it has {sorted(PSEUDOPOTENTIALS)})')
    found: dict[str, Path] = {}
    folders = [Path(p) for p in search_paths if Path(p).is_dir()]
    for element in elements:
        filename = PSEUDOPOTENTIALS[element].filename
        for folder in folders:
            candidates = [folder / filename, folder / f'{filename}.gz']
            match = next((c for c in candidates if c.is_file()), None)
            if match is None:
                match = next(
                    (c for c in sorted(folder.rglob(f'{filename}*')) if c.name in (filename, f'{filename}.gz')), None
                )
            if match is not None:
                found[element] = match
                break
    missing = [PSEUDOPOTENTIALS[e].filename for e in elements if e not in found]
    if missing:
        where = ', '.join(str(p) for p in search_paths)
        raise DftSetupError(f'pseudopotential files {missing} not found under {where}; {INSTALL_HINT}')
    return found


def _read_upf(path: Path) -> bytes:
    if path.suffix == '.gz':
        with gzip.open(path, 'rb') as handle:
            return handle.read()
    return path.read_bytes()


def _functional(content: bytes, name: str) -> str:
    text = content.decode('utf-8', errors='replace')
    match = re.search(r'functional\s*=\s*"([^"]*)"', text) or re.search(r'^\s*(.+?)\s+Exchange-Correlation', text, re.M)
    if match is None:
        raise DftSetupError(f'{name}: no exchange-correlation functional found in the file')
    value = ' '.join(match.group(1).split()).upper()
    return _FUNCTIONAL_ALIASES.get(value, value)


def ensure_pseudo_family(
    label: str = DEFAULT_FAMILY, search_paths: Sequence[str | os.PathLike] = UPF_SEARCH_PATHS
) -> tuple[object, bool]:
    """Return the family ``label`` (installed through aiida-pseudo when missing) and whether it is new.

    The UPF files are copied (or gunzipped) into a temporary folder, checked to share one functional, installed as a
    ``pseudo.family.cutoffs`` family with ``CutoffsPseudoPotentialFamily.create_from_folder`` and given their
    recommended cutoffs (Ry, stringency ``normal``). An existing family is checked (type, elements) and gets the
    cutoffs if it lacks them.
    """
    from aiida import orm
    from aiida.common.exceptions import NotExistent
    from aiida_pseudo.data.pseudo import UpfData
    from aiida_pseudo.groups.family import CutoffsPseudoPotentialFamily

    cutoffs = {e: {'cutoff_wfc': p.cutoff_wfc, 'cutoff_rho': p.cutoff_rho} for e, p in PSEUDOPOTENTIALS.items()}
    try:
        family = orm.load_group(label)
    except NotExistent:
        family = None
    if family is not None:
        if not isinstance(family, CutoffsPseudoPotentialFamily):
            raise DftSetupError(
                f'the group {label!r} exists but is a {type(family).__name__}, not a pseudopotential family with '
                'cutoffs: pass another --family label'
            )
        missing = sorted(set(PSEUDOPOTENTIALS) - set(family.elements))
        if missing:
            raise DftSetupError(f'the family {label!r} exists but lacks {missing}: pass another --family label')
        if STRINGENCY not in family.get_cutoff_stringencies():
            family.set_cutoffs(cutoffs, STRINGENCY, unit='Ry')
        return family, False

    files = find_upf_files(search_paths=search_paths)
    functionals = {}
    with tempfile.TemporaryDirectory(prefix='crystalface-upf-') as folder:
        for element, path in files.items():
            content = _read_upf(path)
            functionals[PSEUDOPOTENTIALS[element].filename] = _functional(content, str(path))
            (Path(folder) / PSEUDOPOTENTIALS[element].filename).write_bytes(content)
        if len(set(functionals.values())) != 1:
            raise DftSetupError(f'the UPF files do not share one functional: {functionals}')
        description = (
            f'LDA ({next(iter(functionals.values()))}) UPF files of Debian quantum-espresso-data, installed by '
            '`aiida-crystalface dft setup`; cutoffs from the Quantum ESPRESSO examples that use them'
        )
        family = CutoffsPseudoPotentialFamily.create_from_folder(
            Path(folder), label, description=description, pseudo_type=UpfData
        )
    family.set_cutoffs(cutoffs, STRINGENCY, unit='Ry')
    return family, True


def setup(
    computer_label: str = DEFAULT_COMPUTER_LABEL,
    code_label: str = DEFAULT_CODE_LABEL,
    family_label: str = DEFAULT_FAMILY,
    executable: str | os.PathLike | None = None,
    search_paths: Sequence[str | os.PathLike] = UPF_SEARCH_PATHS,
) -> SetupResult:
    """Make (or find) the computer, the pw.x code and the pseudopotential family, in the loaded profile.

    pw.x and the UPF files are looked for before anything is stored, so a machine without Quantum ESPRESSO gets the
    error (naming what to install) and an unchanged profile.
    """
    find_pw_executable(executable)
    find_upf_files(search_paths=search_paths)
    computer, new_computer = ensure_localhost(computer_label)
    code, new_code = ensure_pw_code(computer, executable, code_label)
    family, new_family = ensure_pseudo_family(family_label, search_paths)
    return SetupResult(computer, code, family, {'computer': new_computer, 'code': new_code, 'family': new_family})


def load_pw_code(label: str = f'{DEFAULT_CODE_LABEL}@{DEFAULT_COMPUTER_LABEL}'):
    """Load the pw.x code (``label@computer``); a missing one raises :class:`DftSetupError` saying how to make it."""
    from aiida import orm
    from aiida.common.exceptions import MultipleObjectsError, NotExistent

    try:
        return orm.load_code(label)
    except (NotExistent, MultipleObjectsError) as exception:
        raise DftSetupError(f'no pw.x code {label!r} in this profile ({exception}); {INSTALL_HINT}') from None


def load_pseudo_family(label: str = DEFAULT_FAMILY):
    """Load the pseudopotential family ``label``; a missing one raises :class:`DftSetupError` naming the fix."""
    from aiida import orm
    from aiida_pseudo.groups.family import PseudoPotentialFamily

    found = orm.QueryBuilder().append(PseudoPotentialFamily, filters={'label': label}).all(flat=True)
    if not found:
        raise DftSetupError(f'no pseudopotential family {label!r} in this profile; {INSTALL_HINT}')
    return found[0]
