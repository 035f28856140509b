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

  function timeline(d, t0, t1) {
    var span = Math.max(1, t1 - t0);
    function bar(cls, a, b, label) {
      var left = 100 * (a - t0) / span, width = Math.max(0.4, 100 * (b - a) / span);
      return '<span class="seg ' + cls + '" style="left:' + left.toFixed(3) + '%;width:' + width.toFixed(3) +
        '%" title="' + B.esc(label) + '"></span>';
    }
    return '<div class="timeline">' + d.splits.map(function (s) {
      return '<div class="lane"><span class="lane-label">' + s.split + '</span><div class="track">' +
        bar('is', s.train_s[0], s.train_s[1], 'split ' + s.split + ' train ' + day(s.train_s[0]) + '…' + day(s.train_s[1])) +
        bar('oos', s.test_s[0], s.test_s[1], 'split ' + s.split + ' test ' + day(s.test_s[0]) + '…' + day(s.test_s[1])) +
        '</div></div>';
    }).join('') + '<div class="legend"><span class="seg is key"></span> in-sample (train) ' +
      '<span class="seg oos key"></span> out-of-sample (test)</div></div>';
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
      var chart = LC.createChart(root.querySelector('.chart'), {
        autoSize: true, layout: {background: {color: col.bg}, textColor: col.text, attributionLogo: true},
        grid: {vertLines: {color: col.grid}, horzLines: {color: col.grid}},
        timeScale: {timeVisible: true, secondsVisible: false}
      });
      var s = chart.addSeries(LC.CandlestickSeries, {upColor: col.up, downColor: col.down, borderVisible: false,
        wickUpColor: col.up, wickDownColor: col.down});
      var data = new Array(c.time.length);
      for (var i = 0; i < c.time.length; i++) {
        data[i] = c.open[i] === null || c.close[i] === null ? {time: c.time[i]} :
          {time: c.time[i], open: c.open[i], high: c.high[i], low: c.low[i], close: c.close[i]};
      }
      s.setData(data);
      var marks = d.splits.map(function (sp) {
        var k = 0, lo = 0, hi = c.time.length - 1;
        while (lo <= hi) { var mid = (lo + hi) >> 1; if (c.time[mid] <= sp.test_s[0]) { k = mid; lo = mid + 1; } else hi = mid - 1; }
        return {time: c.time[k], position: 'aboveBar', shape: 'arrowDown', color: col.accent, text: 'test ' + sp.split};
      });
      LC.createSeriesMarkers(s, marks);
      B.V.markers = marks.length;
      chart.timeScale().fitContent();
      B.on('theme', function (cc) {
        chart.applyOptions({layout: {background: {color: cc.bg}, textColor: cc.text},
          grid: {vertLines: {color: cc.grid}, horzLines: {color: cc.grid}}});
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
