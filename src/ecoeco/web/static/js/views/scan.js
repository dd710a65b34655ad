// The heart of the app: the scan form (photo and/or question), live progress, and the result card with
// feedback.

import { API, api, ApiError, errorMessage, problemOf, request } from '../api.js';
import { allItems, categories, categoryLabel, itemName } from '../catalogue.js';
import { h, icon, sleep } from '../dom.js';
import { t } from '../i18n.js';
import { navigate } from '../router.js';
import { currentUser } from '../session.js';
import { itemCombobox } from '../typeahead.js';
import { signInPanel } from './signin.js';

const STAGES = ['preprocessed', 'cache_check', 'classifying', 'rules', 'answering'];
const UPLOAD_TYPES = {
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/png': 'image/png',
  'image/webp': 'image/webp',
  'image/heic': 'image/heic',
  'image/heif': 'image/heif',
};
const EXTENSIONS = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', heic: 'image/heic', heif: 'image/heif' };
// Phone photos are several MB; the server keeps at most 1280 px anyway. Larger photos are scaled down
// here first: less mobile data, and their EXIF (GPS included) never leaves the phone.
const SHRINK_ABOVE_BYTES = 1_500_000;
const SHRINK_TO_EDGE = 1600;
const SILENCE_MS = 15_000;
// After "done" the stream's last word says what the scan earned; the server sends it within 5 s or not at all.
const REWARD_WAIT_MS = 5_000;

// --- sending a scan ------------------------------------------------------------------------------

// One attempt per photo and question: pressing the button twice, or a retry after a lost response,
// reuses the same upload and the same Idempotency-Key, so the server makes exactly one scan.
let attempt = null;

function attemptFor(file, question) {
  if (!attempt || attempt.file !== file || attempt.question !== question) {
    attempt = { key: crypto.randomUUID(), file, question, uploadId: null, inFlight: null };
  }
  return attempt;
}

function sendAttempt(a) {
  a.inFlight ??= (async () => {
    if (a.file && !a.uploadId) a.uploadId = await uploadPhoto(a.file);
    const body = {};
    if (a.uploadId) body.upload_id = a.uploadId;
    if (a.question) body.question = a.question;
    return api('/waste/scans', { method: 'POST', json: body, idempotencyKey: a.key });
  })().finally(() => {
    a.inFlight = null;
  });
  return a.inFlight;
}

async function shrink(file) {
  if (file.size <= SHRINK_ABOVE_BYTES || !['image/jpeg', 'image/png', 'image/webp'].includes(file.type)) return file;
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    const scale = Math.min(1, SHRINK_TO_EDGE / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.88));
    return blob && blob.size < file.size ? new File([blob], 'photo.jpg', { type: 'image/jpeg' }) : file;
  } catch {
    return file; // the server decodes what the browser could not (HEIC, odd JPEGs)
  }
}

// The photo goes to a pre-signed PUT target (our own signed URL when embedded, S3 when distributed);
// only its id travels in the scan request.
async function uploadPhoto(original) {
  const file = await shrink(original);
  const extension = (file.name || '').split('.').pop().toLowerCase();
  const type = UPLOAD_TYPES[file.type] ?? EXTENSIONS[extension] ?? 'image/jpeg';
  const target = await api('/waste/uploads', { method: 'POST', json: { content_type: type, size: file.size } });
  const headers = {};
  for (const [name, value] of Object.entries(target.headers)) {
    if (name.toLowerCase() !== 'content-length') headers[name] = value; // the browser sets it
  }
  const sameOrigin = new URL(target.url, location.href).origin === location.origin;
  let response;
  try {
    response = await fetch(target.url, { method: 'PUT', headers, body: file, credentials: sameOrigin ? 'same-origin' : 'omit' });
  } catch {
    throw new ApiError(0, { code: navigator.onLine ? 'upload-failed' : 'offline' });
  }
  if (!response.ok) {
    const problem = sameOrigin ? await problemOf(response) : {};
    throw new ApiError(response.status, { code: 'upload-failed', ...problem });
  }
  return target.upload_id;
}

