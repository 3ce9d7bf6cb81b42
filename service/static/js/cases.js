// xuncha case pages: case steps, the dashboard's case list and the 巡查发现 form, in place
// (fetch, no page reload; the list keeps its filters). Every form also works without script.
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }

  function flash(text, error) {
    var el = $(".flash");
    if (!el) {
      el = document.createElement("div");
      var main = $("main");
      main.parentNode.insertBefore(el, main);
    }
    el.className = "flash " + (error ? "error" : "ok");
    el.setAttribute("role", "status");
    el.textContent = text;
  }

  function detail(resp) {
    return resp.json().then(function (body) {
      var first = body && body.problems && body.problems[0];
      return (first && first.message) || (body && body.detail) || ("请求失败（" + resp.status + "）");
    }, function () { return "请求失败（" + resp.status + "）"; });
  }

  function send(url, options) {
    options.credentials = "same-origin";
    return fetch(url, options).then(function (resp) {
      if (resp.ok) { return resp; }
      return detail(resp).then(function (msg) { throw new Error(msg); });
    });
  }

  function postJSON(url, body) {
    return send(url, {method: "POST", headers: {"Content-Type": "application/json"},
                      body: JSON.stringify(body)}).then(function (r) { return r.json(); });
  }

  function caseUrl(id) { return "/api/cases/" + encodeURIComponent(id); }

  function tooBig(input, maxMb) {
    var files = input ? Array.prototype.slice.call(input.files || []) : [];
    for (var i = 0; i < files.length; i++) {
      if (maxMb && files[i].size > maxMb * 1024 * 1024) {
        return "照片「" + files[i].name + "」超过 " + maxMb + " MB；请压缩后重试。";
      }
    }
    return "";
  }

  // ------------------------------------------------------------------ small maps
  function smallMap(el, geo, opts) {
    if (!el || !window.L) { return null; }
    var map = L.map(el, {zoomControl: true, attributionControl: !!geo.tiles.url, maxZoom: 19});
    if (geo.tiles && geo.tiles.url) {
      L.tileLayer(geo.tiles.url, {maxZoom: 19, attribution: geo.tiles.attribution}).addTo(map);
    }
    var outline = L.geoJSON({type: "FeatureCollection", features: (geo.outline || []).map(
      function (g) { return {type: "Feature", geometry: g, properties: {}}; })},
      {style: {color: "#1f3a5f", weight: 2, fill: true, fillOpacity: 0.05}, interactive: false});
    outline.addTo(map);
    if (opts && opts.point) {
      map.setView(opts.point, 17);
    } else if (outline.getLayers().length) {
      map.fitBounds(outline.getBounds());
    } else {
      map.setView([30.92, 113.92], 13);
    }
    return map;
  }

  function initCaseMap() {
    var el = $("#case-map"), data = $("#case-geo");
    if (!el || !data) { return; }
    var geo = JSON.parse(data.textContent);
    var map = smallMap(el, geo, {point: [geo.lat, geo.lon]});
    if (map) {
      L.circleMarker([geo.lat, geo.lon], {radius: 9, color: "#fff", weight: 3,
                                          fillColor: "#c62828", fillOpacity: 1}).addTo(map);
    }
  }

  // ------------------------------------------------------------------ the case page
  function initCasePage() {
    var page = $("#case-page");
    if (!page) { return; }
    var id = page.getAttribute("data-case");
    document.addEventListener("click", function (ev) {
      var button = ev.target.closest("#step-form button[name=to_status]");
      if (!button) { return; }
      ev.preventDefault();
      var form = button.form, error = $(".step-error", form);
      var note = $("#step-note-text", form).value.trim();
      var photos = $("#step-photos", form);
      var show = function (msg) { error.textContent = msg; error.hidden = false; };
      error.hidden = true;
      if (button.hasAttribute("data-note-required") && !note) {
        show("「" + button.textContent + "」必须填写说明：请在「说明」中写明理由。");
        $("#step-note-text", form).focus();
        return;
      }
      var big = tooBig(photos, Number(form.getAttribute("data-max-mb")));
      if (big) { show(big); return; }
      var data = new FormData();
      data.append("to_status", button.value);
      data.append("note", note);
      var who = $("#step-assignee", form).value;
      if (who) {
        var cut = who.indexOf(":");
        data.append("assignee_kind", who.slice(0, cut));
        data.append("assignee_id", who.slice(cut + 1));
      }
      Array.prototype.forEach.call(photos.files || [], function (f) { data.append("photos", f); });
      var buttons = form.querySelectorAll("button");
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
      var label = button.textContent;
      send(caseUrl(id) + "/steps", {method: "POST", body: data})
        .then(function () { return send("/cases/" + encodeURIComponent(id) + "/body", {method: "GET"}); })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          $("#case-body").innerHTML = html;
          flash("已" + label + "：案件 " + id + " 现为「" + $(".case-status").textContent + "」。");
        })
        .catch(function (err) {
          Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
          show(err.message);
        });
    });
  }

  // ------------------------------------------------------------------ the dashboard list
  function listSection() { return $("#cases[data-squad]"); }

  function currentQuery() {
    var list = $("#case-list");
    return list ? list.getAttribute("data-qs") || "" : "";
  }

  function reloadList(qs) {
    var section = listSection();
    var squad = section.getAttribute("data-squad");
    return send("/squad/" + encodeURIComponent(squad) + "/cases" + (qs ? "?" + qs : ""), {method: "GET"})
      .then(function (r) { return r.text(); })
      .then(function (html) {
        $("#case-list").outerHTML = html;
        var q = currentQuery();
        Array.prototype.forEach.call(section.querySelectorAll("a.export"), function (a) {
          a.href = a.getAttribute("data-base") + (q ? "?" + q : "");
        });
        var day = $("#case-filters input[name=date]");
        var url = location.pathname + "?" + (day && day.value ? "date=" + encodeURIComponent(day.value) + (q ? "&" : "") : "") + q + "#cases";
        history.replaceState(null, "", url);
      });
  }

  function filterQuery(form) {
    var parts = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "date" || !el.value) { return; }
      if (el.type === "checkbox" && !el.checked) { return; }
      if (el.name === "sort" && el.value === "overdue") { return; }
      parts.push(encodeURIComponent(el.name) + "=" + encodeURIComponent(el.value));
    });
    return parts.join("&");
  }

  function doStep(row, id, target, label, note) {
    var cell = $("td.status", row);
    var was = cell ? cell.textContent : "";
    if (cell) { cell.className = "status-pending"; cell.textContent = "处理中…"; }
    Array.prototype.forEach.call(row.querySelectorAll("button"), function (b) { b.disabled = true; });
    postJSON(caseUrl(id) + "/transitions", {to_status: target, note: note || ""})
      .then(function () { return reloadList(currentQuery()); })
      .then(function () { flash("案件 " + id + " 已改为「" + target + "」（" + label + "）。"); })
      .catch(function (err) {
        if (cell) { cell.className = "status"; cell.textContent = was; }
        Array.prototype.forEach.call(row.querySelectorAll("button"), function (b) { b.disabled = false; });
        flash("案件 " + id + " 状态未改变：" + err.message, true);
      });
  }

  function askNote(row, id, button) {
    var box = $("#step-note");
    var form = button.form;
    form.parentNode.appendChild(box);
    box.hidden = false;
    $(".step-note-title", box).textContent = "「" + button.textContent + "」的理由（必填）";
    var text = $("textarea", box);
    text.value = "";
    text.focus();
    box.onclick = function (ev) {
      if (ev.target.closest(".cancel")) { box.hidden = true; listSection().appendChild(box); return; }
      if (!ev.target.closest(".confirm")) { return; }
      if (!text.value.trim()) { text.focus(); text.setAttribute("aria-invalid", "true"); return; }
      box.hidden = true;
      listSection().appendChild(box);
      doStep(row, id, button.value, button.textContent, text.value.trim());
    };
  }

  function initList() {
    var section = listSection();
    if (!section) { return; }
    var filters = $("#case-filters");
    filters.addEventListener("submit", function (ev) {
      ev.preventDefault();
      reloadList(filterQuery(filters)).catch(function (err) { flash(err.message, true); });
    });
    filters.addEventListener("change", function (ev) {
      if (ev.target.tagName === "SELECT" || ev.target.type === "checkbox") {
        reloadList(filterQuery(filters)).catch(function (err) { flash(err.message, true); });
      }
    });
    section.addEventListener("click", function (ev) {
      var button = ev.target.closest(".status-form button[name=to_status]");
      if (!button) { return; }
      ev.preventDefault();
      var row = button.closest("tr");
      var id = button.form.getAttribute("data-case");
      if (button.hasAttribute("data-note-required")) {
        askNote(row, id, button);
      } else if (!button.hasAttribute("data-confirm") || window.confirm(button.getAttribute("data-confirm"))) {
        doStep(row, id, button.value, button.textContent, "");
      }
    });
  }

  // ------------------------------------------------------------------ 巡查发现
  function initFound() {
    var form = $("#found-form"), data = $("#found-geo");
    if (!form || !data) { return; }
    var geo = JSON.parse(data.textContent);
    var map = smallMap($("#found-map"), geo, null);
    var marker = null;
    var where = $("#found-where");

    function setPoint(latlng, how) {
      $("#found-lat").value = latlng.lat.toFixed(7);
      $("#found-lon").value = latlng.lng.toFixed(7);
      where.textContent = how + "：经度 " + latlng.lng.toFixed(6) + "，纬度 " + latlng.lat.toFixed(6) + "（可拖动标记修正）";
      if (!map) { return; }
      if (!marker) {
        marker = L.marker(latlng, {draggable: true, title: "发现位置（可拖动）"}).addTo(map);
        marker.on("dragend", function () { setPoint(marker.getLatLng(), "已修正位置"); });
      } else {
        marker.setLatLng(latlng);
      }
    }

    if (map) { map.on("click", function (ev) { setPoint(ev.latlng, "地图选点"); }); }
    $("#found-locate").addEventListener("click", function () {
      if (!navigator.geolocation) { flash("此浏览器不能定位；请在地图上点选位置。", true); return; }
      where.textContent = "正在定位…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        var ll = L.latLng(pos.coords.latitude, pos.coords.longitude);
        setPoint(ll, "手机定位（误差约 " + Math.round(pos.coords.accuracy || 0) + " 米）");
        if (map) { map.setView(ll, 17); }
      }, function (err) {
        where.textContent = "定位失败（" + err.message + "）；请在地图上点选位置。";
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var lon = $("#found-lon").value, lat = $("#found-lat").value;
      if (!lon || !lat) { flash("请先定位，或在地图上点选发现位置。", true); return; }
      var body = {category: form.elements.category.value, lon: Number(lon), lat: Number(lat),
                  address: form.elements.address.value, description: form.elements.description.value,
                  source: "巡查发现"};
      var photos = form.elements.photos;
      var button = $("button[type=submit]", form);
      button.disabled = true;
      postJSON("/api/cases", body).then(function (feature) {
        var id = feature.properties.case_id;
        var next = Promise.resolve();
        if (photos.files && photos.files.length) {
          var fd = new FormData();
          Array.prototype.forEach.call(photos.files, function (f) { fd.append("photos", f); });
          next = send(caseUrl(id) + "/photos", {method: "POST", body: fd}).catch(function (err) {
            flash("案件 " + id + " 已记录，但照片未保存：" + err.message, true);
            throw err;
          });
        }
        return next.then(function () { return reloadList(currentQuery()); }).then(function () {
          flash("已记录巡查发现案件 " + id + "，已进入本中队案件列表。");
          form.reset();
          where.textContent = "已记录。继续记录下一处：点「使用我的位置」或在地图上点选。";
          $("#found-lon").value = ""; $("#found-lat").value = "";
        });
      }).catch(function (err) {
        if (!/照片未保存/.test(($(".flash") || {}).textContent || "")) { flash("未记录：" + err.message, true); }
      }).then(function () { button.disabled = false; });
    });
  }

  function init() {
    window.xcCasesReady = true;
    initCaseMap();
    initCasePage();
    initList();
    initFound();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
