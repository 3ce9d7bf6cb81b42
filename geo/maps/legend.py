"""The fixed furniture of the folium maps: page CSS, the legend and the marker spiderfier.

The legend (:func:`legend_html`) lists every layer drawn, grouped (hotspot significance, team
routes, stop kinds, forecast ramp, stations, relocation points, demand); the groups sit side by
side and wrap, so the whole legend shows on a 1366×768 screen and, unfolded, on a 390×844 phone
(it scrolls only in a smaller frame). :class:`Spiderfier` spreads stacked markers on click
(OverlappingMarkerSpiderfier, served locally with the other assets), so each stop's popup is
reachable.
"""

from __future__ import annotations

import folium
from folium.plugins import OverlappingMarkerSpiderfier

from geo.labels import KIND_COLOURS
from geo.maps.layers import FORECAST_COLOURS, SIGNIFICANCE_COLOURS, esc

MAP_CSS = """<style>
.xc-label{white-space:nowrap;font-size:12px;color:#333;text-shadow:0 0 3px #fff,0 0 3px #fff;
 transform:translate(-50%,-160%);pointer-events:none;}
.xc-stop{width:22px;height:22px;border-radius:50%;border:3px solid #fff;color:#fff;
 font:bold 11px/16px sans-serif;text-align:center;box-sizing:border-box;box-shadow:0 0 2px #000;}
.xc-station{width:18px;height:18px;background:#333;color:#fff;font:12px/18px sans-serif;
 text-align:center;border-radius:3px;}
.xc-reloc{width:20px;height:20px;background:#2ca02c;color:#fff;font:12px/20px sans-serif;
 text-align:center;border-radius:50%;border:2px solid #fff;box-sizing:border-box;}
.xc-pop table{border-collapse:collapse;margin-top:4px}.xc-pop th{text-align:left;
 padding:1px 8px 1px 0;color:#555;font-weight:normal;white-space:nowrap}.xc-pop td{padding:1px 0}
.xc-box{position:fixed;z-index:1000;background:rgba(255,255,255,.94);border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.35);padding:6px 10px;font:12px/1.45 sans-serif;}
.xc-legend{bottom:34px;left:10px;max-width:min(760px,calc(100vw - 20px));
 max-height:calc(100vh - 110px);overflow:auto;box-sizing:border-box}
.xc-groups{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:flex-start;margin-top:2px}
.xc-group{min-width:0}.xc-gt{color:#555}.xc-entry{white-space:nowrap}
.xc-title{top:10px;left:50%;transform:translateX(-50%);font-size:15px;font-weight:bold;}
.xc-legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-2px;}
.xc-label-data{color:#b41e1e;font-size:12px;font-weight:normal}
.xc-legend summary{font-weight:bold;cursor:pointer}
@media (max-width:760px),(max-height:520px){
 .xc-title{font-size:12px;max-width:calc(100% - 110px);text-align:center}
 .xc-legend{bottom:30px;left:6px;max-width:calc(100vw - 12px);max-height:calc(100vh - 90px);
  font-size:11px;line-height:1.35;padding:4px 8px}
 .xc-groups{gap:2px 12px}
}
</style>"""
"""CSS of the map furniture (labels, stop/station/site markers, popups, title, legend)."""


def _entry(swatch: str, text: str) -> str:
    return f'<div class="xc-entry"><i style="{swatch}"></i>{esc(text)}</div>'


def _group(title: str, entries: list[str]) -> str:
    head = f'<div class="xc-gt">{esc(title)}</div>' if title else ""
    return f'<div class="xc-group">{head}{"".join(entries)}</div>'


def legend_html(*, hotspots: bool = False, forecast: bool = False,
                teams: dict[str, str] | None = None, stops: bool = False,
                stations: bool = False, relocation: bool = False,
                demand: bool = False, site_sets: dict[str, str] | None = None) -> str:
    """The legend of a map: one group per kind of layer drawn, every text escaped.

    Parameters
    ----------
    hotspots, forecast, stops, stations, relocation, demand : bool
        Which layers the map has.
    teams : dict of str to str, optional
        Team label → route colour.
    site_sets : dict of str to str, optional
        Scenario name → colour, for a comparison of relocation scenarios.
    """
    groups = []
    if hotspots:
        groups.append(_group("热点显著性（Gi*）", [
            _entry(f"background:{c}", k) for k, c in SIGNIFICANCE_COLOURS.items()]))
    if teams:
        groups.append(_group("巡查路线", [_entry(f"background:{c}", t) for t, c in teams.items()]))
    if stops:
        groups.append(_group("停靠点边框 = 类型", [
            _entry(f"border:3px solid {c};border-radius:50%;box-sizing:border-box", k)
            for k, c in KIND_COLOURS.items()]))
    other = []
    if forecast:
        ramp = "".join(f'<i style="background:{c};margin:0"></i>' for c in FORECAST_COLOURS)
        other.append(f'<div class="xc-entry">预测得分 低 {ramp} 高</div>')
    if stations:
        other.append(_entry("background:#333;border-radius:2px", "工作站"))
    if relocation:
        other.append(_entry(f"background:{KIND_COLOURS['疏导点']};border-radius:50%",
                            "疏导点（虚线：步行覆盖范围）"))
    if demand:
        other.append(_entry("background:#8e44ad;opacity:.6;border-radius:50%",
                            "摊贩需求（圆越大需求越多）"))
    for name, colour in (site_sets or {}).items():
        other.append(_entry(f"background:{colour};border-radius:50%", f"{name}的疏导点"))
    if other:
        groups.append(_group("", other))
    body = f'<div class="xc-groups">{"".join(groups)}</div>'
    return f'<details class="xc-box xc-legend" open><summary>图例</summary>{body}</details>'


class Spiderfier(OverlappingMarkerSpiderfier):
    """OverlappingMarkerSpiderfier over the markers people click (those with a popup).

    Add it after every layer: clicking a marker that hides others spreads them on a small circle
    with legs back to their place, and each then opens its own popup. Community name labels
    (no popup) are left alone.
    """

    def add_to(self, parent: folium.Element, name: str | None = None,
               index: int | None = None) -> folium.Element:
        out = super().add_to(parent, name=name, index=index)
        self.markers = [m for m in self.markers
                        if any(isinstance(c, folium.Popup) for c in m._children.values())]
        return out


def spiderfier() -> Spiderfier:
    """A :class:`Spiderfier` sized for the 22 px stop markers."""
    return Spiderfier(keep_spiderfied=True, nearby_distance=24, leg_weight=1.5)
