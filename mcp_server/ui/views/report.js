// The report view: the tool result names a backtest; its drawing data is read through the
// host (backtest://{id}/view) so the tool result stays a short summary.
(function () {
  'use strict';
  var B = window.BST;
  var root = document.getElementById('content');

  function show(d) {
    if (B.wrongKind(d, 'report')) return;
    B.clear();
    B.setStatus('ready', '');
    B.renderReport(root, d);
  }

  B.serve({
    noun: 'backtest', show: show,
    has: function (sc) { return !!sc.resources; },
    uri: function (sc) { return 'backtest://' + sc.id + '/view'; }
  });
})();
