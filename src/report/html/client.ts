// The script inside the report: draws each chart from the inlined data with uPlot. Plain ES2017
// in a string, run by the browser, never by Node. Each figure gets data-rendered="1" once drawn.

export const CLIENT_SCRIPT = String.raw`
(function () {
  var charts = JSON.parse(document.getElementById('kal-data').textContent);
  var COLORS = ['#3b6fd8', '#d8473b', '#2b9a4a', '#b07d12', '#8a3bd8', '#138a8a', '#d83b9a', '#555'];
  function fmtPct(x) {
    var p = 100 * (1 - Math.pow(10, -x));
    return p.toFixed(Math.min(6, Math.max(0, Math.ceil(x - 1e-9) - 2))) + '%';
  }
  function marksPlugin(marks) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = '#999';
          ctx.fillStyle = '#666';
          ctx.setLineDash([4, 4]);
          ctx.font = (11 * devicePixelRatio) + 'px sans-serif';
          marks.forEach(function (m) {
            var x = Math.round(u.valToPos(m.t, 'x', true));
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillText(m.label, x + 4, u.bbox.top + 12 * devicePixelRatio);
          });
          ctx.restore();
        }]
      }
    };
  }
  charts.forEach(function (c) {
    var el = document.getElementById(c.id);
    if (!el) return;
    var width = Math.max(320, el.clientWidth - 14);
    var tick = function (v) { return c.xTicks ? (c.xTicks[Math.round(v)] || '') : v; };
    var series = [{ label: c.percentileAxis ? 'percentile' : (c.xLabel || 't (s)'), value: c.percentileAxis ? function (u, v) { return v == null ? '' : fmtPct(v); } : (c.xTicks ? function (u, v) { return v == null ? '' : tick(v); } : undefined) }];
    c.series.forEach(function (s, i) {
      series.push({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        dash: s.dash ? [6, 4] : undefined,
        spanGaps: true,
        points: { show: !!c.points, size: 6 }
      });
    });
    var opts = {
      width: width,
      height: 260,
      scales: { x: c.logX ? { time: false, distr: 3 } : { time: false }, y: c.logY ? { distr: 3 } : {} },
      axes: [
        c.percentileAxis
          ? {
              label: 'percentile',
              // Ticks at 0%, 90%, 99%, 99.9%…: whole steps of log10(1/(1-p)).
              splits: function (u) {
                var out = [];
                for (var v = 0; v <= u.scales.x.max + 1e-9; v++) out.push(v);
                return out;
              },
              values: function (u, vals) { return vals.map(fmtPct); }
            }
          : c.xTicks
            ? {
                label: c.xLabel,
                splits: function () { return c.xTicks.map(function (_, i) { return i; }); },
                values: function (u, vals) { return vals.map(tick); }
              }
            : { label: c.xLabel || 'seconds' },
        { label: c.unit, size: 60 }
      ],
      series: series,
      legend: { live: true },
      plugins: c.marks && c.marks.length ? [marksPlugin(c.marks)] : []
    };
    var data = [c.x].concat(c.series.map(function (s) {
      return c.logY ? s.values.map(function (v) { return v != null && v > 0 ? v : null; }) : s.values;
    }));
    new uPlot(opts, data, el);
    el.setAttribute('data-rendered', '1');
  });
})();
`;
