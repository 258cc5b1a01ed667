/**
 * The grid data model: the kernel's sheet (cells by address) as a `@lumino/datagrid` DataModel.
 *
 * Kept free of JupyterLab imports so it can be unit-tested and reused by the inline
 * `%sheet` renderer.
 */
// Only ever loaded with import() (index.ts, mime.ts), so the grid loads on first use.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { DataModel } from '@lumino/datagrid';
import { ISignal, Signal } from '@lumino/signaling';

/** A cell's state as the kernel reports it, plus `running` (known only to the frontend). */
export type CellState = 'ok' | 'error' | 'upstream-error' | 'stale' | 'running';

/**
 * One cell of the `pysheets` comm / `%sheet` JSON. The comm leaves out `code` (asked for when
 * the cell is selected) and fields at their defaults (`state` ok, empty title and value, no
 * reads, not lazy); `_put` fills `state` in.
 */
export interface ISheetCell {
  address: string;
  title?: string;
  cellId?: string | null;
  state: CellState;
  value?: string;
  reads?: string[];
  code?: string;
  lazy?: boolean;
  /** The label's number format (a Python format spec, `.1%`); `value` is already in it. */
  format?: string;
  /** The value is a number (the grid aligns it right); absent on the comm (see `isNumber`). */
  number?: boolean;
  /**
   * A notebook cell's saved output, shown (stale) where the kernel has no cell yet: the
   * notebook was opened, the kernel has not run it.
   */
  saved?: boolean;
  error?: string;
  /** Base64 PNG when the value displays as an image. */
  png?: string;
  /** Who changed the cell last and when, from the kernel's journal; absent when unknown. */
  edited?: ICellEdited;
}

/** A cell's last change: `by` a user name, `at` a UTC time in RFC 3339 (with milliseconds). */
export interface ICellEdited {
  by: string;
  at: string;
}

/** `%sheet`'s JSON, and the `sheet` of a comm snapshot. */
export interface ISheetJSON {
  mode?: 'auto' | 'lazy';
  cells: ISheetCell[];
}

/** A cell of an `update` message: a full cell, or a deletion. */
export type SheetCellUpdate =
  ISheetCell | { address: string; state: 'deleted' };

/** A long recompute's progress: `done` of `total` cells, `running` now. */
export interface IProgress {
  done: number;
  total: number;
  running: string;
}

export interface IPosition {
  row: number;
  col: number;
}

/** Column index (0-based) to letters: 0 → A, 25 → Z, 26 → AA. */
export function columnName(col: number): string {
  let name = '';
  let n = col + 1;
  while (n > 0) {
    const rem = (n - 1) % 26;
    name = String.fromCharCode(65 + rem) + name;
    n = Math.floor((n - 1) / 26);
  }
  return name;
}

/** `B3` → {row: 2, col: 1}; null for anything that is not an address. */
export function parseAddress(address: string): IPosition | null {
  // A hand-written scan: snapshots parse 10⁵ addresses, and a regex per address showed.
  const a = address.trim();
  let i = 0;
  let col = 0;
  for (; i < a.length && i < 3; i++) {
    const c = a.charCodeAt(i) & ~32; // upper case
    if (c < 65 || c > 90) {
      break;
    }
    col = col * 26 + (c - 64);
  }
  if (i === 0 || i === a.length || a.charCodeAt(i) === 48) {
    return null;
  }
  let row = 0;
  for (let j = i; j < a.length; j++) {
    const d = a.charCodeAt(j) - 48;
    if (d < 0 || d > 9 || j - i >= 7) {
      return null;
    }
    row = row * 10 + d;
  }
  return { row: row - 1, col: col - 1 };
}

export function formatAddress(row: number, col: number): string {
  return `${columnName(col)}${row + 1}`;
}

/**
 * Digits, with only signs, separators, a decimal point, an exponent and percent beside them
 * (`-1,234.5`, `25.0%`, `1e-07`): the kernel's `reads_as_number` (core/live_sheet/views.rs),
 * which sends `number` only where the text misleads (a string "123", a float `inf`).
 */
const NUMBER_TEXT = /^[\d+\-.,_ %eE]*\d[\d+\-.,_ %eE]*$/;

/** Whether a cell holds a number: as the kernel says, else as its text reads. */
export function isNumber(cell: ISheetCell): boolean {
  if (cell.state !== 'ok' && cell.state !== 'stale') {
    return false;
  }
  return cell.number ?? NUMBER_TEXT.test(cell.value ?? '');
}

/** The text a grid cell shows. */
export function displayText(cell: ISheetCell): string {
  switch (cell.state) {
    case 'error':
      return `#ERROR ${firstLine(cell.error ?? '')}`.trim();
    case 'upstream-error':
      return '#UPSTREAM';
    default:
      return cell.value ?? '';
  }
}

