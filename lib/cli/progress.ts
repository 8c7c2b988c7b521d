/** Progress display: one redrawn line on a terminal, occasional lines otherwise. */
import { performance } from 'node:perf_hooks';

import type { Progress } from '../types';
import type { Io } from './common';

export const clock = (s: number) => (Number.isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}` : '--:--');

export class ProgressLine {
  #last = 0;
  #shown = false;
  constructor(private readonly io: Io, private readonly quiet: boolean) {}

  update(text: string, force = false): void {
    if (this.quiet) return;
    const now = performance.now();
    if (this.io.isTTY) {
      if (!force && now - this.#last < 100) return;
      this.io.err(`\r\x1b[2K${text}`);
      this.#shown = true;
    } else {
      if (!force && now - this.#last < 5000) return;
      this.io.err(`${text}\n`);
    }
    this.#last = now;
  }

  /** Prints a message above the progress line. */
  log(text: string): void {
    if (this.#shown && this.io.isTTY) this.io.err('\r\x1b[2K');
    this.io.err(`${text}\n`);
  }

  done(): void {
    if (this.#shown && this.io.isTTY) this.io.err('\n');
    this.#shown = false;
  }
}

export function bar(fraction: number, width = 24): string {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

/** Engine build progress on the line. */
export function buildProgress(line: ProgressLine) {
  return (p: Progress) => line.update(`engine build ${bar(p.percent / 100)} ${p.percent.toFixed(0)}% ${p.phase} (${p.detail}), ${clock(p.elapsedMs / 1000)}`);
}
