/**
 * The audit trail in the sheet view: beside the formula bar, who changed the selected cell last
 * and when (the cell JSON's `edited`), and an Explain button; below the bar, a closable panel
 * with the cell's upstream tree as the kernel explains it.
 *
 * The tree is HTML from the kernel, which shows values the notebook computed: it goes through
 * JupyterLab's sanitizer before it reaches the page.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import { BoxPanel, Widget } from '@lumino/widgets';
import type { IExplainAnswer, SheetConnector } from './comm';
import type { ICellEdited } from './model';

/** RFC 3339 as the journal writes it (`Z` or an offset; fractions of a second optional). */
const RFC3339 =
  /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/**
 * `2026-12-01T11:40:00.123Z` → `2026-12-01 11:40 UTC` (minutes are enough to find a change in
 * the history; the exact time is in the tooltip). A time in another offset is shown in UTC; a
 * time that does not parse is shown as it came, rather than hidden.
 */
export function formatUtc(at: string): string {
  const t = RFC3339.test(at) ? Date.parse(at) : NaN;
  if (Number.isNaN(t)) {
    return at;
  }
  const d = new Date(t);
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`
  );
}

/** "edited by alice · 2026-12-01 11:40 UTC"; empty when the change is unknown. */
export function editedLabel(
  edited: ICellEdited | null,
  trans: TranslationBundle
): string {
  if (!edited) {
    return '';
  }
  return trans.__('edited by %1 · %2', edited.by, formatUtc(edited.at));
}

/**
 * The editor label and the Explain button, at the end of the formula bar. Plain elements, not
 * a widget: they live inside the bar's row.
 */
export class CellAudit {
  readonly node: HTMLDivElement;
  readonly label: HTMLSpanElement;
  readonly button: HTMLButtonElement;

  constructor(private _trans: TranslationBundle) {
    this.node = document.createElement('div');
    this.node.className = 'jp-PySheets-audit';
    this.label = document.createElement('span');
    this.label.className = 'jp-PySheets-editedBy';
    this.button = document.createElement('button');
    this.button.type = 'button';
    this.button.className = 'jp-PySheets-explainButton';
    this.button.textContent = _trans.__('Explain');
    this.button.disabled = true;
    this.button.addEventListener('click', this._onClick);
    this.node.append(this.label, this.button);
    this.show(null, null, false);
  }

  /** Emitted with the shown address when Explain is pressed. */
  get explainRequested(): ISignal<this, string> {
    return this._explainRequested;
  }

  /**
   * Shows a cell's last change; Explain is enabled when the address holds a cell the kernel
   * can be asked about (`canExplain`).
   */
  show(
    address: string | null,
    edited: ICellEdited | null,
    canExplain: boolean
  ): void {
    this._address = address;
    const text = address ? editedLabel(edited, this._trans) : '';
    if (this.label.textContent !== text) {
      this.label.textContent = text;
    }
    this.label.title =
      address && edited
        ? this._trans.__('Last changed by %1 at %2', edited.by, edited.at)
        : '';
    this.button.disabled = !(address && canExplain);
    this.button.title = address
      ? this._trans.__(
          'Explain %1: every cell upstream of it, with its code, value and last editor',
          address
        )
      : this._trans.__('Select a cell to explain it');
  }

  dispose(): void {
    this.button.removeEventListener('click', this._onClick);
  }

  private _onClick = (): void => {
    if (this._address) {
      this._explainRequested.emit(this._address);
    }
  };

  private _address: string | null = null;
  private _explainRequested = new Signal<this, string>(this);
}

/** The explain panel's height in the view (px): as tall as its content within these bounds. */
const EXPLAIN_MIN_HEIGHT = 48;
const EXPLAIN_MAX_HEIGHT = 240;
/** The body's vertical padding and the panel's border (base.css). */
const EXPLAIN_CHROME = 9;

/**
 * The explain panel: asks the connector for a cell's tree and shows it under a header naming the
 * cell, with a close button: the kernel's HTML (sanitized; else its plain text), or the error
 * the kernel gave, or why no answer came.
 */
export class ExplainPanel extends Widget {
  constructor(
    private _trans: TranslationBundle,
    private _sanitizer: IRenderMime.ISanitizer,
    private _connector: SheetConnector
  ) {
    super();
    _connector.explained.connect(this._onExplained, this);
    this.addClass('jp-PySheets-explain');
    const header = (this._header = document.createElement('div'));
    header.className = 'jp-PySheets-explainHeader';
    this._title = document.createElement('span');
    this._title.className = 'jp-PySheets-explainTitle';
    this._close = document.createElement('button');
    this._close.type = 'button';
    this._close.className = 'jp-PySheets-explainClose';
    this._close.textContent = '×';
    this._close.title = _trans.__('Close the explanation');
    this._close.setAttribute('aria-label', this._close.title);
    this._close.addEventListener('click', this._onClose);
    header.append(this._title, this._close);
    this._body = document.createElement('div');
    this._body.className = 'jp-PySheets-explainBody';
    // A branch opened or closed changes the tree's height (`toggle` does not bubble).
    this._body.addEventListener('toggle', this._onToggle, true);
    this.node.append(header, this._body);
    this.hide();
  }

  /** The address shown (or asked about), null when closed. */
  get address(): string | null {
    return this._address;
  }

  /** True between `ask` and the answer. */
  get waiting(): boolean {
    return this._waiting;
  }

  get body(): HTMLDivElement {
    return this._body;
  }

  /** Opens the panel on a cell and asks the kernel for its upstream tree. */
  explain(address: string): void {
    const a = address.toUpperCase();
    this.ask(a);
    if (!this._connector.explain(a)) {
      this.showAnswer({
        address: a,
        error: this._trans.__('Not connected to the kernel.')
      });
    }
  }

  /** Opens the panel on a cell while the kernel is asked. */
  ask(address: string): void {
    this._address = address;
    this._waiting = true;
    this._title.textContent = this._trans.__('Explain %1', address);
    this._setState('waiting');
    const note = document.createElement('div');
    note.textContent = this._trans.__('Asking the kernel…');
    this._body.replaceChildren(note);
    this.show();
    this._fit();
  }

  /** Shows an answer for the cell asked about; answers for another cell are ignored. */
  showAnswer(answer: IExplainAnswer): boolean {
    if (!this._waiting || answer.address !== this._address) {
      return false;
    }
    this._waiting = false;
    this._body.textContent = '';
    if (answer.reason || answer.error !== undefined) {
      this._setState('error');
      const message = document.createElement('div');
      message.className = 'jp-PySheets-explainError';
      message.textContent = this._errorText(answer);
      this._body.append(message);
    } else if (answer.html !== undefined) {
      this._setState('ok');
      const tree = document.createElement('div');
      tree.className = 'jp-RenderedHTMLCommon jp-PySheets-explainTree';
      // Sanitized: the kernel's HTML holds cells' titles, code and values.
      tree.innerHTML = this._sanitizer.sanitize(answer.html);
      this._body.append(tree);
    } else {
      this._setState('ok');
      const pre = document.createElement('pre');
      pre.className = 'jp-PySheets-explainText';
      pre.textContent = answer.text ?? '';
      this._body.append(pre);
    }
    this._fit();
    return true;
  }

  /** Hides the panel; a late answer is then ignored. */
  close(): void {
    this._address = null;
    this._waiting = false;
    this._body.textContent = '';
    this.hide();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._connector.explained.disconnect(this._onExplained, this);
    this._close.removeEventListener('click', this._onClose);
    this._body.removeEventListener('toggle', this._onToggle, true);
    super.dispose();
  }

  private _onExplained(_: SheetConnector, answer: IExplainAnswer): void {
    this.showAnswer(answer);
  }

  private _errorText(answer: IExplainAnswer): string {
    switch (answer.reason) {
      case 'unsupported':
        return this._trans.__(
          'This kernel cannot explain cells (it answered with the whole sheet instead).'
        );
      case 'lost':
        return this._trans.__(
          'No answer: the kernel went away before it answered.'
        );
      default:
        return (
          answer.error ||
          this._trans.__('The kernel could not explain %1.', answer.address)
        );
    }
  }

  /**
   * Sizes the panel to its content, up to a cap (then it scrolls): a one-line error does not
   * push the grid down, and a deep tree leaves the grid in view. The view's box layout reads
   * the size basis.
   */
  private _fit(): void {
    const content = this._body.firstElementChild as HTMLElement | null;
    let height = 0;
    if (content) {
      const style = getComputedStyle(content);
      height =
        content.offsetHeight +
        (parseFloat(style.marginTop) || 0) +
        (parseFloat(style.marginBottom) || 0);
    }
    const wanted = this._header.offsetHeight + height + EXPLAIN_CHROME;
    BoxPanel.setSizeBasis(
      this,
      Math.min(EXPLAIN_MAX_HEIGHT, Math.max(EXPLAIN_MIN_HEIGHT, wanted))
    );
  }

  private _setState(state: 'waiting' | 'ok' | 'error'): void {
    this.node.dataset.state = state;
  }

  private _onClose = (): void => {
    this.close();
  };

  private _onToggle = (): void => {
    this._fit();
  };

  private _address: string | null = null;
  private _waiting = false;
  private _header: HTMLDivElement;
  private _title: HTMLSpanElement;
  private _close: HTMLButtonElement;
  private _body: HTMLDivElement;
}
