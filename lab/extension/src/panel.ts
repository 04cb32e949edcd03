// The Tests side panel: for the current notebook's kernel, lists the tests
// under a directory, runs all / a file / one test / the failed ones, shows
// results as they arrive with ANSI-rendered tracebacks, stops a run, and
// runs the notebook's own %%ltest cells.
import { CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry, renderText } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';
import { collectCode, execute, IRequestEnd, lastExitCode, runCode } from './kernel';
import { ITest, TestsModel } from './model';

const STATUS_MARK: Record<string, string> = {
  notrun: '○', queued: '…', running: '◔', passed: '✔', failed: '✘', skipped: '⤼', error: '!'
};

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K, className: string, text = ''
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  e.textContent = text;
  return e;
}

export class TestsPanel extends Widget {
  readonly model = new TestsModel();

  constructor(private rendermime: IRenderMimeRegistry, private current: () => NotebookPanel | null) {
    super();
    this.id = 'ltest-tests';
    this.addClass('ltest-TestsPanel');
    this.title.caption = 'Tests (ltest)';
    this.buildHeader();
    this.tree = element('div', 'ltest-tree');
    this.node.appendChild(this.tree);
    this.model.changed.connect(() => this.render());
    this.render();
  }

  /** The notebook the panel works for changed: say so. */
  notebookChanged(): void {
    this.render();
  }

  async collect(): Promise<void> {
    this.model.reset();
    await this.request('collecting', collectCode(this.directory()));
  }

  async run(nodeids: string[]): Promise<void> {
    if (!this.model.tests.size) {
      await this.collect();
    }
    this.model.queue(nodeids);
    await this.request('running', runCode(this.directory(), nodeids));
  }

  /** Interrupts the kernel: pytest stops as Ctrl-C stops it in a terminal. */
  async stop(): Promise<void> {
    const kernel = this.current()?.sessionContext.session?.kernel;
    if (kernel && this.model.busy) {
      await kernel.interrupt();
    }
  }

  /** Runs the notebook's %%ltest cells, in the notebook, one after another. */
  async runCells(): Promise<void> {
    const panel = this.current();
    const kernel = panel?.sessionContext.session?.kernel;
    if (!panel || !kernel || this.model.busy) {
      return;
    }
    const cells = panel.content.widgets.filter(
      c => c instanceof CodeCell && c.model.value.text.startsWith('%%ltest')
    ) as CodeCell[];
    this.model.busy = 'running';
    // The cells need the magic: load it (silently; a no-op if loaded).
    await execute(kernel, "get_ipython().extension_manager.load_extension('ltest')", () => undefined);
    const codes: string[] = [];
    for (const cell of cells) {
      this.model.message = `running %%ltest cell ${codes.length + 1} of ${cells.length}`;
      this.model.notify();
      await CodeCell.execute(cell, panel.sessionContext);
      const code = await lastExitCode(kernel);
      codes.push(code === null ? '?' : String(code));
    }
    this.model.busy = '';
    this.model.message = cells.length
      ? `%%ltest cells: exit codes ${codes.join(', ')}`
      : 'no %%ltest cell in this notebook';
    this.model.notify();
  }

  private async request(what: 'collecting' | 'running', code: string): Promise<void> {
    const kernel = this.current()?.sessionContext.session?.kernel;
    if (!kernel) {
      this.model.message = 'Open a notebook: the tests run in its kernel.';
      this.model.notify();
      return;
    }
    if (this.model.busy) {
      return;
    }
    this.model.busy = what;
    this.model.message = '';
    this.model.notify();
    let end: IRequestEnd;
    try {
      end = await execute(kernel, code, event => this.model.handle(event));
    } catch (e) {
      end = { ok: false, error: String(e), output: '' };
    }
    this.model.busy = '';
    this.model.output = end.output;
    this.model.message = end.error ? `the kernel said: ${end.error}` : this.summary();
    this.model.notify();
  }

  private summary(): string {
    const c = this.model.counts();
    const parts = ['passed', 'failed', 'error', 'skipped', 'notrun']
      .filter(s => c[s])
      .map(s => `${c[s]} ${s === 'notrun' ? 'not run' : s}`);
    const code = this.model.exitCode === null ? '' : ` (exit code ${this.model.exitCode})`;
    return (parts.join(', ') || 'no tests') + code;
  }

  private directory(): string {
    return this.dirInput.value.trim() || '.';
  }

