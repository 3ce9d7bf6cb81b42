"""Tiny shared set-up for the notebooks: a Chinese font for matplotlib and the project's paths.

Not part of the library; the notebooks import it from their own folder (Jupyter, nbmake and
nbclient run a notebook with its folder as the working directory).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import font_manager

from geo.sheets import default_font_path

NOTEBOOKS = Path(__file__).resolve().parent
ROOT = NOTEBOOKS.parent
#: Real data and benchmarks live beside the repository (never copied into it).
SHARED = ROOT.parent / "shared"


def use_chinese_font() -> str:
    """Register the Noto Sans CJK SC font shipped by mplfonts for matplotlib; return its family."""
    path = default_font_path()
    font_manager.fontManager.addfont(str(path))
    family = font_manager.FontProperties(fname=str(path)).get_name()
    plt.rcParams["font.family"] = [family, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    plt.rcParams["figure.dpi"] = 100
    return family
