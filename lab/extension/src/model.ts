// The panel's state: the tests of a directory as a tree (file, class, test)
// with each one's latest outcome and duration, as collection and run events
// arrive.
import { ISignal, Signal } from '@lumino/signaling';
import { ITestEvent } from './kernel';

export type Status = 'notrun' | 'queued' | 'running' | 'passed' | 'failed' | 'skipped' | 'error';

export interface ITest {
  nodeid: string;
  file: string;
  group: string; // the class path ("TestX" or "TestX::TestInner"), '' for a module-level test
  name: string;
  status: Status;
  duration?: number;
  longrepr?: string;
  location?: [string, number]; // path relative to the kernel's cwd, 0-based line
}

/** The parts of a node id: file, class path, test name (parameters kept whole). */
export function splitNodeid(nodeid: string): { file: string; group: string; name: string } {
  // A parameter id may hold "::": split only the part before its "[".
  const bracket = nodeid.indexOf('[');
  const head = bracket < 0 ? nodeid : nodeid.slice(0, bracket);
  const tail = bracket < 0 ? '' : nodeid.slice(bracket);
  const parts = head.split('::');
  if (parts.length === 1) {
    return { file: head, group: '', name: head + tail };
  }
  return { file: parts[0], group: parts.slice(1, -1).join('::'), name: parts[parts.length - 1] + tail };
}

export class TestsModel {
  readonly tests = new Map<string, ITest>();
  collectErrors: { nodeid: string; longrepr: string }[] = [];
  busy: '' | 'collecting' | 'running' = '';
  message = '';
  output = '';
  exitCode: number | null = null;
  lastAction: 'collect' | 'run' | '' = '';
  lastRun = new Set<string>(); // the tests the latest run queued

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  notify(): void {
    this._changed.emit();
  }

  /** The files, each with its classes ('': module-level tests), in collection order. */
  tree(): Map<string, Map<string, ITest[]>> {
    const files = new Map<string, Map<string, ITest[]>>();
    for (const t of this.tests.values()) {
      if (!files.has(t.file)) {
        files.set(t.file, new Map());
      }
      const groups = files.get(t.file)!;
      if (!groups.has(t.group)) {
        groups.set(t.group, []);
      }
      groups.get(t.group)!.push(t);
    }
    return files;
  }

  /** Forgets everything: a new collection starts. */
  reset(): void {
    this.tests.clear();
    this.collectErrors = [];
    this.exitCode = null;
    this.output = '';
    this.lastRun.clear();
    this.lastAction = 'collect';
  }

  /** Marks the tests a run is about to run (all if none is named). */
  queue(nodeids: string[]): void {
    this.lastRun.clear();
    for (const test of this.tests.values()) {
      if (!nodeids.length || nodeids.some(id => covers(id, test))) {
        test.status = 'queued';
        test.longrepr = undefined;
        test.duration = undefined;
        this.lastRun.add(test.nodeid);
      }
    }
    this.collectErrors = [];
    this.exitCode = null;
    this.output = '';
    this.lastAction = 'run';
  }

  failed(): string[] {
    return Array.from(this.tests.values())
      .filter(t => t.status === 'failed' || t.status === 'error')
      .map(t => t.nodeid);
  }

  counts(tests: Iterable<ITest> = this.tests.values()): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const t of tests) {
      counts[t.status] = (counts[t.status] || 0) + 1;
    }
    return counts;
  }

  handle(event: ITestEvent): void {
    if (event.event === 'collected') {
      for (const id of event.tests || []) {
        const test = this.add(id);
        test.location = event.locations?.[id] ?? test.location;
      }
    } else if (event.event === 'start' && event.nodeid) {
      this.add(event.nodeid).status = 'running';
    } else if (event.event === 'result' && event.nodeid && event.outcome) {
      const test = this.add(event.nodeid);
      test.status = event.outcome;
      test.duration = event.duration;
      test.longrepr = event.longrepr;
    } else if (event.event === 'collect_error' && event.nodeid) {
      this.collectErrors.push({ nodeid: event.nodeid, longrepr: event.longrepr || '' });
    } else if (event.event === 'output') {
      this.output += event.text || '';
    } else if (event.event === 'refused') {
      this.message = `the kernel said: ${event.reason}`;
    } else if (event.event === 'finished') {
      this.exitCode = event.exit_code ?? null;
      for (const t of this.tests.values()) {
        if (t.status === 'queued' || t.status === 'running') {
          t.status = 'notrun'; // the run ended (stopped, say) before them
        }
      }
    }
    this.notify();
  }

  private add(nodeid: string): ITest {
    let test = this.tests.get(nodeid);
    if (!test) {
      test = { nodeid, ...splitNodeid(nodeid), status: 'notrun' };
      this.tests.set(nodeid, test);
      if (this.lastAction === 'run') {
        this.lastRun.add(nodeid);
      }
    }
    return test;
  }

  private _changed = new Signal<this, void>(this);
}

/** Whether running `id` (a file, a class or a test) runs `test`. */
export function covers(id: string, test: ITest): boolean {
  return test.nodeid === id || test.nodeid.startsWith(id + '::');
}
