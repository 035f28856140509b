// Shared by every view: the MCP Apps bridge (JSON-RPC 2.0 over postMessage, MCP Apps
// 2026-01-26), the plain-page path (data embedded, clicks to a same-origin REST route),
// theming from the host's --color-* variables, and plain-language error states.
// Everything a test needs to check is on window.__view.
(function () {
  'use strict';
  var kind = document.documentElement.getAttribute('data-view');
  var V = window.__view = {
    kind: kind, mode: window.parent === window ? 'page' : 'mcp', state: 'loading', message: '',
    started: performance.now(),  // ms since the document began: what parsing it cost
    bars: 0, trades: 0, markers: 0, rows: 0, cells: 0, splits: 0, cellRuns: 0, renders: 0,
    protocol: [], sizes: [], teardown: false, toolInput: null
  };
  var pending = {};
  var nextId = 1;
  var hostContext = {};
  var handlers = {};
  var cleanups = [];

  function esc(v) {
    return String(v === null || v === undefined ? '' : v).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function num(v, digits) {
    if (v === null || v === undefined || typeof v !== 'number' || !isFinite(v)) return '–';
    var a = Math.abs(v);
    if (digits !== undefined) return v.toFixed(digits);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return String(Math.round(v * 1000) / 1000);
  }
  function pct(v) {
    return (typeof v === 'number' && isFinite(v)) ? (v * 100).toFixed(2) + ' %' : '–';
  }
  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }
  // the chart draws on canvas, so it gets the resolved theme colours (view.css's variables)
  function colors() {
    return {
      bg: cssVar('--bg', '#ffffff'), text: cssVar('--fg', '#1f2328'), muted: cssVar('--muted', '#59636e'),
      grid: cssVar('--line', '#d1d9e0'), up: cssVar('--win', '#1a7f37'), down: cssVar('--loss', '#cf222e'),
      accent: cssVar('--info', '#0969da'), hold: cssVar('--muted', '#8c959f')
    };
  }
  function applyContext(ctx) {
    var root = document.documentElement;
    if (ctx.theme) root.setAttribute('data-theme', ctx.theme);
    var vars = ctx.styles && ctx.styles.variables;
    if (vars) {
      Object.keys(vars).forEach(function (k) {
        if (k.indexOf('--') === 0 && vars[k]) root.style.setProperty(k, vars[k]);
      });
    }
    if (handlers.theme) handlers.theme(colors());
  }

  var app = document.getElementById('app');
  function setStatus(state, message) {
    V.state = state;
    V.message = message || '';
    var el = document.getElementById('status');
    if (!el) {
      el = document.createElement('p');
      el.id = 'status';
      app.insertBefore(el, app.firstChild);
    }
    el.className = 'status ' + state;
    el.textContent = message || '';
    el.hidden = !message;
  }
  function onCleanup(fn) { cleanups.push(fn); }
  function clear() {
    while (cleanups.length) {
      try { cleanups.pop()(); } catch (e) { /* a chart already gone */ }
    }
  }

  // ---- MCP Apps bridge -------------------------------------------------------------
  function post(msg) { window.parent.postMessage(msg, '*'); }
  function request(method, params) {
    var id = nextId++;
    V.protocol.push('> ' + method);
    post({jsonrpc: '2.0', id: id, method: method, params: params || {}});
    return new Promise(function (resolve, reject) { pending[id] = {resolve: resolve, reject: reject}; });
  }
  function notify(method, params) {
    V.protocol.push('> ' + method);
    post({jsonrpc: '2.0', method: method, params: params || {}});
  }
  function reply(id, result) { post({jsonrpc: '2.0', id: id, result: result}); }
  function replyError(id, code, message) {
    post({jsonrpc: '2.0', id: id, error: {code: code, message: message}});
  }
  function errorText(err) {
    if (!err) return 'unknown error';
    if (typeof err === 'string') return err;
    return err.message || JSON.stringify(err);
  }

  function onMessage(ev) {
    if (ev.source !== window.parent) return;
    var m = ev.data;
    if (!m || m.jsonrpc !== '2.0') return;
    if (m.method === undefined && m.id !== undefined && pending[m.id]) {
      var p = pending[m.id];
      delete pending[m.id];
      V.protocol.push('< response');
      if (m.error) p.reject(new Error(errorText(m.error)));
      else p.resolve(m.result);
      return;
    }
    if (!m.method) return;
    V.protocol.push('< ' + m.method);
    try {
      hostMessage(m);
    } catch (e) {
      setStatus('error', 'The view could not show this result: ' + errorText(e));
    }
  }

  function hostMessage(m) {
    var params = m.params || {};
    switch (m.method) {
      case 'ui/notifications/tool-input':
        V.toolInput = params.arguments || {};
        return;
      case 'ui/notifications/tool-input-partial':
        return;
      case 'ui/notifications/tool-result':
        toolResult(params);
        return;
      case 'ui/notifications/tool-cancelled':
        setStatus('cancelled', 'The tool call was cancelled' + (params.reason ? ': ' + params.reason : '.'));
        return;
      case 'ui/notifications/host-context-changed':
        Object.keys(params).forEach(function (k) { hostContext[k] = params[k]; });
        applyContext(params);
        return;
      case 'ui/resource-teardown':
        V.teardown = true;
        clear();
        setStatus('closed', '');
        if (m.id !== undefined) reply(m.id, {});
        return;
      case 'ping':
        if (m.id !== undefined) reply(m.id, {});
        return;
      default:
        if (m.id !== undefined) replyError(m.id, -32601, 'method not found: ' + m.method);
    }
  }

  function textOf(result) {
    var parts = (result && result.content) || [];
    return parts.filter(function (c) { return c && c.type === 'text'; })
      .map(function (c) { return c.text; }).join('\n');
  }

  function toolResult(result) {
    if (result.isError) {
      setStatus('error', 'The tool reported an error: ' + (textOf(result) || 'no details'));
      return;
    }
    var sc = result.structuredContent;
    if (!sc || typeof sc !== 'object') {
      setStatus('empty', 'This result has no data to draw. ' + textOf(result));
      return;
    }
    if (handlers.result) handlers.result(sc);
  }

  function readJson(uri) {
    return request('resources/read', {uri: uri}).then(function (res) {
      var c = res && res.contents && res.contents[0];
      if (!c || typeof c.text !== 'string') throw new Error('the resource ' + uri + ' returned no text');
      return JSON.parse(c.text);
    });
  }

  function callTool(name, args) {
    return request('tools/call', {name: name, arguments: args}).then(function (res) {
      if (res.isError) throw new Error(textOf(res) || 'the tool failed');
      if (!res.structuredContent) throw new Error(textOf(res) || 'the tool returned no data');
      return res.structuredContent;
    });
  }

  function postJson(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: {'content-type': 'application/json'}, body: JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = JSON.parse(text); } catch (e) { data = null; }
        if (!r.ok) {
          var why = data && (data.detail || data.error || data.message);
          throw new Error(typeof why === 'string' ? why : ('HTTP ' + r.status + ' ' + text.slice(0, 200)));
        }
        return data;
      });
    });
  }

  function watchSize() {
    var last = '';
    var ro = new ResizeObserver(function () {
      // the content's own size: the document's would never shrink below the frame's
      var box = document.body.getBoundingClientRect();
      var size = {width: Math.ceil(box.width), height: Math.ceil(box.height)};
      var key = size.width + 'x' + size.height;
      if (key === last) return;
      last = key;
      V.sizes.push(size);
      notify('ui/notifications/size-changed', size);
    });
    ro.observe(document.body);
  }

  function startMcp() {
    window.addEventListener('message', onMessage);
    setStatus('loading', 'Waiting for the host…');
    request('ui/initialize', {
      appInfo: {name: 'bybit-strategy-tester ' + kind + ' view', version: '1'},
      appCapabilities: {availableDisplayModes: ['inline']},
      protocolVersion: '2026-01-26'
    }).then(function (res) {
      hostContext = (res && res.hostContext) || {};
      applyContext(hostContext);
      notify('ui/notifications/initialized', {});
      setStatus('loading', 'Waiting for the tool result…');
      watchSize();
    }).catch(function (e) {
      setStatus('error', 'The host refused the view: ' + errorText(e));
    });
  }

  function startPage() {
    var node = document.getElementById('view-data');
    var data = null;
    try { data = JSON.parse(node ? node.textContent : 'null'); } catch (e) { data = null; }
    applyContext({});
    if (data === null) {
      setStatus('empty', 'No result to show: this page was opened without data.');
      return;
    }
    if (data.error) {
      setStatus('error', String(data.error));
      return;
    }
    if (handlers.data) safely(handlers.data)(data);
  }

  // A result the view cannot draw (a column missing, times out of order) is said in the page,
  // never left as an exception in the console.
  function safely(fn) {
    return function (arg) {
      try {
        return fn(arg);
      } catch (e) {
        setStatus('error', 'The view could not show this result: ' + errorText(e));
        return undefined;
      }
    };
  }

  function wrongKind(data, want) {
    if (data && data.kind === want) return false;
    var got = data && data.kind ? 'a ' + data.kind + ' result' : 'something that is not a result';
    setStatus('error', 'This view shows ' + want + ' results, but it was opened with ' + got + '.');
    return true;
  }

  // ---- chart helpers shared by the views ---------------------------------------------
  function chartOptions(col) {
    return {
      autoSize: true,
      layout: {background: {color: col.bg}, textColor: col.text, attributionLogo: true,
        panes: {separatorColor: col.grid}},
      grid: {vertLines: {color: col.grid}, horzLines: {color: col.grid}},
      rightPriceScale: {borderColor: col.grid},
      timeScale: {borderColor: col.grid, timeVisible: true, secondsVisible: false}
    };
  }
  // candles as the library takes them; a bar without prices stays as a gap (whitespace)
  function candleSeries(c) {
    var out = new Array(c.time.length);
    for (var i = 0; i < c.time.length; i++) {
      var o = c.open[i], h = c.high[i], l = c.low[i], cl = c.close[i];
      out[i] = (o === null || h === null || l === null || cl === null) ? {time: c.time[i]} :
        {time: c.time[i], open: o, high: h, low: l, close: cl};
    }
    return out;
  }
  function candleStyle(col) {
    return {upColor: col.up, downColor: col.down, borderVisible: false, wickUpColor: col.up, wickDownColor: col.down};
  }
  // the index of the last of the ascending `times` at or before t (0 when t is before all)
  function indexOfTime(times, t) {
    var lo = 0, hi = times.length - 1;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (times[mid] <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  // A tool result names its result (a summary with an id); the drawing data is read
  // through the host, so the result itself stays small. opts: {noun, has(sc), uri(sc), show}.
  function serve(opts) {
    handlers.data = opts.show;
    handlers.result = function (sc) {
      if (sc.kind) { opts.show(sc); return; }
      if (typeof sc.id !== 'string' || !opts.has(sc)) {
        setStatus('error', 'This view shows ' + opts.noun + ' results, but the tool result is not one' +
          (sc.job_id ? ' (it still runs as job ' + sc.job_id + ')' : '') + '.');
        return;
      }
      setStatus('loading', 'Loading ' + opts.noun + ' ' + sc.id + '…');
      readJson(opts.uri(sc)).then(opts.show).catch(function (e) {
        setStatus('error', 'Could not load ' + opts.noun + ' ' + sc.id + ': ' + errorText(e));
      });
    };
    if (V.mode === 'mcp') startMcp(); else startPage();
  }

  window.BST = {
    V: V, esc: esc, num: num, pct: pct, colors: colors, setStatus: setStatus, onCleanup: onCleanup,
    clear: clear, readJson: readJson, callTool: callTool, postJson: postJson, errorText: errorText,
    wrongKind: wrongKind, safely: safely,
    serve: serve, chartOptions: chartOptions, candleSeries: candleSeries, candleStyle: candleStyle,
    indexOfTime: indexOfTime,
    on: function (name, fn) { handlers[name] = fn; }
  };
})();
