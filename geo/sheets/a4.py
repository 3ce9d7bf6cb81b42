"""The A4 document both printed forms share: the route sheet (路线单) and the work log (工作日志).

:class:`A4Document` embeds the Chinese font, sets the margins, page breaks and metadata, and draws
the running header (pages after a form's first page) and the footer (data label in red when there
is one, page ``n / total``). A form subclasses it and says what its running header reads
(:meth:`A4Document.running_title`), what its data label is and what the footer says without one.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from geo.errors import InputError

FONT = "cjk"
"""The family name the embedded Chinese font is registered under."""
MARGIN_MM = 12.0
CONTENT_W_MM = 210.0 - 2 * MARGIN_MM
"""Text width of an A4 page with :data:`MARGIN_MM` on both sides (186 mm)."""
RED = (190, 30, 30)


def default_font_path() -> Path:
    """Path of NotoSansCJKsc-Regular.otf as shipped by the ``mplfonts`` package.

    Raises
    ------
    InputError
        If mplfonts is not installed or lacks the font; pass ``font_path`` instead.
    """
    try:
        import mplfonts
    except ImportError as exc:  # pragma: no cover - mplfonts is a dependency
        raise InputError("缺少中文字体：请安装 mplfonts，或通过 font_path 指定字体文件。") from exc
    path = Path(mplfonts.__file__).resolve().parent / "fonts" / "NotoSansCJKsc-Regular.otf"
    if not path.is_file():
        raise InputError(f"未找到中文字体 {path}；请通过 font_path 指定 .otf/.ttf 字体文件。")
    return path


class A4Document(FPDF):
    """A portrait A4 document with the embedded CJK font, running header and footer.

    Parameters
    ----------
    title : str
        The PDF's title metadata.
    font_path : str or Path, optional
        A Chinese ``.otf``/``.ttf`` font to embed (subset); default :func:`default_font_path`.
    grey : tuple of int
        RGB of the header and footer text.
    """

    footer_fallback = "xuncha"
    """What the footer says where the form has no data label."""

    def __init__(self, *, title: str, font_path: str | Path | None = None,
                 grey: tuple[int, int, int] = (90, 90, 90)) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.form_first_page = 1
        self.grey = grey
        font = str(font_path) if font_path is not None else str(default_font_path())
        self.add_font(FONT, fname=font)
        self.add_font(FONT, style="B", fname=font)
        self.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        self.set_auto_page_break(True, margin=15)
        self.set_title(title)
        self.set_creator("xuncha")
        self.set_lang("zh-CN")

    def start_form(self) -> None:
        """Begin a form on a new page (its first page has no running header)."""
        self.form_first_page = self.page_no() + 1
        self.add_page()

    def running_title(self) -> str:
        """The running header of pages after the form's first; override."""
        return ""

    def data_label(self) -> str:
        """The data label (e.g. 模拟数据) printed in red in the footer; override."""
        return ""

    def header(self) -> None:
        if self.page_no() == self.form_first_page:
            return
        self.set_font(FONT, size=8)
        self.set_text_color(*self.grey)
        self.cell(0, 5, self.running_title(), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(1)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT, size=7.5)
        label = self.data_label().strip()
        self.set_text_color(*(RED if label else self.grey))
        self.cell(CONTENT_W_MM * 0.7, 5, f"数据说明：{label}"[:80] if label else self.footer_fallback)
        self.set_text_color(*self.grey)
        self.cell(0, 5, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align="R")
        self.set_text_color(0, 0, 0)
