/**
 * The kernel connector: the `pysheets` comm, and what kernel messages mean for the grid model.
 *
 * Typed against the few members of JupyterLab's kernel connection it uses, so the unit tests
 * can drive it with a fake kernel.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { ISheetCell, ISheetJSON, SheetCellUpdate, SheetModel } from './model';

export const COMM_TARGET = 'pysheets';

/** How long to wait for the first snapshot before deciding the kernel has no sheet. */
export const SNAPSHOT_TIMEOUT_MS = 10000;

/** What the connector needs of a comm (JupyterLab's `Kernel.IComm`). */
export interface ICommLike {
  readonly commId: string;
  readonly isDisposed: boolean;
  open(data?: any): unknown;
  send(data: any): unknown;
  close(data?: any): unknown;
  onMsg: ((msg: any) => void | PromiseLike<void>) | null;
  onClose: ((msg: any) => void | PromiseLike<void>) | null;
}

/** A kernel message, as far as the connector reads it. */
export interface IKernelMessageLike {
  header: { msg_type: string; msg_id?: string };
  parent_header?:
    { msg_type?: string; msg_id?: string } | Record<string, never>;
  metadata?: Record<string, any>;
  content: Record<string, any>;
  channel?: string;
}

/** What the connector needs of a kernel connection (JupyterLab's `Kernel.IKernelConnection`). */
export interface IKernelLike {
  readonly name: string;
  readonly status: string;
  readonly isDisposed?: boolean;
  createComm(targetName: string): ICommLike;
  readonly anyMessage: ISignal<
    any,
    { msg: IKernelMessageLike; direction: 'send' | 'recv' }
  >;
  readonly statusChanged: ISignal<any, string>;
}

/**
 * - `idle`: no kernel, or not asked to connect yet;
 * - `connecting`: comm opened, waiting for the snapshot;
 * - `connected`: the model follows the kernel's sheet;
 * - `unavailable`: the kernel closed the comm or never answered (not a PySheets kernel).
 */
export type ConnectionState =
  'idle' | 'connecting' | 'connected' | 'unavailable';

/**
 * The kernel's answer to `{"type": "explain", "address"}`: the cell's upstream tree as HTML and
 * plain text, or an error. The connector adds `reason` when no answer will come: `unsupported`
 * (the kernel answered with a snapshot, as it does for any message it does not know) or `lost`
 * (the kernel restarted, died or changed before answering).
 */
export interface IExplainAnswer {
  address: string;
  html?: string;
  text?: string;
  error?: string;
  reason?: 'unsupported' | 'lost';
}

/** An `explain` answer of the `pysheets` comm, or null if `data` is not one. */
export function parseExplain(data: unknown): IExplainAnswer | null {
  if (!data || typeof data !== 'object') {
    return null;
  }
  const msg = data as Record<string, unknown>;
  if (msg.type !== 'explain' || typeof msg.address !== 'string') {
    return null;
  }
  const answer: IExplainAnswer = { address: msg.address.toUpperCase() };
  for (const key of ['html', 'text', 'error'] as const) {
    if (typeof msg[key] === 'string') {
      answer[key] = msg[key] as string;
    }
  }
  return answer;
}

/**
 * Applies one message of the `pysheets` comm to the model; false if it was not one,
 * `incomplete` for an update about cells the model does not have (ask for a snapshot).
 */
export function applySheetMessage(
  model: SheetModel,
  data: unknown
): boolean | 'incomplete' {
  if (!data || typeof data !== 'object') {
    return false;
  }
  const msg = data as {
    type?: string;
    sheet?: ISheetJSON;
    cells?: SheetCellUpdate[];
    mode?: 'auto' | 'lazy';
    cell?: ISheetCell;
    values?: Record<string, unknown>;
    done?: unknown;
    total?: unknown;
    running?: unknown;
  };
  if (msg.type === 'snapshot' && msg.sheet && Array.isArray(msg.sheet.cells)) {
    model.applySnapshot(msg.sheet);
    return true;
  }
  if (msg.type === 'update' && Array.isArray(msg.cells)) {
    const values =
      msg.values && typeof msg.values === 'object' ? msg.values : undefined;
    const complete = model.applyUpdate(msg.cells, msg.mode, values);
    if (model.progress) {
      model.setProgress(null);
    }
    return complete ? true : 'incomplete';
  }
  if (msg.type === 'cell' && msg.cell && typeof msg.cell === 'object') {
    model.applyCell(msg.cell);
    return true;
  }
  if (msg.type === 'progress') {
    const { done, total, running } = msg;
    model.setProgress(
      typeof running === 'string' &&
        typeof done === 'number' &&
        typeof total === 'number'
        ? { done, total, running }
        : null
    );
    return true;
  }
  return false;
}

