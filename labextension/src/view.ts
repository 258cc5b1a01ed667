/**
 * The sheet view: a status line, the formula bar (with the selected cell's last editor and an
 * Explain button), the explain panel when open, and the grid, for one notebook's SheetSession.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { TranslationBundle } from '@jupyterlab/translation';
import { BoxPanel, Widget } from '@lumino/widgets';
import { CellAudit, ExplainPanel } from './audit';
import { ConnectionState } from './comm';
import { FormulaBar } from './formula';
import { SheetGrid } from './grid';
import { editedOf, formatAddress, parseAddress, SheetModel } from './model';
import { SheetSession } from './session';

let nextId = 0;

export class SheetView extends BoxPanel {
  readonly grid: SheetGrid;
  readonly formula: FormulaBar;
  readonly audit: CellAudit;
  readonly explainPanel: ExplainPanel;

  constructor(
    readonly session: SheetSession,
    private _trans: TranslationBundle,
    sanitizer: IRenderMime.ISanitizer
  ) {
    super({ direction: 'top-to-bottom', spacing: 0 });
    this.formula = new FormulaBar(_trans.__('Select a cell'));
    this.audit = new CellAudit(_trans);
    this.formula.addTrailing(this.audit.node);
    this.explainPanel = new ExplainPanel(_trans, sanitizer, session.connector);
    this.id = `pysheets-sheet-${++nextId}`;
    this.addClass('jp-PySheets-view');
    this.title.label = _trans.__('Sheet: %1', session.panel.title.label);
    this.title.caption = _trans.__(
      'PySheets sheet of %1',
      session.panel.context.path
    );
    this.title.closable = true;

    this._status = new Widget();
    this._status.addClass('jp-PySheets-status');
    this.grid = new SheetGrid(session.model);
    this.addWidget(this._status);
    this.addWidget(this.formula);
    this.addWidget(this.explainPanel);
    this.addWidget(this.grid);
    BoxPanel.setStretch(this._status, 0);
    BoxPanel.setStretch(this.formula, 0);
    // The panel is as tall as its content, up to a cap (audit.ts); the grid keeps the rest.
    BoxPanel.setStretch(this.explainPanel, 0);
    BoxPanel.setStretch(this.grid, 1);

    const model = session.model;
    model.selectionChanged.connect(this._onSelection, this);
    model.applied.connect(this._onApplied, this);
    model.progressChanged.connect(this._showStatus, this);
    session.connector.stateChanged.connect(this._onConnection, this);
    this.audit.explainRequested.connect((_, address) => this.explain(address));
    this.grid.selectionModel!.changed.connect(this._onGridSelection, this);
    this.formula.committed.connect(
      (_, { address, code }) => void this.commit(address, code)
    );
    this.grid.node.addEventListener('dblclick', this._onDoubleClick, true);
    this.grid.node.addEventListener('keydown', this._onGridKey, true);
    this.grid.node.addEventListener('mousemove', this._onHover);
    this._showStatus();
    this._showAudit();
  }

  get model(): SheetModel {
    return this.session.model;
  }

  /** Selects a cell in the grid, as a click does. */
  selectAddress(address: string): void {
    this.model.select(address);
  }

  /** Opens the explain panel on a cell and asks the kernel for its upstream tree. */
  explain(address: string): void {
    this.explainPanel.explain(address);
  }

  /** Edits a cell's code as the formula bar does; resolves with the execute status. */
  async commit(address: string, code: string): Promise<string> {
    const status = await this.session.sync.commit(address, code);
    this._showStatus();
    return status;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    const model = this.session.model;
    model.selectionChanged.disconnect(this._onSelection, this);
    model.applied.disconnect(this._onApplied, this);
    model.progressChanged.disconnect(this._showStatus, this);
    this.session.connector.stateChanged.disconnect(this._onConnection, this);
    this.audit.dispose();
    this.grid.node.removeEventListener('dblclick', this._onDoubleClick, true);
    this.grid.node.removeEventListener('keydown', this._onGridKey, true);
    this.grid.node.removeEventListener('mousemove', this._onHover);
    super.dispose();
  }

  private _onGridSelection(): void {
    const sm = this.grid.selectionModel!;
    const row = sm.cursorRow;
    const col = sm.cursorColumn;
    if (row >= 0 && col >= 0) {
      this.model.select(formatAddress(row, col));
    }
  }

  /** The model's selection (from a click, the notebook or a test) shown in grid and bar. */
  private _onSelection(_: SheetModel, address: string | null): void {
    this._showCell(address);
    this._showAudit();
    const pos = address ? parseAddress(address) : null;
    const sm = this.grid.selectionModel!;
    if (pos && (sm.cursorRow !== pos.row || sm.cursorColumn !== pos.col)) {
      sm.select({
        r1: pos.row,
        c1: pos.col,
        r2: pos.row,
        c2: pos.col,
        cursorRow: pos.row,
        cursorColumn: pos.col,
        clear: 'all'
      });
      this.grid.scrollToCell(pos.row, pos.col);
    }
  }

  private _onApplied(_: SheetModel, touched: string[]): void {
    const selected = this.model.selected;
    if (selected && touched.includes(selected)) {
      this._showCell(selected);
    }
    // Always: a snapshot that no longer holds the selected cell must clear its editor too.
    this._showAudit();
    this._showStatus();
  }

  /**
   * The formula bar on a cell: its code (the notebook cell's while the kernel's, which
   * snapshots leave out, is asked for), its title and number format.
   */
  private _showCell(address: string | null): void {
    const cell = address
      ? (this.model.cell(address) ?? this.model.savedCell(address))
      : undefined;
    let code = cell?.code;
    if (address && cell && code === undefined) {
      code = this.session.sync.cellAt(address)?.sharedModel.getSource();
      if (!cell.saved) {
        this.session.connector.requestCell(address);
      }
    }
    this.formula.showCell(address, code ?? '', cell?.title, cell?.format);
  }

  private _onConnection(): void {
    this._showStatus();
    this._showAudit();
  }

  /** The selected cell's last editor; Explain when the kernel has a cell there to explain. */
  private _showAudit(): void {
    const address = this.model.selected;
    const cell = address ? this.model.cell(address) : undefined;
    const connected = this.session.connector.state === 'connected';
    this.audit.show(address, editedOf(cell), connected && cell !== undefined);
  }

  private _showStatus = (): void => {
    const state: ConnectionState = this.session.connector.state;
    let text: string;
    switch (state) {
      case 'connected': {
        const p = this.model.progress;
        text = p
          ? this._trans.__(
              'Recomputing: %1 of %2 cells done, running %3 (interrupt the kernel to stop)',
              p.done.toLocaleString(),
              p.total.toLocaleString(),
              p.running
            )
          : this._trans.__('%1 cells · %2', this.model.size, this.model.mode);
        break;
      }
      case 'connecting':
        text = this._trans.__('Connecting to the kernel…');
        break;
      case 'unavailable':
        text = this._trans.__('No sheet: this kernel does not serve PySheets.');
        break;
      default:
        text = this.session.connector.kernel
          ? this._trans.__('Not connected.')
          : this._trans.__('No kernel.');
    }
    this._status.node.textContent = text;
    this._status.node.dataset.state = state;
    this._status.node.dataset.progress = this.model.progress ? 'yes' : 'no';
  };

  private _onDoubleClick = (): void => {
    // After the grid's own mouse handling, which focuses its viewport.
    setTimeout(() => this.formula.edit(), 0);
  };

  private _onGridKey = (event: KeyboardEvent): void => {
    if (event.key === 'Enter' && this.model.selected) {
      event.preventDefault();
      event.stopPropagation();
      this.formula.edit();
    }
  };

  /** The error of a cell in error, on hover. */
  private _onHover = (event: MouseEvent): void => {
    const hit = this.grid.hitTest(event.clientX, event.clientY);
    let title = '';
    if (hit.region === 'body') {
      const cell = this.model.cellAt(hit.row, hit.column);
      if (cell) {
        const name = [
          cell.address,
          cell.title,
          cell.format && `:${cell.format}`
        ]
          .filter(Boolean)
          .join(' ');
        title = cell.saved
          ? this._trans.__('%1: saved output, not yet run by this kernel', name)
          : `${name}: ${cell.error ?? cell.state}`;
      }
    }
    if (this.grid.node.title !== title) {
      this.grid.node.title = title;
    }
  };

  private _status: Widget;
}