// --- the home screen -----------------------------------------------------------------------------

export async function homeView(main) {
  if (!currentUser()) {
    main.append(
      h('section', { class: 'hero' },
        h('h1', {}, t('scan.signedOutTitle')),
        h('p', { class: 'lead' }, t('scan.signedOutLead'))),
      signInPanel('/'),
      h('section', { class: 'card', 'aria-labelledby': 'no-account' },
        h('h2', { id: 'no-account' }, t('scan.noAccount')),
        h('ul', { class: 'link-list' },
          h('li', {}, h('a', { href: '/rules', class: 'tile' }, icon('book'), h('span', {}, t('scan.browseRules')))),
          h('li', {}, h('a', { href: '/places', class: 'tile' }, icon('pin'), h('span', {}, t('scan.findPlaces')))))),
    );
    return;
  }
  main.append(h('h1', {}, t('scan.title')), h('p', { class: 'lead' }, t('scan.lead')), scanForm());
}

function scanForm(initialQuestion = '') {
  // Two inputs: `capture` opens the phone's camera straight away, the other its photo library.
  const camera = h('input', { type: 'file', id: 'photo-camera', accept: 'image/*', capture: 'environment', class: 'file-input' });
  const library = h('input', { type: 'file', id: 'photo-file', accept: 'image/*', class: 'file-input' });
  const image = h('img', { alt: t('scan.preview'), class: 'preview-image' });
  const fileName = h('span', { class: 'file-name' });
  const preview = h('figure', { class: 'preview', hidden: true },
    image,
    h('figcaption', {}, fileName,
      h('button', { type: 'button', class: 'link-button', onclick: () => choose(null) }, t('scan.photoRemove'))));
  const question = h('textarea', {
    id: 'question', name: 'question', rows: 2, maxlength: 500,
    placeholder: t('scan.placeholder'), 'aria-describedby': 'question-hint',
  });
  question.value = initialQuestion;
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'button primary wide' }, t('scan.submit'));
  let file = null;
  let previewUrl = null;

  function choose(next) {
    file = next;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    error.textContent = '';
    if (!next) {
      camera.value = '';
      library.value = '';
      preview.hidden = true;
      return;
    }
    previewUrl = URL.createObjectURL(next);
    image.hidden = false;
    image.src = previewUrl;
    fileName.textContent = next.name;
    preview.hidden = false;
  }
  image.addEventListener('error', () => {
    image.hidden = true; // e.g. HEIC, which the server reads but this browser cannot show
  });
  for (const input of [camera, library]) input.addEventListener('change', () => choose(input.files[0] ?? null));

  const form = h('form', { class: 'card scan-form', novalidate: true },
    h('fieldset', { class: 'field photo-field' },
      h('legend', {}, t('scan.photo')),
      h('div', { class: 'photo-picks' },
        camera, h('label', { for: 'photo-camera', class: 'photo-pick' }, icon('camera'), h('span', {}, t('scan.takePhoto'))),
        library, h('label', { for: 'photo-file', class: 'photo-pick' }, icon('image'), h('span', {}, t('scan.choosePhoto')))),
      preview),
    h('div', { class: 'field' },
      h('label', { for: 'question' }, t('scan.question')),
      question,
      h('p', { id: 'question-hint', class: 'hint' }, t('scan.questionHint'))),
    error,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!file && !text) {
      error.textContent = t('scan.empty');
      question.focus();
      return;
    }
    const current = attemptFor(file, text);
    error.textContent = '';
    submit.disabled = true;
    submit.textContent = file && !current.uploadId ? t('scan.uploading') : t('scan.sending');
    form.setAttribute('aria-busy', 'true');
    try {
      const accepted = await sendAttempt(current);
      attempt = null;
      await navigate(`/scans/${accepted.scan_id}`);
    } catch (failure) {
      error.textContent = errorMessage(failure);
      submit.disabled = false;
      submit.textContent = t('scan.submit');
      form.removeAttribute('aria-busy');
    }
  });

  const examples = h('ul', { class: 'chips' },
    [1, 2, 3, 4].map((n) => h('li', {},
      h('button', {
        type: 'button', class: 'chip',
        onclick: () => {
          question.value = t(`scan.example.${n}`);
          question.focus();
        },
      }, t(`scan.example.${n}`)))));
  return h('div', { class: 'stack' }, form,
    h('section', { class: 'examples', 'aria-labelledby': 'examples-heading' },
      h('h2', { id: 'examples-heading', class: 'small-heading' }, t('scan.examples')), examples));
}

