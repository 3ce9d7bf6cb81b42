"""The route sheet as a self-contained, print-friendly HTML page with an inline SVG map.

Same content as the PDF (:mod:`geo.sheets.pdf`): header, data label, route map (legend, scale bar
and north arrow outside the map frame), totals, the stops with checklists and sign-off, and room
for the work log. A 打印 button calls ``window.print()``; on a phone (≤ 600 px wide) each stop is
a card with labelled lines instead of a table row, so times never run into addresses. Every
string from the data is escaped (``html.escape``).
"""

from __future__ import annotations

import html

from geo.labels import KIND_COLOURS
from geo.sheets.draw import MapDrawing, layout_map, scale_label
from geo.sheets.model import SheetStop, TeamSheet

__all__ = ["render_html", "render_svg"]


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _pts(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


_SVG_STOP_R = 9.0
_SVG_STRIP = 26.0


def render_svg(drawing: MapDrawing) -> str:
    """The route map as an inline SVG element (names escaped).

    The map is framed; the scale bar and north arrow sit in a strip below the frame, so they
    never cover a stop. Spread markers (:func:`geo.sheets.draw.spread_markers`) get a leader
    line to their stop.
    """
    d = drawing
    total_h = d.height + _SVG_STRIP
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {d.width:.0f} {total_h:.0f}" '
           'role="img" aria-label="巡查路线图">',
           f'<rect width="{d.width:.0f}" height="{d.height:.0f}" fill="#fff"/>']
    for name, rings in d.polygons:
        path = " ".join("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in r) + " Z" for r in rings)
        out.append(f'<path d="{path}" fill="#f3f1ea" stroke="#969696" stroke-width="0.8" '
                   f'fill-rule="evenodd"><title>{_e(name)}</title></path>')
    for name, x, y in d.labels:
        out.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" fill="#777" '
                   f'text-anchor="middle">{_e(name)}</text>')
    if len(d.route) >= 2:
        out.append(f'<polyline points="{_pts(d.route)}" fill="none" stroke="#1e5ac8" '
                   'stroke-width="2.5" stroke-linejoin="round"/>')
    if d.start is not None:
        out.append(f'<rect x="{d.start[0] - 6:.1f}" y="{d.start[1] - 6:.1f}" width="12" '
                   'height="12" fill="#282828"><title>出发点（工作站）</title></rect>')
    for (_seq, x, y, _kind), (ax, ay) in zip(d.stops, d.anchors, strict=True):
        if (x, y) != (ax, ay):
            out.append(f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                       f'stroke="#444" stroke-width="1"/><circle cx="{ax:.1f}" cy="{ay:.1f}" '
                       'r="2" fill="#444"/>')
    for seq, x, y, kind in d.stops:
        colour = KIND_COLOURS.get(kind, "#555555")
        out.append(f'<g class="stop"><title>{_e(kind)} {seq}</title><circle cx="{x:.1f}" '
                   f'cy="{y:.1f}" r="{_SVG_STOP_R:g}" fill="{colour}" stroke="#fff" '
                   f'stroke-width="1.5"/><text x="{x:.1f}" y="{y + 3.8:.1f}" font-size="10.5" '
                   f'fill="#fff" text-anchor="middle">{seq}</text></g>')
    out.append(f'<rect x="0.5" y="0.5" width="{d.width - 1:.0f}" height="{d.height - 1:.0f}" '
               'fill="none" stroke="#000" stroke-width="1"/>')
    y0 = d.height + _SVG_STRIP / 2
    x1 = d.width - 40 - d.scale_len - 60
    out.append(f'<g class="scale"><line x1="{x1:.1f}" y1="{y0:.1f}" x2="{x1 + d.scale_len:.1f}" '
               f'y2="{y0:.1f}" stroke="#000" stroke-width="2"/><text x="{x1 + d.scale_len + 6:.1f}"'
               f' y="{y0 + 4:.1f}" font-size="11">{_e(scale_label(d.scale_m))}</text></g>')
    nx = d.width - 24
    out.append(f'<g class="north"><path d="M{nx:.1f},{y0 - 8:.1f} L{nx - 5:.1f},{y0 + 6:.1f} '
               f'L{nx + 5:.1f},{y0 + 6:.1f} Z" fill="#000"/><text x="{nx + 8:.1f}" '
               f'y="{y0 + 4:.1f}" font-size="11">北</text></g>')
    out.append("</svg>")
    return "\n".join(out)


