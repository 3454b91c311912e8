/**
 * Alarm flashing (IEC 60601-1-8: high 1.4–2.8 Hz, medium 0.4–0.8 Hz) as two attributes on the
 * root element that one timer flips: `data-flash-high` every 250 ms (2 Hz), `data-flash-medium`
 * every 750 ms (0.67 Hz). The stylesheet colours active alarms from them.
 *
 * Why not CSS animations: while any animation ran, Chromium produced a main-thread frame 57 times
 * a second (style, paint and layerize of the whole station) even for opacity animations on the
 * compositor, so flashing cost more than everything else on the page together (measured with a
 * DevTools trace in `npm run bench -- realtime`: 1,557 frames in 31 s). Flipping an attribute
 * costs one frame per flip, and only the flashing elements restyle and repaint.
 */
const TICK_MS = 250;

export function startFlashing(root: HTMLElement = document.documentElement): () => void {
  let tick = 0;
  const set = (name: string, on: boolean) => {
    const v = on ? 'on' : 'off';
    if (root.getAttribute(name) !== v) root.setAttribute(name, v);
  };
  const step = () => {
    set('data-flash-high', tick % 2 === 0);
    set('data-flash-medium', Math.floor(tick / 3) % 2 === 0);
    tick++;
  };
  step();
  const t = window.setInterval(step, TICK_MS);
  return () => window.clearInterval(t);
}
