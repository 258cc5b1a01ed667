/**
 * Notebook ↔ sheet: which notebook cell holds an address, edits from the formula bar, selection
 * both ways, and the write-back that makes a saved notebook hold current values (outputs of
 * re-run cells, `pysheets.address` metadata).
 */
import { Cell, CodeCell, ICellModel } from '@jupyterlab/cells';
import * as nbformat from '@jupyterlab/nbformat';
import { NotebookPanel } from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';
import { ISignal } from '@lumino/signaling';
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
    this._list?.changed.disconnect(this._onCellsChanged, this);
    this._list = null;
    this.model.applied.disconnect(this._onApplied, this);
    this.model.selectionChanged.disconnect(this._onGridSelection, this);
    this.panel.content.activeCellChanged.disconnect(this._onActiveCell, this);
    this.panel.sessionContext.iopubMessage.disconnect(this._onIOPub, this);
  }

  /**
   * The notebook cell at an address: by the sheet's cellId, then label, then metadata. Looked
   * up in an index of the notebook's code cells, rebuilt only when cells are added, removed
   * or moved: a re-run of 10,000 cells asks 10,000 times.
   */
  cellAt(address: string): ICellModel | null {
    const want = address.toUpperCase();
    const index = this._index();
    if (!index) {
      return null;
    }
    const id =
      this.model.cell(want)?.cellId ?? this.model.savedCell(want)?.cellId;
    const byId = id ? index.byId.get(id) : undefined;
    if (byId) {
      return byId;
    }
    // A cell the kernel has from elsewhere (a console), or before it ran here: by its label
    // or metadata, checked again because labels are edited without the list changing.
    const byLabel = index.byLabel.get(want);
    if (byLabel && labelAddress(byLabel.sharedModel.getSource()) === want) {
      return byLabel;
    }
    const byMeta = index.byMeta.get(want);
    if (byMeta && metadataAddress(byMeta) === want) {
      return byMeta;
    }
    if (byLabel || byMeta) {
      this._cells = null;
      return this._rescan(want);
    }
    return null;
  }

  /** How many notebook cells the index was built from, in all (for tests: the work done). */
  get cellsVisited(): number {
    return this._visited;
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
    const index = this._index();
    if (!index || touched.length === 0) {
      return;
    }
    for (const address of touched) {
      const id = this.model.cell(address)?.cellId;
      const cell = id ? index.byId.get(id) : undefined;
      if (cell) {
        this._storeAddress(cell, address);
      }
    }
  }

  /** The index of the notebook's code cells, built when first asked after a change. */
  private _index(): ICellIndex | null {
    const cells = this.panel.content.model?.cells ?? null;
    if (cells !== this._list) {
      this._list?.changed.disconnect(this._onCellsChanged, this);
      this._list = cells;
      this._cells = null;
      cells?.changed.connect(this._onCellsChanged, this);
    }
    if (!cells) {
      return null;
    }
    if (!this._cells) {
      const index: ICellIndex = {
        byId: new Map(),
        byLabel: new Map(),
        byMeta: new Map()
      };
      for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        this._visited++;
        if (cell.type !== 'code') {
          continue;
        }
        index.byId.set(cell.id, cell);
        const label = labelAddress(cell.sharedModel.getSource());
        if (label && !index.byLabel.has(label)) {
          index.byLabel.set(label, cell);
        }
        const meta = metadataAddress(cell);
        if (meta && !index.byMeta.has(meta)) {
          index.byMeta.set(meta, cell);
        }
      }
      this._cells = index;
    }
    return this._cells;
  }

  /** After a stale label or metadata entry: the fresh index's answer. */
  private _rescan(want: string): ICellModel | null {
    const index = this._index();
    return index?.byLabel.get(want) ?? index?.byMeta.get(want) ?? null;
  }

  private _onCellsChanged(): void {
    this._cells = null;
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
    if (outputs.length === 1) {
      if (!sameData(outputs.get(0).toJSON(), output)) {
        // In place: JupyterLab re-renders the output with its renderer, not a new one.
        outputs.set(0, output);
      }
      return;
    }
    cell.sharedModel.transact(() => {
      outputs.clear();
      outputs.add(output);
    });
  }

  private _fromNotebook = false;
  private _revealing = false;
  private _list: ICellList | null = null;
  private _cells: ICellIndex | null = null;
  private _visited = 0;
}

/** The notebook's code cells by cellId, by label and by `pysheets.address` metadata. */
interface ICellIndex {
  byId: Map<string, ICellModel>;
  byLabel: Map<string, ICellModel>;
  byMeta: Map<string, ICellModel>;
}

/** What the sync reads of a notebook's cell list (JupyterLab's `CellList`). */
interface ICellList {
  readonly length: number;
  get(index: number): ICellModel;
  readonly changed: ISignal<any, any>;
}

interface IOutputsLike {
  readonly length: number;
  get(index: number): { toJSON(): nbformat.IOutput };
  clear(wait?: boolean): void;
  add(output: nbformat.IOutput): number;
  set(index: number, output: nbformat.IOutput): void;
}

function sameData(a: nbformat.IOutput, b: nbformat.IDisplayData): boolean {
  return (
    (a.output_type === 'display_data' || a.output_type === 'execute_result') &&
    JSON.stringify(a.data) === JSON.stringify(b.data)
  );
}
