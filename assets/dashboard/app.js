// The API-metrics dashboard. Every recorded string reaches the page as text (textContent, text nodes, option values):
// never parsed as HTML, never an attribute that loads or runs anything. Read-only: it only GETs its own JSON.
'use strict';
(function () {
  const BASE = document.body.dataset.base;
  const POLL_MS = 2000;
  const SVG = 'http://www.w3.org/2000/svg';
  const filters = { route: '', status: '', consumer: '' };
  let timer;
  let openSeq;

  /** An element with a class (optional) and children: strings become text nodes. */
  function el(tag, cls, ...children) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    for (const child of children) {
      if (child === undefined || child === null) continue;
      node.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US'));
  const ms = (n) => (n === undefined || n === null ? '–' : `${Math.round(n * 10) / 10} ms`);
  const pct = (part, whole) =>
    whole ? `${((100 * part) / whole).toFixed(part && part < whole / 1000 ? 2 : 1)}%` : '–';
  const bytes = (n) =>
    n === undefined || n === null
      ? '–'
      : n < 1024
        ? `${n} B`
        : n < 1048576
          ? `${(n / 1024).toFixed(1)} KB`
          : `${(n / 1048576).toFixed(1)} MB`;
  const duration = (s) =>
    s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;

  async function getJson(path) {
    const res = await fetch(BASE + path, { credentials: 'same-origin', cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  }

  function table(node, head, rows) {
    node.replaceChildren();
    const tr = el('tr');
    for (const h of head) tr.append(el('th', h.num ? 'num' : '', h.label));
    node.append(el('thead', '', tr));
    const body = el('tbody');
    for (const row of rows) body.append(row);
    if (!rows.length) body.append(el('tr', 'empty', el('td', '', 'nothing yet')));
    node.append(body);
  }

  function row(cells, onClick, selected) {
    const tr = el('tr', onClick ? 'clickable' + (selected ? ' selected' : '') : '');
    for (const c of cells)
      tr.append(
        el('td', typeof c === 'object' && c !== null && c.num ? 'num' : '', c && c.text !== undefined ? c.text : c),
      );
    if (onClick) tr.addEventListener('click', onClick);
    return tr;
  }
  const num = (text) => ({ num: true, text: String(text) });

  function renderCards(o) {
    const total = o.routes.reduce((a, r) => a + r.requests, 0);
    const errors = o.routes.reduce((a, r) => a + r.errors, 0);
    const d = o.delivery;
    const cards = [
      ['Requests', fmt(total)],
      ['Errors', `${fmt(errors)} (${pct(errors, total)})`],
      ['Consumers', fmt(o.consumers.length)],
      ['Sent', fmt(d.sent)],
      ['Failed', fmt(d.failed), d.failed > 0],
      ['Dropped', fmt(d.dropped), d.dropped > 0],
      ['Queued', fmt(d.queued + d.inFlight)],
    ];
    $('cards').replaceChildren(
      ...cards.map(([label, value, bad]) =>
        el('div', bad ? 'card bad' : 'card', el('div', 'value', value), el('div', 'label', label)),
      ),
    );
    $('since').textContent =
      `counting for ${duration((o.now - o.startTime) / 1000)}${o.trafficEnabled ? '' : ' (trafficMetrics is off)'}`;
  }

  function renderRoutes(o) {
    const rows = o.routes.map((r) => {
      const key = r.name === undefined ? '' : `${r.method} ${r.name}`;
      return row(
        [
          r.method,
          r.name === undefined ? el('span', 'muted', '(no route matched)') : r.name,
          num(fmt(r.requests)),
          num(pct(r.errors, r.requests)),
          num(ms(r.p50)),
          num(ms(r.p95)),
          num(ms(r.p99)),
          num(bytes(r.requestBytes)),
          num(bytes(r.responseBytes)),
        ],
        key ? () => setFilter('route', filters.route === key ? '' : key) : undefined,
        key && filters.route === key,
      );
    });
    const h = (label, n) => ({ label, num: n });
    table(
      $('routes'),
      [
        h('Method'),
        h('Route'),
        h('Requests', 1),
        h('Errors', 1),
        h('p50', 1),
        h('p95', 1),
        h('p99', 1),
        h('Req. body', 1),
        h('Resp. body', 1),
      ],
      rows,
    );
    fillSelect(
      $('f-route'),
      o.routes.filter((r) => r.name !== undefined).map((r) => `${r.method} ${r.name}`),
      filters.route,
      'any',
    );
  }

  function renderConsumers(o) {
    const rows = o.consumers.map((c) =>
      row(
        [c.name, num(fmt(c.requests)), num(pct(c.errors, c.requests)), num(ms(c.p95))],
        () => setFilter('consumer', filters.consumer === c.id ? '' : c.id),
        filters.consumer === c.id,
      ),
    );
    table(
      $('consumers'),
      [{ label: 'Consumer' }, { label: 'Requests', num: 1 }, { label: 'Errors', num: 1 }, { label: 'p95', num: 1 }],
      rows,
    );
    const select = $('f-consumer');
    select.replaceChildren(el('option', '', 'any'));
    select.firstChild.value = '';
    for (const c of o.consumers) {
      const option = el('option', '', c.name);
      option.value = c.id;
      select.append(option);
    }
    select.value = filters.consumer;
  }

  function fillSelect(select, values, current, anyLabel) {
    select.replaceChildren(el('option', '', anyLabel));
    select.firstChild.value = '';
    for (const v of values) select.append(el('option', '', v));
    if (current && !values.includes(current)) select.append(el('option', '', current));
    select.value = current;
  }

  function renderStatuses(o) {
    const entries = Object.entries(o.statusClasses).sort();
    const total = entries.reduce((a, [, n]) => a + n, 0);
    $('statuses').replaceChildren(
      ...entries.map(([cls, n]) => {
        const bar = el(
          'div',
          `status s${cls[0]}`,
          el('span', 'cls', cls === '0' ? 'no response' : cls),
          el('span', '', `${fmt(n)} (${pct(n, total)})`),
        );
        return bar;
      }),
    );
  }

  function renderDelivery(o) {
    const d = o.delivery;
    const items = [
      ['captured', d.captured],
      ['sent', d.sent],
      ['failed', d.failed],
      ['of which unconfirmed', d.unconfirmed],
      ['dropped (queue full)', d.dropped],
      ['retried', d.retried],
      ['queued', d.queued],
      ['in flight', d.inFlight],
      ['sampled out', d.sampledOut],
      ['group timeouts', d.groupTimeouts],
    ];
    const nodes = [];
    for (const [k, v] of items) nodes.push(el('dt', '', k), el('dd', '', fmt(v)));
    nodes.push(el('dt', '', 'last problem'));
    nodes.push(
      d.lastProblem
        ? el('dd', 'problem', `${d.lastProblem.at} ${d.lastProblem.level}: ${d.lastProblem.message}`)
        : el('dd', 'muted', 'none'),
    );
    $('delivery').replaceChildren(...nodes);
    const r = o.recent;
    $('recent-note').textContent =
      r.note ??
      `${fmt(r.kept)} kept, ${bytes(r.bytes)} of ${bytes(r.capacity)}${r.evicted ? `, ${fmt(r.evicted)} older ones overwritten` : ''}`;
  }

  /** Requests and errors per minute between consecutive points of the history, as a hand-drawn SVG step chart. */
  function renderChart(o) {
    const points = o.history;
    const box = $('chart');
    const W = 900;
    const H = 180;
    const pad = { l: 48, r: 10, t: 10, b: 24 };
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('role', 'img');
    const segs = [];
    for (let i = 1; i < points.length; i++) {
      const [t0, r0, e0] = points[i - 1];
      const [t1, r1, e1] = points[i];
      const minutes = Math.max((t1 - t0) / 60000, 1 / 60);
      segs.push({ t0, t1, rate: (r1 - r0) / minutes, errors: (e1 - e0) / minutes });
    }
    if (!segs.length) {
      box.replaceChildren(el('p', 'muted', 'no traffic counted yet'));
      return;
    }
    const tMin = segs[0].t0;
    const tMax = Math.max(segs[segs.length - 1].t1, tMin + 60000);
    const yMax = Math.max(1, ...segs.map((s) => s.rate));
    const x = (t) => pad.l + ((t - tMin) / (tMax - tMin)) * (W - pad.l - pad.r);
    const y = (v) => H - pad.b - (v / yMax) * (H - pad.t - pad.b);
    const line = (key, cls) => {
      let d = '';
      for (const s of segs)
        d += `${d ? 'L' : 'M'}${x(s.t0).toFixed(1)},${y(s[key]).toFixed(1)}L${x(s.t1).toFixed(1)},${y(s[key]).toFixed(1)}`;
      const path = document.createElementNS(SVG, 'path');
      path.setAttribute('d', d);
      path.setAttribute('class', cls);
      svg.append(path);
    };
    const text = (tx, ty, value, anchor) => {
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', String(tx));
      t.setAttribute('y', String(ty));
      t.setAttribute('text-anchor', anchor);
      t.textContent = value;
      svg.append(t);
    };
    for (const f of [0, 0.5, 1]) {
      const gy = y(yMax * f);
      const grid = document.createElementNS(SVG, 'line');
      for (const [k, v] of [
        ['x1', pad.l],
        ['x2', W - pad.r],
        ['y1', gy],
        ['y2', gy],
      ])
        grid.setAttribute(k, String(v));
      grid.setAttribute('class', 'grid');
      svg.append(grid);
      text(pad.l - 6, gy + 4, (yMax * f).toFixed(yMax * f < 10 && f ? 1 : 0), 'end');
    }
    const clock = (t) => new Date(t).toTimeString().slice(0, 5);
    text(pad.l, H - 6, clock(tMin), 'start');
    text(W - pad.r, H - 6, clock(tMax), 'end');
    line('rate', 'requests');
    line('errors', 'errors');
    box.replaceChildren(svg);
    $('chart-note').textContent =
      'requests / min (blue) and errors / min (red); spans while no page was open show their average';
  }

  async function refreshOverview() {
    const o = await getJson('/api/overview');
    renderCards(o);
    renderChart(o);
    renderRoutes(o);
    renderConsumers(o);
    renderStatuses(o);
    renderDelivery(o);
  }

  // The list as last drawn: an unchanged answer is not drawn again, so a row stays the same node between polls (a
  // click or a text selection in progress is not lost to a redraw).
  let drawnExchanges = '';

  async function refreshExchanges() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    const list = await getJson(`/api/exchanges?${q}`);
    const drawn = `${openSeq}|${JSON.stringify(list)}`;
    if (drawn === drawnExchanges) return;
    drawnExchanges = drawn;
    const rows = list.items.map((x) =>
      row(
        [
          new Date(x.startedDateTime).toLocaleTimeString(),
          x.method,
          x.url,
          { num: true, text: el('span', `code s${String(x.status)[0]}`, String(x.status)) },
          num(ms(x.time)),
          x.consumer ?? '',
          num(x.errors || ''),
          num(x.outgoing || ''),
        ],
        () => openExchange(x.seq),
        x.seq === openSeq,
      ),
    );
    table(
      $('exchanges'),
      ['Time', 'Method', 'URL', 'Status', 'Duration', 'Consumer', 'Errors', 'Outgoing'].map((label, i) => ({
        label,
        num: i === 3 || i === 4 || i > 5,
      })),
      rows,
    );
    if (list.matched > list.items.length)
      $('exchanges').append(el('caption', '', `newest ${list.items.length} of ${fmt(list.matched)}`));
  }

  function headersBlock(title, headers) {
    const dl = el('dl', 'headers');
    for (const h of headers || []) dl.append(el('dt', '', h.name), el('dd', '', h.value));
    return el('div', '', el('h4', '', title), headers && headers.length ? dl : el('p', 'muted', 'none'));
  }

  function bodyBlock(title, text, extra) {
    return el(
      'div',
      '',
      el('h4', '', title),
      text !== undefined && text !== '' ? el('pre', 'body', text) : el('p', 'muted', 'none'),
      extra ? el('p', 'muted', extra) : undefined,
    );
  }

  function entryBlock(entry, heading) {
    const req = entry.request;
    const res = entry.response;
    const post = req.postData;
    const postText = post
      ? post.text !== undefined
        ? post.text
        : post.params
          ? post.params.map((p) => `${p.name}=${p.value ?? `(file ${p.fileName ?? ''})`}`).join('\n')
          : undefined
      : undefined;
    const parts = [
      el(
        'h3',
        '',
        heading,
        ' ',
        el('span', 'muted', `${req.method} ${req.url} → ${res.status} ${res.statusText} in ${ms(entry.time)}`),
      ),
      el('div', 'pair', headersBlock('Request headers', req.headers), headersBlock('Response headers', res.headers)),
      el(
        'div',
        'pair',
        bodyBlock('Request body', postText, post && post.comment),
        bodyBlock(
          'Response body',
          res.content && res.content.text,
          res.content &&
            (res.content.comment || (res.content.encoding ? `encoding: ${res.content.encoding}` : undefined)),
        ),
      ),
    ];
    if (Array.isArray(entry._errors) && entry._errors.length) {
      parts.push(el('h4', 'bad', 'Errors'));
      for (const e of entry._errors) parts.push(el('pre', 'body error', JSON.stringify(e, null, 2)));
    }
    return el('div', 'entry', ...parts);
  }

  async function openExchange(seq) {
    openSeq = seq;
    const box = $('detail');
    let record;
    try {
      record = await getJson(`/api/exchanges/${seq}`);
    } catch {
      box.replaceChildren(el('p', 'muted', 'This record was overwritten by newer ones.'));
      box.hidden = false;
      return;
    }
    const entries = record.request.log.entries;
    const close = el('button', 'close', 'Close');
    close.addEventListener('click', () => {
      openSeq = undefined;
      box.hidden = true;
      box.replaceChildren();
    });
    const group = record.group || {};
    box.replaceChildren(
      el('div', 'detail-head', el('h2', '', 'Exchange ', el('code', '', record._id)), close),
      el(
        'p',
        'muted',
        `consumer: ${group.label || group.email || group.id || 'none'}${group.id ? ` (${group.id})` : ''} · client ${record.clientIPAddress}`,
      ),
      entryBlock(entries[0], 'Request'),
      ...entries.slice(1).map((e, i) => entryBlock(e, `Outgoing call ${i + 1}`)),
    );
    box.hidden = false;
    box.scrollIntoView({ block: 'nearest' });
    void refreshExchanges().catch(() => {});
  }

  function setFilter(key, value) {
    filters[key] = value;
    void tick();
  }

  async function tick() {
    clearTimeout(timer);
    try {
      await Promise.all([refreshOverview(), refreshExchanges()]);
      $('live').textContent = `live · ${new Date().toLocaleTimeString()}`;
      $('live').className = 'live ok';
    } catch (error) {
      $('live').textContent = `not updated: ${error.message}`;
      $('live').className = 'live bad';
    }
    // Polls only while the tab is visible: a hidden or closed page costs the app nothing.
    if (!document.hidden) timer = setTimeout(tick, POLL_MS);
  }

  $('f-route').addEventListener('change', (e) => setFilter('route', e.target.value));
  $('f-status').addEventListener('change', (e) => setFilter('status', e.target.value));
  $('f-consumer').addEventListener('change', (e) => setFilter('consumer', e.target.value));
  $('filters').addEventListener('reset', () => {
    filters.route = filters.status = filters.consumer = '';
    setTimeout(tick);
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) void tick();
    else clearTimeout(timer);
  });
  void tick();
})();
