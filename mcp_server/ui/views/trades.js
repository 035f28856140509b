// The trades table as a virtual list: a fixed-height scroller whose body is as tall as every
// row would be, with only the rows in view (plus a margin) in the DOM. 5,000 trades as DOM
// lines cost most of the report's first paint (style and layout of each line); this costs
// the same for 50 trades or 50,000. Rows are fixed-width text, so each has the same height.
(function () {
  'use strict';
  var B = window.BST;
  var ROW = 21;  // px: view.css's .trades .tr height
  var MARGIN = 30;  // rows drawn above and below the visible ones, so a fling shows no blank
  var VIEW_H = 240;  // px: view.css's .table-wrap max-height (a constant: no layout read to draw)
  var WIDTHS = [6, 6, 17, 17, 12, 12, 11, 9];
  var HEAD = ['#', 'side', 'entry (UTC)', 'exit (UTC)', 'entry', 'exit', 'PnL', 'return'];

  function pad(v, w) { v = String(v); return v.length >= w ? v + ' ' : ' '.repeat(w - v.length) + v; }
  function when(s) {
    var d = new Date(s * 1000);
    return isNaN(d.getTime()) ? '–' : d.toISOString().slice(0, 16).replace('T', ' ');
  }
  B.sideName = function (t, i) { return t.side[i] === 1 ? 'long' : 'short'; };

  function rowHtml(t, i, selected) {
    return '<div class="tr' + (i === selected ? ' selected' : '') + '" role="row" data-i="' + i +
      '" style="top:' + (i * ROW) + 'px">' + pad(i + 1, WIDTHS[0]) + pad(B.sideName(t, i), WIDTHS[1]) +
      pad(when(t.entry_time[i]), WIDTHS[2]) + pad(when(t.exit_time[i]), WIDTHS[3]) +
      pad(t.entry_price[i], WIDTHS[4]) + pad(t.exit_price[i], WIDTHS[5]) + '<span class="' +
      (t.pnl[i] >= 0 ? 'win' : 'loss') + '">' + pad(B.num(t.pnl[i], 2), WIDTHS[6]) +
      pad(B.pct(t['return'][i]), WIDTHS[7] + 2) + '</span>  ' + B.esc(t.reasons[t.reason[i]]) + '</div>';
  }

  function headHtml() {
    return HEAD.map(function (c, k) { return pad(c, WIDTHS[k] + (k === 7 ? 2 : 0)); }).join('') + '  exit reason';
  }

  // The table's markup (empty body of the full height); `mount` fills it once it is in the page.
  B.tradesTableHtml = function (t) {
    return '<div class="table-wrap"><div class="trades" role="table" aria-rowcount="' + t.side.length +
      '"><div class="th" role="row">' + headHtml() + '</div><div class="tbody" style="height:' +
      (t.side.length * ROW) + 'px"></div></div></div>';
  };

  // Draws the rows in view of `root`'s table and keeps them so while it scrolls.
  // onPick(i) runs on a row click. Returns {select(i, reveal)}: mark row i (and scroll to it).
  B.mountTradesTable = function (root, t, onPick) {
    var wrap = root.querySelector('.table-wrap');
    var tbody = wrap.querySelector('.tbody');
    var n = t.side.length;
    var selected = -1;
    var drawn = [-1, -1];
    var queued = false;
    var scrolled = false;

    function draw() {
      queued = false;
      // scrollTop is 0 until the reader scrolls: the first draw forces no layout
      var top = scrolled ? Math.max(0, wrap.scrollTop - ROW) : 0;
      var first = Math.max(0, Math.floor(top / ROW) - MARGIN);
      var last = Math.min(n, Math.ceil((top + VIEW_H) / ROW) + MARGIN);
      if (first === drawn[0] && last === drawn[1]) return;
      drawn = [first, last];
      var out = [];
      for (var i = first; i < last; i++) out.push(rowHtml(t, i, selected));
      tbody.innerHTML = out.join('');
    }
    function later() {
      scrolled = true;
      if (queued) return;
      queued = true;
      requestAnimationFrame(draw);
    }
    wrap.addEventListener('scroll', later, {passive: true});
    tbody.addEventListener('click', function (ev) {
      var tr = ev.target.closest && ev.target.closest('.tr');
      if (tr) onPick(Number(tr.getAttribute('data-i')));
    });
    draw();

    return {
      select: function (i, reveal) {
        selected = i;
        var rows = tbody.children;
        for (var k = 0; k < rows.length; k++) {
          rows[k].classList.toggle('selected', Number(rows[k].getAttribute('data-i')) === i);
        }
        if (reveal) {
          var y = i * ROW;  // below the sticky header: keep the row clear of it
          if (y < wrap.scrollTop || y + 2 * ROW > wrap.scrollTop + VIEW_H) {
            wrap.scrollTop = Math.max(0, y - 3 * ROW);
          }
          scrolled = true;
          drawn = [-1, -1];
          draw();
        }
      }
    };
  };
})();
