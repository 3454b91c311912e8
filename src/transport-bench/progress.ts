/**
 * Progress while the benchmark runs. On a terminal: one bar redrawn in place at most ten times a
 * second (redrawing costs time the measurement would notice). Elsewhere (CI logs, tests): one line
 * per finished phase, so a log shows how far it got.
 */

export interface ProgressOptions {
  total: number;
  stream: NodeJS.WriteStream | null;
  width?: number;
}

export class ProgressBar {
  private done = 0;
  private label = '';
  private lastDraw = 0;
  private phaseStart = 0;
  private readonly total: number;
  private readonly stream: NodeJS.WriteStream | null;
  private readonly tty: boolean;
  private readonly width: number;

  constructor(opts: ProgressOptions) {
    this.total = Math.max(1, opts.total);
    this.stream = opts.stream;
    this.tty = Boolean(opts.stream?.isTTY);
    this.width = opts.width ?? 30;
  }

  /** Starts a phase; on a non-terminal it is logged once when it finishes. */
  phase(label: string): void {
    this.label = label;
    this.phaseStart = performance.now();
    this.draw(true);
  }

  advance(n: number): void {
    this.done = Math.min(this.total, this.done + n);
    if (this.tty && performance.now() - this.lastDraw > 100) this.draw(false);
  }

  /** Marks the current phase finished, with a short result for the log. */
  finishPhase(result: string): void {
    if (!this.stream) return;
    if (this.tty) this.draw(true);
    else {
      const secs = ((performance.now() - this.phaseStart) / 1000).toFixed(1);
      this.stream.write(`  ${this.label}: ${result} (${secs} s)\n`);
    }
  }

  end(): void {
    if (this.stream && this.tty) this.stream.write('\n');
  }

  render(): string {
    const frac = this.done / this.total;
    const filled = Math.round(frac * this.width);
    return `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${this.label}`;
  }

  private draw(force: boolean): void {
    if (!this.stream || !this.tty) return;
    if (!force && performance.now() - this.lastDraw < 100) return;
    this.lastDraw = performance.now();
    const cols = this.stream.columns ?? 80;
    this.stream.write(
      `\r${this.render()
        .slice(0, cols - 1)
        .padEnd(cols - 1)}`,
    );
  }
}