// --- one scan: progress, then the result ---------------------------------------------------------

async function fetchScan(id, signal) {
  return request(`/waste/scans/${encodeURIComponent(id)}`, { signal });
}

export async function scanView(main, { id }, ctx) {
  if (!currentUser()) {
    main.append(signInPanel(location.pathname, 'h1'));
    return;
  }
  let first;
  try {
    first = await fetchScan(id, ctx.signal);
  } catch (failure) {
    if (failure.name === 'AbortError') throw failure;
    const missing = failure.status === 404 || failure.status === 422;
    main.append(
      h('h1', {}, missing ? t('notfound.scan') : t('failed.title')),
      h('p', { class: 'form-error' }, errorMessage(failure)),
      h('p', {}, h('a', { href: '/', class: 'button' }, t('notfound.home'))),
    );
    return;
  }
  if (first.status === 200) {
    await showResult(main, first.data);
    return;
  }
  const tracker = progressPanel(first.data);
  main.append(tracker.element);
  follow(id, tracker, ctx.signal).then(async (final) => {
    if (ctx.signal.aborted || !final) return;
    main.replaceChildren();
    await showResult(main, final);
    const heading = main.querySelector('h1');
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
    document.title = `${heading.textContent} · ${t('app.name')}`;
  });
}

function progressPanel(view) {
  const bar = h('progress', { max: 100, value: view.progress, 'aria-labelledby': 'progress-label' });
  const items = new Map(STAGES.map((stage) => [stage,
    h('li', { class: 'stage' }, h('span', { class: 'stage-mark', 'aria-hidden': 'true' }, icon('check')),
      h('span', { class: 'stage-name' }, t(`stage.${stage}`)), h('span', { class: 'visually-hidden stage-state' }))]));
  const live = h('p', { class: 'status-line', role: 'status' });
  const note = h('p', { class: 'notice', hidden: true, role: 'status' });
  const question = view.question ? h('p', { class: 'muted' }, t('result.question', { q: view.question })) : null;
  const element = h('section', { class: 'card progress-card', 'aria-labelledby': 'progress-heading' },
    h('h1', { id: 'progress-heading' }, t('progress.title')),
    question,
    h('p', { id: 'progress-label', class: 'visually-hidden' }, t('progress.label')),
    bar,
    h('ol', { class: 'stages' }, [...items.values()]),
    live, note);

  const update = (data) => {
    bar.value = data.progress;
    const reached = STAGES.indexOf(data.stage);
    for (const [i, stage] of STAGES.entries()) {
      const li = items.get(stage);
      const state = i <= reached ? 'done' : i === reached + 1 ? 'current' : 'pending';
      li.dataset.state = state;
      li.querySelector('.stage-state').textContent = ` (${t(`stage.state.${state}`)})`;
    }
    if (reached >= 0) live.textContent = `${t(`stage.${data.stage}`)} · ${data.progress}%`;
  };
  update(view);
  return {
    element,
    update,
    notice(text) {
      note.textContent = text ?? '';
      note.hidden = !text;
    },
  };
}

