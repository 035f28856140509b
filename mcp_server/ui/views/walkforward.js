// The walk-forward view: the candles, and under them every split's in-sample (train) and
// out-of-sample (test) window on the same time span, with their metrics in a table.
(function () {
  'use strict';
  var B = window.BST;
  var LC = window.LightweightCharts;
  var root = document.getElementById('content');
  var KEYS = [['sharpe', 'Sharpe'], ['total_return', 'return', 'pct'], ['max_drawdown', 'max DD', 'pct'],
    ['n_trades', 'trades']];

  function fmt(m, k) {
    var v = m ? m[k[0]] : null;
    return k[2] === 'pct' ? B.pct(v) : B.num(v);
  }

  function day(s) { return new Date(s * 1000).toISOString().slice(0, 10); }

  // Lanes under the chart, one per split. Without a chart the windows are placed by time
  // over the data's span; with one, on the chart's own time axis (placeOnChart), so they
  // follow its zoom and pan.
  function timeline(d, t0, t1) {
    var span = Math.max(1, t1 - t0);
    function bar(cls, a, b, what, s) {
      var left = 100 * (a - t0) / span, width = Math.max(0.4, 100 * (b - a) / span);
      return '<span class="seg ' + cls + '" data-a="' + a + '" data-b="' + b + '" style="left:' +
        left.toFixed(3) + '%;width:' + width.toFixed(3) + '%" title="' + B.esc('split ' + s.split + ' ' + what +
        ' ' + day(a) + '…' + day(b)) + '"></span>';
    }
    return '<div class="timeline">' + d.splits.map(function (s) {
      return '<div class="track"><span class="lane-label">' + s.split + '</span>' +
        bar('is', s.train_s[0], s.train_s[1], 'train', s) + bar('oos', s.test_s[0], s.test_s[1], 'test', s) +
        '</div>';
    }).join('') + '<div class="legend"><span class="seg is key"></span> in-sample (train) ' +
      '<span class="seg oos key"></span> out-of-sample (test)</div></div>';
  }

  function placeOnChart(ts, times) {
    var width = ts.width();
    root.querySelectorAll('.timeline .track').forEach(function (el) { el.style.width = width + 'px'; });
    root.querySelectorAll('.timeline .seg[data-a]').forEach(function (el) {
      var a = ts.logicalToCoordinate(B.indexOfTime(times, Number(el.getAttribute('data-a'))));
      var b = ts.logicalToCoordinate(B.indexOfTime(times, Number(el.getAttribute('data-b'))));
      var left = Math.max(0, a === null ? 0 : a), right = Math.min(width, b === null ? 0 : b);
      el.hidden = right <= left;
      el.style.left = left + 'px';
      el.style.width = Math.max(2, right - left) + 'px';
    });
  }

  function table(d) {
    var head = '<tr><th>split</th><th>train</th><th>test</th><th>params</th>' + KEYS.map(function (k) {
      return '<th>IS ' + k[1] + '</th>';
    }).join('') + KEYS.map(function (k) { return '<th>OOS ' + k[1] + '</th>'; }).join('') + '<th>note</th></tr>';
    var rows = d.splits.map(function (s) {
      var p = s.params ? Object.keys(s.params).map(function (k) { return k + '=' + s.params[k]; }).join(' ') : '–';
      return '<tr><td>' + s.split + '</td><td>' + day(s.train_s[0]) + ' … ' + day(s.train_s[1]) + '</td><td>' +
        day(s.test_s[0]) + ' … ' + day(s.test_s[1]) + '</td><td>' + B.esc(p) + '</td>' +
        KEYS.map(function (k) { return '<td>' + fmt(s.is, k) + '</td>'; }).join('') +
        KEYS.map(function (k) { return '<td>' + fmt(s.oos, k) + '</td>'; }).join('') +
        '<td>' + B.esc(s.note || '') + '</td></tr>';
    });
    return '<div class="table-wrap"><table class="splits">' + head + rows.join('') + '</table></div>';
  }

  function summary(d) {
    var eff = d.efficiency || {};
    var items = KEYS.map(function (k) { return [k[1] + ' (OOS)', fmt(d.oos, k)]; });
    Object.keys(eff).forEach(function (k) { items.push(['efficiency ' + k, B.num(eff[k])]); });
    return items.map(function (r) {
      return '<div class="metric"><span>' + B.esc(r[0]) + '</span><b>' + B.esc(r[1]) + '</b></div>';
    }).join('');
  }

  function show(d) {
    if (B.wrongKind(d, 'walkforward')) return;
    B.clear();
    var c = d.candles;
    if (!d.splits.length) {
      B.setStatus('empty', 'Walk-forward ' + d.id + ' has no finished split to show.');
      root.innerHTML = '';
      return;
    }
    B.setStatus('ready', '');
    var t0 = c.time.length ? c.time[0] : d.splits[0].train_s[0];
    var t1 = c.time.length ? c.time[c.time.length - 1] : d.splits[d.splits.length - 1].test_s[1];
    root.innerHTML = '<h2 class="title"></h2><div class="metrics">' + summary(d) + '</div>' +
      (d.synthetic ? '<ul class="notes"><li>Synthetic data, not market prices.</li></ul>' : '') +
      '<div class="chart-wrap short"><div class="chart"></div></div>' + timeline(d, t0, t1) + table(d);
    root.querySelector('.title').textContent = d.symbol + ' ' + d.interval + ' · ' + d.strategy +
      ' walk-forward · ' + d.mode + ' · ' + d.splits.length + ' splits';
    B.V.splits = d.splits.length;
    B.V.rows = d.splits.length;
    B.V.bars = c.time.length;
    if (c.time.length) {
      var col = B.colors();
      var chart = LC.createChart(root.querySelector('.chart'), B.chartOptions(col));
      var s = chart.addSeries(LC.CandlestickSeries, B.candleStyle(col));
      s.setData(B.candleSeries(c));
      var marks = d.splits.map(function (sp) {
        return {time: c.time[B.indexOfTime(c.time, sp.test_s[0])], position: 'aboveBar', shape: 'arrowDown',
          color: col.accent, text: 'test ' + sp.split};
      });
      LC.createSeriesMarkers(s, marks);
      B.V.markers = marks.length;
      var ts = chart.timeScale();
      ts.fitContent();
      var place = function () { placeOnChart(ts, c.time); };
      ts.subscribeVisibleLogicalRangeChange(place);
      ts.subscribeSizeChange(place);
      requestAnimationFrame(place);
      B.on('theme', function (cc) {
        chart.applyOptions(B.chartOptions(cc));
        s.applyOptions(B.candleStyle(cc));
      });
      B.onCleanup(function () { chart.remove(); });
    }
    B.V.renders += 1;
  }

  B.serve({
    noun: 'walk-forward', show: show,
    has: function (sc) { return !!sc.splits; },
    uri: function (sc) { return 'optimization://' + sc.id + '/view'; }
  });
})();