_CSS = """
@page { size: A4 portrait; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
  sans-serif; font-size: 10pt; color: #000; max-width: 186mm; margin: 0 auto; }
h1 { font-size: 16pt; margin: 0 0 4px; } h2 { font-size: 12pt; margin: 6px 0; }
dl.info { display: grid; grid-template-columns: 4.5em 1fr; margin: 0 0 6px; gap: 1px 4px; }
dl.info dt { color: #555; } dl.info dd { margin: 0; overflow-wrap: anywhere; }
.data-label { color: #b41e1e; font-weight: bold; }
.map svg { width: 100%; height: auto; display: block; }
.legend span { margin-right: 1.2em; white-space: nowrap; display: inline-block; }
.legend i { display: inline-block; width: .8em; height: .8em; border-radius: 50%;
  margin-right: .3em; vertical-align: -1px; }
.legend i.station { border-radius: 1px; background: #282828; }
table.stops { width: 100%; border-collapse: collapse; margin-top: 4px; table-layout: fixed; }
table.stops th, table.stops td { border: 1px solid #444; padding: 3px; vertical-align: top;
  overflow-wrap: anywhere; line-break: strict; }
table.stops th { background: #e1e1e1; }
table.stops thead { display: table-header-group; }
table.stops tr { break-inside: avoid; page-break-inside: avoid; }
td.seq, td.win { text-align: center; }
.win .t { white-space: nowrap; } .leg { display: block; color: #444; font-size: 8.5pt; }
ul.check { list-style: none; margin: 0; padding: 0; } ul.check li::before { content: "□ "; }
.kind { font-weight: bold; }
.log { break-inside: avoid; page-break-inside: avoid; margin-top: 10px; }
.log .line { border-bottom: 1px solid #aaa; height: 7mm; }
.sign { display: flex; flex-wrap: wrap; gap: 4px 12px; justify-content: space-between;
  margin-top: 8mm; }
footer { margin-top: 8px; font-size: 8pt; color: #555; }
.toolbar { display: flex; justify-content: flex-end; margin-bottom: 6px; }
.print-btn { font: inherit; font-size: 11pt; padding: 6px 16px; border: 1px solid #1e5ac8;
  background: #1e5ac8; color: #fff; border-radius: 4px; cursor: pointer; }
@media print { .toolbar { display: none; } }
@media screen { body { padding: 12px; } }
@media screen and (max-width: 600px) {
  body { padding: 8px; font-size: 11pt; max-width: none; }
  h1 { font-size: 14pt; }
  table.stops, table.stops tbody, table.stops tr, table.stops td { display: block; width: 100%; }
  table.stops colgroup, table.stops thead { display: none; }
  table.stops tr { border: 1px solid #444; margin: 0 0 8px; padding: 4px 6px; }
  table.stops td { border: 0; padding: 2px 0; text-align: left; }
  table.stops td::before { content: attr(data-label) "："; color: #555; }
  td.seq { font-weight: bold; font-size: 12pt; }
  table.stops td.seq::before { content: "第 "; color: inherit; }
  table.stops td.seq::after { content: " 站"; }
  .win .t, .leg { display: inline; white-space: normal; } .leg::before { content: " · "; }
}
"""


_COLGROUP = "<colgroup>" + "".join(
    f'<col style="width:{w}%">' for w in (6, 13, 20, 23, 28, 10)
) + "</colgroup>"

