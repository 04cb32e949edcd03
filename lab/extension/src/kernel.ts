// The panel's channel to a notebook's kernel: a Jupyter comm (target
// ltest.panel, kernel side share/ltest/ltest/in_kernel/lab_channel.py). A
// run sent on it forks its test process from the kernel's event loop and
// returns at once, so the notebook's cells run beside it; the run's events
// come back as comm messages.
import { Kernel, KernelMessage } from '@jupyterlab/services';

export const TARGET = 'ltest.panel';
const REGISTER = '__import__("ltest.in_kernel.lab_channel").in_kernel.lab_channel.register()';

/** One event of a collection or a run (lab_panel.py, lab_channel.py). */
export interface ITestEvent {
  event: 'collected' | 'start' | 'result' | 'collect_error' | 'finished' | 'output' | 'refused';
  run?: number;
  tests?: string[];
  locations?: Record<string, [string, number]>;
  nodeid?: string;
  outcome?: 'passed' | 'failed' | 'skipped' | 'error';
  duration?: number;
  longrepr?: string;
  exit_code?: number | null;
  text?: string;
  reason?: string;
}

export type Action = { action: 'collect'; directory: string } | { action: 'run'; directory: string; nodeids: string[] };

/** The channel of one kernel connection; made again after a restart. */
export class Channel {
  private constructor(readonly kernel: Kernel.IKernelConnection, private comm: Kernel.IComm) {
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
      const event = msg.content.data as unknown as ITestEvent;
      const run = event.run === undefined ? undefined : this.runs.get(event.run);
      if (run) {
        run.onEvent(event);
        if (event.event === 'finished') {
          this.runs.delete(event.run!);
          run.done(event.exit_code ?? null);
        }
      }
    };
    comm.onClose = () => this.endAll();
    kernel.statusChanged.connect(this.onStatus, this);
  }

  /** Opens the channel: one silent execute request registers the comm target. */
  static async open(kernel: Kernel.IKernelConnection): Promise<Channel> {
    const future = kernel.requestExecute({ code: REGISTER, silent: true, store_history: false });
    const reply = await future.done;
    if (reply.content.status !== 'ok') {
      const c = reply.content as KernelMessage.IReplyErrorContent;
      throw new Error(`the kernel cannot load ltest: ${c.ename}: ${c.evalue}`);
    }
    const comm = kernel.createComm(TARGET);
    comm.open({});
    return new Channel(kernel, comm);
  }

  get usable(): boolean {
    return !this.comm.isDisposed && !this.kernel.isDisposed && this.kernel.status !== 'dead';
  }

  /** Sends a collection or a run; resolves with its exit code at its end. */
  request(action: Action, onEvent: (event: ITestEvent) => void): { id: number; done: Promise<number | null> } {
    const id = ++this.lastId;
    const done = new Promise<number | null>(resolve => this.runs.set(id, { onEvent, done: resolve }));
    this.comm.send({ ...action, run: id } as any);
    return { id, done };
  }

  /** Interrupts a run as Ctrl-C interrupts pytest (again: kills it); the kernel is left alone. */
  stop(id: number): void {
    if (!this.comm.isDisposed) {
      this.comm.send({ action: 'stop', run: id });
    }
  }

  private onStatus(): void {
    if (this.kernel.status === 'restarting' || this.kernel.status === 'dead' || this.kernel.status === 'autorestarting') {
      this.endAll();
    }
  }

  // The kernel went away: its runs went with it.
  private endAll(): void {
    for (const [id, run] of this.runs) {
      run.onEvent({ event: 'refused', run: id, reason: 'the kernel restarted or closed the channel' });
      run.onEvent({ event: 'finished', run: id, exit_code: null });
      run.done(null);
    }
    this.runs.clear();
  }

  private lastId = 0;
  private runs = new Map<number, { onEvent: (event: ITestEvent) => void; done: (code: number | null) => void }>();
}

/** The latest %ltest run's exit code in this kernel, or null. */
export async function lastExitCode(kernel: Kernel.IKernelConnection): Promise<number | null> {
  const future = kernel.requestExecute({
    code: '',
    silent: true,
    store_history: false,
    user_expressions: { code: "(__import__('ltest').last_result() or {}).get('exit_code')" }
  });
  const reply = await future.done;
  if (reply.content.status !== 'ok') {
    return null;
  }
  const result = reply.content.user_expressions['code'] as any;
  const text = result && result.status === 'ok' ? result.data['text/plain'] : '';
  return /^\d+$/.test(text) ? Number(text) : null;
}

/** Runs code silently (no cell, no history); true if it ran without error. */
export async function executeSilently(kernel: Kernel.IKernelConnection, code: string): Promise<boolean> {
  const reply = await kernel.requestExecute({ code, silent: true, store_history: false }).done;
  return reply.content.status === 'ok';
}
