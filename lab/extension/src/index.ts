import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'ltest-jupyterlab:panel',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    console.log('ltest panel', app.name);
  }
};
export default plugin;
