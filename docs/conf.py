"""Sphinx configuration of the aiida-crystalface documentation (MyST Markdown, sphinx-click, aiida.sphinxext)."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault('MPLBACKEND', 'Agg')
# The build never touches the user's AiiDA configuration: a throwaway folder, and an in-memory profile below.
os.environ['AIIDA_PATH'] = tempfile.mkdtemp(prefix='crystalface-docs-')
atexit.register(shutil.rmtree, os.environ['AIIDA_PATH'], True)

from aiida_crystalface import __version__  # noqa: E402


def _load_temporary_profile() -> None:
    """Load a throwaway in-memory profile: ``.. aiida-workchain::`` loads one to build a spec, and CI has none yet."""
    from aiida.manage import get_manager
    from aiida.manage.configuration import load_profile
    from aiida.storage.sqlite_temp import SqliteTempBackend

    if get_manager().get_profile() is None:
        load_profile(SqliteTempBackend.create_profile('crystalface-docs'), allow_switch=True)


_load_temporary_profile()

project = 'aiida-crystalface'
author = 'The aiida-crystalface developers'
copyright = '2026, The aiida-crystalface developers'
version = release = __version__

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.intersphinx',
    'sphinx.ext.mathjax',
    'sphinx_click',
    'aiida.sphinxext',
]
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_enable_extensions = ['colon_fence', 'deflist', 'dollarmath']
myst_heading_anchors = 4
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']
# The docs never download anything: no intersphinx inventories are fetched.
intersphinx_mapping = {}
autodoc_mock_imports = []
nitpicky = False

html_theme = 'alabaster'
html_title = f'aiida-crystalface {version}'
html_theme_options = {
    'description': 'Crystal classification from diffraction fingerprints, with provenance',
    'fixed_sidebar': True,
}
