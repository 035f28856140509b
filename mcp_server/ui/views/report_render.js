// The backtest report: candles with entry/exit markers, equity (with buy-and-hold) and
// drawdown panes on the candles' time axis, the headline metrics and the trades table.
// The server sends columns already bucketed to a few thousand bars (report_data), so the
// work here is linear in bars + trades: no per-trade search over the bars.
(function () {
  'use strict';
  var B = window.BST;
  var LC = window.LightweightCharts;
  var METRICS = [
    ['total_return', 'Return', 'pct'], ['cagr', 'CAGR', 'pct'], ['max_drawdown', 'Max drawdown', 'pct'],
    ['sharpe', 'Sharpe'], ['sortino', 'Sortino'], ['calmar', 'Calmar'], ['n_trades', 'Trades'],
    ['win_rate', 'Win rate', 'pct'], ['profit_factor', 'Profit factor'], ['exposure', 'Exposure', 'pct'],
    ['fees_paid', 'Fees'], ['buy_and_hold_return', 'Buy & hold', 'pct']
  ];

  function title(d) {
    var p = Object.keys(d.params || {}).map(function (k) { return k + '=' + d.params[k]; }).join(' ');
    return d.symbol + ' ' + d.interval + ' · ' + d.strategy + (p ? ' ' + p : '') + ' · ' +
      d.trades.side.length + ' trades';
  }

  function metricsHtml(m) {
    return METRICS.filter(function (r) { return r[0] in m; }).map(function (r) {
      var v = m[r[0]];
      return '<div class="metric"><span>' + B.esc(r[1]) + '</span><b>' +
        B.esc(r[2] === 'pct' ? B.pct(v) : B.num(v)) + '</b></div>';
    }).join('');
  }

  function notes(d) {
    var out = (d.notes || []).slice();
    if (d.synthetic) out.unshift('Synthetic data, not market prices.');
    if (d.bars === 1) out.push('Only one bar: there is nothing to trade or compare over time.');
    if (d.gaps) out.push(d.gaps + ' time gap(s) in the data: the chart joins the bars on each side.');
    if (d.bucket > 1) out.push('Each drawn bar groups ' + d.bucket + ' bars (high and low kept); the full data is in the backtest resources.');
    return out;
  }

  // One element per trade (a line of fixed-width columns, its PnL in a coloured span),
  // not a <table>: 5,000 trades as table cells cost most of a second to build and lay out;
  // these lines also skip layout while scrolled out of view (content-visibility).
  var WIDTHS = [6, 6, 17, 17, 12, 12, 11, 9];
  var HEAD = ['#', 'side', 'entry (UTC)', 'exit (UTC)', 'entry', 'exit', 'PnL', 'return'];
  function pad(v, w) { v = String(v); return v.length >= w ? v + ' ' : ' '.repeat(w - v.length) + v; }
  function sideName(t, i) { return t.side[i] === 1 ? 'long' : 'short'; }
  function when(s) { return new Date(s * 1000).toISOString().slice(0, 16).replace('T', ' '); }
  function tableHtml(t) {
    var n = t.side.length;
    var rows = new Array(n);
    for (var i = 0; i < n; i++) {
      rows[i] = '<div class="tr" role="row" data-i="' + i + '">' + pad(i + 1, WIDTHS[0]) + pad(sideName(t, i), WIDTHS[1]) +
        pad(when(t.entry_time[i]), WIDTHS[2]) + pad(when(t.exit_time[i]), WIDTHS[3]) + pad(t.entry_price[i], WIDTHS[4]) +
        pad(t.exit_price[i], WIDTHS[5]) + '<span class="' + (t.pnl[i] >= 0 ? 'win' : 'loss') + '">' +
        pad(B.num(t.pnl[i], 2), WIDTHS[6]) + pad(B.pct(t['return'][i]), WIDTHS[7] + 2) + '</span>  ' +
        B.esc(t.reasons[t.reason[i]]) + '</div>';
    }
    var head = HEAD.map(function (c, k) { return pad(c, WIDTHS[k] + (k === 7 ? 2 : 0)); }).join('') + '  exit reason';
    return '<div class="trades" role="table"><div class="th" role="row">' + head + '</div><div class="tbody">' +
      rows.join('') + '</div></div>';
  }

  function series(times, values) {
    var out = new Array(times.length);
    for (var i = 0; i < times.length; i++) {
      var v = values[i];
      out[i] = (v === null || v === undefined) ? {time: times[i]} : {time: times[i], value: v};
    }
    return out;
  }

  function markersOf(t, selected, col) {
    var n = t.side.length;
    var few = n <= 40;  // labels on every marker only while they stay readable
    var out = new Array(2 * n);
    for (var i = 0; i < n; i++) {
      var long = t.side[i] === 1;
      var size = i === selected ? 2 : 1;
      out[2 * i] = {time: t.entry_at[i], position: long ? 'belowBar' : 'aboveBar',
        shape: long ? 'arrowUp' : 'arrowDown', color: long ? col.up : col.down, size: size,
        text: few || i === selected ? (long ? 'L' : 'S') : ''};
      out[2 * i + 1] = {time: t.exit_at[i], position: long ? 'aboveBar' : 'belowBar', shape: 'circle',
        color: t.pnl[i] >= 0 ? col.up : col.down, size: size,
        text: few || i === selected ? B.num(t.pnl[i], 2) : ''};
    }
    out.sort(function (a, b) { return a.time - b.time; });
    return out;
  }

  // trades by drawn bar, for the hover tooltip: one pass over the trades
  function tradesByBar(t) {
    var at = {};
    for (var i = 0; i < t.side.length; i++) {
      (at[t.entry_at[i]] = at[t.entry_at[i]] || []).push(['entry', i]);
      (at[t.exit_at[i]] = at[t.exit_at[i]] || []).push(['exit', i]);
    }
    return at;
  }

  // the drawn bar (bucket) each trade enters and exits in: markers must sit on a drawn time
  function placeOnBars(t, times) {
    var n = t.side.length;
    t.entry_at = new Array(n);
    t.exit_at = new Array(n);
    for (var i = 0; i < n; i++) {
      t.entry_at[i] = times[B.indexOfTime(times, t.entry_time[i])];
      t.exit_at[i] = times[B.indexOfTime(times, t.exit_time[i])];
    }
  }

  B.renderReport = function (root, d) {
    var t0 = performance.now();
    // a heatmap shows one report after another in the same place: one chart at a time
    if (root.__dispose) root.__dispose();
    var t = d.trades;
    if (d.candles.time.length) placeOnBars(t, d.candles.time);
    var col = B.colors();
    root.innerHTML = '<h2 class="title"></h2><div class="metrics">' + metricsHtml(d.metrics || {}) +
      '</div><ul class="notes"></ul><div class="chart-wrap"><div class="chart"></div>' +
      '<div class="tooltip" hidden></div></div><div class="table-wrap">' + tableHtml(t) + '</div>';
    root.querySelector('.title').textContent = title(d);
    root.querySelector('.notes').innerHTML = notes(d).map(function (s) {
      return '<li>' + B.esc(s) + '</li>';
    }).join('');
    var V = B.V;
    V.trades = t.side.length;
    V.rows = root.querySelectorAll('.trades .tbody .tr').length;
    V.bars = d.candles.time.length;
    if (!d.candles.time.length) {
      B.setStatus('empty', 'This backtest has no bars to draw.');
      return;
    }
    var tTable = performance.now();
    var el = root.querySelector('.chart');
    var chart = LC.createChart(el, B.chartOptions(col));
    var candles = chart.addSeries(LC.CandlestickSeries, B.candleStyle(col));
    candles.setData(B.candleSeries(d.candles));
    var tCandles = performance.now();
    var markers = markersOf(t, -1, col);
    var plugin = LC.createSeriesMarkers(candles, markers);
    V.markers = markers.length;
    var tMarkers = performance.now();
    var equity = chart.addSeries(LC.LineSeries, {color: col.accent, lineWidth: 2, title: 'equity'}, 1);
    equity.setData(series(d.candles.time, d.equity));
    var hold = chart.addSeries(LC.LineSeries, {color: col.hold, lineWidth: 1, lineStyle: 2,
      title: 'buy & hold'}, 1);
    hold.setData(series(d.candles.time, d.buy_hold));
    var dd = d.drawdown.map(function (v) { return v === null ? null : -v; });
    var draw = chart.addSeries(LC.AreaSeries, {lineColor: col.down, topColor: col.down,
      bottomColor: 'rgba(0,0,0,0)', lineWidth: 1, title: 'drawdown',
      priceFormat: {type: 'percent'}}, 2);
    draw.setData(series(d.candles.time, dd.map(function (v) { return v === null ? null : v * 100; })));
    var panes = chart.panes();
    if (panes.length === 3) {
      panes[0].setStretchFactor(3);
      panes[1].setStretchFactor(1.4);
      panes[2].setStretchFactor(1);
    }
    chart.timeScale().fitContent();

    var at = tradesByBar(t);
    var tip = root.querySelector('.tooltip');
    chart.subscribeCrosshairMove(function (p) {
      var list = p && p.time !== undefined ? at[p.time] : null;
      if (!list || !p.point) { tip.hidden = true; return; }
      tip.innerHTML = list.slice(0, 6).map(function (e) {
        var i = e[1];
        return '<div>#' + (i + 1) + ' ' + sideName(t, i) + ' ' + e[0] +
          (e[0] === 'exit' ? ' (' + B.esc(t.reasons[t.reason[i]]) + ') PnL ' + B.num(t.pnl[i], 2) : ' @ ' + t.entry_price[i]) +
          '</div>';
      }).join('') + (list.length > 6 ? '<div>… ' + (list.length - 6) + ' more</div>' : '');
      tip.style.left = Math.min(p.point.x + 12, el.clientWidth - 220) + 'px';
      tip.style.top = (p.point.y + 12) + 'px';
      tip.hidden = false;
    });

    var tbody = root.querySelector('.trades .tbody');
    var selectedRow = null;
    tbody.addEventListener('click', function (ev) {
      var tr = ev.target.closest('.tr');
      if (!tr) return;
      var i = Number(tr.getAttribute('data-i'));
      if (selectedRow) selectedRow.classList.remove('selected');
      tr.classList.add('selected');
      selectedRow = tr;
      selected = i;
      plugin.setMarkers(markersOf(t, i, B.colors()));
      var a = B.indexOfTime(d.candles.time, t.entry_at[i]);
      var b = B.indexOfTime(d.candles.time, t.exit_at[i]);
      var pad = Math.max(20, (b - a) * 2);
      chart.timeScale().setVisibleLogicalRange({from: a - pad, to: b + pad});
      V.selected = i;
    });

    var selected = -1;
    B.on('theme', function (c) {
      chart.applyOptions(B.chartOptions(c));
      candles.applyOptions(B.candleStyle(c));
      equity.applyOptions({color: c.accent});
      hold.applyOptions({color: c.hold});
      draw.applyOptions({lineColor: c.down, topColor: c.down});
      plugin.setMarkers(markersOf(t, selected, c));
    });
    root.__dispose = function () { chart.remove(); root.__dispose = null; };
    B.onCleanup(function () { if (root.__dispose) root.__dispose(); });
    // where the time goes, for bench/views.py (the chart paints on the next frame)
    V.timing = {table: tTable - t0, candles: tCandles - tTable, markers: tMarkers - tCandles,
      total: performance.now() - t0};
    V.renders += 1;
  };
})();
