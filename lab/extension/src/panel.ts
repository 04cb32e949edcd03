// The Tests side panel: for the current notebook's kernel, a tree of the
// tests under a directory (by file and class, with counts), status icons and
// durations, a filter, runs of all / the failed / a file / a class / one test,
// a jump to a test's source, wrapped ANSI-coloured tracebacks, a stop button
// while a run can be stopped, and the notebook's own %%ltest cells.
// Runs go through the panel's own channel (kernel.ts): the notebook stays free.
import { CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry, renderText } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';
import { Action, Channel, executeSilently, lastExitCode } from './kernel';
import { ITest, TestsModel } from './model';

const STATUS_MARK: Record<string, string> = {
  notrun: '○', queued: '◌', running: '◔', passed: '✔', failed: '✘', skipped: '⤼', error: '⚠'
};
const STATUS_WORD: Record<string, string> = {
  notrun: 'not run', queued: 'queued', running: 'running', passed: 'passed', failed: 'failed',
  skipped: 'skipped', error: 'error'
};

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K, className: string, text = ''
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  e.textContent = text;
  return e;
}

/** "a/b/../c" -> "a/c": a path in the server's contents, as the file browser names it. */
export function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '..') {
      out.pop();
    } else if (part && part !== '.') {
      out.push(part);
    }
  }
  return out.join('/');
}

