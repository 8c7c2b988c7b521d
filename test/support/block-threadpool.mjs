// Preloaded into a process (`node --import ./test/support/block-threadpool.mjs ...`) to
// stand for a native job that never ends: opening the FIFO named by $BLOCK_FIFO, which
// nobody writes, keeps one libuv pool thread blocked for the life of the process.
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs';

const fifo = process.env.BLOCK_FIFO;
if (!fifo) throw new Error('BLOCK_FIFO is not set');
execFileSync('mkfifo', [fifo]);
open(fifo, 'r', () => undefined);
