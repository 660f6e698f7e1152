/**
 * The lab's entry: tabs (one page each, mounted on first visit), the engine toggle, and a status
 * line. Each page module builds its own DOM and computes with the library.
 *
 * @module
 */
import { gpuAvailability, selectEngine, type EngineName } from './engine.ts';
import { mountDerivatives } from './pages/derivatives.ts';
import { mountHvp } from './pages/hvp.ts';
import { mountInfluence } from './pages/influence.ts';
import { mountReweight } from './pages/reweight.ts';
import { byTestId, message, status } from './ui.ts';

type Page = { recompute: () => void | Promise<void> };
const MOUNT: Record<string, (root: HTMLElement) => Page> = {
  derivatives: mountDerivatives,
  hvp: mountHvp,
  influence: mountInfluence,
  reweight: mountReweight,
};
const mounted = new Map<string, Page>();
let current = '';

function show(name: string): void {
  if (!MOUNT[name]) name = 'derivatives';
  current = name;
  for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>('nav a'))) a.classList.toggle('active', a.dataset.page === name);
  for (const s of Array.from(document.querySelectorAll<HTMLElement>('main > section'))) s.hidden = s.id !== name;
  const root = document.getElementById(name)!;
  if (!mounted.has(name)) {
    try {
      mounted.set(name, MOUNT[name]!(root));
    } catch (e) {
      status(byTestId(document, 'app-status'), `page ${name} failed: ${message(e)}`, 'error');
      throw e;
    }
  }
}

function main(): void {
  const select = byTestId<HTMLSelectElement>(document, 'engine');
  const engineStatus = byTestId(document, 'engine-status');
  select.addEventListener('change', () => {
    const want = select.value as EngineName;
    if (want === 'gpu') {
      const g = gpuAvailability();
      if (!g.available) {
        engineStatus.textContent = `no GPU engine here: ${g.reason}; computing on the CPU`;
        select.value = 'cpu';
        selectEngine('cpu');
        return;
      }
      engineStatus.textContent = 'gpu.js webgl2 ready';
    } else engineStatus.textContent = '';
    selectEngine(want);
    void mounted.get(current)?.recompute();
  });
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  show(location.hash.slice(1));
  status(byTestId(document, 'app-status'), 'ready', 'ok');
}

main();
