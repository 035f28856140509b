// Entry and exit markers, one of each per trade, drawn by a series primitive of our own.
// The chart library's marker plugin re-maps and re-places every marker on every frame (about
// 30 ms for 10,000 on this machine, even for markers it does not draw), which made each pan
// or zoom frame of a 5,000-trade report cost 60-100 ms. Here the markers are grouped by drawn
// bar once; a frame walks the bars in view only and fills one path per shape and colour.
(function () {
  'use strict';
  var B = window.BST;

  // markers (2i: entry of trade i, 2i + 1: its exit) ordered by drawn bar: CSR offsets
  function byBar(t, times) {
    var n = t.side.length, bars = times.length;
    var bar = new Int32Array(2 * n);
    var count = new Int32Array(bars + 1);
    for (var i = 0; i < n; i++) {
      bar[2 * i] = B.indexOfTime(times, t.entry_time[i]);
      bar[2 * i + 1] = B.indexOfTime(times, t.exit_time[i]);
      count[bar[2 * i] + 1]++;
      count[bar[2 * i + 1] + 1]++;
    }
    for (var b = 0; b < bars; b++) count[b + 1] += count[b];
    var start = count.slice();
    var order = new Int32Array(2 * n);
    for (var m = 0; m < 2 * n; m++) order[start[bar[m]]++] = m;
    return {start: count, order: order, bar: bar};
  }

  function triangle(p, x, y, s, up) {
    var h = s * 0.9;
    p.moveTo(x - s / 2, up ? y + h / 2 : y - h / 2);
    p.lineTo(x + s / 2, up ? y + h / 2 : y - h / 2);
    p.lineTo(x, up ? y - h / 2 : y + h / 2);
    p.closePath();
  }
  function dot(p, x, y, s) {
    p.moveTo(x + s / 2, y);
    p.arc(x, y, s / 2, 0, 2 * Math.PI);
  }

  // t: trade columns; c: the drawn candles' columns. Returns {count, select(i), colors(col)}.
  B.tradeMarkers = function (series, chart, t, c, col) {
    var idx = byBar(t, c.time);
    var n = t.side.length;
    var selected = -1;
    var few = n <= 40;  // labels on every marker only while they stay readable
    var requestUpdate = null;
    var ts = chart.timeScale();
    var SLOTS = 32;  // stacked markers per bar side that may be skipped when covered
    var last = new Float64Array(8 * SLOTS);

    function draw(scope) {
      var range = ts.getVisibleLogicalRange();
      if (!range) return;
      var ctx = scope.context, hr = scope.horizontalPixelRatio, vr = scope.verticalPixelRatio;
      var from = Math.max(0, Math.floor(range.from)), to = Math.min(c.time.length - 1, Math.ceil(range.to));
      var s = Math.max(4, Math.min(9, ts.options().barSpacing * 0.9));
      var paths = {};
      function path(key) { return paths[key] || (paths[key] = new Path2D()); }
      // zoomed out, bars are narrower than a marker: a marker at the same height and (to the
      // cell) the same place as the last one of its look is covered by it and not drawn
      var cell = Math.max(1, s / 2);
      last.fill(-1);
      var drawn = 0;
      var picked = [];
      for (var b = from; b <= to; b++) {
        var k0 = idx.start[b], k1 = idx.start[b + 1];
        if (k0 === k1 || c.high[b] === null || c.low[b] === null) continue;
        var x = ts.logicalToCoordinate(b), hi = series.priceToCoordinate(c.high[b]);
        var lo = series.priceToCoordinate(c.low[b]);
        if (x === null || hi === null || lo === null) continue;
        var above = 0, below = 0;
        for (var k = k0; k < k1; k++) {
          var m = idx.order[k], i = m >> 1, exit = m & 1, long = t.side[i] === 1;
          var up = exit ? t.pnl[i] >= 0 : long;
          var isAbove = exit ? long : !long;  // entries on the side the price leaves, exits opposite
          var slot = isAbove ? above++ : below++;
          var y = isAbove ? hi - 4 - s / 2 - slot * (s + 1) : lo + 4 + s / 2 + slot * (s + 1);
          if (i !== selected && !few && slot < SLOTS) {
            var look = ((exit ? 2 : 0) + (long ? 1 : 0)) * 2 + (up ? 1 : 0);
            var at = look * SLOTS + slot, where = Math.round(x / cell) * 65536 + Math.round(y / cell);
            if (last[at] === where) continue;
            last[at] = where;
          }
          var p = path((exit ? 'o' : long ? '^' : 'v') + (up ? '+' : '-'));
          if (exit) dot(p, x * hr, y * vr, s * hr); else triangle(p, x * hr, y * vr, s * hr, long);
          if (i === selected || few) picked.push([m, x, y]);
          drawn++;
        }
      }
      Object.keys(paths).forEach(function (key) {
        ctx.fillStyle = key.charAt(1) === '+' ? col.up : col.down;
        ctx.fill(paths[key]);
      });
      label(ctx, picked, hr, vr, s);
      B.V.markersDrawn = drawn;
    }

    // the selected trade's markers ringed and labelled (every marker's, when there are few)
    function label(ctx, picked, hr, vr, s) {
      if (!picked.length) return;
      ctx.font = Math.round(11 * vr) + 'px sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.lineWidth = Math.max(1, hr);
      picked.forEach(function (e) {
        var m = e[0], i = m >> 1, exit = m & 1, long = t.side[i] === 1;
        var text = exit ? B.num(t.pnl[i], 2) : (long ? 'L' : 'S');
        var isAbove = exit ? long : !long;
        if (i === selected) {
          ctx.strokeStyle = col.text;
          ctx.beginPath();
          ctx.arc(e[1] * hr, e[2] * vr, (s / 2 + 3) * hr, 0, 2 * Math.PI);
          ctx.stroke();
        }
        ctx.fillStyle = col.text;
        ctx.fillText(text, e[1] * hr, (e[2] + (isAbove ? -1 : 1) * (s + 6)) * vr);
      });
    }

    var renderer = {draw: function (target) { target.useBitmapCoordinateSpace(draw); }};
    var view = {renderer: function () { return renderer; }, zOrder: function () { return 'top'; }};
    series.attachPrimitive({
      attached: function (p) { requestUpdate = p.requestUpdate; },
      detached: function () { requestUpdate = null; },
      updateAllViews: function () {},
      paneViews: function () { return [view]; },
      // room above the highs and below the lows for a few stacked markers
      autoscaleInfo: function () { return {priceRange: null, margins: {above: 24, below: 24}}; }
    });
    function redraw() { if (requestUpdate) requestUpdate(); }
    return {
      count: 2 * n,
      select: function (i) { selected = i; redraw(); },
      colors: function (next) { col = next; redraw(); }
    };
  };
})();
