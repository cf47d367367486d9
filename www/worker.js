// The classifier's thread: owns the wasm module, answers the page's requests one at a time.
// Requests: { id, op, args }; answers: { id, ok, result } or { id, ok: false, error: { name, message } }.
import init, { Vlinder, uiText } from './vlinder-web.js';

const ready = init();
let vlinder = null;

const ops = {
  text: ({ language }) => uiText(language),
  loadModel: ({ bytes }) => vlinder.loadModel(new Uint8Array(bytes)),
  classify: ({ bytes }) => vlinder.classify(new Uint8Array(bytes)),
  preview: ({ settings }) => vlinder.preview(settings),
  random: ({ seed }) => vlinder.randomSettings(seed),
  benchForward: ({ runs }) => Array.from(vlinder.benchForward(runs)),
};

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    await ready;
    vlinder ??= new Vlinder();
    self.postMessage({ id, ok: true, result: ops[op](args) });
  } catch (e) {
    // A RuntimeError is a trap (a Rust panic): the page restarts this worker.
    const crashed = e instanceof WebAssembly.RuntimeError;
    self.postMessage({ id, ok: false, crashed, error: { name: e?.name ?? 'Error', message: e?.message ?? String(e) } });
  }
};
