// The optimisation heatmap: the objective per (x, y) cell on a colour scale, the best
// cell starred, the overfitting statistics beside it; a click runs that cell's backtest
// (the app-only tool run_backtest_cell, or POST /ui/api/backtest-cell on the plain page)
// and shows its report under the heatmap.
(function () {
  'use strict';
  var B = window.BST;
  var root = document.getElementById('content');
  var current = null;

  function scale(v, lo, hi) {
    if (v === null || v === undefined) return 'transparent';
    var f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    var hue = Math.round(f * 120);  // red (worst) to green (best)
    return 'hsl(' + hue + ',65%,' + (42 + 14 * (1 - Math.abs(f - 0.5) * 2)) + '%)';
  }

  function overfitHtml(o) {
    if (!o) return '<p>No overfitting statistics for this search.</p>';
    var rows = [];
    var label = {n_trials: 'trials', best_sharpe: 'best Sharpe', expected_max_sharpe: 'expected max Sharpe (luck)',
      deflated_sharpe: 'deflated Sharpe (P true SR > 0)'};
    Object.keys(label).forEach(function (k) {
      if (k in o) rows.push([label[k], B.num(o[k])]);
    });
    if (o.pbo) {
      rows.push(['PBO (prob. of overfitting)', B.num(o.pbo.pbo)]);
      rows.push(['P(IS-best loses out of sample)', B.num(o.pbo.prob_oos_loss)]);
    }
    if (o.sharpe_ci) rows.push(['Sharpe ' + Math.round((o.sharpe_ci.level || 0.95) * 100) + ' % CI',
      B.num(o.sharpe_ci.low) + ' … ' + B.num(o.sharpe_ci.high)]);
    var notes = (o.notes || []).map(function (n) { return '<li>' + B.esc(n) + '</li>'; }).join('');
    return '<table class="kv">' + rows.map(function (r) {
      return '<tr><th>' + B.esc(r[0]) + '</th><td>' + B.esc(r[1]) + '</td></tr>';
    }).join('') + '</table>' + (notes ? '<ul class="notes">' + notes + '</ul>' : '');
  }

  function axisPicker(d) {
    if (B.V.mode !== 'mcp' || d.varied.length <= 2) return '';
    function sel(name, value) {
      return '<label>' + name + ' <select data-axis="' + name + '">' + d.varied.map(function (p) {
        return '<option' + (p === value ? ' selected' : '') + '>' + B.esc(p) + '</option>';
      }).join('') + '</select></label>';
    }
    return '<div class="axes">' + sel('x', d.axes[0]) + ' ' + sel('y', d.axes[1]) +
      ' <span class="muted">other parameters at the best row where evaluated</span></div>';
  }

  function gridHtml(d) {
    var lo = Infinity, hi = -Infinity;
    d.cells.forEach(function (c) {
      if (typeof c.score === 'number') { lo = Math.min(lo, c.score); hi = Math.max(hi, c.score); }
    });
    var at = {};
    d.cells.forEach(function (c, k) { at[c.x + ',' + c.y] = k; });
    var head = '<tr><th class="corner">' + B.esc(d.axes[1] || '') + ' \\ ' + B.esc(d.axes[0]) + '</th>' +
      d.x.map(function (v) { return '<th>' + B.esc(v) + '</th>'; }).join('') + '</tr>';
    var body = [];
    for (var j = d.y.length - 1; j >= 0; j--) {
      var tds = [];
      for (var i = 0; i < d.x.length; i++) {
        var k = at[i + ',' + j];
        if (k === undefined) { tds.push('<td class="none"></td>'); continue; }
        var c = d.cells[k];
        tds.push('<td class="cell' + (c.best ? ' best' : '') + '" data-k="' + k + '" style="background:' +
          scale(c.score, lo, hi) + '" title="' + B.esc(JSON.stringify(c.params)) + ' score ' +
          B.esc(B.num(c.score)) + '">' + (c.best ? '★' : '') + B.esc(B.num(c.score, 2)) + '</td>');
      }
      body.push('<tr><th>' + B.esc(d.y[j] === null ? '' : d.y[j]) + '</th>' + tds.join('') + '</tr>');
    }
    var legend = isFinite(lo) ? '<div class="legend"><span>' + B.esc(B.num(lo)) +
      '</span><span class="ramp"></span><span>' + B.esc(B.num(hi)) + '</span> ' +
      B.esc(d.objective && d.objective.label || 'score') + '</div>' : '';
    return '<table class="heat">' + head + body.join('') + '</table>' + legend;
  }

  function show(d) {
    if (B.wrongKind(d, 'heatmap')) return;
    B.clear();
    current = d;
    if (!d.cells.length) {
      B.setStatus('empty', 'Optimisation ' + d.id + ' has no scored combination to draw.');
      root.innerHTML = '';
      return;
    }
    B.setStatus('ready', '');
    root.innerHTML = '<h2 class="title"></h2>' + axisPicker(d) + '<div class="heat-row"><div class="heat-wrap">' +
      gridHtml(d) + '</div><aside class="overfit"><h3>Overfitting</h3>' + overfitHtml(d.overfit) +
      '</aside></div><p class="muted">Click a cell to run its backtest.</p><div id="detail"></div>';
    root.querySelector('.title').textContent = d.strategy + ' · ' + d.method + ' search · ' + d.evaluated +
      ' combinations · ' + (d.objective && d.objective.label || 'score') + ' by ' + d.axes.join(' × ');
    B.V.cells = d.cells.length;
    B.V.renders += 1;
  }

  function runCell(k) {
    var c = current.cells[k];
    var detail = document.getElementById('detail');
    detail.innerHTML = '<p class="status loading">Running ' + B.esc(JSON.stringify(c.params)) + '…</p>';
    var run = B.V.mode === 'mcp' ? B.callTool('run_backtest_cell', {id: current.id, params: c.params})
      : B.postJson('/ui/api/backtest-cell', {optimization_id: current.id, params: c.params});
    run.then(function (report) {
      if (B.wrongKind(report, 'report')) return;
      B.V.cellRuns += 1;
      B.renderReport(detail, report);
      B.V.cells = current.cells.length;
    }).catch(function (e) {
      detail.innerHTML = '';
      B.setStatus('error', 'Could not run that cell: ' + B.errorText(e));
    });
  }

  root.addEventListener('click', function (ev) {
    var td = ev.target.closest && ev.target.closest('td.cell');
    if (td && current) runCell(Number(td.getAttribute('data-k')));
  });
  root.addEventListener('change', function (ev) {
    var s = ev.target;
    if (!s.getAttribute || !s.getAttribute('data-axis') || !current) return;
    var picks = root.querySelectorAll('select[data-axis]');
    var uri = 'optimization://' + current.id + '/view?x=' + encodeURIComponent(picks[0].value) +
      '&y=' + encodeURIComponent(picks[1].value);
    B.readJson(uri).then(show).catch(function (e) {
      B.setStatus('error', 'Could not change the axes: ' + B.errorText(e));
    });
  });

  B.serve({
    noun: 'optimisation', show: show,
    has: function (sc) { return !!sc.table; },
    uri: function (sc) { return 'optimization://' + sc.id + '/view'; }
  });
})();
