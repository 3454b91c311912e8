/**
 * The high-priority alarm tone: a burst of pulses (the IEC 60601-1-8 high-priority rhythm, 3 + 2
 * pulses) repeated while an unacknowledged high alarm is showing and the station is not muted.
 * Browsers allow audio only after a user gesture, so the station starts muted until someone
 * presses "Sound on".
 */
export class AlarmTone {
  #ctx: AudioContext | undefined;
  #timer: number | undefined;
  #sounding = false;

  /** Must be called from a user gesture. */
  enable(): void {
    this.#ctx ??= new AudioContext();
    void this.#ctx.resume();
  }

  get enabled(): boolean {
    return this.#ctx !== undefined && this.#ctx.state === 'running';
  }

  /** Starts or stops the repeating burst. */
  set(sounding: boolean): void {
    if (sounding === this.#sounding) return;
    this.#sounding = sounding;
    window.clearInterval(this.#timer);
    if (sounding) {
      this.#burst();
      this.#timer = window.setInterval(() => this.#burst(), 5000);
    }
  }

  #burst(): void {
    const ctx = this.#ctx;
    if (ctx?.state !== 'running') return;
    const t0 = ctx.currentTime + 0.02;
    const starts = [0, 0.25, 0.5, 1.0, 1.25];
    for (const s of starts) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      osc.type = 'square';
      gain.gain.setValueAtTime(0, t0 + s);
      gain.gain.linearRampToValueAtTime(0.12, t0 + s + 0.02);
      gain.gain.setValueAtTime(0.12, t0 + s + 0.13);
      gain.gain.linearRampToValueAtTime(0, t0 + s + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + s);
      osc.stop(t0 + s + 0.18);
    }
  }
}
