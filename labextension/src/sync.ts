/**
 * Notebook ↔ sheet: which notebook cell holds an address, edits from the formula bar, selection
 * both ways, and the write-back that makes a saved notebook hold current values (outputs of
 * re-run cells, `pysheets.address` metadata).
 */
import { Cell, CodeCell, ICellModel } from '@jupyterlab/cells';
import * as nbformat from '@jupyterlab/nbformat';
import { NotebookPanel } from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';
import { labelAddress, stripLabel } from './formula';
import { parseAddress, SheetModel } from './model';

/** The display id the kernel gives a cell's output (`pysheets-B3`). */
export const DISPLAY_ID_PREFIX = 'pysheets-';

/** The address a notebook cell has in its metadata, if any. */
export function metadataAddress(cell: ICellModel): string | null {
  const meta = cell.getMetadata('pysheets') as
    { address?: unknown } | undefined;
  const a =
    meta && typeof meta.address === 'string'
      ? meta.address.toUpperCase()
      : null;
  return a && parseAddress(a) ? a : null;
}

/** The source for an edit: the cell's label (if it has one) over the new body. */
export function editedSource(
  oldSource: string,
  address: string,
  body: string
): string {
  if (labelAddress(body)) {
    return body;
  }
  const { label } = stripLabel(oldSource);
  return `${label ?? `# @${address}`}\n${body}`;
}

export class NotebookSync {
  constructor(
    readonly panel: NotebookPanel,
    readonly model: SheetModel
  ) {
    model.applied.connect(this._onApplied, this);
    model.selectionChanged.connect(this._onGridSelection, this);
    panel.content.activeCellChanged.connect(this._onActiveCell, this);
    panel.sessionContext.iopubMessage.connect(this._onIOPub, this);
  }

  dispose(): void {
    this.model.applied.disconnect(this._onApplied, this);
    this.model.selectionChanged.disconnect(this._onGridSelection, this);
    this.panel.content.activeCellChanged.disconnect(this._onActiveCell, this);
    this.panel.sessionContext.iopubMessage.disconnect(this._onIOPub, this);
  }

