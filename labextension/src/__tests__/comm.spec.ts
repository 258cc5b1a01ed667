import { Signal } from '@lumino/signaling';
import {
  applySheetMessage,
  COMM_TARGET,
  ICommLike,
  IKernelLike,
  IKernelMessageLike,
  SheetConnector,
  SNAPSHOT_TIMEOUT_MS
} from '../comm';
import { SheetModel } from '../model';
import { cell } from './cells';

/** A comm as JupyterLab's: the test plays the kernel's side. */
class FakeComm implements ICommLike {
  commId = 'comm-1';
  isDisposed = false;
  opened: any[] = [];
  sent: any[] = [];
  closed = 0;
  onMsg: ((msg: any) => void) | null = null;
  onClose: ((msg: any) => void) | null = null;
  open(data?: any) {
    this.opened.push(data);
  }
  send(data: any) {
    this.sent.push(data);
  }
  close() {
    this.closed++;
  }
  /** The kernel sends a comm_msg. */
  receive(data: any) {
    this.onMsg?.({ content: { comm_id: this.commId, data } });
  }
  /** The kernel closes the comm. */
  kernelCloses() {
    this.onClose?.({ content: { comm_id: this.commId, data: {} } });
  }
}

class FakeKernel implements IKernelLike {
  name = 'pysheets';
  status = 'idle';
  comms: FakeComm[] = [];
  targets: string[] = [];
  anyMessage = new Signal<
    any,
    { msg: IKernelMessageLike; direction: 'send' | 'recv' }
  >(this);
  statusChanged = new Signal<any, string>(this);
  createComm(target: string): ICommLike {
    this.targets.push(target);
    const c = new FakeComm();
    c.commId = `comm-${this.comms.length + 1}`;
    this.comms.push(c);
    return c;
  }
  setStatus(s: string) {
    this.status = s;
    this.statusChanged.emit(s);
  }
}

const snapshot = {
  type: 'snapshot',
  sheet: { mode: 'auto', cells: [cell('A1', '1'), cell('B1', '10', ['A1'])] }
};

describe('applySheetMessage', () => {
  it('applies snapshots and updates, and ignores anything else', () => {
    const m = new SheetModel();
    expect(applySheetMessage(m, snapshot)).toBe(true);
    expect(m.data('body', 0, 1)).toBe('10');
    expect(
      applySheetMessage(m, {
        type: 'update',
        mode: 'auto',
        cells: [cell('A1', '5'), cell('B1', '50', ['A1'])]
      })
    ).toBe(true);
    expect(m.data('body', 0, 1)).toBe('50');
    expect(
      applySheetMessage(m, {
        type: 'update',
        mode: 'auto',
        cells: [{ address: 'B1', state: 'deleted' }]
      })
    ).toBe(true);
    expect(m.size).toBe(1);
    for (const junk of [
      null,
      'x',
      3,
      {},
      { type: 'snapshot' },
      { type: 'other', cells: [] }
    ]) {
      expect(applySheetMessage(m, junk)).toBe(false);
    }
    expect(m.size).toBe(1);
  });
});