// Live stages over Server-Sent Events; the browser reconnects by itself after a drop and sends
// Last-Event-ID, so the server replays what was missed. If the stream cannot be used at all (closed with
// an error status) or stays silent, we fall back to polling GET /scans/{id}, which honours Retry-After.
function follow(id, tracker, signal) {
  return new Promise((resolve) => {
    let settled = false;
    let source = null;
    let silence = null;
    const settle = (view) => {
      if (settled) return;
      settled = true;
      clearTimeout(silence);
      source?.close();
      resolve(view);
    };
    const poll = async () => {
      while (!settled && !signal.aborted) {
        try {
          const r = await fetchScan(id, signal);
          if (r.status === 200) {
            settle(r.data);
            return;
          }
          tracker.update(r.data);
          await sleep(Math.min(Number(r.headers.get('retry-after')) || 1, 5) * 1000);
        } catch (failure) {
          if (failure.name === 'AbortError') return;
          tracker.notice(errorMessage(failure));
          await sleep(3000);
        }
      }
    };
    signal.addEventListener('abort', () => settle(null));
    if (!('EventSource' in window)) {
      tracker.notice(t('progress.polling'));
      poll();
      return;
    }
    const quiet = () => {
      clearTimeout(silence);
      silence = setTimeout(async () => {
        const r = await fetchScan(id, signal).catch(() => null);
        if (r?.status === 200) settle(r.data);
        else if (!settled) quiet();
      }, SILENCE_MS);
    };
    source = new EventSource(`${API}/waste/scans/${encodeURIComponent(id)}/events`);
    const onEvent = (event) => {
      tracker.notice(null);
      tracker.update(JSON.parse(event.data));
      quiet();
    };
    // The full result (with feedback, photo and reward) comes from GET once the stream has said its last word.
    const finish = () => {
      clearTimeout(silence);
      source.close();
      poll();
    };
    source.addEventListener('progress', onEvent);
    source.addEventListener('failed', (event) => {
      onEvent(event);
      finish();
    });
    source.addEventListener('done', (event) => {
      onEvent(event);
      clearTimeout(silence);
      silence = setTimeout(finish, REWARD_WAIT_MS);
    });
    source.addEventListener('reward', finish);
    source.addEventListener('error', () => {
      if (settled) return;
      if (source.readyState === EventSource.CLOSED) {
        tracker.notice(t('progress.polling'));
        poll();
      } else {
        tracker.notice(t('progress.reconnecting'));
      }
    });
    quiet();
  });
}

async function showResult(main, view) {
  if (view.status === 'failed') {
    main.append(failedCard(view));
    return;
  }
  const tree = await categories().catch(() => null);
  main.append(view.result.unsure ? unsureCard(view) : answerCard(view, tree));
}

function photo(view) {
  return view.image_url
    ? h('img', { src: view.image_url, alt: t('result.photoAlt'), class: 'result-photo', width: 96, height: 96 })
    : null;
}

function confidenceText(view) {
  const result = view.result;
  if (view.cache_hit || result.model === 'confirmed-cache') return t('confidence.confirmed');
  if (result.model === 'knowledge-base') return t('confidence.question');
  const pct = Math.round(result.confidence * 100);
  if (result.confidence >= 0.85) return t('confidence.high', { pct });
  if (result.confidence >= 0.6) return t('confidence.medium', { pct });
  return t('confidence.low', { pct });
}

function guideHref(answer) {
  return answer.target === answer.middle ? `/rules/c/${encodeURIComponent(answer.middle)}` : `/rules/items/${encodeURIComponent(answer.target)}`;
}

function section(id, title, body) {
  return h('section', { class: 'result-section', 'aria-labelledby': id }, h('h2', { id }, title), body);
}

