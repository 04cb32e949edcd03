// ltest's JupyterLab 4 / Notebook 7 extension: a Tests panel in the left
// sidebar that lists and runs the tests of a directory in forks of the
// current notebook's kernel (ltest's runtime, through the panel's own comm).
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { LabIcon } from '@jupyterlab/ui-components';
import { Opener, TestsPanel } from './panel';

const testsIcon = new LabIcon({
  name: 'ltest:tests',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M7 2v2h1v14a4 4 0 0 0 8 0V4h1V2H7zm3 2h4v4h-4V4zm0 6h4v8a2 2 0 0 1-4 0v-8z"/>' +
    '</svg>'
});

// The widget a document manager opens for a file: an editor at `line`.
interface IEditorWidget {
  context?: { ready: Promise<void> };
  content?: { editor?: { setCursorPosition(p: { line: number; column: number }): void;
                         revealPosition?(p: { line: number; column: number }): void; focus(): void } };
}

function opener(docs: IDocumentManager | null): Opener | null {
  if (!docs) {
    return null;
  }
  return (path: string, line: number) => {
    const widget = docs.openOrReveal(path, 'Editor') as unknown as IEditorWidget | undefined;
    void widget?.context?.ready.then(() => {
      const editor = widget.content?.editor;
      if (editor) {
        const position = { line, column: 0 };
        editor.setCursorPosition(position);
        editor.revealPosition?.(position);
        editor.focus();
      }
    });
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'ltest-jupyterlab:tests-panel',
  description: "ltest's Tests panel: run a directory's tests in forks of the notebook's kernel.",
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  optional: [ICommandPalette, IDocumentManager],
  activate: (app: JupyterFrontEnd, notebooks: INotebookTracker, rendermime: IRenderMimeRegistry,
             palette: ICommandPalette | null, docs: IDocumentManager | null) => {
    const panel = new TestsPanel(rendermime, () => notebooks.currentWidget, opener(docs));
    panel.title.icon = testsIcon;
    panel.title.label = '';
    app.shell.add(panel, 'left', { rank: 600 });
    notebooks.currentChanged.connect(() => panel.notebookChanged());
    const commands: [string, string, () => unknown][] = [
      ['ltest:open', 'Show the Tests Panel (ltest)', () => app.shell.activateById(panel.id)],
      ['ltest:run-all', 'Run All Tests (ltest)', () => panel.run([])],
      ['ltest:run-failed', 'Run Failed Tests (ltest)', () => panel.run(panel.model.failed())],
      ['ltest:stop', 'Stop the Test Run (ltest)', () => panel.stop()]
    ];
    for (const [id, label, execute] of commands) {
      app.commands.addCommand(id, { label, execute: () => execute() as any });
      palette?.addItem({ command: id, category: 'Tests' });
    }
  }
};

export default plugin;
