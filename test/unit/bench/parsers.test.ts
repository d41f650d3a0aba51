import assert from 'node:assert/strict';
import { parseProcStatCpu, parseStatCpuTicks, parseStatusMemory } from '../../../bench/proc-stats.ts';
import { parsePromText, sumSamples } from '../../../bench/prom-text.ts';
import { shoalProtocolCounters } from '../../../bench/shoal-cluster.ts';

describe('bench /proc parsers', () => {
  it('reads utime + stime after the last ")" even when the command name holds spaces and parentheses', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    const stat = '4242 (node (shoal) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 11 0 12345 1000000 5000';
    assert.equal(parseStatCpuTicks(stat), 175, 'utime 150 + stime 25 ticks');
  });

  it('refuses a stat line without a command name', () => {
    assert.throws(() => parseStatCpuTicks('garbage'), /malformed/, 'no ")" must be refused');
  });

  it('reads VmRSS and VmHWM in bytes, and 0 for a missing field', () => {
    const status = 'Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n';
    assert.deepEqual(parseStatusMemory(status), { rssBytes: 102400 * 1024, peakRssBytes: 204800 * 1024 }, 'kB converted to bytes');
    assert.deepEqual(parseStatusMemory('Name:\tx\n'), { rssBytes: 0, peakRssBytes: 0 }, 'a kernel thread has no VmRSS');
  });
});

describe('bench Prometheus text parser', () => {
  const text = [
    '# HELP shoal_net_messages_in_total Gossip messages received',
    '# TYPE shoal_net_messages_in_total counter',
    'shoal_net_messages_in_total{kind="cell"} 12',
    'shoal_net_messages_in_total{kind="global"} 3',
    'shoal_net_requests_sent_total{protocol="/shoal/direct/1.0.0",outcome="ok"} 41',
    'shoal_net_requests_sent_total{protocol="/shoal/direct/1.0.0",outcome="NET_TIMEOUT"} 2',
    'weird_label{msg="a \\"quoted\\" } brace"} 5',
    'shoal_net_peers 7 1700000000000',
    'not a sample line',
  ].join('\n');

  it('sums a metric over all its label sets, or over those matching a filter', () => {
    const s = parsePromText(text);
    assert.equal(sumSamples(s, 'shoal_net_messages_in_total'), 15, 'cell + global');
    assert.equal(sumSamples(s, 'shoal_net_requests_sent_total', { outcome: 'ok' }), 41, 'only ok outcomes');
    assert.equal(sumSamples(s, 'shoal_net_requests_sent_total'), 43, 'all outcomes');
    assert.equal(sumSamples(s, 'shoal_net_peers'), 7, 'a sample with a timestamp');
    assert.equal(sumSamples(s, 'absent_total'), 0, 'an absent metric sums to 0');
  });

  it('keeps escaped quotes and braces inside label values', () => {
    const w = parsePromText(text).find((x) => x.name === 'weird_label');
    assert.ok(w, 'the sample with an escaped label value is parsed');
    assert.equal(w.labels['msg'], 'a "quoted" } brace', 'escapes are undone');
    assert.equal(w.value, 5, 'its value');
  });
});

describe('bench: Shoal protocol counters from /v1/metrics', () => {
  it('counts one-way messages in when served and out when sent, and answers in only for requests', () => {
    const text = [
      'shoal_net_messages_in_total{kind="cell"} 10',
      'shoal_net_messages_out_total{kind="cell"} 2',
      // Pings and acks: one-way, 40 sent and 38 received.
      'shoal_net_requests_sent_total{protocol="/shoal/direct/2.0.0",exchange="message",outcome="ok"} 40',
      'shoal_net_requests_served_total{protocol="/shoal/direct/2.0.0",exchange="message",outcome="ok"} 38',
      // Requests: 5 answered and 1 timed out; 3 served for peers.
      'shoal_net_requests_sent_total{protocol="/shoal/recovery/2.0.0",exchange="request",outcome="ok"} 5',
      'shoal_net_requests_sent_total{protocol="/shoal/recovery/2.0.0",exchange="request",outcome="NET_TIMEOUT"} 1',
      'shoal_net_requests_served_total{protocol="/shoal/recovery/2.0.0",exchange="request",outcome="ok"} 3',
    ].join('\n');
    const c = shoalProtocolCounters(text);
    assert.equal(c.messagesIn, 10 + 38 + 3 + 5, 'first copies + served + answers to our requests; our 40 pings and acks are not in');
    assert.equal(c.messagesOut, 2 + 40 + 6 + 3, 'published + everything sent + answers to peers');
  });
});

describe('bench /proc/stat parser', () => {
  it('counts idle and iowait as not busy, everything else as busy', () => {
    const text = 'cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 1\n';
    assert.deepEqual(parseProcStatCpu(text), { busyTicks: 160, totalTicks: 1000 }, 'busy = user+nice+system+irq+softirq+steal');
  });

  it('refuses text without the aggregate cpu line', () => {
    assert.throws(() => parseProcStatCpu('cpu0 1 2 3 4\n'), /no aggregate cpu line/, 'per-core lines alone are not enough');
  });
});
