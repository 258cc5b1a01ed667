import {
  applySheetMessage,
  COMM_TARGET,
  IExplainAnswer,
  parseExplain,
  SheetConnector,
  SNAPSHOT_TIMEOUT_MS
} from '../comm';
import { SheetModel } from '../model';
import { cell } from './cells';
import { FakeKernel } from './fakes';

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

  it('clears running marks of requests a restart or a kernel change ended', () => {
    // Each message parsed anew, as from the wire (the model keeps and marks what it gets).
    const fresh = () => JSON.parse(JSON.stringify(snapshot));
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setKernel(k, true);
    k.comms[0].receive(fresh());
    const execute = (kernel: FakeKernel, msgId: string, cellId: string) =>
      kernel.anyMessage.emit({
        direction: 'send',
        msg: {
          header: { msg_type: 'execute_request', msg_id: msgId },
          metadata: { cellId },
          content: {}
        }
      });
    const idle = (kernel: FakeKernel, msgId: string) =>
      kernel.anyMessage.emit({
        direction: 'recv',
        msg: {
          header: { msg_type: 'status' },
          parent_header: { msg_type: 'execute_request', msg_id: msgId },
          content: { execution_state: 'idle' }
        }
      });
    // A batch is running (A1 and B1 downstream) when the kernel restarts: no idle comes.
    execute(k, 'old', 'id-A1');
    expect(m.cell('B1')!.state).toBe('running');
    k.setStatus('restarting');
    k.setStatus('idle');
    k.comms[1].receive(fresh());
    // After the restart, a run of B1 alone must end B1's mark at its idle.
    execute(k, 'new', 'id-B1');
    expect(m.cell('B1')!.state).toBe('running');
    idle(k, 'new');
    expect(m.cell('B1')!.state).toBe('ok');
    expect(m.cell('A1')!.state).toBe('ok');
    // The same across a change of kernel.
    execute(k, 'older', 'id-A1');
    const k2 = new FakeKernel();
    c.setKernel(k2, true);
    k2.comms[0].receive(fresh());
    execute(k2, 'newer', 'id-B1');
    idle(k2, 'newer');
    expect(m.cell('B1')!.state).toBe('ok');
  });

  it("shows a long batch's progress until it ends or the update comes", () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setKernel(k, true);
    k.comms[0].receive(snapshot);
    const seen: unknown[] = [];
    m.progressChanged.connect((_, p) => seen.push(p));
    k.comms[0].receive({ type: 'progress', done: 3, total: 10, running: 'B1' });
    expect(m.progress).toEqual({ done: 3, total: 10, running: 'B1' });
    k.comms[0].receive({
      type: 'progress',
      done: 10,
      total: 10,
      running: null
    });
    expect(m.progress).toBeNull();
    k.comms[0].receive({ type: 'progress', done: 4, total: 10, running: 'B1' });
    k.comms[0].receive({
      type: 'update',
      mode: 'auto',
      cells: [cell('B1', '20', ['A1'])]
    });
    expect(m.progress).toBeNull();
    expect(seen.length).toBe(4);
    // A restart ends it too.
    k.comms[0].receive({ type: 'progress', done: 1, total: 10, running: 'B1' });
    k.setStatus('restarting');
    expect(m.progress).toBeNull();
  });

  it("asks for a cell's code and completes the cell with the answer", () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setKernel(k, true);
    const compact = {
      type: 'snapshot',
      sheet: {
        mode: 'auto',
        cells: [
          { address: 'A1', cellId: 'id-A1', value: '1' },
          { address: 'B1', cellId: 'id-B1', value: '10', reads: ['A1'] }
        ]
      }
    };
    k.comms[0].receive(compact);
    expect(m.cell('B1')!.state).toBe('ok');
    expect(m.cell('B1')!.code).toBeUndefined();
    expect(c.requestCell('B1')).toBe(true);
    expect(k.comms[0].sent[k.comms[0].sent.length - 1]).toEqual({
      type: 'cell',
      address: 'B1'
    });
    const touched: string[][] = [];
    m.applied.connect((_, t) => touched.push(t));
    k.comms[0].receive({
      type: 'cell',
      cell: { ...cell('B1', '10', ['A1']), code: '# @B1\nA1 * 10' }
    });
    expect(m.cell('B1')!.code).toBe('# @B1\nA1 * 10');
    expect(touched).toEqual([['B1']]);
    // An answer about a cell that another cell replaced since is dropped.
    k.comms[0].receive({
      type: 'cell',
      cell: { ...cell('A1', '1'), cellId: 'other', code: 'stale' }
    });
    expect(m.cell('A1')!.code).toBeUndefined();
  });
});

