import * as vega from 'vega';
import * as vl from 'vega-lite';
import { formatAssertion, formatNumber } from '../scenario/assertions.ts';
import type { RunResult } from '../run/result.ts';
import type { CalibrationResult } from '../calibration/calibrate.ts';
import { buildCharts } from './charts.ts';

/** Renders one vega-lite spec to SVG text, offline (no loader, no network). */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function table(rows: readonly (readonly string[])[], head: readonly string[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return formatNumber(v);
  return String(v);
}

/**
 * A self-contained HTML report: every chart is inline SVG rendered here with vega, styles are
 * inline, nothing is fetched when the file is opened.
 */
export async function renderHtmlReport(r: RunResult): Promise<string> {
  const charts = buildCharts(r);
  const svgs: string[] = [];
  for (const c of charts) svgs.push(`<figure id="${esc(c.id)}">${await renderSvg(c.spec)}</figure>`);
  const status = r.assertions.length === 0 ? 'no assertions' : r.passed ? 'all assertions passed' : `${r.assertions.filter((a) => !a.pass).length} assertion(s) FAILED`;
  const metricsRows = Object.entries(r.metrics).map(([k, v]) => [k, fmt(v)]);
  const kindRows = Object.entries(r.topicKinds).map(([k, c]) => [
    k,
    fmt(c.published),
    fmt(c.firstCopies),
    fmt(c.duplicates),
    fmt(c.suppressed),
    fmt(c.iwantRecoveries),
    fmt(c.controlRpcs),
    fmt(c.dataBytes),
    fmt(c.rejected),
    fmt(c.meanMeshDegree),
  ]);
  const flat = r.baselines.flat;
  const bf = r.baselines.bestFit;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shoal simulation: ${esc(r.scenario)} (seed ${r.seed})</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}th{background:#f4f4f4}
.pass{color:#070}.fail{color:#b00;font-weight:bold}figure{margin:1em 0}code{background:#f4f4f4;padding:0 3px}
</style></head><body>
<h1>Shoal simulation: ${esc(r.scenario)}</h1>
<p>${esc(r.description)}</p>
<p><b>${r.nodes.toLocaleString('en')}</b> hosts, protocol <code>${esc(r.protocol)}</code>, ${r.durationS} simulated s, seed <code>${r.seed}</code>,
trace hash <code>${r.traceHash}</code>, ${r.deliveredEvents.toLocaleString('en')} delivered events in ${(r.wallMs / 1000).toFixed(1)} wall s
(${fmt(r.metrics['events_per_wall_s'])} events/s), peak RSS ${fmt(r.metrics['peak_rss_mb'])} MB. <span class="${r.passed ? 'pass' : 'fail'}">${esc(status)}</span>.</p>
<h2>Assertions</h2>
<ul>${r.assertions.map((a) => `<li class="${a.pass ? 'pass' : 'fail'}">${esc(formatAssertion(a))}</li>`).join('') || '<li>none</li>'}</ul>
<h2>Charts</h2>
${svgs.join('\n')}
<h2>Disturbances</h2>
${table(r.episodes.map((e) => [fmt(e.atS), e.label, fmt(e.convergedAfterS)]), ['at (s)', 'what', 'converged after (s)'])}
<h2>Baselines</h2>
${flat ? table([...flat.measured.map((m) => [`flat gossip, ${m.nodes} hosts (measured)`, fmt(m.msgsInPerHostS), fmt(m.bytesInPerHostS)]), [`flat gossip, ${flat.extrapolated.nodes} hosts (linear extrapolation)`, fmt(flat.extrapolated.msgsInPerHostS), fmt(flat.extrapolated.bytesInPerHostS)], [`Shoal, ${r.nodes} hosts`, fmt(r.metrics['steady_msgs_in_per_host_s']), fmt(r.metrics['steady_bytes_in_per_host_s'])]], ['', 'msgs in / host / s', 'bytes in / host / s']) : '<p>Flat-gossip baseline not run.</p>'}
${bf ? table([['Shoal', fmt(r.metrics['hosts_used'])], ['central best-fit, arrival order', fmt(bf.hostsUsed)], ['best-fit decreasing (offline)', fmt(bf.hostsUsedDecreasing)], ['packing ratio (Shoal ÷ best-fit)', fmt(r.metrics['packing_ratio'])]], ['placer', 'hosts used']) : ''}
${(r.calibration ?? []).map(calibrationSection).join('\n')}
<h2>Traffic by topic kind</h2>
${table(kindRows, ['kind', 'published', 'first copies', 'duplicates', 'IDONTWANT-suppressed', 'IWANT repairs', 'control RPCs', 'data bytes', 'rejected', 'mean mesh degree'])}
<h2>Corrupted messages</h2>
${table(r.corrupt.injections.map((c, i) => { const t = r.corrupt.tracked[i]; return [fmt(c.atS), String(c.host), c.topic, String(c.bit), c.decodeRejected ? 'codec' : 'protocol', fmt(t?.receivers), fmt(t?.accepted), fmt(t?.forwarders), fmt(t?.maxHop)]; }), ['at (s)', 'publisher', 'topic', 'bit', 'caught by', 'receivers', 'accepted', 'forwarders', 'max hop'])}
<h2>All metrics</h2>
${table(metricsRows, ['metric', 'value'])}
<h2>Handler errors</h2>
${r.handlerErrors.length === 0 ? '<p>none</p>' : `<pre>${esc(r.handlerErrors.map((e) => `host ${e.host} at ${e.atMs} ms in ${e.where}: ${e.message}`).join('\n\n'))}</pre>`}
<h2>Configuration</h2>
<pre>${esc(JSON.stringify(r.config, null, 2))}</pre>
</body></html>
`;
}

function calibrationSection(c: CalibrationResult): string {
  return `<h2>Calibration: gossipsub model against real libp2p (${c.opts.nodes} nodes on 127.0.0.1, ${c.opts.payloadBytes}-byte messages)</h2>
${table(
  [
    ['delivery ratio', fmt(c.real.deliveryRatio), fmt(c.model.deliveryRatio), fmt(c.difference.deliveryRatio)],
    ['duplicates per delivery', fmt(c.real.duplicatesPerDelivery), fmt(c.model.duplicatesPerDelivery), fmt(c.difference.duplicatesPerDelivery)],
    ['copies not sent for IDONTWANT (share)', fmt(c.real.idontwantSkippedFraction), fmt(c.model.idontwantSkippedFraction), fmt(c.difference.idontwantSkippedFraction)],
    ['publish → delivery p50 (ms)', fmt(c.real.latencyMs.p50), fmt(c.model.latencyMs.p50), fmt(c.difference.latencyP50Ms)],
    ['publish → delivery p99 (ms)', fmt(c.real.latencyMs.p99), fmt(c.model.latencyMs.p99), fmt(c.difference.latencyP99Ms)],
  ],
  ['', 'real', 'model', 'model − real'],
)}<p>The real nodes run a process each but share this machine's cores, so their latency includes queueing behind each other's crypto; the model charges ${'`hopProcessingMs`'} per hop on otherwise idle hosts.</p>`;
}
