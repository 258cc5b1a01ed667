/** Fakes of JupyterLab's kernel connection and comm: the tests play the kernel's side. */
import { Signal } from '@lumino/signaling';
import { ICommLike, IKernelLike, IKernelMessageLike } from '../comm';

/** A comm as JupyterLab's: the test plays the kernel's side. */
export class FakeComm implements ICommLike {
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
  /** The msg_id the next send goes under, as JupyterLab's future gives it (none: no future). */
  nextMsgId: string | null = null;
  send(data: any) {
    this.sent.push(data);
    const id = this.nextMsgId;
    this.nextMsgId = null;
    return id ? { msg: { header: { msg_id: id } } } : undefined;
  }
  close() {
    this.closed++;
  }
  /** The kernel sends a comm_msg (in answer to the message `parentMsgId`, if given). */
  receive(data: any, parentMsgId?: string) {
    this.onMsg?.({
      parent_header: parentMsgId ? { msg_id: parentMsgId } : {},
      content: { comm_id: this.commId, data }
    });
  }
  /** The kernel closes the comm. */
  kernelCloses() {
    this.onClose?.({ content: { comm_id: this.commId, data: {} } });
  }
}

export class FakeKernel implements IKernelLike {
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