function answerCard(view, tree) {
  const answer = view.result.answer;
  const category = tree ? categoryLabel(tree, answer.major, answer.middle) : answer.middle;
  return h('article', { class: 'card result-card' },
    h('header', { class: 'result-head' },
      photo(view),
      h('div', {},
        h('h1', {}, answer.name),
        h('dl', { class: 'facts' },
          h('div', {}, h('dt', {}, t('result.category')), h('dd', {}, category)),
          h('div', {}, h('dt', {}, t('result.bin')), h('dd', { class: 'bin' }, answer.bin))))),
    view.question ? h('p', { class: 'muted' }, t('result.question', { q: view.question })) : null,
    h('p', { class: 'reply' }, view.result.reply),
    h('p', { class: 'confidence' }, icon('check'), h('span', {}, `${t('confidence.label')}: ${confidenceText(view)}`)),
    view.result.reward?.earned
      ? h('p', { class: 'reward', role: 'status' }, icon('leaf'),
        h('span', {}, t('result.reward', { name: view.result.reward.name }), ' ',
          h('a', { href: '/history' }, t('result.rewardLink'))))
      : null,
    answer.redirected_by ? h('p', { class: 'notice' }, icon('alert'), h('span', {}, t('result.redirected'))) : null,
    answer.todo.length
      ? section('todo-heading', t('result.todo'), h('ul', { class: 'checklist' }, answer.todo.map((item) => h('li', {}, item.text))))
      : null,
    section('steps-heading', t('result.steps'), h('ol', { class: 'steps' }, answer.steps.map((step) => h('li', {}, step.text)))),
    answer.not_accepted.length
      ? section('not-heading', t('result.notAccepted'),
        h('ul', { class: 'not-accepted' }, answer.not_accepted.map((item) => h('li', {},
          h('span', { class: 'what' }, item.what),
          h('span', { class: 'instead' }, t('result.insteadTo', { instead: item.instead, bin: item.bin }))))))
      : null,
    answer.notes.length
      ? section('notes-heading', t('result.notes'), h('ul', { class: 'notes' }, answer.notes.map((note) => h('li', {}, note))))
      : null,
    h('p', { class: 'actions' },
      h('a', { href: guideHref(answer), class: 'button' }, icon('book'), h('span', {}, t('result.guide'))),
      h('a', { href: '/', class: 'button' }, icon('camera'), h('span', {}, t('result.newScan')))),
    feedbackSection(view),
  );
}

async function itemNameById(id) {
  const items = await allItems().catch(() => []);
  const found = items.find((item) => item.id === id);
  return found ? itemName(found) : id;
}

function sendFeedback(view, body) {
  return api(`/waste/scans/${encodeURIComponent(view.id)}/feedback`, { method: 'POST', json: body });
}

function guideLink(item, cls) {
  return h('p', {}, h('a', { href: `/rules/items/${encodeURIComponent(item.id)}`, class: cls },
    t('feedback.guideOf', { name: itemName(item) })));
}

// "It is this item": a type-ahead and a button that send the correction as feedback on the scan, which
// also teaches the photo (for this person) for next time.
function correctionForm(view, { hidden = false, primary = true, onSent }) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  let chosen = null;
  const combo = itemCombobox({
    label: t('feedback.pickLabel'),
    hint: t('feedback.pickHint'),
    onSelect: (item) => {
      chosen = item;
      error.textContent = '';
    },
  });
  const send = h('button', { type: 'submit', class: primary ? 'button primary' : 'button' }, t('feedback.send'));
  const form = h('form', { class: 'correction stack', hidden, novalidate: true }, combo.element, error, send);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!chosen) {
      error.textContent = t('feedback.pickFirst');
      combo.input.focus();
      return;
    }
    send.disabled = true;
    error.textContent = '';
    try {
      await sendFeedback(view, { correct: false, item_id: chosen.id });
      onSent(chosen);
    } catch (failure) {
      error.textContent = errorMessage(failure);
      send.disabled = false;
    }
  });
  return { form, focus: () => combo.input.focus() };
}