  /** The notebook cell at an address: by the sheet's cellId, then metadata, then label. */
  cellAt(address: string): ICellModel | null {
    const want = address.toUpperCase();
    const id = this.model.cell(want)?.cellId;
    const cells = this.panel.content.model?.cells;
    if (!cells) {
      return null;
    }
    let byMeta: ICellModel | null = null;
    let byLabel: ICellModel | null = null;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      if (cell.type !== 'code') {
        continue;
      }
      if (id && cell.id === id) {
        return cell;
      }
      if (!byLabel && labelAddress(cell.sharedModel.getSource()) === want) {
        byLabel = cell;
      } else if (!byMeta && metadataAddress(cell) === want) {
        byMeta = cell;
      }
    }
    return byLabel ?? byMeta;
  }

  /** The address of a notebook cell: the sheet's, else its label, else its metadata. */
  addressOf(cell: ICellModel): string | null {
    return (
      this.model.addressOfCellId(cell.id) ??
      labelAddress(cell.sharedModel.getSource()) ??
      metadataAddress(cell)
    );
  }

  /**
   * Puts new code at an address and runs it: into the notebook cell there, or a new cell at the
   * end (labelled, so the kernel puts it there). Resolves with the execute reply's status.
   */
  async commit(address: string, body: string): Promise<string> {
    const notebook = this.panel.content;
    const nbModel = notebook.model;
    if (!nbModel) {
      return 'no-notebook';
    }
    let cellModel = this.cellAt(address);
    if (cellModel) {
      const source = cellModel.sharedModel.getSource();
      const { label } = stripLabel(source);
      // A cell placed by metadata keeps no label; one with a label keeps its own.
      const next =
        label || metadataAddress(cellModel) !== address
          ? editedSource(source, address, body)
          : body;
      cellModel.sharedModel.setSource(next);
    } else {
      nbModel.sharedModel.insertCell(nbModel.cells.length, {
        cell_type: 'code',
        source: editedSource('', address, body),
        metadata: { pysheets: { address } }
      });
      cellModel = nbModel.cells.get(nbModel.cells.length - 1);
    }
    const widget = notebook.widgets.find(w => w.model === cellModel);
    if (!(widget instanceof CodeCell)) {
      return 'no-cell';
    }
    const reply = await CodeCell.execute(widget, this.panel.sessionContext);
    return reply ? reply.content.status : 'not-run';
  }

  /** Shows a notebook cell (without taking the focus from the grid). */
  reveal(address: string): void {
    const cellModel = this.cellAt(address);
    const notebook = this.panel.content;
    const index = cellModel
      ? notebook.widgets.findIndex(w => w.model === cellModel)
      : -1;
    if (index < 0 || index === notebook.activeCellIndex) {
      return;
    }
    this._revealing = true;
    try {
      notebook.activeCellIndex = index;
    } finally {
      this._revealing = false;
    }
    void notebook.scrollToItem(index, 'smart');
  }

  // --- handlers ------------------------------------------------------------------------------

  /** Stores each touched cell's address in its notebook cell's metadata. */
  private _onApplied(_: SheetModel, touched: string[]): void {
    const cells = this.panel.content.model?.cells;
    if (!cells || touched.length === 0) {
      return;
    }
    // Walk the shorter side: a snapshot touches every sheet cell, an update a few.
    if (touched.length > cells.length) {
      for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        const address = this.model.addressOfCellId(cell.id);
        if (address) {
          this._storeAddress(cell, address);
        }
      }
      return;
    }
    const byId = new Map<string, ICellModel>();
    for (let i = 0; i < cells.length; i++) {
      byId.set(cells.get(i).id, cells.get(i));
    }
    for (const address of touched) {
      const id = this.model.cell(address)?.cellId;
      const cell = id ? byId.get(id) : undefined;
      if (cell) {
        this._storeAddress(cell, address);
      }
    }
  }

  private _storeAddress(cell: ICellModel, address: string): void {
    if (metadataAddress(cell) !== address) {
      const old = (cell.getMetadata('pysheets') as object | undefined) ?? {};
      cell.setMetadata('pysheets', { ...old, address });
    }
  }

  private _onGridSelection(_: SheetModel, address: string | null): void {
    if (address && !this._fromNotebook) {
      this.reveal(address);
    }
  }

  private _onActiveCell(_: unknown, cell: Cell | null): void {
    if (!cell || this._revealing) {
      return;
    }
    const address = this.addressOf(cell.model);
    if (!address) {
      return;
    }
    this._fromNotebook = true;
    try {
      this.model.select(address);
    } finally {
      this._fromNotebook = false;
    }
  }

  /**
   * A re-run cell's new output arrives as `update_display_data`. In the tab that ran the cell
   * JupyterLab applies it to the cell's outputs itself (before this handler); after a reload the
   * link is gone, so the output is written into the cell's model here, and saved with it.
   */
  private _onIOPub(_: unknown, msg: KernelMessage.IMessage): void {
    if (msg.header.msg_type !== 'update_display_data') {
      return;
    }
    const content = (msg as unknown as KernelMessage.IUpdateDisplayDataMsg)
      .content;
    const displayId = content.transient?.display_id;
    if (
      typeof displayId !== 'string' ||
      !displayId.startsWith(DISPLAY_ID_PREFIX)
    ) {
      return;
    }
    const address = displayId.slice(DISPLAY_ID_PREFIX.length).toUpperCase();
    const cell = this.cellAt(address);
    if (!cell || cell.type !== 'code') {
      return;
    }
    const outputs = (cell as unknown as { outputs: IOutputsLike }).outputs;
    const output: nbformat.IDisplayData = {
      output_type: 'display_data',
      data: content.data as nbformat.IMimeBundle,
      metadata: (content.metadata ?? {}) as nbformat.OutputMetadata
    };
    if (outputs.length === 1 && sameData(outputs.get(0).toJSON(), output)) {
      return;
    }
    cell.sharedModel.transact(() => {
      outputs.clear();
      outputs.add(output);
    });
  }

  private _fromNotebook = false;
  private _revealing = false;
}

interface IOutputsLike {
  readonly length: number;
  get(index: number): { toJSON(): nbformat.IOutput };
  clear(wait?: boolean): void;
  add(output: nbformat.IOutput): number;
}

function sameData(a: nbformat.IOutput, b: nbformat.IDisplayData): boolean {
  return (
    (a.output_type === 'display_data' || a.output_type === 'execute_result') &&
    JSON.stringify(a.data) === JSON.stringify(b.data)
  );
}
