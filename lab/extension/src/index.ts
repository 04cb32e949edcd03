// ltest's JupyterLab 3.6 extension: a Tests panel in the left sidebar that
// lists and runs the tests of a directory in the current notebook's kernel
// (through ltest's runtime, in forks of that kernel).
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { LabIcon } from '@jupyterlab/ui-components';
import { TestsPanel } from './panel';

const testsIcon = new LabIcon({
  name: 'ltest:tests',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M7 2v2h1v14a4 4 0 0 0 8 0V4h1V2H7zm3 2h4v4h-4V4zm0 6h4v8a2 2 0 0 1-4 0v-8z"/>' +
    '</svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'ltest-jupyterlab:tests-panel',
  autoStart: true,
  requires: [ILabShell, INotebookTracker, IRenderMimeRegistry],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, shell: ILabShell, notebooks: INotebookTracker,
             rendermime: IRenderMimeRegistry, palette: ICommandPalette | null) => {
    const panel = new TestsPanel(rendermime, () => notebooks.currentWidget);
    panel.title.icon = testsIcon;
    shell.add(panel, 'left', { rank: 600 });
    notebooks.currentChanged.connect(() => panel.notebookChanged());
    const commands: [string, string, () => Promise<void>][] = [
      ['ltest:run-all', 'Run All Tests (ltest)', () => panel.run([])],
      ['ltest:run-failed', 'Run Failed Tests (ltest)', () => panel.run(panel.model.failed())],
      ['ltest:stop', 'Stop the Test Run (ltest)', () => panel.stop()]
    ];
    for (const [id, label, execute] of commands) {
      app.commands.addCommand(id, { label, execute });
      palette?.addItem({ command: id, category: 'Tests' });
    }
  }
};

export default plugin;
