/**
 * One notebook's sheet: the grid model, the kernel connector and the notebook sync, alive as
 * long as the notebook panel, whether or not a sheet view shows it.
 */
import { NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import type { ICodeCellModel } from '@jupyterlab/cells';
import { IKernelLike, SheetConnector } from './comm';
import { parseLabel } from './formula';
import { ISheetCell, SheetModel } from './model';
import { metadataAddress, NotebookSync } from './sync';

/** The kernel_info `implementation` of the PySheets kernel. */
export const PYSHEETS_IMPLEMENTATION = 'pysheets';

export class SheetSession {
  readonly model = new SheetModel();
  readonly connector = new SheetConnector(this.model);
  readonly sync: NotebookSync;

  constructor(readonly panel: NotebookPanel) {
    this.sync = new NotebookSync(panel, this.model);
    panel.sessionContext.kernelChanged.connect(this._onKernel, this);
    panel.context.ready.then(() => {
      const cells = panel.content.model?.cells;
      if (!this._disposed && cells) {
        cells.changed.connect(this._onCells, this);
        this._onCells();
        this._showSaved();
      }
    });
    // A new kernel (or a restart) has run nothing: the notebook's outputs are all there is.
    this.connector.stateChanged.connect(this._showSaved, this);
    this._onKernel();
    panel.disposed.connect(() => this.dispose());
  }

  /** True when the kernel said it is PySheets (then the comm is opened without asking). */
  get isPySheets(): boolean {
    return this._isPySheets;
  }

  /** Opens the comm even on a kernel not known to be PySheets (the view was asked for). */
  connect(): void {
    this.connector.connect();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.panel.sessionContext.kernelChanged.disconnect(this._onKernel, this);
    this.panel.content.model?.cells.changed.disconnect(this._onCells, this);
    this.connector.stateChanged.disconnect(this._showSaved, this);
    this.sync.dispose();
    this.connector.dispose();
  }

  /** The notebook's saved outputs into the grid, stale until the kernel runs their cells. */
  private _showSaved(): void {
    const cells = this.panel.content.model?.cells;
    if (!cells || this._disposed) {
      return;
    }
    const saved: ISheetCell[] = [];
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      if (cell.type !== 'code') {
        continue;
      }
      const source = cell.sharedModel.getSource();
      const label = parseLabel(source);
      const address = label?.address ?? metadataAddress(cell);
      const text = address ? savedText(cell as ICodeCellModel) : null;
      if (address && text !== null) {
        saved.push({
          address,
          cellId: cell.id,
          title: label?.title ?? '',
          format: label?.format,
          state: 'stale',
          value: text
        });
      }
    }
    this.model.setSaved(saved);
  }

  /** Cells added, removed or moved: the kernel resolves names in the notebook's order. */
  private _onCells(): void {
    const cells = this.panel.content.model?.cells;
    if (!cells) {
      return;
    }
    const ids: string[] = [];
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      if (cell.type === 'code') {
        ids.push(cell.id);
      }
    }
    this.connector.setOrder(ids);
  }

  private _onKernel(): void {
    const kernel = this.panel.sessionContext.session?.kernel ?? null;
    this._isPySheets = false;
    this.connector.setKernel(kernel as unknown as IKernelLike | null, false);
    if (!kernel) {
      return;
    }
    // Only a kernel that says it is PySheets gets the comm unasked: others would log an
    // unknown comm target.
    void whenInfo(kernel).then(implementation => {
      if (
        implementation === PYSHEETS_IMPLEMENTATION &&
        this.panel.sessionContext.session?.kernel === kernel
      ) {
        this._isPySheets = true;
        this.connector.connect();
      }
    });
  }

  private _isPySheets = false;
  private _disposed = false;
}

/**
 * The first line of a cell's saved value (its first output's text/plain), or its error's
 * `ename: evalue`; null for a cell with neither.
 */
export function savedText(cell: ICodeCellModel): string | null {
  const outputs = cell.outputs;
  for (let i = 0; i < (outputs?.length ?? 0); i++) {
    const o = outputs.get(i).toJSON() as {
      output_type: string;
      data?: Record<string, unknown>;
      ename?: string;
      evalue?: string;
    };
    if (o.output_type === 'error') {
      return `#ERROR ${o.ename ?? ''}: ${o.evalue ?? ''}`.trim();
    }
    const text = o.data?.['text/plain'];
    if (
      (o.output_type === 'display_data' ||
        o.output_type === 'execute_result') &&
      (typeof text === 'string' || Array.isArray(text))
    ) {
      const joined = Array.isArray(text) ? text.join('') : text;
      const nl = joined.indexOf('\n');
      return nl < 0 ? joined : joined.slice(0, nl);
    }
  }
  return null;
}

async function whenInfo(
  kernel: Kernel.IKernelConnection
): Promise<string | null> {
  try {
    const info = await kernel.info;
    return info.implementation;
  } catch {
    return null;
  }
}