describe('explain on the pysheets comm', () => {
  const connected = () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setKernel(k, true);
    k.comms[0].receive(snapshot);
    k.comms[0].sent.length = 0;
    const answers: IExplainAnswer[] = [];
    c.explained.connect((_, a) => answers.push(a));
    return { m, c, k, comm: k.comms[0], answers };
  };

  it('reads answers, and nothing else, as explain answers', () => {
    expect(
      parseExplain({
        type: 'explain',
        address: 'b7',
        html: '<b>x</b>',
        text: 'x'
      })
    ).toEqual({ address: 'B7', html: '<b>x</b>', text: 'x' });
    expect(
      parseExplain({ type: 'explain', address: 'B7', error: 'no cell at B7' })
    ).toEqual({ address: 'B7', error: 'no cell at B7' });
    for (const junk of [
      null,
      'explain',
      { type: 'explain' },
      { type: 'explain', address: 7 },
      snapshot
    ]) {
      expect(parseExplain(junk)).toBeNull();
    }
  });

  it('sends the request and emits the answer, leaving the sheet alone', () => {
    const { m, c, comm, answers } = connected();
    expect(c.explain('B1')).toBe(true);
    expect(comm.sent).toEqual([{ type: 'explain', address: 'B1' }]);
    comm.receive({ type: 'explain', address: 'B1', text: 'B1\n  A1' });
    expect(answers).toEqual([{ address: 'B1', text: 'B1\n  A1' }]);
    expect(m.size).toBe(2);
    expect(c.state).toBe('connected');
  });

  it('tells a snapshot sent instead of an answer from one that crossed it', () => {
    const { m, c, comm, answers } = connected();
    comm.nextMsgId = 'msg-explain';
    c.explain('B1');
    // An update, and a snapshot asked for by someone else: not the answer.
    comm.receive({ type: 'update', cells: [cell('A1', '2')] });
    comm.receive(snapshot, 'msg-other');
    expect(answers).toEqual([]);
    // The kernel knows no explain: it answers the request itself with a snapshot, applied.
    comm.receive(
      { type: 'snapshot', sheet: { cells: [cell('A1', '3')] } },
      'msg-explain'
    );
    expect(answers).toEqual([{ address: 'B1', reason: 'unsupported' }]);
    expect(m.cell('A1')!.value).toBe('3');
  });

  it('says the answer is lost when the kernel restarts first', () => {
    const { c, k, answers } = connected();
    c.explain('B1');
    k.setStatus('restarting');
    expect(answers).toEqual([{ address: 'B1', reason: 'lost' }]);
    // Nothing pending any more: a restart says nothing.
    k.setStatus('idle');
    k.setStatus('restarting');
    expect(answers.length).toBe(1);
  });

  it('does not ask without a sheet', () => {
    const c = new SheetConnector(new SheetModel());
    expect(c.explain('B1')).toBe(false);
    const k = new FakeKernel();
    c.setKernel(k, true); // connecting, no snapshot yet
    expect(c.explain('B1')).toBe(false);
    expect(k.comms[0].sent.every(d => d.type !== 'explain')).toBe(true);
  });
});

describe('updates with values', () => {
  it('patches the values of re-run cells and keeps what the update leaves out', () => {
    const m = new SheetModel();
    const c = new SheetConnector(m);
    const k = new FakeKernel();
    c.setKernel(k, true);
    k.comms[0].receive(JSON.parse(JSON.stringify(snapshot)));
    m.markRunning(['B1']);
    k.comms[0].receive({
      type: 'update',
      mode: 'auto',
      cells: [cell('A1', '5')],
      values: { B1: '50' }
    });
    const b1 = m.cell('B1')!;
    expect([b1.value, b1.state, b1.cellId, b1.reads]).toEqual([
      '50',
      'ok',
      'id-B1',
      ['A1']
    ]);
    expect(k.comms[0].sent.filter(s => s.type === 'snapshot')).toEqual([]);
    // A value for a cell the model lacks: it missed something and asks for the sheet.
    k.comms[0].receive({ type: 'update', cells: [], values: { Z9: '1' } });
    expect(k.comms[0].sent.filter(s => s.type === 'snapshot').length).toBe(1);
  });
});