def _html_row(sheet: TeamSheet, s: SheetStop) -> str:
    checks = "".join(f"<li>{_e(item)}</li>" for item in s.items())
    cat = s.category_text()
    leg = sheet.leg_text(s)
    leg_html = f'<span class="leg">{_e(leg)}</span>' if leg else ""
    return (
        f'<tr><td class="seq" data-label="序号">{_e(s.seq)}</td>'
        f'<td class="win" data-label="到达"><span class="t">{_e(sheet.window(s) or "—")}</span>'
        f"{leg_html}</td>"
        f'<td class="place" data-label="地点">{_e(s.community)}<br>{_e(s.address)}</td>'
        f'<td class="what" data-label="事项"><span class="kind">【{_e(s.kind)}】{_e(cat)}</span>'
        f"<br>{_e(s.what)}</td>"
        f'<td class="checks" data-label="检查要点"><ul class="check">{checks}</ul></td>'
        f'<td class="sign-cell" data-label="签认">到达：<br>签名：</td></tr>'
    )


def render_html(sheet: TeamSheet, *, map_width_px: float = 744, map_height_px: float = 380) -> str:
    """Render one team's route sheet as a self-contained, print-friendly HTML page.

    Parameters
    ----------
    sheet : TeamSheet
        The team, day and stops.
    map_width_px, map_height_px : float
        Size of the inline SVG route map's view box (it scales to the page width).

    Returns
    -------
    str
        An HTML document (UTF-8, ``lang="zh-CN"``, A4 ``@page`` rules, no external resources):
        a 打印 button (``window.print()``, hidden when printed), and on a phone (≤ 600 px) each
        stop as a card instead of a table row.
    """
    info = [("日期", f"{sheet.date_text()}　班次 {sheet.shift_text()}"),
            ("队员", sheet.members_text() or "（未指定）"), ("出发", sheet.start_name),
            ("备注", sheet.note)]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in info if v)
    label = sheet.data_label.strip()
    label_html = f'<p class="data-label">数据说明：{_e(label)}</p>' if label else ""
    legend = "".join(f'<span><i style="background:{c}"></i>{_e(k)}</span>'
                     for k, c in KIND_COLOURS.items())
    legend += '<span><i class="station"></i>工作站</span>'
    svg = render_svg(layout_map(sheet, width=map_width_px, height=map_height_px,
                                marker_r=_SVG_STOP_R))
    rows = "".join(_html_row(sheet, s) for s in sheet.stops)
    lines = "".join('<div class="line"></div>' for _ in range(3))
    log = "".join(f"<p>{t}</p>{lines}" for t in ("发现问题及处置情况（时间、地点、问题、措施）",
                                                 "居民接待（诉求、处理结果）",
                                                 "需复查 / 交接下一班事项"))
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(sheet.title())} {_e(sheet.date.isoformat())}</title><style>{_CSS}</style></head>
<body>
<div class="toolbar"><button type="button" class="print-btn" onclick="window.print()">打印路线单</button></div>
<h1>{_e(sheet.title())}</h1>
<dl class="info">{dl}</dl>{label_html}
<div class="map">{svg}</div>
<p class="legend">{legend}</p>
<p class="totals">{_e(sheet.totals_text())}</p>
<table class="stops">{_COLGROUP}<thead><tr><th>序号</th><th>到达时段</th><th>社区 / 地址</th>
<th>类型 / 事项</th><th>检查要点</th><th>签认</th></tr></thead>
<tbody>{rows}</tbody></table>
<section class="log"><h2>工作日志记录</h2>{log}
<div class="sign"><span>队员签名：</span><span>中队长审核：</span><span>返回时间：</span></div>
</section>
<footer>{_e(f"数据说明：{label}" if label else "xuncha 巡查路线单")}</footer>
</body></html>
"""
