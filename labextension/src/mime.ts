/**
 * The `%sheet` output (`application/vnd.pysheets.sheet+json`) as an inline, read-only grid.
 * A mime extension of its own; rank below 50 so it wins over the text/html fallback.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { BoxPanel } from '@lumino/widgets';
import type { SheetGrid } from './grid';
import type { ISheetJSON, SheetModel } from './model';

export const SHEET_MIME = 'application/vnd.pysheets.sheet+json';

const ROW_HEIGHT = 22;
const MAX_HEIGHT = 320;

export class SheetMimeRenderer
  extends BoxPanel
  implements IRenderMime.IRenderer
{
  model: SheetModel | null = null;
  grid: SheetGrid | null = null;

  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this.addClass('jp-PySheets-inline');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    if (!this.model) {
      // The grid code loads with the first sheet shown, not with JupyterLab.
      const [{ SheetModel }, { SheetGrid }] = await Promise.all([
        import('./model'),
        import('./grid')
      ]);
      this.model = new SheetModel();
      this.grid = new SheetGrid(this.model);
      this.addWidget(this.grid);
    }
    const sheet = model.data[SHEET_MIME] as unknown as ISheetJSON | undefined;
    this.model.applySnapshot({
      mode: sheet?.mode,
      cells: Array.isArray(sheet?.cells) ? sheet!.cells : []
    });
    // As tall as the used rows (plus the header), within bounds; the grid scrolls past that.
    let used = 0;
    for (const cell of this.model.cells()) {
      used = Math.max(used, Number(/\d+$/.exec(cell.address)?.[0] ?? 0));
    }
    const height = Math.min(MAX_HEIGHT, (used + 2) * ROW_HEIGHT + 4);
    this.node.style.height = `${height}px`;
    this.fit();
  }
}

const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [SHEET_MIME],
  defaultRank: 40,
  createRenderer: options => new SheetMimeRenderer(options)
};

const extension: IRenderMime.IExtension = {
  id: 'jupyterlab-pysheets:sheet-mime',
  rendererFactory,
  rank: 40,
  dataType: 'json'
};

export default extension;
