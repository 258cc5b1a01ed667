/**
 * The grid widget: a `@lumino/datagrid` DataGrid over a SheetModel, with renderers that colour
 * cells by state and highlight, draw PNG values, and a `painted` signal (tests and the benchmark
 * time what a user sees, not just the model).
 */
// Only ever loaded with import() (index.ts, mime.ts), so the grid loads on first use.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import {
  BasicKeyHandler,
  BasicMouseHandler,
  BasicSelectionModel,
  CellRenderer,
  DataGrid,
  GraphicsContext,
  RendererMap,
  TextRenderer
} from '@lumino/datagrid';
import { ISignal, Signal } from '@lumino/signaling';
import { isNumber, ISheetCell, SheetModel } from './model';

/** Background and text colours by state; highlight wins the background. */
const BACKGROUND: Record<string, string> = {
  ok: '',
  running: '#fff6c2',
  stale: '#eeeeee',
  error: '#fde2e1',
  'upstream-error': '#fdeedc',
  precedent: '#d6e9ff',
  dependent: '#e2f5dc'
};
const TEXT: Record<string, string> = {
  ok: '#1a1a1a',
  running: '#7a5d00',
  stale: '#8a8a8a',
  error: '#b3261e',
  'upstream-error': '#a35400'
};

export class SheetGrid extends DataGrid {
  constructor(readonly sheet: SheetModel) {
    super({
      defaultSizes: {
        rowHeight: 22,
        columnWidth: 110,
        rowHeaderWidth: 52,
        columnHeaderHeight: 22
      },
      style: {
        ...DataGrid.defaultStyle,
        voidColor: '#ffffff',
        backgroundColor: '#ffffff',
        headerBackgroundColor: '#f3f3f3',
        gridLineColor: 'rgba(20, 20, 20, 0.12)',
        headerGridLineColor: 'rgba(20, 20, 20, 0.2)'
      }
    });
    this.addClass('jp-PySheets-grid');
    this.dataModel = sheet;
    this.keyHandler = new BasicKeyHandler();
    this.mouseHandler = new BasicMouseHandler();
    this.selectionModel = new BasicSelectionModel({
      dataModel: sheet,
      selectionMode: 'cell'
    });
    const text = new TextRenderer({
      font: '12px sans-serif',
      textColor: config => this._textColor(config),
      backgroundColor: config => this._background(config),
      // Numbers right, as in every spreadsheet, so their digits line up.
      horizontalAlignment: config => {
        const cell = this._cell(config);
        return cell && isNumber(cell) ? 'right' : 'left';
      }
    });
    const image = new PngRenderer(text, sheet);
    this.cellRenderers = new RendererMap({
      body: (config: CellRenderer.CellConfig) =>
        this.sheet.cellAt(config.row, config.column)?.png ? image : text
    });
    // Ctrl+C copies the selected range as tab-separated values (what Excel and Google
    // Sheets paste as cells).
    this.copyConfig = {
      ...this.copyConfig,
      separator: '\t',
      headers: 'none',
      format: (args: DataGrid.CopyFormatArgs) =>
        tsvField(String(args.value ?? ''))
    };
    batchBlits(this);
  }

  /** Emitted after each paint of the cells, with `performance.now()`. */
  get painted(): ISignal<this, number> {
    return this._painted;
  }

  /** The last paint's time (`performance.now()`), 0 before the first. */
  get lastPaint(): number {
    return this._lastPaint;
  }

  protected paintContent(rx: number, ry: number, rw: number, rh: number): void {
    super.paintContent(rx, ry, rw, rh);
    this._lastPaint = performance.now();
    this._painted.emit(this._lastPaint);
  }

  private _cell(config: CellRenderer.CellConfig): ISheetCell | undefined {
    return this.sheet.cellAt(config.row, config.column);
  }

  private _background(config: CellRenderer.CellConfig): string {
    const cell = this._cell(config);
    if (!cell) {
      return '';
    }
    const lit = this.sheet.highlight(cell.address);
    return BACKGROUND[lit ?? cell.state] ?? '';
  }

  private _textColor(config: CellRenderer.CellConfig): string {
    const cell = this._cell(config);
    return TEXT[cell?.state ?? 'ok'] ?? TEXT.ok;
  }

  private _painted = new Signal<this, number>(this);
  private _lastPaint = 0;
}

/**
 * Draws a cell's PNG scaled into the cell; the text renderer paints the background and stands
 * in until the image has decoded (then the cell is repainted).
 */
