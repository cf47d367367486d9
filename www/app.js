// The page's wiring: DOM events in, worker requests out, answers drawn. All image and model
// work happens in Rust (vlinder-web) inside worker.js.
const $ = (id) => document.getElementById(id);
const MODEL_URL = 'model/default.vlinder';

let text = {};
let modelBytes = null;        // the bundle in use, kept to reload after a worker restart
let lastResult = null;
let worker, nextId = 0;
const pending = new Map();

// ---- worker -------------------------------------------------------------------------------
function startWorker() {
  worker = new Worker('worker.js', { type: 'module' });
  worker.onmessage = ({ data }) => {
    const request = pending.get(data.id);
    if (!request) return;
    pending.delete(data.id);
    if (data.ok) return request.resolve(data.result);
    const error = Object.assign(new Error(data.error.message), { name: data.error.name, crashed: data.crashed });
    request.reject(error);
    if (data.crashed) restartWorker();
  };
}

function call(op, args = {}, transfer = []) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer);
  });
}

async function restartWorker() {
  worker.terminate();
  for (const { reject } of pending.values()) reject(new Error(text.crashed));
  pending.clear();
  startWorker();
  showStatus(text.crashed, true);
  if (modelBytes) await call('loadModel', { bytes: modelBytes.slice(0) });
}

// ---- text ---------------------------------------------------------------------------------
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? '');

async function setLanguage(language) {
  text = await call('text', { language });
  document.documentElement.lang = text.lang;
  for (const el of document.querySelectorAll('[data-text]')) el.textContent = text[el.dataset.text];
  try { localStorage.setItem('vlinder-language', text.lang); } catch { /* private mode */ }
  if (lastResult) showResult(lastResult);
  if (currentModel) showModel(currentModel);
}

function showStatus(message, isError = false) {
  $('status').textContent = message;
  $('status').classList.toggle('error', isError);
}

// ---- model --------------------------------------------------------------------------------
let currentModel = null;

function showModel(info) {
  $('model-line').textContent = fill(text.model_line, {
    architecture: info.architecture, size: info.image_size, classes: info.classes.join(', '),
  }) + (info.dataset ? ` — ${info.dataset}` : '');
  for (const id of ['crop', 'preview']) $(id).width = $(id).height = info.image_size;
}

async function loadModel(bytes, fromUser) {
  try {
    currentModel = await call('loadModel', { bytes: bytes.slice(0) });
    modelBytes = bytes;
    showModel(currentModel);
    if (fromUser) {
      $('model-status').textContent = text.model_loaded;
      $('model-status').classList.remove('error');
    }
    return true;
  } catch (e) {
    const message = fromUser ? fill(text.model_error, { reason: e.message }) : fill(text.no_model, { reason: e.message });
    (fromUser ? $('model-status') : $('status')).textContent = message;
    (fromUser ? $('model-status') : $('status')).classList.add('error');
    return false;
  }
}

// ---- photo --------------------------------------------------------------------------------
async function classify(file, started = performance.now()) {
  if (!file) return;
  if (/\.vlinder$/i.test(file.name ?? '')) return loadModel(await file.arrayBuffer(), true);
  $('result').setAttribute('aria-busy', 'true');
  showStatus(text.working);
  try {
    const bytes = await file.arrayBuffer();
    const result = await call('classify', { bytes }, [bytes]);
    showResult(result);
    lastResult = result;
    $('status').textContent = '';
    await new Promise(requestAnimationFrame);
    const ms = performance.now() - started;
    $('timing').textContent = fill(text.timing, { ms: ms.toFixed(0) });
    $('answer').dataset.totalMs = ms.toFixed(2);
    updatePreview();
  } catch (e) {
    if (!e.crashed) showStatus(fill(text.image_error, { reason: e.message }), true);
    $('answer').hidden = true;
  } finally {
    $('result').setAttribute('aria-busy', 'false');
    document.body.dataset.answered = Number(document.body.dataset.answered ?? 0) + 1; // for tests
  }
}

function name(c) {
  return (text.lang === 'nl' && c.dutch) || c.english;
}

function showResult(result) {
  const top = result.ranking[0];
  const known = result.names_species;
  const state = known ? result.verdict : 'not_sure';
  $('verdict').textContent = known ? fill(text[result.verdict], { name: name(top) })
    : result.verdict !== 'not_sure' && top.other ? text.other : text.not_sure;
  $('verdict').className = state;
  $('hint').hidden = known;
  $('names').hidden = !known;
  $('names').replaceChildren(...(known ? namesOf(top) : []));
  const mark = text.lang === 'nl' ? top.field_mark_dutch ?? top.field_mark : top.field_mark;
  $('field-mark').hidden = !(known && mark);
  $('field-mark-text').textContent = mark ?? '';
  $('bars').replaceChildren(...result.ranking.map(bar));
  $('crop').getContext('2d').putImageData(result.crop, 0, 0);
  const answer = $('answer');
  answer.dataset.top = top.id;
  answer.dataset.verdict = result.verdict;
  answer.dataset.state = state;
  answer.dataset.probabilities = JSON.stringify(result.probabilities);
  answer.dataset.forwardMs = result.forward_ms.toFixed(3);
  answer.hidden = false;
}

