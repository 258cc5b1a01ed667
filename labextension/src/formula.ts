/**
 * The formula bar: the selected cell's address and code; Enter commits an edit, Shift+Enter
 * adds a line, Escape reverts.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

/**
 * A cell's first-line label, `# @B3 title` or `# @C1 model lazy`: the kernel's grammar
 * (kernel/src/core/labels.rs), checked against the same table of cases
 * (kernel/tests/data/labels.json) by both test suites.
 */
export interface ILabel {
  /** The address, as the kernel spells it (`B3`). */
  address: string;
  /** The words after the address, without a final `lazy`. */
  title: string;
  /** A final word `lazy` opts the cell into lazy re-runs. */
  lazy: boolean;
  /** A final word `:spec`: the number format (Python format spec, without the colon). */
  format?: string;
}

/** Unicode White_Space, as Rust's `char::is_whitespace` (not JavaScript's `\s`). */
const SPACE =
  /[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

function trimSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && SPACE.test(text[start])) {
    start++;
  }
  while (end > start && SPACE.test(text[end - 1])) {
    end--;
  }
  return text.slice(start, end);
}

/** Uppercase column letters, then a row without leading zeros (at most 7 digits). */
const ADDRESS = /^([A-Z]{1,3})([1-9][0-9]{0,6})$/;

/** Whether `text` is an address within A1..XFD1048576, as the kernel parses one. */
export function isAddress(text: string): boolean {
  const m = ADDRESS.exec(text);
  if (!m) {
    return false;
  }
  let col = 0;
  for (const letter of m[1]) {
    col = col * 26 + letter.charCodeAt(0) - 64;
  }
  return col <= 16384 && Number(m[2]) <= 1048576;
}

/** The label on the first line of `code`, if it has one. */
export function parseLabel(code: string): ILabel | null {
  const nl = code.indexOf('\n');
  const first = trimSpace(nl < 0 ? code : code.slice(0, nl));
  if (!first.startsWith('#')) {
    return null;
  }
  const afterHash = trimSpace(first.slice(1));
  if (!afterHash.startsWith('@')) {
    return null;
  }
  const rest = afterHash.slice(1);
  const gap = rest.search(SPACE);
  const token = gap < 0 ? rest : rest.slice(0, gap);
  let title = gap < 0 ? '' : trimSpace(rest.slice(gap + 1));
  if (!isAddress(token)) {
    return null;
  }
  // The title's last words may be `lazy` and a `:spec` number format, in either order.
  let lazy = false;
  let format: string | undefined;
  for (;;) {
    let lastGap = -1;
    for (let i = title.length - 1; i >= 0; i--) {
      if (SPACE.test(title[i])) {
        lastGap = i;
        break;
      }
    }
    const word = title.slice(lastGap + 1);
    if (word === 'lazy' && !lazy) {
      lazy = true;
    } else if (
      word.length > 1 &&
      word.startsWith(':') &&
      format === undefined
    ) {
      format = word.slice(1);
    } else {
      break;
    }
    title = lastGap < 0 ? '' : trimSpace(title.slice(0, lastGap));
  }
  return format === undefined
    ? { address: token, title, lazy }
    : { address: token, title, lazy, format };
}

/** The code without its first-line label, for showing in the bar. */
export function stripLabel(code: string): {
  label: string | null;
  body: string;
} {
  const nl = code.indexOf('\n');
  if (parseLabel(code)) {
    return {
      label: nl < 0 ? code : code.slice(0, nl),
      body: nl < 0 ? '' : code.slice(nl + 1)
    };
  }
  return { label: null, body: code };
}

/** The label's address, if the code starts with one. */
export function labelAddress(code: string): string | null {
  return parseLabel(code)?.address ?? null;
}

export interface IFormulaCommit {
  address: string;
  code: string;
}

export class FormulaBar extends Widget {
  constructor(placeholder: string) {
    super();
    this.addClass('jp-PySheets-formulaBar');
    this._label = document.createElement('span');
    this._label.className = 'jp-PySheets-formulaAddress';
    this._title = document.createElement('span');
    this._title.className = 'jp-PySheets-formulaTitle';
    this._input = document.createElement('textarea');
    this._input.className = 'jp-PySheets-formulaInput';
    this._input.rows = 1;
    this._input.spellcheck = false;
    this._input.placeholder = placeholder;
    this._input.addEventListener('keydown', this._onKey);
    this._input.addEventListener('input', this._fit);
    this.node.append(this._label, this._title, this._input);
  }

  get committed(): ISignal<this, IFormulaCommit> {
    return this._committed;
  }

  get address(): string | null {
    return this._address;
  }

  get input(): HTMLTextAreaElement {
    return this._input;
  }

  /** The title shown beside the address (the label's words, and its number format). */
  get titleText(): string {
    return this._title.textContent ?? '';
  }

  /**
   * Shows a cell (its code without the label, its title and number format beside the
   * address); leaves an edit in progress alone.
   */
  showCell(
    address: string | null,
    code: string,
    title = '',
    format?: string
  ): void {
    const heading = [title, format ? `:${format}` : '']
      .filter(Boolean)
      .join(' ');
    this._title.textContent = heading;
    this._title.title = heading;
    const sameCell = address === this._address;
    if (sameCell && this._editing) {
      return;
    }
    this._address = address;
    this._label.textContent = address ?? '';
    this._input.value = stripLabel(code).body;
    this._input.disabled = address === null;
    this._editing = false;
    this._fit();
  }

  /** Puts controls at the end of the bar's row (the editor label and Explain). */
  addTrailing(node: HTMLElement): void {
    this.node.append(node);
  }

  /** Focuses the bar to edit the shown cell. */
  edit(): void {
    if (this._address === null) {
      return;
    }
    this._input.focus();
    this._input.setSelectionRange(
      this._input.value.length,
      this._input.value.length
    );
  }

  dispose(): void {
    this._input.removeEventListener('keydown', this._onKey);
    this._input.removeEventListener('input', this._fit);
    super.dispose();
  }

  private _onKey = (event: KeyboardEvent): void => {
    // Keys typed here are the bar's, not JupyterLab's shortcuts.
    event.stopPropagation();
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      if (this._address !== null) {
        this._editing = false;
        this._committed.emit({
          address: this._address,
          code: this._input.value
        });
      }
    } else if (event.key === 'Escape') {
      event.preventDefault();
      this._editing = false;
      this._input.blur();
    } else {
      this._editing = true;
    }
  };

  /** Grows with the code, up to a few lines. */
  private _fit = (): void => {
    const lines = this._input.value.split('\n').length;
    const rows = Math.min(Math.max(lines, 1), 8);
    if (rows !== this._input.rows || !this.node.style.minHeight) {
      this._input.rows = rows;
      // The box layout sizes the bar by its minimum height: tell it, and relayout.
      this.node.style.minHeight = `${rows * 18 + 14}px`;
      this.parent?.fit();
    }
  };

  private _label: HTMLSpanElement;
  private _title: HTMLSpanElement;
  private _input: HTMLTextAreaElement;
  private _address: string | null = null;
  private _editing = false;
  private _committed = new Signal<this, IFormulaCommit>(this);
}
