// xuncha officer's route (/route): 到达确认 with the time and, when the browser allows it, the
// phone's position; 记录发现 (a note on the visit); 开案件 (a 巡查发现 case at the stop).
// On the squad dashboard the same file fills the 完成情况 table (planned vs done per team).
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  function flash(text, error) {
    var el = $(".flash[role=status]");
    if (!el) {
      el = document.createElement("div");
      el.setAttribute("role", "status");
      var main = $("main");
      main.parentNode.insertBefore(el, main);
    }
    el.className = "flash " + (error ? "error" : "ok");
    el.textContent = text;
  }

  function send(url, options) {
    options.credentials = "same-origin";
    return fetch(url, options).then(function (resp) {
      if (resp.ok) { return resp.json(); }
      return resp.json().then(function (body) {
        var first = body && body.problems && body.problems[0];
        throw new Error((first && first.message) || (body && body.detail) || ("请求失败（" + resp.status + "）"));
      }, function () { throw new Error("请求失败（" + resp.status + "）"); });
    });
  }

  function postJSON(url, body) {
    return send(url, {method: "POST", headers: {"Content-Type": "application/json"},
                      body: JSON.stringify(body)});
  }

  // the phone's position if the browser allows it within a few seconds, else null
  function position() {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) { resolve(null); return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        resolve({lon: pos.coords.longitude, lat: pos.coords.latitude});
      }, function () { resolve(null); }, {enableHighAccuracy: true, timeout: 8000, maximumAge: 60000});
    });
  }

  function hhmm(iso) { return String(iso || "").slice(11, 16); }

  function initRoute(page) {
    var base = "/api/plans/" + encodeURIComponent(page.dataset.squad) + "/" + page.dataset.day;
    var counter = $("#n-done");

    function markDone(li, visit) {
      if (!li.classList.contains("done") && counter) { counter.textContent = String(Number(counter.textContent) + 1); }
      li.classList.add("done");
      var where = visit.lon != null ? "（已记录位置）" : "（未取得位置）";
      $(".state", li).textContent = "已到达 " + hhmm(visit.confirmed_at) + where;
      $(".arrive", li).disabled = true;
      if (visit.note) { $(".note", li).textContent = "发现：" + visit.note; }
    }

    function confirm(li, note) {
      return position().then(function (pos) {
        var body = {stop_id: li.dataset.stop};
        if (pos) { body.lon = pos.lon; body.lat = pos.lat; }
        if (note) { body.note = note; }
        return postJSON(base + "/visits", body);
      }).then(function (visit) { markDone(li, visit); return visit; });
    }

    $all("li.stop").forEach(function (li) {
      var arrive = $(".arrive", li);
      if (!arrive) { return; }
      arrive.addEventListener("click", function () {
        arrive.disabled = true;
        $(".state", li).textContent = "正在确认…";
        confirm(li, null).then(function (v) {
          flash("第 " + li.id.replace("stop-", "") + " 站已确认到达（" + hhmm(v.confirmed_at) + "）。");
        }).catch(function (err) {
          arrive.disabled = false;
          $(".state", li).textContent = "待到达";
          flash("未确认：" + err.message, true);
        });
      });
      var finding = $("form.finding", li), openCase = $("form.open-case", li);
      $(".finding-toggle", li).addEventListener("click", function () { finding.hidden = !finding.hidden; openCase.hidden = true; });
      $(".case-toggle", li).addEventListener("click", function () { openCase.hidden = !openCase.hidden; finding.hidden = true; });
      finding.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var note = finding.elements.note.value.trim();
        if (!note) { flash("请先填写发现情况。", true); return; }
        confirm(li, note).then(function () {
          finding.hidden = true;
          flash("已记录第 " + li.id.replace("stop-", "") + " 站的发现。");
        }).catch(function (err) { flash("发现未保存：" + err.message, true); });
      });
      openCase.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (!openCase.elements.category.value) { flash("请选择问题类型。", true); return; }
        var button = $("button[type=submit]", openCase);
        button.disabled = true;
        postJSON("/api/cases", {category: openCase.elements.category.value,
                                lon: Number(li.dataset.lon), lat: Number(li.dataset.lat),
                                address: openCase.elements.address.value,
                                description: openCase.elements.description.value,
                                source: "巡查发现"}).then(function (feature) {
          var id = feature.properties.case_id;
          openCase.hidden = true;
          var p = document.createElement("p");
          p.className = "small opened-case";
          var a = document.createElement("a");
          a.href = "/cases/" + encodeURIComponent(id);
          a.textContent = "已开案件 " + id;
          p.appendChild(a);
          li.appendChild(p);
          flash("已开案件 " + id + "（巡查发现），已进入本中队案件列表。");
        }).catch(function (err) { flash("案件未提交：" + err.message, true); })
          .then(function () { button.disabled = false; });
      });
    });
  }

  // dashboard: planned vs done per team
  function initProgress(box) {
    var url = "/api/plans/" + encodeURIComponent(box.dataset.squad) + "/" + box.dataset.day + "/visits";
    send(url, {method: "GET"}).then(function (data) {
      var body = $("tbody", box);
      body.textContent = "";
      data.teams.forEach(function (t) {
        var tr = document.createElement("tr");
        tr.dataset.team = t.team;
        [t.team_name, String(t.planned), String(t.done), String(t.pending), t.last || "—"].forEach(function (text, k) {
          var td = document.createElement("td");
          td.textContent = text;
          td.className = ["name", "planned", "done", "pending", "last"][k];
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      box.dataset.loaded = "1";
    }).catch(function (err) {
      $("tbody", box).innerHTML = "";
      var p = document.createElement("p");
      p.className = "small";
      p.textContent = "完成情况未能读取：" + err.message;
      box.appendChild(p);
    });
  }

  function init() {
    var page = $("#route-page");
    if (page) { initRoute(page); }
    var box = $("#progress");
    if (box) { initProgress(box); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