describe('SheetConnector', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('opens the pysheets comm and follows snapshot and updates', () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setKernel(k, true);
    expect(k.targets).toEqual([COMM_TARGET]);
    expect(k.comms[0].opened.length).toBe(1);
    expect(c.state).toBe('connecting');
    k.comms[0].receive(snapshot);
    expect(c.state).toBe('connected');
    expect(m.size).toBe(2);
    k.comms[0].receive({
      type: 'update',
      mode: 'auto',
      cells: [cell('A1', '2')]
    });
    expect(m.cell('A1')!.value).toBe('2');
    // Asking again sends on the open comm (any message asks for a snapshot).
    c.connect();
    expect(k.comms.length).toBe(1);
    expect(k.comms[0].sent.length).toBe(1);
  });

  it('tells the kernel the notebook order on connect and when it changes', () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setOrder(['a', 'b']); // no comm yet: kept for the connect
    jest.runAllTicks(); // the queued send (microtasks are faked here)
    c.setKernel(k, true);
    expect(k.comms[0].sent).toEqual([{ type: 'order', cells: ['a', 'b'] }]);
    c.setOrder(['a', 'b']); // unchanged: not sent again
    // A burst of changes (a notebook loading) is one message, with the last order.
    c.setOrder(['a', 'new', 'b']);
    c.setOrder(['a', 'new', 'b', 'c']);
    expect(k.comms[0].sent.length).toBe(1);
    jest.runAllTicks();
    expect(k.comms[0].sent).toEqual([
      { type: 'order', cells: ['a', 'b'] },
      { type: 'order', cells: ['a', 'new', 'b', 'c'] }
    ]);
  });

  it('says unavailable when the kernel closes the comm (no such target)', () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    k.name = 'python3';
    c.setKernel(k, true);
    k.comms[0].kernelCloses();
    expect(c.state).toBe('unavailable');
    expect(m.size).toBe(0);
  });

  it('says unavailable when no snapshot comes', () => {
    const c = new SheetConnector(new SheetModel());
    const k = new FakeKernel();
    c.setKernel(k, true);
    jest.advanceTimersByTime(SNAPSHOT_TIMEOUT_MS + 1);
    expect(c.state).toBe('unavailable');
    // A late snapshot still counts.
    k.comms[0].receive(snapshot);
    expect(c.state).toBe('connected');
  });

  it('does not open a comm until asked', () => {
    const c = new SheetConnector(new SheetModel());
    const k = new FakeKernel();
    c.setKernel(k, false);
    expect(k.comms.length).toBe(0);
    expect(c.state).toBe('idle');
  });

  it('empties the sheet when the kernel restarts, and reconnects when it is back', () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setKernel(k, true);
    k.comms[0].receive(snapshot);
    k.setStatus('restarting');
    expect(m.size).toBe(0);
    expect(c.state).toBe('idle');
    k.setStatus('starting');
    k.setStatus('idle');
    expect(k.comms.length).toBe(2);
    k.comms[1].receive({
      type: 'snapshot',
      sheet: { mode: 'auto', cells: [] }
    });
    expect(c.state).toBe('connected');
    // Messages on the old comm are ignored.
    k.comms[0].receive(snapshot);
    expect(m.size).toBe(0);
  });

  it('survives a dead kernel and a kernel change', () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setKernel(k, true);
    k.comms[0].receive(snapshot);
    k.setStatus('dead');
    expect(m.size).toBe(0);
    c.connect(); // no comm on a dead kernel, and no throw
    expect(k.comms.length).toBe(1);
    const k2 = new FakeKernel();
    c.setKernel(k2, true);
    expect(k2.comms.length).toBe(1);
    c.setKernel(null, false);
    expect(c.state).toBe('idle');
    expect(k2.comms[0].closed).toBe(1);
  });

  it('marks what an execute will re-run as running, until its idle', () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setKernel(k, true);
    k.comms[0].receive(snapshot);
    const execute = (msgId: string, cellId: string) =>
      k.anyMessage.emit({
        direction: 'send',
        msg: {
          header: { msg_type: 'execute_request', msg_id: msgId },
          metadata: { cellId },
          content: {}
        }
      });
    const idle = (msgId: string) =>
      k.anyMessage.emit({
        direction: 'recv',
        msg: {
          header: { msg_type: 'status' },
          parent_header: { msg_type: 'execute_request', msg_id: msgId },
          content: { execution_state: 'idle' }
        }
      });
    execute('m1', 'id-A1');
    execute('m2', 'id-B1');
    expect(m.cell('A1')!.state).toBe('running');
    expect(m.cell('B1')!.state).toBe('running');
    // The first request ends; B1 is still queued in the second one.
    idle('m1');
    expect(m.cell('A1')!.state).toBe('ok');
    expect(m.cell('B1')!.state).toBe('running');
    idle('m2');
    expect(m.cell('B1')!.state).toBe('ok');
  });
});