function feedbackSection(view) {
  const status = h('p', { class: 'status-line', role: 'status' });
  const box = h('section', { class: 'feedback', 'aria-labelledby': 'feedback-heading' },
    h('h2', { id: 'feedback-heading' }, t('feedback.title')));
  if (view.feedback) {
    box.append(status);
    if (view.feedback.correct) status.textContent = t('feedback.givenRight');
    else if (view.feedback.item_id) {
      itemNameById(view.feedback.item_id).then((name) => {
        status.textContent = t('feedback.givenWrong', { name });
      });
    }
    return box;
  }
  const error = h('p', { class: 'form-error', role: 'alert' });
  const right = h('button', { type: 'button', class: 'button' }, icon('check'), h('span', {}, t('feedback.right')));
  const wrong = h('button', { type: 'button', class: 'button', 'aria-expanded': 'false', 'aria-controls': 'correction' },
    icon('x'), h('span', {}, t('feedback.wrong')));
  const buttons = h('div', { class: 'button-row' }, right, wrong);
  const done = (message, item) => {
    buttons.remove();
    correction.form.remove();
    error.remove();
    status.textContent = message;
    if (item) box.append(guideLink(item));
  };
  const correction = correctionForm(view, {
    hidden: true,
    onSent: (item) => done(t(view.image_url ? 'feedback.thanksWrong' : 'feedback.thanksWrongNoPhoto', { name: itemName(item) }), item),
  });
  correction.form.id = 'correction';
  right.addEventListener('click', async () => {
    right.disabled = true;
    try {
      await sendFeedback(view, { correct: true });
      done(t('feedback.thanksRight'));
    } catch (failure) {
      error.textContent = errorMessage(failure);
      right.disabled = false;
    }
  });
  wrong.addEventListener('click', () => {
    correction.form.hidden = false;
    wrong.setAttribute('aria-expanded', 'true');
    correction.focus();
  });
  box.append(buttons, error, correction.form, status);
  return box;
}

function unsureCard(view) {
  const describe = h('textarea', { id: 'describe', rows: 2, maxlength: 500, 'aria-describedby': 'describe-hint' });
  const describeError = h('p', { class: 'form-error', role: 'alert' });
  const describeButton = h('button', { type: 'submit', class: 'button primary' }, t('unsure.describeSubmit'));
  const describeForm = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'describe' }, t('unsure.describe')),
      h('p', { id: 'describe-hint', class: 'hint' }, t('unsure.describeHint')),
      describe),
    describeError, describeButton);
  describeForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = describe.value.trim();
    if (!text) {
      describeError.textContent = t('scan.empty');
      describe.focus();
      return;
    }
    describeButton.disabled = true;
    try {
      const accepted = await sendAttempt(attemptFor(null, text));
      attempt = null;
      await navigate(`/scans/${accepted.scan_id}`);
    } catch (failure) {
      describeError.textContent = errorMessage(failure);
      describeButton.disabled = false;
    }
  });

  const pickStatus = h('p', { class: 'status-line', role: 'status' });
  const pick = correctionForm(view, {
    primary: false,
    onSent: (item) => {
      pickStatus.textContent = t('unsure.picked', { name: itemName(item) });
      pickStatus.after(guideLink(item, 'button primary'));
    },
  });

  return h('article', { class: 'card result-card unsure' },
    h('header', { class: 'result-head' }, photo(view), h('h1', {}, t('unsure.title'))),
    view.question ? h('p', { class: 'muted' }, t('result.question', { q: view.question })) : null,
    h('p', { class: 'reply' }, view.result.reply),
    h('section', { class: 'result-section', 'aria-labelledby': 'describe-heading' },
      h('h2', { id: 'describe-heading' }, t('unsure.describeTitle')), describeForm),
    h('section', { class: 'result-section', 'aria-labelledby': 'pick-heading' },
      h('h2', { id: 'pick-heading' }, t('unsure.pick')), pick.form, pickStatus),
  );
}

function failedCard(view) {
  const error = view.error ?? {};
  const message = error.code && errorMessage({ code: error.code }) !== t('error.generic')
    ? errorMessage({ code: error.code })
    : error.message || t('error.generic');
  return h('article', { class: 'card result-card failed' },
    h('h1', {}, t('failed.title')),
    h('p', { class: 'form-error' }, message),
    h('p', {}, h('a', { href: '/', class: 'button primary' }, t('failed.retry'))),
  );
}
