import { ISheetCell } from '../model';

/** A cell as the kernel reports it, labeled at its address. */
export function cell(
  address: string,
  value: string,
  reads: string[] = []
): ISheetCell {
  return {
    address,
    title: '',
    cellId: `id-${address}`,
    state: 'ok',
    value,
    reads,
    code: `# @${address}\n${value}`,
    lazy: false
  };
}
