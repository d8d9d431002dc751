"""Sphinx configuration: numpydoc API pages, MyST pages, the tutorial executed at build time.

Build with warnings as errors, from the repository root::

    pip install ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

import os
import sys
from pathlib import Path

import overhang_sim

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here / "_ext"))
# The tutorial's shell cells call `overhang`: the kernel inherits this PATH.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

project = "overhang-sim"
author = "The overhang-sim developers"
copyright = f"2026, {author}"
release = overhang_sim.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "model_files",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
root_doc = "index"

# API pages: autosummary writes one page per object; numpydoc renders the docstrings.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"           # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

intersphinx_mapping = {}             # no network at build time: references stay local

# MyST and the executed tutorial.
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"          # the tutorial runs on every build
nb_execution_timeout = 300
nb_execution_raise_on_error = True   # a failing cell fails the build
nb_execution_in_temp = True          # its files land in a temporary folder, not in docs/
nb_merge_streams = True

html_theme = "pydata_sphinx_theme"
html_title = f"overhang-sim {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_static_path = []
html_show_sourcelink = False