class PngRenderer extends CellRenderer {
  constructor(
    private _text: TextRenderer,
    private _sheet: SheetModel
  ) {
    super();
  }

  paint(gc: GraphicsContext, config: CellRenderer.CellConfig): void {
    const cell = this._sheet.cellAt(config.row, config.column);
    const png = cell?.png;
    const img = png ? this._image(png, cell.address) : null;
    if (!img || !img.complete || img.naturalWidth === 0) {
      this._text.paint(gc, config);
      return;
    }
    fillBackground(gc, config, this._text);
    const pad = 2;
    const w = config.width - 2 * pad;
    const h = config.height - 2 * pad;
    const scale = Math.min(w / img.naturalWidth, h / img.naturalHeight, 1);
    gc.drawImage(
      img,
      config.x + pad,
      config.y + pad,
      img.naturalWidth * scale,
      img.naturalHeight * scale
    );
  }

  private _image(png: string, address: string): HTMLImageElement {
    let img = this._cache.get(png);
    if (!img) {
      img = new Image();
      img.onload = () => this._sheet.touch(address);
      img.src = `data:image/png;base64,${png}`;
      // A small cache: images of past values are dropped first.
      if (this._cache.size > 256) {
        const oldest = this._cache.keys().next().value;
        if (oldest !== undefined) {
          this._cache.delete(oldest);
        }
      }
      this._cache.set(png, img);
    }
    return img;
  }

  private _cache = new Map<string, HTMLImageElement>();
}

/** Fills the cell with the text renderer's background colour for it. */
function fillBackground(
  gc: GraphicsContext,
  config: CellRenderer.CellConfig,
  text: TextRenderer
): void {
  const color = CellRenderer.resolveOption(text.backgroundColor, config);
  if (color) {
    gc.fillStyle = color;
    gc.fillRect(config.x, config.y, config.width, config.height);
  }
}

/**
 * DataGrid paints each cell into an off-screen buffer and copies it to the canvas at once
 * (`_blitContent`, one `drawImage` per cell). Where the canvas is not GPU-backed (headless
 * Chromium, software rendering) every such copy snapshots the whole buffer, and a paint of a
 * few hundred cells took most of a second. Cells of one region tile it, so the copies of one
 * `_drawCells` call can be one copy of their bounding box, made when the call ends. Relies on
 * two private methods of @lumino/datagrid 2.x; without them the grid paints as before.
 */
function batchBlits(grid: DataGrid): void {
  type Blit = (
    source: HTMLCanvasElement,
    x: number,
    y: number,
    w: number,
    h: number,
    dx: number,
    dy: number
  ) => void;
  const g = grid as unknown as {
    _drawCells?: (rgn: unknown) => void;
    _blitContent?: Blit;
    _buffer?: HTMLCanvasElement;
  };
  const drawCells = g._drawCells;
  const blit = g._blitContent;
  if (typeof drawCells !== 'function' || typeof blit !== 'function') {
    return;
  }
  let box: { x1: number; y1: number; x2: number; y2: number } | null = null;
  let batching = false;
  g._blitContent = function (source, x, y, w, h, dx, dy) {
    if (!batching || source !== g._buffer || x !== dx || y !== dy) {
      blit.call(grid, source, x, y, w, h, dx, dy);
      return;
    }
    if (w <= 0 || h <= 0) {
      return;
    }
    if (!box) {
      box = { x1: x, y1: y, x2: x + w, y2: y + h };
    } else {
      box.x1 = Math.min(box.x1, x);
      box.y1 = Math.min(box.y1, y);
      box.x2 = Math.max(box.x2, x + w);
      box.y2 = Math.max(box.y2, y + h);
    }
  };
  g._drawCells = function (rgn: unknown) {
    batching = true;
    box = null;
    try {
      drawCells.call(grid, rgn);
    } finally {
      batching = false;
      const b = box as {
        x1: number;
        y1: number;
        x2: number;
        y2: number;
      } | null;
      box = null;
      if (b && g._buffer) {
        blit.call(
          grid,
          g._buffer,
          b.x1,
          b.y1,
          b.x2 - b.x1,
          b.y2 - b.y1,
          b.x1,
          b.y1
        );
      }
    }
  };
}

/**
 * A value as one field of tab-separated text: quoted, with its quotes doubled, when it holds a
 * tab, a line break or a quote (the convention Excel and Google Sheets read).
 */
export function tsvField(text: string): string {
  return /[\t\n\r"]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