/**
 * Keeps a SheetModel in step with one kernel at a time: opens the comm, applies snapshots and
 * updates, marks cells `running` while the frontend executes them, and starts over when the
 * kernel restarts. Never throws on a kernel that has no `pysheets` target.
 */
export class SheetConnector {
  constructor(readonly model: SheetModel) {}

  get state(): ConnectionState {
    return this._state;
  }

  get stateChanged(): ISignal<this, ConnectionState> {
    return this._stateChanged;
  }

  get kernel(): IKernelLike | null {
    return this._kernel;
  }

  /** Emitted with each answer to `explain` (or the reason none will come). */
  get explained(): ISignal<this, IExplainAnswer> {
    return this._explained;
  }

  /**
   * Asks the kernel for a cell's explain tree; the answer comes as `explained`. False when
   * there is no sheet to ask (not connected).
   */
  explain(address: string): boolean {
    const comm = this._comm;
    if (!comm || comm.isDisposed || this._state !== 'connected') {
      return false;
    }
    let future: unknown;
    try {
      future = comm.send({ type: 'explain', address });
    } catch {
      return false;
    }
    // The kernel answers under this message (its parent_header): how a snapshot sent instead
    // of an answer is told from one that crossed it.
    const msgId = (future as { msg?: { header?: { msg_id?: string } } } | null)
      ?.msg?.header?.msg_id;
    this._explaining = { address: address.toUpperCase(), msgId };
    return true;
  }

  /**
   * Asks the kernel for a cell's full form (its code: snapshots leave it out); the answer
   * completes the model's cell. False when there is no sheet to ask.
   */
  requestCell(address: string): boolean {
    const comm = this._comm;
    if (!comm || comm.isDisposed || this._state !== 'connected') {
      return false;
    }
    try {
      comm.send({ type: 'cell', address });
    } catch {
      return false;
    }
    return true;
  }

  /** Follows a new kernel (or none). Opens the comm at once when `connect` is true. */
  setKernel(kernel: IKernelLike | null, connect: boolean): void {
    if (kernel === this._kernel) {
      if (
        connect &&
        this._state !== 'connected' &&
        this._state !== 'connecting'
      ) {
        this.connect();
      }
      return;
    }
    this._detach();
    this._kernel = kernel;
    this.model.clear();
    this._setState('idle');
    if (!kernel) {
      return;
    }
    kernel.anyMessage.connect(this._onAnyMessage, this);
    kernel.statusChanged.connect(this._onStatus, this);
    if (connect) {
      this.connect();
    }
  }

  /** Opens the comm, or asks for a fresh snapshot on the open one. */
  connect(): void {
    const kernel = this._kernel;
    if (!kernel || kernel.isDisposed || kernel.status === 'dead') {
      return;
    }
    if (this._comm && !this._comm.isDisposed) {
      this._comm.send({ type: 'snapshot' });
      return;
    }
    let comm: ICommLike;
    try {
      comm = kernel.createComm(COMM_TARGET);
    } catch {
      // A comm already open under this id, or a disposed kernel: nothing to show.
      this._setState('unavailable');
      return;
    }
    this._comm = comm;
    comm.onMsg = msg => {
      if (this._comm !== comm) {
        return;
      }
      const data = msg?.content?.data;
      const answer = parseExplain(data);
      if (answer) {
        if (this._explaining?.address === answer.address) {
          this._explaining = null;
        }
        this._explained.emit(answer);
        return;
      }
      const applied = applySheetMessage(this.model, data);
      if (applied === 'incomplete') {
        // The model missed a message: the kernel's whole sheet again.
        this.connect();
      }
      if (applied) {
        this._clearTimer();
        this._setState('connected');
        const asked = this._explaining;
        if (
          asked?.msgId &&
          data.type === 'snapshot' &&
          msg?.parent_header?.msg_id === asked.msgId
        ) {
          this._explaining = null;
          this._explained.emit({
            address: asked.address,
            reason: 'unsupported'
          });
        }
      }
    };
    comm.onClose = () => {
      if (this._comm !== comm) {
        return;
      }
      this._comm = null;
      this._clearTimer();
      this._dropExplain();
      // Closed before any snapshot: the kernel has no such target.
      if (this._state === 'connecting') {
        this._setState('unavailable');
      } else {
        this._setState('idle');
      }
    };
    this._setState('connecting');
    this._timer = setTimeout(() => {
      this._timer = null;
      if (this._comm === comm && this._state === 'connecting') {
        this._setState('unavailable');
      }
    }, SNAPSHOT_TIMEOUT_MS);
    try {
      comm.open({});
      this._sendOrder();
    } catch {
      this._comm = null;
      this._clearTimer();
      this._setState('unavailable');
    }
  }

