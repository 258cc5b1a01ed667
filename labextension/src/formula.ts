/**
 * The formula bar: the selected cell's address and code; Enter commits an edit, Shift+Enter
 * adds a line, Escape reverts.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

/** A cell's first-line label: `# @B3 title` (what the kernel reads as the address). */
const LABEL = /^#\s*@([A-Za-z]{1,3}[0-9]+)\b.*$/;

/** The code without its first-line label, for showing in the bar. */
export function stripLabel(code: string): {
  label: string | null;
  body: string;
} {
  const nl = code.indexOf('\n');
  const first = nl < 0 ? code : code.slice(0, nl);
  if (LABEL.test(first.trim())) {
    return { label: first, body: nl < 0 ? '' : code.slice(nl + 1) };
  }
  return { label: null, body: code };
}

/** The label's address, if the code starts with one. */
export function labelAddress(code: string): string | null {
  const { label } = stripLabel(code);
  const m = label ? LABEL.exec(label.trim()) : null;
  return m ? m[1].toUpperCase() : null;
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
    this._input = document.createElement('textarea');
    this._input.className = 'jp-PySheets-formulaInput';
    this._input.rows = 1;
    this._input.spellcheck = false;
    this._input.placeholder = placeholder;
    this._input.addEventListener('keydown', this._onKey);
    this._input.addEventListener('input', this._fit);
    this.node.append(this._label, this._input);
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

  /** Shows a cell (its code without the label); leaves an edit in progress alone. */
  showCell(address: string | null, code: string): void {
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
  private _input: HTMLTextAreaElement;
  private _address: string | null = null;
  private _editing = false;
  private _committed = new Signal<this, IFormulaCommit>(this);
}
