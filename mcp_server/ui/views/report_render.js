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

  function series(times, values) {
    var out = new Array(times.length);
    for (var i = 0; i < times.length; i++) {
      var v = values[i];
      out[i] = (v === null || v === undefined) ? {time: times[i]} : {time: times[i], value: v};
    }
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

  // What the drawing assumes of a report, checked before anything is drawn: the chart library
  // throws on times out of order, and a short column would throw later, in a scroll or hover.
  var CANDLE_COLS = ['time', 'open', 'high', 'low', 'close'];
  var TRADE_COLS = ['side', 'entry_time', 'exit_time', 'entry_price', 'exit_price', 'pnl', 'return', 'reason'];
  function columns(obj, names, n, what) {
    if (!obj || typeof obj !== 'object') throw new Error('the report has no ' + what);
    names.forEach(function (k) {
      if (!Array.isArray(obj[k])) throw new Error('the ' + what + ' have no ' + k + ' column');
      if (n !== undefined && obj[k].length !== n) {
        throw new Error('the ' + what + "' " + k + ' column has ' + obj[k].length + ' values, not ' + n);
      }
    });
  }
  function checkReport(d) {
    columns(d.candles, CANDLE_COLS, (d.candles && d.candles.time || []).length, 'candles');
    var time = d.candles.time;
    for (var i = 0; i < time.length; i++) {
      if (typeof time[i] !== 'number' || !isFinite(time[i]) || (i && time[i] <= time[i - 1])) {
        throw new Error('the candles\' times are not ascending numbers (at bar ' + i + ')');
      }
    }
    columns(d, ['equity', 'drawdown', 'buy_hold'], undefined, 'curves');
    columns(d.trades, TRADE_COLS, (d.trades && d.trades.side || []).length, 'trades');
    if (!Array.isArray(d.trades.reasons)) throw new Error('the trades have no list of exit reasons');
    [d.trades.entry_time, d.trades.exit_time].forEach(function (col) {
      col.forEach(function (v) {
        if (typeof v !== 'number' || !isFinite(v)) throw new Error('a trade has no time: ' + v);
      });
    });
  }

  B.renderReport = function (root, d) {
    var t0 = performance.now();
    checkReport(d);
    // a heatmap shows one report after another in the same place: one chart at a time
    if (root.__dispose) root.__dispose();
    var t = d.trades;
    if (d.candles.time.length) placeOnBars(t, d.candles.time);
    var col = B.colors();
    root.innerHTML = '<h2 class="title"></h2><div class="metrics">' + metricsHtml(d.metrics || {}) +
      '</div><ul class="notes"></ul><div class="chart-wrap"><div class="chart"></div>' +
      '<div class="tooltip" hidden></div></div>' + B.tradesTableHtml(t);
    root.querySelector('.title').textContent = title(d);
    root.querySelector('.notes').innerHTML = notes(d).map(function (s) {
      return '<li>' + B.esc(s) + '</li>';
    }).join('');
    var V = B.V;
    V.trades = t.side.length;
    V.rows = t.side.length;  // logical rows: the table draws only those in view (trades.js)
    V.bars = d.candles.time.length;
    var onPick = null;  // set once the chart exists
    var table = B.mountTradesTable(root, t, function (i) { if (onPick) onPick(i, false); });
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
    var marks = B.tradeMarkers(candles, chart, t, d.candles, col);
    V.markers = marks.count;
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

    // built on the first hover or click, not before the first paint
    var byBar = null;
    function tradesAt() { return byBar || (byBar = tradesByBar(t)); }
    var tip = root.querySelector('.tooltip');
    chart.subscribeCrosshairMove(function (p) {
      var list = p && p.time !== undefined ? tradesAt()[p.time] : null;
      if (!list || !p.point) { tip.hidden = true; return; }
      tip.innerHTML = list.slice(0, 6).map(function (e) {
        var i = e[1];
        return '<div>#' + (i + 1) + ' ' + B.sideName(t, i) + ' ' + e[0] +
          (e[0] === 'exit' ? ' (' + B.esc(t.reasons[t.reason[i]]) + ') PnL ' + B.num(t.pnl[i], 2) : ' @ ' + t.entry_price[i]) +
          '</div>';
      }).join('') + (list.length > 6 ? '<div>… ' + (list.length - 6) + ' more</div>' : '');
      tip.style.left = Math.min(p.point.x + 12, el.clientWidth - 220) + 'px';
      tip.style.top = (p.point.y + 12) + 'px';
      tip.hidden = false;
    });

    function pick(i, fromChart) {
      V.selected = i;
      table.select(i, fromChart);
      marks.select(i);
      if (fromChart) return;  // the reader is looking at that bar already
      var a = B.indexOfTime(d.candles.time, t.entry_at[i]);
      var b = B.indexOfTime(d.candles.time, t.exit_at[i]);
      var pad = Math.max(20, (b - a) * 2);
      chart.timeScale().setVisibleLogicalRange({from: a - pad, to: b + pad});
    }
    onPick = pick;
    // a click on a bar with a trade on it picks that trade's row
    chart.subscribeClick(function (p) {
      var list = p && p.time !== undefined ? tradesAt()[p.time] : null;
      if (list && list.length) pick(list[0][1], true);
    });

    B.on('theme', function (c) {
      chart.applyOptions(B.chartOptions(c));
      candles.applyOptions(B.candleStyle(c));
      equity.applyOptions({color: c.accent});
      hold.applyOptions({color: c.hold});
      draw.applyOptions({lineColor: c.down, topColor: c.down});
      marks.colors(c);
    });
    root.__dispose = function () { chart.remove(); root.__dispose = null; };
    B.onCleanup(function () { if (root.__dispose) root.__dispose(); });
    // where the time goes, for bench/views.py (the chart paints on the next frame)
    V.timing = {table: tTable - t0, candles: tCandles - tTable, markers: tMarkers - tCandles,
      total: performance.now() - t0};
    V.renders += 1;
  };
})();