function namesOf(c) {
  const parts = [document.createTextNode([c.english, c.dutch].filter(Boolean).join(' · '))];
  if (c.scientific) {
    const i = document.createElement('i');
    i.lang = 'la';
    i.textContent = c.scientific;
    parts.push(document.createTextNode(' · '), i);
  }
  return parts;
}

function bar(c) {
  const li = document.createElement('li');
  const percent = (c.probability * 100).toFixed(c.probability < 0.01 ? 1 : 0);
  li.innerHTML = '<div class="label"><span></span><span></span></div><div class="track"><div class="fill"></div></div>';
  const [label, value] = li.querySelectorAll('.label span');
  label.textContent = name(c);
  value.textContent = `${percent} %`;
  li.querySelector('.fill').style.width = `${c.probability * 100}%`;
  li.querySelector('.track').setAttribute('aria-hidden', 'true');
  return li;
}

// ---- augmentation preview -----------------------------------------------------------------
const SLIDERS = ['rotation', 'width_shift', 'height_shift', 'shear', 'zoom_rows', 'zoom_cols'];

function settings() {
  const s = Object.fromEntries(SLIDERS.map((k) => [k, Number($(k).value)]));
  s.flip_horizontal = $('flip_horizontal').checked;
  s.flip_vertical = $('flip_vertical').checked;
  s.fill_mode = $('fill_mode').value;
  return s;
}

function showSettings(s) {
  for (const k of SLIDERS) $(k).value = s[k];
  $('flip_horizontal').checked = s.flip_horizontal;
  $('flip_vertical').checked = s.flip_vertical;
  $('fill_mode').value = s.fill_mode;
}

async function updatePreview() {
  for (const k of SLIDERS) document.querySelector(`output[for=${k}]`).textContent = Number($(k).value).toFixed(2).replace(/\.?0+$/, '');
  if (!lastResult) return;
  const image = await call('preview', { settings: settings() });
  $('preview').getContext('2d').putImageData(image, 0, 0);
  $('preview').dataset.settings = JSON.stringify(settings());
}

// ---- events -------------------------------------------------------------------------------
function wire() {
  $('photo').addEventListener('change', (e) => classify(e.target.files[0], performance.now()));
  $('model-file').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (file) await loadModel(await file.arrayBuffer(), true);
  });
  const zone = document.body;
  zone.addEventListener('dragover', (e) => { e.preventDefault(); $('drop-zone').classList.add('over'); });
  zone.addEventListener('dragleave', () => $('drop-zone').classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    $('drop-zone').classList.remove('over');
    classify(e.dataTransfer.files[0]);
  });
  document.addEventListener('paste', (e) => {
    const item = [...(e.clipboardData?.items ?? [])].find((i) => i.kind === 'file');
    if (item) classify(item.getAsFile());
  });
  $('sliders').addEventListener('input', updatePreview);
  $('sliders').addEventListener('submit', (e) => e.preventDefault());
  $('random').addEventListener('click', async () => {
    showSettings(await call('random', { seed: (Math.random() * 2 ** 32) >>> 0 }));
    updatePreview();
  });
  $('reset').addEventListener('click', () => { $('sliders').reset(); updatePreview(); });
  $('language').addEventListener('click', () => setLanguage(text.lang === 'nl' ? 'en' : 'nl'));
}

async function main() {
  startWorker();
  wire();
  let saved = null;
  try { saved = localStorage.getItem('vlinder-language'); } catch { /* private mode */ }
  await setLanguage(saved ?? navigator.language ?? 'en');
  showStatus(text.loading_model);
  try {
    const response = await fetch(MODEL_URL);
    if (!response.ok) throw new Error(`${MODEL_URL}: HTTP ${response.status}`);
    if (await loadModel(await response.arrayBuffer(), false)) showStatus('');
  } catch (e) {
    showStatus(fill(text.no_model, { reason: e.message }), true);
  }
  updatePreview();
  document.body.dataset.ready = 'true';
  if ('serviceWorker' in navigator) {
    try {
      await navigator.serviceWorker.register('sw.js');
      await navigator.serviceWorker.ready;
      $('offline').hidden = false;
    } catch (e) {
      console.warn('offline use is not available:', e.message);
    }
  }
}

// For the benchmark: time the forward pass alone on the current photo.
window.vlinderBenchForward = (runs) => call('benchForward', { runs });

main();