function duration(seconds: number): string {
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(2)} s`;
}

/** Opens a file of the server's contents at a 0-based line (index.ts: the document manager). */
export type Opener = (path: string, line: number) => void;

export class TestsPanel extends Widget {
  readonly model = new TestsModel();

  constructor(private rendermime: IRenderMimeRegistry, private current: () => NotebookPanel | null,
              private opener: Opener | null) {
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
    if (this.model.busy) {
      return;
    }
    this.model.reset();
    await this.request('collecting', { action: 'collect', directory: this.directory() });
  }

  async run(nodeids: string[]): Promise<void> {
    if (this.model.busy) {
      return;
    }
    if (!this.model.tests.size) {
      await this.collect();
    }
    this.model.queue(nodeids);
    await this.request('running', { action: 'run', directory: this.directory(), nodeids });
  }

  /** Stops the run (SIGINT to its test process, as Ctrl-C; again: kills it); never the kernel. */
  stop(): void {
    if (this.channel && this.runId !== null) {
      this.channel.stop(this.runId);
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
      c => c instanceof CodeCell && c.model.sharedModel.getSource().startsWith('%%ltest')
    ) as CodeCell[];
    this.model.busy = 'running';
    // The cells need the magic: load it (silently; a no-op if loaded).
    await executeSilently(kernel, "get_ipython().extension_manager.load_extension('ltest')");
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

  private async request(what: 'collecting' | 'running', action: Action): Promise<void> {
    const kernel = this.current()?.sessionContext.session?.kernel;
    if (!kernel) {
      this.model.message = 'Open a notebook: the tests run in forks of its kernel.';
      this.model.notify();
      return;
    }
    this.model.busy = what;
    this.model.message = '';
    this.model.notify();
    let code: number | null = null;
    try {
      if (!this.channel || this.channel.kernel !== kernel || !this.channel.usable) {
        this.channel = await Channel.open(kernel);
      }
      const sent = this.channel.request(action, event => this.model.handle(event));
      this.runId = sent.id;
      this.model.notify();
      code = await sent.done;
    } catch (e) {
      this.model.message = String(e instanceof Error ? e.message : e);
    }
    this.runId = null;
    this.model.busy = '';
    this.model.exitCode = code;
    if (!this.model.message) {
      this.model.message = this.summary(what);
    }
    this.model.notify();
  }

  private summary(what: 'collecting' | 'running'): string {
    const errors = this.model.collectErrors.length;
    const errorText = errors ? `, ${errors} collection error${errors > 1 ? 's' : ''}` : '';
    if (what === 'collecting') {
      const n = this.model.tests.size;
      return `${n} test${n === 1 ? '' : 's'} collected${errorText}`;
    }
    const ran = Array.from(this.model.lastRun, id => this.model.tests.get(id)!).filter(t => t);
    const c = this.model.counts(ran);
    const parts = ['passed', 'failed', 'error', 'skipped', 'notrun']
      .filter(s => c[s])
      .map(s => `${c[s]} ${STATUS_WORD[s]}`);
    const code = this.model.exitCode === null ? '' : ` (exit code ${this.model.exitCode})`;
    return (parts.join(', ') || 'no tests') + errorText + code;
  }

  private directory(): string {
    return this.dirInput.value.trim() || '.';
  }

  private buildHeader(): void {
    const header = element('div', 'ltest-header');
    this.kernelLabel = element('div', 'ltest-kernel');
    header.appendChild(this.kernelLabel);
    const dirRow = element('label', 'ltest-field');
    dirRow.appendChild(element('span', 'ltest-field-label', 'Tests in'));
    this.dirInput = element('input', 'jp-mod-styled ltest-dir');
    this.dirInput.value = '.';
    this.dirInput.title = "The tests' directory or file, relative to the notebook's kernel's working directory";
    this.dirInput.onkeydown = (e: KeyboardEvent) => {
      if (e.key === 'Enter') {
        void this.collect();
      }
    };
    dirRow.appendChild(this.dirInput);
    header.appendChild(dirRow);
    const bar = element('div', 'ltest-toolbar');
    const button = (cls: string, label: string, title: string, act: () => void) => {
      const b = element('button', `jp-mod-styled ltest-button ${cls}`, label);
      b.title = title;
      b.onclick = act;
      bar.appendChild(b);
      return b;
    };
    button('ltest-collect', '⟳', 'Refresh: collect the tests (in a fork of the kernel)', () => void this.collect());
    button('ltest-run-all', '▶ All', 'Run every test of the directory', () => void this.run([]));
    this.failedButton = button('ltest-run-failed', '▶ Failed', 'Run the tests that failed',
                               () => void this.run(this.model.failed()));
    this.stopButton = button('ltest-stop', '■ Stop', 'Stop the run (as Ctrl-C stops pytest; again: kill it)',
                             () => this.stop());
    button('ltest-run-cells', '▶ %%', "Run this notebook's %%ltest cells", () => void this.runCells());
    header.appendChild(bar);
    this.filterInput = element('input', 'jp-mod-styled ltest-filter');
    this.filterInput.placeholder = 'Filter tests';
    this.filterInput.title = 'Show the tests whose id contains this text';
    this.filterInput.oninput = () => this.render();
    header.appendChild(this.filterInput);
    this.status = element('div', 'ltest-status');
    header.appendChild(this.status);
    this.node.appendChild(header);
  }

  private render(): void {
    const panel = this.current();
    this.kernelLabel.textContent = panel ? `kernel of ${panel.context.path}` : 'no notebook open';
    // Stop shows while there is a run to stop (not for %%ltest cells: the notebook's own Stop is theirs).
    this.stopButton.hidden = this.runId === null;
    this.failedButton.disabled = !this.model.failed().length;
    this.node.dataset.busy = this.model.busy;
    const c = this.model.counts();
    this.status.textContent = this.model.busy === 'running'
      ? `running… ${(c.passed || 0) + (c.failed || 0) + (c.error || 0) + (c.skipped || 0)} done` +
        `, ${(c.failed || 0) + (c.error || 0)} failed${this.model.message ? ' · ' + this.model.message : ''}`
      : this.model.busy === 'collecting' ? 'collecting…' : this.model.message;
    this.tree.textContent = '';
    for (const err of this.model.collectErrors) {
      const row = element('div', 'ltest-collect-error');
      row.appendChild(element('div', 'ltest-name', `ERROR collecting ${err.nodeid}`));
      row.appendChild(this.traceback(err.longrepr));
      this.tree.appendChild(row);
    }
    const filter = this.filterInput.value.trim().toLowerCase();
    const shown = (t: ITest) => !filter || t.nodeid.toLowerCase().includes(filter);
    for (const [file, groups] of this.model.tree()) {
      const all = Array.from(groups.values()).flat();
      const visible = all.filter(shown);
      if (!visible.length) {
        continue;
      }
      const fileNode = this.group('ltest-file', file, file, all, visible.length);
      for (const [group, tests] of groups) {
        const inGroup = tests.filter(shown);
        if (!inGroup.length) {
          continue;
        }
        if (!group) {
          inGroup.forEach(t => fileNode.appendChild(this.testRow(t, 1)));
          continue;
        }
        const classNode = this.group('ltest-class', group, `${file}::${group}`, tests, inGroup.length);
        inGroup.forEach(t => classNode.appendChild(this.testRow(t, 2)));
        fileNode.appendChild(classNode);
      }
      this.tree.appendChild(fileNode);
    }
    if (filter && this.model.tests.size && !this.tree.querySelector('.ltest-test')) {
      this.tree.appendChild(element('div', 'ltest-empty', `no test matches “${this.filterInput.value}”`));
    }
    if (this.model.output && this.model.exitCode !== null && this.model.exitCode > 1 && !this.model.busy) {
      this.tree.appendChild(this.traceback(this.model.output, 'ltest-output'));
    }
  }

  /** A file's or a class's node: a collapsible head with its counts and ▶. */
  private group(cls: string, label: string, id: string, tests: ITest[], visible: number): HTMLElement {
    const node = element('div', `ltest-group ${cls}`);
    node.dataset.nodeid = id;
    const collapsed = this.collapsed.has(id);
    const head = element('div', 'ltest-group-row');
    head.appendChild(element('span', 'ltest-twisty', collapsed ? '▸' : '▾'));
    const name = element('span', 'ltest-name', label);
    name.title = id;
    head.appendChild(name);
    const c = this.model.counts(tests);
    const counts = element('span', 'ltest-counts');
    for (const s of ['passed', 'failed', 'error', 'skipped']) {
      if (c[s]) {
        counts.appendChild(element('span', `ltest-count ltest-${s}`, `${STATUS_MARK[s]}${c[s]}`));
      }
    }
    counts.appendChild(element('span', 'ltest-count ltest-total', String(tests.length)));
    counts.title = ['passed', 'failed', 'error', 'skipped', 'notrun'].filter(s => c[s])
      .map(s => `${c[s]} ${STATUS_WORD[s]}`).join(', ') + ` of ${tests.length}`;
    head.appendChild(counts);
    head.appendChild(this.runButton(cls === 'ltest-file' ? 'ltest-run-file' : 'ltest-run-class', `Run ${id}`, id));
    head.onclick = () => {
      this.collapsed.has(id) ? this.collapsed.delete(id) : this.collapsed.add(id);
      this.render();
    };
    node.appendChild(head);
    if (collapsed) {
      node.classList.add('ltest-collapsed');
    }
    node.dataset.visible = String(visible);
    return node;
  }

  private testRow(test: ITest, depth: number): HTMLElement {
    const row = element('div', `ltest-test ltest-${test.status}`);
    row.dataset.nodeid = test.nodeid;
    row.dataset.status = test.status;
    const line = element('div', 'ltest-test-row');
    line.style.paddingLeft = `${8 + depth * 14}px`;
    const mark = element('span', 'ltest-mark', STATUS_MARK[test.status]);
    mark.title = STATUS_WORD[test.status];
    line.appendChild(mark);
    const name = element('span', 'ltest-name', test.name);
    name.title = test.nodeid + (test.location && this.opener ? ' (click: open its source)' : '');
    if (test.location && this.opener) {
      name.classList.add('ltest-link');
      name.onclick = (e: MouseEvent) => {
        e.stopPropagation();
        this.openSource(test);
      };
    }
    line.appendChild(name);
    if (test.duration !== undefined && test.status !== 'queued') {
      line.appendChild(element('span', 'ltest-duration', duration(test.duration)));
    }
    line.appendChild(this.runButton('ltest-run-test', `Run ${test.nodeid}`, test.nodeid));
    if (test.longrepr) {
      line.classList.add('ltest-has-text');
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

  /** Opens the test's file in JupyterLab's editor at its line. */
  private openSource(test: ITest): void {
    const panel = this.current();
    if (!panel || !test.location || !this.opener) {
      return;
    }
    // The kernel's cwd is the notebook's folder: its paths are relative to it.
    const folder = panel.context.path.split('/').slice(0, -1).join('/');
    this.opener(normalize(`${folder}/${test.location[0]}`), test.location[1]);
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

  private channel: Channel | null = null;
  private runId: number | null = null;
  private tree: HTMLDivElement;
  private status!: HTMLDivElement;
  private kernelLabel!: HTMLDivElement;
  private dirInput!: HTMLInputElement;
  private filterInput!: HTMLInputElement;
  private stopButton!: HTMLButtonElement;
  private failedButton!: HTMLButtonElement;
  private toggled = new Set<string>();
  private collapsed = new Set<string>();
}