  private buildHeader(): void {
    const header = element('div', 'ltest-header');
    header.appendChild(element('div', 'ltest-title', 'Tests'));
    this.kernelLabel = element('div', 'ltest-kernel');
    header.appendChild(this.kernelLabel);
    this.dirInput = element('input', 'ltest-dir');
    this.dirInput.value = '.';
    this.dirInput.title = "The tests' directory, relative to the kernel's working directory";
    header.appendChild(this.dirInput);
    const bar = element('div', 'ltest-toolbar');
    const button = (cls: string, label: string, title: string, act: () => void) => {
      const b = element('button', `jp-mod-styled ltest-button ${cls}`, label);
      b.title = title;
      b.onclick = act;
      bar.appendChild(b);
      return b;
    };
    button('ltest-collect', 'Refresh', 'Collect the tests (in a fork of the kernel)', () => void this.collect());
    button('ltest-run-all', 'Run all', 'Run every test of the directory', () => void this.run([]));
    button('ltest-run-failed', 'Run failed', 'Run the tests that failed', () => void this.run(this.model.failed()));
    this.stopButton = button('ltest-stop', 'Stop', 'Interrupt the run', () => void this.stop());
    button('ltest-run-cells', 'Run %%ltest cells', "Run this notebook's %%ltest cells", () => void this.runCells());
    header.appendChild(bar);
    this.status = element('div', 'ltest-status');
    header.appendChild(this.status);
    this.node.appendChild(header);
  }

  private render(): void {
    const panel = this.current();
    this.kernelLabel.textContent = panel ? `kernel of ${panel.context.path}` : 'no notebook';
    this.stopButton.disabled = !this.model.busy;
    this.node.dataset.busy = this.model.busy;
    const c = this.model.counts();
    this.status.textContent = this.model.busy === 'running'
      ? `running… ${(c.passed || 0) + (c.failed || 0) + (c.error || 0) + (c.skipped || 0)} done` +
        `, ${c.failed || 0} failed${this.model.message ? ' · ' + this.model.message : ''}`
      : this.model.busy === 'collecting' ? 'collecting…' : this.model.message;
    this.tree.textContent = '';
    for (const err of this.model.collectErrors) {
      const row = element('div', 'ltest-collect-error');
      row.appendChild(element('div', 'ltest-name', `ERROR collecting ${err.nodeid}`));
      row.appendChild(this.traceback(err.longrepr));
      this.tree.appendChild(row);
    }
    for (const [file, tests] of this.model.files) {
      const group = element('div', 'ltest-file');
      const head = element('div', 'ltest-file-row');
      head.appendChild(element('span', 'ltest-name', file));
      head.appendChild(this.runButton('ltest-run-file', `Run ${file}`, file));
      group.appendChild(head);
      tests.forEach(t => group.appendChild(this.testRow(t)));
      this.tree.appendChild(group);
    }
    if (this.model.output && this.model.exitCode !== null && this.model.exitCode > 1) {
      this.tree.appendChild(this.traceback(this.model.output, 'ltest-output'));
    }
  }

  private testRow(test: ITest): HTMLElement {
    const row = element('div', `ltest-test ltest-${test.status}`);
    row.dataset.nodeid = test.nodeid;
    row.dataset.status = test.status;
    const line = element('div', 'ltest-test-row');
    line.appendChild(element('span', 'ltest-mark', STATUS_MARK[test.status]));
    const name = element('span', 'ltest-name', test.name);
    name.title = test.nodeid + (test.duration !== undefined ? ` (${test.duration.toFixed(3)} s)` : '');
    line.appendChild(name);
    line.appendChild(this.runButton('ltest-run-test', `Run ${test.nodeid}`, test.nodeid));
    if (test.longrepr) {
      line.onclick = () => {
        this.toggled.has(test.nodeid) ? this.toggled.delete(test.nodeid) : this.toggled.add(test.nodeid);
        this.render();
      };
    }
    row.appendChild(line);
    if (test.longrepr && this.shown(test)) {
      row.appendChild(this.traceback(test.longrepr));
    }
    return row;
  }

  // A click on a test toggles its text: a failure's traceback shows until
  // clicked away, a skip's reason shows when clicked.
  private shown(test: ITest): boolean {
    return (test.status === 'skipped') === this.toggled.has(test.nodeid);
  }

  private runButton(cls: string, title: string, nodeid: string): HTMLElement {
    const b = element('button', `ltest-run-one ${cls}`, '▶');
    b.title = title;
    b.onclick = (e: MouseEvent) => {
      e.stopPropagation();
      void this.run([nodeid]);
    };
    return b;
  }

  private traceback(text: string, cls = 'ltest-traceback'): HTMLElement {
    const host = element('div', `${cls} jp-RenderedText`);
    host.dataset.mimeType = 'application/vnd.jupyter.stderr';
    void renderText({ host, sanitizer: this.rendermime.sanitizer, source: text });
    return host;
  }

  private tree: HTMLDivElement;
  private status!: HTMLDivElement;
  private kernelLabel!: HTMLDivElement;
  private dirInput!: HTMLInputElement;
  private stopButton!: HTMLButtonElement;
  private toggled = new Set<string>();
}