/**
 * The cell's last change, or null when the kernel did not say or said something malformed
 * (cells are kept as received, so this is where the field is checked).
 */
export function editedOf(cell: ISheetCell | undefined): ICellEdited | null {
  const e = cell?.edited as unknown;
  if (!e || typeof e !== 'object') {
    return null;
  }
  const { by, at } = e as { by?: unknown; at?: unknown };
  if (typeof by !== 'string' || by.trim() === '' || typeof at !== 'string') {
    return null;
  }
  return { by, at };
}

function firstLine(text: string): string {
  const i = text.indexOf('\n');
  return i < 0 ? text : text.slice(0, i);
}

/** Blank rows and columns past the last used ones, room to add cells. */
const SPARE_ROWS = 20;
const SPARE_COLS = 5;
const MIN_ROWS = 50;
const MIN_COLS = 12;

/**
 * The sheet as a DataModel. Body data is the display text; renderers ask `cellAt` for the
 * state, the image and the highlight.
 */
export class SheetModel extends DataModel {
  /** The kernel's mode, `auto` or `lazy`. */
  mode: 'auto' | 'lazy' = 'auto';

  /** Emitted after a snapshot or an update was applied, with the addresses it touched. */
  get applied(): ISignal<this, string[]> {
    return this._applied;
  }

  /** A long recompute under way (the kernel reports one past 1 s), or null. */
  get progress(): IProgress | null {
    return this._progress;
  }

  /** Emitted when `progress` changes. */
  get progressChanged(): ISignal<this, IProgress | null> {
    return this._progressChanged;
  }

  /** Sets the progress (null: the batch ended). */
  setProgress(progress: IProgress | null): void {
    this._progress = progress;
    this._progressChanged.emit(progress);
  }

  /** Emitted when the selected address changes (null: none). */
  get selectionChanged(): ISignal<this, string | null> {
    return this._selectionChanged;
  }

  get size(): number {
    return this._cells.size;
  }

  rowCount(region: DataModel.RowRegion): number {
    return region === 'body' ? this._rows : 1;
  }

  columnCount(region: DataModel.ColumnRegion): number {
    return region === 'body' ? this._cols : 1;
  }

  data(region: DataModel.CellRegion, row: number, column: number): string {
    switch (region) {
      case 'column-header':
        return columnName(column);
      case 'row-header':
        return String(row + 1);
      case 'corner-header':
        return '';
      default: {
        const cell = this.cellAt(row, column);
        return cell ? displayText(cell) : '';
      }
    }
  }

  /** The cell shown at a position: the kernel's, else a saved output (`setSaved`). */
  cellAt(row: number, col: number): ISheetCell | undefined {
    const k = key(row, col);
    const address = this._byPosition.get(k);
    return address === undefined
      ? this._savedByPosition.get(k)
      : this._cells.get(address);
  }

  /** The saved output shown at an address, if the kernel has no cell there. */
  savedCell(address: string): ISheetCell | undefined {
    const a = address.toUpperCase();
    const pos = parseAddress(a);
    return pos && !this._cells.has(a)
      ? this._savedByPosition.get(key(pos.row, pos.col))
      : undefined;
  }

  /**
   * The notebook's saved outputs, by address: shown marked stale wherever the kernel has no
   * cell (before it has run the notebook), replaced by the kernel's cells as they come.
   */
  setSaved(cells: ISheetCell[]): void {
    this._savedByPosition.clear();
    this._savedRows = 0;
    this._savedCols = 0;
    for (const cell of cells) {
      const pos = parseAddress(cell.address);
      const k = pos ? key(pos.row, pos.col) : -1;
      if (pos && !this._savedByPosition.has(k)) {
        this._savedRows = Math.max(this._savedRows, pos.row + 1);
        this._savedCols = Math.max(this._savedCols, pos.col + 1);
        cell.address = cell.address.toUpperCase();
        cell.state = 'stale';
        cell.saved = true;
        this._savedByPosition.set(k, cell);
      }
    }
    this._resize();
    this.emitChanged({ type: 'model-reset' });
  }

  cell(address: string): ISheetCell | undefined {
    return this._cells.get(address.toUpperCase());
  }

  cells(): IterableIterator<ISheetCell> {
    return this._cells.values();
  }

  /** The address of a notebook cell id, if the sheet has it. */
  addressOfCellId(cellId: string): string | undefined {
    return this._byCellId.get(cellId);
  }

  /** What the cell reads (its precedents). */
  precedents(address: string): string[] {
    return this._cells.get(address)?.reads ?? [];
  }

