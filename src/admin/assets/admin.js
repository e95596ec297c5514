// Progressive enhancement for the admin panel. Every page works without this file; with it, charts
// are drawn, dangerous forms ask first, times show in the browser's zone and htmx errors are visible.
(() => {
  const charts = new WeakMap();
  const palette = ['#2f6fec', '#12875a', '#b54708', '#7a5af8', '#d92d20', '#0e9384', '#667085'];

  function readJson(el, name, fallback) {
    try {
      return JSON.parse(el.getAttribute(name) ?? '');
    } catch {
      return fallback;
    }
  }

  function drawChart(canvas) {
    if (charts.has(canvas) || typeof window.Chart !== 'function') return;
    const type = canvas.dataset.chart;
    const labels = readJson(canvas, 'data-labels', []);
    const values = readJson(canvas, 'data-values', []);
    const round = type === 'doughnut';
    const chart = new window.Chart(canvas, {
      type,
      data: {
        labels,
        datasets: [
          {
            label: canvas.dataset.label ?? '',
            data: values,
            borderColor: round ? '#fff' : palette[0],
            backgroundColor: round ? palette : type === 'bar' ? palette[0] : 'rgba(47, 111, 236, 0.15)',
            fill: type === 'line',
            tension: 0.25,
            pointRadius: 2,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: round, position: 'bottom' } },
        scales: round
          ? {}
          : { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 8 } } },
      },
    });
    charts.set(canvas, chart);
  }

  function localTimes(root) {
    for (const el of root.querySelectorAll('time[datetime][data-local]')) {
      const d = new Date(el.getAttribute('datetime'));
      if (!Number.isNaN(d.getTime())) {
        el.title = el.textContent;
        el.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
      }
    }
  }

  function enhance(root) {
    for (const canvas of root.querySelectorAll('canvas[data-chart]')) drawChart(canvas);
    localTimes(root);
  }

  // The audience of the compose form, as the server reads it (formAudience in broadcasts.routes.ts).
  function audienceOf(form) {
    const value = (name) => form.elements.namedItem(name)?.value ?? '';
    switch (value('audience')) {
      case 'active':
        return { kind: 'active', days: Number(value('days')) };
      case 'plan':
        return { kind: 'plan', plan: value('plan') };
      case 'language':
        return { kind: 'language', language: value('language').trim().toLowerCase() };
      default:
        return { kind: 'all' };
    }
  }

  // Counted when the button is pressed, not taken from the page: the audience changes.
  async function countRecipients(audience) {
    const headers = readJson(document.body, 'hx-headers', {});
    try {
      const res = await fetch('/admin/api/broadcasts/audience-count', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ audience }),
      });
      return res.ok ? (await res.json()).count : null;
    } catch {
      return null;
    }
  }

  // A form, or the button that submits it, may ask first: data-confirm with a fixed question,
  // data-confirm-count with the number of recipients of its audience ({count}).
  document.addEventListener('submit', (event) => {
    const form = event.target;
    // htmx forms ask through htmx:confirm below, before their request is issued.
    if (!(form instanceof HTMLFormElement) || form.hasAttribute('hx-post')) return;
    const submitter = event.submitter;
    const countQuestion = submitter?.dataset.confirmCount ?? form.dataset.confirmCount;
    if (countQuestion) {
      if (form.dataset.confirmed === 'yes') {
        delete form.dataset.confirmed;
        return;
      }
      event.preventDefault();
      const audience = form.dataset.audience ? readJson(form, 'data-audience', {}) : audienceOf(form);
      countRecipients(audience).then((count) => {
        const question =
          count === null
            ? 'The recipients could not be counted. Start sending now anyway?'
            : countQuestion.replace('{count}', count.toLocaleString());
        if (!window.confirm(question)) return;
        form.dataset.confirmed = 'yes';
        form.requestSubmit(submitter ?? undefined);
      });
      return;
    }
    const question = submitter?.dataset.confirm ?? form.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.addEventListener('htmx:confirm', (event) => {
    const el = event.target;
    const question = el instanceof HTMLElement ? el.dataset.confirm : undefined;
    if (!question) return;
    event.preventDefault();
    if (window.confirm(question)) event.detail.issueRequest(true);
  });

  document.addEventListener('htmx:responseError', (event) => {
    const xhr = event.detail.xhr;
    let message = `Request failed (${xhr.status}).`;
    try {
      message = JSON.parse(xhr.responseText).error.message ?? message;
    } catch {}
    const box = document.getElementById('flash');
    if (box) {
      box.className = 'notice error';
      box.textContent = message;
      box.hidden = false;
    }
  });

  if (window.htmx) window.htmx.onLoad(enhance);
  document.addEventListener('DOMContentLoaded', () => enhance(document));
})();