  /**
   * Tells the kernel the notebook's order of cells (their ids, top to bottom), so that names
   * resolve as the notebook reads; sent again on every connect. Unchanged orders are not
   * sent twice, and a burst of changes in one task (a notebook loading cell by cell) sends
   * one message, before any request a later task sends.
   */
  setOrder(cellIds: string[]): void {
    const same =
      this._order !== null &&
      this._order.length === cellIds.length &&
      this._order.every((id, i) => id === cellIds[i]);
    this._order = [...cellIds];
    if (!same && !this._orderQueued) {
      this._orderQueued = true;
      queueMicrotask(() => {
        this._orderQueued = false;
        this._sendOrder();
      });
    }
  }

  dispose(): void {
    this._detach();
    this._kernel = null;
  }

  private _sendOrder(): void {
    const comm = this._comm;
    if (!comm || comm.isDisposed || this._order === null) {
      return;
    }
    try {
      comm.send({ type: 'order', cells: this._order });
    } catch {
      // The kernel went away; the next connect sends it again.
    }
  }

  /** The pending explain request will not be answered: say so. */
  private _dropExplain(): void {
    const asked = this._explaining;
    if (asked) {
      this._explaining = null;
      this._explained.emit({ address: asked.address, reason: 'lost' });
    }
  }

  private _detach(): void {
    this._clearTimer();
    this._dropExplain();
    // Requests of the old kernel will never report: their marks must not outlive it.
    this._running.clear();
    const kernel = this._kernel;
    if (kernel) {
      kernel.anyMessage.disconnect(this._onAnyMessage, this);
      kernel.statusChanged.disconnect(this._onStatus, this);
    }
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed && kernel && kernel.status !== 'dead') {
      try {
        comm.close();
      } catch {
        // The kernel went away first; nothing to close.
      }
    }
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _onStatus(_: unknown, status: string): void {
    if (
      status === 'restarting' ||
      status === 'autorestarting' ||
      status === 'dead'
    ) {
      // The kernel's sheet is gone with it; the comm too.
      this._comm = null;
      this._clearTimer();
      this._dropExplain();
      this._running.clear();
      this.model.clear();
      this._wasConnected = this._wasConnected || this._state === 'connected';
      this._setState('idle');
      return;
    }
    if (status === 'idle' && this._wasConnected && this._state === 'idle') {
      this._wasConnected = false;
      this.connect();
    }
  }

  private _onAnyMessage(
    _: unknown,
    args: { msg: IKernelMessageLike; direction: 'send' | 'recv' }
  ): void {
    const { msg, direction } = args;
    const type = msg.header.msg_type;
    if (direction === 'send' && type === 'execute_request') {
      const id = msg.metadata?.cellId;
      const address =
        typeof id === 'string' ? this.model.addressOfCellId(id) : undefined;
      if (!address) {
        return;
      }
      // In auto mode the kernel re-runs what is downstream too.
      const running =
        this.model.mode === 'auto'
          ? [...this.model.downstream([address])]
          : [address];
      this.model.markRunning(running);
      if (msg.header.msg_id) {
        this._running.set(msg.header.msg_id, running);
      }
    } else if (
      direction === 'recv' &&
      type === 'status' &&
      msg.content.execution_state === 'idle' &&
      msg.parent_header?.msg_type === 'execute_request'
    ) {
      // That request is over: what it did not report on did not run, unless a request still
      // queued will run it.
      const parent = msg.parent_header.msg_id;
      const running = parent ? this._running.get(parent) : undefined;
      if (parent && running) {
        this._running.delete(parent);
        const queued = new Set<string>();
        for (const list of this._running.values()) {
          list.forEach(a => queued.add(a));
        }
        this.model.clearRunning(running.filter(a => !queued.has(a)));
      }
    }
  }

  private _setState(state: ConnectionState): void {
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _kernel: IKernelLike | null = null;
  private _comm: ICommLike | null = null;
  private _state: ConnectionState = 'idle';
  private _wasConnected = false;
  /** The notebook's cell ids in order, as last told by the notebook. */
  private _order: string[] | null = null;
  private _orderQueued = false;
  /** Addresses marked running, by the msg_id of the execute_request that will run them. */
  private _running = new Map<string, string[]>();
  private _timer: ReturnType<typeof setTimeout> | null = null;
  /** The explain request waiting for its answer, and the msg_id it went under. */
  private _explaining: { address: string; msgId?: string } | null = null;
  private _stateChanged = new Signal<this, ConnectionState>(this);
  private _explained = new Signal<this, IExplainAnswer>(this);
}