  /** The cells that read this one (its direct dependents). */
  dependents(address: string): string[] {
    return [...(this._readerIndex().get(address) ?? [])];
  }

  /** Everything downstream of these cells, in no particular order (the cells included). */
  downstream(addresses: string[]): Set<string> {
    const seen = new Set<string>();
    const todo = [...addresses];
    while (todo.length) {
      const a = todo.pop()!;
      if (seen.has(a)) {
        continue;
      }
      seen.add(a);
      for (const d of this._readerIndex().get(a) ?? []) {
        todo.push(d);
      }
    }
    return seen;
  }

  // --- selection and highlight -------------------------------------------------------------

  get selected(): string | null {
    return this._selected;
  }

  /** Selects an address; precedents and dependents of it are highlighted. */
  select(address: string | null): void {
    const next = address ? address.toUpperCase() : null;
    if (next === this._selected) {
      return;
    }
    this._selected = next;
    this._precedentSet = new Set(next ? this.precedents(next) : []);
    this._dependentSet = new Set(next ? this.dependents(next) : []);
    this._selectionChanged.emit(next);
    this.emitChanged({ type: 'model-reset' });
  }

  /** 'precedent', 'dependent' or null: how an address relates to the selected cell. */
  highlight(address: string): 'precedent' | 'dependent' | null {
    if (this._precedentSet.has(address)) {
      return 'precedent';
    }
    if (this._dependentSet.has(address)) {
      return 'dependent';
    }
    return null;
  }

  // --- kernel messages -----------------------------------------------------------------------

  /** Replaces everything with a snapshot. */
  applySnapshot(sheet: ISheetJSON): void {
    this._cells.clear();
    this._byPosition.clear();
    this._byCellId.clear();
    this._running.clear();
    this._usedRows = 0;
    this._usedCols = 0;
    this.mode = sheet.mode ?? 'auto';
    for (const cell of sheet.cells ?? []) {
      this._put(cell);
    }
    this._readersStale = true;
    this._refreshHighlight();
    this._resize();
    this.emitChanged({ type: 'model-reset' });
    this._applied.emit([...this._cells.keys()]);
  }

  /**
   * Applies an `update` message: its cells (a deleted one comes with state `deleted`), and
   * its `values`, new values of re-run cells that changed nothing else (ok, no picture, a
   * number if their text reads as one). False when a value names a cell this model does not
   * have: it missed something, and should ask for a snapshot.
   */
  applyUpdate(
    cells: SheetCellUpdate[],
    mode?: 'auto' | 'lazy',
    values?: Record<string, unknown>
  ): boolean {
    if (mode) {
      this.mode = mode;
    }
    const touched: string[] = [];
    for (const cell of cells) {
      const address = cell.address.toUpperCase();
      this._remove(address);
      this._running.delete(address);
      if (cell.state !== 'deleted') {
        this._put(cell as ISheetCell);
      }
      touched.push(address);
    }
    let complete = true;
    for (const address in values ?? {}) {
      const cell = this._cells.get(address);
      const value = values![address];
      if (!cell || typeof value !== 'string') {
        complete = false;
        continue;
      }
      this._running.delete(address);
      cell.value = value;
      cell.state = 'ok';
      delete cell.error;
      delete cell.png;
      delete cell.number;
      touched.push(address);
    }
    // Reads of the touched cells changed: the reverse index is rebuilt when next asked for
    // (a per-cell patch would have to undo old reads).
    this._readersStale = true;
    this._refreshHighlight();
    if (this._resize() || touched.length > 64 || this._selected) {
      this.emitChanged({ type: 'model-reset' });
    } else {
      for (const address of touched) {
        this._emitCell(address);
      }
    }
    this._applied.emit(touched);
    return complete;
  }

  /**
   * Completes a cell with the kernel's full form of it (its code and last edit, which the
   * comm leaves out); ignored when the cell changed or went since.
   */
  applyCell(full: ISheetCell): void {
    const address = full.address?.toUpperCase();
    const cell = address ? this._cells.get(address) : undefined;
    if (
      !cell ||
      typeof full.code !== 'string' ||
      (full.cellId ?? null) !== (cell.cellId ?? null)
    ) {
      return;
    }
    cell.code = full.code;
    if (full.edited) {
      cell.edited = full.edited;
    }
    this._applied.emit([address]);
  }

  /** Drops every cell (the kernel restarted or died). */
  clear(): void {
    this.applySnapshot({ cells: [] });
    if (this._progress) {
      this.setProgress(null);
    }
  }

  /** Marks cells as running until the next update for them, or `clearRunning`. */
  markRunning(addresses: Iterable<string>): void {
    for (const address of addresses) {
      const cell = this._cells.get(address);
      if (cell && !this._running.has(address)) {
        this._running.set(address, cell.state);
        cell.state = 'running';
        this._emitCell(address);
      }
    }
  }

