// The panel's state: the tests of a directory, grouped by file, with each
// one's latest outcome, as collection and run events arrive.
import { ISignal, Signal } from '@lumino/signaling';
import { ITestEvent } from './kernel';

export type Status = 'notrun' | 'queued' | 'running' | 'passed' | 'failed' | 'skipped' | 'error';

export interface ITest {
  nodeid: string;
  name: string;
  status: Status;
  duration?: number;
  longrepr?: string;
}

export class TestsModel {
  readonly files = new Map<string, ITest[]>();
  readonly tests = new Map<string, ITest>();
  collectErrors: { nodeid: string; longrepr: string }[] = [];
  busy: '' | 'collecting' | 'running' = '';
  message = '';
  output = '';
  exitCode: number | null = null;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  notify(): void {
    this._changed.emit();
  }

  /** Forgets everything: a new collection starts. */
  reset(): void {
    this.files.clear();
    this.tests.clear();
    this.collectErrors = [];
    this.exitCode = null;
    this.output = '';
  }

  /** Marks the tests a run is about to run (all if none is named). */
  queue(nodeids: string[]): void {
    const chosen = nodeids.length ? nodeids : Array.from(this.tests.keys());
    for (const id of chosen) {
      for (const test of this.tests.values()) {
        if (test.nodeid === id || test.nodeid.startsWith(id + '::')) {
          test.status = 'queued';
          test.longrepr = undefined;
        }
      }
    }
    this.collectErrors = [];
    this.exitCode = null;
    this.output = '';
  }

  failed(): string[] {
    return Array.from(this.tests.values())
      .filter(t => t.status === 'failed' || t.status === 'error')
      .map(t => t.nodeid);
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const t of this.tests.values()) {
      counts[t.status] = (counts[t.status] || 0) + 1;
    }
    return counts;
  }

  handle(event: ITestEvent): void {
    if (event.event === 'collected') {
      for (const id of event.tests || []) {
        this.add(id);
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
    } else if (event.event === 'finished') {
      this.exitCode = event.exit_code ?? null;
      for (const t of this.tests.values()) {
        if (t.status === 'queued' || t.status === 'running') {
          t.status = 'notrun'; // the run ended (interrupted, say) before them
        }
      }
    }
    this.notify();
  }

  private add(nodeid: string): ITest {
    let test = this.tests.get(nodeid);
    if (!test) {
      const sep = nodeid.indexOf('::');
      const file = sep < 0 ? nodeid : nodeid.slice(0, sep);
      test = { nodeid, name: sep < 0 ? nodeid : nodeid.slice(sep + 2), status: 'notrun' };
      this.tests.set(nodeid, test);
      if (!this.files.has(file)) {
        this.files.set(file, []);
      }
      this.files.get(file)!.push(test);
    }
    return test;
  }

  private _changed = new Signal<this, void>(this);
}
