/**
 * The plugins: per-notebook sheet sessions, the "Open Sheet View" command and toolbar button,
 * and where the view goes (split right in JupyterLab, the right panel in Notebook 7).
 *
 * The grid code (sessions, views, @lumino/datagrid) is imported on first use, so JupyterLab
 * starts as fast with this extension as without it.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  ISanitizer,
  Sanitizer,
  ToolbarButton
} from '@jupyterlab/apputils';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { spreadsheetIcon } from '@jupyterlab/ui-components';
import type { SheetSession } from './session';
import type { SheetView } from './view';

export const OPEN_COMMAND = 'pysheets:open-sheet-view';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-pysheets:plugin',
  description: 'PySheets grid view: the notebook as a live sheet.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ITranslator, ISanitizer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    sanitizer: IRenderMime.ISanitizer | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_pysheets');
    // The explain tree is HTML from the kernel: JupyterLab's sanitizer (with the user's
    // settings) when it is provided, else one with the defaults.
    let explainSanitizer = sanitizer;
    const sessions = new Map<NotebookPanel, SheetSession>();
    const views = new Map<NotebookPanel, SheetView>();
    // Notebook 7 shows one main widget at a time: the sheet goes to its right panel.
    const inNotebook7 = app.name === 'Jupyter Notebook';

    tracker.widgetAdded.connect((_, panel) => {
      void import('./session').then(({ SheetSession }) => {
        if (!panel.isDisposed && !sessions.has(panel)) {
          sessions.set(panel, new SheetSession(panel));
        }
      });
      panel.disposed.connect(() => {
        sessions.delete(panel);
        views.get(panel)?.dispose();
        views.delete(panel);
      });
    });

    const open = async (panel: NotebookPanel): Promise<SheetView | null> => {
      const [{ SheetSession }, { SheetView }] = await Promise.all([
        import('./session'),
        import('./view')
      ]);
      if (panel.isDisposed) {
        return null;
      }
      let session = sessions.get(panel);
      if (!session) {
        session = new SheetSession(panel);
        sessions.set(panel, session);
      }
      let view = views.get(panel);
      if (!view || view.isDisposed) {
        explainSanitizer = explainSanitizer ?? new Sanitizer();
        const created = new SheetView(session, trans, explainSanitizer);
        view = created;
        views.set(panel, created);
        created.disposed.connect(() => {
          if (views.get(panel) === created) {
            views.delete(panel);
          }
        });
        if (inNotebook7) {
          app.shell.add(created, 'right', { rank: 100 });
        } else {
          app.shell.add(created, 'main', {
            ref: panel.id,
            mode: 'split-right'
          });
        }
      }
      app.shell.activateById(view.id);
      session.connect();
      return view;
    };

    app.commands.addCommand(OPEN_COMMAND, {
      label: trans.__('Open Sheet View'),
      caption: trans.__('Show this notebook as a live PySheets grid'),
      icon: spreadsheetIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            path: {
              type: 'string',
              description: trans.__(
                'The notebook path (default: the current notebook)'
              )
            }
          }
        }
      },
      isEnabled: () => tracker.currentWidget !== null,
      execute: async args => {
        const path = args.path as string | undefined;
        const panel = path
          ? tracker.find(p => p.context.path === path)
          : tracker.currentWidget;
        return panel ? open(panel) : null;
      }
    });
    palette?.addItem({ command: OPEN_COMMAND, category: trans.__('PySheets') });

    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (panel: NotebookPanel) => {
        const button = new ToolbarButton({
          icon: spreadsheetIcon,
          label: trans.__('Sheet'),
          tooltip: trans.__('Open Sheet View'),
          className: 'jp-PySheets-toolbarButton',
          onClick: () => void open(panel)
        });
        panel.toolbar.insertItem(10, 'pysheets-sheet', button);
        return button;
      }
    });

    const find = <T>(map: Map<NotebookPanel, T>, path: string): T | null => {
      for (const [panel, value] of map) {
        if (panel.context.path === path) {
          return value;
        }
      }
      return null;
    };
    // Tests and the benchmark assert on the grid's data model: the canvas has no text to read.
    (window as unknown as { pysheetsGrid: unknown }).pysheetsGrid = {
      session: (path: string) => find(sessions, path),
      view: (path: string) => find(views, path),
      open: (path?: string) =>
        app.commands.execute(OPEN_COMMAND, path ? { path } : {})
    };
  }
};

export default plugin;
