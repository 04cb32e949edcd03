// Runs ltest's kernel-side helpers (share/ltest/ltest/lab_panel.py) in a
// notebook's kernel, silently (no cell, no history), and hands the panel the
// events they publish as display_data messages of EVENT_MIME.
import { Kernel, KernelMessage } from '@jupyterlab/services';

export const EVENT_MIME = 'application/vnd.ltest.event+json';

/** One event of a collection or a run (see lab_panel.py). */
export interface ITestEvent {
  event: 'collected' | 'start' | 'result' | 'collect_error' | 'finished';
  tests?: string[];
  nodeid?: string;
  outcome?: 'passed' | 'failed' | 'skipped' | 'error';
  duration?: number;
  longrepr?: string;
  exit_code?: number;
}

/** What a request ended with: the events' end, or the kernel's error. */
export interface IRequestEnd {
  ok: boolean;
  error?: string;
  output: string;
}

// A Python string literal for `text` (JSON's escapes are Python's too).
function py(text: string): string {
  return JSON.stringify(text);
}

export function collectCode(directory: string): string {
  return `__import__("ltest.in_kernel.lab_panel").in_kernel.lab_panel.collect(${py(directory)})`;
}

export function runCode(directory: string, nodeids: string[]): string {
  return `__import__("ltest.in_kernel.lab_panel").in_kernel.lab_panel.run(${py(directory)}, [${nodeids.map(py).join(', ')}])`;
}

/** Executes `code`; calls onEvent for each event as it arrives. */
export async function execute(
  kernel: Kernel.IKernelConnection,
  code: string,
  onEvent: (event: ITestEvent) => void
): Promise<IRequestEnd> {
  const future = kernel.requestExecute({ code, silent: true, store_history: false, stop_on_error: false });
  let output = '';
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    if (KernelMessage.isDisplayDataMsg(msg)) {
      const event = msg.content.data[EVENT_MIME];
      if (event) {
        onEvent(event as unknown as ITestEvent);
      }
    } else if (KernelMessage.isStreamMsg(msg)) {
      output += msg.content.text;
    } else if (KernelMessage.isErrorMsg(msg)) {
      output += msg.content.traceback.join('\n') + '\n';
    }
  };
  const reply = await future.done;
  const content = reply.content;
  if (content.status === 'error') {
    return { ok: false, error: `${content.ename}: ${content.evalue}`, output };
  }
  return { ok: content.status === 'ok', output };
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
