"""fusion_edu: learn, trace and remix the feature-fusion and attention blocks of vision papers.

Importing this package needs only torch; the widgets, graphs and plots import ipywidgets,
graphviz and matplotlib when they are first used.
"""

from .autotrace import autotrace
from .blocks import BLOCKS, meta_trace
from .compare import compare
from .errors import ShapeError, raw_errors
from .lang import get_lang, set_lang
from .predict import predict
from .trace import Trace, note, section, trace

__version__ = "0.1.0"
__all__ = ["BLOCKS", "ShapeError", "Trace", "autotrace", "compare", "meta_trace", "note", "predict", "raw_errors",
           "section", "trace", "get_lang", "set_lang", "__version__"]