  /**
   * Ends `running` for these cells (default: all) where the kernel did not report on them (it
   * did not run them after all).
   */
  clearRunning(addresses?: Iterable<string>): void {
    for (const address of addresses ?? [...this._running.keys()]) {
      const previous = this._running.get(address);
      if (previous === undefined) {
        continue;
      }
      this._running.delete(address);
      const cell = this._cells.get(address);
      if (cell && cell.state === 'running') {
        cell.state = previous;
        this._emitCell(address);
      }
    }
  }

  /** Repaints one cell (its image finished loading, say). */
  touch(address: string): void {
    this._emitCell(address);
  }

  // --- internals -----------------------------------------------------------------------------

  private _put(cell: ISheetCell): void {
    const pos = parseAddress(cell.address);
    if (!pos) {
      return;
    }
    // Kept as received (no copy: 10⁵ of them in a snapshot); only the address normalised.
    const copy = cell;
    if (!copy.state) {
      copy.state = 'ok';
    }
    const address = cell.address.toUpperCase();
    if (address !== cell.address) {
      copy.address = address;
    }
    this._cells.set(address, copy);
    this._byPosition.set(key(pos.row, pos.col), address);
    if (copy.cellId) {
      this._byCellId.set(copy.cellId, address);
    }
    if (pos.row + 1 > this._usedRows) {
      this._usedRows = pos.row + 1;
    }
    if (pos.col + 1 > this._usedCols) {
      this._usedCols = pos.col + 1;
    }
  }

  private _remove(address: string): void {
    const old = this._cells.get(address);
    if (!old) {
      return;
    }
    this._cells.delete(address);
    const pos = parseAddress(address)!;
    this._byPosition.delete(key(pos.row, pos.col));
    if (old.cellId && this._byCellId.get(old.cellId) === address) {
      this._byCellId.delete(old.cellId);
    }
  }

  /** Who reads each address; built on first use after a change, not on every message. */
  private _readerIndex(): Map<string, Set<string>> {
    if (this._readersStale) {
      this._readersStale = false;
      this._rebuildReaders();
    }
    return this._readers;
  }

  private _rebuildReaders(): void {
    this._readers.clear();
    for (const cell of this._cells.values()) {
      for (const read of cell.reads ?? []) {
        let set = this._readers.get(read);
        if (!set) {
          set = new Set();
          this._readers.set(read, set);
        }
        set.add(cell.address);
      }
    }
  }

  private _refreshHighlight(): void {
    const s = this._selected;
    this._precedentSet = new Set(s ? this.precedents(s) : []);
    this._dependentSet = new Set(s ? this.dependents(s) : []);
  }

  /** Recomputes the extent; true when it changed. */
  private _resize(): boolean {
    if (this._cells.size === 0) {
      this._usedRows = 0;
      this._usedCols = 0;
    }
    const usedRows = Math.max(this._usedRows, this._savedRows);
    const usedCols = Math.max(this._usedCols, this._savedCols);
    const rows = Math.max(MIN_ROWS, usedRows + SPARE_ROWS);
    const cols = Math.max(MIN_COLS, usedCols + SPARE_COLS);
    const changed = rows !== this._rows || cols !== this._cols;
    this._rows = rows;
    this._cols = cols;
    return changed;
  }

  private _emitCell(address: string): void {
    const pos = parseAddress(address);
    if (!pos || pos.row >= this._rows || pos.col >= this._cols) {
      return;
    }
    this.emitChanged({
      type: 'cells-changed',
      region: 'body',
      row: pos.row,
      column: pos.col,
      rowSpan: 1,
      columnSpan: 1
    });
  }

  private _cells = new Map<string, ISheetCell>();
  private _byPosition = new Map<number, string>();
  private _savedByPosition = new Map<number, ISheetCell>();
  private _savedRows = 0;
  private _savedCols = 0;
  private _byCellId = new Map<string, string>();
  private _readers = new Map<string, Set<string>>();
  private _readersStale = false;
  private _running = new Map<string, CellState>();
  private _selected: string | null = null;
  private _precedentSet = new Set<string>();
  private _dependentSet = new Set<string>();
  private _usedRows = 0;
  private _usedCols = 0;
  private _rows = MIN_ROWS;
  private _cols = MIN_COLS;
  private _applied = new Signal<this, string[]>(this);
  private _selectionChanged = new Signal<this, string | null>(this);
  private _progress: IProgress | null = null;
  private _progressChanged = new Signal<this, IProgress | null>(this);
}

/** One number for a position: rows up to 2^32 fit beside 2^20 columns in a double. */
function key(row: number, col: number): number {
  return row * 1048576 + col;
}
